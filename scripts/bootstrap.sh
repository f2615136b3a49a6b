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
  sqlite3 libpq-dev postgresql libedit-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libcli11-dev
  libexpected-dev libgtest-dev libgmock-dev libbenchmark-dev libp11-dev libp11-kit-dev softhsm2 opensc
  python3 python3-pytest python3-cryptography python3-jsonschema procps iproute2 gnutls-bin
  scep strongswan-pki libstrongswan-extra-plugins libstrongswan-standard-plugins
  vsftpd tftpd-hpa nginx-light openssh-server prometheus
  dpkg-dev groff-base man-db systemd
  chromium
  libc-ares-dev certbot lego pebble unbound
)
# The web console is built with node and npm (SCEPTER_WEB). A node from elsewhere
# (NodeSource's nodejs bundles its own npm and conflicts with Debian's npm package) is
# kept: Debian's nodejs and npm are added only when the commands are missing. chromium
# above is for the tests only (test_console), not for building or running scepterd.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The servers the tests start on 127.0.0.1 (vsftpd, tftpd-hpa, nginx, sshd, prometheus) are
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

# A PostgreSQL server for the PostgreSQL engine's tests: the distribution's cluster
# listening on 127.0.0.1 only, a role and a database of their own, and
# SCEPTER_TEST_POSTGRES pointing at them for the unit tests. A SCEPTER_TEST_POSTGRES
# already set (another server) is used as it is.
pg_role=scepter
pg_password=scepter-test
pg_db=scepter_test
setup_test_postgres() {
  if [[ -n ${SCEPTER_TEST_POSTGRES:-} ]]; then
    echo "== PostgreSQL for the tests: SCEPTER_TEST_POSTGRES as set"
    return
  fi
  local version port status conf restart=
  read -r version port status < <(pg_lsclusters -h | awk '$2 == "main" {print $1, $3, $4; exit}')
  if [[ -z ${version:-} ]]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    pg_createcluster "$version" main >/dev/null
    read -r port status < <(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3, $4}')
  fi
  # Loopback only; room for the tests that ctest runs side by side.
  conf=/etc/postgresql/$version/main/conf.d/scepter-tests.conf
  local want
  want=$(printf '%s\n' "# scripts/bootstrap.sh: the server of the unit tests" \
    "listen_addresses = '127.0.0.1'" "max_connections = 200")
  if [[ ! -f $conf ]] || [[ $(cat "$conf") != "$want" ]]; then
    printf '%s\n' "$want" > "$conf"
    restart=1
  fi
  if [[ $status != online ]]; then
    pg_ctlcluster "$version" main start
  elif [[ -n $restart ]]; then
    pg_ctlcluster "$version" main restart
  fi
  pg_isready -q -h 127.0.0.1 -p "$port" -t 30
  (cd / && runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p "$port") <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$pg_role') THEN
    CREATE ROLE $pg_role;
  END IF;
END\$\$;
ALTER ROLE $pg_role LOGIN CREATEDB PASSWORD '$pg_password';
SQL
  if [[ -z $(cd / && runuser -u postgres -- psql -p "$port" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$pg_db'") ]]; then
    (cd / && runuser -u postgres -- createdb -p "$port" -O "$pg_role" "$pg_db")
  fi
  export SCEPTER_TEST_POSTGRES=postgresql://$pg_role:$pg_password@127.0.0.1:$port/$pg_db
  echo "== PostgreSQL $version for the tests on 127.0.0.1:$port (database $pg_db)"
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
    setup_test_postgres
    bash scripts/test.sh
    ;;
  *)
    echo "usage: $0 run|test|deps" >&2
    exit 2
    ;;
esac
