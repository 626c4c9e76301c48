#!/usr/bin/env python3
"""Measures what idle connections cost tcp_server and how long a SIGTERM drain takes under load.

Usage: bench/idle_and_drain.py [--server build/release/tcp_server] [--counts 1000,10000]
                               [--busy 200] [--repeat 3]

Idle memory: for each count N, start a fresh server (--quiet, --port 0), open N loopback
connections, get one ack on each (so every client thread exists and has run), then read the
server's VmRSS and thread count from /proc. Reports (RSS with N - RSS with 0) / N, median of
--repeat runs.

Drain: start a server, connect --busy clients that each send a line and wait for its ack in a
loop, send SIGTERM while they are mid-conversation, and time from the signal to process exit.
Every wait is bounded; the script only talks to 127.0.0.1.
"""
import argparse
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def start_server(binary, extra=()):
    # The log goes to a file: a pipe nobody reads would fill and block the server's logging.
    log = tempfile.NamedTemporaryFile(mode="w+", prefix="tcp_server_bench_", suffix=".log")
    process = subprocess.Popen(
        [binary, "--port", "0", "--host", "127.0.0.1", "--quiet", "--log-level", "info", *extra],
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


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def connect_and_ack(port, count, timeout=30.0):
    """Opens count connections and waits for one ack on each. Returns the sockets."""
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(b"hi\n")
        sockets.append(s)
    for s in sockets:
        if s.recv(16) != b"ok\n":
            raise RuntimeError("missing ack")
    return sockets


def idle_memory(binary, count):
    process, port = start_server(binary)
    try:
        time.sleep(0.2)  # measurement settling, not synchronization: RSS of the idle server
        base_rss, base_threads = proc_status(process.pid)
        sockets = connect_and_ack(port, count)
        rss, threads = proc_status(process.pid)
        for s in sockets:
            s.close()
        return (rss - base_rss) / count, threads - base_threads
    finally:
        process.terminate()
        process.wait(timeout=30)


def drain_under_load(binary, busy):
    process, port = start_server(binary, ["--drain-timeout", "5s"])
    selector = selectors.DefaultSelector()
    sockets = connect_and_ack(port, busy)
    acked = 0
    for s in sockets:
        s.setblocking(False)
        s.send(b"busy\n")
        selector.register(s, selectors.EVENT_READ)
    # Keep everyone mid-conversation for a moment, then signal.
    signalled_at = None
    start = time.monotonic()
    closed = set()
    while process.poll() is None and time.monotonic() - start < 30:
        if signalled_at is None and time.monotonic() - start > 0.5:
            signalled_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
        for key, _ in selector.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                selector.unregister(s)
                closed.add(s)
                continue
            acked += data.count(b"\n")
            try:
                s.send(b"busy\n")
            except OSError:
                pass
    code = process.wait(timeout=30)
    elapsed = time.monotonic() - signalled_at
    for s in sockets:
        s.close()
    return elapsed, code, acked


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="build/release/tcp_server")
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--busy", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for count in (int(c) for c in args.counts.split(",")):
        if count + 64 > hard:
            print(f"skip {count}: fd hard limit {hard}", file=sys.stderr)
            continue
        runs = [idle_memory(args.server, count) for _ in range(args.repeat)]
        per_conn = statistics.median(r[0] for r in runs)
        print(f"idle connections {count}: {per_conn:.1f} KiB RSS per connection "
              f"(median of {args.repeat}; runs {', '.join(f'{r[0]:.1f}' for r in runs)}), "
              f"{runs[0][1]} threads")
    drains = [drain_under_load(args.server, args.busy) for _ in range(args.repeat)]
    times = [d[0] for d in drains]
    print(f"SIGTERM drain with {args.busy} busy clients: median {statistics.median(times)*1000:.0f} ms "
          f"(runs {', '.join(f'{t*1000:.0f}' for t in times)} ms), exit codes "
          f"{sorted(set(d[1] for d in drains))}, acks during runs {[d[2] for d in drains]}")


if __name__ == "__main__":
    main()
