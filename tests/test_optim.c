/* test_optim.c - the optimizers beside SGD: Adam and AdamW against the formulas computed in
   double precision by hand, their defaults and checked options, the state a build holds for
   them (with_adam), the vector update against the scalar reference on every path, the same
   weights for any thread count, the state saved with the model (train k steps, save, load,
   train m more = train k + m straight), and cnn_fit with Adam on a toy problem. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static cnn_rng rng;

/* in -> dense(units) -> dense(units): two layers, each with weights and biases. */
static void two_dense(cnn_net *net, int in, int units, int with_adam, int threads) {
    cnn_net_opts no = {0};
    cnn_dense_opts d = {0};
    cnn_build_opts bo = {0};
    no.channels = in; no.height = 1; no.width = 1;
    d.units = units;
    bo.max_batch = 4; bo.seed = 3; bo.with_adam = with_adam; bo.threads = threads;
    CHECK_OK(cnn_net_init(net, &no));
    CHECK_OK(cnn_add_dense(net, &d));
    CHECK_OK(cnn_add_dense(net, &d));
    CHECK_OK(cnn_net_build(net, &bo));
}

/* One parameter tensor's state in double: the reference. */
typedef struct ref_tensor { double w[64], m[64], v[64]; size_t n; int is_weight; } ref_tensor;

/* The step as the brief's formula has it (PyTorch's, all in double), t from 1. */
static void ref_step(ref_tensor *r, const float *g, int t, const cnn_optim_opts *o, double lr, double b1, double b2, double eps) {
    size_t i;
    const double wd = r->is_weight ? o->weight_decay : 0.0;
    for (i = 0; i < r->n; i++) {
        double gi = g[i];
        if (o->optimizer == CNN_OPTIM_ADAMW) r->w[i] *= 1.0 - lr * wd;
        else gi += wd * r->w[i];
        r->m[i] = b1 * r->m[i] + (1.0 - b1) * gi;
        r->v[i] = b2 * r->v[i] + (1.0 - b2) * gi * gi;
        r->w[i] -= lr * (r->m[i] / (1.0 - pow(b1, t))) / (sqrt(r->v[i] / (1.0 - pow(b2, t))) + eps);
    }
}

/* A few steps of Adam or AdamW with gradients written by hand, every weight, bias and moment
   against the double-precision reference. lr, b1, b2, eps: the values the options mean. */
static void check_against_reference(const cnn_optim_opts *o, double lr, double b1, double b2, double eps, cnn_simd path) {
    cnn_net net;
    ref_tensor ref[4];
    int layer, k, step;
    double worst = 0.0, moved = 0.0;
    two_dense(&net, 5, 3, 1, 1);
    CHECK_OK(cnn_simd_force(path));
    for (layer = 0; layer < 2; layer++)
        for (k = 0; k < 2; k++) {
            ref_tensor *r = &ref[layer * 2 + k];
            size_t n, i;
            const float *w = k ? cnn_layer_bias(&net, layer, &n) : cnn_layer_weights(&net, layer, &n);
            r->n = n; r->is_weight = !k;
            for (i = 0; i < n; i++) {
                if (k) net.layers[layer].b[i] = 0.5f - 0.25f * (float)i;   /* biases: not zero, so decay would show */
                r->w[i] = w[i]; r->m[i] = r->v[i] = 0.0;
            }
        }
    for (step = 1; step <= 4; step++) {
        for (layer = 0; layer < 2; layer++)
            for (k = 0; k < 2; k++) {
                ref_tensor *r = &ref[layer * 2 + k];
                float *g = k ? cnn_layer_bias_grads(&net, layer, NULL) : cnn_layer_weight_grads(&net, layer, NULL);
                size_t i;
                /* gradients of both signs and several sizes; the fourth step reverses them */
                for (i = 0; i < r->n; i++) g[i] = (step == 4 ? -1.0f : 1.0f) * (0.3f * (float)(i % 5) - 0.5f) * (1.0f + (float)step * 0.1f);
                ref_step(r, g, step, o, lr, b1, b2, eps);
            }
        CHECK_OK(cnn_optimizer_step(&net, o));
    }
    CHECK(net.step == 4);
    for (layer = 0; layer < 2; layer++)
        for (k = 0; k < 2; k++) {
            const ref_tensor *r = &ref[layer * 2 + k];
            const float *w = k ? net.layers[layer].b : net.layers[layer].w;
            const size_t off = (size_t)(w - net.params);
            size_t i;
            for (i = 0; i < r->n; i++) {
                const double ew = fabs(w[i] - r->w[i]), em = fabs(net.adam_m[off + i] - r->m[i]), ev = fabs(net.adam_v[off + i] - r->v[i]);
                worst = fmax(worst, fmax(ew, fmax(em / fmax(fabs(r->m[i]), 1e-3), ev / fmax(fabs(r->v[i]), 1e-3))));
                moved = fmax(moved, fabs(r->w[i] - (k ? 0.5 - 0.25 * (double)i : 0.0)));
            }
        }
    CHECKF(worst < 2e-6, "%s optimizer %d wd %g: worst error %g", cnn_simd_name(path), (int)o->optimizer, (double)o->weight_decay, worst);
    CHECK(moved > 1e-3);
    cnn_simd_force(CNN_SIMD_AUTO);
    cnn_net_free(&net);
}

static const cnn_simd all_paths[] = {CNN_SIMD_SCALAR, CNN_SIMD_AVX2, CNN_SIMD_AVX512, CNN_SIMD_NEON};

TEST(adam_matches_the_formula_in_double) {
    int p;
    for (p = 0; p < 4; p++) {
        cnn_optim_opts o;
        if (!cnn_simd_available(all_paths[p])) continue;
        memset(&o, 0, sizeof o);
        o.optimizer = CNN_OPTIM_ADAM; o.learning_rate = 0.01f; o.beta1 = 0.8f; o.beta2 = 0.99f; o.eps = 1e-6f;
        check_against_reference(&o, 0.01f, 0.8f, 0.99f, 1e-6f, all_paths[p]);
        o.weight_decay = 0.1f;                              /* L2: into the gradient */
        check_against_reference(&o, 0.01f, 0.8f, 0.99f, 1e-6f, all_paths[p]);
        o.optimizer = CNN_OPTIM_ADAMW;                      /* decoupled: the weights shrink */
        check_against_reference(&o, 0.01f, 0.8f, 0.99f, 1e-6f, all_paths[p]);
        o.weight_decay = 0.0f;
        check_against_reference(&o, 0.01f, 0.8f, 0.99f, 1e-6f, all_paths[p]);
    }
}

/* Zero means PyTorch's defaults (lr 0.001, betas 0.9 and 0.999, eps 1e-8); a negative zero
   asks for exactly 0. */
TEST(adam_defaults) {
    cnn_optim_opts o;
    memset(&o, 0, sizeof o);
    o.optimizer = CNN_OPTIM_ADAM;
    check_against_reference(&o, 0.001f, 0.9f, 0.999f, 1e-8f, CNN_SIMD_SCALAR);
    o.optimizer = CNN_OPTIM_ADAMW; o.weight_decay = 0.01f;
    check_against_reference(&o, 0.001f, 0.9f, 0.999f, 1e-8f, CNN_SIMD_AUTO);
    o.optimizer = CNN_OPTIM_ADAM; o.weight_decay = 0.0f; o.beta1 = -0.0f; o.eps = -0.0f;   /* RMSprop-like */
    check_against_reference(&o, 0.001f, 0.0, 0.999f, 0.0, CNN_SIMD_AUTO);
    memset(&o, 0, sizeof o);
    CHECK(cnn_schedule_lr(NULL, 0) == 0.01f);
    {
        cnn_fit_opts f;
        memset(&f, 0, sizeof f);
        CHECK(cnn_schedule_lr(&f, 0) == 0.01f);
        f.sgd.optimizer = CNN_OPTIM_ADAMW;
        CHECK(cnn_schedule_lr(&f, 0) == 0.001f);
    }
    CHECK(sizeof(cnn_optim_opts) == 64);
}

/* Five steps of torch.optim.Adam and AdamW (PyTorch 1.13, foreach=False, float32) on one
   dense unit, weight decay 0.1 on the weights and none on the bias, lr 0.01, default betas
   and eps; gradients at step t: weights 0.3t - 1, 0.05t, -0.7, 0.001t, bias 0.2 - 0.1t. The
   figures came from this script:
       w = torch.tensor([[0.5, -1.5, 2.0, 0.01]], requires_grad=True)
       b = torch.tensor([0.25], requires_grad=True)
       opt = torch.optim.Adam([{'params': [w], 'weight_decay': 0.1},
                               {'params': [b], 'weight_decay': 0.0}], lr=0.01, foreach=False)
       for t in range(1, 6):
           w.grad = torch.tensor([[0.3 * t - 1.0, 0.05 * t, -0.7, 1e-3 * t]])
           b.grad = torch.tensor([0.2 - 0.1 * t]); opt.step()
   PyTorch updates the first moment as a lerp and takes the betas in double: the same
   results within a few float roundings, not bit for bit. */
TEST(adam_matches_torch) {
    static const float expect[2][5] = {
        {0.530836999f, -1.47260571f, 2.04999113f, -0.0399997607f, 0.246290028f},    /* Adam  */
        {0.530896664f, -1.54092574f, 2.03992009f, -0.0384603217f, 0.246290028f}};   /* AdamW */
    static const float w0[4] = {0.5f, -1.5f, 2.0f, 0.01f};
    int k, t, i;
    for (k = 0; k < 2; k++) {
        cnn_net net;
        cnn_net_opts no = {0};
        cnn_dense_opts d = {0};
        cnn_build_opts bo = {0};
        cnn_optim_opts o;
        no.channels = 4; no.height = 1; no.width = 1;
        d.units = 1;
        bo.with_adam = 1;
        CHECK_OK(cnn_net_init(&net, &no));
        CHECK_OK(cnn_add_dense(&net, &d));
        CHECK_OK(cnn_net_build(&net, &bo));
        memcpy(net.layers[0].w, w0, sizeof w0);
        net.layers[0].b[0] = 0.25f;
        memset(&o, 0, sizeof o);
        o.optimizer = k ? CNN_OPTIM_ADAMW : CNN_OPTIM_ADAM; o.learning_rate = 0.01f; o.weight_decay = 0.1f;
        for (t = 1; t <= 5; t++) {
            const float g[5] = {(float)(0.3 * t - 1.0), (float)(0.05 * t), -0.7f, (float)(1e-3 * t), (float)(0.2 - 0.1 * t)};
            memcpy(net.layers[0].dw, g, 4 * sizeof(float));
            net.layers[0].db[0] = g[4];
            CHECK_OK(cnn_optimizer_step(&net, &o));
        }
        for (i = 0; i < 5; i++) {
            const float got = i < 4 ? net.layers[0].w[i] : net.layers[0].b[0];
            CHECKF(fabs((double)got - expect[k][i]) <= 1e-6, "%s parameter %d: %.9g, torch %.9g", k ? "AdamW" : "Adam", i,
                   (double)got, (double)expect[k][i]);
        }
        cnn_net_free(&net);
    }
}

/* The old SGD path is untouched: cnn_sgd_step and cnn_optimizer_step agree bit for bit. */
TEST(sgd_unchanged) {
    cnn_net a, b;
    cnn_sgd_opts o;
    size_t i, n = 0;
    cnn_build_opts bo = {0};
    two_dense(&a, 4, 7, 0, 1);
    two_dense(&b, 4, 7, 0, 1);
    memset(&o, 0, sizeof o);
    o.learning_rate = 0.1f; o.weight_decay = 0.01f;
    for (i = 0; i < a.param_floats; i++) a.grads[i] = b.grads[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    CHECK_OK(cnn_sgd_step(&a, &o));
    CHECK_OK(cnn_optimizer_step(&b, &o));
    CHECK(memcmp(a.params, b.params, a.param_floats * sizeof(float)) == 0);
    CHECK(a.step == 1 && a.state_kind == 0);
    bo.max_batch = 4; bo.with_momentum = 1;
    CHECK_OK(cnn_net_build(&a, &bo));
    o.momentum = 0.9f;
    for (i = 0; i < a.param_floats; i++) a.grads[i] = 1.0f;
    CHECK_OK(cnn_sgd_step(&a, &o));
    CHECK(a.state_kind == 1);
    (void)n;
    cnn_net_free(&a);
    cnn_net_free(&b);
}

TEST(options_are_checked) {
    cnn_net net, plain;
    cnn_optim_opts o;
    two_dense(&net, 3, 2, 1, 1);
    two_dense(&plain, 3, 2, 0, 1);
    memset(&o, 0, sizeof o);
    o.optimizer = CNN_OPTIM_ADAM;
    CHECK_STATUS(cnn_optimizer_step(&plain, &o), CNN_ERR_STATE);          /* no moments held */
    CHECK(strstr(cnn_last_error(), "with_adam") != NULL);
    o.optimizer = CNN_OPTIM_ADAMW;
    CHECK_STATUS(cnn_sgd_step(&plain, &o), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "AdamW") && strstr(cnn_last_error(), "with_adam"));
    o.momentum = 0.9f;                                                  /* SGD's setting */
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "momentum") != NULL);
    o.momentum = 0.0f; o.nesterov = 1;
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    o.nesterov = 0; o.beta1 = 1.0f;
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "beta1 1") != NULL, "%s", cnn_last_error());
    o.beta1 = 0.0f; o.beta2 = -0.5f;
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    o.beta2 = 0.0f; o.eps = -1.0f;
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    o.eps = 0.0f; o.learning_rate = 10.0f; o.weight_decay = 0.5f;        /* AdamW: 1 - lr * wd < 0 */
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    o.learning_rate = 0.0f; o.weight_decay = 0.0f;
    o.optimizer = (cnn_optimizer)7;
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "7") != NULL);
    o.optimizer = CNN_OPTIM_SGD; o.beta2 = 0.99f;                       /* Adam's setting on SGD */
    CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "beta2") != NULL);
    CHECK(net.step == 0);                                               /* none of them stepped */
    cnn_net_free(&net);
    cnn_net_free(&plain);
}

/* A step whose update would be NaN or infinite changes no weight and no moment. */
TEST(nonfinite_step_changes_nothing) {
    cnn_net net;
    cnn_optim_opts o;
    float *before = NULL;
    size_t i, bytes;
    int p, bad;
    two_dense(&net, 6, 17, 1, 1);
    bytes = net.param_floats * sizeof(float);
    before = (float *)malloc(3 * bytes);
    memset(&o, 0, sizeof o);
    o.optimizer = CNN_OPTIM_ADAM;
    for (p = 0; p < 4; p++) {
        if (!cnn_simd_available(all_paths[p])) continue;
        CHECK_OK(cnn_simd_force(all_paths[p]));
        for (bad = 0; bad < 2; bad++) {
            for (i = 0; i < net.param_floats; i++) net.grads[i] = 0.1f;
            CHECK_OK(cnn_optimizer_step(&net, &o));                   /* moments not zero */
            memcpy(before, net.params, bytes); memcpy(before + net.param_floats, net.adam_m, 2 * bytes);
            net.layers[1].db[16] = bad ? NAN : 3e30f;                   /* NaN, or a square that overflows */
            CHECK_STATUS(cnn_optimizer_step(&net, &o), CNN_ERR_NUMERIC);
            CHECK(strstr(cnn_last_error(), "layer 1 (dense) bias[16]") != NULL);
            CHECK(memcmp(before, net.params, bytes) == 0);
            CHECK(memcmp(before + net.param_floats, net.adam_m, 2 * bytes) == 0);
        }
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(before);
    cnn_net_free(&net);
}

/* The moments live in the arena of training builds that ask for them; reset and rebuilds
   zero them; a rebuild keeps the weights. */
TEST(state_in_the_arena) {
    cnn_net net;
    cnn_net_opts no = {0};
    cnn_dense_opts d = {0};
    cnn_build_opts bo = {0}, adam = {0}, infer = {0};
    cnn_optim_opts o;
    float *w = NULL;
    size_t plain, with, i;
    no.channels = 3; no.height = 5; no.width = 7;
    d.units = 9;
    CHECK_OK(cnn_net_init(&net, &no));
    CHECK_OK(cnn_add_dense(&net, &d));
    bo.max_batch = 2;
    adam = bo; adam.with_adam = 1;
    infer = adam; infer.inference_only = 1;
    plain = cnn_net_required_bytes(&net, &bo);
    with = cnn_net_required_bytes(&net, &adam);
    /* 105 * 9 weights and 9 biases, each tensor rounded to 16 floats: 960 + 16 floats, twice */
    CHECK(with - plain == 2 * (960 + 16) * sizeof(float));
    CHECK(cnn_net_required_bytes(&net, &infer) == cnn_net_required_bytes(&net, &(cnn_build_opts){.max_batch = 2, .inference_only = 1}));
    CHECK_OK(cnn_net_build(&net, &adam));
    CHECK(net.adam_m && net.adam_v == net.adam_m + net.param_floats);
    memset(&o, 0, sizeof o);
    o.optimizer = CNN_OPTIM_ADAMW; o.weight_decay = 0.1f;
    for (i = 0; i < net.param_floats; i++) net.grads[i] = 0.5f;
    CHECK_OK(cnn_optimizer_step(&net, &o));
    CHECK_OK(cnn_optimizer_step(&net, &o));
    CHECK(net.step == 2 && net.state_kind == 2 && net.adam_m[0] != 0.0f && net.adam_v[net.param_floats - 1] == 0.0f);
    CHECK_OK(cnn_net_reset_optimizer(&net));
    for (i = 0; i < 2 * net.param_floats; i++) if (net.adam_m[i] != 0.0f) break;
    CHECK(i == 2 * net.param_floats && net.step == 0 && net.state_kind == 0);
    CHECK_OK(cnn_optimizer_step(&net, &o));
    w = (float *)malloc(net.param_floats * sizeof(float));
    memcpy(w, net.params, net.param_floats * sizeof(float));
    CHECK_OK(cnn_net_build(&net, &adam));                         /* rebuild: weights kept, state not */
    CHECK(memcmp(w, net.params, net.param_floats * sizeof(float)) == 0);
    CHECK(net.adam_m[0] == 0.0f && net.step == 0);
    CHECK_OK(cnn_net_build(&net, &infer));                        /* inference: no state at all */
    CHECK(net.adam_m == NULL && net.adam_v == NULL);
    CHECK(memcmp(w, net.params, net.param_floats * sizeof(float)) == 0);
    free(w);
    cnn_net_free(&net);
}

/* The vector update against the scalar reference: tensor sizes around every vector width,
   Adam and AdamW, with random moments. */
TEST(vector_update_matches_scalar) {
    static const int shapes[][2] = {{1, 1}, {1, 2}, {1, 3}, {1, 7}, {1, 8}, {1, 9}, {1, 15}, {1, 16}, {1, 17},
                                    {2, 11}, {1, 31}, {1, 33}, {4, 7}, {300, 37}};
    int si, mode, p, compared = 0;
    for (si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++)
        for (mode = 0; mode < 3; mode++) {
            cnn_net net;
            cnn_optim_opts o;
            size_t i, n;
            float *w0, *s0, *w_ref, *s_ref;
            two_dense(&net, shapes[si][0], shapes[si][1], 1, 1);
            n = net.param_floats;
            for (i = 0; i < n; i++) {
                net.grads[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
                net.adam_m[i] = 0.2f * cnn_rng_uniform(&rng) - 0.1f;
                net.adam_v[i] = 0.01f * cnn_rng_uniform(&rng);
            }
            net.step = 3;
            w0 = (float *)malloc(n * sizeof(float)); s0 = (float *)malloc(2 * n * sizeof(float));
            w_ref = (float *)malloc(n * sizeof(float)); s_ref = (float *)malloc(2 * n * sizeof(float));
            memcpy(w0, net.params, n * sizeof(float)); memcpy(s0, net.adam_m, 2 * n * sizeof(float));
            memset(&o, 0, sizeof o);
            o.optimizer = mode == 2 ? CNN_OPTIM_ADAMW : CNN_OPTIM_ADAM; o.learning_rate = 0.01f;
            o.weight_decay = mode ? 0.05f : 0.0f;
            CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
            CHECK_OK(cnn_optimizer_step(&net, &o));
            memcpy(w_ref, net.params, n * sizeof(float)); memcpy(s_ref, net.adam_m, 2 * n * sizeof(float));
            CHECK(max_error(w_ref, w0, n) > 1e-3);
            for (p = 1; p < 4; p++) {
                if (!cnn_simd_available(all_paths[p])) continue;
                memcpy(net.params, w0, n * sizeof(float)); memcpy(net.adam_m, s0, 2 * n * sizeof(float));
                net.step = 3;
                CHECK_OK(cnn_simd_force(all_paths[p]));
                CHECK_OK(cnn_optimizer_step(&net, &o));
                /* the same operations in the same order, correctly rounded: the same bits */
                CHECKF(memcmp(net.params, w_ref, n * sizeof(float)) == 0 && memcmp(net.adam_m, s_ref, 2 * n * sizeof(float)) == 0,
                       "%s %d->%d mode %d: weights off by %g, moments by %g", cnn_simd_name(all_paths[p]), shapes[si][0], shapes[si][1],
                       mode, max_error(net.params, w_ref, n), max_error(net.adam_m, s_ref, 2 * n));
                compared++;
            }
            cnn_simd_force(CNN_SIMD_AUTO);
            free(w0); free(s0); free(w_ref); free(s_ref);
            cnn_net_free(&net);
        }
    SKIP_IF(!compared, "no vector path on this CPU/build to compare with the scalar reference");
}

/* A small conv net, its data and labels. */
static void conv_net(cnn_net *net, int threads, int with_momentum) {
    cnn_net_opts no = {0};
    cnn_conv_opts c = {0};
    cnn_pool_opts pl = {0};
    cnn_dense_opts d = {0};
    cnn_build_opts bo = {0};
    no.channels = 3; no.height = 9; no.width = 7;
    c.filters = 17; c.kernel_h = 3; c.kernel_w = 3; c.activation = CNN_ACT_RELU;
    pl.size_h = pl.size_w = 2;
    d.units = 5;
    bo.max_batch = 11; bo.seed = 9; bo.threads = threads; bo.with_adam = 1; bo.with_momentum = with_momentum;
    CHECK_OK(cnn_net_init(net, &no));
    CHECK_OK(cnn_add_conv(net, &c));
    CHECK_OK(cnn_add_pool(net, &pl));
    CHECK_OK(cnn_add_dense(net, &d));
    CHECK_OK(cnn_net_build(net, &bo));
}

#define TOY_N 64
static float toy_x[TOY_N * 3 * 9 * 7];
static int32_t toy_y[TOY_N];

static void toy_data(void) {
    int i, j;
    cnn_rng r;
    cnn_rng_seed(&r, 77);
    for (i = 0; i < TOY_N; i++) {
        toy_y[i] = i % 5;
        for (j = 0; j < 3 * 9 * 7; j++)   /* the class is the bright band of rows */
            toy_x[i * 189 + j] = 0.3f * (2.0f * cnn_rng_uniform(&r) - 1.0f) + ((j / 7 % 9) * 5 / 9 == toy_y[i] ? 1.0f : 0.0f);
    }
}

/* Whole training steps at 1, 2, 3 and 7 threads: the same weights and moments, bit for bit. */
TEST(same_bits_for_any_thread_count) {
    static const int threads[] = {1, 2, 3, 7};
    float *ref = NULL;
    size_t n = 0;
    int ti, k;
    for (ti = 0; ti < 4; ti++) {
        cnn_net net;
        cnn_optim_opts o;
        memset(&o, 0, sizeof o);
        o.optimizer = CNN_OPTIM_ADAMW; o.weight_decay = 0.01f;
        conv_net(&net, threads[ti], 0);
        for (k = 0; k < 5; k++) CHECK_OK(cnn_train_batch(&net, toy_x + (size_t)k * 11 * 189, toy_y + k * 11, 11, &o, NULL));
        if (!ref) {
            n = net.param_floats;
            ref = (float *)malloc(3 * n * sizeof(float));
            memcpy(ref, net.params, n * sizeof(float));
            memcpy(ref + n, net.adam_m, 2 * n * sizeof(float));
        } else {
            CHECKF(memcmp(ref, net.params, n * sizeof(float)) == 0 && memcmp(ref + n, net.adam_m, 2 * n * sizeof(float)) == 0,
                   "%d threads", threads[ti]);
        }
        cnn_net_free(&net);
    }
    free(ref);
}

/* Training resumes exactly from a saved model: k steps, save, load (into a build holding
   the state), m more steps give the weights and state of k + m steps straight, bit for bit:
   Adam, AdamW, and SGD with momentum (state kinds 2 and 1). */
TEST(save_and_load_resume_exactly) {
    static unsigned char image[1 << 16];
    int mode, k;
    for (mode = 0; mode < 3; mode++) {
        cnn_net straight, first, resumed;
        cnn_optim_opts o;
        cnn_build_opts bo = {0};
        size_t size = 0, n;
        memset(&o, 0, sizeof o);
        o.optimizer = mode == 0 ? CNN_OPTIM_ADAM : mode == 1 ? CNN_OPTIM_ADAMW : CNN_OPTIM_SGD;
        o.weight_decay = 0.01f;
        if (mode == 2) { o.momentum = 0.9f; o.nesterov = 1; }
        conv_net(&straight, 1, 1);
        conv_net(&first, 1, 1);
        for (k = 0; k < 5; k++) CHECK_OK(cnn_train_batch(&straight, toy_x + (size_t)k * 11 * 189, toy_y + k * 11, 11, &o, NULL));
        for (k = 0; k < 2; k++) CHECK_OK(cnn_train_batch(&first, toy_x + (size_t)k * 11 * 189, toy_y + k * 11, 11, &o, NULL));
        CHECK_OK(cnn_save_to_memory(&first, image, sizeof image, &size));
        bo.max_batch = 11; bo.with_adam = 1; bo.with_momentum = 1;
        CHECK_OK(cnn_load_from_memory(&resumed, image, size, &bo));
        n = resumed.param_floats;
        CHECK(resumed.step == 2 && resumed.state_kind == (mode == 2 ? 1 : 2));
        CHECK(memcmp(resumed.params, first.params, n * sizeof(float)) == 0);
        if (mode < 2) CHECK(memcmp(resumed.adam_m, first.adam_m, 2 * n * sizeof(float)) == 0);
        else CHECK(memcmp(resumed.velocity, first.velocity, n * sizeof(float)) == 0);
        for (k = 2; k < 5; k++) CHECK_OK(cnn_train_batch(&resumed, toy_x + (size_t)k * 11 * 189, toy_y + k * 11, 11, &o, NULL));
        CHECKF(memcmp(resumed.params, straight.params, n * sizeof(float)) == 0, "mode %d: the resumed weights differ", mode);
        if (mode < 2) CHECK(memcmp(resumed.adam_m, straight.adam_m, 2 * n * sizeof(float)) == 0);
        else CHECK(memcmp(resumed.velocity, straight.velocity, n * sizeof(float)) == 0);
        CHECK(resumed.step == 5);
        cnn_net_free(&resumed);
        /* a build without that state checks the section and starts its optimizer afresh */
        bo.with_adam = mode == 2; bo.with_momentum = mode != 2;
        CHECK_OK(cnn_load_from_memory(&resumed, image, size, &bo));
        CHECK(resumed.step == 0 && resumed.state_kind == 0);
        CHECK(memcmp(resumed.params, first.params, n * sizeof(float)) == 0);
        cnn_net_free(&resumed);
        bo.inference_only = 1;
        CHECK_OK(cnn_load_from_memory(&resumed, image, size, &bo));
        CHECK(resumed.step == 0 && !resumed.adam_m && !resumed.velocity);
        cnn_net_free(&resumed);
        /* loading weights alone resets the optimizer */
        CHECK_OK(cnn_load_weights_from_memory(&straight, image, size));
        CHECK(straight.step == 0 && straight.state_kind == 0 && memcmp(straight.params, first.params, n * sizeof(float)) == 0);
        cnn_net_free(&straight);
        cnn_net_free(&first);
    }
}

/* The state through a file, and a damaged state refused. */
TEST(state_in_files) {
    static unsigned char image[1 << 16];
    cnn_net net, back;
    cnn_optim_opts o;
    cnn_build_opts bo = {0};
    size_t size = 0, plain_size = 0, n;
    long len;
    memset(&o, 0, sizeof o);
    o.optimizer = CNN_OPTIM_ADAM;
    conv_net(&net, 1, 0);
    CHECK_OK(cnn_save_to_memory(&net, NULL, 0, &plain_size));       /* no step yet: no state */
    CHECK_OK(cnn_train_batch(&net, toy_x, toy_y, 11, &o, NULL));
    CHECK_OK(cnn_save_to_memory(&net, image, sizeof image, &size));
    n = net.param_floats;
    /* the state: per trainable tensor m and v, each with the tensor's header: conv weights
       (4 + 16 + 17*3*3*3 floats), conv bias (4 + 4 + 17), dense weights (4 + 8 + 5*17*3*2), bias (4 + 4 + 5) */
    CHECK(size - plain_size == 2 * ((20 + 4 * 459) + (8 + 4 * 17) + (12 + 4 * 510) + (8 + 4 * 5)));
    CHECK_OK(cnn_save(&net, "build/tests/test_optim.cnn"));
    bo.max_batch = 11; bo.with_adam = 1;
    CHECK_OK(cnn_load(&back, "build/tests/test_optim.cnn", &bo));
    CHECK(back.step == 1 && memcmp(back.adam_m, net.adam_m, 2 * n * sizeof(float)) == 0);
    cnn_net_free(&back);
    /* the first moment's first value made NaN, the checksum made right */
    len = (long)size;
    {
        const size_t state = plain_size - 12;             /* where the section starts: kind, step */
        unsigned char *p = image + state + 8 + 20;       /* the first tensor's first value */
        const float nan = NAN;
        uint32_t kind = (uint32_t)p[-28] | (uint32_t)p[-27] << 8;
        CHECK(kind == 2);
        memcpy(p, &nan, 4);
        reseal(image, len);
        CHECK_STATUS(cnn_load_from_memory(&back, image, size, &bo), CNN_ERR_FILE_CORRUPT);
        CHECK(strstr(cnn_last_error(), "optimizer state") != NULL);
        p[-28] = 3;                                       /* an unknown kind */
        reseal(image, len);
        CHECK_STATUS(cnn_load_from_memory(&back, image, size, &bo), CNN_ERR_FILE_CORRUPT);
        CHECK(strstr(cnn_last_error(), "kind 3") != NULL);
    }
    cnn_net_free(&net);
}

/* cnn_fit with Adam at its default rate learns a toy problem faster than plain SGD at 0.01
   (losses after 10 epochs here: about 0.67 and 0.45). */
TEST(fit_with_adam_learns_faster) {
    float loss[2];
    int k;
    for (k = 0; k < 2; k++) {
        cnn_net net;
        cnn_fit_opts f;
        cnn_fit_result res;
        cnn_dataset data;
        conv_net(&net, 1, 0);
        memset(&f, 0, sizeof f);
        f.epochs = 10; f.batch_size = 8; f.quiet = 1; f.seed = 5;
        f.sgd.optimizer = k ? CNN_OPTIM_ADAM : CNN_OPTIM_SGD;
        data.images = toy_x; data.labels = toy_y; data.count = TOY_N; data.targets = NULL;
        CHECK_OK(cnn_fit(&net, &data, &f, &res));
        CHECK(net.step == 10 * 8);
        CHECK_OK(cnn_evaluate(&net, &data, &loss[k], NULL));
        cnn_net_free(&net);
    }
    CHECKF(loss[1] < 0.75f * loss[0], "loss after 10 epochs: SGD %g, Adam %g", (double)loss[0], (double)loss[1]);
}

int main(void) {
    cnn_rng_seed(&rng, 2026);
    toy_data();
    RUN(adam_matches_the_formula_in_double);
    RUN(adam_defaults);
    RUN(adam_matches_torch);
    RUN(sgd_unchanged);
    RUN(options_are_checked);
    RUN(nonfinite_step_changes_nothing);
    RUN(state_in_the_arena);
    RUN(vector_update_matches_scalar);
    RUN(same_bits_for_any_thread_count);
    RUN(save_and_load_resume_exactly);
    RUN(state_in_files);
    RUN(fit_with_adam_learns_faster);
    return harness_report();
}
