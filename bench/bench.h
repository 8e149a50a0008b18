/* bench.h - a C interface to Google Benchmark, for benchmarks written in C.

   A benchmark is a description (bench_desc) registered with bench_register(): a name, a
   setup that builds its data, a run that is one timed iteration, a teardown, and counters.
   bench.cc (C++) turns each into a Google Benchmark registration and provides main(), which
   calls bench_register_all() (written by you, in C) and then runs what the flags select:
   --benchmark_filter, --benchmark_repetitions, --benchmark_format, --benchmark_out, and
   their BENCHMARK_* environment variables, all work as in any Google Benchmark binary.

       static const char *setup(const void *arg, void **ctx) { ...; *ctx = data; return NULL; }
       static const char *run(void *ctx)   { return work(ctx) ? "work failed" : NULL; }
       static void teardown(void *ctx)     { free(ctx); }

       bench_desc d = {0};
       d.name = "thing/fwd/scalar"; d.setup = setup; d.run = run; d.teardown = teardown;
       d.flops = 2.0 * n * n * n;       (adds the GFLOPS and peak_frac counters)
       bench_register(&d);

   The program exits with status 1 when a benchmark failed or the filter matched none.

   SETUP AND TEARDOWN
       setup runs once before a benchmark's first timed run and teardown once after its last
       (when the next benchmark starts, or at exit), so only one benchmark's data is alive at a
       time and an expensive setup is not repeated for each of Google Benchmark's trial runs.
       Neither is timed. A setup or run that returns a message (not NULL) marks the benchmark
       failed with that message; the other benchmarks still run.

   COUNTERS
       Values are per iteration. BENCH_RATE counters are divided by the time of an iteration
       (Google Benchmark's kIsIterationInvariantRate: 'images: 64' reports images per second);
       plain ones are reported as given. The console prints rates with a '/s' suffix and SI
       prefixes ('1.2k/s', '17m/s' = 0.017/s); the JSON output holds the plain numbers.
       flops > 0 adds three counters:
         GFLOPS     a rate, flops / 1e9 per iteration: GFLOP/s
         peak_frac  GFLOPS over the peak of the instruction set the benchmark runs (its
                    desc.peak: the AVX2+FMA, NEON or scalar kernel of peak/fma, or the
                    AVX-512 one of peak/fma_avx512), measured at start-up, computed from the
                    same CPU time; plain, since the console would print it as a rate.
         peak_frac_cpu  GFLOPS over the best of those peaks on this CPU: for an AVX2
                    benchmark on a CPU with full-width AVX-512, the headroom it leaves.

   TIME
       The suite runs every benchmark for --benchmark_min_time=0.25 (the default passed to
       Google Benchmark when neither the flag nor BENCHMARK_MIN_TIME is given). Google
       Benchmark first times one iteration and stops there when it took longer than that, so
       a slow layer costs one iteration per repetition and a fast one about a quarter second.
       min_time (seconds) and iterations (a fixed count) override this for one benchmark,
       but Google Benchmark then appends "/min_time:0.500" or "/iterations:10" to its name,
       which breaks the naming scheme: the suite does not use them. A user's
       --benchmark_min_time (flag or variable) wins over both, for every benchmark.

   MEASURED COUNTERS
       A benchmark may compute counters from what its runs measured, rather than give them
       beforehand: desc.measured, when set, is called after each timed run (Google Benchmark's
       trial run and every repetition) with a copy of desc.counters, whose values it sets.
       It should then forget what it measured, so that the next run starts afresh. Such
       counters are plain values, whatever their flags. The ratio benchmarks of
       bench_model.c use it: they alternate two networks inside the run and report the
       median of the ratios of their times (bench_wall_seconds() times them, since a thread
       pool's work is not the calling thread's CPU time).
*/
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns NULL on success or a message saying what failed (a static or long-lived string). */
typedef const char *(*bench_setup_fn)(const void *arg, void **ctx);
typedef const char *(*bench_run_fn)(void *ctx);
typedef void (*bench_teardown_fn)(void *ctx);

enum {
    BENCH_PLAIN = 0,         /* reported as given                                      */
    BENCH_RATE = 1,          /* per iteration, reported per second                     */
    BENCH_BINARY = 2         /* console prefixes in powers of 1024 (bytes)             */
};

#define BENCH_MAX_COUNTERS 4

/* Which FMA peak a benchmark's peak_frac is measured against. */
enum {
    BENCH_PEAK_BASE = 0,     /* peak/fma: AVX2+FMA on x86, NEON on AArch64, else scalar  */
    BENCH_PEAK_AVX512 = 1    /* peak/fma_avx512: 16-float vectors (0 without AVX-512)     */
};

typedef struct bench_counter {
    const char *name;        /* NULL ends the list                                     */
    double value;            /* per iteration                                          */
    int flags;               /* BENCH_RATE, BENCH_BINARY                               */
} bench_counter;

typedef enum bench_unit { BENCH_MS = 0, BENCH_US, BENCH_NS } bench_unit;

/* Sets the values of 'counters' (BENCH_MAX_COUNTERS, a copy of desc.counters) from the run
   that just ended; see MEASURED COUNTERS. */
typedef void (*bench_measured_fn)(void *ctx, bench_counter *counters);

/* Zero-initialise and set what you need; name and run are required. The strings must live
   until the program ends (string literals, or static buffers that are not reused). */
typedef struct bench_desc {
    const char *name;
    bench_setup_fn setup;             /* may be NULL: ctx is then NULL               */
    bench_run_fn run;
    bench_teardown_fn teardown;       /* may be NULL                                 */
    const void *arg;                  /* handed to setup                             */
    double flops;                     /* per iteration; > 0 adds GFLOPS, peak_frac   */
    bench_counter counters[BENCH_MAX_COUNTERS];
    const char *label;                /* shown after the counters (may be NULL)      */
    double min_time;                  /* seconds; 0: the suite default               */
    int64_t iterations;               /* a fixed count instead of min_time; 0: off   */
    bench_unit unit;                  /* default milliseconds                        */
    int peak;                         /* BENCH_PEAK_BASE or BENCH_PEAK_AVX512        */
    bench_measured_fn measured;       /* may be NULL: counters as given              */
} bench_desc;

/* Copies the description (not the strings it points to). */
void bench_register(const bench_desc *desc);

/* Adds a key: value pair to the run's context (the "context" object of the JSON output). */
void bench_add_context(const char *key, const char *value);

/* The FP32 FMA peak measured when the program started, in GFLOP/s: of the kernel 'peak'
   names (BENCH_PEAK_BASE, BENCH_PEAK_AVX512; 0 when the CPU lacks it), or, for -1, the best
   of them. */
double bench_peak_gflops(int peak);

/* Seconds on a monotonic wall clock, from an arbitrary start: for timing inside a run. */
double bench_wall_seconds(void);

/* Written by the benchmark sources: registers every benchmark. Called once by main(). */
void bench_register_all(void);

/* --- peak.c: the FMA throughput kernel, in C so it is compiled like the benchmarks ------- */

/* Runs 'iterations' rounds of independent FMA chains and returns the FLOPs done (2 per
   lane per FMA). The result of the arithmetic goes to a volatile sink. */
double bench_fma_kernel(int64_t iterations);
/* The same with AVX-512 (16-float vectors); 0 without doing anything when the CPU or the OS
   lacks it. */
double bench_fma_avx512_kernel(int64_t iterations);
/* "avx2+fma", "neon" or "scalar": the variant bench_fma_kernel uses on this CPU. */
const char *bench_fma_variant(void);
/* The CPU's model name ("AMD EPYC 9R14 ...") into buf; "unknown" when it cannot tell. */
void bench_cpu_model(char *buf, int cap);
/* "gcc 12.2.0" or "clang 14.0.6": the C compiler that built the benchmarks. */
const char *bench_c_compiler(void);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_H */
