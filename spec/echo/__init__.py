"""The specification of an echo server: what a client of one may rely on.

Source, RFC 862 (Echo Protocol), "TCP Based Echo Service", in full:

    "One echo service is defined as a connection based application on TCP.
    A server listens for TCP connections on TCP port 7. Once a connection is
    established any data received is sent back. This continues until the
    calling user terminates the connection."

Four sentences. Two claims follow from them directly, and two more go beyond
them, because real clients rely on more than the RFC says; each module says
where its claim comes from and, where it goes beyond the RFC, why clients
depend on it anyway:

1. Prefix (RFC: "any data received is sent back"): per connection, the bytes
   received are at every moment a prefix of the bytes sent, however TCP
   splits or merges them. -- ``spec.echo.echo``
2. Completeness (RFC, the same sentence): eventually all of them, where
   "eventually" is a deadline, so that a stall is a finding. -- ``spec.echo.echo``
3. Half-close (beyond the RFC, which only says the calling user terminates):
   after the client's ``shutdown(SHUT_WR)`` the server echoes everything still
   owed, then closes cleanly: EOF, never a reset. -- ``spec.echo.half_close``
4. Isolation (beyond the RFC, which speaks of "a connection"): no bytes cross
   between connections; one client's reset, stall or death never affects
   another; the server keeps accepting. -- ``spec.echo.isolation``

Each module quotes its source, shows the I/O-free judgment it rests on as
doctests (``echofuzz.model``: a ``Ledger`` per connection, a verdict per
ledger), and then states the claim as ``check_*`` functions: async trio
functions that take the address of the server under test, drive it over
loopback with ``spec.echo.session``, and raise ``AssertionError`` saying what
the server did when the claim fails. Every wait has a deadline. They do not
depend on pytest; any trio program can run them:

>>> import trio
>>> from echofuzz.engine.oracle import EchoOracle
>>> from spec.echo.echo import check_every_byte_value_comes_back
>>> async def against_the_oracle():
...     async with trio.open_nursery() as nursery:
...         address = await EchoOracle().start(nursery)
...         await check_every_byte_value_comes_back(address)
...         nursery.cancel_scope.cancel()
>>> trio.run(against_the_oracle)

The document depends on the tool and never the other way round: the
judgments are ``echofuzz.model``'s, shared with the differential fuzzer,
which finds servers that break these claims by searching; these checks state
the claims one by one. ``tests/test_echo_spec.py`` runs every check against
the fuzzer's oracle and the reference servers, which must pass, and against
the broken servers of ``tests/corpus/``, each of which must fail the checks of
the claim it breaks.
"""
