/* bench_elementwise.c - the element-wise kernels, each path next to its scalar twin:
     act/<relu|leaky_relu|sigmoid|tanh>/<fwd|bwd>/<isa>  cnn_activation_forward / _backward on
                                the digit model's first activation map at batch 64
                                (64x32x26x26 floats), inputs uniform in [-4, 4)
     loss/softmax_xent_<n>x<classes>/<isa>  cnn_softmax_cross_entropy, loss and dlogits, at
                                64x10 (the digit model) and 256x1000 (an ImageNet-size head)
     sgd/update_93322/<isa>     cnn_sgd_step on the digit model (momentum 0.9, weight decay
                                5e-4): the update of its 93,322 parameters
     adam/update_93322/<isa>    cnn_optimizer_step, AdamW (lr 0.001, weight decay 0.01), on
                                the same parameters

   These kernels do a few operations per value, so the counter is bytes_per_second: the bytes
   the pass must read and write (x and y forward; y, dy and dx backward; logits, labels and
   dlogits; w, dw and v read, w and v written; Adam: w, dw, m and v read, w, m and v written). */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>

/* The digit model's first convolution output, 32x26x26, at batch 64. */
#define ACT_COUNT ((size_t)64 * 32 * 26 * 26)

typedef struct act_kind {
    const char *name;
    cnn_activation act;
    float alpha;                   /* leaky ReLU's slope (the layers' default); 0 otherwise */
} act_kind;

static const act_kind bench__act_kinds[] = {
    { "relu",       CNN_RELU,       0.0f  },
    { "leaky_relu", CNN_LEAKY_RELU, 0.01f },
    { "sigmoid",    CNN_SIGMOID,    0.0f  },
    { "tanh",       CNN_TANH,       0.0f  },
};
#define ACT_KIND_COUNT ((int)(sizeof bench__act_kinds / sizeof bench__act_kinds[0]))

static const char *const bench__act_passes[] = { "fwd", "bwd" };

typedef struct loss_size { int n, classes; } loss_size;

static const loss_size bench__loss_sizes[] = {
    { 64, 10 },
    { 256, 1000 },
};
#define LOSS_SIZE_COUNT ((int)(sizeof bench__loss_sizes / sizeof bench__loss_sizes[0]))

typedef enum elem_kind { ELEM_ACT, ELEM_LOSS, ELEM_SGD, ELEM_ADAM } elem_kind;

typedef struct elem_case {
    elem_kind kind;
    const act_kind *act;           /* ELEM_ACT */
    int backward;                  /* ELEM_ACT */
    const loss_size *loss;         /* ELEM_LOSS */
    const bench_isa *isa;
    char name[BENCH_NAME_MAX];
    char label[BENCH_NAME_MAX];
} elem_case;

typedef struct elem_ctx {
    const elem_case *ec;
    cnn_arena arena;               /* ELEM_ACT, ELEM_LOSS */
    float *x, *y, *dy, *dx;        /* ELEM_ACT */
    float *logits, *dlogits;       /* ELEM_LOSS */
    int32_t *labels;
    cnn_net net;                   /* ELEM_SGD, ELEM_ADAM */
    cnn_sgd_opts sgd;
} elem_ctx;

static void bench__elem_teardown(void *p) {
    elem_ctx *ctx = (elem_ctx *)p;
    if (ctx == NULL) return;
    cnn_arena_free(&ctx->arena);
    cnn_net_free(&ctx->net);
    free(ctx);
}

static const char *bench__act_setup(elem_ctx *ctx) {
    const act_kind *k = ctx->ec->act;
    cnn_status st;
    cnn_rng rng;
    st = cnn_arena_create(&ctx->arena, sizeof(float) * 4 * ACT_COUNT + 5 * CNN_ALIGNMENT, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);
    cnn_rng_seed(&rng, 7);
    ctx->x = bench_random_floats(&ctx->arena, ACT_COUNT, -4.f, 4.f, &rng);
    ctx->y = bench_random_floats(&ctx->arena, ACT_COUNT, -1.f, 1.f, &rng);
    ctx->dy = bench_random_floats(&ctx->arena, ACT_COUNT, -1.f, 1.f, &rng);
    ctx->dx = bench_random_floats(&ctx->arena, ACT_COUNT, -1.f, 1.f, &rng);
    if (ctx->dx == NULL) return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    /* Backward reads the output of a forward pass of those inputs, as in training. */
    st = cnn_activation_forward(k->act, k->alpha, ACT_COUNT, ctx->x, ctx->y);
    return st == CNN_OK ? NULL : bench_cnn_error("cnn_activation_forward", st);
}

static const char *bench__loss_setup(elem_ctx *ctx) {
    const loss_size *ls = ctx->ec->loss;
    const size_t count = (size_t)ls->n * ls->classes;
    cnn_status st;
    cnn_rng rng;
    int i;
    st = cnn_arena_create(&ctx->arena, sizeof(float) * 2 * count + sizeof(int32_t) * ls->n
                          + 4 * CNN_ALIGNMENT, NULL);
    if (st != CNN_OK) return bench_cnn_error("cnn_arena_create", st);
    cnn_rng_seed(&rng, 11);
    ctx->logits = bench_random_floats(&ctx->arena, count, -4.f, 4.f, &rng);
    ctx->dlogits = bench_random_floats(&ctx->arena, count, -1.f, 1.f, &rng);
    ctx->labels = (int32_t *)cnn_arena_push(&ctx->arena, sizeof(int32_t) * ls->n);
    if (ctx->dlogits == NULL || ctx->labels == NULL)
        return bench_cnn_error("cnn_arena_push", CNN_ERR_OUT_OF_MEMORY);
    for (i = 0; i < ls->n; i++) ctx->labels[i] = (int32_t)cnn_rng_below(&rng, (uint32_t)ls->classes);
    return NULL;
}

static const char *bench__sgd_setup(elem_ctx *ctx) {
    static char msg[128];
    cnn_build_opts bo = {0};
    cnn_status st;
    cnn_rng rng;
    size_t i;
    if ((st = bench_digits_model(&ctx->net)) != CNN_OK) return bench_cnn_error("digit model", st);
    if (cnn_net_param_count(&ctx->net) != BENCH_DIGITS_PARAMS) {
        snprintf(msg, sizeof msg, "digit model: %lu parameters, expected %d",
                 (unsigned long)cnn_net_param_count(&ctx->net), BENCH_DIGITS_PARAMS);
        return msg;
    }
    bo.max_batch = 64;
    bo.with_momentum = ctx->ec->kind == ELEM_SGD;
    bo.with_adam = ctx->ec->kind == ELEM_ADAM;
    bo.init = CNN_INIT_HE_NORMAL;
    bo.seed = 1;
    if ((st = cnn_net_build(&ctx->net, &bo)) != CNN_OK) return bench_cnn_error("cnn_net_build", st);
    /* Gradients as a backward pass would leave them, but random: the update does the same
       work whatever they are. They stay fixed, so the weights drift towards -dw/decay, which
       is finite; the velocity never gets small enough to be subnormal. */
    cnn_rng_seed(&rng, 13);
    for (i = 0; i < ctx->net.param_floats; i++) ctx->net.grads[i] = -1.f + 2.f * cnn_rng_uniform(&rng);
    if (ctx->ec->kind == ELEM_ADAM) {   /* fixed gradients: the moments settle, finite */
        ctx->sgd.optimizer = CNN_OPTIM_ADAMW;
        ctx->sgd.learning_rate = 0.001f;
        ctx->sgd.weight_decay = 0.01f;
        return NULL;
    }
    ctx->sgd.learning_rate = 0.01f;
    ctx->sgd.momentum = 0.9f;
    ctx->sgd.weight_decay = 5e-4f;
    return NULL;
}

static const char *bench__elem_setup(const void *arg, void **out) {
    const elem_case *ec = (const elem_case *)arg;
    elem_ctx *ctx;
    const char *err;
    if ((err = bench_isa_select(ec->isa)) != NULL) return err;
    ctx = (elem_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->ec = ec;
    switch (ec->kind) {
    case ELEM_ACT:  return bench__act_setup(ctx);
    case ELEM_LOSS: return bench__loss_setup(ctx);
    case ELEM_SGD:
    case ELEM_ADAM: return bench__sgd_setup(ctx);
    }
    return "unknown element-wise benchmark";
}

static const char *bench__elem_run(void *p) {
    elem_ctx *ctx = (elem_ctx *)p;
    const elem_case *ec = ctx->ec;
    cnn_status st = CNN_OK;
    float loss;
    switch (ec->kind) {
    case ELEM_ACT:
        st = ec->backward
            ? cnn_activation_backward(ec->act->act, ec->act->alpha, ACT_COUNT, ctx->y, ctx->dy, ctx->dx)
            : cnn_activation_forward(ec->act->act, ec->act->alpha, ACT_COUNT, ctx->x, ctx->y);
        if (st != CNN_OK)
            return bench_cnn_error(ec->backward ? "cnn_activation_backward" : "cnn_activation_forward", st);
        break;
    case ELEM_LOSS:
        st = cnn_softmax_cross_entropy(ec->loss->n, ec->loss->classes, ctx->logits, ctx->labels,
                                       &loss, ctx->dlogits);
        if (st != CNN_OK) return bench_cnn_error("cnn_softmax_cross_entropy", st);
        break;
    case ELEM_SGD:
        st = cnn_sgd_step(&ctx->net, &ctx->sgd);
        if (st != CNN_OK) return bench_cnn_error("cnn_sgd_step", st);
        break;
    case ELEM_ADAM:
        st = cnn_optimizer_step(&ctx->net, &ctx->sgd);
        if (st != CNN_OK) return bench_cnn_error("cnn_optimizer_step", st);
        break;
    }
    return NULL;
}

/* Fills in what every element-wise benchmark shares and registers it. */
static void bench__elem_register(elem_case *ec, double bytes) {
    bench_desc d = {0};
    d.name = ec->name;
    d.label = ec->label;
    d.arg = ec;
    d.setup = bench__elem_setup;
    d.run = bench__elem_run;
    d.teardown = bench__elem_teardown;
    d.unit = BENCH_US;
    d.counters[0].name = "bytes_per_second";
    d.counters[0].value = bytes;
    d.counters[0].flags = BENCH_RATE | BENCH_BINARY;
    bench_register(&d);
}

void bench_register_elementwise(void) {
    static elem_case *cases;
    const int per_isa = ACT_KIND_COUNT * 2 + LOSS_SIZE_COUNT + 2;
    int ki, pi, si, ii, count = 0;
    cases = (elem_case *)calloc((size_t)per_isa * bench_isa_count, sizeof *cases);
    if (cases == NULL) return;

    for (ki = 0; ki < ACT_KIND_COUNT; ki++)
        for (pi = 0; pi < 2; pi++)
            for (ii = 0; ii < bench_isa_count; ii++) {
                elem_case *ec = &cases[count++];
                if (!bench_isa_available(&bench_isas[ii])) continue;
                ec->kind = ELEM_ACT;
                ec->act = &bench__act_kinds[ki];
                ec->backward = pi;
                ec->isa = &bench_isas[ii];
                snprintf(ec->name, sizeof ec->name, "act/%s/%s/%s", ec->act->name,
                         bench__act_passes[pi], bench_isas[ii].name);
                snprintf(ec->label, sizeof ec->label, "N64 32x26x26, %lu floats",
                         (unsigned long)ACT_COUNT);
                /* 4 bytes per float: x and y forward; y, dy and dx backward */
                bench__elem_register(ec, 4.0 * (double)ACT_COUNT * (pi ? 3 : 2));
            }

    for (si = 0; si < LOSS_SIZE_COUNT; si++)
        for (ii = 0; ii < bench_isa_count; ii++) {
            elem_case *ec = &cases[count++];
            const loss_size *ls = &bench__loss_sizes[si];
            if (!bench_isa_available(&bench_isas[ii])) continue;
            ec->kind = ELEM_LOSS;
            ec->loss = ls;
            ec->isa = &bench_isas[ii];
            snprintf(ec->name, sizeof ec->name, "loss/softmax_xent_%dx%d/%s", ls->n, ls->classes,
                     bench_isas[ii].name);
            snprintf(ec->label, sizeof ec->label, "%d rows of %d classes, loss and dlogits",
                     ls->n, ls->classes);
            /* logits read, dlogits written, a 4-byte label per row read */
            bench__elem_register(ec, 4.0 * (2.0 * ls->n * ls->classes + ls->n));
        }

    for (ii = 0; ii < bench_isa_count; ii++) {
        elem_case *ec = &cases[count++];
        if (!bench_isa_available(&bench_isas[ii])) continue;
        ec->kind = ELEM_SGD;
        ec->isa = &bench_isas[ii];
        snprintf(ec->name, sizeof ec->name, "sgd/update_%d/%s", BENCH_DIGITS_PARAMS,
                 bench_isas[ii].name);
        snprintf(ec->label, sizeof ec->label, "digit model, momentum 0.9, weight decay 5e-4");
        /* per parameter: w, dw and v read, w and v written */
        bench__elem_register(ec, 4.0 * 5.0 * BENCH_DIGITS_PARAMS);
    }

    for (ii = 0; ii < bench_isa_count; ii++) {
        elem_case *ec = &cases[count++];
        if (!bench_isa_available(&bench_isas[ii])) continue;
        ec->kind = ELEM_ADAM;
        ec->isa = &bench_isas[ii];
        snprintf(ec->name, sizeof ec->name, "adam/update_%d/%s", BENCH_DIGITS_PARAMS,
                 bench_isas[ii].name);
        snprintf(ec->label, sizeof ec->label, "digit model, AdamW, lr 0.001, weight decay 0.01");
        /* per parameter: w, dw, m and v read, w, m and v written */
        bench__elem_register(ec, 4.0 * 7.0 * BENCH_DIGITS_PARAMS);
    }
}
