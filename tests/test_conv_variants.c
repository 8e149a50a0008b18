/* test_conv_variants.c - each direct-convolution variant, forced through cnn_conv2d_shape.algo
   (CNN_CONV_DIRECT_GRID, _ROWS, _LOWERED), against the scalar reference on awkward shapes
   (1, 3, 7, 17 channels; odd and prime sizes; 1x1 images; H != W; strides, dilations,
   paddings), on every vector path this CPU has; and forcing a variant where it cannot serve
   (the pass, the shape, no workspace, the scalar path) is CNN_ERR_INVALID_ARGUMENT with a
   message naming the variant, and writes nothing.
       max |variant - reference| <= 2e-5 * max(1, max |reference|)   (as in test_simd.c) */
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

static cnn_rng rng;
static int fast_paths[8], fast_count;
static const cnn_conv_algo variants[3] = { CNN_CONV_DIRECT_GRID, CNN_CONV_DIRECT_ROWS, CNN_CONV_DIRECT_LOWERED };
static int served[3][3];        /* [variant][pass]: calls a variant served, so none is vacuous */

#define TOLERANCE 2e-5
#define SENTINEL 12345.0f

static int untouched(const float *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) if (p[i] != SENTINEL) return 0;
    return 1;
}

/* Whether variant v serves pass (0 forward, 1 data gradient, 2 weight gradient) of s on a
   vector path, given the workspace cnn_conv2d_workspace_bytes asks for: what cnn.h documents. */
static int serves(cnn_conv_algo v, int pass, const cnn_conv2d_shape *s) {
    const int stride1 = s->stride_h == 1 && s->stride_w == 1;
    const int pads_reachable = s->pad_top <= s->dilation_h * (s->kh - 1) && s->pad_bottom <= s->dilation_h * (s->kh - 1) &&
                               s->pad_left <= s->dilation_w * (s->kw - 1) && s->pad_right <= s->dilation_w * (s->kw - 1);
    if (v == CNN_CONV_DIRECT_GRID) return pass == 0 ? stride1 : pass == 1;
    if (v == CNN_CONV_DIRECT_ROWS) return 1;
    return pass != 1 || (stride1 && pads_reachable);
}

/* One pass of s with variant v on the active path, workspace or not: compared with the
   reference where it serves, else refused without writing. */
static void check_variant(cnn_conv2d_shape s, int vi, int pass, int with_workspace, const float *x, const float *w,
                          const float *b, const float *dy, const float *ref, const float *db_ref, size_t n_out) {
    const cnn_conv_algo v = variants[vi];
    const size_t ws_bytes = cnn_conv2d_workspace_bytes(&s);
    unsigned char *ws = (unsigned char *)malloc(ws_bytes + 1);
    float *out = (float *)malloc(n_out * sizeof(float)), *db = (float *)malloc((size_t)s.k * sizeof(float));
    void *space = with_workspace ? ws + 1 : NULL;          /* an odd address */
    const int expect = serves(v, pass, &s) && (with_workspace || v == CNN_CONV_DIRECT_LOWERED);
    cnn_status st;
    size_t i;
    memset(ws, 0xff, ws_bytes + 1);                         /* NaN: a cell the kernel forgets shows */
    for (i = 0; i < n_out; i++) out[i] = SENTINEL;
    for (i = 0; i < (size_t)s.k; i++) db[i] = SENTINEL;
    s.algo = v;
    st = pass == 0 ? cnn_conv2d_forward_ws(&s, x, w, b, out, space, ws_bytes)
       : pass == 1 ? cnn_conv2d_backward_data_ws(&s, dy, w, out, space, ws_bytes)
       : cnn_conv2d_backward_weights_ws(&s, x, dy, out, db, space, ws_bytes);
    if (expect) {
        const double e = max_error(out, ref, n_out), eb = pass == 2 ? max_error(db, db_ref, (size_t)s.k) : 0.0;
        served[vi][pass]++;
        CHECKF(st == CNN_OK && e <= TOLERANCE && eb <= TOLERANCE,
               "%s %s pass %d (workspace %d) n%d c%d %dx%d k%d %dx%d stride %d,%d dil %d,%d pads %d,%d,%d,%d: %s %s, error %g, db %g",
               cnn_simd_name(cnn_simd_active()), cnn_conv_algo_name(v), pass, with_workspace, s.n, s.c, s.h, s.w, s.k, s.kh, s.kw,
               s.stride_h, s.stride_w, s.dilation_h, s.dilation_w, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right,
               cnn_status_name(st), st ? cnn_last_error() : "", e, eb);
    } else {
        CHECKF(st == CNN_ERR_INVALID_ARGUMENT && strstr(cnn_last_error(), cnn_conv_algo_name(v)) &&
               untouched(out, n_out) && untouched(db, (size_t)s.k),
               "%s %s pass %d (workspace %d) c%d %dx%d k%d %dx%d stride %d,%d pads %d,%d,%d,%d: expected a refusal, got %s: %s",
               cnn_simd_name(cnn_simd_active()), cnn_conv_algo_name(v), pass, with_workspace, s.c, s.h, s.w, s.k, s.kh, s.kw,
               s.stride_h, s.stride_w, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, cnn_status_name(st), cnn_last_error());
    }
    free(ws); free(out); free(db);
}

/* Every variant, pass and workspace choice of s on every vector path, against the scalar
   reference computed once. */
static void compare_variants(const cnn_conv2d_shape *s) {
    int oh, ow, p, vi, pass;
    size_t nx, ny, nw;
    float *x, *w, *b, *dy, *y_ref, *dx_ref, *dw_ref, *db_ref;
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * s->c * s->kh * s->kw;
    x = random_floats(&rng, nx); w = random_floats(&rng, nw); b = random_floats(&rng, (size_t)s->k); dy = random_floats(&rng, ny);
    y_ref = random_floats(&rng, ny); dx_ref = random_floats(&rng, nx); dw_ref = random_floats(&rng, nw); db_ref = random_floats(&rng, (size_t)s->k);
    cnn_simd_force(CNN_SIMD_SCALAR);
    CHECK_OK(cnn_conv2d_forward(s, x, w, b, y_ref));
    CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx_ref));
    CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw_ref, db_ref));
    for (p = 0; p < fast_count; p++) {
        cnn_simd_force((cnn_simd)fast_paths[p]);
        for (vi = 0; vi < 3; vi++)
            for (pass = 0; pass < 3; pass++) {
                const float *ref = pass == 0 ? y_ref : pass == 1 ? dx_ref : dw_ref;
                const size_t n_out = pass == 0 ? ny : pass == 1 ? nx : nw;
                check_variant(*s, vi, pass, 1, x, w, b, dy, ref, db_ref, n_out);
                check_variant(*s, vi, pass, 0, x, w, b, dy, ref, db_ref, n_out);
            }
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(w); free(b); free(dy); free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
}

static cnn_conv2d_shape conv_shape(int n, int c, int h, int w, int k, int kh, int kw, int stride, int pad) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = kh; s.kw = kw;
    s.stride_h = s.stride_w = stride; s.dilation_h = s.dilation_w = 1;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
    return s;
}

TEST(variants_are_named_and_reported) {
    cnn_conv2d_shape s = conv_shape(1, 3, 7, 7, 5, 3, 3, 1, 1);
    CHECK(strcmp(cnn_conv_algo_name(CNN_CONV_DIRECT_GRID), "grid") == 0);
    CHECK(strcmp(cnn_conv_algo_name(CNN_CONV_DIRECT_ROWS), "rows") == 0);
    CHECK(strcmp(cnn_conv_algo_name(CNN_CONV_DIRECT_LOWERED), "lowered") == 0);
    s.algo = CNN_CONV_DIRECT_ROWS;
    CHECK_OK(cnn_conv2d_check(&s, NULL, NULL));
    CHECK(cnn_conv2d_algo_chosen(&s, 0) == CNN_CONV_DIRECT_ROWS);
    s.algo = CNN_CONV_ALGO_COUNT;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
}

TEST(awkward_channels_and_sizes) {
    static const int channels[] = {1, 3, 7, 17};
    static const int sizes[] = {1, 2, 3, 7, 13, 17};
    int i, j, k;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to run the variants on");
    for (i = 0; i < 4; i++)
        for (j = 0; j < 6; j++)
            for (k = 0; k < 4; k += 2) {
                cnn_conv2d_shape s = conv_shape(1 + (i + j) % 2, channels[i], sizes[j], sizes[(j + 3) % 6], channels[k], 3, 3, 1, 1);
                compare_variants(&s);
            }
}

TEST(strides_dilations_paddings) {
    int it;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to run the variants on");
    for (it = 0; it < 60; it++) {
        cnn_conv2d_shape s;
        memset(&s, 0, sizeof s);
        s.n = 1 + (int)cnn_rng_below(&rng, 3);
        s.c = 1 + (int)cnn_rng_below(&rng, 17);
        s.h = 1 + (int)cnn_rng_below(&rng, 19);
        s.w = 1 + (int)cnn_rng_below(&rng, 19);
        s.k = 1 + (int)cnn_rng_below(&rng, 19);
        s.kh = 1 + (int)cnn_rng_below(&rng, 5);
        s.kw = 1 + (int)cnn_rng_below(&rng, 5);
        s.stride_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.stride_w = it % 3 ? s.stride_h : 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_w = 1 + (int)cnn_rng_below(&rng, 2);
        s.pad_top = (int)cnn_rng_below(&rng, 4); s.pad_bottom = (int)cnn_rng_below(&rng, 4);
        s.pad_left = (int)cnn_rng_below(&rng, 4); s.pad_right = (int)cnn_rng_below(&rng, 4);
        compare_variants(&s);
    }
}

TEST(digit_model_layers_and_every_variant_served) {
    cnn_conv2d_shape m1 = conv_shape(2, 1, 28, 28, 32, 3, 3, 1, 0), m2 = conv_shape(2, 32, 13, 13, 64, 3, 3, 1, 0);
    cnn_conv2d_shape m3 = conv_shape(3, 64, 5, 5, 64, 3, 3, 1, 0), s2 = conv_shape(1, 17, 15, 15, 33, 3, 3, 2, 1);
    int vi, pass;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to run the variants on");
    compare_variants(&m1); compare_variants(&m2); compare_variants(&m3); compare_variants(&s2);
    /* every variant ran every pass it serves somewhere in this file, so no check above was vacuous */
    for (vi = 0; vi < 3; vi++)
        for (pass = 0; pass < 3; pass++)
            CHECKF(served[vi][pass] > 0 || !serves(variants[vi], pass, &m2), "%s pass %d never ran",
                   cnn_conv_algo_name(variants[vi]), pass);
}

TEST(forcing_on_the_scalar_path_is_refused) {
    cnn_conv2d_shape s = conv_shape(1, 3, 7, 7, 5, 3, 3, 1, 1);
    float x[3 * 49], w[5 * 27], y[5 * 49], dx[3 * 49], dw[5 * 27];
    unsigned char ws[1 << 16];
    int vi, i;
    for (i = 0; i < 3 * 49; i++) x[i] = 0.5f;
    for (i = 0; i < 5 * 27; i++) w[i] = 0.25f;
    CHECK(cnn_conv2d_workspace_bytes(&s) <= sizeof ws);
    CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
    for (vi = 0; vi < 3; vi++) {
        s.algo = variants[vi];
        for (i = 0; i < 5 * 49; i++) y[i] = SENTINEL;
        CHECK_STATUS(cnn_conv2d_forward_ws(&s, x, w, NULL, y, ws, sizeof ws), CNN_ERR_INVALID_ARGUMENT);
        CHECKF(strstr(cnn_last_error(), "scalar") && strstr(cnn_last_error(), cnn_conv_algo_name(variants[vi])),
               "the message names neither the path nor the variant: %s", cnn_last_error());
        CHECK(untouched(y, 5 * 49));
        CHECK_STATUS(cnn_conv2d_backward_data_ws(&s, y, w, dx, ws, sizeof ws), CNN_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(cnn_conv2d_backward_weights_ws(&s, x, y, dw, NULL, ws, sizeof ws), CNN_ERR_INVALID_ARGUMENT);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
}

/* A network layer takes no forced variant: its three passes would need three different ones. */
TEST(a_network_layer_refuses_a_forced_variant) {
    int i;
    for (i = 0; i < 3; i++) {
        cnn_net net;
        cnn_net_opts in;
        cnn_conv_opts conv;
        memset(&in, 0, sizeof in); in.channels = 3; in.height = 9; in.width = 9;
        memset(&conv, 0, sizeof conv); conv.filters = 8; conv.kernel = 3; conv.algo = variants[i];
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_STATUS(cnn_add_conv(&net, &conv), CNN_ERR_INVALID_ARGUMENT);
        CHECK(strstr(cnn_last_error(), cnn_conv_algo_name(variants[i])) != NULL && strstr(cnn_last_error(), "layer 0") != NULL);
        conv.algo = CNN_CONV_DIRECT;
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_conv(&net, &conv));
    }
}

int main(void) {
    cnn_simd p;
    int i;
    cnn_rng_seed(&rng, 2027);
    for (p = CNN_SIMD_AVX2; p <= CNN_SIMD_AVX512; p = (cnn_simd)(p + 1))
        if (cnn_simd_available(p)) fast_paths[fast_count++] = (int)p;
    printf("paths the variants run on: %d", fast_count);
    for (i = 0; i < fast_count; i++) printf(" %s", cnn_simd_name((cnn_simd)fast_paths[i]));
    printf("%s\n", fast_count ? "" : " (none on this CPU/build)");
    RUN(variants_are_named_and_reported);
    RUN(awkward_channels_and_sizes);
    RUN(strides_dilations_paddings);
    RUN(digit_model_layers_and_every_variant_served);
    RUN(forcing_on_the_scalar_path_is_refused);
    RUN(a_network_layer_refuses_a_forced_variant);
    return harness_report();
}
