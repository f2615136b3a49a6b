#!/usr/bin/env bash
# Makes the fixed test keys the unit tests load (instead of generating RSA keys in every
# test process, which is slow and makes each run different). Run it again only to replace
# them; the keys are committed.
#
#   bash tests/keys/make.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for name in rsa-2048-a rsa-2048-b rsa-2048-c; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.pem"
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa-1024.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
  -out ec-p256.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve \
  -out ec-p384.pem
chmod 644 ./*.pem
