/* bench_conv_transpose.c - convt/<layer>/<pass>/auto/<isa>: one transposed convolution, one
   pass, through cnn_conv_transpose2d_*_ws with its workspace (the algorithm cnn.h picks).

   The layers are decoder upsamplings: T1 a 3x3 stride-2 layer (pad 1, output_padding 1) from
   8x64x28x28 to 32 channels of 56x56, as in a segmentation network's decoder; T2 DCGAN's 4x4
   stride-2 layer (pad 1), 1x128x28x28 to 64 channels of 56x56. GFLOPS count the direct work,
   2 * N * C * (K/groups) * H * W * kh * kw per pass: every input pixel scatters a weighted
   kernel into the output. Each pass runs on the convolution kernels (section 4 of cnn.h):
   the forward is a convolution's data gradient, the data gradient a convolution's forward. */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct convt_layer {
    const char *name;
    int n, c, h, w, k, kernel, stride, pad, output_pad;
} convt_layer;

static const convt_layer bench__convt_layers[] = {
    { "T1", 8,  64, 28, 28, 32, 3, 2, 1, 1 },
    { "T2", 1, 128, 28, 28, 64, 4, 2, 1, 0 },
};
#define CONVT_LAYER_COUNT ((int)(sizeof bench__convt_layers / sizeof bench__convt_layers[0]))

static const char *const bench__convt_passes[] = { "fwd", "bwd_data", "bwd_weights" };

typedef struct convt_case {
    const convt_layer *layer;
    int pass;
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} convt_case;

typedef struct convt_ctx {
    cnn_arena arena;
    cnn_conv_transpose2d_shape s;
    int pass;
    float *x, *w, *b, *y, *dx, *dw, *db;
    void *workspace;
    size_t workspace_bytes;
} convt_ctx;

static void bench__convt_teardown(void *p) {
    convt_ctx *ctx = (convt_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__convt_setup(const void *arg, void **out) {
    const convt_case *cc = (const convt_case *)arg;
    const convt_layer *l = cc->layer;
    convt_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    int oh, ow;
    size_t xs, ws, ys;

    if ((err = bench_isa_select(cc->isa)) != NULL) return err;
    ctx = (convt_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->pass = cc->pass;
    ctx->s.n = l->n; ctx->s.c = l->c; ctx->s.h = l->h; ctx->s.w = l->w;
    ctx->s.k = l->k; ctx->s.kh = l->kernel; ctx->s.kw = l->kernel;
    ctx->s.stride_h = l->stride; ctx->s.stride_w = l->stride;
    ctx->s.pad_h = l->pad; ctx->s.pad_w = l->pad;
    ctx->s.output_pad_h = l->output_pad; ctx->s.output_pad_w = l->output_pad;
    if ((st = cnn_conv_transpose2d_check(&ctx->s, &oh, &ow)) != CNN_OK) return bench_cnn_error("cnn_conv_transpose2d_check", st);
    xs = (size_t)l->n * l->c * l->h * l->w;
    ws = (size_t)l->c * l->k * l->kernel * l->kernel;
    ys = (size_t)l->n * l->k * oh * ow;
    ctx->workspace_bytes = cnn_conv_transpose2d_workspace_bytes(&ctx->s);
    st = cnn_arena_create(&ctx->arena, sizeof(float) * (2 * xs + 2 * ws + 2 * (size_t)l->k + ys) + 8 * CNN_ALIGNMENT +
                                       ctx->workspace_bytes + CNN_ALIGNMENT, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);
    /* every buffer filled, so every page is touched before timing */
    cnn_rng_seed(&rng, 42);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->w = bench_random_floats(&ctx->arena, ws, -0.1f, 0.1f, &rng);
    ctx->b = bench_random_floats(&ctx->arena, (size_t)l->k, -0.1f, 0.1f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);       /* also dy */
    ctx->dx = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->dw = bench_random_floats(&ctx->arena, ws, -1.f, 1.f, &rng);
    ctx->db = bench_random_floats(&ctx->arena, (size_t)l->k, -1.f, 1.f, &rng);
    if (ctx->db == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    if (ctx->workspace_bytes) {
        ctx->workspace = bench_random_floats(&ctx->arena, ctx->workspace_bytes / sizeof(float), 0.f, 1.f, &rng);
        if (ctx->workspace == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    }
    return NULL;
}

static const char *bench__convt_run(void *p) {
    convt_ctx *ctx = (convt_ctx *)p;
    cnn_status st;
    if (ctx->pass == 0)
        st = cnn_conv_transpose2d_forward_ws(&ctx->s, ctx->x, ctx->w, ctx->b, ctx->y, ctx->workspace, ctx->workspace_bytes);
    else if (ctx->pass == 1)
        st = cnn_conv_transpose2d_backward_data_ws(&ctx->s, ctx->y, ctx->w, ctx->dx, ctx->workspace, ctx->workspace_bytes);
    else
        st = cnn_conv_transpose2d_backward_weights_ws(&ctx->s, ctx->x, ctx->y, ctx->dw, ctx->db, ctx->workspace,
                                                      ctx->workspace_bytes);
    return st == CNN_OK ? NULL : bench_cnn_error(bench__convt_passes[ctx->pass], st);
}

void bench_register_conv_transpose(void) {
    static convt_case cases[CONVT_LAYER_COUNT * 3 * 8];
    int li, pi, ii, count = 0;
    for (li = 0; li < CONVT_LAYER_COUNT; li++)
        for (pi = 0; pi < 3; pi++)
            for (ii = 0; ii < bench_isa_count && count < (int)(sizeof cases / sizeof cases[0]); ii++) {
                const convt_layer *l = &bench__convt_layers[li];
                convt_case *cc = &cases[count++];
                bench_desc d = {0};
                if (!bench_isa_available(&bench_isas[ii])) continue;
                cc->layer = l;
                cc->pass = pi;
                cc->isa = &bench_isas[ii];
                snprintf(cc->name, sizeof cc->name, "convt/%s/%s/auto/%s", l->name, bench__convt_passes[pi], bench_isas[ii].name);
                snprintf(cc->label, sizeof cc->label, "N%d %d->%d %dx%d k%d s%d p%d op%d", l->n, l->c, l->k, l->h, l->w,
                         l->kernel, l->stride, l->pad, l->output_pad);
                d.name = cc->name;
                d.label = cc->label;
                d.arg = cc;
                d.setup = bench__convt_setup;
                d.run = bench__convt_run;
                d.teardown = bench__convt_teardown;
                d.peak = bench_isas[ii].peak;
                d.flops = 2.0 * l->n * l->c * l->k * l->h * l->w * l->kernel * l->kernel;
                bench_register(&d);
            }
}
