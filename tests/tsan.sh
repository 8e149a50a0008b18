#!/usr/bin/env bash
# Every tests/tsan_*.c built with ThreadSanitizer (-fsanitize=thread) and run: a data race, a
# lock-order inversion or a thread leak is a report, and a report fails the run. Sourced by
# tests/run.sh (its check/run_suite counters), or run alone: bash tests/tsan.sh.
if [ -z "${BASH_SOURCE[1]:-}" ]; then   # run alone: counters and helpers of our own
    set -u
    cd "$(dirname "$0")/.."
    passed=0; failed=0; failures=()
    tsan_alone=1
    run_suite() {
        local label=$1; shift
        local out line p f
        echo "== $label"
        out=$("$@" 2>&1); local rc=$?
        printf '%s\n' "$out" | grep -v '^ok '
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
        if [ -n "$line" ] && [ "$rc" -eq 0 ]; then p=${line%% passed*}; passed=$((passed + p))
        else failed=$((failed + 1)); failures+=("$label"); fi
    }
    check() {
        local label=$1; shift
        if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "ok   $label"
        else failed=$((failed + 1)); failures+=("$label"); echo "FAIL $label"; printf '%s\n' "$out" | head -n 20; fi
    }
fi
TSAN_DIR=build/tsan
mkdir -p "$TSAN_DIR"
TSAN_CC=${CC:-cc}
. tests/extra_flags.sh
if ! printf 'int main(void) { return 0; }\n' | $TSAN_CC -x c -fsanitize=thread - -o "$TSAN_DIR/probe" >/dev/null 2>&1; then
    [ "${CNN_TSAN_BUILD_ONLY:-0}" = 1 ] && exit 0
    echo "== tsan: SKIPPED (the compiler has no ThreadSanitizer runtime: apt-get install libtsan2)"
else
    # The builds (each compiles all of cnn.h with TSan instrumentation, the longest part) write
    # their output and exit code beside the binary. CNN_TSAN_BUILD_ONLY=1 does only them:
    # tests/run.sh starts that early among its other builds (tsan_prebuilt=1), so that no core
    # idles through them at the end of the run.
    if [ "${tsan_prebuilt:-0}" != 1 ]; then
        rm -f "$TSAN_DIR"/*.build.rc
        for src in tests/tsan_*.c; do
            [ -e "$src" ] || continue
            name=$(basename "$src" .c)
            $TSAN_CC -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror -fsanitize=thread $(unrun_isa_flags) -I. "$src" -o "$TSAN_DIR/$name" -lm \
                > "$TSAN_DIR/$name.build.log" 2>&1
            echo $? > "$TSAN_DIR/$name.build.rc"
        done
    fi
    [ "${CNN_TSAN_BUILD_ONLY:-0}" = 1 ] && exit 0
    tsan_built() { cat "$TSAN_DIR/$1.build.log" 2>/dev/null; [ "$(cat "$TSAN_DIR/$1.build.rc" 2>/dev/null)" = 0 ]; }
    for src in tests/tsan_*.c; do
        [ -e "$src" ] || continue
        name=$(basename "$src" .c)
        if check "build $name (tsan)" tsan_built "$name"; then
            # halt_on_error: the first report ends the run with exit 66, which fails the suite
            TSAN_OPTIONS="halt_on_error=1 exitcode=66 report_thread_leaks=1" run_suite "$name (tsan)" "$TSAN_DIR/$name"
        fi
    done
fi
if [ "${tsan_alone:-0}" = 1 ]; then
    echo
    [ ${#failures[@]} -gt 0 ] && { echo "failed:"; printf '  %s\n' "${failures[@]}"; }
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
fi
