/* bench_batchnorm.c - batchnorm/<CxHxW>/<pass>/scalar: batch normalization of the digit
   model's first two maps at batch 64, as if a batch norm followed each convolution.

   Batch norm has one scalar kernel (no vector twins yet), which every path runs: so only the
   scalar name is registered. The counter is bytes_per_second, the bytes the pass must read
   and write once: x and y forward; x, dy and dx backward. The training forward reads x three
   times (mean, variance, output) and sums in double, so it is expected well below the others. */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct bn_map { int n, c, h, w; } bn_map;

static const bn_map bench__bn_maps[] = {
    { 64, 32, 26, 26 },
    { 64, 64, 11, 11 },
};
#define BN_MAP_COUNT ((int)(sizeof bench__bn_maps / sizeof bench__bn_maps[0]))

/* 0 forward with the batch's statistics, 1 with the running ones, 2 backward (dx, dgamma, dbeta) */
static const char *const bench__bn_passes[] = { "fwd_train", "fwd_eval", "bwd" };

typedef struct bn_case {
    const bn_map *map;
    int pass;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} bn_case;

typedef struct bn_ctx {
    cnn_arena arena;
    bn_map m;
    int pass;
    float *x, *y, *dy, *dx, *gamma, *beta, *mean, *var, *save_mean, *save_invstd, *dgamma, *dbeta;
} bn_ctx;

static void bench__bn_teardown(void *p) {
    bn_ctx *ctx = (bn_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__bn_setup(const void *arg, void **out) {
    const bn_case *bc = (const bn_case *)arg;
    bn_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    size_t xs, c;

    if ((err = bench_isa_select(&bench_isas[0])) != NULL) return err;
    ctx = (bn_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->m = *bc->map;
    ctx->pass = bc->pass;
    xs = (size_t)ctx->m.n * ctx->m.c * ctx->m.h * ctx->m.w;
    c = (size_t)ctx->m.c;
    st = cnn_arena_create(&ctx->arena, sizeof(float) * (4 * xs + 8 * c) + 13 * CNN_ALIGNMENT, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);
    cnn_rng_seed(&rng, 11);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->dy = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->dx = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->gamma = bench_random_floats(&ctx->arena, c, 0.5f, 1.5f, &rng);
    ctx->beta = bench_random_floats(&ctx->arena, c, -0.5f, 0.5f, &rng);
    ctx->mean = bench_random_floats(&ctx->arena, c, -0.1f, 0.1f, &rng);
    ctx->var = bench_random_floats(&ctx->arena, c, 0.5f, 1.5f, &rng);
    ctx->save_mean = bench_random_floats(&ctx->arena, c, 0.f, 1.f, &rng);
    ctx->save_invstd = bench_random_floats(&ctx->arena, c, 0.f, 1.f, &rng);
    ctx->dgamma = bench_random_floats(&ctx->arena, c, 0.f, 1.f, &rng);
    ctx->dbeta = bench_random_floats(&ctx->arena, c, 0.f, 1.f, &rng);
    if (ctx->dbeta == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    /* the backward pass goes through the statistics of a training forward pass */
    st = cnn_batchnorm_forward_train(ctx->m.n, ctx->m.c, ctx->m.h * ctx->m.w, 1e-5f, 0.1f, ctx->x, ctx->gamma, ctx->beta,
                                     ctx->mean, ctx->var, ctx->y, ctx->save_mean, ctx->save_invstd);
    return st == CNN_OK ? NULL : bench_cnn_error("cnn_batchnorm_forward_train", st);
}

static const char *bench__bn_run(void *p) {
    bn_ctx *ctx = (bn_ctx *)p;
    const int n = ctx->m.n, c = ctx->m.c, hw = ctx->m.h * ctx->m.w;
    cnn_status st;
    if (ctx->pass == 0)
        st = cnn_batchnorm_forward_train(n, c, hw, 1e-5f, 0.1f, ctx->x, ctx->gamma, ctx->beta, ctx->mean, ctx->var, ctx->y,
                                         ctx->save_mean, ctx->save_invstd);
    else if (ctx->pass == 1)
        st = cnn_batchnorm_forward_eval(n, c, hw, 1e-5f, ctx->x, ctx->gamma, ctx->beta, ctx->mean, ctx->var, ctx->y);
    else
        st = cnn_batchnorm_backward(n, c, hw, 1, ctx->x, ctx->dy, ctx->gamma, ctx->save_mean, ctx->save_invstd, ctx->dx,
                                    ctx->dgamma, ctx->dbeta);
    return st == CNN_OK ? NULL : bench_cnn_error(bench__bn_passes[ctx->pass], st);
}

void bench_register_batchnorm(void) {
    static bn_case cases[BN_MAP_COUNT * 3];
    int mi, pi, count = 0;
    for (mi = 0; mi < BN_MAP_COUNT; mi++)
        for (pi = 0; pi < 3; pi++) {
            const bn_map *m = &bench__bn_maps[mi];
            bn_case *bc = &cases[count++];
            bench_desc d = {0};
            const double xs = (double)m->n * m->c * m->h * m->w;
            bc->map = m;
            bc->pass = pi;
            snprintf(bc->name, sizeof bc->name, "batchnorm/%dx%dx%d/%s/%s", m->c, m->h, m->w, bench__bn_passes[pi],
                     bench_isas[0].name);
            snprintf(bc->label, sizeof bc->label, "N%d %dx%dx%d", m->n, m->c, m->h, m->w);
            d.name = bc->name;
            d.label = bc->label;
            d.arg = bc;
            d.setup = bench__bn_setup;
            d.run = bench__bn_run;
            d.teardown = bench__bn_teardown;
            d.unit = BENCH_US;
            d.counters[0].name = "bytes_per_second";
            d.counters[0].value = 4.0 * xs * (pi == 2 ? 3.0 : 2.0);
            d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
            bench_register(&d);
        }
}
