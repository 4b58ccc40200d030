#!/usr/bin/env python3
"""http_attack.py - attacks on airliftd's HTTP API over real connections (python3 stdlib).

  http_attack.py slowloris PORT COUNT SOURCES SECONDS
      COUNT connections spread over SOURCES client addresses (127.0.0.2, 127.0.0.3, ...),
      each sending a request's headers one byte a second for SECONDS. Prints how many were
      refused at once, cut by the server before SECONDS and still open at the end.
  http_attack.py raw PORT REQUEST
      send REQUEST (Python escapes: \\r\\n) on one connection; print the status line of the
      reply, then "closed" if the server closed the connection after it, else "open".
"""
import codecs
import selectors
import socket
import sys
import time


def slowloris(port, count, sources, seconds):
    sel = selectors.DefaultSelector()
    conns, refused, opened = [], 0, {}
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.0.{2 + i % sources}", 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            s.close()
            continue
        conns.append(s)
        opened[s] = time.monotonic()
    head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
    sent = {s: 0 for s in conns}
    alive = set(conns)
    cut_at = []
    start = time.monotonic()
    for s in conns:
        sel.register(s, selectors.EVENT_READ)
    while time.monotonic() - start < seconds and alive:
        for s in list(alive):
            try:
                s.send(head[sent[s]:sent[s] + 1])
                sent[s] += 1
            except BlockingIOError:
                pass
            except OSError:
                alive.discard(s)
                sel.unregister(s)
                cut_at.append(time.monotonic() - opened[s])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0, deadline - time.monotonic())):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data and s in alive:
                    alive.discard(s)
                    sel.unregister(s)
                    cut_at.append(time.monotonic() - opened[s])
    # each connection's age when the server closed it
    early = sum(1 for t in cut_at if t < 5)   # refused at accept (per-address bound): seen late under load
    late = len(cut_at) - early                  # cut at the header deadline
    first_late = min((t for t in cut_at if t >= 5), default=0)
    print(f"slowloris: connections={count} sources={sources} refused_at_once={refused + early} "
          f"cut_by_deadline={late} first_cut_s={first_late:.1f} open_at_end={len(alive)}")
    for s in conns:
        s.close()


def raw(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(codecs.decode(request, "unicode_escape").encode("latin-1"))
    data = b""
    closed = False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    status = data.split(b"\r\n", 1)[0].decode("latin-1") if data else "(no reply)"
    replies = data.count(b"HTTP/1.1 ")
    print(f"{status}\nreplies={replies}\n{'closed' if closed else 'open'}")
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    print(body.decode("latin-1", "replace"))


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "slowloris":
        slowloris(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "raw":
        raw(int(sys.argv[2]), sys.argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
