#!/usr/bin/env bash
# Checks exported FOCUS files with the FinOps Foundation's own validator (PyPI focus-validator, which bundles the
# FOCUS 1.2 rules as rules/model-1.2.0.1.json) run offline (--block-download), and fails if any MUST rule fails.
#
#   scripts/focus-validate.sh [--applicability-criteria LIST] FILE_OR_DIR...
#
# --applicability-criteria: the validator's own option, a comma-separated list of what the provider supports (e.g.
# USAGE_MEASUREMENT_SUPPORTED,SUB_ACCOUNT_SUPPORTED); rules behind a criterion not listed are skipped (default: none,
# as the validator's). docs/focus-conformance.md says which ones ferris-usage's export claims.
# FILE: a part file as exported (part-*.csv.gz), a .csv or a .parquet; DIR: every such file below it. Prints per file
# one summary line (`FILE: Total: N | Pass: N | Fail: N (MUST: N) | Skipped: N`), then each failed rule with its
# level (the rule's ValidationCriteria.Keyword in the bundled model), what the rule requires and the validator's
# message. Exit status: 0 when no MUST rule failed, 1 when one did, 2 when a file could not be validated (this wins).
# A failed rule is a MUST failure when its keyword is MUST or MUST NOT (RFC 2119's absolute requirements);
# SHOULD, SHOULD NOT, RECOMMENDED and MAY failures are listed but do not fail the run. The validator's own exit status
# is 0 even when rules fail, so its JUnit XML report (--output-type unittest) is read instead: a rule is failed when
# its test case has a <failure> or an <error> (both are FAIL in the validator's console output), skipped when it has
# <skipped> (not applicable to this dataset, or not implemented by the validator).
#
# Installation (idempotent; a second run only checks a stamp and a file hash): a virtualenv of its own,
# $FERRIS_USAGE_TOOLS/focus-validator-venv, next to scripts/setup.sh's venv, because the validator pins duckdb < 2 and
# numpy < 2 while that venv holds duckdb 2.0.1 for the export tests; every package is pinned exactly, pyarrow to
# 21.0.0, which works with the numpy 1.26 the validator pins (the newest pyarrow, 26, refuses to import with it).
# focus-validator 2.2.1 is published as a source distribution only and declares Python >= 3.12 because one line
# (focus_validator/config_objects/focus_to_duckdb_converter.py, in the key-prefix check) writes a backslash inside
# an f-string expression, which Python 3.12 allows and Python 3.11 (Debian 12's) does not. No Python 3.12 interpreter
# can be installed from Debian 12 or PyPI (PyPI's installers download one from elsewhere), so this script downloads
# the sdist, checks its SHA-256, checks the file's SHA-256, rewrites that one expression with str.format (the same
# string: "'{}'".format(k.replace('"', '""')) is what f"'{k.replace('\"', '\"\"')}'" means in 3.12), checks the
# result's SHA-256, byte-compiles the whole package under this Python, and installs it with --ignore-requires-python.
# Any other version of the package, or any change to that file, stops the install with an error instead of guessing.
# The validator opens focus_validator/rules/currency_codes.csv relative to the working directory, so it runs from its
# site-packages folder.
set -euo pipefail

VALIDATOR_VERSION=2.2.1
SDIST_SHA256=0b9560ec8b7e36b5cf0c9685bb7ed2fa6f0e734cb8a14eb176a2bff5369cabcb
CONVERTER=focus_validator/config_objects/focus_to_duckdb_converter.py
CONVERTER_SHA256=85af5be4a64879a77a6ef892baf0964423120d73b6d249e1a554016083945f0c
CONVERTER_FIXED_SHA256=5dafc97c7ea793b0d96b70f008947a5c38434921343bed32badacb9a9cc3c587
RULES_VERSION=1.2.0.1
# The validator's dependencies as pip resolves them for 2.2.1, pinned (pyarrow held at 21.0.0, see above), and the
# build backend its sdist names (poetry-core; its build script imports PyYAML).
PINS=(annotated-types==0.8.0 attrs==26.1.0 certifi==2026.10.19.post1 charset-normalizer==3.5.3 ddt==1.7.2
  duckdb==1.5.6 graphviz==0.21 idna==3.21 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 multimethod==2.0.2
  mypy-extensions==1.2.0 numpy==1.26.4 packaging==26.4 pandas==2.3.3 pandasql==0.7.3 pandera==0.26.1 polars==1.44.2
  polars-runtime-32==1.44.2 pyarrow==21.0.0 pydantic==2.14.4 pydantic-core==2.50.5 python-dateutil==4.0.0
  pytz==2025.2 PyYAML==6.0.4 referencing==0.37.0 requests==2.34.2 rpds-py==2026.9.1 SQLAlchemy==2.1.9
  sqlglot==27.29.0 tabulate==0.10.0 typeguard==4.6.1 typing-inspect==0.9.0 typing-inspection==0.4.5
  typing_extensions==4.16.0 tzdata==2026.6 urllib3==2.8.0 poetry-core==2.2.1)

TOOLS_DIR=${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}
VENV=$TOOLS_DIR/focus-validator-venv
STAMP="focus-validator==$VALIDATOR_VERSION $CONVERTER_FIXED_SHA256 ${PINS[*]}"

say() { printf 'focus-validate: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

usage() { echo "usage: $0 [--applicability-criteria LIST] FILE_OR_DIR... (FOCUS part files: .csv.gz, .csv or .parquet)" >&2; exit 2; }
criteria=()
if [ "${1:-}" = "--applicability-criteria" ]; then
  [ -n "${2:-}" ] || usage
  criteria=(--applicability-criteria "$2")
  shift 2
fi
[ $# -gt 0 ] || usage

sha256() { sha256sum "$1" | awk '{print $1}'; }

# The folder holding the installed focus_validator package (without importing it), or nothing.
site_dir() {
  "$VENV/bin/python" -c 'import importlib.util, os
spec = importlib.util.find_spec("focus_validator")
print(os.path.dirname(os.path.dirname(spec.origin)) if spec else "")' 2>/dev/null || true
}

# The fixed validator is in place (its file hashes as fixed).
fixed_in_place() {
  [ -x "$VENV/bin/focus-validator" ] || return 1
  local site
  site=$(site_dir)
  [ -n "$site" ] && [ -f "$site/$CONVERTER" ] && [ "$(sha256 "$site/$CONVERTER")" = "$CONVERTER_FIXED_SHA256" ]
}

# Installed by this version of the script: the stamp names the same pins, and the fixed file is in place.
installed() {
  [ "$(cat "$VENV/.ferris-usage-stamp" 2>/dev/null)" = "$STAMP" ] && fixed_in_place
}

install() {
  say "installing focus-validator $VALIDATOR_VERSION into $VENV"
  rm -f "$VENV/.ferris-usage-stamp"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (is python3-venv installed?)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" || die "pip could not install ${PINS[*]}"

  local work=$tmp/install src
  mkdir -p "$work"
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary focus-validator \
    --no-build-isolation --ignore-requires-python \
    -d "$work" "focus-validator==$VALIDATOR_VERSION" || die "pip could not download focus-validator==$VALIDATOR_VERSION"
  local sdist="$work/focus_validator-$VALIDATOR_VERSION.tar.gz"
  [ -f "$sdist" ] || die "pip did not fetch $(basename "$sdist") (got: $(ls "$work"))"
  [ "$(sha256 "$sdist")" = "$SDIST_SHA256" ] \
    || die "focus-validator $VALIDATOR_VERSION's sdist is not the one this script was written for (SHA-256 differs)"
  tar -xzf "$sdist" -C "$work"
  src=$work/focus_validator-$VALIDATOR_VERSION

  # The one Python 3.12-only expression, rewritten to the same value in 3.11 syntax, on the exact file it was made for.
  python3 - "$src/$CONVERTER" "$CONVERTER_SHA256" "$CONVERTER_FIXED_SHA256" <<'PY' || die "could not apply the Python 3.11 fix"
import hashlib, sys
path, before, after = sys.argv[1:4]
data = open(path, "rb").read()
if hashlib.sha256(data).hexdigest() != before:
    sys.exit(f"{path}: SHA-256 is not {before}: the file changed, re-check the fix before updating the hashes")
old = b"""+ ", ".join(f"'{k.replace('\\"', '\\"\\"')}'" for k in ignore_keys)"""
new = b"""+ ", ".join("'{}'".format(k.replace('"', '""')) for k in ignore_keys)"""
if data.count(old) != 1:
    sys.exit(f"{path}: the expression to rewrite occurs {data.count(old)} times, not once")
data = data.replace(old, new)
if hashlib.sha256(data).hexdigest() != after:
    sys.exit(f"{path}: SHA-256 after the fix is not {after}")
open(path, "wb").write(data)
PY
  "$VENV/bin/python" -m compileall -q "$src/focus_validator" >/dev/null \
    || die "focus-validator $VALIDATOR_VERSION has more Python 3.12-only syntax than the one line this script fixes"

  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation --ignore-requires-python \
    "$src" || die "pip could not install the fixed focus-validator"
  "$VENV/bin/pip" check --disable-pip-version-check >/dev/null \
    || die "the validator's dependencies do not match its requirements: $("$VENV/bin/pip" check 2>&1 | tr '\n' ' ')"
  fixed_in_place || die "focus-validator installed, but its files are not the expected ones"
  printf '%s' "$STAMP" > "$VENV/.ferris-usage-stamp"
  say "focus-validator $VALIDATOR_VERSION installed"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
installed || install
SITE=$(site_dir)
MODEL=$SITE/focus_validator/rules/model-$RULES_VERSION.json
[ -f "$MODEL" ] || die "the validator has no bundled rules $MODEL"

# The files to check, with absolute paths (the validator runs from its own folder).
files=()
for arg in "$@"; do
  if [ -d "$arg" ]; then
    while IFS= read -r -d '' f; do files+=("$f"); done \
      < <(find "$(cd "$arg" && pwd)" -type f \( -name '*.csv.gz' -o -name '*.csv' -o -name '*.parquet' \) -print0 | sort -z)
  elif [ -f "$arg" ]; then
    files+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")")
  else
    die "no such file or folder: $arg"
  fi
done
[ ${#files[@]} -gt 0 ] || die "no .csv.gz, .csv or .parquet file in: $*"

# Its log to its standard error (kept for a failed run), not to a file in its own folder as its default setup does.
printf '%s\n' 'version: 1' 'disable_existing_loggers: false' \
  'formatters: {plain: {format: "%(asctime)s %(levelname).1s %(name)s: %(message)s"}}' \
  'handlers: {stderr: {class: logging.StreamHandler, stream: "ext://sys.stderr", formatter: plain, level: INFO}}' \
  'root: {level: INFO, handlers: [stderr]}' > "$tmp/logging.yaml"
status=0
for file in "${files[@]}"; do
  # The validator picks its reader by the name's ending and reads no gzip: a gzip CSV goes to a plain temporary copy.
  case "$file" in
    *.csv.gz) data=$tmp/data.csv; gzip -dc "$file" > "$data" || die "$file: not a readable gzip file" ;;
    *) data=$file ;;
  esac
  rm -f "$tmp/result.xml"
  if ! (cd "$SITE" && LOGGING_CONFIG=$tmp/logging.yaml "$VENV/bin/focus-validator" --data-file "$data" \
          --validate-version "$RULES_VERSION" --block-download ${criteria[@]+"${criteria[@]}"} \
          --output-type unittest --output-destination "$tmp/result.xml") > "$tmp/validator.log" 2>&1 \
     || [ ! -s "$tmp/result.xml" ]; then
    tail -n 30 "$tmp/validator.log" >&2
    say "error: $file: the validator did not finish (its log's last lines are above)"
    status=2
    continue
  fi
  rc=0
  "$VENV/bin/python" - "$file" "$tmp/result.xml" "$MODEL" <<'PY' || rc=$?
import json, re, sys
import xml.etree.ElementTree as ET

label, report, model_path = sys.argv[1:4]
rules = json.load(open(model_path, encoding="utf-8"))["ModelRules"]
root = ET.parse(report).getroot()
passed, failed, skipped = [], [], []
for case in root.iter("testcase"):
    rule_id = case.get("name", "").split(" :: ")[0].strip()
    problem = case.find("failure")
    if problem is None:
        problem = case.find("error")
    if problem is not None:
        failed.append((rule_id, problem.get("message") or (problem.text or "").strip()))
    elif case.find("skipped") is not None:
        skipped.append(rule_id)
    else:
        passed.append(rule_id)
total = len(passed) + len(failed) + len(skipped)
declared = int(root.get("tests", total))
if declared != total:
    sys.exit(f"{label}: the report declares {declared} rules but holds {total}")


def keyword(rule_id):
    return (rules.get(rule_id) or {}).get("ValidationCriteria", {}).get("Keyword", "?")


def brief(message):
    # The validator repeats each upstream rule of a dependency failure: list each once, and keep the line short.
    def once(match):
        seen = list(dict.fromkeys(part.strip() for part in match.group(1).split(",")))
        return "[Upstream dependency failed: " + ", ".join(seen) + "]"
    message = re.sub(r"\[Upstream dependency failed: ([^\]]*)\]", once, " ".join(message.split()))
    return message if len(message) <= 240 else message[:237] + "..."


# Known defects of the validator 2.2.1 (fixed here, never passed in): a rule it evaluates on every row although the
# model only means it under a condition it does not encode. InvoiceId-C-004-C (MUST be null when not invoiced) and
# InvoiceId-C-005-C (MUST NOT be null when invoiced) carry no Condition in the model, so one of them fails whatever
# the column holds; their parent InvoiceId-C-003-C is the OR of the two and is what the specification requires. A
# defect's failure is accepted only when its parent rule passed on the same file; it is still printed.
DEFECTS = {"InvoiceId-C-005-C": "InvoiceId-C-003-C"}
accepted = [(r, m) for r, m in failed if DEFECTS.get(r) in passed]
# Unknown rules (not in the model) count as MUST: a failure is never waved through for lack of a level.
must = [(r, m) for r, m in failed if keyword(r) in ("MUST", "MUST NOT", "?") and (r, m) not in accepted]
print(f"{label}: Total: {total} | Pass: {len(passed)} | Fail: {len(failed)} (MUST: {len(must)}, validator defects accepted: {len(accepted)}) | Skipped: {len(skipped)}")
for rule_id, message in sorted(failed, key=lambda f: (keyword(f[0]) not in ("MUST", "MUST NOT", "?"), f[0])):
    requirement = (rules.get(rule_id) or {}).get("ValidationCriteria", {}).get("MustSatisfy", "")
    note = f" (validator defect, accepted: {DEFECTS[rule_id]} passed)" if (rule_id, message) in accepted else ""
    print(f"  FAIL {keyword(rule_id):<11} {rule_id}: {requirement}{note}")
    print(f"       validator: {brief(message)}")
sys.exit(1 if must else 0)
PY
  case $rc in
    0) ;;
    1) [ $status -eq 2 ] || status=1 ;;
    *) status=2 ;;
  esac
done
exit $status
