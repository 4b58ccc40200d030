#!/usr/bin/env python3
"""capture.py - a relay on 127.0.0.1 that records what airliftd's clients really send, as
seeds for the fuzz corpora (fuzz/seed.sh runs it; fuzz/README.md).

  capture.py OUT_DIR HTTP_LISTEN HTTP_TARGET COAP_LISTEN COAP_TARGET   (ports)

UDP: every datagram a client sends the CoAP port goes to OUT_DIR/coap/. TCP: the JSON body
of every POST/PATCH a fuzz_http step reads goes to OUT_DIR/http/, behind the byte that picks
the step (fuzz/fuzz_http.c); the bytes of every event stream airliftd answers go to
OUT_DIR/sse/ (one file a stream, as far as it came), behind a byte that cuts them in two.
Other files are named by their SHA-1, so a message sent twice is kept once. Runs until killed.
"""
import hashlib
import os
import re
import select
import socket
import sys
import threading

OUT = sys.argv[1]
HTTP_LISTEN, HTTP_TARGET, COAP_LISTEN, COAP_TARGET = (int(p) for p in sys.argv[2:6])
STEPS = [  # (method, path pattern) in the order of fuzz_http.c's steps
    ("POST", r"/v1/devices"), ("PATCH", r"/v1/devices/[^/]+"), ("POST", r"/v1/products"),
    ("POST", r"/v1/products/[^/]+/releases"), ("POST", r"/v1/rollouts"),
    ("POST", r"/v1/devices/[^/]+/updates"), ("POST", r"/v1/tokens"),
]


def keep(kind, data):
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    with open(os.path.join(OUT, kind, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def udp_relay():
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", COAP_LISTEN))
    backs = {}  # client address -> its own socket towards airliftd
    while True:
        ready, _, _ = select.select([front] + list(backs.values()), [], [])
        for s in ready:
            data, addr = s.recvfrom(65535)
            if s is front:
                if addr not in backs:
                    backs[addr] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    backs[addr].connect(("127.0.0.1", COAP_TARGET))
                keep("coap", data)
                backs[addr].send(data)
            else:
                client = next(a for a, b in backs.items() if b is s)
                front.sendto(data, client)


def requests(buf):
    """Complete requests at the start of buf: yields (method, path, body), returns the rest."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if len(buf) < end + 4 + length:
            return out, buf
        method, path = head[0].split(" ")[:2]
        out.append((method, path.split("?")[0], buf[end + 4:end + 4 + length]))
        buf = buf[end + 4 + length:]


def dechunk(data):
    """The body of a chunked transfer, as far as it is complete."""
    out = b""
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return out
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0 or len(rest) < n:
            return out + rest[:n]
        out += rest[:n]
        data = rest[n + 2:]


def save_stream(state):
    """The stream so far (de-chunked, its first 4 KiB) as one seed per connection."""
    head, _, body = state["sse"].partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = dechunk(body)
    body = body[:4096]
    os.makedirs(os.path.join(OUT, "sse"), exist_ok=True)
    with open(os.path.join(OUT, "sse", "stream-%d" % id(state)), "wb") as f:
        f.write(bytes([len(body) // 2 % 256]) + body)


def pump(src, dst, inbound, state):
    buf = b""
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        if inbound:
            reqs, buf = requests(buf + data)
            for method, path, body in reqs:
                state["stream"] = path == "/v1/events/stream"
                for i, (m, pattern) in enumerate(STEPS):
                    if method == m and re.fullmatch(pattern, path) and body:
                        keep("http", bytes([i]) + body)
        elif state.get("stream"):
            state["sse"] = state.get("sse", b"") + data
            save_stream(state)
        try:
            dst.sendall(data)
        except OSError:
            break
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def tcp_relay():
    front = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    front.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    front.bind(("127.0.0.1", HTTP_LISTEN))
    front.listen(64)
    while True:
        client, _ = front.accept()
        server = socket.create_connection(("127.0.0.1", HTTP_TARGET))
        state = {}
        threading.Thread(target=pump, args=(client, server, True, state), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, False, state), daemon=True).start()


threading.Thread(target=udp_relay, daemon=True).start()
tcp_relay()
