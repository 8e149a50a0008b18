# mk/hardening.mk - the long runs of the hardening machinery (docs/testing.md). Included by the
# main Makefile; `make test` already runs every fuzz target for about a minute.
#   make fuzz        every libFuzzer target for FUZZ_SECONDS each (default 600); their finds
#                    grow build/fuzz/corpus_<target>; a crash prints its reproducer
#   make coverage    line and branch coverage of cnn.h by the test suite (gcovr; installed with
#                    apt-get when missing and root): build/coverage/index.html
#   make valgrind    the test suite on the scalar path under valgrind's memcheck
FUZZ_SECONDS ?= 600

.PHONY: fuzz coverage valgrind
fuzz:
	CNN_FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz.sh

coverage:
	bash tests/coverage.sh

valgrind:
	CC="$(CC)" bash tests/valgrind.sh
