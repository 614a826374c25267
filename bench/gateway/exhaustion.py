#!/usr/bin/env python3
"""Slow and stalling peers against a reverse proxy, with the scripts of
crates/corsgate-gateway/tests/exhaustion.rs, to compare corsgate with nginx
(see exhaustion.sh). Runs its own upstream: GET /big answers 64 MiB and
records when the proxy drops the connection; GET /stall sends half an
answer and stalls; POST /upload reads the body and
answers its length; POST /hang reads the body and never answers.

usage: exhaustion.py NAME HTTP_PORT H2C_PORT UPSTREAM_PORT
Prints one Markdown table row per scenario: name | scenario | outcome.
"""
import socket
import sys
import threading
import time

name, http_port, h2_port, up_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
released = {}


def upstream():
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", up_port))
    l.listen(128)
    while True:
        c, _ = l.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def serve(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    line = head.split(b"\r\n")[0].decode()
    length = 0
    for h in head.split(b"\r\n")[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if "/stall" in line:
        # Half an answer, then nothing: the proxy's read timeout must cut it.
        try:
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" + b"s" * 65536)
            time.sleep(30)
        except OSError:
            pass
        return
    if "/big" in line:
        size = 64 << 20
        chunk = b"x" * 65536
        try:
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
            for _ in range(size // len(chunk)):
                c.sendall(chunk)
            released["big"] = ("sent in full (buffered by the proxy)", time.monotonic())
        except OSError:
            released["big"] = ("dropped by the proxy", time.monotonic())
        return
    got = len(rest)
    while got < length:
        d = c.recv(65536)
        if not d:
            return
        got += len(d)
    if "/hang" in line:
        time.sleep(60)
        return
    body = str(got).encode()
    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))


def time_to_close(s, trickle, every, limit):
    """Sends `trickle` one byte per `every` while reading; seconds until the
    peer closes (None past `limit`)."""
    t0 = time.monotonic()
    s.setblocking(False)
    i = 0
    next_send = t0 + every
    while time.monotonic() - t0 < limit:
        now = time.monotonic()
        if i < len(trickle) and now >= next_send:
            try:
                s.send(trickle[i:i + 1])
            except OSError:
                return now - t0
            i += 1
            next_send = now + every
        try:
            d = s.recv(65536)
            if not d:
                return time.monotonic() - t0
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            return time.monotonic() - t0
    return None


def fmt(t, limit):
    return "open after %.0f s" % limit if t is None else "closed after %.1f s" % t


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def row(scenario, outcome):
    print("| %s | %s | %s |" % (name, scenario, outcome), flush=True)


def slow_reader():
    released.pop("big", None)
    s = socket.create_connection(("127.0.0.1", http_port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    t0 = time.monotonic()
    s.sendall(b"GET /raw/big HTTP/1.1\r\nHost: a\r\n\r\n")
    while "big" not in released and time.monotonic() - t0 < 20:
        time.sleep(0.05)
    if "big" in released:
        what, t = released["big"]
        up = "upstream connection %s after %.1f s" % (what, t - t0)
    else:
        up = "upstream connection still open after 20 s"
    # Then: when does the proxy close the client's connection?
    t = time_to_close(s, b"", 1, 20)
    row("client reads nothing of 64 MiB", "%s; client connection %s" % (up, fmt(t, 20).replace("after", "a further")))
    s.close()


def stalled_upstream():
    s = socket.create_connection(("127.0.0.1", http_port))
    s.sendall(b"GET /raw/stall HTTP/1.1\r\nHost: a\r\n\r\n")
    got = b""
    s.settimeout(20)
    t0 = time.monotonic()
    try:
        while b"\r\n\r\n" not in got:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    t0 = time.monotonic()  # from the head: the body stalls after 64 KiB
    t = time_to_close(s, b"", 1, 20)
    row("upstream sends 64 KiB of 1 MiB, then stalls", "client connection %s" % fmt(t, 20))
    s.close()


def h2(scenario, first, trickle, every=0.2, limit=10):
    s = socket.create_connection(("127.0.0.1", h2_port))
    s.sendall(first)
    row("h2c: " + scenario, fmt(time_to_close(s, trickle, every, limit), limit))
    s.close()


def upload(scenario, path, total, pieces, every, limit=20):
    s = socket.create_connection(("127.0.0.1", http_port))
    t0 = time.monotonic()
    s.sendall(b"POST /raw/%s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (path.encode(), total))
    s.setblocking(False)
    got = b""
    queue = list(pieces)
    next_send = t0 + every
    while time.monotonic() - t0 < limit:
        now = time.monotonic()
        if queue and now >= next_send:
            try:
                s.send(b"u" * queue.pop(0))
            except OSError:
                break
            next_send = now + every
        try:
            d = s.recv(65536)
            if not d:
                break
            got += d
            if b"\r\n\r\n" in got:
                break
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    t = time.monotonic() - t0
    status = got.split(b"\r\n")[0].decode(errors="replace") if got else "connection closed, no answer"
    row(scenario, "%s after %.1f s" % (status, t))
    s.close()


threading.Thread(target=upstream, daemon=True).start()
time.sleep(0.3)
slow_reader()
stalled_upstream()
h2("preface 1 byte / 200 ms", b"", PREFACE)
h2("nothing sent", b"", b"")
h2("preface + SETTINGS, then idle", PREFACE + SETTINGS, b"", limit=8)
headers = b"\x00\x00\x64\x01\x04\x00\x00\x00\x01" + b"\x82" * 100
h2("preface + SETTINGS, then HEADERS 1 byte / 200 ms", PREFACE + SETTINGS, headers)
upload("upload 10 x 1000 B, 300 ms apart", "upload", 10000, [1000] * 10, 0.3)
upload("upload stalls after 100 of 10000 B", "upload", 10000, [100], 0.1)
upload("upload 3 x 1000 B, 400 ms apart; upstream never answers", "hang", 3000, [1000] * 3, 0.4)
