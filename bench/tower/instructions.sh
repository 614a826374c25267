#!/usr/bin/env bash
# Instructions per request of corsgate-tower, tower-http's CorsLayer, the
# floor (a layer that only appends the four headers) and no layer at all,
# counted by valgrind's callgrind: the same figure on every run of the same
# build, whatever else the machine is doing. Each count is the difference
# between two runs of N1 and N2 requests, so building the policy (10,000
# origins) and the process start cancel out.
#
#   bench/tower/instructions.sh                      # actual_allowed, every origin set
#   WORKLOADS="actual_allowed preflight_allowed" ORIGINS="1 pattern" bench/tower/instructions.sh
#   INNER=json bench/tower/instructions.sh           # the inner response has a Content-Type already
#   SHADOW=1 bench/tower/instructions.sh             # also corsgate with a shadow candidate (a copy
#                                                    # of the policy) and its ratio to corsgate alone
#   BIN=path/to/instructions bench/tower/instructions.sh  # a bench binary built already (another tree)
#
# Needs valgrind (Debian package). Prints a Markdown table.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
WORKLOADS="${WORKLOADS:-actual_allowed}"
ORIGINS="${ORIGINS:-1 100 10000 pattern}"
N1="${N1:-2000}" N2="${N2:-22000}" INNER="${INNER:-empty}"
bin="${BIN:-}"
[ -n "$bin" ] || bin=$(cargo bench -q -p corsgate-tower --bench instructions --manifest-path "$root/Cargo.toml" --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep instructions | tail -1)
[ -x "$bin" ] || { echo "could not build the instructions bench" >&2; exit 1; }
count() { # workload origins contender n
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$@" "$INNER" >/dev/null 2>&1
  awk '/^summary:|^totals:/ {print $2; exit}' "$out"; rm -f "$out"
}
per_request() { # workload origins contender
  local a b; a=$(count "$1" "$2" "$3" "$N1"); b=$(count "$1" "$2" "$3" "$N2")
  echo $(( (b - a) / (N2 - N1) ))
}
shadow_head="" shadow_rule=""
if [ -n "${SHADOW:-}" ]; then shadow_head=" corsgate + shadow (÷ corsgate) |"; shadow_rule="---:|"; fi
echo "| workload | origins | no layer | corsgate (overhead) | tower-http (overhead) | floor (overhead) |$shadow_head"
echo "|---|---|---:|---:|---:|---:|$shadow_rule"
for w in $WORKLOADS; do
  for o in $ORIGINS; do
    none=$(per_request "$w" "$o" none)
    ours=$(per_request "$w" "$o" corsgate)
    theirs=$(per_request "$w" "$o" tower-http)
    if [ "$w" = actual_allowed ]; then
      f=$(per_request "$w" "$o" floor)
      floor="$f (+$((f - none))); corsgate over it: overhead $(awk -v c="$((ours - none))" -v f="$((f - none))" 'BEGIN {printf "%+.1f %%", (c / f - 1) * 100}'), total $(awk -v c="$ours" -v f="$f" 'BEGIN {printf "%+.1f %%", (c / f - 1) * 100}')"
    else
      floor="—"
    fi
    shadow=""
    if [ -n "${SHADOW:-}" ]; then
      s=$(per_request "$w" "$o" corsgate-shadow)
      shadow=" $s ($(awk -v s="$s" -v c="$ours" 'BEGIN {printf "%.3f", s / c}')) |"
    fi
    echo "| $w | $o | $none | $ours (+$((ours - none))) | $theirs (+$((theirs - none))) | $floor |$shadow"
  done
done
echo
echo "instructions per request (callgrind, difference of $N1 and $N2 requests; inner response: $INNER)"
