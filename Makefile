# cnn.h - build, test, demo, benchmark.
#   make test    the whole test suite (normal, sanitizers, header checks)
#   make demo    fetch real MNIST digits, train the digit classifier, evaluate, save
#   make bench   micro-benchmarks (Google Benchmark)
#   make install PREFIX=/usr/local DESTDIR=   cnn.h, cnn.pc (pkg-config), cnnConfig.cmake
#   make fuzz, make coverage, make valgrind: the hardening runs (mk/hardening.mk, docs/testing.md)
CC      ?= cc
CFLAGS  ?= -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror
BUILD   := build

.PHONY: all test test-aarch64 demo examples clean install uninstall
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

# Install: the header in include/, and what build systems need to find it: a pkg-config file
# (share/pkgconfig/cnn.pc: `pkg-config --cflags --libs cnn`) and a CMake package
# (share/cmake/cnn: `find_package(cnn)`, target cnn::cnn). Header-only, so nothing depends on
# the architecture and everything goes under share/. DESTDIR stages (packaging); PREFIX is
# where it will live.
PREFIX  ?= /usr/local
DESTDIR ?=
CNN_VERSION := $(shell sed -n 's/^\#define CNN_VERSION_STRING "\(.*\)"/\1/p' cnn.h)
INSTALL_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(CNN_VERSION)|g'

install:
	@test -n "$(CNN_VERSION)" || { echo "install: no CNN_VERSION_STRING in cnn.h"; exit 1; }
	install -d "$(DESTDIR)$(PREFIX)/include" "$(DESTDIR)$(PREFIX)/share/pkgconfig" "$(DESTDIR)$(PREFIX)/share/cmake/cnn"
	install -m 644 cnn.h "$(DESTDIR)$(PREFIX)/include/cnn.h"
	$(INSTALL_SUBST) cmake/cnn.pc.in > "$(DESTDIR)$(PREFIX)/share/pkgconfig/cnn.pc"
	$(INSTALL_SUBST) cmake/cnnConfig.cmake.in > "$(DESTDIR)$(PREFIX)/share/cmake/cnn/cnnConfig.cmake"
	$(INSTALL_SUBST) cmake/cnnConfigVersion.cmake.in > "$(DESTDIR)$(PREFIX)/share/cmake/cnn/cnnConfigVersion.cmake"
	@echo "installed cnn.h $(CNN_VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/include/cnn.h" "$(DESTDIR)$(PREFIX)/share/pkgconfig/cnn.pc" \
	      "$(DESTDIR)$(PREFIX)/share/cmake/cnn/cnnConfig.cmake" "$(DESTDIR)$(PREFIX)/share/cmake/cnn/cnnConfigVersion.cmake"
	-rmdir "$(DESTDIR)$(PREFIX)/share/cmake/cnn" 2>/dev/null

clean:
	rm -rf $(BUILD) out
