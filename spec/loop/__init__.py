"""The sequel's specification: what futures, tasks, events, timers and sockets promise.

One claim per module, each opening with its quoted source, then ``check_*``
functions that take the loop under test (a ``subject.LoopUnderTest``) and
raise AssertionError saying what differed:

- ``futures``: a Future resolves once; callbacks are scheduled; done means no suspension.
- ``await_chain``: ``await`` is ``yield from``; the loop sees the leaf Futures.
- ``events``: an Event wakes every waiter, in FIFO order.
- ``timers``: sleepers wake in deadline order, ties FIFO, exactly on time.
- ``cancellation``: CancelledError arrives at the await point.
- ``tasks``: a task's exception (or result) reaches whoever awaits it.
- ``sockets``: sendall delivers every byte, waiting for writability.
- ``socket_waits``: a socket wait is the task's own, ends with its
  cancellation, and outlasts a spurious wake-up.
- ``programs``: random task programs order their observable events as trio
  and asyncio do, wherever those orders are specified.

``subject`` bundles our loop (``reference()``); ``virtual_asyncio`` bundles
asyncio on virtual time (``subject()``); ``runtimes`` adapts all three, and
trio, to the program interpreter.
"""
