#!/usr/bin/env bash
# CRL generation benchmark: Scepter's CrlBuilder against `openssl ca -gencrl`, for a CA with
# N revoked serials and an RSA-2048 key (the same key and serials for both).
#
#   bench/run_crl_bench.sh [BUILD_DIR [N...]]
#
# BUILD_DIR defaults to build-crl and must be configured already (cmake -S . -B build-crl -G
# Ninja); N defaults to 100000 and 1000000. Each N runs crl_bench in a fresh process (so the
# peak RSS is per N), checks its CRL with `openssl crl -verify`, then times `openssl ca
# -gencrl` over an index.txt holding the same N serials as `R` lines. Files go to a fresh
# directory under ${TMPDIR:-/tmp}; OPENSSL_REPEAT (default 3) sets the openssl runs per N.
# Prints the machine, each tool's output, and a Markdown table for docs/performance.md.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-crl}
shift || true
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(100000 1000000); fi
repeat=${OPENSSL_REPEAT:-3}

ninja -C "$build" -j2 crl_bench >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/crl_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

echo "== machine"
print_machine "$work"
echo "load average before: $(loadavg)"

rows=()
speedups=()
for n in "${sizes[@]}"; do
  dir="$work/n$n"
  mkdir -p "$dir"
  echo
  echo "== scepter crl_bench, N=$n"
  "$build/bench/crl_bench" --n "$n" --dir "$dir" | tee "$dir/ours.txt"
  openssl crl -inform DER -in "$dir/ca.crl" -CAfile "$dir/ca.pem" -noout -verify 2>&1 |
    grep -q "verify OK" || { echo "our CRL does not verify" >&2; exit 1; }
  echo "openssl crl -verify: OK"

  echo
  echo "== openssl ca -gencrl, N=$n"
  # Serials 2..N+1 as even-length hex, each revoked at its own second, as crl_bench does.
  awk -v n="$n" 'BEGIN {
    for (i = 0; i < n; i++) {
      s = sprintf("%X", i + 2); if (length(s) % 2) s = "0" s
      r = i % 86400
      printf "R\t350101000000Z\t2501%02d%02d%02d%02dZ\t%s\tunknown\t/CN=x\n",
             int(i / 86400) + 1, int(r / 3600), int(r % 3600 / 60), r % 60, s
    } }' >"$dir/index.txt"
  echo "unique_subject = no" >"$dir/index.txt.attr"
  echo 01 >"$dir/crlnumber"
  cat >"$dir/openssl.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_hours = 6
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
  : >"$dir/openssl_runs.txt"
  for ((r = 0; r < repeat; r++)); do
    start=$(now)
    /usr/bin/time -f "%U %S %M" -o "$dir/openssl_time.txt" \
      openssl ca -config "$dir/openssl.cnf" -gencrl -batch -out "$dir/openssl.crl" 2>"$dir/openssl.err" ||
      { cat "$dir/openssl.err" >&2; exit 1; }
    end=$(now)
    # wall ms, CPU ms (user + system, 10 ms resolution), peak RSS MB
    awk -v w="$(ms "$start" "$end")" '{ printf "%s %.0f %.1f\n", w, ($1 + $2) * 1000, $3 / 1024 }' \
      "$dir/openssl_time.txt" >>"$dir/openssl_runs.txt"
  done
  read -r openssl_ms openssl_cpu openssl_rss < <(sort -n "$dir/openssl_runs.txt" |
    awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
  openssl_der=$(openssl crl -in "$dir/openssl.crl" -outform DER | wc -c)
  echo "openssl ca -gencrl runs (wall ms, CPU ms, RSS MB):" "$(tr '\n' ';' <"$dir/openssl_runs.txt")"
  echo "median: $openssl_ms ms (CPU $openssl_cpu ms), peak RSS $openssl_rss MB, DER $openssl_der bytes"

  f="$dir/ours.txt"
  build_ms=$(field build_ms "$f")
  write=$(field write_ms "$f")
  cold=$(field cold_ms "$f")
  regen=$(awk -v b="$build_ms" -v w="$write" 'BEGIN { printf "%.1f", b + w }')
  from_file=$(awk -v l="$(field load_ms "$f")" -v b="$build_ms" -v w="$write" \
    'BEGIN { printf "%.1f", l + b + w }')
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
  rows+=("| $n | $(field fill_ms "$f") ($(field fill_cpu_ms "$f")) | $(field load_ms "$f") ($(field load_cpu_ms "$f")) | $build_ms ($(field build_cpu_ms "$f")) | $write ($(field write_cpu_ms "$f")) | $cold ($(field cold_cpu_ms "$f")) | $(field one_more_ms "$f") ($(field one_more_cpu_ms "$f")), slowest $(field one_more_max_ms "$f") | $(field der_bytes "$f") | $(field rss_mb "$f") | $openssl_ms ($openssl_cpu) | $openssl_rss |")
  speedups+=("| $n | $openssl_ms | $regen: $(ratio "$openssl_ms" "$regen") | $from_file: $(ratio "$openssl_ms" "$from_file") | $cold: $(ratio "$openssl_ms" "$cold") (CPU $(ratio "$openssl_cpu" "$(field cold_cpu_ms "$f")")) |")
done

echo
echo "load average after: $(loadavg)"
echo
echo "== results: times in ms (CPU ms), sizes in bytes, RSS in MB"
echo "| N | fill | load from .crl | build+sign | write+fsync | cold: fill+build+write | one more revoke, end to end | DER size | peak RSS | \`openssl ca -gencrl\` | openssl RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "== speed-up against openssl ca -gencrl (wall ms: ratio)"
echo "| N | \`openssl ca -gencrl\` | regenerate: build+write | cold from .crl: load+build+write | cold from rows: fill+build+write |"
echo "|---|---|---|---|---|"
printf '%s\n' "${speedups[@]}"
