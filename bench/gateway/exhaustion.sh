#!/usr/bin/env bash
# Slow and stalling peers, side by side: corsgate and nginx as reverse
# proxies with the same timeouts (1 s for the header read, the client's
# body, the send to the client, the upstream's answer and each upstream
# read), each in front of
# the upstream that exhaustion.py runs. Prints a Markdown table.
#
#   bench/gateway/exhaustion.sh
#
# Needs: nginx (Debian package), python3, cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/corsgate-exhaustion.XXXXXX)"
chmod 755 "$work" # nginx's workers may run as another user
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q -p corsgate-gateway --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/debug/corsgate-gateway"
GW=21431 UP1=21432 NGX=21433 NGX2=21434 UP2=21435
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

cat > "$work/corsgate.toml" <<TOML
listen = "127.0.0.1:$GW"
upstream = "http://127.0.0.1:$UP1"
log_level = "warn"
[timeouts]
header_read = "1s"
client_body = "1s"
client_send = "1s"
upstream_response = "1s"
upstream_read = "1s"
idle = "60s"
[[routes]]
path = "/"
cors = false
TOML
"$bin" serve --config "$work/corsgate.toml" 2>"$work/corsgate.log" &
pids+=($!)

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    client_header_timeout 1s;
    client_body_timeout 1s;
    send_timeout 1s;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$NGX;
        listen 127.0.0.1:$NGX2 http2;
        location / {
            proxy_pass http://127.0.0.1:$UP2;
            proxy_http_version 1.1;
            proxy_read_timeout 1s;
            proxy_send_timeout 1s;
            # Stream as corsgate does: no spooling of responses to disk
            # (by default nginx reads up to 1 GB ahead into a temp file).
            proxy_max_temp_file_size 0;
        }
    }
}
CONF
/usr/sbin/nginx -p "$work" -c "$work/nginx.conf" -g 'daemon on;' 2>/dev/null
wait_port "$GW"; wait_port "$NGX"

echo "| proxy | scenario | outcome |"
echo "|---|---|---|"
python3 "$here/exhaustion.py" corsgate "$GW" "$GW" "$UP1"
python3 "$here/exhaustion.py" "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||')" "$NGX" "$NGX2" "$UP2"
