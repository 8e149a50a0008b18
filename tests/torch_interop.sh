#!/usr/bin/env bash
# tests/torch_interop.sh - cnn.h model files to PyTorch and back (tools/cnnh_torch.py), with
# the predictions of both compared on the same inputs (tests/torch_interop.py). Runs when a
# python3 that imports torch and numpy is found (PYTHON, python3, /usr/bin/python3: Debian's
# python3-torch installs for the system python); otherwise says SKIPPED. Prints the harness's
# "N passed, N failed" last.
set -u
cd "$(dirname "$0")/.."
CC=${CC:-cc}
OUT=build/tests/torch
py=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, numpy' >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "SKIPPED torch interop: no python3 here imports torch and numpy (Debian: apt-get install python3-torch python3-numpy)"
    echo "0 passed, 0 failed"
    exit 0
fi
mkdir -p "$OUT"
if ! $CC -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -I. tools/npy_predict.c -o "$OUT/npy_predict" -lm; then
    echo "FAIL build tools/npy_predict.c"
    echo "0 passed, 1 failed"
    exit 1
fi
exec "$py" tests/torch_interop.py "$OUT/npy_predict" "$OUT"
