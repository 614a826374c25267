#!/usr/bin/env bash
# Load benchmark, one run, side by side: corsgate with a policy, the same
# gateway with CORS off (the limit), and nginx as the equivalent CORS reverse
# proxy, all in front of the same nginx upstream, on loopback.
#
#   bench/gateway/run.sh            # 7 interleaved rounds of 5 s per target, 64 connections
#   DURATION=10s ROUNDS=3 CONNS=64 bench/gateway/run.sh
#
# Needs: wrk and nginx (Debian packages), cargo. Prints a Markdown table.
# Default ports (21401-21413) sit below the ephemeral range, so a client
# connection in TIME_WAIT cannot block the listeners.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
DURATION="${DURATION:-5s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
UP="${UP_PORT:-21401}" GW="${GW_PORT:-21402}" NGX="${NGX_PORT:-21403}"
work="$(mktemp -d /tmp/corsgate-bench.XXXXXX)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p corsgate-gateway --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/corsgate-gateway"

render() { sed -e "s|@DIR@|$work|g" -e "s|@UP@|$UP|g" -e "s|@GW@|$GW|g" -e "s|@NGX@|$NGX|g" -e "s|@CORS@|$2|g" "$1"; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/upstream.pid" ] && kill "$(cat "$work/upstream.pid")" 2>/dev/null || true
  [ -f "$work/proxy.pid" ] && kill "$(cat "$work/proxy.pid")" 2>/dev/null || true
  true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
tree_hwm_kib() { # a process and its children
  local t; t=$(hwm_kib "$1"); for c in $(pgrep -P "$1" || true); do t=$((t + $(hwm_kib "$c"))); done; echo "$t"; }

render "$here/nginx-upstream.conf.in" "" > "$work/upstream.conf"
nginx -p "$work" -c "$work/upstream.conf" -g 'daemon on;' 2>/dev/null
wait_port "$UP"
up_pid=$(cat "$work/upstream.pid")

# CPU ticks (user + system) of a process and its children: a cost per
# request that load from other processes on the machine barely moves.
cpu_ticks() { local t; t=$(awk '{print $14+$15}' "/proc/$1/stat"); for c in $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat"))); done; echo "$t"; }
measure() { # name url pid [lua]
  local out c0 c1 u0 u1 w
  c0=$(cpu_ticks "$3"); u0=$(cpu_ticks "$up_pid")
  # wrk's own CPU time (user + system) from bash's `times`
  # in a subshell that runs only wrk.
  if [ -n "${4:-}" ]; then
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$4" "$2"; times)
  else
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Origin: https://app.example.com' "$2"; times)
  fi
  c1=$(cpu_ticks "$3"); u1=$(cpu_ticks "$up_pid")
  local rps p99 errs n us
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  us=$(awk -v t="$((c1 - c0))" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  ups=$(awk -v t="$((u1 - u0))" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  # The last line of `times`: the children's user and system time (NmN.NNNs).
  w=$(tail -1 <<<"$out" | awk -v n="$n" '{s=0; for (i=1;i<=2;i++) {split($i,a,"m"); sub("s","",a[2]); s+=a[1]*60+a[2]}; printf "%.1f", s*1e6/n}')
  errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
  echo "$1|$rps|$p99|${errs:-none}|$us|$ups|$w"
}

# Start everything once; then measure in interleaved rounds so that load
# from other processes on the machine falls on every target alike.
start_gateway() { # port cors-line
  local f="$work/gw-$1.toml"
  render "$here/corsgate.toml.in" "$2" | sed "s|127.0.0.1:$GW\"|127.0.0.1:$1\"|" > "$f"
  if [ -n "$2" ]; then sed -i '/^\[routes.policy\]/,$d' "$f"; fi
  "$bin" serve --config "$f" 2>"$work/gw-$1.log" & pids+=("$!")
  wait_port "$1"
}
GW_OFF=$((GW + 10))
start_gateway "$GW" ""; gw_pid=${pids[-1]}
start_gateway "$GW_OFF" "cors = false"; off_pid=${pids[-1]}
render "$here/nginx-proxy.conf.in" "" > "$work/proxy.conf"
nginx -p "$work" -c "$work/proxy.conf" -g 'daemon on;' 2>/dev/null
wait_port "$NGX"
npid=$(cat "$work/proxy.pid")
for p in "$GW" "$GW_OFF" "$NGX"; do
  wrk -t1 -c8 -d1s -H 'Origin: https://app.example.com' "http://127.0.0.1:$p/api/items" >/dev/null
done

ROUNDS="${ROUNDS:-7}"
: > "$work/raw"
targets=(
  "corsgate (policy), actual GET|http://127.0.0.1:$GW/api/items|$gw_pid|"
  "corsgate (CORS off), actual GET|http://127.0.0.1:$GW_OFF/api/items|$off_pid|"
  "nginx, actual GET|http://127.0.0.1:$NGX/api/items|$npid|"
  "corsgate (policy), preflight|http://127.0.0.1:$GW/api/items|$gw_pid|$here/preflight.lua"
  "nginx, preflight|http://127.0.0.1:$NGX/api/items|$npid|$here/preflight.lua"
)
for r in $(seq "$ROUNDS"); do
  # Each round starts at a different target, so none is always first.
  for i in $(seq 0 $((${#targets[@]} - 1))); do
    IFS='|' read -r name url pid lua <<<"${targets[$(( (i + r - 1) % ${#targets[@]} ))]}"
    measure "$name" "$url" "$pid" "$lua" >> "$work/raw"
  done
done
rss_gw=$(hwm_kib "$gw_pid"); rss_off=$(hwm_kib "$off_pid"); rss_ngx=$(tree_hwm_kib "$npid")

echo
echo "Every round (raw):"
cat "$work/raw"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS interleaved rounds (medians), $(nproc) cores,"
echo "upstream: nginx (1 worker) returning a small JSON body; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| target | requests/s (median) | p99 latency (median) | proxy CPU per request (median) | upstream CPU | wrk CPU | peak RSS (KiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for n in "corsgate (policy), actual GET" "corsgate (CORS off), actual GET" "nginx, actual GET" "corsgate (policy), preflight" "nginx, preflight"; do
  rps=$(grep -F "$n|" "$work/raw" | cut -d'|' -f2 | median)
  p99=$(grep -F "$n|" "$work/raw" | cut -d'|' -f3 | while read -r v; do to_ms "$v"; echo; done | median)
  cpu=$(grep -F "$n|" "$work/raw" | cut -d'|' -f5 | median)
  ucpu=$(grep -F "$n|" "$work/raw" | cut -d'|' -f6 | median)
  wcpu=$(grep -F "$n|" "$work/raw" | cut -d'|' -f7 | median)
  case "$n" in corsgate\ \(policy*) rss=$rss_gw;; corsgate\ \(CORS*) rss=$rss_off;; *) rss="$rss_ngx (all processes)";; esac
  echo "| $n | $rps | ${p99} ms | ${cpu} µs | ${ucpu} µs | ${wcpu} µs | $rss |"
done
errs=$(cut -d'|' -f4 "$work/raw" | grep -v '^none$' || true)
echo
echo "wrk errors: ${errs:-none}"
