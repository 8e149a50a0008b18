/* test_hardening.c - what a hostile input or a careless caller found (issue 13), one test per
   defect, so none comes back: strides far larger than the input, loading into an
   uninitialised network, NaN and infinities wherever a loss is computed, hostile model files,
   and the save path's temp file. */
#include <limits.h>
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static cnn_rng rng;

static float *random_floats(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    return p;
}

/* The three convolution passes on every path, with a workspace, against the scalar reference;
   the shapes are legal (cnn_add_conv and model files accept them), so UBSan must stay quiet. */
static void conv_paths_agree(const cnn_conv2d_shape *s) {
    int oh, ow, path;
    size_t nx, ny, nw, i, ws_bytes;
    float *x, *w, *b, *dy, *y0, *dx0, *dw0, *db0, *y, *dx, *dw, *db;
    void *ws;
    CHECK_OK(cnn_conv2d_check(s, &oh, &ow));
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * s->c * s->kh * s->kw;
    ws_bytes = cnn_conv2d_workspace_bytes(s);
    ws = malloc(ws_bytes + 1);
    x = random_floats(nx); w = random_floats(nw); b = random_floats((size_t)s->k); dy = random_floats(ny);
    y0 = random_floats(ny); dx0 = random_floats(nx); dw0 = random_floats(nw); db0 = random_floats((size_t)s->k);
    y = random_floats(ny); dx = random_floats(nx); dw = random_floats(nw); db = random_floats((size_t)s->k);
    CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
    CHECK_OK(cnn_conv2d_forward(s, x, w, b, y0));
    CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx0));
    CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw0, db0));
    for (path = CNN_SIMD_AVX2; path <= CNN_SIMD_NEON; path++) {
        if (!cnn_simd_available((cnn_simd)path)) continue;
        CHECK_OK(cnn_simd_force((cnn_simd)path));
        CHECK_OK(cnn_conv2d_forward_ws(s, x, w, b, y, ws, ws_bytes));
        CHECK_OK(cnn_conv2d_backward_data_ws(s, dy, w, dx, ws, ws_bytes));
        CHECK_OK(cnn_conv2d_backward_weights_ws(s, x, dy, dw, db, ws, ws_bytes));
        for (i = 0; i < ny; i++) CHECK_NEAR(y[i], y0[i], 1e-4);
        for (i = 0; i < nx; i++) CHECK_NEAR(dx[i], dx0[i], 1e-4);
        for (i = 0; i < nw; i++) CHECK_NEAR(dw[i], dw0[i], 1e-4);
        CHECK_OK(cnn_conv2d_forward(s, x, w, b, y));
        CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx));
        CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw, db));
        for (i = 0; i < ny; i++) CHECK_NEAR(y[i], y0[i], 1e-4);
        for (i = 0; i < nx; i++) CHECK_NEAR(dx[i], dx0[i], 1e-4);
        for (i = 0; i < nw; i++) CHECK_NEAR(dw[i], dw0[i], 1e-4);
    }
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
    free(x); free(w); free(b); free(dy); free(y0); free(dx0); free(dw0); free(db0);
    free(y); free(dx); free(dw); free(db); free(ws);
}

/* Defect 2: a stride far larger than the input (one output per axis) made the vector paths
   compute stride * row length in int, which overflows (undefined behaviour; UBSan reports it). */
TEST(conv_stride_far_larger_than_the_input) {
    static const int cases[][10] = {
        /* n c  h  w  k kh kw  stride_h    stride_w   pad */
        { 2, 3, 5, 7, 4, 3, 3, INT_MAX,   1,         0 },
        { 2, 3, 5, 7, 4, 3, 3, 1,         INT_MAX,   0 },
        { 1, 2, 4, 4, 3, 2, 2, INT_MAX,   INT_MAX,   1 },
        { 3, 1, 9, 9, 17, 3, 3, 1 << 30,  1 << 29,   2 },
        { 1, 7, 3, 3, 5, 3, 3, INT_MAX,   INT_MAX,   40 },
        { 2, 17, 1, 1, 3, 1, 1, INT_MAX,  INT_MAX,   0 },
    };
    size_t t;
    for (t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *p = cases[t];
        cnn_conv2d_shape s;
        memset(&s, 0, sizeof s);
        s.n = p[0]; s.c = p[1]; s.h = p[2]; s.w = p[3]; s.k = p[4]; s.kh = p[5]; s.kw = p[6];
        s.stride_h = p[7]; s.stride_w = p[8]; s.dilation_h = s.dilation_w = 1;
        s.pad_top = s.pad_left = p[9];
        conv_paths_agree(&s);
    }
}

/* Extreme sizes near INT_MAX: the shape checks and the workspace query compute only from the
   shape, so they run here without the memory such layers would need. Under UBSan any int
   product that overflows on the way fails the suite. */
static int extreme(cnn_rng *r) {
    static const int v[] = {1, 2, 3, 5, 7, 16, 255, 46341, 65536, 1 << 20, 1 << 30, INT_MAX / 4, INT_MAX / 2, INT_MAX - 1, INT_MAX};
    return v[cnn_rng_below(r, sizeof v / sizeof v[0])];
}

TEST(extreme_shapes_are_checked_without_overflow) {
    cnn_rng r;
    int i, accepted = 0;
    cnn_rng_seed(&r, 2);
    for (i = 0; i < 200000; i++) {
        cnn_conv2d_shape s;
        cnn_pool2d_shape p;
        int oh, ow;
        s.n = extreme(&r); s.c = extreme(&r); s.h = extreme(&r); s.w = extreme(&r);
        s.k = extreme(&r); s.kh = extreme(&r); s.kw = extreme(&r);
        s.stride_h = extreme(&r); s.stride_w = extreme(&r); s.dilation_h = extreme(&r); s.dilation_w = extreme(&r);
        s.pad_top = extreme(&r) - 1; s.pad_bottom = extreme(&r) - 1; s.pad_left = extreme(&r) - 1; s.pad_right = extreme(&r) - 1;
        if (cnn_conv2d_check(&s, &oh, &ow) == CNN_OK) {
            accepted++;
            CHECK(oh >= 1 && ow >= 1);
            (void)cnn_conv2d_workspace_bytes(&s);
        }
        p.n = extreme(&r); p.c = extreme(&r); p.h = extreme(&r); p.w = extreme(&r); p.kh = extreme(&r); p.kw = extreme(&r);
        p.stride_h = extreme(&r); p.stride_w = extreme(&r);
        p.pad_top = extreme(&r) - 1; p.pad_bottom = extreme(&r) - 1; p.pad_left = extreme(&r) - 1; p.pad_right = extreme(&r) - 1;
        p.ceil_mode = i & 1; p.count_pad = (i >> 1) & 1;
        if (cnn_pool2d_check(&p, &oh, &ow) == CNN_OK) CHECK(oh >= 1 && ow >= 1);
    }
    CHECK(accepted > 100);    /* the sweep reaches the workspace query, not only the checks */
}

/* Pooling with a stride and a window as large as the input allows, on every path. */
TEST(pool_stride_far_larger_than_the_input) {
    cnn_pool2d_shape s;
    float x[2 * 3 * 5 * 4], y[2 * 3 * 4], y0[2 * 3 * 4], dx[2 * 3 * 5 * 4], dx0[2 * 3 * 5 * 4];
    int32_t am[2 * 3 * 4];
    int oh, ow, mode;
    size_t i;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    for (mode = 0; mode < 4; mode++) {
        memset(&s, 0, sizeof s);
        s.n = 2; s.c = 3; s.h = 5; s.w = 4; s.kh = 3; s.kw = 2; s.stride_h = INT_MAX; s.stride_w = INT_MAX - 1;
        s.pad_top = s.pad_bottom = 1; s.pad_left = 1; s.ceil_mode = mode & 1; s.count_pad = mode >> 1;
        CHECK_OK(cnn_pool2d_check(&s, &oh, &ow));
        CHECK(oh == 1 && ow == 1);
        CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
        CHECK_OK(cnn_avgpool2d_forward(&s, x, y0));
        CHECK_OK(cnn_avgpool2d_backward(&s, y0, dx0));
        CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
        CHECK_OK(cnn_avgpool2d_forward(&s, x, y));
        CHECK_OK(cnn_avgpool2d_backward(&s, y, dx));
        for (i = 0; i < 6; i++) CHECK_NEAR(y[i], y0[i], 1e-6);
        for (i = 0; i < sizeof dx / sizeof dx[0]; i++) CHECK_NEAR(dx[i], dx0[i], 1e-6);
        CHECK_OK(cnn_maxpool2d_forward(&s, x, y, am));
        CHECK_OK(cnn_maxpool2d_backward(&s, y, am, dx));
        /* window rows -1..1 and columns -1..0: the max of x[0..1][0] of each plane */
        for (i = 0; i < 6; i++) CHECK(y[i] == (x[i * 20] > x[i * 20 + 4] ? x[i * 20] : x[i * 20 + 4]));
    }
}

/* A network whose convolution's stride is larger than its input: what cnn_add_conv and a
   model file accept must train on every path without undefined behaviour. */
TEST(network_with_a_huge_stride_trains) {
    cnn_net net;
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    cnn_sgd_opts sgd;
    float x[4 * 2 * 6 * 5], loss;
    int32_t labels[4] = {0, 1, 2, 1};
    int path;
    size_t i;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    for (path = CNN_SIMD_SCALAR; path <= CNN_SIMD_NEON; path++) {
        if (!cnn_simd_available((cnn_simd)path)) continue;
        CHECK_OK(cnn_simd_force((cnn_simd)path));
        memset(&no, 0, sizeof no); no.channels = 2; no.height = 6; no.width = 5;
        CHECK_OK(cnn_net_init(&net, &no));
        memset(&co, 0, sizeof co); co.filters = 7; co.kernel = 3; co.stride_h = INT_MAX; co.stride_w = INT_MAX - 2;
        co.padding = CNN_PAD_SAME; co.activation = CNN_RELU;
        CHECK_OK(cnn_add_conv(&net, &co));
        memset(&dn, 0, sizeof dn); dn.units = 3;
        CHECK_OK(cnn_add_dense(&net, &dn));
        memset(&bo, 0, sizeof bo); bo.max_batch = 4;
        CHECK_OK(cnn_net_build(&net, &bo));
        memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.1f;
        CHECK_OK(cnn_train_batch(&net, x, labels, 4, &sgd, &loss));
        CHECK(loss == loss);
        cnn_net_free(&net);
    }
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
}

int main(void) {
    cnn_rng_seed(&rng, 13);
    RUN(conv_stride_far_larger_than_the_input);
    RUN(extreme_shapes_are_checked_without_overflow);
    RUN(pool_stride_far_larger_than_the_input);
    RUN(network_with_a_huge_stride_trains);
    return harness_report();
}
