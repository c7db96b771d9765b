#!/usr/bin/env bash
# The embedded default: installs what is missing, builds, and runs `ferris-usage demo`, which starts a local
# broker and PostgreSQL, accounts a simulated day of the three seed scenarios, prints the usage table and checks
# every total against the simulator's expected totals (non-zero exit on any mismatch).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --product ferris-usage
exec .build/debug/ferris-usage demo "$@"
