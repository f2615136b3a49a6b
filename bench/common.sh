# shellcheck shell=bash
# Helpers shared by the bench/run_*_bench.sh scripts; sourced, not run.

# field NAME FILE: the last value of NAME=VALUE in FILE (scep_load's summary lines).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2" | tail -1; }

# The 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# print_machine DIR: what the machine is, for the record (DIR: where the databases live).
print_machine() {
  echo "nproc: $(nproc)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "ram: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "openssl: $(openssl version)"
  echo "filesystem of $1: $(df -T "$1" | awk 'NR == 2 { print $2 " on " $1 }')"
}

# stop_pids PID...: ends each process that is given (empty ones are skipped) and reaps it.
stop_pids() {
  local pid
  for pid in "$@"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
