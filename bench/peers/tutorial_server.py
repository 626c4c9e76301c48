#!/usr/bin/env python3
"""The original tutorial's server, kept literal: one daemon thread per client, recv(1024),
print what arrived, reply. Only the reply (+PONG for the benchmark's PING) and the port
argument differ from the classroom version."""
import socket
import sys
import threading


def handle(conn, addr):
    while True:
        data = conn.recv(1024)
        if not data:
            break
        print(addr, data.decode("utf-8", "replace"))
        conn.send(b"+PONG\r\n")
    conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    print("listening on 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    while True:
        conn, addr = server.accept()
        thread = threading.Thread(target=handle, args=(conn, addr))
        thread.daemon = True
        thread.start()


if __name__ == "__main__":
    main()
