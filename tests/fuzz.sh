#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/fuzz_*.c), each run for CNN_FUZZ_SECONDS (default 20) from
# its committed seed corpus, tests/fuzz/corpus/<target>/; what they discover grows a scratch
# corpus under build/fuzz/ (kept between runs, never committed). A crash, a sanitizer report,
# a leak, a time-out or a failed FUZZ_CHECK fails the run and prints the reproducer.
# Sourced by tests/run.sh (its check/run counters), or run alone: bash tests/fuzz.sh.
# Needs clang with libFuzzer (Debian: clang and libclang-rt-<version>-dev; .ci/run installs them).
if [ -z "${BASH_SOURCE[1]:-}" ]; then   # run alone: counters of our own
    set -u
    cd "$(dirname "$0")/.."
    passed=0; failed=0; failures=()
    fuzz_alone=1
fi
FUZZ_DIR=build/fuzz
FUZZ_SECONDS=${CNN_FUZZ_SECONDS:-20}
mkdir -p "$FUZZ_DIR"
. tests/extra_flags.sh
FUZZ_FLAGS="-std=c99 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. $(unrun_isa_flags)"
if ! command -v clang >/dev/null 2>&1 || ! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
        | clang -x c -fsanitize=fuzzer - -o "$FUZZ_DIR/probe" >/dev/null 2>&1; then
    [ "${CNN_FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
    echo "== fuzz: SKIPPED (needs clang with libFuzzer: apt-get install clang libclang-rt-dev, or .ci/run)"
else
    FUZZ_JOBS=${CNN_FUZZ_JOBS:-2}
    # in a target's build: waits for the implementation's object (a sibling job's, so polled)
    wait_impl() { while kill -0 "$impl_pid" 2>/dev/null; do sleep 0.2; done; [ -s "$FUZZ_DIR/impl.o" ] || { cat "$FUZZ_DIR/impl.build.log"; return 1; }; }
    targets=()
    # The targets that include cnn.h link one instrumented copy of its implementation (built
    # first), as tests/run.sh's suites do: the compiler reads it once, not once per target.
    # The builds (the implementation compiled once with the sanitizers, the longest part)
    # write their output and exit code beside the binaries. CNN_FUZZ_BUILD_ONLY=1 does only
    # them: tests/run.sh starts that early among its other builds (fuzz_prebuilt=1), so that
    # no core idles through them at the end of the run.
    if [ "${fuzz_prebuilt:-0}" != 1 ]; then
        printf '#define CNN_IMPLEMENTATION\n#include "cnn.h"\n' > "$FUZZ_DIR/impl_only.c"
        rm -f "$FUZZ_DIR/impl.o" "$FUZZ_DIR"/*.build.rc
        clang $FUZZ_FLAGS -c "$FUZZ_DIR/impl_only.c" -o "$FUZZ_DIR/impl.o" > "$FUZZ_DIR/impl.build.log" 2>&1 &
        impl_pid=$!
        for src in tests/fuzz/fuzz_*.c; do          # the builds, in parallel too
            name=$(basename "$src" .c)
            if grep -q 'include "\.\./\.\./cnn\.h"' "$src"; then
                ( clang $FUZZ_FLAGS -DCNN_IMPLEMENTATION_INCLUDED -c "$src" -o "$FUZZ_DIR/$name.o" &&
                  wait_impl && clang $FUZZ_FLAGS "$FUZZ_DIR/$name.o" "$FUZZ_DIR/impl.o" -o "$FUZZ_DIR/$name" -lm $(extra_of "$src")
                ) > "$FUZZ_DIR/$name.build.log" 2>&1; echo $? > "$FUZZ_DIR/$name.build.rc"
            else
                clang $FUZZ_FLAGS "$src" -o "$FUZZ_DIR/$name" -lm $(extra_of "$src") > "$FUZZ_DIR/$name.build.log" 2>&1; echo $? > "$FUZZ_DIR/$name.build.rc"
            fi &
        done
        wait
    fi
    [ "${CNN_FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
    echo "== fuzz: each target ${FUZZ_SECONDS} s from tests/fuzz/corpus, $FUZZ_JOBS at a time (CNN_FUZZ_SECONDS, CNN_FUZZ_JOBS; make fuzz for longer)"
    for src in tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        if [ "$(cat "$FUZZ_DIR/$name.build.rc" 2>/dev/null)" != 0 ]; then
            failed=$((failed + 1)); failures+=("build $name"); echo "FAIL build $name"; head -n 20 "$FUZZ_DIR/$name.build.log"
        else
            targets+=("${name#fuzz_}")
        fi
    done
    running=0
    for target in "${targets[@]}"; do
        mkdir -p "$FUZZ_DIR/corpus_$target"
        rm -f "$FUZZ_DIR/$target"-crash-* "$FUZZ_DIR/$target"-leak-* "$FUZZ_DIR/$target"-timeout-* "$FUZZ_DIR/$target"-oom-*
        if [ "$running" -ge "$FUZZ_JOBS" ]; then wait -n; running=$((running - 1)); fi
        ( "$FUZZ_DIR/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
              -artifact_prefix="$FUZZ_DIR/$target-" "$FUZZ_DIR/corpus_$target" "tests/fuzz/corpus/$target" \
              > "$FUZZ_DIR/$target.log" 2>&1; echo $? > "$FUZZ_DIR/$target.rc" ) &
        running=$((running + 1))
    done
    wait
    for target in "${targets[@]}"; do
        rc=$(cat "$FUZZ_DIR/$target.rc" 2>/dev/null || echo 1)
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FUZZ_DIR/$target.log" | tail -n 1)
        if [ "$rc" -eq 0 ]; then
            passed=$((passed + 1)); echo "ok   fuzz $target: ${runs:-?} inputs in ${FUZZ_SECONDS} s, no finding"
        else
            failed=$((failed + 1)); failures+=("fuzz $target")
            echo "FAIL fuzz $target (exit $rc; whole log: $FUZZ_DIR/$target.log):"
            # the report: from its first line (a sanitizer, a failed check, a time-out), 30 lines
            sed -n '/ERROR:\|runtime error\|FUZZ_CHECK\|deadly signal\|Timeout\|out-of-memory/,$p' "$FUZZ_DIR/$target.log" | head -n 30
            for artifact in "$FUZZ_DIR/$target"-*-*; do
                [ -e "$artifact" ] || continue
                echo "  reproduce: $FUZZ_DIR/fuzz_$target $artifact   (input, base64: $(base64 -w0 "$artifact" | head -c 400))"
                echo "  keep it as a test: cp $artifact tests/fuzz/corpus/$target/"
            done
        fi
    done
fi
if [ "${fuzz_alone:-0}" = 1 ]; then
    echo
    [ ${#failures[@]} -gt 0 ] && { echo "failed:"; printf '  %s\n' "${failures[@]}"; }
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
fi
