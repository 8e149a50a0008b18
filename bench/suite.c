/* suite.c - the list of benchmark families, the table of code paths, shared helpers. */
#include "bench_cnn.h"

#include <stdio.h>

/* The kernel paths to measure, each forced through cnn_simd_force(): one line per path. */
const bench_isa bench_isas[] = {
    { "scalar", CNN_SIMD_SCALAR, BENCH_PEAK_BASE },
    { "avx2",   CNN_SIMD_AVX2,   BENCH_PEAK_BASE },
    { "avx512", CNN_SIMD_AVX512, BENCH_PEAK_AVX512 },
    { "neon",   CNN_SIMD_NEON,   BENCH_PEAK_BASE },
};
const int bench_isa_count = (int)(sizeof bench_isas / sizeof bench_isas[0]);

int bench_isa_available(const bench_isa *isa) { return cnn_simd_available(isa->path); }

const char *bench_isa_select(const bench_isa *isa) {
    cnn_status st = cnn_simd_force(isa->path);
    return st == CNN_OK ? NULL : bench_cnn_error(isa->name, st);
}

void bench_register_all(void) {
    /* What a program that forces nothing gets: the path behind an unsuffixed figure. */
    bench_add_context("cnn_simd_auto", cnn_simd_name(cnn_simd_active()));
    bench_register_peak();
    bench_register_conv();
    bench_register_conv_transpose();
    bench_register_dense();
    bench_register_pool();
    bench_register_upsample();
    bench_register_elementwise();
    bench_register_batchnorm();
    bench_register_model();
    bench_register_conv_net();
}

float *bench_random_floats(cnn_arena *arena, size_t count, float lo, float hi, cnn_rng *rng) {
    float *p = (float *)cnn_arena_push(arena, count * sizeof(float));
    size_t i;
    if (p == NULL) return NULL;
    for (i = 0; i < count; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(rng);
    return p;
}

const char *bench_cnn_error(const char *what, cnn_status status) {
    static char buf[512];
    const char *msg = cnn_last_error();
    if (msg != NULL && msg[0] != '\0')
        snprintf(buf, sizeof buf, "%s: %s (%s)", what, msg, cnn_status_name(status));
    else
        snprintf(buf, sizeof buf, "%s: %s", what, cnn_status_name(status));
    return buf;
}
