#!/usr/bin/env python3
"""Hostile and malformed HTTP/1.1 requests, each on a fresh connection, for a
bounded time. Every one must be answered with a status line (or, for
non-HTTP/1 bytes, a closed connection). Also keeps slowloris connections
open and checks the gateway closes them. Prints one JSON summary line.

usage: hostile.py HOST:PORT SECONDS
"""
import json
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
seconds = float(sys.argv[2])

A = "https://app.example.com"
payloads = {
    "garbage": b"GARBAGE\r\n\r\n",
    "bad_header_line": b"GET /api/x HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n",
    "no_host": b"GET /api/x HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two_content_lengths": b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "te_and_cl": b"POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "huge_header": b"GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    "many_headers": b"GET /api/x HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n",
    "huge_acrh_preflight": ("OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: %s\r\n\r\n" % (A, "," * 9000)).encode(),
    "null_origin_preflight": b"OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: null\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
    "binary_origin": b"GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://\xff\xfe.example\r\n\r\n",
    "two_origins": ("GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\nOrigin: https://evil.example\r\n\r\n" % A).encode(),
    "lookalike_origin": b"GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com.evil.net\r\n\r\n",
    "absolute_form": b"GET http://evil.example/api/x HTTP/1.1\r\nHost: a\r\n\r\n",
    "asterisk": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "connect": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
    "http10_no_host": b"GET /api/x HTTP/1.0\r\n\r\n",
    "bad_chunked_body": b"POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    "valid_allowed": ("GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\nConnection: close\r\n\r\n" % A).encode(),
    "valid_preflight": ("OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n" % A).encode(),
}
close_ok = {
    "h2_junk": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 64,
    "tls_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,
}

stats = {"sent": 0, "answered": 0, "closed": 0, "unanswered": 0, "statuses": {}, "unanswered_by": {}}


def one(name, data, expect_close):
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(data)
    except OSError:
        pass  # the gateway may close early (too-large head): still read the answer
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    s.close()
    stats["sent"] += 1
    if buf.startswith(b"HTTP/1."):
        stats["answered"] += 1
        code = buf.split(b" ", 2)[1].decode()
        key = "%s %s" % (name, code)
        stats["statuses"][key] = stats["statuses"].get(key, 0) + 1
    elif expect_close:
        stats["closed"] += 1
    else:
        stats["unanswered"] += 1
        stats["unanswered_by"][name] = stats["unanswered_by"].get(name, 0) + 1


# Slowloris: half a request head each, kept open.
slow = []
for _ in range(50):
    try:
        c = socket.create_connection((host, port), timeout=5)
        c.sendall(b"GET /api/x HTTP/1.1\r\nHost: a\r\n")
        slow.append(c)
    except OSError:
        pass

end = time.time() + seconds
while time.time() < end:
    for name, data in payloads.items():
        one(name, data, False)
    for name, data in close_ok.items():
        one(name, data, True)

closed_slow = 0
for c in slow:
    c.settimeout(0.5)
    try:
        c.recv(1)  # EOF (or an answer): the gateway acted on it
        closed_slow += 1
    except socket.timeout:
        pass
    except OSError:
        closed_slow += 1
    c.close()
stats["slowloris_opened"] = len(slow)
stats["slowloris_closed_by_gateway"] = closed_slow
print(json.dumps(stats, sort_keys=True))
