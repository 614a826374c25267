#!/usr/bin/env bash
# `corsgate scan` over many loopback targets from one file: wall time and peak
# RSS (docs/scan.md, "1,000 targets, measured").
#
#   bash bench/scan/run.sh [TARGETS] [extra corsgate scan arguments...]
#
# Four nginx servers on 127.0.0.1:18911-18914 (reflect any origin with
# credentials; the exact origin; an unescaped-dot regex; `*`), TARGETS paths
# spread over them (default 1000), scanned with --origin https://app.example.com
# by the release build. Needs nginx (/usr/sbin/nginx) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000}"
shift || true
cargo build --release -p corsgate --quiet
bin="$PWD/target/release/corsgate"
dir="$(mktemp -d)"
trap 'kill "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/logs"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT1@|18911|; s|@PORT2@|18912|; s|@PORT3@|18913|; s|@PORT4@|18914|" \
  bench/scan/nginx.conf.in > "$dir/nginx.conf"
/usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir"
sleep 0.5
for ((i = 0; i < n; i++)); do
  echo "http://127.0.0.1:$((18911 + i % 4))/api/v1/items/$i"
done > "$dir/targets.txt"
code=0
/usr/bin/time -v -o "$dir/time.txt" "$bin" scan --targets "$dir/targets.txt" \
  --origin https://app.example.com --sarif "$dir/out.sarif" "$@" > "$dir/out.txt" || code=$?
tail -n 1 "$dir/out.txt"
echo "exit code $code (1 expected: half the servers leak)"
grep -E "Elapsed|Maximum resident" "$dir/time.txt"
