#!/usr/bin/env bash
# User-space instructions per request of the gateway and of nginx with the
# equivalent CORS configuration (nginx-proxy.conf.in, one worker process),
# in front of the same nginx upstream, counted by valgrind's callgrind: the
# same figure on every run of the same builds, whatever else the machine is
# doing. Each count is the difference between runs of N1 and N2 keep-alive
# requests over 4 connections (client.py), so start-up and shutdown cancel
# out. Kernel time (the larger part of a proxied request on loopback) is
# not counted: run.sh measures CPU time.
#
#   bench/gateway/instructions.sh             # actual GET and preflight
#   N1=1000 N2=5000 bench/gateway/instructions.sh
#   SHADOW=1 bench/gateway/instructions.sh    # also the gateway with a shadow policy
#                                             # (the same policy as [routes.shadow])
#   DECLOG=1 bench/gateway/instructions.sh    # also the gateway with [decision_log] on
#                                             # (to a file in the work directory)
#   GATEWAY_BIN=/path/to/corsgate-gateway ...  # measure that build instead of this tree's
#
# Needs valgrind and nginx (Debian packages), python3, cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
N1="${N1:-2000}" N2="${N2:-6000}"
UP="${UP_PORT:-21421}" GW="${GW_PORT:-21422}" NGX="${NGX_PORT:-21423}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if [ -z "${GATEWAY_BIN:-}" ]; then
  cargo build -q --release -p corsgate-gateway --manifest-path "$root/Cargo.toml"
fi
bin="${GATEWAY_BIN:-$CARGO_TARGET_DIR/release/corsgate-gateway}"
work="$(mktemp -d /tmp/corsgate-instr.XXXXXX)"
render() { sed -e "s|@DIR@|$work|g" -e "s|@UP@|$UP|g" -e "s|@GW@|$GW|g" -e "s|@NGX@|$NGX|g" -e "s|@CORS@||g" "$1"; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
trap '[ -f "$work/upstream.pid" ] && kill "$(cat "$work/upstream.pid")" 2>/dev/null; true' EXIT
render "$here/nginx-upstream.conf.in" > "$work/upstream.conf"
nginx -p "$work" -c "$work/upstream.conf" -g 'daemon on;' 2>/dev/null
wait_port "$UP"
render "$here/corsgate.toml.in" > "$work/gw.toml"
# The same policy again as the route's shadow candidate: every request judged twice.
{ cat "$work/gw.toml"; echo; echo "[routes.shadow]"; sed -n '/^\[routes.policy\]/,$p' "$work/gw.toml" | tail -n +2; } > "$work/gw-shadow.toml"
# The decision log on, written to a file.
sed -e "0,/^\[\[routes\]\]/s||[decision_log]\npath = \"$work/decisions.jsonl\"\n\n[[routes]]|" "$work/gw.toml" > "$work/gw-declog.toml"
# One nginx process doing the work, so that callgrind counts all of it.
render "$here/nginx-proxy.conf.in" | sed -e 's/^worker_processes .*;/worker_processes 1; master_process off;/' > "$work/proxy.conf"

count() { # contender kind n -> total instructions
  local out="$work/$1-$2-$3.cg" pid port
  if [ "$1" = corsgate ] || [ "$1" = corsgate-shadow ] || [ "$1" = corsgate-declog ]; then
    local cfg="$work/gw.toml"; [ "$1" = corsgate-shadow ] && cfg="$work/gw-shadow.toml"
    [ "$1" = corsgate-declog ] && cfg="$work/gw-declog.toml"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve --config "$cfg" 2>/dev/null &
    pid=$!; port=$GW
  else
    valgrind --tool=callgrind --callgrind-out-file="$out" nginx -p "$work" -c "$work/proxy.conf" -g 'daemon off;' 2>/dev/null &
    pid=$!; port=$NGX
  fi
  wait_port "$port"
  python3 "$here/client.py" "$port" 40 4 "$2" # warm: every connection opened
  python3 "$here/client.py" "$port" "$3" 4 "$2"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  # callgrind writes one file per thread with --separate-threads=no: one total.
  awk '/^summary:|^totals:/ {print $2; exit}' "$out"
}
per_request() { local a b; a=$(count "$1" "$2" "$N1"); b=$(count "$1" "$2" "$N2"); echo $(( (b - a) / (N2 - N1) )); }

echo "user-space instructions per request (callgrind, difference of $N1 and $N2 requests over 4 keep-alive connections)"
echo
echo "| request | corsgate | nginx | corsgate ÷ nginx |"
echo "|---|---:|---:|---:|"
for kind in get preflight; do
  c=$(per_request corsgate "$kind"); n=$(per_request nginx "$kind")
  echo "| $kind | $c | $n | $(awk -v c="$c" -v n="$n" 'BEGIN {printf "%.2f", c / n}') |"
  if [ -n "${SHADOW:-}" ]; then
    s=$(per_request corsgate-shadow "$kind")
    echo "| $kind, with a shadow policy | $s | | shadow ÷ enforcement alone: $(awk -v s="$s" -v c="$c" 'BEGIN {printf "%.3f", s / c}') |"
  fi
  if [ -n "${DECLOG:-}" ]; then
    l=$(per_request corsgate-declog "$kind")
    echo "| $kind, with the decision log | $l | | log on ÷ log off: $(awk -v l="$l" -v c="$c" 'BEGIN {printf "%.3f", l / c}') |"
  fi
done
