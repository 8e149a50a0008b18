#!/usr/bin/env bash
# `make coverage`: line and branch coverage of cnn.h by the test suite. Every tests/test_*.c is
# built with gcc --coverage (-O0, so lines map one to one) and run twice, on the best kernel
# path of this machine and on the scalar one (CNN_SIMD=scalar); gcovr then reports cnn.h alone:
# the summary, the uncovered lines (build/coverage/cnn.h.txt) and an HTML page per line
# (build/coverage/index.html). The NEON kernels and the CNN_NO_STDIO variants are compiled
# out on x86 and so not counted. docs/testing.md explains what stays uncovered and why.
set -u
cd "$(dirname "$0")/.."
OUT=build/coverage
if ! command -v gcovr >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "coverage: installing gcovr"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcovr >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcovr >/dev/null; }
    fi
    command -v gcovr >/dev/null 2>&1 || { echo "coverage: needs gcovr (apt-get install gcovr, as root)"; exit 1; }
fi
rm -rf "$OUT"; mkdir -p "$OUT" build/tests
status=0
. tests/extra_flags.sh
for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    gcc -std=c99 -O0 -g --coverage -I. "$src" -o "$OUT/$name" -lm $(extra_of "$src") || { status=1; continue; }
    for simd in auto scalar; do
        if [ "$simd" = scalar ]; then line=$(CNN_SIMD=scalar "$OUT/$name" 2>&1 | tail -n 1); else line=$("$OUT/$name" 2>&1 | tail -n 1); fi
        echo "$name ($simd path): $line"
    done
done
gcovr --root . --filter 'cnn\.h$' --object-directory "$OUT" --txt "$OUT/cnn.h.txt" --html-details "$OUT/index.html" \
      --branches --print-summary "$OUT" 2>/dev/null | tee "$OUT/summary.txt" | grep -E '^(lines|branches):'
gcovr --root . --filter 'cnn\.h$' --object-directory "$OUT" --txt "$OUT/cnn.h.lines.txt" "$OUT" >/dev/null 2>&1
echo "uncovered lines: $OUT/cnn.h.lines.txt (Missing column); per line: $OUT/index.html"
exit $status
