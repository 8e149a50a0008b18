# cnn.h - build, test, demo, benchmark.
#   make test    the whole test suite (normal, sanitizers, header checks)
#   make demo    fetch real MNIST digits, train the digit classifier, evaluate, save
#   make bench   micro-benchmarks (Google Benchmark)
#   make fuzz, make coverage, make valgrind: the hardening runs (mk/hardening.mk, docs/testing.md)
CC      ?= cc
CFLAGS  ?= -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror
BUILD   := build

.PHONY: all test test-aarch64 demo examples clean
all: examples

test:
	CC="$(CC)" bash tests/run.sh

# Only the cross-compiled AArch64 (NEON) suites under qemu.
test-aarch64:
	CC="$(CC)" CNN_ONLY_AARCH64=1 bash tests/run.sh

include mk/data.mk
-include mk/bench.mk
include mk/demo.mk
include mk/hardening.mk

clean:
	rm -rf $(BUILD) out
