#!/usr/bin/env python3
"""Python's ssl module as one of the TLS clients of test_tls.cpp.

Connects to 127.0.0.1:PORT, sends each --send line, prints the replies, and with --wait-close
says how the server ended the session. --stdin keeps the session open and sends each line read
from stdin (one reply each); --print-fingerprint prints the certificate the server showed.
--hello-then sends a real ClientHello (made by the ssl
module through memory BIOs) followed by random bytes, or resets the connection mid-handshake.
Exit status: 0 served, 2 TLS or socket error (printed), 3 pin mismatch.
"""
import argparse
import hashlib
import os
import socket
import ssl
import struct
import sys

TIMEOUT = 10

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--ca", help="trust this CA file (else: no verification)")
parser.add_argument("--pin", help="accept only this SHA-256 certificate fingerprint")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--version", choices=["1.1", "1.2", "1.3"], help="speak only this version")
parser.add_argument("--send", action="append", default=[])
parser.add_argument("--print-fingerprint", action="store_true",
                    help="print the server certificate's SHA-256 as 'fingerprint AB:CD:...'")
parser.add_argument("--stdin", action="store_true",
                    help="after the --send lines, send each line of stdin and print its reply")
parser.add_argument("--wait-close", action="store_true")
parser.add_argument("--hello-then", choices=["random", "reset"])
parser.add_argument("--server-name", default="localhost")
parser.add_argument("--alpn")
parser.add_argument("--source", default="", help="connect from this loopback address")
args = parser.parse_args()


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if args.ca:
        ctx.load_verify_locations(args.ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if args.version:
        version = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
                   "1.3": ssl.TLSVersion.TLSv1_3}[args.version]
        if args.version == "1.1":
            # Debian's OpenSSL keeps TLS 1.1 off below security level 0: lower it, so that
            # this client really offers 1.1 and it is the server that refuses.
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
    if args.alpn:
        ctx.set_alpn_protocols([args.alpn])
    return ctx


def hostile():
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = context().wrap_bio(incoming, outgoing, server_hostname=args.server_name)
    try:
        session.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=TIMEOUT,
                                    source_address=(args.source, 0))
    sock.sendall(hello)
    if args.hello_then == "reset":
        sock.recv(1)  # the server has answered: it is in mid-handshake
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        print("reset")
        return
    try:
        sock.sendall(os.urandom(4096))
        while sock.recv(4096):
            pass
    except OSError:
        pass
    print("closed")


def client():
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=TIMEOUT,
                                    source_address=(args.source, 0))
    sock = context().wrap_socket(raw, server_hostname=args.server_name,
                                 suppress_ragged_eofs=False)
    if args.pin:
        digest = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
        if digest != args.pin.replace(":", "").lower():
            print("pin mismatch", flush=True)
            sys.exit(3)
    if args.print_fingerprint:
        digest = hashlib.sha256(sock.getpeercert(binary_form=True)).digest()
        print("fingerprint", ":".join(f"{byte:02X}" for byte in digest), flush=True)
    print("connected", sock.version(), flush=True)
    for line in args.send:
        sock.sendall(line.encode() + b"\n")
    received = b""
    while received.count(b"\n") < len(args.send):
        data = sock.recv(4096)
        if not data:
            break
        received += data
    sys.stdout.write(received.decode(errors="replace"))
    sys.stdout.flush()
    if args.stdin:
        for line in sys.stdin:
            sock.sendall(line.encode())
            reply = b""
            while not reply.endswith(b"\n"):
                data = sock.recv(4096)
                if not data:
                    print("closed", flush=True)
                    return
                reply += data
            sys.stdout.write(reply.decode(errors="replace"))
            sys.stdout.flush()
    if args.wait_close:
        try:
            print("close_notify" if sock.recv(4096) == b"" else "more data")
        except ssl.SSLEOFError:
            print("end of stream without close_notify")


try:
    hostile() if args.hello_then else client()
except (ssl.SSLError, OSError) as error:
    print("error:", error, flush=True)
    sys.exit(2)
