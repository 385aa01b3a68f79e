# The article's select-based server, verbatim but for PORT, which comes from
# argv[1]. A specimen, bugs included: do not fix it. Run it as `python -u` so
# that the 'Listening at' line (and every per-message print) reaches a pipe
# unbuffered.
import socket
import select
import sys
HOST = '127.0.0.1'
PORT = int(sys.argv[1])
tasks = {}
def create_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Instead of blocking if trying to read or accept stuff,
    # this will raise error if socket is not ready
    server.setblocking(False)
    server.bind((HOST, PORT))
    server.listen()
    print(f'Listening at {HOST}:{PORT}')
    # we create a task for the server socket which looks
    # for new connections in 'background'.
    tasks[server] = accept_connections(server)
    return server
def accept_connections(server):
    while True:
        # we wait until server socket has new connection
        yield
        conn, addr = server.accept()
        conn.setblocking(False)
        print(f'Connected by {addr}')
        # we create a task for the client socket which 
        # handles the connection in 'background'.
        tasks[conn] = handle_connection(conn)
def handle_connection(conn):
    addr = conn.getpeername()
    with conn:
        while True:
            # we wait until client socket has some data
            yield
            data = conn.recv(1024)
            if not data:
                break
            print(f'echoing {data} to {addr}')
            conn.sendall(data)
    print(f'Disconnected by {addr}')
def main():
    with create_server():
        # event loop
        while True:
            # select.select will give us the sockets which are
            # ready to be read.
            ready, _, _ = select.select(tasks.keys(), [], [])
            for sock in ready:
                try:
                    # resume the task. send asks the generator
                    # to move by a step
                    tasks[sock].send(None)
                except StopIteration:
                    # task is over. let's delete it.
                    del tasks[sock]
main()
