/* bench_pool.c - pool/<kind>_<CxHxW>/<pass>/<isa>: 2x2 stride-2 pooling of the digit model's
   maps at batch 64 (after its first and second convolutions).

   Pooling does almost no arithmetic, so the counter is bytes_per_second: the bytes the pass
   must read and write (x and y forward, dy and dx backward, and the max-pool positions). */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct pool_map { int n, c, h, w; } pool_map;

static const pool_map bench__pool_maps[] = {
    { 64, 32, 26, 26 },
    { 64, 64, 11, 11 },
};
#define MAP_COUNT ((int)(sizeof bench__pool_maps / sizeof bench__pool_maps[0]))

static const char *const bench__pool_kinds[] = { "max", "avg" };
/* Pooling has no weights: its backward pass is the gradient of the data only. */
static const char *const bench__pool_passes[] = { "fwd", "bwd_data" };

typedef struct pool_case {
    const pool_map *map;
    int avg, backward;
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} pool_case;

typedef struct pool_ctx {
    cnn_arena arena;
    cnn_pool2d_shape s;
    int avg, backward;
    float *x, *y, *dy, *dx;
    int32_t *argmax;
} pool_ctx;

static cnn_pool2d_shape bench__pool_shape(const pool_map *m) {
    cnn_pool2d_shape s = {0};
    s.n = m->n; s.c = m->c; s.h = m->h; s.w = m->w;
    s.kh = 2; s.kw = 2;
    s.stride_h = 2; s.stride_w = 2;
    return s;
}

static void bench__pool_teardown(void *p) {
    pool_ctx *ctx = (pool_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__pool_setup(const void *arg, void **out) {
    const pool_case *pc = (const pool_case *)arg;
    pool_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    int oh, ow;
    size_t xs, ys, bytes;

    if ((err = bench_isa_select(pc->isa)) != NULL) return err;
    ctx = (pool_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->s = bench__pool_shape(pc->map);
    ctx->avg = pc->avg;
    ctx->backward = pc->backward;
    st = cnn_pool2d_check(&ctx->s, &oh, &ow);
    if (st != CNN_OK) return bench_cnn_error("cnn_pool2d_check", st);
    xs = (size_t)ctx->s.n * ctx->s.c * ctx->s.h * ctx->s.w;
    ys = (size_t)ctx->s.n * ctx->s.c * oh * ow;
    bytes = sizeof(float) * 2 * (xs + ys) + sizeof(int32_t) * ys + 5 * CNN_ALIGNMENT;
    st = cnn_arena_create(&ctx->arena, bytes, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);

    cnn_rng_seed(&rng, 3);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dy = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dx = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->argmax = (int32_t *)cnn_arena_push(&ctx->arena, sizeof(int32_t) * ys);
    if (ctx->argmax == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    /* The backward pass of max pooling routes through the positions of a forward pass. */
    st = cnn_maxpool2d_forward(&ctx->s, ctx->x, ctx->y, ctx->argmax);
    if (st != CNN_OK) return bench_cnn_error("cnn_maxpool2d_forward", st);
    return NULL;
}

static const char *bench__pool_run(void *p) {
    pool_ctx *ctx = (pool_ctx *)p;
    cnn_status st;
    if (ctx->avg)
        st = ctx->backward ? cnn_avgpool2d_backward(&ctx->s, ctx->dy, ctx->dx)
                           : cnn_avgpool2d_forward(&ctx->s, ctx->x, ctx->y);
    else
        st = ctx->backward ? cnn_maxpool2d_backward(&ctx->s, ctx->dy, ctx->argmax, ctx->dx)
                           : cnn_maxpool2d_forward(&ctx->s, ctx->x, ctx->y, ctx->argmax);
    return st == CNN_OK ? NULL : bench_cnn_error(ctx->backward ? "pool backward" : "pool forward", st);
}

void bench_register_pool(void) {
    static pool_case *cases;
    int mi, ki, pi, ii, count = 0;
    cases = (pool_case *)calloc((size_t)MAP_COUNT * 2 * 2 * bench_isa_count, sizeof *cases);
    if (cases == NULL) return;
    for (mi = 0; mi < MAP_COUNT; mi++)
        for (ki = 0; ki < 2; ki++)
            for (pi = 0; pi < 2; pi++)
                for (ii = 0; ii < bench_isa_count; ii++) {
                    const pool_map *m = &bench__pool_maps[mi];
                    pool_case *pc = &cases[count++];
                    bench_desc d = {0};
                    double xs = (double)m->n * m->c * m->h * m->w;
                    double ys = (double)m->n * m->c * (m->h / 2) * (m->w / 2);
                    if (!bench_isa_available(&bench_isas[ii])) continue;
                    pc->map = m;
                    pc->avg = ki;
                    pc->backward = pi;
                    pc->isa = &bench_isas[ii];
                    snprintf(pc->name, sizeof pc->name, "pool/%s_%dx%dx%d/%s/%s",
                             bench__pool_kinds[ki], m->c, m->h, m->w, bench__pool_passes[pi],
                             bench_isas[ii].name);
                    snprintf(pc->label, sizeof pc->label, "N%d %dx%dx%d 2x2 s2", m->n, m->c,
                             m->h, m->w);
                    d.name = pc->name;
                    d.label = pc->label;
                    d.arg = pc;
                    d.setup = bench__pool_setup;
                    d.run = bench__pool_run;
                    d.teardown = bench__pool_teardown;
                    d.unit = BENCH_US;
                    d.counters[0].name = "bytes_per_second";
                    /* 4 bytes per float read or written, and per max-pool position */
                    d.counters[0].value = 4.0 * (xs + ys + (ki == 0 ? ys : 0.0));
                    d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
                    bench_register(&d);
                }
}
