#!/usr/bin/env bash
# Starts scepterd in the foreground with a demo root CA on 127.0.0.1 (SQLite store).
# The first run writes a startup-config into the demo NVRAM directory; later runs reuse
# it, so the CA, its serials and its CRL survive restarts.
#
#   bash scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
state=${SCEPTER_DEMO_DIR:-/var/lib/scepterd-demo}
socket=${SCEPTER_DEMO_SOCKET:-/run/scepterd-demo/scepterd.sock}
nvram=$state/nvram
mkdir -p "$nvram"
chmod 700 "$state"

if [ ! -f "$nvram/startup-config" ]; then
  archive_pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cat >"$nvram/startup-config" <<CONFIG
hostname scepter-demo
!
ip http server
ip http port 8080
ip http bind-address 127.0.0.1
!
crypto pki server demo
 database level complete
 database archive pkcs12 password $archive_pw
 issuer-name CN=Scepter Demo Root CA, O=Scepter, C=US
 cdp-url http://127.0.0.1:8080/cgi-bin/pkiclient.exe?operation=GetCRL
 grant auto
 no shutdown
!
end
CONFIG
  chmod 600 "$nvram/startup-config"
fi

cat <<MSG

  scepterd is starting with a demo root CA "demo" (state in $state).
  Manage it from another terminal with the IOS shell:

    $PWD/$build/src/shell/scepter --socket $socket

  e.g.  show crypto pki server
        crypto pki server demo info requests
        configure terminal

  SCEP URL for clients: http://127.0.0.1:8080/cgi-bin/pkiclient.exe
  Stop with Ctrl-C.

MSG
exec "$build/src/daemon/scepterd" --nvram "$nvram" --socket "$socket"
