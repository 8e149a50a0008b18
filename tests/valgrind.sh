#!/usr/bin/env bash
# `make valgrind`: every tests/test_*.c on the scalar kernel path (CNN_SIMD=scalar) under
# valgrind's memcheck: an invalid read or write, a use of uninitialised memory, or a
# definite or indirect leak fails the suite, as a failing test does. Slow (tens of times the
# native speed), so not part of `make test`; .ci/run runs it. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CC=${CC:-cc}
BUILD=build/valgrind
mkdir -p "$BUILD" build/tests
passed=0; failed=0; failures=()
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind: not installed (apt-get install valgrind, or .ci/run)"; echo "0 passed, 1 failed"; exit 1
fi
. tests/extra_flags.sh
for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    case $name in test_simd*)   # they exist to run the vector kernels: the sanitizer builds cover them
        echo "== $name: skipped (vector kernels against scalar; see docs/testing.md)"; continue;; esac
    echo "== $name (valgrind, scalar path)"
    if ! out=$($CC -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror -I. "$src" -o "$BUILD/$name" -lm $(extra_of "$src") 2>&1); then
        failed=$((failed + 1)); failures+=("build $name"); printf '%s\n' "$out" | head -n 20; continue
    fi
    out=$(CNN_SIMD=scalar valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
          --show-leak-kinds=definite,indirect "$BUILD/$name" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then failed=$((failed + 1)); failures+=("$name (no summary, exit $rc)"); continue; fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -gt 0 ] && failures+=("$name")
    if [ "$rc" -eq 99 ]; then failed=$((failed + 1)); failures+=("$name (valgrind errors)");
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); failures+=("$name (exit $rc)"); fi
done
echo
[ ${#failures[@]} -gt 0 ] && { echo "failed:"; printf '  %s\n' "${failures[@]}"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
