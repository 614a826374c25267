"""A fixed number of keep-alive requests over a fixed number of connections,
each answer read whole and its status checked: the load of
instructions.sh, where the count of requests (not a duration) must be exact.

    python3 client.py PORT REQUESTS CONNECTIONS get|preflight
"""
import socket
import sys
import threading

PORT, TOTAL, CONNS, KIND = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
HEAD = {
    "get": "GET /api/items HTTP/1.1\r\nOrigin: https://app.example.com\r\n",
    "preflight": "OPTIONS /api/items HTTP/1.1\r\nOrigin: https://app.example.com\r\n"
    "Access-Control-Request-Method: PUT\r\n"
    "Access-Control-Request-Headers: content-type, authorization\r\n",
}[KIND]
REQUEST = f"{HEAD}Host: 127.0.0.1:{PORT}\r\nUser-Agent: corsgate-bench\r\n\r\n".encode()
EXPECT = b"http/1.1 200" if KIND == "get" else b"http/1.1 204"
failures = []


def run(count):
    s = socket.create_connection(("127.0.0.1", PORT))
    buf = b""
    for _ in range(count):
        s.sendall(REQUEST)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].lower()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(buf) >= end + 4 + length:
                    if not head.startswith(EXPECT):
                        failures.append(head[:40])
                    buf = buf[end + 4 + length:]
                    break
            data = s.recv(65536)
            if not data:
                failures.append(b"connection closed")
                return
            buf += data
    s.close()


threads = [threading.Thread(target=run, args=(TOTAL // CONNS,)) for _ in range(CONNS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(f"{len(failures)} unexpected answers, first: {failures[0]!r}")
