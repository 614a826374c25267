#!/usr/bin/env bash
# Bounded soak: SOAK seconds (default 60) of mixed valid and denied CORS
# traffic (wrk, 32 connections) plus the attacks of hostile.py, against the
# release gateway in front of an nginx upstream that reflects any Origin with
# credentials and a raw upstream that breaks HTTP/1.1 framing
# (misbehave.py): malformed requests, path and Host confusions, keep-alive
# clients checking every answer is their own, a slow reader, an HTTP/2
# preface trickle and slowloris connections. Samples the gateway's RSS every
# 5 s; fails if the gateway dies or panics, if a request goes unanswered, if
# a disallowed origin can read an /api/ resource, if a client gets another's
# response, if the slow reader or the trickle is not cut, or if RSS grows by
# more than 50%.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
SOAK="${SOAK:-60}"
UP="${UP_PORT:-21451}" GW="${GW_PORT:-21452}" ADMIN="${ADMIN_PORT:-21453}" BAD="${BAD_PORT:-21454}"
work="$(mktemp -d /tmp/corsgate-soak.XXXXXX)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p corsgate-gateway --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/corsgate-gateway"
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  [ -f "$work/upstream.pid" ] && kill "$(cat "$work/upstream.pid")" 2>/dev/null || true
  [ -n "${bad_pid:-}" ] && kill "$bad_pid" 2>/dev/null || true
  true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

BIG=$((64 * 1024 * 1024))
head -c "$BIG" /dev/zero > "$work/big.bin"
chmod 755 "$work"; chmod 644 "$work/big.bin" # nginx's workers run as another user
sed -e "s|@DIR@|$work|g" -e "s|@UP@|$UP|g" "$here/nginx-soak-upstream.conf.in" > "$work/upstream.conf"
nginx -p "$work" -c "$work/upstream.conf" -g 'daemon on;' 2>/dev/null
wait_port "$UP"
python3 "$here/misbehave.py" "$BAD" & bad_pid=$!
wait_port "$BAD"
cat > "$work/gw.toml" <<TOML
listen = "127.0.0.1:$GW"
admin = "127.0.0.1:$ADMIN"
upstream = "http://127.0.0.1:$UP"
log_format = "json"
reload_poll = "0s"
[timeouts]
header_read = "2s"
client_send = "5s"
[[routes]]
path = "/healthz"
cors = false
[[routes]]
path = "/bad/"
upstream = "http://127.0.0.1:$BAD"
[routes.policy]
origins = ["https://app.example.com"]
credentials = true
[[routes]]
path = "/public/"
[routes.policy]
origins = ["*"]
[[routes]]
path = "/api/"
[routes.policy]
origins = ["https://app.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
credentials = true
TOML
"$bin" serve --config "$work/gw.toml" 2>"$work/gw.log" & gw_pid=$!
wait_port "$GW"
sleep 0.5
series="$(rss_kib "$gw_pid")"
python3 "$here/hostile.py" "127.0.0.1:$GW" "$SOAK" 15 "$BIG" > "$work/hostile.json" & hpid=$!
wrk -t2 -c32 -d"${SOAK}s" -s "$here/mixed.lua" "http://127.0.0.1:$GW/" > "$work/wrk.txt" & wpid=$!
for _ in $(seq $((SOAK / 5))); do sleep 5; series="$series $(rss_kib "$gw_pid")"; done
wait "$wpid"; wait "$hpid"
sleep 3 # slowloris connections closed, everything idle
series="$series $(rss_kib "$gw_pid")"

alive=yes; kill -0 "$gw_pid" 2>/dev/null || alive=no
health=$(curl -s "http://127.0.0.1:$ADMIN/healthz" || echo down)
echo "gateway alive after the soak: $alive, /healthz: $health"
echo "RSS (KiB) every 5 s: $series"
echo "wrk (mixed valid/denied CORS traffic):"
grep -E 'requests in|Requests/sec|Non-2xx|Socket errors|Latency ' "$work/wrk.txt" | sed 's/^/  /'
echo "hostile.py: $(cat "$work/hostile.json")"
echo "denied-request log lines: $(grep -c '"reason"' "$work/gw.log" || true)"
echo "panics in the log: $(grep -ci panick "$work/gw.log" || true)"
curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -E '^corsgate_(requests_total|preflights_total|responses_total|connections_open)' | sed 's/^/  /'

first=$(awk '{print $2}' <<<"$series"); last=$(awk '{print $NF}' <<<"$series")
unanswered=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unanswered"])' "$work/hostile.json")
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$work/hostile.json" "$1"; }
leaks=$(field 'd["leaks"]'); crossed=$(field 'd["cross_client"]["other"]'); own=$(field 'd["cross_client"]["own"]')
cut=$(field 'd["slow_reader"].get("cut_by_gateway")'); trickle=$(field 'd["h2_trickle"].get("closed_after_s")')
panics=$(grep -ci panick "$work/gw.log" || true)
echo "path/Host confusions read by a disallowed origin: $leaks; keep-alive answers: $own own, $crossed not the client's own"
echo "slow reader cut by the gateway: $cut; HTTP/2 preface trickle closed after: ${trickle}s"
status=0
[ "$leaks" = 0 ] || { echo "FAIL: $leaks confused paths leaked an /api/ resource"; status=1; }
[ "$crossed" = 0 ] || { echo "FAIL: $crossed answers were not the client's own"; status=1; }
[ "$own" -gt 0 ] || { echo "FAIL: no keep-alive answer through the misbehaving upstream"; status=1; }
[ "$cut" = True ] || { echo "FAIL: the slow reader was not cut"; status=1; }
[ "$trickle" != None ] || { echo "FAIL: the HTTP/2 preface trickle was not closed"; status=1; }
[ "$panics" = 0 ] || { echo "FAIL: $panics panics in the log"; status=1; }
[ "$alive" = yes ] || { echo "FAIL: the gateway died"; status=1; }
[ "$unanswered" = 0 ] || { echo "FAIL: $unanswered hostile requests unanswered"; status=1; }
[ "$last" -le $((first * 3 / 2)) ] || { echo "FAIL: RSS grew from $first to $last KiB"; status=1; }
[ "$status" = 0 ] && echo "soak OK"
exit "$status"
