#!/usr/bin/env python3
"""The tutorial's threaded server (tutorial_server.py) with Python's ssl module: the same daemon
thread per client, recv(1024), print, reply; the TLS handshake runs on the client's thread, so
a slow handshake does not hold up accept(). Usage: tutorial_tls_server.py PORT CERT KEY."""
import socket
import ssl
import sys
import threading


def handle(conn, addr, context):
    try:
        conn = context.wrap_socket(conn, server_side=True)
        while True:
            data = conn.recv(1024)
            if not data:
                break
            print(addr, data.decode("utf-8", "replace"))
            conn.send(b"+PONG\r\n")
    except (ssl.SSLError, OSError):
        pass
    conn.close()


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    print("listening on 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    while True:
        conn, addr = server.accept()
        thread = threading.Thread(target=handle, args=(conn, addr, context))
        thread.daemon = True
        thread.start()


if __name__ == "__main__":
    main()
