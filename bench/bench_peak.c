/* bench_peak.c - peak/fma: the FP32 FMA throughput of one core (see peak.c). */
#include "bench_cnn.h"

/* About 1 ms per iteration at 100 GFLOP/s with the AVX2 kernel (12 chains * 16 FLOP). */
#define PEAK_ROUNDS (1 << 19)

static const char *bench__peak_run(void *ctx) {
    (void)ctx;
    bench_fma_kernel(PEAK_ROUNDS);
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
}
