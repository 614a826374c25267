#!/usr/bin/env bash
# Bounded soak: SOAK seconds (default 60) of mixed valid and denied CORS
# traffic (wrk, 32 connections) plus malformed and hostile requests and
# slowloris connections (hostile.py), against the release gateway in front of
# an nginx upstream. Samples the gateway's RSS every 5 s; fails if the gateway
# dies, if a request goes unanswered, or if RSS grows by more than 50%.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
SOAK="${SOAK:-60}"
UP="${UP_PORT:-38451}" GW="${GW_PORT:-38452}" ADMIN="${ADMIN_PORT:-38453}"
work="$(mktemp -d /tmp/corsgate-soak.XXXXXX)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p corsgate-gateway --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/corsgate-gateway"
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  [ -f "$work/upstream.pid" ] && kill "$(cat "$work/upstream.pid")" 2>/dev/null || true
  true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

sed -e "s|@DIR@|$work|g" -e "s|@UP@|$UP|g" "$here/nginx-upstream.conf.in" > "$work/upstream.conf"
nginx -p "$work" -c "$work/upstream.conf" -g 'daemon on;' 2>/dev/null
wait_port "$UP"
cat > "$work/gw.toml" <<TOML
listen = "127.0.0.1:$GW"
admin = "127.0.0.1:$ADMIN"
upstream = "http://127.0.0.1:$UP"
log_format = "json"
reload_poll = "0s"
[timeouts]
header_read = "2s"
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
python3 "$here/hostile.py" "127.0.0.1:$GW" "$SOAK" > "$work/hostile.json" & hpid=$!
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
status=0
[ "$alive" = yes ] || { echo "FAIL: the gateway died"; status=1; }
[ "$unanswered" = 0 ] || { echo "FAIL: $unanswered hostile requests unanswered"; status=1; }
[ "$last" -le $((first * 3 / 2)) ] || { echo "FAIL: RSS grew from $first to $last KiB"; status=1; }
[ "$status" = 0 ] && echo "soak OK"
exit "$status"
