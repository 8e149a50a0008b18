/* test_groups.c - grouped and depthwise convolution (cnn_conv2d_shape.groups): the three
   passes against a naive double-precision definition written here (every group its own
   convolution of c/groups channels into k/groups filters, weights k x c/groups x kh x kw),
   on the scalar path and every vector path this CPU has, with the workspace and without;
   awkward shapes (1, 3, 7, 17 channels per group, prime sizes, 1x1 images), strides 1 and 2,
   every padding, dilation; depthwise with channel multipliers; forced direct variants and
   explicit Winograd served per group; and the checks (groups that do not divide c or k).
       max |got - definition| <= 2e-5 * max(1, max |definition|)   (as in test_simd.c) */
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

#define TOLERANCE 2e-5

static cnn_rng rng;
static cnn_simd paths[4];
static int path_count;

/* The definition, in double: y = b + sum over the filter's group of w * x. */
static void naive(const cnn_conv2d_shape *s, int oh, int ow, const float *x, const float *w, const float *b,
                  const float *dy, double *y, double *dx, double *dw, double *db) {
    const int g = s->groups ? s->groups : 1, cg = s->c / g, kg = s->k / g;
    const int sh = s->stride_h ? s->stride_h : 1, sw = s->stride_w ? s->stride_w : 1;
    const int dh = s->dilation_h ? s->dilation_h : 1, dwl = s->dilation_w ? s->dilation_w : 1;
    int n, k, c, i, j, r, q;
    memset(dx, 0, sizeof(double) * s->n * s->c * s->h * s->w);
    memset(dw, 0, sizeof(double) * s->k * cg * s->kh * s->kw);
    memset(db, 0, sizeof(double) * s->k);
    for (n = 0; n < s->n; n++)
        for (k = 0; k < s->k; k++)
            for (i = 0; i < oh; i++)
                for (j = 0; j < ow; j++) {
                    const size_t yi = (((size_t)n * s->k + k) * oh + i) * ow + j;
                    double sum = b ? b[k] : 0.0;
                    db[k] += dy[yi];
                    for (c = 0; c < cg; c++)
                        for (r = 0; r < s->kh; r++)
                            for (q = 0; q < s->kw; q++) {
                                const int ii = i * sh - s->pad_top + r * dh, jj = j * sw - s->pad_left + q * dwl;
                                const int cc = k / kg * cg + c;
                                const size_t xi = (((size_t)n * s->c + cc) * s->h + ii) * s->w + jj;
                                const size_t wi = (((size_t)k * cg + c) * s->kh + r) * s->kw + q;
                                if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w) continue;
                                sum += (double)w[wi] * x[xi];
                                dx[xi] += (double)w[wi] * dy[yi];
                                dw[wi] += (double)x[xi] * dy[yi];
                            }
                    y[yi] = sum;
                }
}

static double error_d(const float *got, const double *ref, size_t n) {
    double worst = 0.0, magnitude = 1.0;
    size_t i;
    for (i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) worst = d;
        if (fabs(ref[i]) > magnitude) magnitude = fabs(ref[i]);
    }
    return worst / magnitude;
}

/* The three passes of s on every path, with and without the workspace, against the definition. */
static void compare_from(const cnn_conv2d_shape *s, int first_path) {
    int oh, ow, p, with_ws;
    size_t nx, ny, nw, ws_bytes;
    float *x, *w, *b, *dy, *y, *dx, *dwt, *dbt;
    double *ry, *rdx, *rdw, *rdb;
    unsigned char *ws;
    const int g = s->groups ? s->groups : 1;
    CHECK_OK(cnn_conv2d_check(s, &oh, &ow));
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * (s->c / g) * s->kh * s->kw;
    x = random_floats(&rng, nx); w = random_floats(&rng, nw); b = random_floats(&rng, (size_t)s->k); dy = random_floats(&rng, ny);
    y = random_floats(&rng, ny); dx = random_floats(&rng, nx); dwt = random_floats(&rng, nw); dbt = random_floats(&rng, (size_t)s->k);
    ry = (double *)malloc(ny * sizeof(double)); rdx = (double *)malloc(nx * sizeof(double));
    rdw = (double *)malloc(nw * sizeof(double)); rdb = (double *)malloc((size_t)s->k * sizeof(double));
    naive(s, oh, ow, x, w, b, dy, ry, rdx, rdw, rdb);
    for (p = first_path; p < path_count; p++) {
        CHECK_OK(cnn_simd_force(paths[p]));
        ws_bytes = cnn_conv2d_workspace_bytes(s);
        ws = (unsigned char *)malloc(ws_bytes + 1);
        /* a forced variant without its workspace is refused (test_conv_variants.c checks that) */
        for (with_ws = s->algo >= CNN_CONV_DIRECT_GRID; with_ws < 2; with_ws++) {
            void *space = with_ws ? ws + 1 : NULL;          /* an odd address */
            double e0, e1, e2, e3;
            memset(ws, 0xff, ws_bytes + 1);                 /* NaN: scratch read before written shows */
            CHECK_OK(cnn_conv2d_forward_ws(s, x, w, b, y, space, ws_bytes));
            CHECK_OK(cnn_conv2d_backward_data_ws(s, dy, w, dx, space, ws_bytes));
            CHECK_OK(cnn_conv2d_backward_weights_ws(s, x, dy, dwt, dbt, space, ws_bytes));
            e0 = error_d(y, ry, ny); e1 = error_d(dx, rdx, nx); e2 = error_d(dwt, rdw, nw); e3 = error_d(dbt, rdb, (size_t)s->k);
            CHECKF(e0 <= TOLERANCE && e1 <= TOLERANCE && e2 <= TOLERANCE && e3 <= TOLERANCE,
                   "%s ws %d algo %s n%d c%d %dx%d k%d %dx%d groups %d stride %d,%d dil %d,%d pads %d,%d,%d,%d: errors %g %g %g %g",
                   cnn_simd_name(paths[p]), with_ws, cnn_conv_algo_name(s->algo), s->n, s->c, s->h, s->w, s->k, s->kh, s->kw, g,
                   s->stride_h, s->stride_w, s->dilation_h, s->dilation_w, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right,
                   e0, e1, e2, e3);
        }
        free(ws);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dwt); free(dbt);
    free(ry); free(rdx); free(rdw); free(rdb);
}

static void compare(const cnn_conv2d_shape *s) { compare_from(s, 0); }

static cnn_conv2d_shape shape(int n, int c, int h, int w, int k, int kernel, int stride, int pad, int groups) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = s.kw = kernel;
    s.stride_h = s.stride_w = stride;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
    s.groups = groups;
    return s;
}

TEST(groups_one_and_zero_are_the_plain_convolution) {
    cnn_conv2d_shape s = shape(2, 3, 7, 5, 4, 3, 1, 1, 0);
    compare(&s);
    s.groups = 1;
    compare(&s);
}

TEST(grouped_awkward_shapes) {
    static const int per_group[] = {1, 3, 7, 17};
    static const int sizes[] = {1, 2, 3, 7, 13};
    int i, j, g;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 5; j++)
            for (g = 2; g <= 3; g++) {
                const int kg = per_group[(i + j) % 4];
                cnn_conv2d_shape s = shape(1 + (i + j) % 3, per_group[i] * g, sizes[j], sizes[(j + 2) % 5], kg * g, 3, 1 + j % 2, 1, g);
                compare(&s);
            }
}

TEST(grouped_random_strides_dilations_paddings) {
    int it;
    for (it = 0; it < 40; it++) {
        cnn_conv2d_shape s;
        const int g = 1 + (int)cnn_rng_below(&rng, 4);
        memset(&s, 0, sizeof s);
        s.groups = g;
        s.n = 1 + (int)cnn_rng_below(&rng, 3);
        s.c = g * (1 + (int)cnn_rng_below(&rng, 6));
        s.k = g * (1 + (int)cnn_rng_below(&rng, 6));
        s.h = 1 + (int)cnn_rng_below(&rng, 13);
        s.w = 1 + (int)cnn_rng_below(&rng, 13);
        s.kh = 1 + (int)cnn_rng_below(&rng, 4);
        s.kw = 1 + (int)cnn_rng_below(&rng, 4);
        s.stride_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.stride_w = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_h = 1 + (int)cnn_rng_below(&rng, 2);
        s.dilation_w = 1 + (int)cnn_rng_below(&rng, 3);
        s.pad_top = (int)cnn_rng_below(&rng, 3); s.pad_bottom = (int)cnn_rng_below(&rng, 3);
        s.pad_left = (int)cnn_rng_below(&rng, 3); s.pad_right = (int)cnn_rng_below(&rng, 3);
        if ((s.kh - 1) * s.dilation_h + 1 > s.h + s.pad_top + s.pad_bottom) s.pad_bottom += (s.kh - 1) * s.dilation_h;
        if ((s.kw - 1) * s.dilation_w + 1 > s.w + s.pad_left + s.pad_right) s.pad_right += (s.kw - 1) * s.dilation_w;
        compare(&s);
    }
}

/* Depthwise: groups = c, k = c * multiplier; 3x3 (the kernels' case) and others, every
   padding that keeps the kernel inside, strides 1 and 2. */
TEST(depthwise_shapes) {
    static const int channels[] = {1, 3, 7, 17};
    static const int sizes[] = {1, 2, 5, 13, 17};
    int i, j, m, stride, pad;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 5; j++)
            for (m = 1; m <= 2; m++)
                for (stride = 1; stride <= 2; stride++)
                    for (pad = 0; pad <= 2; pad++) {
                        cnn_conv2d_shape s = shape(1 + (i + j + pad) % 3, channels[i], sizes[j], sizes[(j + 1) % 5],
                                                   channels[i] * m, 3, stride, pad, channels[i]);
                        if (2 > sizes[j] + 2 * pad - 1 || 2 > sizes[(j + 1) % 5] + 2 * pad - 1) continue;
                        compare(&s);
                    }
    {
        cnn_conv2d_shape s = shape(2, 6, 9, 8, 12, 5, 1, 2, 6);   /* 5x5 */
        compare(&s);
        s = shape(3, 4, 11, 10, 4, 3, 2, 0, 4);
        s.pad_top = 1; s.pad_right = 2;                           /* asymmetric */
        compare(&s);
        s.dilation_h = 2;
        compare(&s);
        s = shape(2, 32, 23, 41, 32, 3, 1, 1, 32);               /* rows of 41 and 21: whole vectors and tails */
        compare(&s);
        s.stride_h = s.stride_w = 2;
        compare(&s);
        s.stride_h = 1; s.dilation_w = 3; s.pad_left = 0; s.pad_right = 4;   /* stride 2 in columns only */
        compare(&s);
        /* rows of 149 (prime) and 75 columns: the kernels' blocks of four vectors (64 columns
           on AVX-512) with the one-vector loop and the border after them; multiplier 2 */
        s = shape(2, 5, 7, 149, 10, 3, 1, 1, 5);
        compare(&s);
        s.stride_h = s.stride_w = 2;
        compare(&s);
        s.stride_h = s.stride_w = 1; s.dilation_w = 2; s.pad_right = 3;
        compare(&s);
    }
}

/* A forced direct variant or explicit Winograd runs per group, as it would ungrouped. */
TEST(forced_algorithms_run_per_group) {
    static const cnn_conv_algo algos[] = { CNN_CONV_WINOGRAD_2X2, CNN_CONV_WINOGRAD_4X4, CNN_CONV_DIRECT_ROWS,
                                           CNN_CONV_DIRECT_LOWERED };
    int a;
    cnn_conv2d_shape s = shape(3, 8, 9, 11, 12, 3, 1, 1, 4);
    for (a = 0; a < 4; a++) {
        s.algo = algos[a];
        CHECK_OK(cnn_conv2d_check(&s, NULL, NULL));
        CHECK(cnn_conv2d_algo_chosen(&s, 0) == algos[a]);
        compare_from(&s, a >= 2);        /* the forced direct variants run on vector paths only */
    }
    s.algo = CNN_CONV_AUTO;
    CHECK(cnn_conv2d_algo_chosen(&s, 0) == CNN_CONV_DIRECT);
    CHECK(cnn_conv2d_algo_chosen(&s, 1) == CNN_CONV_DIRECT);
}

TEST(groups_that_do_not_divide_are_refused) {
    cnn_conv2d_shape s = shape(1, 6, 5, 5, 9, 3, 1, 1, 4);
    char expect[64];
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "4 groups") && strstr(cnn_last_error(), "6 input channels") && strstr(cnn_last_error(), "9 filters"),
           "%s", cnn_last_error());
    s.groups = 3; s.c = 7;
    CHECK_STATUS(cnn_conv2d_forward(&s, NULL, NULL, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    sprintf(expect, "%d input channels", 7);
    CHECKF(strstr(cnn_last_error(), expect) != NULL, "%s", cnn_last_error());
    s.groups = -2; s.c = 6;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    s.groups = 3; s.k = 9;
    CHECK_OK(cnn_conv2d_check(&s, NULL, NULL));
    CHECK(cnn_conv2d_workspace_bytes(&s) < (size_t)1 << 20);
}

/* The weight gradient over several images needs its scratch in the workspace; with less it
   still gives the right sums (the scalar reference). */
TEST(weight_gradient_with_a_short_workspace) {
    cnn_conv2d_shape s = shape(4, 6, 9, 9, 6, 3, 1, 1, 2);
    int oh, ow, p;
    size_t nx, ny, nw, full;
    float *x, *dy, *dwt, *db;
    double *ry, *rdx, *rdw, *rdb;
    unsigned char *ws;
    CHECK_OK(cnn_conv2d_check(&s, &oh, &ow));
    nx = (size_t)s.n * s.c * s.h * s.w; ny = (size_t)s.n * s.k * oh * ow; nw = (size_t)s.k * 3 * 9;
    x = random_floats(&rng, nx); dy = random_floats(&rng, ny); dwt = random_floats(&rng, nw); db = random_floats(&rng, 6);
    ry = (double *)malloc(ny * sizeof(double)); rdx = (double *)malloc(nx * sizeof(double));
    rdw = (double *)malloc(nw * sizeof(double)); rdb = (double *)malloc(6 * sizeof(double));
    naive(&s, oh, ow, x, x, NULL, dy, ry, rdx, rdw, rdb);   /* w unused by the gradients checked */
    for (p = 0; p < path_count; p++) {
        CHECK_OK(cnn_simd_force(paths[p]));
        full = cnn_conv2d_workspace_bytes(&s);
        ws = (unsigned char *)malloc(full + 1);
        cnn_conv2d_check(NULL, NULL, NULL);                       /* an error message to see replaced or kept */
        CHECK_OK(cnn_conv2d_backward_weights_ws(&s, x, dy, dwt, db, ws, full / 2));
        CHECKF(strstr(cnn_last_error(), "NULL shape") != NULL, "a call that succeeded left a message: %s", cnn_last_error());
        CHECK(error_d(dwt, rdw, nw) <= TOLERANCE && error_d(db, rdb, 6) <= TOLERANCE);
        free(ws);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(dy); free(dwt); free(db); free(ry); free(rdx); free(rdw); free(rdb);
}

/* The builder: groups counted in the parameters and the summary, checked with the layer
   named; a grouped network saved and loaded gives the same outputs (record field 19, the
   weights k x c/groups x kh x kw). */
static cnn_net net, back;
TEST(grouped_layers_in_a_network_save_and_load) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_build_opts bo;
    static unsigned char file[1 << 16];
    char summary[2048];
    size_t size = 0, count = 0;
    float x[2 * 6 * 7 * 5], out[2 * 3];
    int i;
    memset(&in, 0, sizeof in); in.channels = 6; in.height = 7; in.width = 5;
    CHECK_OK(cnn_net_init(&net, &in));
    memset(&conv, 0, sizeof conv); conv.filters = 9; conv.groups = 4; conv.padding = CNN_PAD_SAME;
    CHECK_STATUS(cnn_add_conv(&net, &conv), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "layer 0") && strstr(cnn_last_error(), "groups 4") && strstr(cnn_last_error(), "6 input channels") &&
           strstr(cnn_last_error(), "9 filters"), "%s", cnn_last_error());
    CHECK_OK(cnn_net_init(&net, &in));
    conv.groups = 3;
    CHECK_OK(cnn_add_conv(&net, &conv));                        /* 9 x 2 x 3 x 3 weights */
    conv.filters = 18; conv.groups = 9; conv.stride = 2; conv.activation = CNN_ACT_RELU;
    CHECK_OK(cnn_add_conv(&net, &conv));                        /* depthwise x2: 18 x 1 x 3 x 3 */
    memset(&dense, 0, sizeof dense); dense.units = 3;
    CHECK_OK(cnn_add_dense(&net, &dense));
    CHECK(cnn_net_param_count(&net) == (size_t)(9 * 18 + 9) + (18 * 9 + 18) + (18 * 4 * 3 * 3 + 3));
    cnn_net_summary(&net, summary, sizeof summary);
    CHECKF(strstr(summary, "conv 3x3, 9 g3") && strstr(summary, "conv 3x3, 18 /s dw, relu"), "%s", summary);
    memset(&bo, 0, sizeof bo); bo.max_batch = 2; bo.seed = 3;
    CHECK_OK(cnn_net_build(&net, &bo));
    CHECK(cnn_layer_weights(&net, 0, &count) != NULL && count == 9 * 2 * 9);
    for (i = 0; i < (int)(sizeof x / sizeof x[0]); i++) x[i] = cnn_rng_uniform(&rng) - 0.5f;
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    memcpy(out, cnn_output(&net), sizeof out);
    CHECK_OK(cnn_save_to_memory(&net, file, sizeof file, &size));
    CHECK(size > 32 + 3 * 128 && file[32 + 19 * 4] == 3 && file[32 + 128 + 19 * 4] == 9 && file[32 + 256 + 19 * 4] == 0);
    CHECK_OK(cnn_load_from_memory(&back, file, size, &bo));
    CHECK(back.layers[0].conv.groups == 3 && back.layers[1].conv.groups == 9);
    CHECK_OK(cnn_forward(&back, x, 2, 0));
    CHECK(memcmp(out, cnn_output(&back), sizeof out) == 0);
    cnn_net_free(&net); cnn_net_free(&back);
}

int main(void) {
    cnn_rng_seed(&rng, 17);
    path_count = available_paths(paths);
    RUN(groups_one_and_zero_are_the_plain_convolution);
    RUN(grouped_awkward_shapes);
    RUN(grouped_random_strides_dilations_paddings);
    RUN(depthwise_shapes);
    RUN(forced_algorithms_run_per_group);
    RUN(groups_that_do_not_divide_are_refused);
    RUN(weight_gradient_with_a_short_workspace);
    RUN(grouped_layers_in_a_network_save_and_load);
    return harness_report();
}
