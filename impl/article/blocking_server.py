# The article's first server, verbatim but for PORT, which comes from argv[1].
# A specimen, bugs included: do not fix it. Run it as `python -u` so that the
# 'Listening at' line (and every per-message print) reaches a pipe unbuffered.
import socket
import sys
HOST = '127.0.0.1'
PORT = int(sys.argv[1])
def create_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((HOST, PORT))
    server.listen()
    print(f'Listening at {HOST}:{PORT}')
    return server
def accept_connection(server):
    # this blocks until we get new connection
    conn, addr = server.accept()
    print(f'Connected by {addr}')
    return conn
def handle_connection(conn):
    addr = conn.getpeername()
    with conn:
        while True:
            # this blocks until we get new data
            data = conn.recv(1024)
            if not data:
                break
            print(f'echoing {data} to {addr}')
            conn.sendall(data)
    print(f'Disconnected by {addr}')
def main():
    with create_server() as server:
        conn = accept_connection(server)
        handle_connection(conn)
main()
