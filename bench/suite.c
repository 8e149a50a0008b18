/* suite.c - the list of benchmark families, the table of code paths, shared helpers. */
#include "bench_cnn.h"

#include <stdio.h>

/* The portable kernels: today cnn.h's only path, so there is nothing to force.
   When cnn.h gains a path-forcing call, this becomes a call to it, and a vector path is one
   more line in the table below, e.g. { "avx2", bench__select_avx2 } with
       static int bench__select_avx2(void) { return <force the AVX2 path> == CNN_OK; }  */
static int bench__select_scalar(void) { return 1; }

const bench_isa bench_isas[] = {
    { "scalar", bench__select_scalar },
};
const int bench_isa_count = (int)(sizeof bench_isas / sizeof bench_isas[0]);

void bench_register_all(void) {
    bench_register_peak();
    bench_register_conv();
    bench_register_dense();
    bench_register_pool();
    bench_register_model();
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
