/* bench_dense.c - dense/<in>x<out>/<pass>/<isa>: a fully connected layer at batch 64.
   GFLOPS counts 2 * N * in * out per pass. */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct dense_layer { int n, in, out; } dense_layer;

/* 9216x128: the classic Keras MNIST network's hidden layer (64 maps of 12x12 flattened);
   576x64: the digit model's (64 maps of 3x3). */
static const dense_layer bench__dense_layers[] = {
    { 64, 9216, 128 },
    { 64,  576,  64 },
};
#define DENSE_COUNT ((int)(sizeof bench__dense_layers / sizeof bench__dense_layers[0]))

typedef enum dense_pass { DPASS_FWD, DPASS_BWD_DATA, DPASS_BWD_WEIGHTS, DPASS_COUNT } dense_pass;
static const char *const bench__dense_pass_names[DPASS_COUNT] = {
    "fwd", "bwd_data", "bwd_weights"
};

typedef struct dense_case {
    const dense_layer *layer;
    dense_pass pass;
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} dense_case;

typedef struct dense_ctx {
    cnn_arena arena;
    dense_layer l;
    dense_pass pass;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} dense_ctx;

static void bench__dense_teardown(void *p) {
    dense_ctx *ctx = (dense_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__dense_setup(const void *arg, void **out) {
    const dense_case *dc = (const dense_case *)arg;
    dense_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    size_t xs, ws, ys, bytes;

    if ((err = bench_isa_select(dc->isa)) != NULL) return err;
    ctx = (dense_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->l = *dc->layer;
    ctx->pass = dc->pass;
    xs = (size_t)ctx->l.n * ctx->l.in;
    ws = (size_t)ctx->l.out * ctx->l.in;
    ys = (size_t)ctx->l.n * ctx->l.out;
    bytes = sizeof(float) * 2 * (xs + ws + (size_t)ctx->l.out + ys) + 8 * CNN_ALIGNMENT;
    st = cnn_arena_create(&ctx->arena, bytes, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);

    cnn_rng_seed(&rng, 7);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->w = bench_random_floats(&ctx->arena, ws, -0.05f, 0.05f, &rng);
    ctx->b = bench_random_floats(&ctx->arena, (size_t)ctx->l.out, -0.1f, 0.1f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dy = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dx = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->dw = bench_random_floats(&ctx->arena, ws, -1.f, 1.f, &rng);
    ctx->db = bench_random_floats(&ctx->arena, (size_t)ctx->l.out, -1.f, 1.f, &rng);
    if (ctx->db == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    return NULL;
}

static const char *bench__dense_run(void *p) {
    dense_ctx *ctx = (dense_ctx *)p;
    const dense_layer *l = &ctx->l;
    cnn_status st = CNN_OK;
    switch (ctx->pass) {
    case DPASS_FWD:
        st = cnn_dense_forward(l->n, l->in, l->out, ctx->x, ctx->w, ctx->b, ctx->y);
        break;
    case DPASS_BWD_DATA:
        st = cnn_dense_backward_data(l->n, l->in, l->out, ctx->dy, ctx->w, ctx->dx);
        break;
    case DPASS_BWD_WEIGHTS:
        st = cnn_dense_backward_weights(l->n, l->in, l->out, ctx->x, ctx->dy, ctx->dw, ctx->db);
        break;
    default:
        break;
    }
    return st == CNN_OK ? NULL : bench_cnn_error(bench__dense_pass_names[ctx->pass], st);
}

void bench_register_dense(void) {
    static dense_case *cases;
    int li, pi, ii, count = 0;
    cases = (dense_case *)calloc((size_t)DENSE_COUNT * DPASS_COUNT * bench_isa_count,
                                 sizeof *cases);
    if (cases == NULL) return;
    for (li = 0; li < DENSE_COUNT; li++)
        for (pi = 0; pi < DPASS_COUNT; pi++)
            for (ii = 0; ii < bench_isa_count; ii++) {
                const dense_layer *l = &bench__dense_layers[li];
                dense_case *dc = &cases[count++];
                bench_desc d = {0};
                if (!bench_isa_available(&bench_isas[ii])) continue;
                dc->layer = l;
                dc->pass = (dense_pass)pi;
                dc->isa = &bench_isas[ii];
                snprintf(dc->name, sizeof dc->name, "dense/%dx%d/%s/%s", l->in, l->out,
                         bench__dense_pass_names[pi], bench_isas[ii].name);
                snprintf(dc->label, sizeof dc->label, "N%d %d->%d", l->n, l->in, l->out);
                d.name = dc->name;
                d.label = dc->label;
                d.arg = dc;
                d.setup = bench__dense_setup;
                d.run = bench__dense_run;
                d.teardown = bench__dense_teardown;
                d.peak = bench_isas[ii].peak;
                d.flops = 2.0 * l->n * l->in * l->out;
                bench_register(&d);
            }
}
