# cnn.h - build, test, demo, benchmark.
#   make test    the whole test suite (normal, sanitizers, header checks)
#   make demo    fetch real MNIST digits, train the digit classifier, evaluate, save
#   make bench   micro-benchmarks (Google Benchmark)
CC      ?= cc
CFLAGS  ?= -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror
BUILD   := build

.PHONY: all test demo examples clean
all: examples

test:
	CC="$(CC)" bash tests/run.sh

include mk/data.mk
-include mk/bench.mk

clean:
	rm -rf $(BUILD) out
