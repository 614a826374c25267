#!/usr/bin/env python3
"""Hostile and malformed HTTP/1.1 requests, each on a fresh connection, for a
bounded time. Every one must be answered with a status line (or, for
non-HTTP/1 bytes, a closed connection). Also keeps slowloris connections
open and checks the gateway closes them. Prints one JSON summary line.

usage: hostile.py HOST:PORT SECONDS [STALL_SECONDS BIG_FILE_BYTES]
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
    # Host confusions (RFC 9112 §3.2): answered 400 or routed as the canonical host.
    "host_trailing_dot": b"GET /api/x HTTP/1.1\r\nHost: a.\r\nOrigin: https://evil.example\r\n\r\n",
    "host_with_path": b"GET /api/x HTTP/1.1\r\nHost: a/x\r\nOrigin: https://evil.example\r\n\r\n",
    "host_userinfo": b"GET /api/x HTTP/1.1\r\nHost: u@a\r\nOrigin: https://evil.example\r\n\r\n",
    "host_bad_port": b"GET /api/x HTTP/1.1\r\nHost: a:8x\r\nOrigin: https://evil.example\r\n\r\n",
}
# Path confusions from a disallowed origin, with cookies: each must be refused
# (400) or routed as the normalised path under that path's policy. The
# upstream (nginx) normalises, reflects any Origin with credentials and names
# the path it served in X-Served-Path: a response that carries the evil
# origin for a path under /api/ is a leak.
CONFUSIONS = [
    "/healthz/..%2fapi/me", "/healthz/../api/me", "/healthz/%2e%2e/api/me", "/healthz/.%2e/api/me",
    "/healthz/..;/api/me", "/public/..%2fapi/me", "/public/../api/me", "/public/%2e%2e%2fapi/me",
    "//api/me", "/public//../api/me", "/%61pi/me", "/public/..%5capi/me", "/public/..\\api/me",
    "/healthz/..%252fapi/me", "/public/./../api/me", "/healthz%2f..%2fapi/me",
]
for i, path in enumerate(CONFUSIONS):
    payloads["path_confusion_%02d" % i] = (
        "GET %s HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\nCookie: session=1\r\nConnection: close\r\n\r\n" % path
    ).encode()
close_ok = {
    "h2_junk": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 64,
    "tls_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,
}

stats = {"sent": 0, "answered": 0, "closed": 0, "unanswered": 0, "statuses": {}, "unanswered_by": {},
         "leaks": 0, "leaked_by": {}}


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        n, _, v = line.partition(b":")
        if n.strip().lower() == name:
            return v.strip()
    return None


def one(name, data, expect_close):
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(data)
    except OSError:
        pass  # the gateway may close early (too-large head): still read the answer
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
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
        head = buf.split(b"\r\n\r\n", 1)[0]
        served = header(head, b"x-served-path") or b""
        if header(head, b"access-control-allow-origin") == b"https://evil.example" and served.startswith(b"/api"):
            stats["leaks"] += 1
            stats["leaked_by"][name] = stats["leaked_by"].get(name, 0) + 1
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

import threading

cross = {"own": 0, "gateway_status": 0, "other": 0, "statuses": {}}
lock = threading.Lock()


def keepalive_client(tid, until):
    """Keep-alive requests to the misbehaving upstream's route: every answer
    must be this request's own (its id echoed) or the gateway's 502/504."""
    n = 0
    s = None
    while time.time() < until:
        if s is None:
            try:
                s = socket.create_connection((host, port), timeout=10)
            except OSError:
                time.sleep(0.05)
                continue
        n += 1
        rid = "%d-%d" % (tid, n)
        method = "HEAD" if n % 5 == 0 else "GET"
        try:
            s.sendall(("%s /bad/x HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\nX-Req-Id: %s\r\n\r\n" % (method, A, rid)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            code = head.split(b" ", 2)[1].decode()
            got = header(head, b"x-req-id")
            length = header(head, b"content-length")
            chunked = (header(head, b"transfer-encoding") or b"").lower() == b"chunked"
            if method == "HEAD" or code in ("204", "304"):
                body = b""
            elif length is not None:
                want = int(length)
                while len(rest) < want:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                body = rest[:want]
            elif chunked:
                while not rest.endswith(b"0\r\n\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                body = rest  # the id appears in the chunk data
            else:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                body = rest
                s.close()
                s = None
            with lock:
                cross["statuses"][code] = cross["statuses"].get(code, 0) + 1
                if code in ("502", "504"):
                    cross["gateway_status"] += 1
                elif got == rid.encode() and (method == "HEAD" or code == "204" or rid.encode() in body):
                    cross["own"] += 1
                else:
                    cross["other"] += 1
            if header(head, b"connection") == b"close" and s is not None:
                s.close()
                s = None
        except OSError:
            if s is not None:
                s.close()
            s = None


def slow_reader(result):
    """Asks for a large response and reads nothing for a while: the gateway
    must give up on the client after its send timeout."""
    try:
        c = socket.create_connection((host, port), timeout=5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(b"GET /public/big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(float(result["stall"]))
        c.settimeout(10)
        got = 0
        first = b""
        while True:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            if len(first) < 16:
                first += chunk[:16]
            got += len(chunk)
        result["bytes_read_after_stall"] = got
        result["status_line"] = first[:12].decode("latin-1")
        # Cut: the 200 had begun, and the connection ended before its body.
        result["cut_by_gateway"] = first.startswith(b"HTTP/1.1 200") and got < result["size"]
    except OSError as e:
        result["cut_by_gateway"] = True
        result["error"] = str(e)


def h2_trickle(result):
    """Sends the HTTP/2 preface one byte a second: the gateway must close
    the connection once its header-read time is up."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    t0 = time.time()
    try:
        c = socket.create_connection((host, port), timeout=5)
        for b in preface:
            c.sendall(bytes([b]))
            time.sleep(1)
        result["closed_after_s"] = None
    except OSError:
        result["closed_after_s"] = round(time.time() - t0, 1)


end = time.time() + seconds
workers = [threading.Thread(target=keepalive_client, args=(t, end), daemon=True) for t in range(4)]
reader = {"stall": float(sys.argv[3]) if len(sys.argv) > 3 else 15, "size": int(sys.argv[4]) if len(sys.argv) > 4 else 0}
trickle = {}
extra = [threading.Thread(target=slow_reader, args=(reader,), daemon=True),
         threading.Thread(target=h2_trickle, args=(trickle,), daemon=True)]
for w in workers + extra:
    w.start()
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
for w in workers + extra:
    w.join(timeout=60)
stats["cross_client"] = cross
stats["slow_reader"] = reader
stats["h2_trickle"] = trickle
stats["slowloris_opened"] = len(slow)
stats["slowloris_closed_by_gateway"] = closed_slow
print(json.dumps(stats, sort_keys=True))
