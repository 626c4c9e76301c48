#!/usr/bin/env python3
"""Runs the same workloads with `tcp_client bench` against tcp_server and its peers, on loopback,
and writes docs/benchmarks.md (+ .json, + .png via gnuplot).

Every server is started fresh for every run (so peak RSS and CPU time belong to that run), on a
port the kernel chose, and stopped by the PID this script started. Every run is bounded by
tcp_client's --duration / --hold-time / --timeout plus a hard subprocess timeout.

Usage: bench/compare.py --build build/release [--duration 3s] [--repeat 3] [--only NAME,...]
Normally run through bench/run, which installs the peers and builds first. `--only tls` runs
just the TLS section (tcp_server's own TLS, stunnel in front of tcp_server, socat, Node `tls`,
Python `ssl`), with one ECDSA P-256 certificate made by the openssl CLI for all of them.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "bench", "peers")
MESSAGE = r"PING\r\n"
EXPECT = r"+PONG\r\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Counted by `perf stat` over a server's whole run, every thread included (see counted_run).
COUNTED_EVENTS = ["raw_syscalls:sys_enter", "context-switches"]
COUNTED_WORKLOADS = ["pingpong 50", "pingpong 500"]


def free_port():
    """A port the kernel chose, for servers that cannot be told 'port 0' (redis)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One peer process: started, its port read from its output, measured, stopped by PID."""

    def __init__(self, name, argv_for_port, announces_port, workdir, log_file=None,
                 stdout_to_null=False, expect=EXPECT, helpers=(), metrics=False):
        self.name = name
        self.metrics = metrics  # serves /metrics (--metrics-listen): scraped during the run
        self.metrics_port = None
        self.counts_file = None  # set by start(count=True): perf stat's output
        self.expect = expect  # the reply to each MESSAGE (an echo server: MESSAGE itself)
        # Processes this one needs running first (stunnel's backend), measured with it: their
        # CPU, RSS and context switches are added to its own.
        self.helpers = list(helpers)
        self.argv_for_port = argv_for_port
        self.announces_port = announces_port
        self.workdir = workdir
        self.log_file = log_file  # where the "listening on" line goes, when not to stdout
        self.stdout_to_null = stdout_to_null  # its log (stdout) to /dev/null, not to a file

    def start(self, count=False):
        """count: run the server under `perf stat` (syscalls and context switches of every thread
        it ever had); read them with counts() after stop()."""
        for helper in self.helpers:
            helper.start()
        try:
            self.start_own(count)
        except BaseException:
            for helper in self.helpers:
                helper.stop()
            raise

    def start_own(self, count):
        port = 0 if self.announces_port else free_port()
        if self.log_file and os.path.exists(self.log_file):
            os.unlink(self.log_file)  # a fresh log per run: an old "listening on" would mislead
        self.output = tempfile.NamedTemporaryFile(
            mode="w+", dir=self.workdir, prefix=self.name + "_", suffix=".out")
        argv = self.argv_for_port(port)
        self.counts_file = None
        self.metrics_port = None
        if count:
            self.counts_file = os.path.join(self.workdir, "perf_counts.csv")
            argv = ["perf", "stat", "-x", ",", "-e", ",".join(COUNTED_EVENTS),
                    "-o", self.counts_file, "--", *argv]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL if self.stdout_to_null else self.output,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir)
        self.pid = self.process.pid if not count else self.child_of(self.process.pid)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.read_output()[-500:]}")
            if self.announces_port:
                announced = self.read_output()
                if self.log_file and os.path.exists(self.log_file):
                    with open(self.log_file, errors="replace") as reader:
                        announced = reader.read()
                for line in announced.splitlines():
                    if "metrics on http://" in line:
                        self.metrics_port = int(line.split("/metrics")[0].rsplit(":", 1)[1])
                for line in announced.splitlines():
                    if self.metrics and not self.metrics_port:
                        break
                    # "listening on 127.0.0.1:PORT", whatever follows (tls, a fingerprint).
                    found = re.search(r"listening on .*?127\.0\.0\.1:(\d+)", line)
                    if found:
                        self.port = int(found.group(1))
                        return
            else:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        self.port = port
                        return
                except OSError:
                    pass
            time.sleep(0.02)  # polling for start-up, bounded by the deadline
        self.stop()
        raise RuntimeError(f"{self.name} did not start listening")

    def child_of(self, parent):
        """The server perf started (perf's only child), waited for, bounded."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{parent}/task/{parent}/children") as children:
                    pids = children.read().split()
                if pids:
                    return int(pids[0])
            except OSError:
                pass
            time.sleep(0.01)  # polling for the fork, bounded by the deadline
        raise RuntimeError(f"{self.name}: perf started no server")

    def counts(self):
        """{event: count} from perf stat's CSV output (after stop())."""
        result = {}
        with open(self.counts_file) as reader:
            for line in reader:
                fields = line.strip().split(",")
                if len(fields) >= 3 and fields[0].isdigit():
                    result[fields[2]] = int(fields[0])
        return result

    def read_output(self):
        with open(self.output.name, errors="replace") as reader:
            return reader.read()

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # utime + stime, and cutime + cstime: the children it forked and reaped (socat fork).
        own = sum(int(field) for field in fields[11:15]) / CLOCK_TICKS
        return own + sum(helper.cpu_seconds() for helper in self.helpers)

    def status_mib(self, field):
        own = 0.0
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    own = int(line.split()[1]) / 1024
        return own + sum(helper.status_mib(field) for helper in self.helpers)

    def context_switches(self):
        """Voluntary and involuntary, summed over the threads alive now (those that exited are
        not counted: meaningful for persistent connections, i.e. pingpong)."""
        total = 0
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{task}/status") as status:
                    for line in status:
                        if "ctxt_switches:" in line:
                            total += int(line.split()[1])
            except OSError:
                pass  # the thread exited meanwhile
        return total + sum(helper.context_switches() for helper in self.helpers)

    def peak_rss_mib(self):
        return self.status_mib("VmHWM")

    def rss_mib(self):
        return self.status_mib("VmRSS")

    def stop(self):
        if self.process.poll() is None:
            # To the server itself: under perf, perf then sees it exit and writes its counts.
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.output.close()
        for helper in self.helpers:
            helper.stop()


def servers(build, workdir, baseline=None):
    tcp_server = os.path.join(build, "tcp_server")
    literal = os.path.join(build, "tutorial_literal")
    python = sys.executable
    common = ["--host", "127.0.0.1", "--reply", r"+PONG\r\n", "--backlog", "1024"]
    log_file = os.path.join(workdir, "tcp_server_payloads.log")
    # 20 rules, the one that answers PING last: every message is tried against all 20 (#13's
    # "--rules with 20 rules costs <= 10% in pingpong 50").
    rules_file = os.path.join(workdir, "twenty.rules")
    with open(rules_file, "w") as rules:
        for number in range(19):
            rules.write(f"GET /item{number}/(\\w+) => item {number}: $1\\r\\n\n")
        rules.write("PING => +PONG\\r\\n\n")
    # Another build of tcp_server (e.g. main before a change), measured in the same run.
    before = []
    if baseline:
        old = os.path.join(baseline, "tcp_server")
        before = [
            Server("baseline tcp_server", lambda p: [old, "--port", str(p), *common,
                                                     "--log-file", log_file], True, workdir,
                   log_file),
            Server("baseline --quiet", lambda p: [old, "--port", str(p), *common, "--quiet"],
                   True, workdir),
        ]
    return before + [
        Server("tcp_server", lambda p: [tcp_server, "--port", str(p), *common,
                                        "--log-file", log_file], True, workdir, log_file),
        Server("tcp_server --quiet", lambda p: [tcp_server, "--port", str(p), *common, "--quiet"],
               True, workdir),
        Server("tcp_server --quiet --rules", lambda p: [tcp_server, "--port", str(p), *common,
                                                        "--quiet", "--rules", rules_file],
               True, workdir),
        # The same with Prometheus metrics served, and scraped every second during the run.
        Server("tcp_server --quiet --metrics-listen",
               lambda p: [tcp_server, "--port", str(p), *common, "--quiet",
                          "--metrics-listen", "127.0.0.1:0"], True, workdir, metrics=True),
        Server("redis-server", lambda p: ["redis-server", "--port", str(p), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no",
                                          "--protected-mode", "no", "--maxclients", "11000",
                                          "--tcp-backlog", "1024", "--loglevel", "warning"],
               False, workdir),
        Server("tutorial C++", lambda p: [literal, str(p)], True, workdir),
        # Payload logging to /dev/null: what the log path itself costs, without a disk.
        Server("tcp_server log->null", lambda p: [tcp_server, "--port", str(p), *common,
                                                  "--log-file", "/dev/null"], False, workdir),
        Server("tutorial C++ >null", lambda p: [literal, str(p)], False, workdir,
               stdout_to_null=True),
        Server("node net", lambda p: ["node", os.path.join(PEERS, "node_server.js"), str(p)],
               True, workdir),
        Server("Python socketserver",
               lambda p: [python, os.path.join(PEERS, "socketserver_server.py"), str(p)],
               True, workdir),
        Server("tutorial Python",
               lambda p: [python, os.path.join(PEERS, "tutorial_server.py"), str(p)],
               True, workdir),
    ]


def make_certificate(workdir):
    """One ECDSA P-256 certificate (localhost, 127.0.0.1) for every TLS server, self-signed:
    tcp_client verifies it as its CA."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_servers(build, workdir, cert, key):
    """The TLS peers, and {name: why} for those that cannot run here."""
    tcp_server = os.path.join(build, "tcp_server")
    python = sys.executable
    common = ["--host", "127.0.0.1", "--reply", r"+PONG\r\n", "--backlog", "1024", "--quiet"]
    skipped = {}
    chosen = []
    help_text = subprocess.run([tcp_server, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    if "--tls-cert" in help_text:
        chosen.append(Server("tcp_server --tls", lambda p: [
            tcp_server, "--port", str(p), *common, "--tls-cert", cert, "--tls-key", key],
            True, workdir))
    else:
        skipped["tcp_server --tls"] = "this tcp_server has no --tls-cert (TLS not merged yet)"

    # What users do today: stunnel terminating TLS in front of plain tcp_server.
    stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
    if stunnel:
        backend = Server("stunnel backend", lambda p: [tcp_server, "--port", str(p), *common],
                         True, workdir)
        config = os.path.join(workdir, "stunnel.conf")

        def stunnel_argv(port):
            with open(config, "w") as out:
                out.write(f"foreground = yes\npid =\ndebug = 3\n[bench]\n"
                          f"accept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend.port}\n"
                          f"cert = {cert}\nkey = {key}\nsslVersionMin = TLSv1.3\n")
            return [stunnel, config]

        chosen.append(Server("stunnel -> tcp_server", stunnel_argv, False, workdir,
                             helpers=[backend]))
    else:
        skipped["stunnel -> tcp_server"] = "stunnel4 is not installed"

    # An echo: every request comes back as it went.
    if shutil.which("socat"):
        chosen.append(Server("socat OPENSSL-LISTEN", lambda p: [
            "socat", f"OPENSSL-LISTEN:{p},bind=127.0.0.1,fork,reuseaddr,cert={cert},key={key},"
            "verify=0,openssl-min-proto-version=TLS1.3,backlog=1024", "EXEC:cat"],
            False, workdir, expect=MESSAGE))
    else:
        skipped["socat OPENSSL-LISTEN"] = "socat is not installed"

    if shutil.which("node"):
        chosen.append(Server("node tls", lambda p: [
            "node", os.path.join(PEERS, "node_tls_server.js"), str(p), cert, key], True, workdir))
    else:
        skipped["node tls"] = "node is not installed"

    chosen.append(Server("tutorial Python ssl", lambda p: [
        python, os.path.join(PEERS, "tutorial_tls_server.py"), str(p), cert, key], True, workdir))
    return chosen, skipped


# TLS 1.3 throughout (OpenSSL 3 on both sides negotiates it; the peers are told the minimum).
TLS_WORKLOADS = [
    ("tls pingpong 50", ["--mode", "pingpong", "--connections", "50"], True),
    ("tls churn 50", ["--mode", "churn", "--concurrency", "50"], True),
    ("tls resumed churn 50", ["--mode", "churn", "--concurrency", "50", "--tls-resume"], True),
]


WORKLOADS = [
    # name, tcp_client bench arguments (duration added for the timed ones)
    ("pingpong 1", ["--mode", "pingpong", "--connections", "1"], True),
    ("pingpong 50", ["--mode", "pingpong", "--connections", "50"], True),
    ("pingpong 500", ["--mode", "pingpong", "--connections", "500"], True),
    ("churn 50", ["--mode", "churn", "--concurrency", "50"], True),
    ("hold 10000", ["--mode", "hold", "--connections", "10000"], False),
]


def perf_can_count():
    """perf stat with the syscall tracepoint: absent in some containers and VMs."""
    if shutil.which("perf") is None:
        return False
    probe = subprocess.run(["perf", "stat", "-x", ",", "-e", ",".join(COUNTED_EVENTS), "true"],
                           capture_output=True, text=True, timeout=30, check=False)
    return probe.returncode == 0 and "not supported" not in probe.stderr and \
        "<not counted>" not in probe.stderr


def counted_run(client, server, workload_args, duration, client_args=()):
    """One more run of a timed workload, the server under `perf stat`: its syscalls and context
    switches per reply, over its whole run (start-up, connects and stop included: a few hundred
    syscalls, against ~10^5 replies). Kept apart from the rate runs, which perf would slow."""
    result = run_once(client, server, workload_args, True, duration, None, client_args,
                      count=True)
    counts = server.counts()
    replies = result.get("replies") or 0
    if not replies or len(counts) != len(COUNTED_EVENTS):
        raise RuntimeError(f"perf counted {counts} for {replies} replies")
    return {"replies": replies,
            "syscalls_per_reply": counts["raw_syscalls:sys_enter"] / replies,
            "context_switches_per_reply": counts["context-switches"] / replies,
            "rate_under_perf": result["rate"]}


def run_once(client, server, workload_args, timed, duration, hold_time, client_args=(),
             count=False):
    server.start(count=count)
    try:
        cpu_before = server.cpu_seconds()
        switches_before = server.context_switches()
        argv = [client, "bench", "--port", str(server.port), "--message", MESSAGE,
                "--expect", server.expect, "--json", "--no-progress", *client_args,
                *workload_args]
        argv += ["--duration", duration] if timed else ["--hold-time", hold_time,
                                                        "--timeout", "20s"]
        # The server's RSS is sampled while the client runs (connections open), as well as its
        # peak over the whole run (VmHWM, which includes the mass disconnect at the end).
        client_process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True)
        rss_while_running = 0.0
        switches = switches_before
        deadline = time.monotonic() + 180
        next_scrape = time.monotonic()
        scrapes = 0
        while client_process.poll() is None and time.monotonic() < deadline:
            if server.metrics_port and time.monotonic() >= next_scrape:
                # What a Prometheus with a 1 s scrape interval would ask of it.
                url = f"http://127.0.0.1:{server.metrics_port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
                scrapes += 1
                next_scrape += 1.0
            rss_while_running = max(rss_while_running, server.rss_mib())
            # Sampled while the connections are open: a server whose threads exit when their
            # client closes would have nothing left to count afterwards.
            switches = max(switches, server.context_switches())
            time.sleep(0.1)  # a sampling period, not synchronization
        if client_process.poll() is None:
            client_process.kill()
        stdout, stderr = client_process.communicate(timeout=30)
        if client_process.returncode != 0:
            raise RuntimeError(f"tcp_client failed: {stderr.strip()}")
        result = json.loads(stdout)
        result["server_rss_while_connected_mib"] = rss_while_running
        result["server_cpu_s"] = server.cpu_seconds() - cpu_before
        result["server_context_switches"] = switches - switches_before
        result["server_peak_rss_mib"] = server.peak_rss_mib()
        if server.metrics_port:
            result["metrics_scrapes"] = scrapes
        return result
    finally:
        server.stop()


def median_run(runs, key):
    """The run whose `key` is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run[key])
    return ordered[(len(ordered) - 1) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    parser.add_argument("--duration", default="3s")
    parser.add_argument("--hold-time", default="3s")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="",
                        help="comma-separated server names; 'tls': the TLS section only")
    parser.add_argument("--workloads", default="",
                        help="comma-separated workload names (e.g. 'pingpong 50'); default all")
    parser.add_argument("--no-count", action="store_true",
                        help="skip the perf-counted runs (syscalls, context switches per reply)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"))
    parser.add_argument("--baseline", default="",
                        help="a build directory whose tcp_server is measured too, as "
                             "'baseline tcp_server' and 'baseline --quiet'")
    args = parser.parse_args()
    count = not args.no_count and perf_can_count()
    if not args.no_count and not count:
        print("perf stat cannot count syscalls here: no per-request counts", file=sys.stderr)

    args.build = os.path.abspath(args.build)
    client = os.path.join(args.build, "tcp_client")
    workdir = tempfile.mkdtemp(prefix="tcp_server_bench_")
    results = {}
    tls_results = {}
    tls_skipped = {}
    only = set(filter(None, args.only.split(",")))
    started = time.monotonic()
    try:
        results = measure(client, [server for server in servers(
            args.build, workdir, os.path.abspath(args.baseline) if args.baseline else None)
            if not only or server.name in only], WORKLOADS, args, count=count)
        cert, key = make_certificate(workdir)
        chosen, skipped = tls_servers(args.build, workdir, cert, key)

        def wanted(name):
            return not only or "tls" in only or name in only

        tls_skipped = {name: why for name, why in skipped.items() if wanted(name)}
        for name, why in tls_skipped.items():
            print(f"{name:22} skipped: {why}", file=sys.stderr, flush=True)
        tls_results = measure(client, [server for server in chosen if wanted(server.name)],
                              TLS_WORKLOADS, args, ["--tls", "--tls-ca", cert])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "benchmarks.json"), "w") as out:
        json.dump({**results, **tls_results}, out, indent=1)
    write_markdown(results, tls_results, tls_skipped, args, elapsed,
                   os.path.join(args.out, "benchmarks.md"))
    if results:
        write_chart(results, os.path.join(args.out, "benchmarks.png"), workdir, tls_results)


def measure(client, chosen_servers, workloads, args, client_args=(), count=False):
    """Every workload against each server: {server: {workload: the median of --repeat timed
    runs}}; prints a line each. Round robin: each repeat of a workload runs every server once
    before the next repeat, so that a change in the machine's background load falls on all of
    them alike rather than on whichever server happened to be measured then."""
    measured = {server.name: {} for server in chosen_servers}
    for name, workload_args, timed in workloads:
        if args.workloads and name not in args.workloads.split(","):
            continue
        runs = {server.name: [] for server in chosen_servers}
        for _ in range(args.repeat if timed else 1):
            for server in chosen_servers:
                try:
                    runs[server.name].append(run_once(client, server, workload_args, timed,
                                                      args.duration, args.hold_time, client_args))
                except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
                    print(f"{server.name} / {name}: {error}", file=sys.stderr)
        for server in chosen_servers:
            server_runs = runs[server.name]
            if not server_runs:
                measured[server.name][name] = None
                continue
            chosen = median_run(server_runs, "rate") if timed else server_runs[0]
            chosen["rates"] = [run["rate"] for run in server_runs]
            measured[server.name][name] = chosen
            resumed = (f"  resumed {chosen['resumed']}/{chosen['handshakes']}"
                       if chosen.get("tls") else "")
            print(f"{server.name:22} {name:13} rate {chosen['rate']:>10.0f}  "
                  f"p99 {chosen['latency_us']['p99']:>9.1f} us  "
                  f"errors {chosen['errors']['total']:>5}  "
                  f"cpu {chosen['server_cpu_s']:.2f} s  rss {chosen['server_peak_rss_mib']:.1f} MiB"
                  + resumed, flush=True)
            if count and name in COUNTED_WORKLOADS:
                try:
                    chosen["counted"] = counted_run(client, server, workload_args,
                                                    args.duration, client_args)
                    print(f"{'':22} {name:13} syscalls/reply "
                          f"{chosen['counted']['syscalls_per_reply']:.2f}  context switches/"
                          f"reply {chosen['counted']['context_switches_per_reply']:.2f}",
                          flush=True)
                except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError,
                        OSError) as error:
                    print(f"{server.name} / {name} (perf): {error}", file=sys.stderr)
    return measured


def rate_of(results, server, workload):
    run = results.get(server, {}).get(workload)
    return run["rate"] if run else None


def ratio_text(results, a, b, workload):
    x, y = rate_of(results, a, workload), rate_of(results, b, workload)
    if not x or not y:
        return "n/a"
    return f"{x / y:.2f}x"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def add_plain_sections(results, add):
    workloads = [name for name, _, _ in WORKLOADS]
    add("## Throughput (requests/s; churn: connections/s) and latency")
    add("")
    add("| server | " + " | ".join(workloads[:-1]) + " |")
    add("| --- |" + " --- |" * (len(workloads) - 1))
    for server, runs in results.items():
        cells = []
        for workload in workloads[:-1]:
            run = runs.get(workload)
            if not run:
                cells.append("failed")
                continue
            latency = run["latency_us"]
            errors = run["errors"]["total"]
            cells.append(f"**{run['rate']:,.0f}**<br>p50 {latency['p50'] / 1000:.2f} ms, "
                         f"p99 {latency['p99'] / 1000:.2f} ms"
                         + (f"<br>{errors} errors" if errors else ""))
        add(f"| {server} | " + " | ".join(cells) + " |")
    add("")
    add("## Server cost: CPU seconds and peak RSS per run")
    add("")
    add("| server | " + " | ".join(workloads) + " |")
    add("| --- |" + " --- |" * len(workloads))
    for server, runs in results.items():
        cells = []
        for workload in workloads:
            run = runs.get(workload)
            cells.append("failed" if not run else
                         f"{run['server_cpu_s']:.2f} s, {run['server_peak_rss_mib']:.1f} MiB")
        add(f"| {server} | " + " | ".join(cells) + " |")
    add("")
    add("## Hold 10,000 idle connections")
    add("")
    add("RSS while connected: the largest of the server's VmRSS sampled every 100 ms while the "
        "client ran (connect, hold, answer). Peak RSS: VmHWM over the whole run, which also "
        "covers the 10,000 disconnects at the end.")
    add("")
    add("| server | connected | answered afterwards | errors | RSS while connected | peak RSS |")
    add("| --- | --- | --- | --- | --- | --- |")
    for server, runs in results.items():
        run = runs.get("hold 10000")
        if not run:
            add(f"| {server} | failed | | | | |")
            continue
        add(f"| {server} | {run['connections_completed']} | {run['answered']} | "
            f"{run['errors']['total']} | {run['server_rss_while_connected_mib']:.1f} MiB | "
            f"{run['server_peak_rss_mib']:.1f} MiB |")
    add("")
    add("## Ratios (same run)")
    add("")
    add("| comparison | target | pingpong 50 | pingpong 500 | churn 50 |")
    add("| --- | --- | --- | --- | --- |")
    for a, b, target in [("tcp_server --quiet", "redis-server", ">= 0.8 (churn >= 1.0)"),
                         ("tcp_server --quiet", "tutorial C++", ">= 1.5"),
                         ("tcp_server --quiet", "tutorial Python", ">= 10"),
                         ("tcp_server", "tcp_server --quiet", ">= 0.6 (logging to a file)"),
                         ("tcp_server", "baseline tcp_server", "~1 (no regression)"),
                         ("tcp_server --quiet", "baseline --quiet", "~1 (no regression)")]:
        if b.startswith("baseline") and b not in results:
            continue
        add(f"| {a} / {b} | {target} | " + " | ".join(
            ratio_text(results, a, b, w) for w in ("pingpong 50", "pingpong 500", "churn 50"))
            + " |")
    add("")
    add("## Per request (pingpong 50): the server's context switches per reply")
    add("")
    add("Summed over the server's threads while the connections were open (sampled every "
        "100 ms, so the last 100 ms are missing: a slight undercount for every server alike), "
        "divided by the replies. One wake-up per request is the price of a thread per "
        "connection; anything above it is overhead.")
    add("")
    add("| server | context switches per reply |")
    add("| --- | --- |")
    for server, runs in results.items():
        run = runs.get("pingpong 50")
        if run and run.get("replies") and "server_context_switches" in run:
            add(f"| {server} | {run['server_context_switches'] / run['replies']:.2f} |")
    add("")
    add("## Per request: syscalls and context switches per reply (perf stat)")
    add("")
    add("One extra run per server and workload, the server started under `perf stat -e "
        "raw_syscalls:sys_enter,context-switches` (every thread it ever had; its start, the "
        "connects and its stop included), divided by the replies of that run. The literal C++ "
        "translation's floor is recv + write (its log line) + send = 3 syscalls per request.")
    add("")
    add("| server | " + " | ".join(f"{w}: syscalls | {w}: context switches"
                                   for w in COUNTED_WORKLOADS) + " |")
    add("| --- |" + " --- | --- |" * len(COUNTED_WORKLOADS))
    for server, runs in results.items():
        cells = []
        for workload in COUNTED_WORKLOADS:
            counted = (runs.get(workload) or {}).get("counted")
            cells += ([f"{counted['syscalls_per_reply']:.2f}",
                       f"{counted['context_switches_per_reply']:.2f}"] if counted
                      else ["n/a", "n/a"])
        add(f"| {server} | " + " | ".join(cells) + " |")
    add("")
    add("## Payload logging against the literal C++ translation (same run)")
    add("")
    add("| comparison | target | pingpong 50 | pingpong 500 |")
    add("| --- | --- | --- | --- |")
    for a, b, target in [("tcp_server", "tutorial C++", ">= 1.0 (both log to a file)"),
                         ("tcp_server log->null", "tutorial C++ >null",
                          ">= 1.0 (both to /dev/null)"),
                         ("tcp_server", "tcp_server --quiet", ">= 0.9"),
                         ("tcp_server --quiet", "tutorial C++", ">= 1.0")]:
        if a in results and b in results:
            add(f"| {a} / {b} | {target} | " + " | ".join(
                ratio_text(results, a, b, w) for w in ("pingpong 50", "pingpong 500")) + " |")
    add("")


def add_tls_section(tls_results, tls_skipped, add):
    workloads = [name for name, _, _ in TLS_WORKLOADS]
    add("## TLS (TLS 1.3, one ECDSA P-256 certificate)")
    add("")
    add("`tcp_client bench --tls --tls-ca cert.pem` (the certificate verified, as a real client "
        "would); churn is a full handshake per connection, resumed churn offers the newest "
        "session ticket received (`--tls-resume`) and counts the handshakes the server really "
        "resumed. stunnel's figures include the tcp_server behind it; socat forks a process "
        "(and `cat`) per connection, counted through its reaped children's CPU but not their "
        "RSS; socat echoes, the others answer `+PONG`.")
    add("")
    add("| server | " + " | ".join(workloads) + " |")
    add("| --- |" + " --- |" * len(workloads))
    for server, runs in tls_results.items():
        cells = []
        for workload in workloads:
            run = runs.get(workload)
            if not run:
                cells.append("failed")
                continue
            latency = run["latency_us"]
            errors = run["errors"]["total"]
            cell = (f"**{run['rate']:,.0f}**<br>p50 {latency['p50'] / 1000:.2f} ms, "
                    f"p99 {latency['p99'] / 1000:.2f} ms<br>cpu {run['server_cpu_s']:.2f} s, "
                    f"{run['server_peak_rss_mib']:.1f} MiB")
            if workload.startswith("tls resumed"):
                cell += f"<br>resumed {run['resumed']:,} of {run['handshakes']:,}"
            cells.append(cell + (f"<br>{errors} errors" if errors else ""))
        add(f"| {server} | " + " | ".join(cells) + " |")
    for server, why in tls_skipped.items():
        add(f"| {server} | skipped: {why} |" + " |" * (len(workloads) - 1))
    add("")
    add("| comparison | target | " + " | ".join(workloads) + " |")
    add("| --- | --- |" + " --- |" * len(workloads))
    for a, b, target in [("tcp_server --tls", "stunnel -> tcp_server", "pingpong >= 1.3"),
                         ("tcp_server --tls", "node tls", "pingpong, churn >= 1.0"),
                         ("tcp_server --tls", "socat OPENSSL-LISTEN", ""),
                         ("tcp_server --tls", "tutorial Python ssl", ""),
                         ("stunnel -> tcp_server", "node tls", "")]:
        if a in tls_results and b in tls_results:
            add(f"| {a} / {b} | {target} | " + " | ".join(
                ratio_text(tls_results, a, b, w) for w in workloads) + " |")
    add("")


def write_markdown(results, tls_results, tls_skipped, args, elapsed, path):
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Written by `bench/run` (which runs `bench/compare.py`); do not edit by hand.")
    add("")
    add(f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    add(f"- Machine: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"{platform.system()} {platform.release()}; server and load generator share the CPUs.")
    add(f"- Load: `tcp_client bench` (one event-loop thread), `PING\\r\\n` -> `+PONG\\r\\n`, "
        f"every reply checked; timed runs {args.duration}, median rate of {args.repeat} runs, "
        f"taken round robin (each repeat runs every server once) "
        f"(the other figures are from that run); hold: 10,000 connections idle {args.hold_time}, "
        f"then each must answer. Every server is started fresh for every run.")
    add(f"- Took {elapsed:.0f} s; load average at the end {os.getloadavg()[0]:.1f} (anything "
        f"well above 0 means something else shared the CPUs).")
    add("")
    if results:
        add_plain_sections(results, add)
    if tls_results or tls_skipped:
        add_tls_section(tls_results, tls_skipped, add)
    add("## Commands")
    add("")
    add("```sh")
    add("bench/run            # installs peers (apt), builds Release, runs this, writes docs/")
    add(f"bench/compare.py --build build/release --duration {args.duration} "
        f"--hold-time {args.hold_time} --repeat {args.repeat}")
    add("# each run, e.g.:")
    add("tcp_server --port 0 --host 127.0.0.1 --reply '+PONG\\r\\n' --backlog 1024 "
        "--log-file FILE   # or --quiet")
    add("tcp_client bench --port PORT --message 'PING\\r\\n' --expect '+PONG\\r\\n' --json "
        "--mode pingpong --connections 50 --duration 3s")
    add("```")
    add("")
    add("Peers: `bench/peers/` (the tutorial's Python server, Python `socketserver`, Node `net`, "
        "the tutorial translated literally to C++) and Debian's `redis-server` answering "
        "`PING`.")
    add("")
    add("![throughput](benchmarks.png)")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def write_chart(results, path, workdir, tls_results=None):
    """One panel per workload, a horizontal bar per server, on a linear axis from zero: a log
    axis hides a 0.6x gap, and servers are only compared within one workload. The TLS workloads
    (their own servers) get panels of their own."""
    if shutil.which("gnuplot") is None:
        print("gnuplot not found: no chart", file=sys.stderr)
        return
    panel_sets = [(results, ["pingpong 1", "pingpong 50", "pingpong 500", "churn 50"])]
    if tls_results:
        panel_sets.append((tls_results, [name for name, _, _ in TLS_WORKLOADS]))
    os.makedirs(workdir, exist_ok=True)
    panels = []
    rows = 0
    tallest = 1
    for measured, workloads in panel_sets:
        servers_in_run = list(measured)
        tallest = max(tallest, len(servers_in_run))
        rows += (len(workloads) + 1) // 2
        for workload in workloads:
            panels.append(chart_panel(measured, servers_in_run, workload, workdir, len(panels)))
        if len(workloads) % 2:
            panels.append("set multiplot next\n")
    height = 140 + 34 * tallest
    script = f"""
set terminal pngcairo size 1200,{rows * height} noenhanced font ",10"
set output "{path}"
set multiplot layout {rows},2 title "Loopback, 2 cores shared by server and load generator (same run; compare within a panel)"
set grid xtics
set format x "%.0s%c"
set lmargin 30
""" + "".join(panels) + "unset multiplot\n"
    subprocess.run(["gnuplot"], input=script, text=True, check=False, timeout=60)
    shutil.rmtree(workdir, ignore_errors=True)


def chart_panel(results, servers_in_run, workload, workdir, index):
    """The gnuplot commands of one panel: a bar per server, its rate written beside it."""
    data = os.path.join(workdir, f"rates{index}.dat")
    top = 1
    with open(data, "w") as out:
        for row, server in enumerate(servers_in_run):
            rate = (results[server].get(workload) or {}).get("rate", 0) or 0
            top = max(top, rate)
            # Colour: this build's tcp_server, a baseline build, the peers.
            colour = 0x2a6fdb if server.startswith("tcp_server") else (
                0x8fb3ee if server.startswith("baseline") else 0x999999)
            out.write(f'{row} {rate} "{server}" "{rate:,.0f}" {colour}\n')
    unit = "connections/s" if "churn" in workload else "requests/s"
    # SI prefixes for large rates; small ones (handshakes) as they are, or 1.5k would read "1k".
    number_format = "%.0s%c" if top >= 10000 else "%g"
    return f"""
set title "{workload} ({unit})"
set format x "{number_format}"
set yrange [-0.6:{len(servers_in_run) - 0.4}] reverse
set xrange [0:{top * 1.25:.0f}]
set ytics ({", ".join(f'"{name}" {row}' for row, name in enumerate(servers_in_run))})
plot "{data}" using (0):1:(0):2:($1-0.35):($1+0.35):5 with boxxyerror fill solid 0.9 \\
       linecolor rgb variable notitle, \\
     "{data}" using 2:1:4 with labels left offset 0.5,0 notitle
"""


if __name__ == "__main__":
    main()
