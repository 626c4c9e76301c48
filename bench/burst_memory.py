#!/usr/bin/env python3
"""Measures what a connection costs tcp_server before, during and after a burst of large input.

Usage: bench/burst_memory.py [--server build/release/tcp_server] [--connections 500]
                             [--line 70000] [--partial 60000] [--newlines 16384] [--repeat 3]

For each run: start a fresh server (--quiet, --port 0, default --max-line 64KiB) and read its
VmRSS with no client, then report RSS per connection, (RSS - RSS with no client) / N, at three
points:

  idle before  N connections, each has had one ack ("hi\n" -> "ok\n") and waits.
  busy         each has sent --partial bytes of a line without its '\n' (the server holds an
               unfinished line per connection); measured once the server's own counters
               (SIGUSR1 -> "bytes in") show that it has read every byte.
  idle after   each has finished that line, sent a second --line byte line and --newlines
               empty lines (so --newlines + 2 acks), read every ack, and waits again.

The burst runs one connection at a time (non-blocking, sending and reading acks together so
neither side can stall the other). Every wait is bounded; the script only talks to 127.0.0.1.
Figures are the median of --repeat runs.
"""
import argparse
import os
import resource
import selectors
import signal
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_and_drain import connect_and_ack, proc_status, start_server  # noqa: E402


def bytes_in(process, timeout=30.0):
    """The server's "bytes in" counter, asked for with SIGUSR1 and read back from its log."""
    log_name = process.log_file.name
    with open(log_name) as reader:
        seen = sum(1 for line in reader if "stats: " in line)
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_name) as reader:
            stats = [line for line in reader if "stats: " in line]
        if len(stats) > seen:
            return int(stats[-1].split("bytes in ", 1)[1].split()[0])
        time.sleep(0.01)  # polling a file for the answer, bounded by the deadline
    raise RuntimeError("server did not log its counters")


def wait_for_bytes_in(process, expected, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bytes_in(process) >= expected:
            return
        time.sleep(0.05)  # the server is still reading; bounded by the deadline
    raise RuntimeError(f"server did not read {expected} bytes in time")


def send_and_read_acks(sock, data, acks, timeout=60.0):
    """Sends data while reading replies, until acks '\n'-terminated replies have arrived."""
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    view = memoryview(data)
    received = 0
    deadline = time.monotonic() + timeout
    try:
        while received < acks:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {received}/{acks} acks in time")
            for _, events in selector.select(timeout=1.0):
                if events & selectors.EVENT_WRITE and view:
                    try:
                        view = view[sock.send(view):]
                    except BlockingIOError:
                        pass
                    if not view:
                        selector.modify(sock, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        raise RuntimeError("server closed during the burst")
                    received += chunk.count(b"\n")
    finally:
        selector.close()
        sock.setblocking(True)


def settled_rss(pid):
    time.sleep(0.2)  # measurement settling, not synchronization: the threads are back in recv()
    return proc_status(pid)[0]


def one_run(binary, count, line, partial, newlines):
    process, port = start_server(binary)
    try:
        base = settled_rss(process.pid)
        sockets = connect_and_ack(port, count)
        idle_before = settled_rss(process.pid)
        read_so_far = bytes_in(process)

        for s in sockets:
            s.sendall(b"x" * partial)
        wait_for_bytes_in(process, read_so_far + count * partial)
        busy = settled_rss(process.pid)

        rest = b"x" * (line - partial) + b"\n" + b"y" * line + b"\n" + b"\n" * newlines
        for s in sockets:
            send_and_read_acks(s, rest, newlines + 2)
        idle_after = settled_rss(process.pid)
        for s in sockets:
            s.close()
        return [(rss - base) / count for rss in (idle_before, busy, idle_after)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="build/release/tcp_server")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--line", type=int, default=70000)
    parser.add_argument("--partial", type=int, default=60000)
    parser.add_argument("--newlines", type=int, default=16384)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not 0 < args.partial < args.line:
        parser.error("--partial must be between 0 and --line")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runs = [one_run(args.server, args.connections, args.line, args.partial, args.newlines)
            for _ in range(args.repeat)]
    names = ("idle before the burst", "busy (unfinished line)", "idle after the burst")
    print(f"{args.connections} connections, lines of {args.line} bytes "
          f"(unfinished at {args.partial}), {args.newlines} empty lines; "
          f"KiB of RSS per connection, median of {args.repeat}:")
    for index, name in enumerate(names):
        values = [run[index] for run in runs]
        print(f"  {name:24} {statistics.median(values):7.1f} KiB "
              f"(runs {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
