# mk/bench.mk - `make bench`: the micro-benchmark suite of bench/, over Google Benchmark.
#
# Included by the main Makefile; also works alone: make -f mk/bench.mk bench
#   make bench                   build, run every benchmark, save bench/results/latest.json
#   make bench ARGS='--benchmark_filter=conv/V1 --benchmark_repetitions=3'
#   BENCHMARK_FILTER=peak make bench      Google Benchmark's variables work as well
#   make bench-build             only build build/bench/cnn_bench
#   make bench-report            docs/benchmarks.md and docs/bench_gflops.png from a JSON run
#                                (BENCH_JSON=bench/results/<run>.json, default the latest)
#
# The benchmarks are C99 (-O2) against cnn.h, whose implementation is compiled once
# (bench/cnn_impl.c); bench/bench.cc is the C++ shim over Google Benchmark (libbenchmark-dev),
# which is installed with apt-get when it is missing and we are root, else named.
#
# `make bench` runs the binary itself, with ARGS (or BENCH_ARGS) and the environment as they
# are. It only adds --benchmark_out=bench/results/latest.json --benchmark_out_format=json
# when the user chose no output file: neither --benchmark_out in ARGS nor BENCHMARK_OUT in
# the environment (set even to empty). A format chosen without a file (the flag or
# BENCHMARK_OUT_FORMAT) is kept, and names the file: latest.csv for csv.
#
# Only the targets bench, bench-build and bench-report are defined; every variable starts
# with BENCH_ (ARGS is read, never set) so the including Makefile's names are left alone.

# Paths are relative to the repository root, wherever make was started from (make -C, -f).
BENCH_ROOT := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))

BENCH_CC ?= $(CC)
BENCH_CXX ?= $(CXX)
BENCH_CFLAGS ?= -std=c99 -O2 -Wall -Wextra -Wpedantic
BENCH_CXXFLAGS ?= -O2 -Wall -Wextra
BENCH_LDLIBS ?= -lbenchmark -lpthread
BENCH_PYTHON ?= python3
BENCH_GNUPLOT ?= gnuplot
BENCH_ARGS ?= $(ARGS)

BENCH_BUILD := $(BENCH_ROOT)/build/bench
BENCH_BIN := $(BENCH_BUILD)/cnn_bench
BENCH_RESULTS ?= $(BENCH_ROOT)/bench/results
BENCH_JSON ?= $(BENCH_RESULTS)/latest.json
BENCH_MD ?= $(BENCH_ROOT)/docs/benchmarks.md
BENCH_PNG ?= $(BENCH_ROOT)/docs/bench_gflops.png

BENCH_C_SRCS := $(sort $(wildcard $(BENCH_ROOT)/bench/*.c))
BENCH_C_OBJS := $(patsubst $(BENCH_ROOT)/bench/%.c,$(BENCH_BUILD)/%.o,$(BENCH_C_SRCS))
BENCH_CXX_OBJ := $(BENCH_BUILD)/bench.o

# Standalone (`make -f mk/bench.mk`) `bench` is the default goal, as usual; when included, the
# including Makefile's default goal must not become `bench`, even if it is included first.
BENCH_STANDALONE := $(filter 1,$(words $(MAKEFILE_LIST)))
BENCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Finds Google Benchmark's header; installs libbenchmark-dev when missing (root with apt-get),
# else says what to install and fails.
define BENCH_NEED_GBENCH
if ! printf '#include <benchmark/benchmark.h>\nint main(void) { return 0; }\n' | \
    $(BENCH_CXX) $(BENCH_CXXFLAGS) -x c++ -fsyntax-only - >/dev/null 2>&1; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "make bench: Google Benchmark is missing: apt-get install libbenchmark-dev"; \
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libbenchmark-dev || exit 1; \
  else \
    echo "make bench: Google Benchmark (benchmark/benchmark.h, -lbenchmark) is missing." >&2; \
    echo "  Debian/Ubuntu: sudo apt-get install libbenchmark-dev" >&2; \
    echo "  Fedora: sudo dnf install google-benchmark-devel   macOS: brew install google-benchmark" >&2; \
    exit 1; \
  fi; \
fi
endef

# The same for gnuplot (bench-report's chart): gnuplot-nox is gnuplot without X11.
define BENCH_NEED_GNUPLOT
if ! command -v $(BENCH_GNUPLOT) >/dev/null 2>&1; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "make bench-report: gnuplot is missing: apt-get install gnuplot-nox"; \
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gnuplot-nox || exit 1; \
  else \
    echo "make bench-report: gnuplot is missing. Debian/Ubuntu: sudo apt-get install gnuplot-nox" >&2; \
    exit 1; \
  fi; \
fi
endef

.PHONY: bench bench-build bench-report

# Phony: every run measures anew. The decision about the output file is made in the shell
# because the environment is the user's (see the top of this file).
bench: bench-build
	@mkdir -p $(BENCH_RESULTS)
	@set -- $(BENCH_ARGS); \
	out=; fmt=; \
	for a in "$$@"; do \
	  case "$$a" in \
	    --benchmark_out=*|-benchmark_out=*) out=user ;; \
	    --benchmark_out_format=*|-benchmark_out_format=*) fmt="$${a#*=}" ;; \
	  esac; \
	done; \
	if [ -n "$${BENCHMARK_OUT+set}" ]; then out=user; fi; \
	if [ -z "$$fmt" ] && [ -n "$${BENCHMARK_OUT_FORMAT:-}" ]; then fmt="$$BENCHMARK_OUT_FORMAT"; fi; \
	if [ -z "$$out" ]; then \
	  if [ -z "$$fmt" ]; then \
	    out="$(BENCH_RESULTS)/latest.json"; set -- "$$@" --benchmark_out="$$out" --benchmark_out_format=json; \
	  else \
	    out="$(BENCH_RESULTS)/latest.$$fmt"; set -- "$$@" --benchmark_out="$$out"; \
	  fi; \
	else \
	  out=; \
	fi; \
	BENCH_GIT_COMMIT="$$(git -C $(BENCH_ROOT) describe --always --dirty 2>/dev/null)" \
	  $(BENCH_BIN) "$$@" || exit $$?; \
	if [ -n "$$out" ]; then echo "make bench: results in $$out"; fi

bench-build: $(BENCH_BIN)

bench-report:
	@[ -f "$(BENCH_JSON)" ] || { echo "make bench-report: no $(BENCH_JSON); run make bench first" >&2; exit 1; }
	@command -v $(BENCH_PYTHON) >/dev/null 2>&1 || { \
	    echo "make bench-report: $(BENCH_PYTHON) not found; apt-get install python3" >&2; exit 1; }
	@$(BENCH_NEED_GNUPLOT)
	$(BENCH_PYTHON) $(BENCH_ROOT)/bench/report.py $(BENCH_JSON) --md $(BENCH_MD) \
	    --png $(BENCH_PNG) --gnuplot $(BENCH_GNUPLOT)

$(BENCH_BIN): $(BENCH_C_OBJS) $(BENCH_CXX_OBJ)
	$(BENCH_CXX) $(BENCH_CXXFLAGS) -o $@ $^ $(BENCH_LDLIBS)

$(BENCH_BUILD)/%.o: $(BENCH_ROOT)/bench/%.c | $(BENCH_BUILD)
	$(BENCH_CC) $(BENCH_CFLAGS) -MMD -MP -c -o $@ $<

# The C flags go into the run's context, so a JSON file says how its numbers were built.
$(BENCH_CXX_OBJ): $(BENCH_ROOT)/bench/bench.cc | $(BENCH_BUILD)
	@$(BENCH_NEED_GBENCH)
	$(BENCH_CXX) $(BENCH_CXXFLAGS) -DBENCH_CFLAGS='"$(BENCH_CFLAGS)"' -MMD -MP -c -o $@ $<

$(BENCH_BUILD):
	@mkdir -p $@

-include $(BENCH_C_OBJS:.o=.d) $(BENCH_CXX_OBJ:.o=.d)

# An empty .DEFAULT_GOAL makes make pick the next target it reads instead.
ifeq ($(BENCH_STANDALONE),)
.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
endif
