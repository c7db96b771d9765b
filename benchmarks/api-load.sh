#!/usr/bin/env bash
# Load figure of the usage API: wrk against GET /v1/usage on loopback (a tenant's hourly totals of the demo day per
# instance and component), each request with an RS256 bearer token checked against a JWKS this script serves, the
# demo day accounted by the real pipeline into a local PostgreSQL.
#
#   benchmarks/api-load.sh [SECONDS]   # release build, wrk for SECONDS (default 30), 2 threads, 16 connections
#   benchmarks/api-load.sh --smoke     # debug build, 2 s: proves the script runs (CI)
#
# Needs what scripts/setup.sh installs (wrk, and PyJWT in the tools' virtualenv for the token).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh

smoke=false
seconds=30
if [ "${1:-}" = "--smoke" ]; then smoke=true; seconds=2; elif [ -n "${1:-}" ]; then seconds=$1; fi
python="${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}/venv/bin/python"

if $smoke; then bench_build debug; else bench_build release; fi
bench_services
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; "$bin" services stop --dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

# The demo day (yesterday, the three seed scenarios) through the real pipeline into PostgreSQL.
"$bin" demo --brokers "$FERRIS_BROKERS" --database-url "$FERRIS_DATABASE_URL" >"$log" 2>&1 \
  || { tail -20 "$log"; exit 1; }
day=$(date -u -d yesterday +%F)
next=$(date -u +%F)

# A signing key, its JWKS (served over HTTP on loopback) and a token of tenant hybrid-corp.
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$state/realm"
issuer=https://keycloak.bench/realms/ferris
token=$("$python" - "$state/realm/certs" "$issuer" <<'PY'
import json, sys, time
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update(kid="bench", use="sig", alg="RS256")
with open(sys.argv[1], "w") as file:
    json.dump({"keys": [jwk]}, file)
now = int(time.time())
print(jwt.encode({"iss": sys.argv[2], "aud": "ferris-usage", "sub": "bench", "tenant": "hybrid-corp",
                  "iat": now, "exp": now + 3600}, key, algorithm="RS256", headers={"kid": "bench"}))
PY
)
realm_port=$(free_port)
"$python" -m http.server "$realm_port" --bind 127.0.0.1 --directory "$state/realm" >/dev/null 2>&1 &
pids+=($!)
api_port=$(free_port)
"$bin" api --port "$api_port" --host 127.0.0.1 --issuer "$issuer" --audience ferris-usage \
  --jwks-url "http://127.0.0.1:$realm_port/certs" --log-level warning >"$state/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

url="http://127.0.0.1:$api_port/v1/usage?tenant=hybrid-corp&from=${day}T00:00:00Z&to=${next}T00:00:00Z&window=hour&groupBy=instance,component&pageSize=10000"
rows=$(curl -fs -H "Authorization: Bearer $token" "$url" | "$python" -c 'import json, sys; print(len(json.load(sys.stdin)["rows"]))')
echo "query: $rows rows per response (tenant hybrid-corp, $day, hourly, per instance and component)"
wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$url" >"$state/wrk" 2>&1
requests=$(awk '/Requests\/sec/ { print $2 }' "$state/wrk")
p50=$(awk '$1 == "50%" { print $2 }' "$state/wrk")
p99=$(awk '$1 == "99%" { print $2 }' "$state/wrk")
errors=$(grep -E 'Non-2xx|Socket errors' "$state/wrk" || true)
echo "wrk ${seconds} s, 2 threads, 16 connections: $requests requests/s, p50 $p50, p99 $p99${errors:+; $errors}"
[ -z "$errors" ]
