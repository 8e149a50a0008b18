/* bench_cnn.h - what the cnn.h benchmarks share: the table of code paths (isas), buffers. */
#ifndef BENCH_CNN_H
#define BENCH_CNN_H

#include "bench.h"
#include "../cnn.h"

/* A kernel path of cnn.h, the last part of a benchmark's name. The paths this CPU (or this
   build) lacks are not registered. Every benchmark's setup forces its path, so benchmarks of
   different paths run in one process. */
typedef struct bench_isa {
    const char *name;
    cnn_simd path;
    int peak;              /* the FMA peak its peak_frac is against: BENCH_PEAK_BASE or _AVX512 */
} bench_isa;

extern const bench_isa bench_isas[];
extern const int bench_isa_count;

/* Nonzero when this CPU and build have the path. */
int bench_isa_available(const bench_isa *isa);
/* Makes cnn.h use the path from now on: NULL, or a message saying why it cannot. */
const char *bench_isa_select(const bench_isa *isa);

/* Names are built into these (a benchmark's strings must outlive it). */
#define BENCH_NAME_MAX 96

/* 'count' floats, 64-byte aligned, from the arena, uniform in [lo, hi); NULL when full. */
float *bench_random_floats(cnn_arena *arena, size_t count, float lo, float hi, cnn_rng *rng);

/* "conv2d: ..." : cnn_last_error() if it says something, else the status name, kept in a
   static buffer (benchmarks run one at a time). */
const char *bench_cnn_error(const char *what, cnn_status status);

/* bench_pair.c: registers 'name' (copied), the benchmarks of the setup arguments first and
   second (one setup, run and teardown) alternated in blocks within each run. Counters:
   speedup, the median over the blocks of first's time over second's, and the median time
   of a call of each side in ms, named first_ms and second_ms (string literals). */
void bench_register_pair(const char *name, const char *first_ms, const char *second_ms, const void *first,
                         const void *second, bench_setup_fn setup, bench_run_fn run, bench_teardown_fn teardown);

/* The digit model (bench_model.c), described in net but not built: 93,322 parameters. */
#define BENCH_DIGITS_PARAMS 93322
cnn_status bench_digits_model(cnn_net *net);

/* The registration functions of each file, called by bench_register_all() (suite.c). */
void bench_register_peak(void);
void bench_register_conv(void);
void bench_register_conv_transpose(void);
void bench_register_dense(void);
void bench_register_pool(void);
void bench_register_upsample(void);
void bench_register_model(void);
void bench_register_conv_net(void);   /* bench_model.c: V1-V4 as a network layer, 1 and 2 threads */
void bench_register_elementwise(void);
void bench_register_batchnorm(void);

#endif /* BENCH_CNN_H */
