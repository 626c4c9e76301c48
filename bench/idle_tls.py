#!/usr/bin/env python3
"""Measures what an idle TLS connection costs tcp_server, next to an idle plain one.

Usage: bench/idle_tls.py [--server build/release/tcp_server] [--count 5000] [--repeat 3]
                         [--version 1.3]

For each of plain and --tls-self-signed: start a fresh server (--quiet, --port 0), open --count
loopback connections (TLS ones with Python's ssl module, full handshakes), get one ack on each
(so every client thread exists, has done its handshake and is back in SSL_read), then read the
server's VmRSS from /proc. Reports (RSS with N - RSS with 0) / N in KiB, median of --repeat
runs, and the TLS cost over plain. Every wait is bounded; only 127.0.0.1 is used.
"""
import argparse
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time


def start_server(binary, extra=()):
    # The log goes to a file: a pipe nobody reads would fill and block the server's logging.
    log = tempfile.NamedTemporaryFile(mode="w+", prefix="tcp_server_bench_", suffix=".log")
    process = subprocess.Popen(
        [binary, "--port", "0", "--host", "127.0.0.1", "--quiet", *extra],
        stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log_file = log
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with open(log.name) as reader:
            for line in reader:
                if "listening on" in line:
                    port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
                    return process, port
        time.sleep(0.02)  # polling a file for the announcement, bounded by the deadline
    process.kill()
    raise RuntimeError("server did not announce its port")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connect_and_ack(port, count, context, timeout=30.0):
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if context is not None:
            s = context.wrap_socket(s, server_hostname="localhost")
        s.sendall(b"hi\n")
        sockets.append(s)
    for s in sockets:
        if s.recv(16) != b"ok\n":
            raise RuntimeError("missing ack")
    return sockets


def idle_memory(binary, count, tls, version):
    extra = ["--tls-self-signed"] if tls else []
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = context.maximum_version = (
            ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2)
    process, port = start_server(binary, extra)
    try:
        time.sleep(0.2)  # measurement settling, not synchronization: RSS of the idle server
        base = vm_rss_kib(process.pid)
        sockets = connect_and_ack(port, count, context)
        time.sleep(0.5)  # settling: let every thread get back to its blocking read
        rss = vm_rss_kib(process.pid)
        for s in sockets:
            s.close()
        return (rss - base) / count
    finally:
        process.terminate()
        process.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="build/release/tcp_server")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--version", choices=["1.2", "1.3"], default="1.3")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.count + 64 > hard:
        sys.exit(f"--count {args.count}: fd hard limit {hard}")
    plain = statistics.median(idle_memory(args.server, args.count, False, args.version)
                              for _ in range(args.repeat))
    tls = statistics.median(idle_memory(args.server, args.count, True, args.version)
                            for _ in range(args.repeat))
    print(f"idle connections {args.count}: plain {plain:.1f} KiB, TLS {args.version} "
          f"{tls:.1f} KiB RSS per connection (TLS adds {tls - plain:.1f} KiB)")


if __name__ == "__main__":
    main()
