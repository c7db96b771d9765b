#!/usr/bin/env bash
# Builds the image the chart deploys (ghcr.io/ferrislabs/ferris-usage:<appVersion>) from the Dockerfile, with no
# registry and no Docker engine: buildah builds the Dockerfile's runtime stage on a Debian 12 base made from Debian's
# packages with mmdebstrap, and takes the place of its build stage with the same build done here (the release binary
# with Swift's standard library linked in, and librdkafka's shared libraries as scripts/setup.sh builds them).
# The base and the runtime stage are cached for the week (then made anew, for Debian's security updates) and the
# dependencies' release build is kept, so a build costs the release build of this package's own modules and one
# commit. The result is an OCI archive; publish it with `skopeo copy oci-archive:FILE docker://REGISTRY/IMAGE:TAG`.
#
#   scripts/build-image.sh [--output FILE]   # default FILE: .build/image/ferris-usage-<version>.oci.tar, printed
#   scripts/build-image.sh --stage DIR       # only the binary and librdkafka into DIR (the Dockerfile's build stage)
#
# The image's labels and annotations carry the version, the source repository and the commit. Needs what
# scripts/setup.sh installs (buildah, mmdebstrap); buildah's storage and the release build directory live in
# $FERRIS_USAGE_TOOLS/image.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'build-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

output=""
stage_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output=${2:?--output needs a file}; shift ;;
    --stage) stage_only=${2:?--stage needs a directory}; shift ;;
    *) die "unknown argument '$1' (see the comment at the top of $0)" ;;
  esac
  shift
done

# The binary and librdkafka, laid out as the Dockerfile's runtime stage copies them: DIR/ferris-usage, DIR/lib/.
# Only the ferris-usage product, in release, in the build directory SCRATCH. Its debug information (a third of its
# size) is stripped; the symbols stay, so that a crash's backtrace still names the functions.
stage() {
  local dir=$1 scratch=$2
  export PKG_CONFIG_PATH=/usr/local/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  swift build -c release --product ferris-usage --static-swift-stdlib --scratch-path "$scratch" >&2
  mkdir -p "$dir/lib"
  cp "$(swift build -c release --scratch-path "$scratch" --show-bin-path)/ferris-usage" "$dir/ferris-usage"
  strip --strip-debug "$dir/ferris-usage"
  local libdir
  libdir=$(pkg-config --variable=libdir rdkafka) || die "pkg-config finds no librdkafka: run scripts/setup.sh"
  cp -P "$libdir"/librdkafka.so* "$dir/lib/"
}

if [ -n "$stage_only" ]; then
  stage "$stage_only" .build
  exit 0
fi

TOOLS_DIR=${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}
for tool in buildah mmdebstrap git strip; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh"
done
store="$TOOLS_DIR/image"
mkdir -p "$store"
buildah() { command buildah --root "$store/storage" --runroot "$store/run" --storage-driver vfs "$@"; }
# Keeps the image TAG of REPOSITORY and removes its other tags (last week's base and runtime).
keep_only() {
  local name
  for name in $(buildah images --format '{{.Name}}:{{.Tag}}' --filter "reference=$1"); do
    [ "$name" = "$1:$2" ] || buildah rmi "$name" >/dev/null
  done
}

# What the image is: the chart's default reference, the release version, the source repository and the commit.
chart_value() { sed -n "s/^$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" helm/ferris-usage/Chart.yaml; }
version=$(chart_value appVersion)
source_url=$(chart_value home)
repository=$(sed -n '/^image:/,/^[^ ]/s/^  repository: *\([^ ]*\).*/\1/p' helm/ferris-usage/values.yaml)
[ -n "$version" ] && [ -n "$source_url" ] && [ -n "$repository" ] || die "cannot read appVersion, home or image.repository from helm/ferris-usage"
revision=$(git rev-parse HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || say "warning: uncommitted changes; the image is labelled with $revision all the same"
image="$repository:$version"
output=${output:-.build/image/ferris-usage-$version.oci.tar}

work=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The binary (the Dockerfile's build stage, done here). Its build directory is kept with the tools, not in the
# clone: the dependencies' release builds (most of the work) are then reused by the next build of any clone.
began=$SECONDS
stage "$work/out" "$store/release-build"
built=$("$work/out/ferris-usage" --version)
[ "$built" = "$version" ] || die "the binary says it is $built but the chart's appVersion is $version: change both together"
say "release binary built in $((SECONDS - began)) s ($(du -m "$work/out/ferris-usage" | cut -f1) MB)"

# 2. The Debian 12 base, as debian:bookworm-slim is made: minbase (apt, no recommends) without documentation, manual
# pages or translations. Cached by its recipe and the ISO week.
mirror=${FERRIS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${FERRIS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
base_args=(--variant=minbase --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
  bookworm - "deb $mirror bookworm main" "deb $mirror bookworm-updates main"
  "deb $security_mirror bookworm-security main")
key=$(printf '%s\n' "${base_args[@]}" "$(date -u +%G-W%V)" | sha256sum | cut -c1-12)
base="localhost/ferris-usage-base:bookworm-$key"
if buildah inspect --type image "$base" >/dev/null 2>&1; then
  say "base $base present"
else
  began=$SECONDS
  say "making the Debian 12 base with mmdebstrap (a minute or two; cached for the week)"
  mmdebstrap --quiet "${base_args[@]}" >"$work/base.tar" || die "mmdebstrap failed (is $mirror reachable?)"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$work/base.tar" / >/dev/null
  rm -f "$work/base.tar"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  keep_only localhost/ferris-usage-base "bookworm-$key"
  say "base $base made in $((SECONDS - began)) s"
fi

# 3. The Dockerfile's runtime stage (the runtime packages and the user) on that base, cached by the base and the stage.
runtime_key=$(printf '%s\n' "$key" "$(sed -n '/ AS runtime$/,/^FROM /p' Dockerfile)" | sha256sum | cut -c1-12)
runtime="localhost/ferris-usage-runtime:$runtime_key"
if buildah inspect --type image "$runtime" >/dev/null 2>&1; then
  say "runtime stage $runtime present"
else
  began=$SECONDS
  buildah build --quiet --pull=never --isolation chroot --target runtime --build-arg "RUNTIME_BASE=$base" \
    --tag "$runtime" --file Dockerfile . >/dev/null || die "buildah could not build the Dockerfile's runtime stage"
  keep_only localhost/ferris-usage-runtime "$runtime_key"
  say "runtime stage $runtime made in $((SECONDS - began)) s"
fi

# 4. The image: the Dockerfile's last stage on that runtime, with the binary from step 1 in place of the build stage.
began=$SECONDS
buildah build --quiet --pull=never --isolation chroot --layers=false \
  --build-context "build=$work" --build-context "runtime=docker-image://$runtime" \
  --build-arg "RUNTIME_BASE=$base" --build-arg "REVISION=$revision" \
  --annotation "org.opencontainers.image.version=$version" --annotation "org.opencontainers.image.source=$source_url" \
  --annotation "org.opencontainers.image.revision=$revision" \
  --tag "$image" --file Dockerfile . >/dev/null || die "buildah could not build the Dockerfile"
buildah rmi --prune >/dev/null 2>&1 || true
label=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}' "$image")
[ "$label" = "$version" ] || die "the Dockerfile's VERSION is $label but the chart's appVersion is $version: change both together"
mkdir -p "$(dirname "$output")"
rm -f "$output"
buildah push --quiet "$image" "oci-archive:$output:$image" >/dev/null
say "image $image ($revision) built in $((SECONDS - began)) s: $output, $(du -m "$output" | cut -f1) MB"
echo "$output"
