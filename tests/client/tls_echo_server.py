#!/usr/bin/env python3
"""A TLS echo server from Python's ssl module, for tcp_client's TLS tests.

Binds 127.0.0.1 on a port the kernel picks, prints "listening on 127.0.0.1:PORT", and echoes
every connection on a thread of its own. Session tickets are on (Python's default: two per
handshake), so a client can resume. --client-ca requires a client certificate signed by that
CA and prints "client certificate: CN" for each one. Exits by itself after --lifetime seconds,
so a test that died cannot leave it behind.
"""
import argparse
import os
import socket
import ssl
import sys
import threading


def serve(connection):
    with connection:
        try:
            certificate = connection.getpeercert()
            if certificate:
                subject = dict(item[0] for item in certificate["subject"])
                print(f"client certificate: {subject.get('commonName')}", flush=True)
            while True:
                data = connection.recv(65536)
                if not data:
                    break
                connection.sendall(data)
        except (ssl.SSLError, OSError):
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca")
    parser.add_argument("--lifetime", type=float, default=120)
    arguments = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(arguments.cert, arguments.key)
    if arguments.client_ca:
        context.load_verify_locations(arguments.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    threading.Timer(arguments.lifetime, lambda: os._exit(0)).start()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def handshake_and_serve(raw=raw):
            try:
                connection = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as error:
                print(f"handshake failed: {error}", file=sys.stderr, flush=True)
                raw.close()
                return
            serve(connection)

        threading.Thread(target=handshake_and_serve, daemon=True).start()


if __name__ == "__main__":
    main()
