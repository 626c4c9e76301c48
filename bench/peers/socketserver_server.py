#!/usr/bin/env python3
"""Python's standard socketserver.ThreadingTCPServer answering +PONG to each read."""
import socketserver
import sys


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                return
            self.request.sendall(b"+PONG\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9001
    with Server(("127.0.0.1", port), Handler) as server:
        print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
