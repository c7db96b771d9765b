#!/usr/bin/env bash
# A throwaway S3-compatible store (SeaweedFS, `weed server -s3`) on free loopback ports, for the FOCUS export's
# tests and local development. State lives in DIR; `start` prints the S3 address and credentials as shell exports.
#
#   scripts/seaweedfs.sh start DIR   # again in the same DIR after a stop: same ports, keys and data
#   scripts/seaweedfs.sh stop DIR
#
# The binary comes from scripts/setup.sh ($FERRIS_USAGE_TOOLS/bin/weed, or set FERRIS_WEED).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
TOOLS_DIR=${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}
WEED=${FERRIS_WEED:-$TOOLS_DIR/bin/weed}

stop() {
  [ -f "$dir/weed.pid" ] || return 0
  pid=$(cat "$dir/weed.pid")
  # Its volume server waits 10 s after SIGTERM, and it has been seen ignoring SIGTERM: 12 s, then SIGKILL.
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 12))
  while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/weed.pid"
}

start() {
  [ -x "$WEED" ] || { echo "SeaweedFS (weed) not found at $WEED: run scripts/setup.sh" >&2; exit 1; }
  mkdir -p "$dir/data"
  if [ ! -f "$dir/env" ]; then
    # Eight free ports: master, volume, filer and S3, each with its gRPC port.
    read -r -a ports < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(8)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))')
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
    cat > "$dir/identities.json" <<EOF
{"identities": [{"name": "ferris-test", "credentials": [{"accessKey": "ferris-test", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
    cat > "$dir/env" <<EOF
FERRIS_S3_PORTS="${ports[*]}"
FERRIS_S3_ENDPOINT=http://127.0.0.1:${ports[6]}
FERRIS_S3_REGION=us-east-1
FERRIS_S3_ACCESS_KEY_ID=ferris-test
FERRIS_S3_SECRET_ACCESS_KEY=$secret
EOF
  fi
  # shellcheck disable=SC1091
  . "$dir/env"
  read -r -a ports <<< "$FERRIS_S3_PORTS"
  stop
  # Volumes of at most 64 MB (not preallocated); SeaweedFS adds them several at a time per collection (each bucket is
  # one, its own metadata another), so 32 leave room for a few buckets.
  "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" \
    -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
    -filer -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
    -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$dir/identities.json" -volume.max=32 -master.volumeSizeLimitMB=64 \
    >> "$dir/weed.log" 2>&1 < /dev/null &
  echo $! > "$dir/weed.pid"
  # Ready when the S3 port answers its status page.
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if python3 -c "import urllib.request; urllib.request.urlopen('$FERRIS_S3_ENDPOINT/status', timeout=1)" 2>/dev/null; then
      printf 'export FERRIS_S3_ENDPOINT=%s FERRIS_S3_REGION=%s FERRIS_S3_ACCESS_KEY_ID=%s FERRIS_S3_SECRET_ACCESS_KEY=%s FERRIS_S3_DIR=%s\n' \
        "$FERRIS_S3_ENDPOINT" "$FERRIS_S3_REGION" "$FERRIS_S3_ACCESS_KEY_ID" "$FERRIS_S3_SECRET_ACCESS_KEY" "$dir"
      return 0
    fi
    kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || break
    sleep 0.2
  done
  echo "SeaweedFS did not start within 60 s; its log: $dir/weed.log" >&2
  tail -20 "$dir/weed.log" >&2
  stop
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
