#!/usr/bin/env python3
"""A hostile HTTP/1.1 upstream for the soak: keep-alive connections whose
answers break framing in every way an upstream can, byte-exact.

Every answer's body and `X-Req-Id` header echo the request's `X-Req-Id`, so
the client (hostile.py) can tell whether the response it got was meant for
its own request. After the echo, depending on the request's id, the upstream
adds what a broken or malicious server would:

  clean       nothing (the connection stays usable)
  late        a whole forged response, 50 ms later (a later TCP segment)
  overlong    more body bytes than Content-Length said
  body204     a 204 followed by a body
  head_body   a body after the answer to a HEAD
  double      a second, forged response right behind the first
  interim     a 103 Early Hints before the answer (legal; must be skipped)
  close       a close-delimited body (no length; the connection ends)

A forged response carries `X-Req-Id: stale` and a body `stale`: if it ever
reaches a client, that client got a response that was not its own.

usage: misbehave.py PORT
"""
import socket
import sys
import threading
import time

port = int(sys.argv[1])
KINDS = ["clean", "late", "overlong", "body204", "head_body", "double", "interim", "close"]
FORGED = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Req-Id: stale\r\n" \
         b"Access-Control-Allow-Origin: https://evil.example\r\n" \
         b"Access-Control-Allow-Credentials: true\r\n\r\nstale"


def read_head(conn, buf):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def serve(conn):
    buf = b""
    try:
        while True:
            head, buf = read_head(conn, buf)
            if head is None:
                return
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0]
            rid = b"none"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"x-req-id":
                    rid = value.strip()
                elif name.strip().lower() == b"content-length":
                    # Requests with a body: drop it (the soak sends none).
                    n = int(value.strip() or b"0")
                    while len(buf) < n:
                        more = conn.recv(65536)
                        if not more:
                            return
                        buf += more
                    buf = buf[n:]
            try:
                kind = KINDS[int(rid.split(b"-")[-1]) % len(KINDS)]
            except ValueError:
                kind = "clean"
            body = rid
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Req-Id: %s\r\n" \
                     b"Access-Control-Allow-Origin: https://evil.example\r\n\r\n" % (len(body), rid)
            if method == b"HEAD":
                answer = answer  # the head alone; the length names the GET's body
                if kind == "head_body":
                    conn.sendall(answer + body + FORGED)
                    continue
                conn.sendall(answer)
                continue
            if kind == "late":
                conn.sendall(answer + body)
                time.sleep(0.05)
                conn.sendall(FORGED)
            elif kind == "overlong":
                conn.sendall(answer + body + b"EXTRA" + FORGED)
            elif kind == "body204":
                conn.sendall(b"HTTP/1.1 204 No Content\r\nX-Req-Id: %s\r\n\r\n" % rid + FORGED)
            elif kind == "double":
                conn.sendall(answer + body + FORGED)
            elif kind == "interim":
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" + answer + body)
            elif kind == "close":
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Req-Id: %s\r\nConnection: close\r\n\r\n" % rid + body)
                return
            else:
                conn.sendall(answer + body)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(512)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
