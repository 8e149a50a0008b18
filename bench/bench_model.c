/* bench_model.c - model/digits/<what>/<isa>: the whole digit model, with every convolution
   on the library's choice (auto); model/digits_direct/<what>/<isa> the same model with every
   convolution forced to direct, so the gain of Winograd shows in one run.

   The model (93,322 parameters), for 1x28x28 images:
     Conv(32, 3x3, relu) -> MaxPool 2x2 -> Conv(64, 3x3, relu) -> MaxPool 2x2
     -> Conv(64, 3x3, relu) -> Flatten -> Dense(64, relu) -> Dense(10)
   train_step: cnn_train_batch (forward, backward, SGD with momentum) on 64 images, the same
               64 every time: they stay in the caches.
   fit:        one epoch of cnn_fit over FIT_IMAGES images (51 MB of floats, more than the
               L2 and L3 caches of most CPUs) in batches of 64: the shuffle gathers each batch
               from anywhere in the data set, as real training does. images_per_second is
               comparable with train_step's; the difference is the cost of the gather and of
               data that comes from memory. Not on the scalar path (an epoch takes minutes).
   infer, infer_b1: cnn_forward in evaluation mode on 64 images, and on one.
   A /t2 suffix: the same on a network built with two threads (cnn_build_opts.threads), on
   the vector paths, for train_step, infer and infer_b1 of the digit model on auto; a
   /t2_vs_t1 suffix: both, alternated in one process (bench_pair.c), with the speedup of two
   threads over one as a counter; model/digits/<what>/auto_vs_direct/<isa> the same for
   digits_direct against digits (not for fit, whose calls last seconds). */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

#define FIT_IMAGES 16384

typedef struct model_kind {
    const char *name;
    int batch;
    int train;
    int images;                       /* in the data set: batch, or FIT_IMAGES for fit */
} model_kind;

static const model_kind bench__model_kinds[] = {
    { "train_step", 64, 1, 64 },
    { "fit",        64, 1, FIT_IMAGES },
    { "infer",      64, 0, 64 },
    { "infer_b1",    1, 0, 1 },
};
#define KIND_COUNT ((int)(sizeof bench__model_kinds / sizeof bench__model_kinds[0]))

typedef struct model_case {
    const model_kind *kind;
    cnn_conv_algo algo;
    const bench_isa *isa;
    int threads;
    char name[BENCH_NAME_MAX];
} model_case;

typedef struct model_ctx {
    cnn_net net;
    const model_kind *kind;
    cnn_sgd_opts sgd;
    cnn_fit_opts fit;
    cnn_dataset data;
    float *x;
    int32_t *labels;
} model_ctx;

/* Describes the digit model in net (not built), its convolutions on algorithm algo. */
static cnn_status bench__digits_model(cnn_net *net, cnn_conv_algo algo) {
    cnn_net_opts no = {0};
    cnn_conv_opts c1 = {0}, c2 = {0}, c3 = {0};
    cnn_pool_opts pool = {0};
    cnn_dense_opts d1 = {0}, d2 = {0};
    cnn_status st;
    no.channels = 1; no.height = 28; no.width = 28;
    c1.filters = 32; c1.kernel = 3; c1.activation = CNN_ACT_RELU;
    c2.filters = 64; c2.kernel = 3; c2.activation = CNN_ACT_RELU;
    c3.filters = 64; c3.kernel = 3; c3.activation = CNN_ACT_RELU;
    c1.algo = c2.algo = c3.algo = algo;
    pool.kind = CNN_POOL_MAX; pool.size = 2;
    d1.units = 64; d1.activation = CNN_ACT_RELU;
    d2.units = 10;
    if ((st = cnn_net_init(net, &no)) != CNN_OK) return st;
    if ((st = cnn_add_conv(net, &c1)) != CNN_OK) return st;
    if ((st = cnn_add_pool(net, &pool)) != CNN_OK) return st;
    if ((st = cnn_add_conv(net, &c2)) != CNN_OK) return st;
    if ((st = cnn_add_pool(net, &pool)) != CNN_OK) return st;
    if ((st = cnn_add_conv(net, &c3)) != CNN_OK) return st;
    if ((st = cnn_add_flatten(net)) != CNN_OK) return st;
    if ((st = cnn_add_dense(net, &d1)) != CNN_OK) return st;
    return cnn_add_dense(net, &d2);
}

/* The digit model on auto; bench_elementwise.c updates its parameters. */
cnn_status bench_digits_model(cnn_net *net) { return bench__digits_model(net, CNN_CONV_AUTO); }

static void bench__model_teardown(void *p) {
    model_ctx *ctx = (model_ctx *)p;
    if (ctx == NULL) return;
    cnn_net_free(&ctx->net);
    free(ctx->x);
    free(ctx->labels);
    free(ctx);
}

static const char *bench__model_setup(const void *arg, void **out) {
    static char msg[128];
    const model_case *mc = (const model_case *)arg;
    const int batch = mc->kind->batch, images = mc->kind->images, pixels = 28 * 28;
    cnn_build_opts bo = {0};
    model_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    int i;

    if ((err = bench_isa_select(mc->isa)) != NULL) return err;
    ctx = (model_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->kind = mc->kind;
    if ((st = bench__digits_model(&ctx->net, mc->algo)) != CNN_OK)
        return bench_cnn_error("digit model", st);
    if (cnn_net_param_count(&ctx->net) != BENCH_DIGITS_PARAMS) {
        snprintf(msg, sizeof msg, "digit model: %lu parameters, expected %d",
                 (unsigned long)cnn_net_param_count(&ctx->net), BENCH_DIGITS_PARAMS);
        return msg;
    }
    bo.max_batch = batch;
    bo.inference_only = !mc->kind->train;
    bo.with_momentum = mc->kind->train;
    bo.init = CNN_INIT_HE_NORMAL;
    bo.seed = 1;
    bo.threads = mc->threads;
    if ((st = cnn_net_build(&ctx->net, &bo)) != CNN_OK) return bench_cnn_error("cnn_net_build", st);

    /* Images like MNIST's (pixels in [0, 1)) with random labels: the speed does not depend
       on what is learnt, and a small learning rate keeps the loss finite however long. */
    ctx->x = (float *)malloc(sizeof(float) * (size_t)images * pixels);
    ctx->labels = (int32_t *)malloc(sizeof(int32_t) * (size_t)images);
    if (ctx->x == NULL || ctx->labels == NULL) return "out of memory";
    cnn_rng_seed(&rng, 5);
    for (i = 0; i < images * pixels; i++) ctx->x[i] = cnn_rng_uniform(&rng);
    for (i = 0; i < images; i++) ctx->labels[i] = (int32_t)cnn_rng_below(&rng, 10);
    ctx->sgd.learning_rate = 0.001f;
    ctx->sgd.momentum = 0.9f;
    ctx->data.images = ctx->x;
    ctx->data.labels = ctx->labels;
    ctx->data.count = images;
    ctx->fit.epochs = 1;
    ctx->fit.batch_size = batch;
    ctx->fit.sgd = ctx->sgd;
    ctx->fit.quiet = 1;
    return NULL;
}

static const char *bench__model_run(void *p) {
    model_ctx *ctx = (model_ctx *)p;
    cnn_status st;
    if (ctx->kind->images > ctx->kind->batch) {
        ctx->fit.seed++;                  /* a new order every epoch, as in training */
        st = cnn_fit(&ctx->net, &ctx->data, &ctx->fit, NULL);
        return st == CNN_OK ? NULL : bench_cnn_error("cnn_fit", st);
    }
    if (ctx->kind->train)
        st = cnn_train_batch(&ctx->net, ctx->x, ctx->labels, ctx->kind->batch, &ctx->sgd, NULL);
    else
        st = cnn_forward(&ctx->net, ctx->x, ctx->kind->batch, 0);
    return st == CNN_OK ? NULL : bench_cnn_error(ctx->kind->train ? "cnn_train_batch" : "cnn_forward", st);
}

void bench_register_model(void) {
    static model_case *cases;
    char pair[BENCH_NAME_MAX + 8];
    int ki, ii, di, count = 0;
    cases = (model_case *)calloc((size_t)3 * KIND_COUNT * bench_isa_count, sizeof *cases);
    if (cases == NULL) return;
    for (di = 0; di < 3; di++)          /* auto, direct, auto on two threads */
    for (ki = 0; ki < KIND_COUNT; ki++)
        for (ii = 0; ii < bench_isa_count; ii++) {
            model_case *mc = &cases[count++];
            bench_desc d = {0};
            if (!bench_isa_available(&bench_isas[ii])) continue;
            if (di == 2 && (bench__model_kinds[ki].images > bench__model_kinds[ki].batch || bench_isas[ii].path == CNN_SIMD_SCALAR)) continue;
            /* One scalar epoch takes over a minute (256 steps of about 0.3 s), and on that
               path the compute hides any cost of the gather: fit runs on the vector paths. */
            if (bench__model_kinds[ki].images > bench__model_kinds[ki].batch && bench_isas[ii].path == CNN_SIMD_SCALAR) continue;
            mc->kind = &bench__model_kinds[ki];
            mc->isa = &bench_isas[ii];
            mc->algo = di == 1 ? CNN_CONV_DIRECT : CNN_CONV_AUTO;
            mc->threads = di == 2 ? 2 : 1;
            snprintf(mc->name, sizeof mc->name, "model/%s/%s/%s%s", di == 1 ? "digits_direct" : "digits",
                     mc->kind->name, bench_isas[ii].name, di == 2 ? "/t2" : "");
            d.name = mc->name;
            d.label = mc->kind->images > mc->kind->batch ? "one epoch of 16384 shuffled images, batch 64, SGD momentum 0.9" :
                      mc->kind->train ? "batch 64, SGD momentum 0.9" :
                      mc->kind->batch == 1 ? "batch 1, eval mode" : "batch 64, eval mode";
            d.arg = mc;
            d.setup = bench__model_setup;
            d.run = bench__model_run;
            d.teardown = bench__model_teardown;
            d.unit = mc->kind->batch == 1 ? BENCH_US : BENCH_MS;
            d.counters[0].name = "images_per_second";
            d.counters[0].value = mc->kind->images > mc->kind->batch ? mc->kind->images : mc->kind->batch;
            d.counters[0].flags = BENCH_RATE;
            bench_register(&d);
            if (di == 1 && mc->kind->images == mc->kind->batch && bench_isas[ii].path != CNN_SIMD_SCALAR) {  /* with auto */
                snprintf(pair, sizeof pair, "model/digits/%s/auto_vs_direct/%s", mc->kind->name, bench_isas[ii].name);
                bench_register_pair(pair, "direct_ms", "auto_ms", mc, &cases[ki * bench_isa_count + ii], bench__model_setup,
                                    bench__model_run, bench__model_teardown);
            }
            if (di == 2) {    /* with its one-thread twin: the same kind and path on auto */
                snprintf(pair, sizeof pair, "%s_vs_t1", mc->name);
                bench_register_pair(pair, "t1_ms", "t2_ms", &cases[ki * bench_isa_count + ii], mc, bench__model_setup,
                                    bench__model_run, bench__model_teardown);
            }
        }
}

/* conv_net/<layer>/<pass>/<isa>[/t2]: the VGG-like layers V1-V4 of bench_conv.c as the conv
   layer of a network (after an identity layer, so that its data gradient is computed), on
   auto, built with one and two threads: fwd is cnn_forward, bwd cnn_backward_from (weight and
   data gradients). The ratio of the two figures is what the thread pool gains on a layer;
   the /t2_vs_t1 twin measures it alternating the two (bench_pair.c). */
typedef struct conv_net_case {
    const char *layer;
    int n, c, hw, k;
    int backward, threads;
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
} conv_net_case;

typedef struct conv_net_ctx {
    cnn_net net;
    float *x, *dy;
    int backward;
} conv_net_ctx;

static void bench__conv_net_teardown(void *p) {
    conv_net_ctx *ctx = (conv_net_ctx *)p;
    if (ctx == NULL) return;
    cnn_net_free(&ctx->net);
    free(ctx->x);
    free(ctx->dy);
    free(ctx);
}

static const char *bench__conv_net_setup(const void *arg, void **out) {
    const conv_net_case *cc = (const conv_net_case *)arg;
    cnn_net_opts no = {0};
    cnn_activation_opts identity = {0};
    cnn_conv_opts conv = {0};
    cnn_build_opts bo = {0};
    conv_net_ctx *ctx;
    const char *err;
    cnn_status st;
    cnn_rng rng;
    size_t in, outs, i;
    if ((err = bench_isa_select(cc->isa)) != NULL) return err;
    ctx = (conv_net_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->backward = cc->backward;
    no.channels = cc->c; no.height = cc->hw; no.width = cc->hw;
    conv.filters = cc->k; conv.kernel = 3; conv.padding = CNN_PAD_SAME;
    bo.max_batch = cc->n; bo.inference_only = !cc->backward; bo.threads = cc->threads; bo.seed = 1;
    if ((st = cnn_net_init(&ctx->net, &no)) || (st = cnn_add_activation_ex(&ctx->net, &identity)) ||
        (st = cnn_add_conv(&ctx->net, &conv)) || (st = cnn_net_build(&ctx->net, &bo)))
        return bench_cnn_error("conv net", st);
    in = (size_t)cc->n * cc->c * cc->hw * cc->hw;
    outs = (size_t)cc->n * cc->k * cc->hw * cc->hw;
    ctx->x = (float *)malloc(in * sizeof(float));
    ctx->dy = (float *)malloc(outs * sizeof(float));
    if (ctx->x == NULL || ctx->dy == NULL) return "out of memory";
    cnn_rng_seed(&rng, 3);
    for (i = 0; i < in; i++) ctx->x[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (i = 0; i < outs; i++) ctx->dy[i] = cnn_rng_uniform(&rng) - 0.5f;
    if ((st = cnn_forward(&ctx->net, ctx->x, cc->n, 0)) != CNN_OK) return bench_cnn_error("cnn_forward", st);
    return NULL;
}

static const char *bench__conv_net_run(void *p) {
    conv_net_ctx *ctx = (conv_net_ctx *)p;
    cnn_status st = ctx->backward ? cnn_backward_from(&ctx->net, ctx->dy) : cnn_forward(&ctx->net, ctx->x, ctx->net.max_batch, 0);
    return st == CNN_OK ? NULL : bench_cnn_error(ctx->backward ? "cnn_backward_from" : "cnn_forward", st);
}

void bench_register_conv_net(void) {
    static const struct { const char *name; int n, c, hw, k; } layers[] = {
        { "V1", 1, 64, 56, 64 }, { "V2", 1, 128, 28, 128 }, { "V3", 1, 256, 14, 256 }, { "V4", 8, 64, 56, 64 },
    };
    static conv_net_case *cases;
    char pair[BENCH_NAME_MAX + 8];
    int li, pi, ti, ii, count = 0;
    cases = (conv_net_case *)calloc((size_t)4 * 2 * 2 * bench_isa_count, sizeof *cases);
    if (cases == NULL) return;
    for (li = 0; li < 4; li++)
        for (pi = 0; pi < 2; pi++)
            for (ii = 0; ii < bench_isa_count; ii++)
                for (ti = 1; ti <= 2; ti++) {
                    conv_net_case *cc = &cases[count++];
                    bench_desc d = {0};
                    if (!bench_isa_available(&bench_isas[ii]) || bench_isas[ii].path == CNN_SIMD_SCALAR) continue;
                    cc->layer = layers[li].name;
                    cc->n = layers[li].n; cc->c = layers[li].c; cc->hw = layers[li].hw; cc->k = layers[li].k;
                    cc->backward = pi;
                    cc->threads = ti;
                    cc->isa = &bench_isas[ii];
                    snprintf(cc->name, sizeof cc->name, "conv_net/%s/%s/%s%s", cc->layer, pi ? "bwd" : "fwd",
                             bench_isas[ii].name, ti == 2 ? "/t2" : "");
                    d.name = cc->name;
                    d.label = pi ? "network conv layer, weight and data gradients" : "network conv layer, forward";
                    d.arg = cc;
                    d.setup = bench__conv_net_setup;
                    d.run = bench__conv_net_run;
                    d.teardown = bench__conv_net_teardown;
                    d.unit = BENCH_MS;
                    bench_register(&d);
                    if (ti == 2) {    /* with its one-thread twin, the case just before */
                        snprintf(pair, sizeof pair, "%s_vs_t1", cc->name);
                        bench_register_pair(pair, "t1_ms", "t2_ms", cc - 1, cc, bench__conv_net_setup, bench__conv_net_run,
                                            bench__conv_net_teardown);
                    }
                }
}
