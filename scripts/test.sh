#!/usr/bin/env bash
# Builds Scepter three ways and runs every test: the unit and integration tests
# (release build), the unit tests under ASan+UBSan, and each libFuzzer target briefly.
# Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== format check"
find src bench fuzz tests -name '*.cpp' -o -name '*.h' | xargs -r clang-format --dry-run --Werror

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs"

echo "== unit and integration tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan+UBSan), unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCEPTER_SANITIZE=ON \
  -DSCEPTER_INTEGRATION=OFF >/dev/null
ninja -C build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE integration

echo "== fuzz targets (libFuzzer, ASan+UBSan), 20 s each"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCEPTER_FUZZ=ON \
  -DSCEPTER_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++ >/dev/null
ninja -C build-fuzz -j "$jobs"
for f in build-fuzz/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p "build-fuzz/corpus-$name"
  echo "-- $name"
  "$f" -max_total_time=20 -timeout=5 -rss_limit_mb=2048 "build-fuzz/corpus-$name" \
    $( [ -d "$corpus" ] && echo "$corpus" ) 2>&1 | tail -n 3
done
echo "== all tests passed"
