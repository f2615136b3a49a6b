#!/usr/bin/env bash
# Installs what Scepter needs on Debian 12, builds it, then either runs a demo CA or
# runs every test.
#
#   bash scripts/bootstrap.sh run    # install, build, start scepterd on 127.0.0.1:8080
#   bash scripts/bootstrap.sh test   # install, build, run all tests (what CI runs)
#   bash scripts/bootstrap.sh deps   # install packages only
#
# Idempotent: packages already present are not reinstalled and builds are incremental.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
mode=${1:-run}

# Build, library and test dependencies (Debian 12 package names).
packages=(
  build-essential cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  libssl-dev openssl libboost-dev libboost-system-dev libcurl4-openssl-dev libsqlite3-dev
  sqlite3 libpq-dev libedit-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libcli11-dev
  libexpected-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-cryptography procps iproute2
  scep strongswan-pki libstrongswan-extra-plugins
  vsftpd tftpd-hpa nginx-light openssh-server
)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The file servers the tests start on 127.0.0.1 (vsftpd, tftpd-hpa, nginx, sshd) are
    # not to be started as system services on every address by their packages.
    local own_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      own_policy=1
    fi
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    [[ -z $own_policy ]] || rm -f /usr/sbin/policy-rc.d
  fi
}

jobs=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

build() {  # build DIR [cmake args...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
}

case "$mode" in
  deps)
    install_packages
    ;;
  run)
    install_packages
    build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCEPTER_TESTS=OFF
    exec bash scripts/demo.sh build
    ;;
  test)
    install_packages
    bash scripts/test.sh
    ;;
  *)
    echo "usage: $0 run|test|deps" >&2
    exit 2
    ;;
esac
