/* test_simd_elementwise.c - the SIMD element-wise kernels (the activations, 2x2 stride-2 max
   and average pooling, the SGD update) against the scalar reference.

   Sigmoid and tanh forward compute e^x with a polynomial where the scalar code calls expf, so
   they must agree to
       |fast - reference| <= 1e-6 * |reference| + FLT_MIN
   (a few units in the last place, 6e-8 each; FLT_MIN for the subnormal sigmoid of x < -87,
   which the vector path flushes to 0). The other kernels, sigmoid and tanh backward included,
   do the scalar code's operations in its order, so they must agree bit for bit:
   the same values, the same max-pool positions on ties, the same NaN (payload and sign
   included), +0 where the scalar code writes +0. The one exception is the SGD update, where a
   compiler may fuse the scalar code's multiply-adds: there the weights must agree to
       |fast - reference| <= 1e-6 * max(1, |reference|)
   (a fused multiply-add moves a result by at most an ulp, 6e-8 relative; a wrong formula moves
   it by the step itself, 1e-3 here). Every output buffer is followed by guard values that must
   survive, so a tail written past its end is caught. */
#include <float.h>
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static cnn_rng rng;
static int fast_paths[8], fast_count;

#define GUARD 16                                 /* floats after each output buffer */
static const float guard_value = 1234.5f;

/* A NaN with a payload and the sign bit set: copied bit for bit by a correct kernel. */
static float odd_nan(void) {
    const uint32_t bits = 0xffc01234u;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Values in {-2, -1, -0, +0, 1, 2} (ties everywhere, signed zeros), or uniform in (-1, 1);
   with nan_every > 0, about one value in nan_every is a NaN (two kinds). */
static float *values(size_t n, int ties, int nan_every) {
    float *p = (float *)malloc((n + GUARD) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) {
        if (ties) {
            static const float pick[6] = {-2.0f, -1.0f, -0.0f, 0.0f, 1.0f, 2.0f};
            p[i] = pick[cnn_rng_below(&rng, 6)];
        } else {
            p[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
        }
        if (nan_every > 0 && cnn_rng_below(&rng, (uint32_t)nan_every) == 0) p[i] = cnn_rng_below(&rng, 2) ? NAN : odd_nan();
    }
    for (i = 0; i < GUARD; i++) p[n + i] = -3.0f;       /* a kernel reading these writes something else */
    return p;
}

/* An output buffer of n floats, filled with garbage, then the guard. */
static float *output(size_t n) {
    float *p = (float *)malloc((n + GUARD) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = -777.0f;
    for (i = 0; i < GUARD; i++) p[n + i] = guard_value;
    return p;
}

static int guard_intact(const float *p, size_t n) {
    size_t i;
    for (i = 0; i < GUARD; i++)
        if (p[n + i] != guard_value) return 0;
    return 1;
}

/* The first index where a and b differ bit for bit, or -1. */
static long first_difference(const float *a, const float *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return (long)i;
    return -1;
}

static void fill_guarded(float *p, size_t n, float v) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = v;
    for (i = 0; i < GUARD; i++) p[n + i] = guard_value;
}

#if defined(__aarch64__) && !defined(CNN_NO_SIMD)
TEST(paths_to_compare) {
    /* AArch64 always has NEON: without it this file would compare scalar with itself. */
    CHECK(fast_count == 1 && fast_paths[0] == CNN_SIMD_NEON);
}
#endif

/* ReLU and leaky ReLU, forward and backward, out of place and in place, every count 0..33
   and some large ones, with NaNs, infinities and signed zeros. */
TEST(activations_match_scalar) {
    static const size_t counts_big[] = {63, 64, 65, 100, 1000, 4099, 100003};
    static const float alphas[] = {0.0f, 0.01f, 0.3f};
    size_t k;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (k = 0; k < 34 + 7; k++) {
        const size_t count = k < 34 ? k : counts_big[k - 34];
        int act_i, a, p;
        for (act_i = 0; act_i < 2; act_i++)
            for (a = 0; a < 3; a++) {
                const cnn_activation act = act_i ? CNN_LEAKY_RELU : CNN_RELU;
                const float alpha = act == CNN_RELU ? 0.0f : alphas[a];
                float *x = values(count, (int)(k & 1), 5), *dy = values(count, 0, 7);
                float *y_ref = output(count), *dx_ref = output(count), *y = output(count), *dx = output(count);
                float *inplace = output(count);
                size_t i;
                if (act == CNN_RELU && a > 0) { free(x); free(dy); free(y_ref); free(dx_ref); free(y); free(dx); free(inplace); continue; }
                if (count > 2) { x[0] = INFINITY; x[1] = -INFINITY; x[2] = -0.0f; }
                cnn_simd_force(CNN_SIMD_SCALAR);
                CHECK_OK(cnn_activation_forward(act, alpha, count, x, y_ref));
                CHECK_OK(cnn_activation_backward(act, alpha, count, y_ref, dy, dx_ref));
                for (p = 0; p < fast_count; p++) {
                    const char *path = cnn_simd_name((cnn_simd)fast_paths[p]);
                    long d1, d2, d3, d4;
                    cnn_simd_force((cnn_simd)fast_paths[p]);
                    CHECK_OK(cnn_activation_forward(act, alpha, count, x, y));
                    CHECK_OK(cnn_activation_backward(act, alpha, count, y_ref, dy, dx));
                    d1 = first_difference(y, y_ref, count);
                    d2 = first_difference(dx, dx_ref, count);
                    memcpy(inplace, x, count * sizeof(float));
                    CHECK_OK(cnn_activation_forward(act, alpha, count, inplace, inplace));
                    d3 = first_difference(inplace, y_ref, count);
                    memcpy(inplace, dy, count * sizeof(float));
                    CHECK_OK(cnn_activation_backward(act, alpha, count, y_ref, inplace, inplace));
                    d4 = first_difference(inplace, dx_ref, count);
                    CHECKF(d1 < 0 && d2 < 0 && d3 < 0 && d4 < 0,
                           "%s %s alpha %g count %lu: first difference forward %ld, backward %ld, in place %ld, %ld",
                           path, act == CNN_RELU ? "relu" : "leaky", (double)alpha, (unsigned long)count, d1, d2, d3, d4);
                    CHECKF(guard_intact(y, count) && guard_intact(dx, count) && guard_intact(inplace, count),
                           "%s count %lu: written past the end", path, (unsigned long)count);
                }
                /* What the reference itself promises: NaN passes forward, negatives bend
                   (ReLU to +0: not 0 * x, which is NaN for -infinity). */
                for (i = 0; i < count; i++) {
                    const float expect = x[i] < 0.0f ? (act == CNN_RELU ? 0.0f : alpha * x[i]) : x[i];
                    CHECKF(memcmp(&y_ref[i], &expect, sizeof(float)) == 0 || (expect != expect && y_ref[i] != y_ref[i]),
                           "alpha %g: f(%g) = %g", (double)alpha, (double)x[i], (double)y_ref[i]);
                }
                cnn_simd_force(CNN_SIMD_AUTO);
                free(x); free(dy); free(y_ref); free(dx_ref); free(y); free(dx); free(inplace);
            }
    }
}

/* Sigmoid and tanh: inputs of every scale from 1e-8 to 100 (both signs), the points where the
   vector code changes method (tanh at |x| = 0.625, e^x clamped at -87.34 and 88), infinities,
   signed zeros and NaNs; every count 0..33 and some large ones. The largest error seen is
   printed, in units of 6e-8 (one unit in the last place of a number near 1). */
TEST(sigmoid_and_tanh_match_scalar) {
    static const float special[] = {INFINITY, -INFINITY, 0.0f, -0.0f, 0.625f, -0.625f, 0.62499994f, -0.62500006f,
                                    -87.33654f, -87.4f, 87.33654f, 88.0f, -88.0f, 88.5f, -88.5f, 100.0f, -100.0f,
                                    9.0f, -9.0f, 1e-30f, -1e-30f, 44.0f, -44.0f};
    static const size_t counts_big[] = {1000, 4099, 100003};
    const int nspecial = (int)(sizeof special / sizeof special[0]);
    double worst[2] = {0.0, 0.0};
    size_t k;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (k = 0; k < 34 + 3; k++) {
        const size_t count = k < 34 ? k : counts_big[k - 34];
        int act_i, p;
        for (act_i = 0; act_i < 2; act_i++) {
            const cnn_activation act = act_i ? CNN_TANH : CNN_SIGMOID;
            float *x = values(count, 0, 17), *dy = values(count, 0, 0);
            float *y_ref = output(count), *dx_ref = output(count), *y = output(count), *dx = output(count);
            size_t i;
            for (i = 0; i < count; i++) {        /* every scale: (-1, 1) times 10^-8 .. 10^2 */
                if (x[i] != x[i]) continue;
                x[i] *= powf(10.0f, (float)(cnn_rng_below(&rng, 11)) - 8.0f);
                if (cnn_rng_below(&rng, 8) == 0) x[i] = special[cnn_rng_below(&rng, (uint32_t)nspecial)];
            }
            cnn_simd_force(CNN_SIMD_SCALAR);
            CHECK_OK(cnn_activation_forward(act, 0.0f, count, x, y_ref));
            CHECK_OK(cnn_activation_backward(act, 0.0f, count, y_ref, dy, dx_ref));
            for (p = 0; p < fast_count; p++) {
                long bad = -1, d2;
                cnn_simd_force((cnn_simd)fast_paths[p]);
                CHECK_OK(cnn_activation_forward(act, 0.0f, count, x, y));
                CHECK_OK(cnn_activation_backward(act, 0.0f, count, y_ref, dy, dx));
                for (i = 0; i < count; i++) {
                    const double ref = y_ref[i], err = fabs((double)y[i] - ref);
                    if (ref != ref ? y[i] == y[i] : !(err <= 1e-6 * fabs(ref) + FLT_MIN)) { if (bad < 0) bad = (long)i; }
                    else if (ref == ref && fabs(ref) > FLT_MIN && err / fabs(ref) / 5.96e-8 > worst[act_i]) worst[act_i] = err / fabs(ref) / 5.96e-8;
                }
                d2 = first_difference(dx, dx_ref, count);
                CHECKF(bad < 0 && d2 < 0, "%s %s count %lu: forward wrong at %ld (f(%.9g) = %.9g, scalar %.9g), backward differs at %ld",
                       cnn_simd_name((cnn_simd)fast_paths[p]), act_i ? "tanh" : "sigmoid", (unsigned long)count, bad,
                       bad < 0 ? 0.0 : (double)x[bad], bad < 0 ? 0.0 : (double)y[bad], bad < 0 ? 0.0 : (double)y_ref[bad], d2);
                CHECKF(guard_intact(y, count) && guard_intact(dx, count), "count %lu: written past the end", (unsigned long)count);
            }
            cnn_simd_force(CNN_SIMD_AUTO);
            free(x); free(dy); free(y_ref); free(dx_ref); free(y); free(dx);
        }
    }
    if (fast_count) printf("largest relative error: sigmoid %.2f, tanh %.2f units of 6e-8\n", worst[0], worst[1]);
}

/* Pools one shape on every path, forward and backward, max and average, and compares. */
static void compare_pool(const cnn_pool2d_shape *s, int ties, int nan_every) {
    int oh, ow, p;
    size_t nx, ny, i;
    float *x, *dy, *ymax_ref, *yavg_ref, *dxmax_ref, *dxavg_ref, *y, *y2, *dx;
    int32_t *arg_ref, *arg;
    if (cnn_pool2d_check(s, &oh, &ow) != CNN_OK) { CHECKF(0, "bad test shape: %s", cnn_last_error()); return; }
    nx = (size_t)s->n * s->c * s->h * s->w;
    ny = (size_t)s->n * s->c * oh * ow;
    x = values(nx, ties, nan_every); dy = values(ny, ties, 0);
    ymax_ref = output(ny); yavg_ref = output(ny); dxmax_ref = output(nx); dxavg_ref = output(nx);
    y = output(ny); y2 = output(ny); dx = output(nx);
    arg_ref = (int32_t *)malloc(ny * sizeof(int32_t)); arg = (int32_t *)malloc((ny + GUARD) * sizeof(int32_t));
    cnn_simd_force(CNN_SIMD_SCALAR);
    CHECK_OK(cnn_maxpool2d_forward(s, x, ymax_ref, arg_ref));
    CHECK_OK(cnn_maxpool2d_backward(s, dy, arg_ref, dxmax_ref));
    CHECK_OK(cnn_avgpool2d_forward(s, x, yavg_ref));
    CHECK_OK(cnn_avgpool2d_backward(s, dy, dxavg_ref));
    for (p = 0; p < fast_count; p++) {
        long d_max, d_max2, d_dxmax, d_avg, d_dxavg, d_arg = -1;
        cnn_simd_force((cnn_simd)fast_paths[p]);
        for (i = 0; i < ny + GUARD; i++) arg[i] = -5;
        CHECK_OK(cnn_maxpool2d_forward(s, x, y, arg));
        CHECK_OK(cnn_maxpool2d_forward(s, x, y2, NULL));
        d_max = first_difference(y, ymax_ref, ny);
        d_max2 = first_difference(y2, ymax_ref, ny);
        for (i = 0; i < ny; i++)
            if (arg[i] != arg_ref[i]) { d_arg = (long)i; break; }
        for (i = ny; i < ny + GUARD; i++) CHECK(arg[i] == -5);
        fill_guarded(dx, nx, -777.0f);
        CHECK_OK(cnn_maxpool2d_backward(s, dy, arg_ref, dx));
        d_dxmax = first_difference(dx, dxmax_ref, nx);
        CHECK(guard_intact(dx, nx));
        fill_guarded(y, ny, -777.0f);
        CHECK_OK(cnn_avgpool2d_forward(s, x, y));
        d_avg = first_difference(y, yavg_ref, ny);
        fill_guarded(dx, nx, -777.0f);
        CHECK_OK(cnn_avgpool2d_backward(s, dy, dx));
        d_dxavg = first_difference(dx, dxavg_ref, nx);
        CHECKF(d_max < 0 && d_max2 < 0 && d_arg < 0 && d_dxmax < 0 && d_avg < 0 && d_dxavg < 0,
               "%s pool n%d c%d %dx%d window %dx%d stride %d,%d ceil %d count_pad %d ties %d nan 1/%d: first difference "
               "max %ld (without argmax %ld), argmax %ld, max backward %ld, avg %ld, avg backward %ld",
               cnn_simd_name((cnn_simd)fast_paths[p]), s->n, s->c, s->h, s->w, s->kh, s->kw, s->stride_h, s->stride_w,
               s->ceil_mode, s->count_pad, ties, nan_every, d_max, d_max2, d_arg, d_dxmax, d_avg, d_dxavg);
        CHECK(guard_intact(y, ny) && guard_intact(y2, ny) && guard_intact(dx, nx));
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(dy); free(ymax_ref); free(yavg_ref); free(dxmax_ref); free(dxavg_ref); free(y); free(y2); free(dx);
    free(arg_ref); free(arg);
}

static cnn_pool2d_shape pool_shape(int n, int c, int h, int w, int k, int stride) {
    cnn_pool2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.kh = s.kw = k; s.stride_h = s.stride_w = stride;
    return s;
}

/* 2x2 stride 2, the fast path: every height and width 2..33 (odd ones drop a row or column,
   H != W), batches 1..5, ties, signed zeros and NaNs. */
TEST(pool_2x2_stride_2_matches_scalar) {
    int h, w;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (h = 2; h <= 33; h++)
        for (w = 2; w <= 33; w += (h % 3) + 1) {
            cnn_pool2d_shape s = pool_shape(1 + (h + w) % 5, 1 + (h * w) % 3, h, w, 2, 2);
            compare_pool(&s, (h + w) & 1, 0);
            compare_pool(&s, 1, 4);
            compare_pool(&s, 0, 9);
        }
}

/* The digit model's maps, a wide plane, and ceil mode with even sizes (all windows full:
   fast path) and odd ones (clipped windows: scalar), with and without counting padding. */
TEST(pool_model_maps_and_modes) {
    cnn_pool2d_shape s = pool_shape(3, 32, 26, 26, 2, 2);
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    compare_pool(&s, 0, 0);
    compare_pool(&s, 1, 50);
    s = pool_shape(5, 64, 11, 11, 2, 2);
    compare_pool(&s, 0, 0);
    compare_pool(&s, 1, 50);
    s = pool_shape(2, 3, 6, 70, 2, 2);
    compare_pool(&s, 1, 10);
    s = pool_shape(2, 3, 8, 10, 2, 2); s.ceil_mode = 1;
    compare_pool(&s, 1, 10);
    s = pool_shape(2, 3, 9, 13, 2, 2); s.ceil_mode = 1;
    compare_pool(&s, 1, 10);
    s = pool_shape(2, 3, 9, 13, 2, 2); s.ceil_mode = 1; s.count_pad = 1;
    compare_pool(&s, 0, 10);
}

/* Shapes the fast path must leave to the scalar code: they still agree (through it). */
TEST(pool_other_shapes_still_agree) {
    cnn_pool2d_shape s = pool_shape(2, 3, 9, 11, 3, 2);
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    compare_pool(&s, 1, 8);
    s = pool_shape(2, 3, 9, 11, 2, 1);
    compare_pool(&s, 1, 8);
    s = pool_shape(2, 3, 9, 11, 2, 2); s.pad_top = s.pad_left = 1;
    compare_pool(&s, 1, 8);
    s = pool_shape(1, 2, 1, 1, 1, 1);
    compare_pool(&s, 1, 3);
    s = pool_shape(1, 2, 2, 2, 2, 2);
    compare_pool(&s, 1, 3);
}

/* A window with a NaN outputs the first NaN of the window in row-major order, and points at
   it; ties go to the first maximum, the bottom row only when strictly greater. Checked by hand
   on every path: nine windows, more than one vector on either ISA. */
TEST(pool_nan_and_ties_by_hand) {
    static const float top[18] = {1, 1, 0, 1, 5, 5, 0, 0, -0.0f, -0.0f, 0, 0, 7, 1, 0, 0, -1, -2};
    static const float bottom[18] = {1, 1, 3, 3, 5, 9, 0, 0, 0, 0, -0.0f, 0, 1, 1, 0, 0, -2, -1};
    static const int32_t expect_arg[9] = {0, 20, 23, 6, 8, 29, 12, 14, 16};
    const float nan2 = odd_nan(), minus_zero = -0.0f;
    float x[2 * 18], y[9];
    int32_t arg[9];
    cnn_pool2d_shape s = pool_shape(1, 1, 2, 18, 2, 2);
    int p, i;
    for (i = 0; i < 18; i++) { x[i] = top[i]; x[18 + i] = bottom[i]; }
    x[6] = nan2; x[25] = NAN;            /* window 3: two NaNs, the top left one wins */
    x[29] = NAN;                         /* window 5: {0, 0, -0, NaN} */
    x[14] = NAN; x[15] = nan2;           /* window 7: the first NaN */
    for (p = -1; p < fast_count; p++) {
        const char *path = p < 0 ? "scalar" : cnn_simd_name((cnn_simd)fast_paths[p]);
        cnn_simd_force(p < 0 ? CNN_SIMD_SCALAR : (cnn_simd)fast_paths[p]);
        CHECK_OK(cnn_maxpool2d_forward(&s, x, y, arg));
        for (i = 0; i < 9; i++) {
            CHECKF(arg[i] == expect_arg[i], "%s: window %d: argmax %d, expected %d", path, i, (int)arg[i], (int)expect_arg[i]);
            CHECKF(memcmp(&y[i], &x[expect_arg[i]], sizeof(float)) == 0, "%s: window %d: %g", path, i, (double)y[i]);
        }
        CHECK(memcmp(&y[3], &nan2, sizeof(float)) == 0);        /* the payload and sign too */
        CHECK(memcmp(&y[4], &minus_zero, sizeof(float)) == 0);  /* four zeros: the first, -0 */
        CHECK(y[5] != y[5] && y[7] != y[7] && y[6] == 7.0f && y[8] == -1.0f);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
}

/* The SGD update through cnn_sgd_step: dense layers whose weight and bias counts run through
   1..33 and some large ones, plain, momentum and Nesterov, with and without weight decay. */
TEST(sgd_update_matches_scalar) {
    static const int shapes[][2] = {{1, 1}, {1, 2}, {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {1, 15}, {1, 16}, {1, 17},
                                    {2, 11}, {3, 11}, {1, 31}, {1, 32}, {1, 33}, {4, 7}, {300, 37}, {1000, 19}};
    int si, mode, decay, p;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++)
        for (mode = 0; mode < 3; mode++)
            for (decay = 0; decay < 2; decay++) {
                cnn_net net;
                cnn_net_opts no = {0};
                cnn_dense_opts d = {0};
                cnn_build_opts bo = {0};
                cnn_sgd_opts o = {0};
                size_t count, i;
                float *w0, *v0, *w_ref, *v_ref;
                double worst = 0.0, moved = 0.0;
                no.channels = shapes[si][0]; no.height = 1; no.width = 1;
                d.units = shapes[si][1];
                bo.max_batch = 1; bo.with_momentum = 1;
                CHECK_OK(cnn_net_init(&net, &no));
                CHECK_OK(cnn_add_dense(&net, &d));
                CHECK_OK(cnn_add_dense(&net, &d));      /* a second layer: its biases follow */
                CHECK_OK(cnn_net_build(&net, &bo));
                count = cnn_net_param_count(&net);
                for (i = 0; i < count; i++) {
                    net.grads[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
                    net.velocity[i] = mode ? 2.0f * cnn_rng_uniform(&rng) - 1.0f : 0.0f;
                }
                w0 = (float *)malloc(count * sizeof(float)); v0 = (float *)malloc(count * sizeof(float));
                w_ref = (float *)malloc(count * sizeof(float)); v_ref = (float *)malloc(count * sizeof(float));
                memcpy(w0, net.params, count * sizeof(float)); memcpy(v0, net.velocity, count * sizeof(float));
                o.learning_rate = 0.05f; o.momentum = mode ? 0.9f : 0.0f; o.nesterov = mode == 2;
                o.weight_decay = decay ? 0.01f : 0.0f;
                cnn_simd_force(CNN_SIMD_SCALAR);
                CHECK_OK(cnn_sgd_step(&net, &o));
                memcpy(w_ref, net.params, count * sizeof(float)); memcpy(v_ref, net.velocity, count * sizeof(float));
                for (i = 0; i < count; i++) moved = fabs((double)w_ref[i] - w0[i]) > moved ? fabs((double)w_ref[i] - w0[i]) : moved;
                CHECK(moved > 1e-3);            /* the step did something to compare */
                for (p = 0; p < fast_count; p++) {
                    memcpy(net.params, w0, count * sizeof(float)); memcpy(net.velocity, v0, count * sizeof(float));
                    cnn_simd_force((cnn_simd)fast_paths[p]);
                    CHECK_OK(cnn_sgd_step(&net, &o));
                    for (i = 0; i < count; i++) {
                        double ew = fabs((double)net.params[i] - w_ref[i]) / (fabs(w_ref[i]) > 1.0 ? fabs(w_ref[i]) : 1.0);
                        double ev = fabs((double)net.velocity[i] - v_ref[i]) / (fabs(v_ref[i]) > 1.0 ? fabs(v_ref[i]) : 1.0);
                        if (!(ew <= worst)) worst = ew;
                        if (!(ev <= worst)) worst = ev;
                    }
                    CHECKF(worst <= 1e-6, "%s sgd %d->%d->%d mode %d decay %d: error %g", cnn_simd_name((cnn_simd)fast_paths[p]),
                           shapes[si][0], shapes[si][1], shapes[si][1], mode, decay, worst);
                }
                cnn_simd_force(CNN_SIMD_AUTO);
                cnn_net_free(&net);
                free(w0); free(v0); free(w_ref); free(v_ref);
            }
}

int main(void) {
    cnn_simd p;
    int i;
    cnn_rng_seed(&rng, 505);
    for (p = CNN_SIMD_AVX2; p <= CNN_SIMD_AVX512; p = (cnn_simd)(p + 1))
        if (cnn_simd_available(p)) fast_paths[fast_count++] = (int)p;
    printf("paths compared with scalar: %d", fast_count);
    for (i = 0; i < fast_count; i++) printf(" %s", cnn_simd_name((cnn_simd)fast_paths[i]));
    printf("%s\n", fast_count ? "" : " (none on this CPU/build)");
#if defined(__x86_64__) && !defined(CNN_NO_SIMD)
    /* Each x86 path this CPU has is compared; the ones it lacks are said to be skipped. */
    if (!cnn_simd_available(CNN_SIMD_AVX512)) printf("avx512: SKIPPED (this CPU, OS or compiler has no AVX-512F, or the build defines CNN_NO_AVX512)\n");
    if (!cnn_simd_available(CNN_SIMD_AVX2)) printf("avx2: SKIPPED (this CPU or OS has no AVX2+FMA)\n");
#endif
#if defined(__aarch64__) && !defined(CNN_NO_SIMD)
    RUN(paths_to_compare);
#endif
    RUN(activations_match_scalar);
    RUN(sigmoid_and_tanh_match_scalar);
    RUN(pool_2x2_stride_2_matches_scalar);
    RUN(pool_model_maps_and_modes);
    RUN(pool_other_shapes_still_agree);
    RUN(pool_nan_and_ties_by_hand);
    RUN(sgd_update_matches_scalar);
    return harness_report();
}
