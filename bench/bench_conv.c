/* bench_conv.c - conv/<layer>/<pass>/<algo>/<isa>: one convolution layer, one pass.

   GFLOPS counts direct-convolution work, 2 * N * K * C * Ho * Wo * kh * kw per pass, for
   every pass and algorithm, so faster algorithms show as more GFLOP/s on the same layer.
   The depthwise layers (DW*, groups = C: a few multiply-adds per value loaded, so memory-bound)
   report bytes_per_second as well: the bytes the pass must read and write at least (input,
   weights, bias, output), to compare with the machine's measured memory bandwidth.
   conv/<layer>/<pass>/wino4_vs_direct/<isa>: the direct and F(4x4) benchmarks of a pass
   alternated in one run (bench_pair.c), speedup = direct's time over Winograd's: the ratio
   issue targets are stated in, which two separate figures measure badly on a shared machine.
   conv/<layer>/<pass>/auto_vs_<direct, wino2, wino4>/<isa>: the same for each algorithm
   against auto (speedup = the algorithm's time over auto's; below 1, auto lost to it). */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_layer {
    const char *name;
    int n, c, h, w;        /* input: batch, channels, rows, columns */
    int k, kernel;         /* filters, square kernel                */
    int stride, pad;       /* on both axes, pad on every side       */
    int groups;            /* 0: 1; = c: depthwise                  */
} conv_layer;

/* M*: the digit model's three convolutions at batch 64. V*: VGG-like 3x3 layers at batch 1
   (V4 at batch 8). S2: a stride-2 downsampling layer. K5: a 5x5 kernel. */
static const conv_layer bench__layers[] = {
    { "M1", 64,   1, 28, 28,  32, 3, 1, 0, 0 },
    { "M2", 64,  32, 13, 13,  64, 3, 1, 0, 0 },
    { "M3", 64,  64,  5,  5,  64, 3, 1, 0, 0 },
    { "V1",  1,  64, 56, 56,  64, 3, 1, 1, 0 },
    { "V2",  1, 128, 28, 28, 128, 3, 1, 1, 0 },
    { "V3",  1, 256, 14, 14, 256, 3, 1, 1, 0 },
    { "V4",  8,  64, 56, 56,  64, 3, 1, 1, 0 },
    { "S2",  1,  64, 56, 56, 128, 3, 2, 1, 0 },
    { "K5", 64,   1, 28, 28,  32, 5, 1, 0, 0 },
};
#define LAYER_COUNT ((int)(sizeof bench__layers / sizeof bench__layers[0]))

/* Depthwise 3x3 (MobileNet's): DW1 a 32-channel 112x112 map, DW2 the same at stride 2, DW3
   128 channels of 56x56 at batch 8 (12.8 MB in, more than the caches). */
static const conv_layer bench__dw_layers[] = {
    { "DW1", 1,  32, 112, 112,  32, 3, 1, 1,  32 },
    { "DW2", 1,  64, 112, 112,  64, 3, 2, 1,  64 },
    { "DW3", 8, 128,  56,  56, 128, 3, 1, 1, 128 },
};
#define DW_LAYER_COUNT ((int)(sizeof bench__dw_layers / sizeof bench__dw_layers[0]))

typedef enum conv_pass { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS, PASS_COUNT } conv_pass;
static const char *const bench__pass_names[PASS_COUNT] = { "fwd", "bwd_data", "bwd_weights" };

/* Algorithms. "direct" is direct convolution with a workspace (cnn_conv2d_workspace_bytes):
   the variant the dispatcher picks for the layer and pass. "im2col" is the same call without
   a workspace, where the dispatcher has only the lowered variant or the scalar loop (the
   scalar loop is the same either way, so it is not run twice). "grid", "rows" and "lowered"
   force one direct variant (CNN_CONV_DIRECT_GRID, _ROWS, _LOWERED: the padded grid, pixels or
   taps as rows, im2col strips), only on the passes and layers it serves, so the figures the
   cost models in cnn.h quote can be reproduced. "wino2" and "wino4" force Winograd
   F(2x2, 3x3) and F(4x4, 3x3), only on the layers it serves (3x3, stride 1), every
   pass, the filter transform included in every call. "auto" is what
   the network runs: the library's choice, on every layer and pass. */
enum { ALGO_DIRECT, ALGO_IM2COL, ALGO_WINO2, ALGO_WINO4, ALGO_AUTO, ALGO_GRID, ALGO_ROWS, ALGO_LOWERED };
static const char *const bench__algos[] = { "direct", "im2col", "wino2", "wino4", "auto", "grid", "rows", "lowered" };
static const cnn_conv_algo bench__algo_values[] = { CNN_CONV_DIRECT, CNN_CONV_DIRECT, CNN_CONV_WINOGRAD_2X2,
                                                    CNN_CONV_WINOGRAD_4X4, CNN_CONV_AUTO, CNN_CONV_DIRECT_GRID,
                                                    CNN_CONV_DIRECT_ROWS, CNN_CONV_DIRECT_LOWERED };
#define ALGO_COUNT ((int)(sizeof bench__algos / sizeof bench__algos[0]))

/* One registered benchmark: what its setup needs. Lives until the program ends. */
typedef struct conv_case {
    const conv_layer *layer;
    conv_pass pass;
    int algo;
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} conv_case;

typedef struct conv_ctx {
    cnn_arena arena;
    cnn_conv2d_shape s;
    conv_pass pass;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    void *workspace;
    size_t workspace_bytes;
} conv_ctx;

static cnn_conv2d_shape bench__shape(const conv_layer *l) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);                 /* zero: defaults for every other field (algo) */
    s.n = l->n; s.c = l->c; s.h = l->h; s.w = l->w;
    s.k = l->k; s.kh = l->kernel; s.kw = l->kernel;
    s.stride_h = l->stride; s.stride_w = l->stride;
    s.dilation_h = 1; s.dilation_w = 1;
    s.pad_top = l->pad; s.pad_bottom = l->pad; s.pad_left = l->pad; s.pad_right = l->pad;
    s.groups = l->groups;
    return s;
}

/* out = floor((in + 2 pad - kernel) / stride) + 1 */
static int bench__out_size(int in, const conv_layer *l) {
    return (in + 2 * l->pad - l->kernel) / l->stride + 1;
}

static void bench__conv_teardown(void *p) {
    conv_ctx *ctx = (conv_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    free(ctx);
}

static const char *bench__conv_setup(const void *arg, void **out) {
    const conv_case *cc = (const conv_case *)arg;
    conv_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    int oh, ow;
    size_t xs, ws, ys, bytes;

    if ((err = bench_isa_select(cc->isa)) != NULL) return err;
    ctx = (conv_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->s = bench__shape(cc->layer);
    ctx->s.algo = bench__algo_values[cc->algo];
    ctx->pass = cc->pass;
    st = cnn_conv2d_check(&ctx->s, &oh, &ow);
    if (st != CNN_OK) return bench_cnn_error("cnn_conv2d_check", st);

    xs = (size_t)ctx->s.n * ctx->s.c * ctx->s.h * ctx->s.w;
    ws = (size_t)ctx->s.k * (ctx->s.c / (ctx->s.groups ? ctx->s.groups : 1)) * ctx->s.kh * ctx->s.kw;
    ys = (size_t)ctx->s.n * ctx->s.k * oh * ow;
    /* x, dx; w, dw; b, db; y, dy; plus alignment padding for each of the 8 blocks */
    ctx->workspace_bytes = cc->algo != ALGO_IM2COL && cc->algo != ALGO_LOWERED ? cnn_conv2d_workspace_bytes(&ctx->s) : 0;
    bytes = sizeof(float) * 2 * (xs + ws + (size_t)ctx->s.k + ys) + 8 * CNN_ALIGNMENT + ctx->workspace_bytes + CNN_ALIGNMENT;
    st = cnn_arena_create(&ctx->arena, bytes, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);

    /* Inputs in [-1, 1); outputs filled too, so every page is touched before timing. */
    cnn_rng_seed(&rng, 42);
    ctx->x = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->w = bench_random_floats(&ctx->arena, ws, -0.1f, 0.1f, &rng);
    ctx->b = bench_random_floats(&ctx->arena, (size_t)ctx->s.k, -0.1f, 0.1f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dy = bench_random_floats(&ctx->arena, ys, -1.f, 1.f, &rng);
    ctx->dx = bench_random_floats(&ctx->arena, xs, -1.f, 1.f, &rng);
    ctx->dw = bench_random_floats(&ctx->arena, ws, -1.f, 1.f, &rng);
    ctx->db = bench_random_floats(&ctx->arena, (size_t)ctx->s.k, -1.f, 1.f, &rng);
    if (ctx->db == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    if (ctx->workspace_bytes) {
        ctx->workspace = bench_random_floats(&ctx->arena, ctx->workspace_bytes / sizeof(float), 0.f, 1.f, &rng);
        if (ctx->workspace == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    }
    return NULL;
}

static const char *bench__conv_run(void *p) {
    conv_ctx *ctx = (conv_ctx *)p;
    cnn_status st = CNN_OK;
    switch (ctx->pass) {
    case PASS_FWD:
        st = cnn_conv2d_forward_ws(&ctx->s, ctx->x, ctx->w, ctx->b, ctx->y, ctx->workspace, ctx->workspace_bytes);
        break;
    case PASS_BWD_DATA:
        st = cnn_conv2d_backward_data_ws(&ctx->s, ctx->dy, ctx->w, ctx->dx, ctx->workspace, ctx->workspace_bytes);
        break;
    case PASS_BWD_WEIGHTS:
        st = cnn_conv2d_backward_weights_ws(&ctx->s, ctx->x, ctx->dy, ctx->dw, ctx->db, ctx->workspace, ctx->workspace_bytes);
        break;
    default:
        break;
    }
    return st == CNN_OK ? NULL : bench_cnn_error(bench__pass_names[ctx->pass], st);
}

/* bandwidth/DW<i> and bandwidth/dram: the memory bandwidth a depthwise layer is compared with,
   measured, not taken from a data sheet. Each copies, with the C library's memcpy (glibc picks
   the widest vector moves the CPU has, and non-temporal stores for large blocks: the fastest
   way this core moves bytes from one buffer to another), half of a layer's counted bytes, so
   it reads and writes as many bytes as the layer's pass and from the same level of the cache
   hierarchy: DW1's 3.3 MB sit in L2 and L3, DW3's 25.7 MB in L3 or memory. bandwidth/dram
   copies 256 MiB, far past any cache. A pass's bytes/s over its layer's copy is how close it
   gets to the bandwidth it is bound by (docs/benchmarks.md shows both). */
typedef struct copy_case {
    size_t bytes;                     /* copied: read once and written once */
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} copy_case;

typedef struct copy_ctx { size_t bytes; unsigned char *from, *to; } copy_ctx;

static void bench__copy_teardown(void *p) {
    copy_ctx *ctx = (copy_ctx *)p;
    if (ctx == NULL) return;
    free(ctx->from);
    free(ctx->to);
    free(ctx);
}

static const char *bench__copy_setup(const void *arg, void **out) {
    const copy_case *cc = (const copy_case *)arg;
    copy_ctx *ctx = (copy_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->bytes = cc->bytes;
    ctx->from = (unsigned char *)malloc(cc->bytes);
    ctx->to = (unsigned char *)malloc(cc->bytes);
    if (ctx->from == NULL || ctx->to == NULL) return "out of memory";
    memset(ctx->from, 1, cc->bytes);         /* every page touched before timing */
    memset(ctx->to, 2, cc->bytes);
    return NULL;
}

static const char *bench__copy_run(void *p) {
    copy_ctx *ctx = (copy_ctx *)p;
    memcpy(ctx->to, ctx->from, ctx->bytes);
    return ctx->to[ctx->bytes - 1] == 1 ? NULL : "copy failed";
}

/* The bytes a depthwise pass must read and write at least: input, weights, bias, output.
   Forward and data gradient read one map and write the other; the weight gradient reads both. */
static double bench__dw_bytes(const conv_layer *l) {
    const double ho = bench__out_size(l->h, l), wo = bench__out_size(l->w, l);
    const double xs = (double)l->n * l->c * l->h * l->w, ys = (double)l->n * l->k * ho * wo;
    return 4.0 * (xs + ys + (double)l->k * (l->kernel * l->kernel + 1));
}

static void bench__register_bandwidth(void) {
    static copy_case cases[DW_LAYER_COUNT + 1];
    int i;
    for (i = 0; i <= DW_LAYER_COUNT; i++) {
        copy_case *cc = &cases[i];
        bench_desc d = {0};
        cc->bytes = i < DW_LAYER_COUNT ? (size_t)(bench__dw_bytes(&bench__dw_layers[i]) / 2) : (size_t)256 << 20;
        snprintf(cc->name, sizeof cc->name, "bandwidth/%s", i < DW_LAYER_COUNT ? bench__dw_layers[i].name : "dram");
        snprintf(cc->label, sizeof cc->label, "memcpy of %.1f MB", cc->bytes / 1e6);
        d.name = cc->name;
        d.label = cc->label;
        d.arg = cc;
        d.setup = bench__copy_setup;
        d.run = bench__copy_run;
        d.teardown = bench__copy_teardown;
        d.counters[0].name = "bytes_per_second";
        d.counters[0].value = 2.0 * (double)cc->bytes;
        d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
        bench_register(&d);
    }
}

/* conv/DW<i>/<pass>/direct/<isa>: the depthwise layers, every pass, with bytes_per_second
   (the data gradient at column stride 2, DW2, runs the scalar reference on every path). */
static void bench__register_depthwise(void) {
    static conv_case cases[DW_LAYER_COUNT * PASS_COUNT * 8];
    int li, pi, ii, count = 0;
    for (li = 0; li < DW_LAYER_COUNT; li++)
        for (pi = 0; pi < PASS_COUNT; pi++)
            for (ii = 0; ii < bench_isa_count && count < (int)(sizeof cases / sizeof cases[0]); ii++) {
                const conv_layer *l = &bench__dw_layers[li];
                conv_case *cc = &cases[count++];
                bench_desc d = {0};
                const double ho = bench__out_size(l->h, l), wo = bench__out_size(l->w, l);
                if (!bench_isa_available(&bench_isas[ii])) continue;
                cc->layer = l;
                cc->algo = ALGO_DIRECT;
                cc->pass = (conv_pass)pi;
                cc->isa = &bench_isas[ii];
                snprintf(cc->name, sizeof cc->name, "conv/%s/%s/direct/%s", l->name, bench__pass_names[pi], bench_isas[ii].name);
                snprintf(cc->label, sizeof cc->label, "N%d %d->%d %dx%d k%d s%d p%d dw", l->n, l->c, l->k, l->h, l->w,
                         l->kernel, l->stride, l->pad);
                d.name = cc->name;
                d.label = cc->label;
                d.arg = cc;
                d.setup = bench__conv_setup;
                d.run = bench__conv_run;
                d.teardown = bench__conv_teardown;
                d.peak = bench_isas[ii].peak;
                d.flops = 2.0 * l->n * l->k * ho * wo * l->kernel * l->kernel;
                d.counters[0].name = "bytes_per_second";
                d.counters[0].value = bench__dw_bytes(l);
                d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
                bench_register(&d);
            }
}

void bench_register_conv(void) {
    static conv_case *cases;   /* registered benchmarks keep pointers into it until exit */
    char pair[BENCH_NAME_MAX + 8];
    int li, pi, ai, ii, count = 0;
    cases = (conv_case *)calloc((size_t)LAYER_COUNT * PASS_COUNT * ALGO_COUNT * bench_isa_count,
                                sizeof *cases);
    if (cases == NULL) return;
    for (li = 0; li < LAYER_COUNT; li++)
        for (pi = 0; pi < PASS_COUNT; pi++)
            for (ai = 0; ai < ALGO_COUNT; ai++)
                for (ii = 0; ii < bench_isa_count; ii++) {
                    const conv_layer *l = &bench__layers[li];
                    conv_case *cc = &cases[count++];
                    bench_desc d = {0};
                    double ho = bench__out_size(l->h, l), wo = bench__out_size(l->w, l);
                    if (!bench_isa_available(&bench_isas[ii])) continue;
                    if (ai > 0 && strcmp(bench_isas[ii].name, "scalar") == 0) continue;
                    if ((ai == ALGO_WINO2 || ai == ALGO_WINO4) && (l->kernel != 3 || l->stride != 1)) continue;
                    /* the passes each direct variant serves (cnn.h, cnn_conv_algo) */
                    if (ai == ALGO_GRID && (pi == PASS_BWD_WEIGHTS || (pi == PASS_FWD && l->stride != 1))) continue;
                    if (ai == ALGO_LOWERED && pi == PASS_BWD_DATA && l->stride != 1) continue;
                    cc->layer = l;
                    cc->algo = ai;
                    cc->pass = (conv_pass)pi;
                    cc->isa = &bench_isas[ii];
                    snprintf(cc->name, sizeof cc->name, "conv/%s/%s/%s/%s", l->name,
                             bench__pass_names[pi], bench__algos[ai], bench_isas[ii].name);
                    snprintf(cc->label, sizeof cc->label, "N%d %d->%d %dx%d k%d s%d p%d",
                             l->n, l->c, l->k, l->h, l->w, l->kernel, l->stride, l->pad);
                    d.name = cc->name;
                    d.label = cc->label;
                    d.arg = cc;
                    d.setup = bench__conv_setup;
                    d.run = bench__conv_run;
                    d.teardown = bench__conv_teardown;
                    d.peak = bench_isas[ii].peak;
                    d.flops = 2.0 * l->n * l->k * l->c * ho * wo * l->kernel * l->kernel;
                    bench_register(&d);
                    if (ai == ALGO_WINO4) {   /* with its direct twin, registered above */
                        snprintf(pair, sizeof pair, "conv/%s/%s/wino4_vs_direct/%s", l->name, bench__pass_names[pi],
                                 bench_isas[ii].name);
                        bench_register_pair(pair, "direct_ms", "wino4_ms", cc - (ALGO_WINO4 - ALGO_DIRECT) * bench_isa_count, cc,
                                            bench__conv_setup, bench__conv_run, bench__conv_teardown);
                    }
                    if (ai == ALGO_AUTO && l->kernel == 3 && l->stride == 1) {   /* auto against each algorithm */
                        static const int others[3] = { ALGO_DIRECT, ALGO_WINO2, ALGO_WINO4 };
                        static const char *const other_ms[3] = { "direct_ms", "wino2_ms", "wino4_ms" };
                        int oi;
                        for (oi = 0; oi < 3; oi++) {
                            snprintf(pair, sizeof pair, "conv/%s/%s/auto_vs_%s/%s", l->name, bench__pass_names[pi],
                                     bench__algos[others[oi]], bench_isas[ii].name);
                            bench_register_pair(pair, other_ms[oi], "auto_ms", cc - (ALGO_AUTO - others[oi]) * bench_isa_count, cc,
                                                bench__conv_setup, bench__conv_run, bench__conv_teardown);
                        }
                    }
                }
    bench__register_depthwise();
    bench__register_bandwidth();
}
