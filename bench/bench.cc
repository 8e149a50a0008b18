// bench.cc - the C++ side of bench.h: Google Benchmark registrations and main().
//
// Each bench_desc becomes one registration whose body activates the benchmark's data (setup
// once, see bench.h), runs the timed loop and sets the counters. main() measures the FMA
// peak, lets Google Benchmark parse its flags, calls bench_register_all() and runs.

#include "bench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <time.h>

namespace {

// Long enough for a stable figure on the small kernels, short enough that the whole suite
// stays within minutes: Google Benchmark first runs one iteration and stops there when it
// took longer than this, so a slow scalar layer costs one iteration per repetition.
const double kDefaultMinTime = 0.25;

struct Entry {
    bench_desc desc;
    std::string label;
    void *ctx;
};

std::deque<Entry> g_entries;      // a deque: the lambdas keep pointers to its elements
Entry *g_active = nullptr;        // the benchmark whose data is alive
bool g_user_min_time = false;     // --benchmark_min_time or BENCHMARK_MIN_TIME was given
double g_peak_gflops = 0.0;        // peak/fma's kernel (AVX2+FMA, NEON or scalar)
double g_peak_avx512 = 0.0;        // peak/fma_avx512's, 0 without AVX-512
std::vector<std::string> g_failed;  // benchmarks that reported an error, for the exit status

void deactivate() {
    if (g_active == nullptr) return;
    if (g_active->desc.teardown != nullptr) g_active->desc.teardown(g_active->ctx);
    g_active->ctx = nullptr;
    g_active = nullptr;
}

// Makes e the benchmark whose data is alive: tears down the previous one, sets e up.
const char *activate(Entry *e) {
    if (g_active == e) return nullptr;
    deactivate();
    e->ctx = nullptr;
    if (e->desc.setup != nullptr) {
        const char *err = e->desc.setup(e->desc.arg, &e->ctx);
        if (err != nullptr) {
            // A failed setup may have allocated part of its data: the teardown frees it.
            if (e->desc.teardown != nullptr) e->desc.teardown(e->ctx);
            e->ctx = nullptr;
            return err;
        }
    }
    g_active = e;
    return nullptr;
}

// The CPU time of this thread, as Google Benchmark measures an iteration (unless a benchmark
// asks for real time, which ours do not).
double thread_cpu_seconds() {
    timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0.0;
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void run_entry(benchmark::State &state, Entry *e) {
    const char *err = activate(e);
    if (err != nullptr) {
        state.SkipWithError(err);
        g_failed.push_back(e->desc.name);
        return;
    }
    const double t0 = thread_cpu_seconds();
    for (auto _ : state) {
        err = e->desc.run(e->ctx);
        if (err != nullptr) {
            state.SkipWithError(err);
            break;
        }
    }
    const double seconds = thread_cpu_seconds() - t0;
    if (err != nullptr) {
        deactivate();   // its data may be in a bad state: set up afresh next time
        g_failed.push_back(e->desc.name);
        return;
    }
    const benchmark::Counter::Flags rate = benchmark::Counter::kIsIterationInvariantRate;
    if (e->desc.flops > 0) {
        state.counters["GFLOPS"] = benchmark::Counter(e->desc.flops * 1e-9, rate);
        // Plain values, not rates: the console would print a rate as "0.0123/s". peak_frac
        // is against the peak of the benchmark's own instruction set, peak_frac_cpu against
        // the best this CPU has.
        const double own = e->desc.peak == BENCH_PEAK_AVX512 ? g_peak_avx512 : g_peak_gflops;
        const double best = std::max(g_peak_gflops, g_peak_avx512);
        if (own > 0 && seconds > 0)
            state.counters["peak_frac"] = double(state.iterations()) * e->desc.flops / (seconds * own * 1e9);
        if (best > 0 && seconds > 0)
            state.counters["peak_frac_cpu"] = double(state.iterations()) * e->desc.flops / (seconds * best * 1e9);
    }
    bench_counter counters[BENCH_MAX_COUNTERS];
    std::copy(e->desc.counters, e->desc.counters + BENCH_MAX_COUNTERS, counters);
    if (e->desc.measured != nullptr) e->desc.measured(e->ctx, counters);
    for (int i = 0; i < BENCH_MAX_COUNTERS && counters[i].name != nullptr; i++) {
        const bench_counter &c = counters[i];
        const bool as_rate = (c.flags & BENCH_RATE) && e->desc.measured == nullptr;
        state.counters[c.name] = benchmark::Counter(
            c.value, as_rate ? rate : benchmark::Counter::kDefaults,
            (c.flags & BENCH_BINARY) ? benchmark::Counter::kIs1024 : benchmark::Counter::kIs1000);
    }
    if (!e->label.empty()) state.SetLabel(e->label);
}

benchmark::TimeUnit time_unit(bench_unit u) {
    switch (u) {
    case BENCH_US: return benchmark::kMicrosecond;
    case BENCH_NS: return benchmark::kNanosecond;
    default: return benchmark::kMillisecond;
    }
}

bool starts_with(const char *s, const char *prefix) {
    return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Best of several short runs: the peak is what the core can do, so noise only lowers it.
// Timed in thread CPU time, like the benchmarks: on a busy machine, wall time would count the
// time other processes hold the core and report half the peak.
double measure_peak_gflops(double (*kernel)(int64_t)) {
    int64_t iters = 1 << 12;
    if (kernel(1) <= 0.0) return 0.0;   // the CPU lacks it
    // Grow the chunk until it takes about 10 ms, then keep the best of a few chunks.
    for (;;) {
        const double t0 = thread_cpu_seconds();
        kernel(iters);
        if (thread_cpu_seconds() - t0 > 0.01 || iters > (int64_t(1) << 40)) break;
        iters *= 2;
    }
    double best = 0.0;
    for (int rep = 0; rep < 10; rep++) {
        const double t0 = thread_cpu_seconds();
        const double flops = kernel(iters);
        const double s = thread_cpu_seconds() - t0;
        if (s > 0) best = std::max(best, flops / s * 1e-9);
    }
    return best;
}

}  // namespace

extern "C" void bench_register(const bench_desc *desc) {
    if (desc == nullptr || desc->name == nullptr || desc->run == nullptr) {
        std::fprintf(stderr, "bench_register: a benchmark needs a name and a run function\n");
        std::exit(2);
    }
    g_entries.push_back(Entry{*desc, desc->label ? desc->label : "", nullptr});
    Entry *e = &g_entries.back();
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        desc->name, [e](benchmark::State &state) { run_entry(state, e); });
    b->Unit(time_unit(desc->unit));
    if (!g_user_min_time) {
        if (desc->iterations > 0)
            b->Iterations(desc->iterations);
        else if (desc->min_time > 0)
            b->MinTime(desc->min_time);
    }
}

extern "C" void bench_add_context(const char *key, const char *value) {
    benchmark::AddCustomContext(key, value);
}

extern "C" double bench_wall_seconds(void) {
    timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

extern "C" double bench_peak_gflops(int peak) {
    return peak == BENCH_PEAK_AVX512 ? g_peak_avx512 : peak < 0 ? std::max(g_peak_gflops, g_peak_avx512) : g_peak_gflops;
}

int main(int argc, char **argv) {
    // The suite's default --benchmark_min_time, unless the user gave one (flag or variable).
    // It is a flag rather than a per-benchmark MinTime() because Google Benchmark appends
    // "/min_time:0.250" to the name of a benchmark with its own MinTime().
    for (int i = 1; i < argc; i++)
        if (starts_with(argv[i], "--benchmark_min_time") ||
            starts_with(argv[i], "-benchmark_min_time"))
            g_user_min_time = true;
    const char *env = std::getenv("BENCHMARK_MIN_TIME");
    if (env != nullptr && env[0] != '\0') g_user_min_time = true;
    std::vector<char *> args(argv, argv + argc);
    char default_min_time[64];
    std::snprintf(default_min_time, sizeof default_min_time, "--benchmark_min_time=%g",
                  kDefaultMinTime);
    if (!g_user_min_time) args.insert(args.begin() + 1, default_min_time);
    args.push_back(nullptr);
    argc = int(args.size()) - 1;
    argv = args.data();

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    g_peak_gflops = measure_peak_gflops(bench_fma_kernel);
    g_peak_avx512 = measure_peak_gflops(bench_fma_avx512_kernel);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%.2f", g_peak_gflops);
    benchmark::AddCustomContext("peak_gflops", buf);
    benchmark::AddCustomContext("peak_kernel", bench_fma_variant());
    if (g_peak_avx512 > 0) {
        std::snprintf(buf, sizeof buf, "%.2f", g_peak_avx512);
        benchmark::AddCustomContext("peak_gflops_avx512", buf);
    }
    bench_cpu_model(buf, sizeof buf);
    benchmark::AddCustomContext("cpu_model", buf);
    benchmark::AddCustomContext("c_compiler", bench_c_compiler());
#ifdef BENCH_CFLAGS
    benchmark::AddCustomContext("c_flags", BENCH_CFLAGS);
#endif
    const char *commit = std::getenv("BENCH_GIT_COMMIT");
    if (commit != nullptr && commit[0] != '\0') benchmark::AddCustomContext("git_commit", commit);

    bench_register_all();
    size_t ran = benchmark::RunSpecifiedBenchmarks();
    deactivate();
    benchmark::Shutdown();
    // Unlike Google Benchmark's own main(), fail when something went wrong, so that a
    // script (or make) notices a broken benchmark or a filter that matches nothing.
    if (ran == 0) return 1;
    if (!g_failed.empty()) {
        std::sort(g_failed.begin(), g_failed.end());
        g_failed.erase(std::unique(g_failed.begin(), g_failed.end()), g_failed.end());
        std::fprintf(stderr, "%d benchmark(s) failed:", int(g_failed.size()));
        for (const std::string &name : g_failed) std::fprintf(stderr, " %s", name.c_str());
        std::fprintf(stderr, "\n");
        return 1;
    }
    return 0;
}
