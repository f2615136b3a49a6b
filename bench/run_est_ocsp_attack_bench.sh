#!/usr/bin/env bash
# What malicious EST and OCSP requests cost scepterd: bench/est_ocsp_attack.py sends each
# kind of request (unauthenticated, wrong passwords, malformed, oversized, replayed,
# another issuer's, bare TLS connections) and divides the server's CPU time (/proc) by the
# number of requests, next to an honest EST enrolment and an honest fresh OCSP answer.
# The goal, as for SCEP (run_attack_bench.sh): nothing an attacker sends costs more than
# the honest request of the same protocol.
#
#   bench/run_est_ocsp_attack_bench.sh [BUILD_DIR]        (default build-bench)
#
# N (requests per kind, default 200), N_BIG (1 MiB bodies, default 20), PORT (default
# 18390; HTTPS on PORT+1), NICE (niceness of scepterd, default 0). One scepterd with an
# empty NVRAM: a root CA "ca" (RSA-2048) in grant auto with `est` and `ocsp`, an `est
# user` account, the HTTPS listener with the certificate the CA issues scepterd, and a
# client certificate obtained over EST with a one-time password. Cleans up on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:-build-bench}")
port=${PORT:-18390}
https_port=$((port + 1))
nice_level=${NICE:-0}
scepter="$build/src/shell/scepter"
bench_workdir est_ocsp_attack_bench
ninja -C "$build" -j2 scepterd scepter >/dev/null

print_machine "$work"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
start_scepterd "$build" "$work/scepterd" "$nice_level"
sock="$work/scepterd/s.sock"
setup_ca "$scepter" "$sock" "$port" "$work/setup.txt"
"$scepter" --socket "$sock" -c "configure terminal" -c "crypto pki server ca" -c "est" \
  -c "ocsp" -c "est user attacked secret Attacked-pw1" -c exit \
  -c "ip http secure-port $https_port" -c "ip http secure-server" -c end >/dev/null
wait_listening "$https_port" 300
est_client "$scepter" "$sock" "$https_port" "$work" attack-bench-client

echo "load average before: $(loadavg)"
idle_before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
sleep 5
idle_after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
echo "idle server CPU over 5 s: $(((idle_after - idle_before) * 1000 / $(getconf CLK_TCK))) ms"
python3 bench/est_ocsp_attack.py --pid "$pid" --https-port "$https_port" --http-port "$port" \
  --ca "$work/ca.pem" --client-cert "$work/client.pem" --client-key "$work/client.key" \
  --account attacked --n "${N:-200}" --n-big "${N_BIG:-20}" --only "${ONLY:-}"
echo "requests stored: $("$scepter" --socket "$sock" -c "show crypto pki server ca requests" |
  grep -c '^ *[0-9]' || true)"
echo "load average after: $(loadavg)"
