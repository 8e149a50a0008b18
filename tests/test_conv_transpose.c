/* test_conv_transpose.c - transposed convolution (PyTorch's ConvTranspose2d): the plain
   functions against a naive double-precision scatter written here from the definition
       y[n][k][i*s - p + r*d][j*s - p + q*d] += x[n][c][i][j] * w[c][k - k0][r][q]
   (k in the group of c, positions outside the output dropped), its adjoint for the data
   and weight gradients, on the scalar path and every vector path, with and without the
   workspace; the output-size formula; the checks (output padding, groups); and the network
   layer: builder checks naming the layer and the value, summary, describe, save and load.
       max |got - definition| <= 2e-5 * max(1, max |definition|) */
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

#define TOLERANCE 2e-5

static cnn_rng rng;
static cnn_simd paths[4];
static int path_count;

static void naive(const cnn_conv_transpose2d_shape *s, int oh, int ow, const float *x, const float *w, const float *b,
                  const float *dy, double *y, double *dx, double *dw, double *db) {
    const int g = s->groups ? s->groups : 1, cg = s->c / g, kg = s->k / g;
    const int sh = s->stride_h ? s->stride_h : 1, sw = s->stride_w ? s->stride_w : 1;
    const int dh = s->dilation_h ? s->dilation_h : 1, dwl = s->dilation_w ? s->dilation_w : 1;
    const size_t ny = (size_t)s->n * s->k * oh * ow;
    size_t t;
    int n, k, c, i, j, r, q;
    for (t = 0; t < ny; t++) y[t] = b ? b[t / ((size_t)oh * ow) % s->k] : 0.0;
    memset(dx, 0, sizeof(double) * s->n * s->c * s->h * s->w);
    memset(dw, 0, sizeof(double) * s->c * kg * s->kh * s->kw);
    memset(db, 0, sizeof(double) * s->k);
    for (t = 0; t < ny; t++) db[t / ((size_t)oh * ow) % s->k] += dy[t];
    for (n = 0; n < s->n; n++)
        for (c = 0; c < s->c; c++)
            for (i = 0; i < s->h; i++)
                for (j = 0; j < s->w; j++) {
                    const size_t xi = (((size_t)n * s->c + c) * s->h + i) * s->w + j;
                    for (k = 0; k < kg; k++)
                        for (r = 0; r < s->kh; r++)
                            for (q = 0; q < s->kw; q++) {
                                const int oi = i * sh - s->pad_h + r * dh, oj = j * sw - s->pad_w + q * dwl;
                                const int kk = c / cg * kg + k;
                                const size_t wi = (((size_t)c * kg + k) * s->kh + r) * s->kw + q;
                                size_t yi;
                                if (oi < 0 || oi >= oh || oj < 0 || oj >= ow) continue;
                                yi = (((size_t)n * s->k + kk) * oh + oi) * ow + oj;
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)dy[yi] * w[wi];
                                dw[wi] += (double)dy[yi] * x[xi];
                            }
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

static void compare(const cnn_conv_transpose2d_shape *s) {
    int oh = 0, ow = 0, p, with_ws;
    size_t nx, ny, nw, ws_bytes;
    float *x, *w, *b, *dy, *y, *dx, *dwt, *dbt;
    double *ry, *rdx, *rdw, *rdb;
    unsigned char *ws;
    const int g = s->groups ? s->groups : 1;
    CHECK_OK(cnn_conv_transpose2d_check(s, &oh, &ow));
    if (oh < 1) return;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->c * (s->k / g) * s->kh * s->kw;
    x = random_floats(&rng, nx); w = random_floats(&rng, nw); b = random_floats(&rng, (size_t)s->k); dy = random_floats(&rng, ny);
    y = random_floats(&rng, ny); dx = random_floats(&rng, nx); dwt = random_floats(&rng, nw); dbt = random_floats(&rng, (size_t)s->k);
    ry = (double *)malloc(ny * sizeof(double)); rdx = (double *)malloc(nx * sizeof(double));
    rdw = (double *)malloc(nw * sizeof(double)); rdb = (double *)malloc((size_t)s->k * sizeof(double));
    naive(s, oh, ow, x, w, b, dy, ry, rdx, rdw, rdb);
    for (p = 0; p < path_count; p++) {
        CHECK_OK(cnn_simd_force(paths[p]));
        ws_bytes = cnn_conv_transpose2d_workspace_bytes(s);
        ws = (unsigned char *)malloc(ws_bytes + 1);
        for (with_ws = 0; with_ws < 2; with_ws++) {
            void *space = with_ws ? ws + 1 : NULL;
            double e0, e1, e2, e3;
            memset(ws, 0xff, ws_bytes + 1);
            CHECK_OK(cnn_conv_transpose2d_forward_ws(s, x, w, b, y, space, ws_bytes));
            CHECK_OK(cnn_conv_transpose2d_backward_data_ws(s, dy, w, dx, space, ws_bytes));
            CHECK_OK(cnn_conv_transpose2d_backward_weights_ws(s, x, dy, dwt, dbt, space, ws_bytes));
            e0 = error_d(y, ry, ny); e1 = error_d(dx, rdx, nx); e2 = error_d(dwt, rdw, nw); e3 = error_d(dbt, rdb, (size_t)s->k);
            CHECKF(e0 <= TOLERANCE && e1 <= TOLERANCE && e2 <= TOLERANCE && e3 <= TOLERANCE,
                   "%s ws %d n%d c%d %dx%d k%d %dx%d groups %d stride %d,%d dil %d,%d pad %d,%d out pad %d,%d: errors %g %g %g %g",
                   cnn_simd_name(paths[p]), with_ws, s->n, s->c, s->h, s->w, s->k, s->kh, s->kw, g, s->stride_h, s->stride_w,
                   s->dilation_h, s->dilation_w, s->pad_h, s->pad_w, s->output_pad_h, s->output_pad_w, e0, e1, e2, e3);
        }
        free(ws);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dwt); free(dbt);
    free(ry); free(rdx); free(rdw); free(rdb);
}

static cnn_conv_transpose2d_shape shape(int n, int c, int h, int w, int k, int kernel, int stride, int pad, int out_pad) {
    cnn_conv_transpose2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = s.kw = kernel;
    s.stride_h = s.stride_w = stride; s.pad_h = s.pad_w = pad; s.output_pad_h = s.output_pad_w = out_pad;
    return s;
}

TEST(output_size_is_pytorchs) {
    cnn_conv_transpose2d_shape s = shape(1, 2, 7, 5, 3, 3, 2, 1, 1);
    int oh, ow;
    CHECK_OK(cnn_conv_transpose2d_check(&s, &oh, &ow));
    CHECK(oh == (7 - 1) * 2 - 2 + 2 + 1 + 1 && ow == (5 - 1) * 2 - 2 + 2 + 1 + 1);   /* 14, 10: the input doubled */
    s = shape(1, 1, 1, 1, 1, 4, 1, 0, 0);
    CHECK_OK(cnn_conv_transpose2d_check(&s, &oh, &ow));
    CHECK(oh == 4 && ow == 4);
    s.dilation_h = 3; s.stride_w = 5; s.output_pad_w = 4; s.w = 2;
    CHECK_OK(cnn_conv_transpose2d_check(&s, &oh, &ow));
    CHECK(oh == 3 * 3 + 1 && ow == 5 + 3 + 4 + 1);
}

TEST(awkward_shapes_every_path) {
    static const int channels[] = {1, 3, 7, 17};
    static const int sizes[] = {1, 2, 3, 7, 13};
    int i, j, stride, skipped = 0;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 5; j++)
            for (stride = 1; stride <= 3; stride++) {
                cnn_conv_transpose2d_shape s = shape(1 + (i + j) % 3, channels[i], sizes[j], sizes[(j + 2) % 5],
                                                     channels[(i + stride) % 4], 2 + (j + stride) % 3, stride, (i + j) % 2, 0);
                s.output_pad_h = stride - 1;
                if (cnn_conv_transpose2d_check(&s, NULL, NULL) == CNN_ERR_SHAPE) { skipped++; continue; }  /* pads past a 1-pixel output */
                compare(&s);
            }
    CHECK(skipped < 10);
}

TEST(random_shapes_with_groups_dilation_and_output_padding) {
    int it, ran = 0;
    for (it = 0; it < 60; it++) {
        cnn_conv_transpose2d_shape s;
        const int g = 1 + (int)cnn_rng_below(&rng, 3);
        int oh;
        memset(&s, 0, sizeof s);
        s.groups = g;
        s.n = 1 + (int)cnn_rng_below(&rng, 3);
        s.c = g * (1 + (int)cnn_rng_below(&rng, 5));
        s.k = g * (1 + (int)cnn_rng_below(&rng, 5));
        s.h = 1 + (int)cnn_rng_below(&rng, 9);
        s.w = 1 + (int)cnn_rng_below(&rng, 9);
        s.kh = 1 + (int)cnn_rng_below(&rng, 4);
        s.kw = 1 + (int)cnn_rng_below(&rng, 4);
        s.stride_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.stride_w = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_w = 1 + (int)cnn_rng_below(&rng, 2);
        s.pad_h = (int)cnn_rng_below(&rng, 3);
        s.pad_w = (int)cnn_rng_below(&rng, 3);
        s.output_pad_h = (int)cnn_rng_below(&rng, (uint32_t)(s.stride_h > s.dilation_h ? s.stride_h : s.dilation_h));
        s.output_pad_w = (int)cnn_rng_below(&rng, (uint32_t)(s.stride_w > s.dilation_w ? s.stride_w : s.dilation_w));
        if (cnn_conv_transpose2d_check(&s, &oh, NULL) != CNN_OK) continue;   /* an empty output, or pads past reach */
        compare(&s);
        ran++;
    }
    CHECKF(ran >= 30, "only %d of 60 random shapes were valid", ran);
    {   /* 3x3 stride 1 with 32 channels each way: the data gradient through Winograd */
        cnn_conv_transpose2d_shape s = shape(2, 32, 9, 10, 32, 3, 1, 1, 0);
        compare(&s);
        s.algo = CNN_CONV_WINOGRAD_4X4;
        compare(&s);
    }
}

TEST(bad_shapes_are_refused) {
    cnn_conv_transpose2d_shape s = shape(1, 4, 5, 5, 6, 3, 2, 1, 2);
    CHECK_STATUS(cnn_conv_transpose2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "output padding 2x2") != NULL, "%s", cnn_last_error());
    s.output_pad_h = s.output_pad_w = 1;
    CHECK_OK(cnn_conv_transpose2d_check(&s, NULL, NULL));
    s.groups = 4;
    CHECK_STATUS(cnn_conv_transpose2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "4 groups") != NULL, "%s", cnn_last_error());
    s.groups = 2;
    CHECK_OK(cnn_conv_transpose2d_check(&s, NULL, NULL));
    s = shape(1, 1, 1, 1, 1, 1, 1, 1, 0);                   /* (1-1)*1 - 2 + 0 + 1 = -1 */
    CHECK_STATUS(cnn_conv_transpose2d_check(&s, NULL, NULL), CNN_ERR_SHAPE);
    CHECK_STATUS(cnn_conv_transpose2d_forward(NULL, NULL, NULL, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
}

/* The layer: checks naming the layer and the value, summary, describe, output, save/load. */
static cnn_net net, back;
TEST(the_layer_builds_checks_saves_and_loads) {
    cnn_net_opts in;
    cnn_conv_transpose_opts t;
    cnn_conv_opts conv;
    cnn_build_opts bo;
    cnn_layer_info info;
    static unsigned char file[1 << 16];
    char summary[2048];
    float x[2 * 4 * 5 * 3], out_a[2 * 3 * 10 * 6];
    size_t size = 0, count = 0, i;
    const float *y;
    memset(&in, 0, sizeof in); in.channels = 4; in.height = 5; in.width = 3;
    CHECK_OK(cnn_net_init(&net, &in));
    memset(&t, 0, sizeof t); t.filters = 6; t.kernel = 3; t.stride = 2; t.pad = 1; t.output_padding = 2;
    CHECK_STATUS(cnn_add_conv_transpose(&net, &t), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "layer 0") && strstr(cnn_last_error(), "conv_transpose") && strstr(cnn_last_error(), "output_padding 2"),
           "%s", cnn_last_error());
    CHECK_OK(cnn_net_init(&net, &in));
    t.output_padding = 1; t.groups = 2; t.activation = CNN_ACT_TANH;
    CHECK_OK(cnn_add_conv_transpose(&net, &t));                /* 6 x 10 x 6 */
    memset(&conv, 0, sizeof conv); conv.filters = 3; conv.padding = CNN_PAD_SAME;
    CHECK_OK(cnn_add_conv(&net, &conv));                        /* 3 x 10 x 6 */
    CHECK(net.layers[0].out_c == 6 && net.layers[0].out_h == 10 && net.layers[0].out_w == 6);
    CHECK(cnn_net_param_count(&net) == (size_t)(4 * 3 * 9 + 6) + (3 * 6 * 9 + 3));
    CHECK_OK(cnn_layer_describe(&net, 0, &info));
    CHECK(info.kind == CNN_LAYER_CONV_TRANSPOSE && info.kernel_h == 3 && info.in_c == 4 && info.out_h == 10 &&
          info.weight_count == 4 * 3 * 9 && info.bias_count == 6 && info.activation == CNN_ACT_TANH);
    cnn_net_summary(&net, summary, sizeof summary);
    CHECKF(strstr(summary, "convT 3x3, 6 /s g2, tanh") != NULL, "%s", summary);
    memset(&bo, 0, sizeof bo); bo.max_batch = 2; bo.seed = 9;
    CHECK_OK(cnn_net_build(&net, &bo));
    CHECK(cnn_layer_weights(&net, 0, &count) != NULL && count == 4 * 3 * 9);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (i = 0; i < 6; i++) net.layers[0].b[i] = 0.1f * (float)i;
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    {   /* the layer's output is the plain function's, with tanh */
        cnn_conv_transpose2d_shape s = shape(2, 4, 5, 3, 6, 3, 2, 1, 1);
        float *ref = (float *)malloc(2 * 6 * 10 * 6 * sizeof(float));
        const float *got = cnn_layer_output(&net, 0, NULL);
        s.groups = 2;
        CHECK_OK(cnn_conv_transpose2d_forward(&s, x, net.layers[0].w, net.layers[0].b, ref));
        for (i = 0; i < 2 * 6 * 10 * 6; i++) CHECK_NEAR(got[i], tanh(ref[i]), 1e-5);
        free(ref);
    }
    y = cnn_output(&net);
    memcpy(out_a, y, sizeof out_a);
    CHECK_OK(cnn_save_to_memory(&net, file, sizeof file, &size));
    CHECK(file[32] == 8 && file[32 + 19 * 4] == 2 && file[32 + 20 * 4] == 1 && file[32 + 21 * 4] == 1);
    CHECK_OK(cnn_load_from_memory(&back, file, size, &bo));
    CHECK(back.layers[0].kind == CNN_LAYER_CONV_TRANSPOSE && back.layers[0].out_h == 10);
    CHECK_OK(cnn_forward(&back, x, 2, 0));
    CHECK(memcmp(out_a, cnn_output(&back), sizeof out_a) == 0);
    {   /* an inference build (one activation region, the forward's workspace only) agrees */
        cnn_build_opts lean = bo;
        lean.inference_only = 1; lean.max_batch = 1;
        CHECK_OK(cnn_net_build(&back, &lean));
        CHECK_OK(cnn_forward(&back, x + 4 * 5 * 3, 1, 0));
        CHECK(memcmp(out_a + 3 * 10 * 6, cnn_output(&back), 3 * 10 * 6 * sizeof(float)) == 0);
        cnn_net_free(&back);
    }
    /* output padding 3 in the file: past the stride, refused naming the layer */
    file[32 + 20 * 4] = 3;
    reseal(file, (long)size);
    CHECK_STATUS(cnn_load_from_memory(&back, file, size, &bo), CNN_ERR_FILE_CORRUPT);
    CHECKF(strstr(cnn_last_error(), "layer 0") && strstr(cnn_last_error(), "output_padding 3"), "%s", cnn_last_error());
    cnn_net_free(&net); cnn_net_free(&back);
}

int main(void) {
    cnn_rng_seed(&rng, 8);
    path_count = available_paths(paths);
    RUN(output_size_is_pytorchs);
    RUN(awkward_shapes_every_path);
    RUN(random_shapes_with_groups_dilation_and_output_padding);
    RUN(bad_shapes_are_refused);
    RUN(the_layer_builds_checks_saves_and_loads);
    return harness_report();
}
