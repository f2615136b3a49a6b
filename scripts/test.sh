#!/usr/bin/env bash
# Builds Scepter three times and runs every test:
#   1. release build (gcc): unit tests and end-to-end integration tests;
#   2. sanitizer build (clang, ASan+UBSan, libFuzzer coverage, -Wthread-safety): the unit
#      tests again, and each libFuzzer target for a short while;
#   3. ThreadSanitizer build (clang): the unit tests of the modules that share state
#      between threads (concurrent issuing, one-time password races, SCEP, HTTP).
# Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Cache hits across checkouts in different directories.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
fuzz_seconds=${SCEPTER_FUZZ_SECONDS:-20}

echo "== format check"
find src bench fuzz tests -name '*.cpp' -o -name '*.h' | xargs -r clang-format --dry-run --Werror

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs"

echo "== unit and integration tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (clang, ASan+UBSan) with fuzz targets"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS=-O1 -DSCEPTER_FUZZ=ON -DSCEPTER_INTEGRATION=OFF >/dev/null
ninja -C build-asan -j "$jobs"

echo "== unit tests under ASan+UBSan"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit

echo "== fuzz targets, ${fuzz_seconds} s each"
for f in build-asan/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=build-asan/corpus/$name
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/corpus/${name#fuzz_}" ] && seeds+=("fuzz/corpus/${name#fuzz_}")
  echo "-- $name"
  "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    "$corpus" "${seeds[@]}" 2>&1 | tail -n 2
done
echo "== ThreadSanitizer build (clang) and the unit tests under it"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS=-O1 -DSCEPTER_TSAN=ON -DSCEPTER_INTEGRATION=OFF >/dev/null
# The modules with shared state between threads: the CA core, the store, the publish
# queue, SCEP, HTTP.
tsan_tests=(store_test files_test ca_test scep_test http_test acme_test)
ninja -C build-tsan -j "$jobs" "${tsan_tests[@]}"
for t in "${tsan_tests[@]}"; do
  echo "-- $t"
  "$(find build-tsan/src -name "$t" -type f -perm -u+x | head -n 1)" --gtest_brief=1
done
echo "== all tests passed"
