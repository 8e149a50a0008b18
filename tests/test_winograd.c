/* test_winograd.c - Winograd F(2x2, 3x3) and F(4x4, 3x3) against a double-precision direct
   convolution, on whatever kernel path is active (run.sh runs this file on every path).

   Accuracy is measured as the issue states it: max|got - ref| / max|ref| over the whole
   output, on N(0, 1) data, at most 1e-5 for F(2x2) and 5e-5 for F(4x4). */
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static cnn_rng rng;
static double worst[2];            /* the largest relative error seen, F(2x2) and F(4x4) */
static double worst_weights[2];    /* the same of the weight gradient */

static float *normal_floats(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = cnn_rng_normal(&rng);
    return p;
}

/* y = conv(x, w) + b in double, straight from the definition. */
static void reference_forward(const cnn_conv2d_shape *s, int oh, int ow, const float *x, const float *w,
                              const float *b, double *y) {
    int n, k, c, i, j, r, q;
    for (n = 0; n < s->n; n++)
        for (k = 0; k < s->k; k++)
            for (i = 0; i < oh; i++)
                for (j = 0; j < ow; j++) {
                    double sum = b ? b[k] : 0.0;
                    for (c = 0; c < s->c; c++)
                        for (r = 0; r < 3; r++)
                            for (q = 0; q < 3; q++) {
                                const int ii = i - s->pad_top + r, jj = j - s->pad_left + q;
                                if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w) continue;
                                sum += (double)w[((size_t)(k * s->c + c) * 3 + r) * 3 + q] *
                                       x[(((size_t)n * s->c + c) * s->h + ii) * s->w + jj];
                            }
                    y[(((size_t)n * s->k + k) * oh + i) * ow + j] = sum;
                }
}

/* dx = dL/dx and dw = dL/dw for dy = dL/dy in double: every output's gradient scatters back
   through its taps to the input (times the tap) and to the tap (times the input). */
static void reference_backward(const cnn_conv2d_shape *s, int oh, int ow, const float *x, const float *dy, const float *w,
                               double *dx, double *dw) {
    int n, k, c, i, j, r, q;
    memset(dx, 0, (size_t)s->n * s->c * s->h * s->w * sizeof(double));
    memset(dw, 0, (size_t)s->k * s->c * 9 * sizeof(double));
    for (n = 0; n < s->n; n++)
        for (k = 0; k < s->k; k++)
            for (i = 0; i < oh; i++)
                for (j = 0; j < ow; j++) {
                    const double g = dy[(((size_t)n * s->k + k) * oh + i) * ow + j];
                    for (c = 0; c < s->c; c++)
                        for (r = 0; r < 3; r++)
                            for (q = 0; q < 3; q++) {
                                const int ii = i - s->pad_top + r, jj = j - s->pad_left + q;
                                size_t at_x, at_w;
                                if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w) continue;
                                at_x = (((size_t)n * s->c + c) * s->h + ii) * s->w + jj;
                                at_w = ((size_t)(k * s->c + c) * 3 + r) * 3 + q;
                                dx[at_x] += g * w[at_w];
                                dw[at_w] += g * x[at_x];
                            }
                }
}

/* max|got - ref| / max|ref| */
static double relative_error(const float *got, const double *ref, size_t count) {
    double diff = 0.0, top = 0.0;
    size_t i;
    for (i = 0; i < count; i++) {
        const double d = fabs((double)got[i] - ref[i]);
        if (d > diff || d != d) diff = d;
        if (fabs(ref[i]) > top) top = fabs(ref[i]);
    }
    return top > 0.0 ? diff / top : diff;
}

/* max |a - b|, and *top raised to max |b| */
static double largest_difference(const float *a, const float *b, size_t count, double *top) {
    double d = 0.0;
    size_t i;
    for (i = 0; i < count; i++) {
        if (!(fabs((double)a[i] - b[i]) <= d)) d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > *top) *top = fabs((double)b[i]);
    }
    return d;
}

static cnn_conv2d_shape shape3x3(int n, int c, int h, int w, int k, cnn_conv_algo algo) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = s.kw = 3;
    s.stride_h = s.stride_w = s.dilation_h = s.dilation_w = 1;
    s.algo = algo;
    return s;
}

static double bound_of(cnn_conv_algo algo) { return algo == CNN_CONV_WINOGRAD_2X2 ? 1e-5 : 5e-5; }

static void describe(const cnn_conv2d_shape *s, char *buf, size_t cap) {
    snprintf(buf, cap, "%s on %s: n%d c%d %dx%d k%d pads %d,%d,%d,%d", cnn_conv_algo_name(s->algo),
             cnn_simd_name(cnn_simd_active()), s->n, s->c, s->h, s->w, s->k, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right);
}

/* The three passes of one shape through Winograd, against the double reference. Returns 0
   when the shape does not exist (the kernel does not fit the padded input). */
static int check_shape(const cnn_conv2d_shape *s) {
    int oh, ow;
    size_t nx, ny, nw, ws_bytes;
    float *x, *w, *b, *dy, *y, *dx, *dw;
    double *ref_y, *ref_dx, *ref_dw, e_fwd, e_data, e_weights;
    void *ws;
    char what[160];
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return 0;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * s->c * 9;
    x = normal_floats(nx); w = normal_floats(nw); b = normal_floats((size_t)s->k); dy = normal_floats(ny);
    y = normal_floats(ny); dx = normal_floats(nx); dw = normal_floats(nw);
    ref_y = (double *)malloc(ny * sizeof(double)); ref_dx = (double *)malloc(nx * sizeof(double));
    ref_dw = (double *)malloc(nw * sizeof(double));
    ws_bytes = cnn_conv2d_workspace_bytes(s);
    ws = malloc(ws_bytes + 1);
    memset(ws, 0xff, ws_bytes + 1);            /* NaNs: a cell read before written shows */
    reference_forward(s, oh, ow, x, w, b, ref_y);
    reference_backward(s, oh, ow, x, dy, w, ref_dx, ref_dw);
    CHECK(cnn_conv2d_algo_chosen(s, 0) == s->algo && cnn_conv2d_algo_chosen(s, 1) == s->algo &&
          cnn_conv2d_algo_chosen(s, 2) == s->algo);
    CHECK_OK(cnn_conv2d_forward_ws(s, x, w, b, y, (char *)ws + 1, ws_bytes));
    CHECK_OK(cnn_conv2d_backward_data_ws(s, dy, w, dx, (char *)ws + 1, ws_bytes));
    CHECK_OK(cnn_conv2d_backward_weights_ws(s, x, dy, dw, NULL, (char *)ws + 1, ws_bytes));
    e_fwd = relative_error(y, ref_y, ny);
    e_data = relative_error(dx, ref_dx, nx);
    e_weights = relative_error(dw, ref_dw, nw);
    worst[s->algo == CNN_CONV_WINOGRAD_4X4] = fmax(worst[s->algo == CNN_CONV_WINOGRAD_4X4], fmax(e_fwd, e_data));
    worst_weights[s->algo == CNN_CONV_WINOGRAD_4X4] = fmax(worst_weights[s->algo == CNN_CONV_WINOGRAD_4X4], e_weights);
    describe(s, what, sizeof what);
    CHECKF(e_fwd <= bound_of(s->algo) && e_data <= bound_of(s->algo) && e_weights <= bound_of(s->algo),
           "%s: relative error forward %g, data gradient %g, weight gradient %g", what, e_fwd, e_data, e_weights);
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(ref_y); free(ref_dx); free(ref_dw); free(ws);
    return 1;
}

/* The 1-D algorithm, y = A^T [(G g) .* (B^T d)], against the correlation it stands for, in
   double with the float matrices: catches a wrong entry in any matrix directly. */
TEST(matrices_compute_a_correlation) {
    static const float bt2[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
    static const float g2[12] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
    static const float at2[8] = {1, 1, 1, 0, 0, 1, -1, -1};
    /* The library's matrices are private; these copies are checked here, and the 2-D tests
       below check the library's through its results. */
    static const float bt4[36] = {4, 0, -5, 0, 1, 0, 0, -4, -4, 1, 1, 0, 0, 4, -4, -1, 1, 0,
                                  0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1};
    static const float g4[18] = {1.0f / 4, 0, 0, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6,
                                 1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 24, -1.0f / 12, 1.0f / 6, 0, 0, 1};
    static const float at4[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};
    const float *bts[2] = {bt2, bt4}, *gs[2] = {g2, g4}, *ats[2] = {at2, at4};
    int v, trial, i, r;
    for (v = 0; v < 2; v++) {
        const int m = 2 + 2 * v, a = m + 2;
        for (trial = 0; trial < 20; trial++) {
            double d[6], g[3], gg[6], bd[6], worst = 0.0;
            for (i = 0; i < a; i++) d[i] = cnn_rng_normal(&rng);
            for (i = 0; i < 3; i++) g[i] = cnn_rng_normal(&rng);
            for (i = 0; i < a; i++) {
                gg[i] = bd[i] = 0.0;
                for (r = 0; r < 3; r++) gg[i] += gs[v][i * 3 + r] * g[r];
                for (r = 0; r < a; r++) bd[i] += bts[v][i * a + r] * d[r];
            }
            for (i = 0; i < m; i++) {
                double got = 0.0, want = g[0] * d[i] + g[1] * d[i + 1] + g[2] * d[i + 2];
                for (r = 0; r < a; r++) got += ats[v][i * a + r] * gg[r] * bd[r];
                if (fabs(got - want) > worst) worst = fabs(got - want);
            }
            CHECKF(worst < 1e-6, "F(%d,3): 1-D result off by %g", m, worst);
        }
    }
}

/* Every H, W from 1 to 17 that the tests name (primes among them), C and K of 1, 3, 7, 17, 64,
   batch 1 and 8, every padding mode: a seeded sample of the combinations, each size met. */
TEST(forward_and_data_gradient_match_double_reference) {
    static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17};
    static const int chans[] = {1, 3, 7, 17, 64};
    static const cnn_padding modes[] = {CNN_PAD_VALID, CNN_PAD_SAME, CNN_PAD_FULL, CNN_PAD_EXPLICIT};
    int algo, it, ran = 0;
    for (algo = CNN_CONV_WINOGRAD_2X2; algo <= CNN_CONV_WINOGRAD_4X4; algo++)
        for (it = 0; it < 44; it++) {
            const int h = sizes[it % 11], w = sizes[(it * 7 + 3) % 11];
            const int c = chans[it % 5], k = chans[(it / 5 + it) % 5];
            const int n = c * k <= 64 * 7 && it % 3 == 0 ? 8 : 1;
            const cnn_padding mode = modes[it % 4];
            cnn_conv2d_shape s = shape3x3(n, c, h, w, k, (cnn_conv_algo)algo);
            if (mode == CNN_PAD_EXPLICIT) {   /* asymmetric, and past 2 (the data gradient's pad goes negative) */
                s.pad_top = (int)cnn_rng_below(&rng, 4); s.pad_bottom = (int)cnn_rng_below(&rng, 4);
                s.pad_left = (int)cnn_rng_below(&rng, 4); s.pad_right = (int)cnn_rng_below(&rng, 4);
            } else {
                cnn_padding_for(mode, h, 3, 1, 1, &s.pad_top, &s.pad_bottom);
                cnn_padding_for(mode, w, 3, 1, 1, &s.pad_left, &s.pad_right);
            }
            ran += check_shape(&s);
        }
    CHECK(ran >= 70);                        /* most of the sample exists (valid 1x1 does not) */
}

/* Prime sizes with every padding mode, one channel count each, at batch 8 across images. */
TEST(prime_sizes_and_batches) {
    static const int primes[] = {2, 3, 5, 7, 11, 13, 17};
    int algo, i, pad;
    for (algo = CNN_CONV_WINOGRAD_2X2; algo <= CNN_CONV_WINOGRAD_4X4; algo++)
        for (i = 0; i < 7; i++)
            for (pad = 0; pad <= 2; pad++) {
                cnn_conv2d_shape s = shape3x3(pad == 1 ? 8 : 1, 3 + i, primes[i], primes[6 - i], 5 + pad, (cnn_conv_algo)algo);
                s.pad_top = s.pad_left = pad;
                s.pad_bottom = s.pad_right = 2 - pad;     /* 0+2, 1+1, 2+0 */
                check_shape(&s);
            }
}

/* Deep sums: the error bound holds up to 512 input channels (and the data gradient sums over
   512 filters), and the weight gradient's sum over 2,176 tiles of 8 images. */
TEST(many_channels_stay_within_bound) {
    int algo;
    for (algo = CNN_CONV_WINOGRAD_2X2; algo <= CNN_CONV_WINOGRAD_4X4; algo++) {
        cnn_conv2d_shape s = shape3x3(1, 512, 9, 10, 4, (cnn_conv_algo)algo);
        cnn_conv2d_shape t = shape3x3(1, 4, 9, 10, 512, (cnn_conv_algo)algo);
        cnn_conv2d_shape u = shape3x3(8, 5, 61, 67, 3, (cnn_conv_algo)algo);
        s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 1;
        t.pad_top = t.pad_bottom = t.pad_left = t.pad_right = 1;
        u.pad_top = u.pad_bottom = u.pad_left = u.pad_right = 1;
        CHECK(check_shape(&s));
        CHECK(check_shape(&t));
        CHECK(check_shape(&u));
    }
    printf("     worst relative error so far: F(2x2) %.2g, F(4x4) %.2g; weight gradient %.2g, %.2g\n", worst[0], worst[1],
           worst_weights[0], worst_weights[1]);
}

/* The vector transforms (one body on the AVX2 and NEON vocabulary) against the scalar ones:
   the same Winograd algorithm on each path, compared closely. */
TEST(vector_paths_match_scalar) {
    /* n, c, h, w, k: single pixels, prime widths, and tile rows of every length, short ones
       (transformed a tile at a time) and long ones (a tile row at a time, cnn__wino_by_rows:
       F(2x2) from width 13 on AVX2, F(4x4) at widths 60 to 64 on AVX-512); the last five have
       more tiles than one chunk holds, so that chunks start inside a tile row (the last three
       with 3, 6 and 7 tiles a row) */
    static const int shapes[][5] = {{1, 1, 1, 1, 1},   {3, 17, 7, 5, 3},    {2, 7, 17, 13, 17}, {1, 64, 11, 9, 7},
                                    {8, 3, 5, 6, 64},  {1, 3, 1, 17, 5},    {2, 5, 31, 29, 3},  {1, 5, 23, 64, 4},
                                    {2, 17, 9, 60, 7}, {1, 3, 97, 131, 3},  {2, 64, 61, 67, 16}, {2, 64, 61, 27, 16},
                                    {4, 64, 13, 11, 32}, {3, 64, 9, 23, 16}};
    /* top, bottom, left, right: asymmetric, none, and 3 (its data gradient pads by -1) */
    static const int pads[][4] = {{1, 2, 2, 0}, {0, 0, 0, 0}, {3, 3, 3, 3}};
    static const cnn_simd paths[] = {CNN_SIMD_AVX2, CNN_SIMD_AVX512, CNN_SIMD_NEON};
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    int algo, i, p, compared = 0;
    for (algo = CNN_CONV_WINOGRAD_2X2; algo <= CNN_CONV_WINOGRAD_4X4; algo++)
        for (i = 0; i < 3 * n_shapes; i++) {
            const int *sh = shapes[i % n_shapes], *pad = pads[i / n_shapes];
            cnn_conv2d_shape s = shape3x3(sh[0], sh[1], sh[2], sh[3], sh[4], (cnn_conv_algo)algo);
            size_t nx, ny, nw, ws_bytes;
            float *x, *w, *b, *dy, *y0, *dx0, *y1, *dx1, *dw0, *dw1;
            void *ws;
            int oh, ow;
            s.pad_top = pad[0]; s.pad_bottom = pad[1]; s.pad_left = pad[2]; s.pad_right = pad[3];
            if (s.h + pad[0] + pad[1] < 3 || s.w + pad[2] + pad[3] < 3) continue;   /* no output */
            CHECK_OK(cnn_conv2d_check(&s, &oh, &ow));
            nx = (size_t)s.n * s.c * s.h * s.w; ny = (size_t)s.n * s.k * oh * ow; nw = (size_t)s.k * s.c * 9;
            x = normal_floats(nx); w = normal_floats(nw); b = normal_floats((size_t)s.k); dy = normal_floats(ny);
            y0 = normal_floats(ny); y1 = normal_floats(ny); dx0 = normal_floats(nx); dx1 = normal_floats(nx);
            dw0 = normal_floats(nw); dw1 = normal_floats(nw);
            ws_bytes = cnn_conv2d_workspace_bytes(&s);
            ws = malloc(ws_bytes);
            CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
            CHECK_OK(cnn_conv2d_forward_ws(&s, x, w, b, y0, ws, ws_bytes));
            CHECK_OK(cnn_conv2d_backward_data_ws(&s, dy, w, dx0, ws, ws_bytes));
            CHECK_OK(cnn_conv2d_backward_weights_ws(&s, x, dy, dw0, NULL, ws, ws_bytes));
            for (p = 0; p < 3; p++) {
                double ey = 0.0, ex = 0.0, ew = 0.0, top = 1.0, top_w = 1.0;
                if (!cnn_simd_available(paths[p])) continue;
                CHECK_OK(cnn_simd_force(paths[p]));
                CHECK_OK(cnn_conv2d_forward_ws(&s, x, w, b, y1, ws, ws_bytes));
                CHECK_OK(cnn_conv2d_backward_data_ws(&s, dy, w, dx1, ws, ws_bytes));
                ey = largest_difference(y1, y0, ny, &top);
                ex = largest_difference(dx1, dx0, nx, &top);
                CHECK_OK(cnn_conv2d_backward_weights_ws(&s, x, dy, dw1, NULL, ws, ws_bytes));
                ew = largest_difference(dw1, dw0, nw, &top_w);
                CHECKF(ey <= 1e-5 * top && ex <= 1e-5 * top && ew <= 1e-5 * top_w,
                       "%s %s shape %d, pads %d: forward off by %g, data gradient by %g (scale %g), weight gradient by %g (scale %g)",
                       cnn_conv_algo_name(s.algo), cnn_simd_name(paths[p]), i % n_shapes, i / n_shapes, ey, ex, top, ew, top_w);
                compared++;
            }
            CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
            free(x); free(w); free(b); free(dy); free(y0); free(y1); free(dx0); free(dx1); free(dw0); free(dw1); free(ws);
        }
    printf("     vector paths compared with scalar: %d\n", compared);
}

/* Asking for Winograd where it cannot serve is an error that says why; auto never is. */
TEST(winograd_refused_where_it_cannot_serve) {
    float x[64] = {0}, w[25] = {0}, y[64], ws[4096];
    cnn_conv2d_shape s = shape3x3(1, 1, 8, 8, 1, CNN_CONV_WINOGRAD_4X4);
    s.kh = s.kw = 5;
    CHECK_STATUS(cnn_conv2d_forward_ws(&s, x, w, NULL, y, ws, sizeof ws), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "wino4") && strstr(cnn_last_error(), "5x5"));
    s = shape3x3(1, 1, 8, 8, 1, CNN_CONV_WINOGRAD_2X2);
    s.stride_h = 2;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "stride 2x1") != NULL);
    s = shape3x3(1, 1, 8, 8, 1, CNN_CONV_WINOGRAD_2X2);
    s.dilation_w = 2;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    s = shape3x3(1, 1, 8, 8, 1, (cnn_conv_algo)99);
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    s = shape3x3(1, 1, 8, 8, 1, CNN_CONV_AUTO);
    s.kh = s.kw = 5;
    CHECK_OK(cnn_conv2d_forward_ws(&s, x, w, NULL, y, ws, sizeof ws));
    CHECK(cnn_conv2d_algo_chosen(&s, 0) == CNN_CONV_DIRECT);
}

/* Auto: direct for few channels (a 1-channel first layer), Winograd for wide layers; the
   weight gradient through Winograd from 16 tiles; 3 x 3 outputs (56% of a tile kept) through
   Winograd on AVX2 only, with the workspace sized alike on every path. Winograd asks for more
   workspace than direct, and without it the same call computes the same convolution directly. */
TEST(auto_choice_and_workspace) {
    cnn_conv2d_shape first = shape3x3(64, 1, 28, 28, 32, CNN_CONV_AUTO);
    cnn_conv2d_shape wide = shape3x3(1, 64, 56, 56, 64, CNN_CONV_AUTO), direct = wide;
    cnn_conv2d_shape few_tiles = shape3x3(8, 64, 5, 5, 64, CNN_CONV_AUTO), tiles16 = few_tiles, small_out;
    const cnn_simd was = cnn_simd_active();
    size_t small_ws;
    cnn_conv2d_shape s = shape3x3(2, 16, 12, 12, 16, CNN_CONV_WINOGRAD_4X4);
    size_t ny = (size_t)2 * 16 * 10 * 10, nx = (size_t)2 * 16 * 144;
    float *x = normal_floats(nx), *w = normal_floats((size_t)16 * 16 * 9), *y_wino = normal_floats(ny), *y_plain = normal_floats(ny);
    size_t ws_bytes = cnn_conv2d_workspace_bytes(&s);
    void *ws = malloc(ws_bytes);
    double diff, top = 0.0;
    direct.algo = CNN_CONV_DIRECT;
    CHECK(cnn_conv2d_algo_chosen(&first, 0) == CNN_CONV_DIRECT);
    CHECK(cnn_conv2d_algo_chosen(&wide, 0) != CNN_CONV_DIRECT);
    CHECK(cnn_conv2d_algo_chosen(&wide, 2) == CNN_CONV_WINOGRAD_4X4);   /* 196 tiles */
    CHECK(cnn_conv2d_algo_chosen(&first, 2) == CNN_CONV_DIRECT);         /* one channel */
    CHECK(cnn_conv2d_algo_chosen(&few_tiles, 2) == CNN_CONV_DIRECT);     /* 8 tiles */
    tiles16.n = 16;
    CHECK(cnn_conv2d_algo_chosen(&tiles16, 2) == CNN_CONV_WINOGRAD_4X4); /* 16 tiles */
    small_out = tiles16;                                                 /* 3 x 3 outputs */
    small_out.n = 64;
    CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
    CHECK(cnn_conv2d_algo_chosen(&small_out, 0) == CNN_CONV_DIRECT);
    CHECK(cnn_conv2d_algo_chosen(&small_out, 1) == CNN_CONV_DIRECT);     /* 5 x 5 in 8 x 8 */
    small_ws = cnn_conv2d_workspace_bytes(&small_out);
    if (cnn_simd_available(CNN_SIMD_AVX2)) {
        CHECK_OK(cnn_simd_force(CNN_SIMD_AVX2));
        CHECK(cnn_conv2d_algo_chosen(&small_out, 0) == CNN_CONV_WINOGRAD_4X4);
        CHECK(cnn_conv2d_algo_chosen(&small_out, 1) == CNN_CONV_DIRECT);
        CHECK(cnn_conv2d_workspace_bytes(&small_out) == small_ws);
    }
    CHECK_OK(cnn_simd_force(was));
    CHECK(cnn_conv2d_workspace_bytes(&wide) > 0);   /* Winograd's, on every build (CNN_NO_SIMD too) */
    CHECK(cnn_conv2d_workspace_bytes(&direct) <= cnn_conv2d_workspace_bytes(&wide));
    CHECK_OK(cnn_conv2d_forward_ws(&s, x, w, NULL, y_wino, ws, ws_bytes));
    CHECK_OK(cnn_conv2d_forward_ws(&s, x, w, NULL, y_plain, ws, 64));    /* too little: direct */
    diff = largest_difference(y_wino, y_plain, ny, &top);
    CHECK(diff > 0.0 && diff < 1e-3);   /* different rounding, the same convolution */
    free(x); free(w); free(y_wino); free(y_plain); free(ws);
}

/* A small network whose second convolution runs the given algorithm. */
static int build_net(cnn_net *net, cnn_conv_algo algo) {
    cnn_net_opts no;
    cnn_conv_opts c1, c2;
    cnn_dense_opts d;
    cnn_build_opts bo;
    memset(&no, 0, sizeof no); memset(&c1, 0, sizeof c1); memset(&c2, 0, sizeof c2);
    memset(&d, 0, sizeof d); memset(&bo, 0, sizeof bo);
    no.channels = 3; no.height = 11; no.width = 9;
    c1.filters = 16; c1.kernel = 3; c1.padding = CNN_PAD_SAME; c1.activation = CNN_RELU;   /* 3 channels in: auto is direct */
    c2.filters = 17; c2.kernel = 3; c2.padding = CNN_PAD_SAME; c2.activation = CNN_LEAKY_RELU; c2.algo = algo;
    d.units = 5;
    bo.max_batch = 4; bo.seed = 7;
    if (cnn_net_init(net, &no) || cnn_add_conv(net, &c1) || cnn_add_conv(net, &c2) || cnn_add_flatten(net) ||
        cnn_add_dense(net, &d))
        return 0;
    return cnn_net_build(net, &bo) == CNN_OK;
}

/* Infinite when a network has no output (a failed load, say): the check fails, no crash. */
static double largest_output_difference(const cnn_net *a, const cnn_net *b, int n) {
    double top = 0.0;
    if (cnn_output(a) == NULL || cnn_output(b) == NULL) return HUGE_VAL;
    return largest_difference(cnn_output(a), cnn_output(b), (size_t)n * 5, &top);
}

/* The weights' fingerprint, which tells whether the kept Winograd filters are current: the
   same on every path for any count (the vector twin takes whole groups of 32, the scalar code
   the rest), and changed by every kind of change a caller may make: one float by one unit in
   the last place, a sign, two signs in the same lane (32 floats apart), two floats swapped. */
TEST(fingerprint_same_on_every_path_and_sees_every_change) {
    static const size_t counts[] = {0, 1, 5, 31, 32, 33, 63, 64, 100, 1000, 65537, 200003};
    static const cnn_simd paths[] = {CNN_SIMD_AVX2, CNN_SIMD_AVX512, CNN_SIMD_NEON};
    static float w[200003];
    const cnn_simd was = cnn_simd_active();
    size_t c, i;
    int p;
    for (i = 0; i < sizeof w / sizeof w[0]; i++) w[i] = cnn_rng_normal(&rng);
    for (c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        uint64_t scalar;
        CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
        scalar = cnn__fingerprint(w, counts[c]);
        CHECK(scalar >> 63 == 1);        /* never 0: the stamp of filters not yet computed */
        for (p = 0; p < 3; p++) {
            if (!cnn_simd_available(paths[p])) continue;
            CHECK_OK(cnn_simd_force(paths[p]));
            CHECKF(cnn__fingerprint(w, counts[c]) == scalar, "%s, %zu floats", cnn_simd_name(paths[p]), counts[c]);
        }
    }
    CHECK_OK(cnn_simd_force(was));
    {
        const size_t n = 1000;
        const uint64_t before = cnn__fingerprint(w, n);
        static const size_t at[] = {0, 1, 31, 32, 500, 968, 999};
        float keep;
        for (i = 0; i < sizeof at / sizeof at[0]; i++) {
            keep = w[at[i]];
            w[at[i]] = nextafterf(keep, 1e30f);
            CHECKF(cnn__fingerprint(w, n) != before, "one ulp at %zu", at[i]);
            w[at[i]] = -keep;
            CHECKF(cnn__fingerprint(w, n) != before, "sign at %zu", at[i]);
            w[at[i]] = keep;
        }
        w[7] = -w[7]; w[39] = -w[39];
        CHECK(cnn__fingerprint(w, n) != before);
        w[7] = -w[7]; w[39] = -w[39];
        keep = w[3]; w[3] = w[4]; w[4] = keep;
        CHECK(cnn__fingerprint(w, n) != before);
        w[4] = w[3]; w[3] = keep;
        CHECK(cnn__fingerprint(w, n) == before);
    }
}

/* The network's Winograd layer (transformed filters kept in the arena, bias and activation
   fused) against the same network run directly: after building, after the caller writes a
   weight, after SGD steps, and after loading the weights back. */
TEST(network_winograd_matches_direct_twin) {
    static cnn_net wino, direct, loaded;
    float x[4 * 3 * 11 * 9];
    int32_t labels[4] = {0, 1, 2, 3};
    cnn_sgd_opts sgd;
    char summary[2048];
    size_t i, used;
    int step;
    memset(&sgd, 0, sizeof sgd);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    CHECK(build_net(&wino, CNN_CONV_WINOGRAD_4X4));
    CHECK(build_net(&direct, CNN_CONV_DIRECT));
    CHECK(wino.layers[1].wino_u != NULL && direct.layers[1].wino_u == NULL && wino.layers[0].wino_u == NULL);
    CHECK_OK(cnn_forward(&wino, x, 4, 0));
    CHECK_OK(cnn_forward(&direct, x, 4, 0));
    CHECK(largest_output_difference(&wino, &direct, 4) < 1e-4);
    CHECK(wino.layers[1].wino_stamp != 0);   /* the forward pass did transform the filters */
    /* written by the caller: the kept transform must follow */
    wino.layers[1].w[40] += 0.75f;
    direct.layers[1].w[40] += 0.75f;
    used = wino.arena.used;
    CHECK_OK(cnn_forward(&wino, x, 4, 0));
    CHECK_OK(cnn_forward(&direct, x, 4, 0));
    CHECK(wino.arena.used == used);
    CHECK(largest_output_difference(&wino, &direct, 4) < 1e-4);
    for (step = 0; step < 3; step++) {
        CHECK_OK(cnn_train_batch(&wino, x, labels, 4, &sgd, NULL));
        CHECK_OK(cnn_train_batch(&direct, x, labels, 4, &sgd, NULL));
    }
    CHECK_OK(cnn_forward(&wino, x, 4, 0));
    CHECK_OK(cnn_forward(&direct, x, 4, 0));
    CHECK(largest_output_difference(&wino, &direct, 4) < 1e-3);
    /* The file holds the model, not the algorithm: loaded, the layer runs auto (direct for 16
       channels) and computes the same outputs. */
    CHECK_OK(cnn_save(&wino, "build/tests/test_winograd_model.cnn"));
    CHECK_OK(cnn_load(&loaded, "build/tests/test_winograd_model.cnn", NULL));
    remove("build/tests/test_winograd_model.cnn");
    CHECK(loaded.layers[1].conv.algo == CNN_CONV_AUTO && loaded.layers[1].wino_u == NULL);
    CHECK_OK(cnn_forward(&loaded, x, 4, 0));
    CHECK(largest_output_difference(&wino, &loaded, 4) < 1e-3);
    cnn_net_free(&loaded);
    cnn_net_summary(&wino, summary, sizeof summary);
    CHECKF(strstr(summary, "conv 3x3, 17, leaky_relu, wino4") && strstr(summary, "conv 3x3, 16, relu, direct"), "%s", summary);
    cnn_net_free(&wino);
    cnn_net_free(&direct);
}

/* Asking for Winograd on a layer it cannot serve fails when the layer is added, naming it. */
TEST(network_refuses_winograd_where_it_cannot_serve) {
    cnn_net net;
    cnn_net_opts no;
    cnn_conv_opts c;
    memset(&no, 0, sizeof no); memset(&c, 0, sizeof c);
    no.channels = 2; no.height = 16; no.width = 16;
    CHECK_OK(cnn_net_init(&net, &no));
    c.filters = 4; c.kernel = 3; c.algo = CNN_CONV_WINOGRAD_2X2;
    CHECK_OK(cnn_add_conv(&net, &c));
    c.stride = 2;
    CHECK_STATUS(cnn_add_conv(&net, &c), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "layer 1") && strstr(cnn_last_error(), "stride 2x2"), "%s", cnn_last_error());
    CHECK_OK(cnn_net_init(&net, &no));
    c.stride = 1; c.kernel = 5; c.algo = CNN_CONV_AUTO;
    CHECK_OK(cnn_add_conv(&net, &c));
}

int main(void) {
    cnn_rng_seed(&rng, 12);
    RUN(matrices_compute_a_correlation);
    RUN(forward_and_data_gradient_match_double_reference);
    RUN(prime_sizes_and_batches);
    RUN(many_channels_stay_within_bound);
    RUN(vector_paths_match_scalar);
    RUN(winograd_refused_where_it_cannot_serve);
    RUN(auto_choice_and_workspace);
    RUN(fingerprint_same_on_every_path_and_sees_every_change);
    RUN(network_winograd_matches_direct_twin);
    RUN(network_refuses_winograd_where_it_cannot_serve);
    return harness_report();
}
