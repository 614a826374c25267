#!/usr/bin/env python3
"""Writes a large HAR in Chrome DevTools' shape, for measuring `corsgate har`.

    python3 bench/har/gen.py OUT.har SIZE_MB [--doubled]

Each page of entries mixes what a recording of a single-page app holds: its
documents, scripts and images (same-origin, with bodies), allowed CORS GETs,
preflights with their PUTs, and blocked requests (status 0, net::ERR_FAILED,
no answer headers) of three kinds: a preflight answered without
Access-Control-Allow-Origin, an unlisted method, and an actual GET whose
answer names another origin. The last line printed is what `corsgate har`
must report: how many cross-origin requests and how many blocked.
--doubled writes every header line twice (as some recording tools do);
--no-bodies leaves every response body out (the densest file: entries only).
"""
import json
import sys

out_path, size_mb = sys.argv[1], float(sys.argv[2])
doubled = "--doubled" in sys.argv
no_bodies = "--no-bodies" in sys.argv
target = int(size_mb * 1e6)
APP = "https://app.example.com"
API = "https://api.example.net"


def hdrs(pairs):
    lines = [{"name": n, "value": v} for n, v in pairs]
    if doubled:
        lines = [x for x in lines for _ in (0, 1)]
    return lines


def entry(i, method, url, req, status, resp, body="", rtype="fetch", error=None):
    e = {
        "startedDateTime": "2026-12-03T10:00:%02d.%03dZ" % (i // 1000 % 60, i % 1000),
        "time": 12.5,
        "_resourceType": rtype,
        "request": {"method": method, "url": url, "httpVersion": "http/2.0",
                    "headers": hdrs(req), "queryString": [], "cookies": [],
                    "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "http/2.0",
                     "headers": hdrs(resp), "cookies": [],
                     "content": {"size": len(body), "mimeType": "application/json", "text": body},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
        "cache": {},
        "timings": {"blocked": 0.5, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1, "wait": 10.2, "receive": 1.7},
    }
    if error:
        e["response"]["_error"] = error
    return json.dumps(e, separators=(",", ":"))


COMMON = [("Accept", "*/*"), ("Accept-Language", "en-GB,en;q=0.9"),
          ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"),
          ("Sec-Fetch-Dest", "empty"), ("Referer", APP + "/")]
body = json.dumps({"items": [{"id": k, "name": "item %d" % k, "tags": ["a", "b"], "note": "x" * 40} for k in range(40)]})
script = "function f(){return 1}\n" * 400
if no_bodies:
    body = script = ""


def page(n, i):
    """One page's entries, starting at index i; returns (texts, cross, blocked)."""
    u = "%s/v1/items/%d" % (API, n)
    cors = COMMON + [("Origin", APP), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "cross-site")]
    out = []
    out.append(entry(i, "GET", APP + "/app.js", COMMON + [("Sec-Fetch-Mode", "no-cors")], 200,
                     [("Content-Type", "text/javascript")], script, "script"))
    # Allowed simple GET.
    out.append(entry(i + 1, "GET", u, cors, 200,
                     [("Access-Control-Allow-Origin", APP), ("Vary", "Origin"), ("Content-Type", "application/json")], body))
    # Allowed preflight + PUT.
    pre = COMMON + [("Origin", APP), ("Sec-Fetch-Mode", "cors"), ("Access-Control-Request-Method", "PUT"),
                    ("Access-Control-Request-Headers", "content-type")]
    out.append(entry(i + 2, "OPTIONS", u, pre, 204,
                     [("Access-Control-Allow-Origin", APP), ("Access-Control-Allow-Methods", "PUT"),
                      ("Access-Control-Allow-Headers", "content-type")], "", "preflight"))
    out.append(entry(i + 3, "PUT", u, cors + [("Content-Type", "application/json")], 200,
                     [("Access-Control-Allow-Origin", APP), ("Content-Type", "application/json")], body))
    # Blocked: the preflight has no Access-Control-Allow-Origin.
    out.append(entry(i + 4, "OPTIONS", u + "/a", pre, 401, [("WWW-Authenticate", "Bearer")], "", "preflight"))
    out.append(entry(i + 5, "PUT", u + "/a", cors + [("Content-Type", "application/json")], 0, [], "",
                     error="net::ERR_FAILED"))
    # Blocked: an unlisted method.
    pre_d = COMMON + [("Origin", APP), ("Sec-Fetch-Mode", "cors"), ("Access-Control-Request-Method", "DELETE")]
    out.append(entry(i + 6, "OPTIONS", u + "/b", pre_d, 204,
                     [("Access-Control-Allow-Origin", APP), ("Access-Control-Allow-Methods", "GET, PUT")], "", "preflight"))
    out.append(entry(i + 7, "DELETE", u + "/b", cors, 0, [], "", error="net::ERR_FAILED"))
    # Blocked: the answer names another origin.
    out.append(entry(i + 8, "GET", u + "/c", cors, 200,
                     [("Access-Control-Allow-Origin", "https://other.example.com"), ("Content-Type", "application/json")], body))
    # cross-origin requests: GET, PUT, PUT(a), DELETE(b), GET(c) = 5; blocked: 3
    return out, 5, 3


with open(out_path, "w") as f:
    f.write('{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[\n')
    written, i, n, cross, blocked, first = 0, 0, 0, 0, 0, True
    while written < target:
        texts, c, b = page(n, i)
        chunk = (",\n" if not first else "") + ",\n".join(texts)
        first = False
        f.write(chunk)
        written += len(chunk)
        i += len(texts)
        n += 1
        cross += c
        blocked += b
    f.write("\n]}}\n")
print("entries %d cross-origin %d blocked %d bytes %d" % (i, cross, blocked, written))
