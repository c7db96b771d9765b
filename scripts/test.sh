#!/usr/bin/env bash
# Runs every test: installs what is missing, checks the contract in docs/ (schemas, examples, AsyncAPI), builds, starts a
# Kafka-protocol broker (Tansu), a throwaway PostgreSQL, an S3-compatible store (SeaweedFS) and a Prometheus with two
# exporters (scripts/prometheus.sh) on free loopback ports, runs `swift test` against them (the usage API's tests also
# drive headless Chromium and schemathesis), and stops them all at the end. A full run (no arguments) also builds the
# container image (scripts/build-image.sh) and runs it against a broker and PostgreSQL of its own
# (scripts/check-image.sh: its demo wants topics and tables no test has used).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
python3 scripts/check-contract.py
python3 scripts/architecture.py --check
state=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-test.XXXXXX")
image_services=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-image-check.XXXXXX")
stop() {
  scripts/seaweedfs.sh stop "$state/s3" >/dev/null 2>&1 || true
  scripts/prometheus.sh stop "$state/prometheus" >/dev/null 2>&1 || true
  .build/debug/ferris-usage services stop --dir "$image_services" >/dev/null 2>&1 || true
  .build/debug/ferris-usage services stop --dir "$state" >/dev/null 2>&1 || true
  rm -rf "$state" "$image_services"
}
trap stop EXIT
swift build --build-tests
TOOLS_DIR=${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}
FERRIS_USAGE=.build/debug/ferris-usage "$TOOLS_DIR/venv/bin/python" scripts/check-chart.py
if [ $# -eq 0 ]; then
  # The benchmark harnesses in smoke mode only: they must build and run; their figures live in benchmarks/README.md.
  .build/debug/pipeline-throughput 2000 binary
  .build/debug/pipeline-throughput 2000 binary memory
  benchmarks/end-to-end.sh --smoke
  benchmarks/api-load.sh --smoke
fi
eval "$(.build/debug/ferris-usage services start --dir "$state")"
eval "$(scripts/seaweedfs.sh start "$state/s3")"
eval "$(scripts/prometheus.sh start "$state/prometheus")"
# The FOCUS export tests read their files back with DuckDB from this Python; the cost test leaves its last files here.
export FERRIS_TEST_PYTHON="$TOOLS_DIR/venv/bin/python"
export FERRIS_TEST_FOCUS_DIR="$state/focus"
echo "test services: broker $FERRIS_BROKERS, database $FERRIS_DATABASE_URL, S3 $FERRIS_S3_ENDPOINT, Prometheus $FERRIS_PROMETHEUS_URL" >&2

swift test "$@"

# The FinOps Foundation's validator (FOCUS 1.2 rules) on the files the export cost test left, with what the export
# claims (docs/focus-conformance.md); it fails on any failed MUST rule. A run that skipped that test has no files.
if [ -d "$FERRIS_TEST_FOCUS_DIR" ]; then
  scripts/focus-validate.sh --applicability-criteria USAGE_MEASUREMENT_SUPPORTED,SUB_ACCOUNT_SUPPORTED,BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED,RESOURCE_TYPE_ASSIGNMENT_SUPPORTED,UNIT_PRICING_SUPPORTED,NEGOTIATED_PRICING_SUPPORTED \
    "$FERRIS_TEST_FOCUS_DIR"
elif [ $# -eq 0 ]; then
  echo "the export cost test left no FOCUS files in $FERRIS_TEST_FOCUS_DIR to validate" >&2
  exit 1
fi

if [ $# -eq 0 ]; then
  # After the tests, not beside them: they run on the same two cores, and their exactness and stop tests are what
  # CI is for; built beside them at the lowest priority the run is about 8 minutes shorter (not measured since the
  # consumer-close deadlock that such load exposed was fixed).
  began=$SECONDS
  image_archive=$(scripts/build-image.sh)
  echo "container image: built in $((SECONDS - began)) s" >&2
  began=$SECONDS
  (
    eval "$(.build/debug/ferris-usage services start --dir "$image_services")"
    scripts/check-image.sh "$image_archive"
  )
  echo "container image: checked in $((SECONDS - began)) s" >&2
fi
