#!/usr/bin/env bash
# `make bench`: the performance figures (docs/performance.md), measured on
# this machine in one run, printed next to their targets. Not part of
# `make test`: it takes a few minutes and loads both cores.
#
# Usage: scripts/bench.sh [BUILD_DIR]   (default build; MC_BUILD_DIR wins)
# Settings: MC_BENCH_STREAMS, MC_BENCH_FANOUT, MC_BENCH_AGENT_SECONDS,
# MC_BENCH_PERF=1 (profile mcd), MC_BENCH_KEEP=1 (see bench/bench.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MC_BUILD_DIR:-${1:-build}}

for tool in node strace; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench: $tool is missing (apt-get install $tool)" >&2
        exit 1
    fi
done
if [[ -n ${MC_BENCH_PERF:-} ]] && ! command -v perf >/dev/null; then
    echo "bench: MC_BENCH_PERF needs perf (apt-get install" \
        "linux-perf)" >&2
    exit 1
fi
if ! grep -q 'CMAKE_BUILD_TYPE:STRING=RelWithDebInfo' \
    "$build/CMakeCache.txt" 2>/dev/null; then
    echo "bench: $build is not a RelWithDebInfo build; the figures" \
        "would not mean much (make build)" >&2
    exit 1
fi

# 15,000 streams are 15,000 descriptors in mcd and in the simulator: every
# process started from here inherits this limit.
if ! ulimit -n 20000 2>/dev/null; then
    echo "bench: cannot raise the open files limit to 20000 (hard limit" \
        "$(ulimit -Hn)); raise it (limits.conf, or run as root)" >&2
    exit 1
fi
exec node bench/bench.mjs "$build"
