#!/usr/bin/env bash
# Starts or stops a local broker and PostgreSQL for development:
#   eval "$(scripts/services.sh start DIR)"   # prints export FERRIS_BROKERS=... FERRIS_DATABASE_URL=...
#   scripts/services.sh stop DIR
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] && { [ "$1" = start ] || [ "$1" = stop ]; } || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ -x .build/debug/ferris-usage ] || { scripts/setup.sh >&2 && swift build --product ferris-usage >&2; }
exec .build/debug/ferris-usage services "$1" --dir "$2"
