/* bench_cnn.h - what the cnn.h benchmarks share: the table of code paths (isas), buffers. */
#ifndef BENCH_CNN_H
#define BENCH_CNN_H

#include "bench.h"
#include "../cnn.h"

/* A code path of cnn.h, the last part of a benchmark's name. select() makes the library use
   this path from now on and returns nonzero, or returns 0 when this CPU (or this build)
   does not have it: then its benchmarks are not registered. Every benchmark's setup calls
   its path's select(), so benchmarks of different paths can run in one process. */
typedef struct bench_isa {
    const char *name;
    int (*select)(void);
} bench_isa;

extern const bench_isa bench_isas[];
extern const int bench_isa_count;

/* Names are built into these (a benchmark's strings must outlive it). */
#define BENCH_NAME_MAX 96

/* 'count' floats, 64-byte aligned, from the arena, uniform in [lo, hi); NULL when full. */
float *bench_random_floats(cnn_arena *arena, size_t count, float lo, float hi, cnn_rng *rng);

/* "conv2d: ..." : cnn_last_error() if it says something, else the status name, kept in a
   static buffer (benchmarks run one at a time). */
const char *bench_cnn_error(const char *what, cnn_status status);

/* The registration functions of each file, called by bench_register_all() (suite.c). */
void bench_register_peak(void);
void bench_register_conv(void);
void bench_register_dense(void);
void bench_register_pool(void);
void bench_register_model(void);

#endif /* BENCH_CNN_H */
