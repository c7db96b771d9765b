#!/usr/bin/env bash
# Runs the image that scripts/build-image.sh built (its OCI archive, loaded into a podman store of its own) the way the
# chart runs it: as uid 10001 with a read-only root file system (a tmpfs on /tmp only), all capabilities dropped, no
# privilege escalation, on the host's network, against the broker and PostgreSQL in FERRIS_BROKERS and
# FERRIS_DATABASE_URL (scripts/test.sh starts them). Checks the image's reference, user, labels and annotations against
# the chart (and the README's reference to it); `--version`; that the root file system cannot be written; that `ldd`
# inside the image finds every library; `validate` on the standard's examples (and a broken event refused); `demo`
# exact against the broker and PostgreSQL, which must have no demo topics and tables yet. Reports the image's size.
# Exits non-zero on the first difference.
#
#   scripts/check-image.sh ARCHIVE
set -euo pipefail
cd "$(dirname "$0")/.."

archive=${1:?usage: $0 ARCHIVE (made by scripts/build-image.sh)}
say() { printf 'check-image: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
[ -f "$archive" ] || fail "no archive $archive: run scripts/build-image.sh"
: "${FERRIS_BROKERS:?set FERRIS_BROKERS (the test broker)}" "${FERRIS_DATABASE_URL:?set FERRIS_DATABASE_URL (the test PostgreSQL)}"
command -v podman >/dev/null || fail "podman not found: run scripts/setup.sh"

state=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-image-check.XXXXXX")
# runc, not crun: crun refuses hosts whose cgroups are half v1, half v2 ("hybrid mode").
podman() {
  command podman --root "$state/storage" --runroot "$state/run" --storage-driver vfs --runtime runc \
    --cgroup-manager cgroupfs --events-backend none "$@"
}
trap 'podman rmi --all --force >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

# What the chart deploys by default, and what the image must say it is.
chart_value() { sed -n "s/^$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" helm/ferris-usage/Chart.yaml; }
version=$(chart_value appVersion)
source_url=$(chart_value home)
repository=$(sed -n '/^image:/,/^[^ ]/s/^  repository: *\([^ ]*\).*/\1/p' helm/ferris-usage/values.yaml)
image="$repository:$version"

# The README's "Deploy to Kubernetes" and the Dockerfile's build commands name that image, and no other tag of it.
named=$({ sed -n '/^## Deploy to Kubernetes/,/^## /p' README.md; cat Dockerfile; } \
  | grep -oE "${repository//./\\.}:[A-Za-z0-9._-]+" | sort -u | tr '\n' ' ')
[ "$named" = "$image " ] || fail "README.md (Deploy to Kubernetes) and the Dockerfile name '$named', not only $image (the chart's)"
say "ok: README.md and the Dockerfile name $image"

podman load --quiet --input "$archive" >/dev/null || fail "podman cannot load $archive"
podman image exists "$image" || fail "$archive holds no image $image (the chart's default): $(podman images --format '{{.Repository}}:{{.Tag}}')"

expect() { # NAME WANT GOT
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
  say "ok: $1 = $3"
}
inspect() { podman image inspect --format "$1" "$image"; }
expect "image user" "10001:10001" "$(inspect '{{.Config.User}}')"
revision=$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')
[[ "$revision" =~ ^[0-9a-f]{40}$ ]] || fail "label org.opencontainers.image.revision is '$revision', not a commit"
manifest=$(skopeo inspect --raw "oci-archive:$archive")
for name in version source revision; do
  case $name in version) want=$version ;; source) want=$source_url ;; revision) want=$revision ;; esac
  expect "label org.opencontainers.image.$name" "$want" "$(inspect "{{index .Labels \"org.opencontainers.image.$name\"}}")"
  got=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("annotations", {}).get(sys.argv[2], ""))' \
    "$manifest" "org.opencontainers.image.$name")
  expect "annotation org.opencontainers.image.$name" "$want" "$got"
done

# As the chart runs it (helm/ferris-usage/templates/*deployment.yaml: securityContext, the /tmp emptyDir).
# Explicit limits: podman's defaults are above what a host without CAP_SYS_RESOURCE (a sandbox) may grant.
run() {
  podman run --rm --network host --read-only --read-only-tmpfs=false --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$@"
}

# Each run copies the image's root file system (podman's vfs driver, which works on any host): few runs.
expect "ferris-usage --version" "$version" "$(run "$image" --version)"
# Who the process is, that it can write /tmp (the chart's emptyDir), which libraries it loads.
inside=$(run --entrypoint sh "$image" -c 'id && touch /tmp/x && ldd /usr/local/bin/ferris-usage') \
  || fail "id, writing /tmp or ldd failed inside the image: $inside"
expect "id" "uid=10001(ferris) gid=10001(ferris) groups=10001(ferris)" "$(head -1 <<<"$inside")"
libraries=$(tail -n +2 <<<"$inside")
if grep -q 'not found' <<<"$libraries"; then fail "libraries missing in the image:"$'\n'"$(grep 'not found' <<<"$libraries")"; fi
grep -q 'librdkafka.so.1 => /usr/local/lib/librdkafka.so.1' <<<"$libraries" \
  || fail "librdkafka is not the one built by setup.sh:"$'\n'"$libraries"
say "ok: /tmp writable; ldd finds all $(grep -c '=>' <<<"$libraries") libraries: $(awk '/=>/ {print $1}' <<<"$libraries" | tr '\n' ' ')"
# Even root (who owns /usr/local/bin) cannot write the root file system.
if found=$(run --user 0 --entrypoint sh "$image" -c 'touch /usr/local/bin/x' 2>&1); then fail "the root file system is writable"; fi
[[ "$found" == *"Read-only file system"* ]] || fail "writing the root file system failed, but not for being read-only: $found"
say "ok: the root file system is read-only"

# The standard's examples are valid events (their times are fixed, hence the wide age limit).
examples=(docs/examples/*.events.jsonl)
found=$(cat "${examples[@]}" | run --interactive "$image" validate --max-age-days 36500) || fail "validate: $found"
[ -z "$found" ] || fail "validate printed: $found"
say "ok: validate: the $(cat "${examples[@]}" | wc -l) events of ${examples[*]} are valid"
broken='{"specversion":"1.0","id":"x","source":"/x","type":"net.ferrislabs.usage.v1","time":"not a time"}'
if found=$(run --interactive "$image" validate <<<"$broken"); then fail "validate accepted a broken event"; fi
[[ "$found" == "line 1: "* ]] || fail "validate refused a broken event without saying why: '$found'"
say "ok: validate refuses a broken event: ${found%%$'\n'*}"

# The demo, exact against the test broker and PostgreSQL.
log="$state/demo.log"
began=$SECONDS
run "$image" demo --brokers "$FERRIS_BROKERS" --database-url "$FERRIS_DATABASE_URL" >"$state/demo.out" 2>"$log" \
  || fail "demo failed:"$'\n'"$(tail -30 "$log")"
grep -Eq '^check Kafka topic .*: all [0-9]+ hourly totals equal the expected totals$' "$log" \
  && grep -Eq '^check PostgreSQL .*: all [0-9]+ hourly totals equal the expected totals$' "$log" \
  || fail "demo did not confirm every total:"$'\n'"$(tail -30 "$log")"
say "ok: demo in $((SECONDS - began)) s: $(grep -E '^check ' "$log" | tr '\n' ' ')"

size=$(inspect '{{.Size}}')
say "image $image: $((size / 1000000)) MB unpacked, archive $(du -m "$archive" | cut -f1) MB"
echo "image checks passed"
