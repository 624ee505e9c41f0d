#!/usr/bin/env bash
# Runs every test against each build given (plain, then sanitizers): the
# cmocka unit tests through CTest, then the end-to-end suites, which start
# the real programs themselves. Prints one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0
failed=0

step() {
    local name=$1
    shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "=== FAILED: $name"
    fi
}

for build in "$@"; do
    step "unit ($build)" bash -c "cd '$build' && ctest --output-on-failure"
    step "e2e ($build)" env MC_BUILD_DIR="$build" \
        node --test --test-concurrency=1 tests/e2e/
    step "browser ($build)" env MC_BUILD_DIR="$build" \
        node --test --test-concurrency=1 tests/browser/
done

echo "test suites: $passed passed, $failed failed"
((failed == 0))
