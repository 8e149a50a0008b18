#!/usr/bin/env bash
# Runs the whole test suite: every tests/test_*.c built normally (warnings are errors) and
# under AddressSanitizer + UndefinedBehaviorSanitizer, plus checks that cnn.h compiles cleanly
# as C99 and C++ with every compiler present. The last line is the total: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

CC=${CC:-cc}
CXX=${CXX:-c++}
BUILD=build/tests
WARN="-Wall -Wextra -Wpedantic -Werror"
mkdir -p "$BUILD"
passed=0
failed=0
failures=()

# Adds a suite's "N passed, N failed" line to the totals; a suite that crashes or prints no
# summary counts as one failure.
run_suite() {
    local label=$1; shift
    local out rc line p f
    echo "== $label"
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
        [ "$f" -gt 0 ] && failures+=("$label")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); failures+=("$label (exit $rc)"); fi
    else
        failed=$((failed + 1)); failures+=("$label (no summary, exit $rc)")
    fi
}

# One check that must succeed (a compile, say): one pass or one failure.
check() {
    local label=$1; shift
    local out
    if out=$("$@" 2>&1); then
        passed=$((passed + 1)); echo "ok   $label"
    else
        failed=$((failed + 1)); failures+=("$label"); echo "FAIL $label"; printf '%s\n' "$out" | head -n 20
    fi
}

have() { command -v "$1" >/dev/null 2>&1; }

native=1
[ "${CNN_ONLY_AARCH64:-0}" = 1 ] && native=0
if [ "$native" = 1 ]; then
echo "== header: compiles cleanly as C and C++"
CCS=("$CC"); have clang && [ "$CC" != clang ] && CCS+=(clang)
CXXS=("$CXX"); have clang++ && [ "$CXX" != clang++ ] && CXXS+=(clang++)
printf '#include "cnn.h"\nint main(void) { return cnn_status_name(CNN_OK)[0] != 0 ? 0 : 1; }\n' > "$BUILD/decl_only.c"
printf '#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/impl.c"
printf '#define CNN_STATIC\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/static.c"
printf '#define CNN_NO_STDIO\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/no_stdio.c"
printf '#define CNN_NO_SIMD\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/no_simd.c"
for cc in "${CCS[@]}"; do
    for src in decl_only impl static no_stdio no_simd; do
        check "$cc -std=c99 $src" $cc -std=c99 $WARN -I. -c "$BUILD/$src.c" -o "$BUILD/$src.$cc.o"
    done
done
for cxx in "${CXXS[@]}"; do
    for src in decl_only impl static; do
        check "$cxx -x c++ $src" $cxx -x c++ -std=c++11 $WARN -I. -c "$BUILD/$src.c" -o "$BUILD/$src.$cxx.o"
    done
done

for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    if check "build $name" $CC -std=c99 -O2 -g $WARN -I. "$src" -o "$BUILD/$name" -lm; then :; fi
    [ -x "$BUILD/$name" ] && run_suite "$name" "$BUILD/$name"
done

# The same suites once more on the scalar reference path (CNN_SIMD=scalar), so the fallback
# every CPU without AVX2 takes is tested too.
for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    [ -x "$BUILD/$name" ] && CNN_SIMD=scalar run_suite "$name (scalar path)" "$BUILD/$name"
done

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    check "build $name (asan+ubsan)" $CC -std=c99 -O1 -g $WARN $SAN -I. "$src" -o "$BUILD/$name.san" -lm
    [ -x "$BUILD/$name.san" ] && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 run_suite "$name (asan+ubsan)" "$BUILD/$name.san"
done

# The documentation's programs compile, run and print what the docs show.
run_suite "docs snippets" bash docs/check_snippets.sh

fi   # native

# AArch64: cross-compile the suites and run them under qemu, so the NEON path is tested for
# real. Skipped (and said so) where the cross compiler or qemu is missing; `make test-aarch64`
# runs only this part, and .ci/run installs both.
if [ "${CNN_SKIP_AARCH64:-0}" != 1 ]; then
    if have aarch64-linux-gnu-gcc && have qemu-aarch64; then
        for src in tests/test_*.c; do
            name=$(basename "$src" .c)
            if check "build $name (aarch64)" aarch64-linux-gnu-gcc -std=c99 -O2 $WARN -I. "$src" -o "$BUILD/$name.aarch64" -lm; then
                run_suite "$name (aarch64, qemu)" qemu-aarch64 -L /usr/aarch64-linux-gnu "$BUILD/$name.aarch64"
            fi
        done
    else
        echo "== aarch64: SKIPPED (needs aarch64-linux-gnu-gcc and qemu-aarch64: apt-get install gcc-aarch64-linux-gnu qemu-user)"
    fi
fi

[ "$native" = 1 ] && for src in examples/*.c; do
    [ -e "$src" ] || continue
    check "build example $(basename "$src")" $CC -std=c99 -O2 $WARN -I. -Iexamples "$src" -o "$BUILD/example_$(basename "$src" .c)" -lm
done

# ---- hardening: fuzzing ------------------------------------------------------------------
# Every libFuzzer target for about a minute (tests/fuzz.sh, docs/testing.md); CNN_FUZZ_SECONDS
# sets the time per target (0 skips them), `make fuzz` runs only this, for longer.
if [ "$native" = 1 ] && [ "${CNN_FUZZ_SECONDS:-60}" != 0 ]; then
    source tests/fuzz.sh
fi
# ---- end of hardening ---------------------------------------------------------------------

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
