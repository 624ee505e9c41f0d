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

# The store unit test and the whole end-to-end suite once more on a real
# PostgreSQL (started by the tests themselves), with the plain build.
plain=$1
step "unit store on PostgreSQL ($plain)" \
    node tests/e2e/lib/with-pg.mjs "$plain/test_store"
step "e2e on PostgreSQL ($plain)" env MC_BUILD_DIR="$plain" MC_TEST_DB=postgres \
    MC_SKIP_DOCKER=1 \
    node --test --test-concurrency=1 tests/e2e/

echo "test suites: $passed passed, $failed failed"
((failed == 0))
