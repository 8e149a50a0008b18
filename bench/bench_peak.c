/* bench_peak.c - peak/fma: the FP32 FMA throughput of one core (see peak.c) with AVX2+FMA
   (NEON, scalar); and, where the CPU has AVX-512, peak/fma_avx512: with 512-bit vectors,
   the peak of cnn.h's avx512 path. */
#include "bench_cnn.h"

/* About 1 ms per iteration at 100 GFLOP/s with the AVX2 kernel (12 chains * 16 FLOP). */
#define PEAK_ROUNDS (1 << 19)

static const char *bench__peak_run(void *ctx) {
    (void)ctx;
    bench_fma_kernel(PEAK_ROUNDS);
    return NULL;
}

static const char *bench__peak_avx512_run(void *ctx) {
    (void)ctx;
    bench_fma_avx512_kernel(PEAK_ROUNDS);
    return NULL;
}

void bench_register_peak(void) {
    bench_desc d = {0};
    d.name = "peak/fma";
    d.run = bench__peak_run;
    d.flops = bench_fma_kernel(1) * PEAK_ROUNDS;   /* the kernel says what one round does */
    d.label = bench_fma_variant();
    d.unit = BENCH_US;
    bench_register(&d);
    if (bench_fma_avx512_kernel(1) > 0.0) {
        bench_desc e = {0};
        e.name = "peak/fma_avx512";
        e.run = bench__peak_avx512_run;
        e.flops = bench_fma_avx512_kernel(1) * PEAK_ROUNDS;
        e.label = "avx512f";
        e.peak = BENCH_PEAK_AVX512;
        e.unit = BENCH_US;
        bench_register(&e);
    }
}
