/* bench_upsample.c - upsample/<mode>_<CxHxW>_x2/<pass>/scalar: x2 upsampling of the
   autoencoder's maps (examples/autoencoder.c) at batch 64, nearest, bilinear, and bilinear
   with align_corners.

   Upsampling has only the scalar reference (no vector twin yet), so it is measured on that
   path only. Like pooling it does little arithmetic: the counter is bytes_per_second, the
   bytes the pass must read and write (x and y forward, dy and dx backward). */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct upsample_map { int n, c, h, w; } upsample_map;

static const upsample_map bench__upsample_maps[] = {
    { 64, 16, 7, 7 },
    { 64, 16, 14, 14 },
};
#define UPSAMPLE_MAP_COUNT ((int)(sizeof bench__upsample_maps / sizeof bench__upsample_maps[0]))

static const char *const bench__upsample_modes[] = { "nearest", "bilinear", "bilinear_ac" };
static const char *const bench__upsample_passes[] = { "fwd", "bwd_data" };

typedef struct upsample_case {
    const upsample_map *map;
    int mode, backward;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} upsample_case;

typedef struct upsample_ctx {
    cnn_arena arena;
    cnn_upsample2d_shape s;
    int backward;
    float *x, *y;
} upsample_ctx;

static void bench__upsample_teardown(void *p) {
    upsample_ctx *ctx = (upsample_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__upsample_setup(const void *arg, void **out) {
    const upsample_case *uc = (const upsample_case *)arg;
    const upsample_map *m = uc->map;
    upsample_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    size_t xs, ys;

    if ((err = bench_isa_select(&bench_isas[0])) != NULL) return err;    /* scalar */
    ctx = (upsample_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->s.n = m->n; ctx->s.c = m->c; ctx->s.h = m->h; ctx->s.w = m->w;
    ctx->s.out_h = 2 * m->h; ctx->s.out_w = 2 * m->w;
    ctx->s.mode = uc->mode ? CNN_UPSAMPLE_BILINEAR : CNN_UPSAMPLE_NEAREST;
    ctx->s.align_corners = uc->mode == 2;
    ctx->backward = uc->backward;
    st = cnn_upsample2d_check(&ctx->s);
    if (st != CNN_OK) return bench_cnn_error("cnn_upsample2d_check", st);
    xs = (size_t)m->n * m->c * m->h * m->w;
    ys = 4 * xs;
    st = cnn_arena_create(&ctx->arena, sizeof(float) * (xs + ys) + 3 * CNN_ALIGNMENT, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);
    cnn_rng_seed(&rng, 3);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    if (ctx->x == NULL || ctx->y == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    return NULL;
}

static const char *bench__upsample_run(void *p) {
    upsample_ctx *ctx = (upsample_ctx *)p;
    /* backward: y plays dy, x plays dx */
    cnn_status st = ctx->backward ? cnn_upsample2d_backward(&ctx->s, ctx->y, ctx->x)
                                  : cnn_upsample2d_forward(&ctx->s, ctx->x, ctx->y);
    return st == CNN_OK ? NULL : bench_cnn_error(ctx->backward ? "upsample backward" : "upsample forward", st);
}

void bench_register_upsample(void) {
    static upsample_case *cases;
    int mi, ki, pi, count = 0;
    cases = (upsample_case *)calloc((size_t)UPSAMPLE_MAP_COUNT * 3 * 2, sizeof *cases);
    if (cases == NULL) return;
    for (mi = 0; mi < UPSAMPLE_MAP_COUNT; mi++)
        for (ki = 0; ki < 3; ki++)
            for (pi = 0; pi < 2; pi++) {
                const upsample_map *m = &bench__upsample_maps[mi];
                upsample_case *uc = &cases[count++];
                bench_desc d = {0};
                const double xs = (double)m->n * m->c * m->h * m->w;
                uc->map = m;
                uc->mode = ki;
                uc->backward = pi;
                snprintf(uc->name, sizeof uc->name, "upsample/%s_%dx%dx%d_x2/%s/scalar",
                         bench__upsample_modes[ki], m->c, m->h, m->w, bench__upsample_passes[pi]);
                snprintf(uc->label, sizeof uc->label, "N%d %dx%dx%d x2", m->n, m->c, m->h, m->w);
                d.name = uc->name;
                d.label = uc->label;
                d.arg = uc;
                d.setup = bench__upsample_setup;
                d.run = bench__upsample_run;
                d.teardown = bench__upsample_teardown;
                d.unit = BENCH_US;
                d.counters[0].name = "bytes_per_second";
                d.counters[0].value = 4.0 * (xs + 4.0 * xs);     /* the input and the output, once each */
                d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
                bench_register(&d);
            }
}
