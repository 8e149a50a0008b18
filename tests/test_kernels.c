/* test_kernels.c - forward correctness of cnn.h's raw kernels.

   The lecture's worked examples with their exact numbers; then every kernel against a naive
   reference written here in the most obvious way (explicit bounds checks, double precision)
   on many seeded random shapes; then the error handling of bad arguments.

   Build: cc -std=c99 -O2 -I. tests/test_kernels.c -lm && ./a.out */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static float *falloc(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

static void fill_uniform(cnn_rng *rng, float *p, size_t n, float lo, float hi) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(rng);
}

/* Small integers: every product and sum the kernels form is then exact in float, so the
   result must equal the reference exactly, whatever the summation order. */
static void fill_int(cnn_rng *rng, float *p, size_t n, int lo, int hi) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)(lo + (int)cnn_rng_below(rng, (uint32_t)(hi - lo + 1)));
}

/* Poisons an output buffer so a value the kernel forgets to write shows up. */
static void fill_nan(float *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)NAN;
}

static int mentions(const char *text, const char *word) {
    size_t i, j, n = strlen(word);
    for (i = 0; text[i]; i++) {
        for (j = 0; j < n && text[i + j] && tolower((unsigned char)text[i + j]) == tolower((unsigned char)word[j]); j++) {}
        if (j == n) return 1;
    }
    return 0;
}

/* A call that must fail with 'status' and leave a fresh message naming the problem ('word').
   The message is first set to a known other one, so a stale message cannot pass. */
#define CHECK_FAILS(call, status, word) do { \
    cnn_arena sentinel_; cnn_arena_init(&sentinel_, NULL, 0); \
    CHECK_STATUS(call, status); \
    CHECKF(cnn_last_error()[0] != '\0' && !mentions(cnn_last_error(), "arena: NULL buffer") && \
           mentions(cnn_last_error(), word), "message '%s' should name '%s'", cnn_last_error(), word); \
} while (0)

/* ---- 1. the lecture's worked examples ------------------------------------------------------ */

static cnn_conv2d_shape conv_shape(int n, int c, int h, int w, int k, int kh, int kw) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = kh; s.kw = kw;
    s.stride_h = s.stride_w = s.dilation_h = s.dilation_w = 1;
    return s;
}

static cnn_pool2d_shape pool_shape(int n, int c, int h, int w, int kh, int kw, int sh, int sw) {
    cnn_pool2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.kh = kh; s.kw = kw; s.stride_h = sh; s.stride_w = sw;
    return s;
}

TEST(lecture_cross_correlation_7x7) {
    static const char *rows[7] = { "0000000", "0100010", "0000000", "0001000", "0100010", "0011100", "0000000" };
    static const float kernel[9] = { 0, 0, 1,  1, 0, 0,  0, 1, 1 };
    /* The lecture slide prints 1 at the centre (row 2, column 2); the true value is 0: the
       kernel's ones land on (2,4), (3,2), (4,3), (4,4), all zero in the image. */
    static const float expect[25] = { 0, 1, 0, 0, 0,
                                      0, 1, 1, 1, 0,
                                      1, 0, 0, 2, 1,
                                      1, 4, 2, 1, 0,
                                      0, 0, 1, 2, 1 };
    float x[49], y[25];
    int i, j, oh = 0, ow = 0;
    cnn_conv2d_shape s = conv_shape(1, 1, 7, 7, 1, 3, 3);
    for (i = 0; i < 7; i++) for (j = 0; j < 7; j++) x[i * 7 + j] = (float)(rows[i][j] - '0');
    CHECK_OK(cnn_conv2d_check(&s, &oh, &ow));
    CHECK(oh == 5 && ow == 5);
    fill_nan(y, 25);
    CHECK_OK(cnn_conv2d_forward(&s, x, kernel, NULL, y));
    for (i = 0; i < 25; i++) CHECKF(y[i] == expect[i], "y[%d][%d] = %g, expected %g", i / 5, i % 5, (double)y[i], (double)expect[i]);
    CHECK(y[2 * 5 + 2] == 0.0f);

    /* Pooling that map 2x2, stride 2, in ceil mode keeps the partial last row and column. */
    {
        static const float pooled[9] = { 1, 1, 0,  4, 2, 1,  0, 2, 1 };
        float p[9];
        int32_t arg[9];
        cnn_pool2d_shape ps = pool_shape(1, 1, 5, 5, 2, 2, 2, 2);
        ps.ceil_mode = 1;
        CHECK_OK(cnn_pool2d_check(&ps, &oh, &ow));
        CHECK(oh == 3 && ow == 3);
        fill_nan(p, 9);
        CHECK_OK(cnn_maxpool2d_forward(&ps, expect, p, arg));
        for (i = 0; i < 9; i++) CHECKF(p[i] == pooled[i], "pooled[%d] = %g, expected %g", i, (double)p[i], (double)pooled[i]);
        for (i = 0; i < 9; i++) CHECK(expect[arg[i]] == p[i]);
        ps.ceil_mode = 0;                 /* floor mode drops them */
        CHECK_OK(cnn_pool2d_check(&ps, &oh, &ow));
        CHECK(oh == 2 && ow == 2);
    }
}

TEST(lecture_pooling_4x4) {
    static const float x[16] = { 8, 7, 5, 3,  12, 9, 5, 7,  13, 2, 10, 3,  9, 4, 5, 14 };
    static const float max_expect[4] = { 12, 7, 13, 14 }, avg_expect[4] = { 9, 5, 7, 8 };
    float y[4];
    int32_t arg[4];
    int i, oh = 0, ow = 0;
    cnn_pool2d_shape s = pool_shape(1, 1, 4, 4, 2, 2, 2, 2);
    CHECK_OK(cnn_pool2d_check(&s, &oh, &ow));
    CHECK(oh == 2 && ow == 2);
    CHECK_OK(cnn_maxpool2d_forward(&s, x, y, arg));
    for (i = 0; i < 4; i++) CHECKF(y[i] == max_expect[i], "max[%d] = %g", i, (double)y[i]);
    CHECK(arg[0] == 4 && arg[1] == 7 && arg[2] == 8 && arg[3] == 15);   /* 12 at (1,0), 7 at (1,3), ... */
    CHECK_OK(cnn_avgpool2d_forward(&s, x, y));
    for (i = 0; i < 4; i++) CHECKF(y[i] == avg_expect[i], "avg[%d] = %g", i, (double)y[i]);
    s.ceil_mode = 1;                      /* nothing left over: ceil mode changes nothing */
    CHECK_OK(cnn_pool2d_check(&s, &oh, &ow));
    CHECK(oh == 2 && ow == 2);
}

TEST(lecture_output_sizes) {
    int oh = 0, ow = 0;
    cnn_conv2d_shape s = conv_shape(1, 1, 7, 9, 1, 3, 3);
    /* 7x9 input, 3x3 kernel, stride 1, valid: (7-3)/1+1 = 5 rows, (9-3)/1+1 = 7 columns. */
    CHECK(cnn_conv_output_size(7, 3, 1, 1, 0) == 5);
    CHECK(cnn_conv_output_size(9, 3, 1, 1, 0) == 7);
    CHECK_OK(cnn_conv2d_check(&s, &oh, &ow));
    CHECK(oh == 5 && ow == 7);
    /* 7x7 with stride 2: (7-3)/2+1 = 3. */
    s = conv_shape(1, 1, 7, 7, 1, 3, 3);
    s.stride_h = s.stride_w = 2;
    CHECK(cnn_conv_output_size(7, 3, 2, 1, 0) == 3);
    CHECK_OK(cnn_conv2d_check(&s, &oh, &ow));
    CHECK(oh == 3 && ow == 3);
    /* Stride 3 would leave a column over: floor((7-3)/3)+1 = 2. */
    CHECK(cnn_conv_output_size(7, 3, 3, 1, 0) == 2);
    /* Dilation 2 makes a 3x3 kernel reach 5: 7-5+1 = 3. Padding 1+1: 9-3+1 = 7. */
    CHECK(cnn_conv_output_size(7, 3, 1, 2, 0) == 3);
    CHECK(cnn_conv_output_size(7, 3, 1, 1, 2) == 7);
    /* A kernel larger than the padded input, or arguments out of range, give 0. */
    CHECK(cnn_conv_output_size(2, 3, 1, 1, 0) == 0);
    CHECK(cnn_conv_output_size(3, 2, 1, 3, 0) == 0);
    CHECK(cnn_conv_output_size(7, 3, 0, 1, 0) == 0);
    CHECK(cnn_conv_output_size(7, 3, 1, 0, 0) == 0);
    CHECK(cnn_conv_output_size(7, 3, 1, 1, -1) == 0);
    CHECK(cnn_conv_output_size(0, 1, 1, 1, 0) == 0);
    CHECK(cnn_conv_output_size(7, 0, 1, 1, 0) == 0);
    CHECK(cnn_conv_output_size(1, 1, 1, 1, 0) == 1);
    CHECK(cnn_conv_output_size(1, 3, 1, 1, 2) == 1);
    CHECK(cnn_conv_output_size(INT_MAX, 1, 1, 1, 0) == INT_MAX);
}

TEST(padding_helpers) {
    int pb = -1, pa = -1, n, k, s, d;
    /* same: output ceil(n/stride), the odd pad at the bottom/right as TensorFlow. */
    cnn_padding_for(CNN_PAD_SAME, 5, 3, 2, 1, &pb, &pa); CHECK(pb == 1 && pa == 1);
    cnn_padding_for(CNN_PAD_SAME, 6, 3, 2, 1, &pb, &pa); CHECK(pb == 0 && pa == 1);
    cnn_padding_for(CNN_PAD_SAME, 4, 4, 1, 1, &pb, &pa); CHECK(pb == 1 && pa == 2);
    cnn_padding_for(CNN_PAD_SAME, 7, 3, 1, 1, &pb, &pa); CHECK(pb == 1 && pa == 1);
    cnn_padding_for(CNN_PAD_SAME, 7, 3, 1, 2, &pb, &pa); CHECK(pb == 2 && pa == 2);
    cnn_padding_for(CNN_PAD_SAME, 7, 1, 3, 1, &pb, &pa); CHECK(pb == 0 && pa == 0);
    /* full: e-1 on each side; valid and explicit: none. */
    cnn_padding_for(CNN_PAD_FULL, 5, 3, 1, 1, &pb, &pa); CHECK(pb == 2 && pa == 2);
    cnn_padding_for(CNN_PAD_FULL, 5, 3, 2, 2, &pb, &pa); CHECK(pb == 4 && pa == 4);
    cnn_padding_for(CNN_PAD_FULL, 5, 1, 1, 1, &pb, &pa); CHECK(pb == 0 && pa == 0);
    cnn_padding_for(CNN_PAD_VALID, 5, 3, 2, 1, &pb, &pa); CHECK(pb == 0 && pa == 0);
    cnn_padding_for(CNN_PAD_EXPLICIT, 5, 3, 2, 1, &pb, &pa); CHECK(pb == 0 && pa == 0);
    cnn_padding_for(CNN_PAD_SAME, 5, 3, 2, 1, NULL, NULL);   /* NULL outputs are allowed */

    /* Over a range of shapes: the promised output sizes and the placement of the odd pad. */
    for (n = 1; n <= 12; n++)
        for (k = 1; k <= 5; k++)
            for (s = 1; s <= 3; s++)
                for (d = 1; d <= 2; d++) {
                    int e = d * (k - 1) + 1;
                    cnn_padding_for(CNN_PAD_SAME, n, k, s, d, &pb, &pa);
                    CHECKF(pb >= 0 && (pa == pb || pa == pb + 1), "same n%d k%d s%d d%d: pads %d, %d", n, k, s, d, pb, pa);
                    CHECKF(cnn_conv_output_size(n, k, s, d, pb + pa) == (n + s - 1) / s,
                           "same n%d k%d s%d d%d: pads %d+%d give %d outputs, expected ceil(n/s) = %d",
                           n, k, s, d, pb, pa, cnn_conv_output_size(n, k, s, d, pb + pa), (n + s - 1) / s);
                    cnn_padding_for(CNN_PAD_FULL, n, k, s, d, &pb, &pa);
                    CHECK(pb == e - 1 && pa == e - 1);
                    if (s == 1) CHECK(cnn_conv_output_size(n, k, 1, d, pb + pa) == n + e - 1);
                    cnn_padding_for(CNN_PAD_VALID, n, k, s, d, &pb, &pa);
                    CHECK(pb == 0 && pa == 0);
                }
}

/* ---- 2. convolution against a naive reference ---------------------------------------------- */

/* Output positions along one axis, counted one window at a time: window o covers padded
   positions o*stride .. o*stride + dilation*(kernel-1), which must lie inside the padded input. */
static int naive_conv_out(int n, int k, int stride, int dil, int pb, int pa) {
    int o = 0;
    while ((long)o * stride + (long)dil * (k - 1) <= (long)n + pb + pa - 1) o++;
    return o;
}

/* The definition, in double precision: every output reads every tap, and a tap outside the
   input reads zero. mag receives the sum of |terms|, the scale of the float rounding error. */
static void naive_conv(const cnn_conv2d_shape *s, int oh, int ow, const float *x, const float *w,
                       const float *b, double *y, double *mag) {
    int n, k, i, j, c, r, q;
    for (n = 0; n < s->n; n++)
        for (k = 0; k < s->k; k++)
            for (i = 0; i < oh; i++)
                for (j = 0; j < ow; j++) {
                    double sum = b ? b[k] : 0.0, m = b ? fabs(b[k]) : 0.0;
                    for (c = 0; c < s->c; c++)
                        for (r = 0; r < s->kh; r++)
                            for (q = 0; q < s->kw; q++) {
                                int ii = i * s->stride_h - s->pad_top + r * s->dilation_h;
                                int jj = j * s->stride_w - s->pad_left + q * s->dilation_w;
                                double t;
                                if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w) continue;
                                t = (double)w[(((size_t)k * s->c + c) * s->kh + r) * s->kw + q] *
                                    (double)x[(((size_t)n * s->c + c) * s->h + ii) * s->w + jj];
                                sum += t;
                                m += fabs(t);
                            }
                    y[(((size_t)n * s->k + k) * oh + i) * ow + j] = sum;
                    mag[(((size_t)n * s->k + k) * oh + i) * ow + j] = m;
                }
}

static void describe_conv(const cnn_conv2d_shape *s, int bias, char *buf, size_t cap) {
    snprintf(buf, cap, "n%d c%d %dx%d -> k%d %dx%d stride %dx%d dil %dx%d pads t%d b%d l%d r%d%s",
             s->n, s->c, s->h, s->w, s->k, s->kh, s->kw, s->stride_h, s->stride_w, s->dilation_h,
             s->dilation_w, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, bias ? " bias" : "");
}

/* Runs one shape: the output size, then integer data (exact) and real data (tolerance).
   Returns 1 when the shape was valid and compared, 0 when it was (rightly) rejected. */
static int conv_case(const cnn_conv2d_shape *s, int bias, cnn_rng *rng) {
    int oh = naive_conv_out(s->h, s->kh, s->stride_h, s->dilation_h, s->pad_top, s->pad_bottom);
    int ow = naive_conv_out(s->w, s->kw, s->stride_w, s->dilation_w, s->pad_left, s->pad_right);
    int got_h = -1, got_w = -1, pass, bad = 0;
    size_t nx = (size_t)s->n * s->c * s->h * s->w, nw = (size_t)s->k * s->c * s->kh * s->kw;
    size_t ny = (size_t)s->n * s->k * (oh > 0 ? oh : 0) * (ow > 0 ? ow : 0), i;
    float *x, *w, *b, *y;
    double *ref, *mag;
    char what[200];
    describe_conv(s, bias, what, sizeof what);
    if (oh < 1 || ow < 1) {
        CHECKF(cnn_conv2d_check(s, &got_h, &got_w) == CNN_ERR_SHAPE, "%s: the kernel does not fit; expected CNN_ERR_SHAPE", what);
        return 0;
    }
    CHECKF(cnn_conv2d_check(s, &got_h, &got_w) == CNN_OK, "%s: %s", what, cnn_last_error());
    CHECKF(got_h == oh && got_w == ow, "%s: output %dx%d, expected %dx%d", what, got_h, got_w, oh, ow);
    x = falloc(nx); w = falloc(nw); b = falloc((size_t)s->k); y = falloc(ny);
    ref = (double *)malloc(ny * sizeof(double));
    mag = (double *)malloc(ny * sizeof(double));
    if (!ref || !mag) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (pass = 0; pass < 2; pass++) {
        if (pass == 0) { fill_int(rng, x, nx, -3, 3); fill_int(rng, w, nw, -3, 3); fill_int(rng, b, (size_t)s->k, -5, 5); }
        else { fill_uniform(rng, x, nx, -1, 1); fill_uniform(rng, w, nw, -1, 1); fill_uniform(rng, b, (size_t)s->k, -1, 1); }
        fill_nan(y, ny);
        CHECKF(cnn_conv2d_forward(s, x, w, bias ? b : NULL, y) == CNN_OK, "%s: %s", what, cnn_last_error());
        naive_conv(s, oh, ow, x, w, bias ? b : NULL, ref, mag);
        for (i = 0; i < ny && bad < 3; i++) {
            /* Integers: exact. Reals: a float sum of m rounded products is within
               (m + 1) * 2^-24 * sum|terms| of the exact value whatever the order (the
               classic worst-case bound), m = c*kh*kw + 1 terms; plus 1e-6 for sums near 0. */
            double terms = (double)s->c * s->kh * s->kw + 1.0;
            double tol = pass == 0 ? 0.0 : (terms + 1.0) * (FLT_EPSILON / 2) * mag[i] + 1e-6;
            if (!(fabs((double)y[i] - ref[i]) <= tol)) {
                CHECKF(0, "%s (%s data): y[%zu] = %.9g, reference %.9g (tolerance %g)",
                       what, pass == 0 ? "integer" : "real", i, (double)y[i], ref[i], tol);
                bad++;
            }
        }
    }
    free(x); free(w); free(b); free(y); free(ref); free(mag);
    return 1;
}

TEST(conv_forward_chosen_shapes) {
    /* n, c, h, w, k, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, bias */
    static const int cases[][16] = {
        { 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },    /* 1x1 image, padded to fit 3x3  */
        { 2, 3, 1, 1, 2, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 0 },    /* 1x1 image, 1x3 kernel         */
        { 1, 2, 1, 1, 3, 5, 2, 1, 1, 1, 1, 2, 2, 1, 0, 1 },    /* 1x1 image, 5x2 kernel          */
        { 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0, 0, 1 },    /* 1x1 everything, big strides    */
        { 2, 3, 7, 5, 4, 3, 1, 2, 1, 1, 1, 0, 0, 0, 0, 1 },    /* 3x1 kernel, stride 2x1         */
        { 3, 7, 11, 13, 2, 5, 2, 1, 1, 1, 3, 2, 1, 0, 3, 0 },  /* 5x2, dilation 1x3, asym pads  */
        { 1, 17, 6, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },   /* 17 channels, 'same'            */
        { 2, 3, 13, 7, 5, 1, 3, 3, 2, 1, 2, 0, 2, 3, 0, 1 },   /* 1x3, stride 3x2, dilation 1x2  */
        { 1, 1, 7, 7, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0 },    /* the lecture's stride-2 case    */
        { 2, 2, 9, 4, 3, 2, 2, 3, 3, 3, 2, 3, 3, 2, 2, 1 },    /* everything large at once        */
        { 1, 3, 5, 5, 2, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 1 },    /* kernel larger than the image   */
        { 1, 1, 2, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0 },
        /* Larger ones, so blocked (SIMD) paths run full tiles and ragged tails. */
        { 2, 17, 29, 31, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
        { 3, 6, 16, 16, 16, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 1 },
        { 1, 32, 8, 9, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
        { 2, 7, 13, 11, 19, 3, 3, 1, 2, 2, 1, 2, 0, 1, 3, 0 },
        { 1, 24, 10, 7, 7, 2, 5, 3, 1, 1, 2, 0, 1, 4, 4, 1 },
    };
    cnn_rng rng;
    size_t t;
    cnn_rng_seed(&rng, 101);
    for (t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *p = cases[t];
        cnn_conv2d_shape s = conv_shape(p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        s.stride_h = p[7]; s.stride_w = p[8]; s.dilation_h = p[9]; s.dilation_w = p[10];
        s.pad_top = p[11]; s.pad_bottom = p[12]; s.pad_left = p[13]; s.pad_right = p[14];
        CHECKF(conv_case(&s, p[15], &rng) == 1, "case %zu should be a valid shape", t);
    }
}

TEST(conv_forward_random_shapes) {
    static const int chans[] = { 1, 3, 7, 17 }, sizes[] = { 1, 2, 3, 5, 6, 7, 11, 13 }, filters[] = { 1, 2, 3, 5, 8, 17 };
    static const int kernels[][2] = { { 1, 1 }, { 1, 3 }, { 3, 1 }, { 2, 2 }, { 3, 3 }, { 5, 2 }, { 2, 5 }, { 4, 3 }, { 5, 5 } };
    int iter, valid = 0, rejected = 0;
    int seen_c[4] = { 0, 0, 0, 0 }, seen_sh3 = 0, seen_sw3 = 0, seen_dh3 = 0, seen_dw3 = 0, seen_1x1 = 0;
    int seen_rect = 0, seen_bias = 0, seen_nobias = 0, seen_n3 = 0, seen_asym = 0;
    cnn_rng rng;
    cnn_rng_seed(&rng, 2024);
    for (iter = 0; iter < 1000; iter++) {
        int ci = (int)cnn_rng_below(&rng, 4), ki = (int)cnn_rng_below(&rng, 9), bias = (int)cnn_rng_below(&rng, 2);
        cnn_conv2d_shape s = conv_shape(1 + (int)cnn_rng_below(&rng, 3), chans[ci], sizes[cnn_rng_below(&rng, 8)],
                                        sizes[cnn_rng_below(&rng, 8)], filters[cnn_rng_below(&rng, 6)],
                                        kernels[ki][0], kernels[ki][1]);
        s.stride_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.stride_w = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_w = 1 + (int)cnn_rng_below(&rng, 3);
        if (cnn_rng_below(&rng, 3)) {
            s.pad_top = (int)cnn_rng_below(&rng, 4); s.pad_bottom = (int)cnn_rng_below(&rng, 4);
            s.pad_left = (int)cnn_rng_below(&rng, 4); s.pad_right = (int)cnn_rng_below(&rng, 4);
        }
        if (!conv_case(&s, bias, &rng)) { rejected++; continue; }
        valid++;
        seen_c[ci]++;
        seen_sh3 += s.stride_h == 3; seen_sw3 += s.stride_w == 3;
        seen_dh3 += s.dilation_h == 3; seen_dw3 += s.dilation_w == 3;
        seen_1x1 += s.h == 1 && s.w == 1;
        seen_rect += s.h != s.w;
        seen_bias += bias; seen_nobias += !bias;
        seen_n3 += s.n == 3;
        seen_asym += s.pad_top != s.pad_bottom || s.pad_left != s.pad_right;
    }
    /* The seeded draw must have covered what it is meant to cover. */
    CHECKF(valid >= 500, "only %d of 1000 random shapes were valid (%d rejected)", valid, rejected);
    CHECK(seen_c[0] && seen_c[1] && seen_c[2] && seen_c[3]);
    CHECK(seen_sh3 && seen_sw3 && seen_dh3 && seen_dw3);
    CHECK(seen_1x1 && seen_rect && seen_bias && seen_nobias && seen_n3 && seen_asym);
}

/* ---- 3. pooling ---------------------------------------------------------------------------- */

/* Output positions along one axis, counted one window at a time (padded length L = n+pb+pa):
   floor mode keeps the windows that lie inside the padded input; ceil mode adds one partial
   window when those leave the last (L-k) mod s positions uncovered, unless that window would
   start in the trailing padding (at input position >= n), as PyTorch's ceil_mode. */
static int naive_pool_out(int n, int k, int stride, int pb, int pa, int ceil_mode) {
    long L = (long)n + pb + pa;
    int o = 0;
    if (L < k) return 0;
    while ((long)o * stride + k <= L) o++;
    if (ceil_mode && (L - k) % stride != 0 && (long)o * stride - pb < n) o++;
    return o;
}

/* The definition: the window of output (i, j) starts at (i*sh - pt, j*sw - pl); max over the
   real inputs in it (padding is never the max); the mean divides by the window positions
   inside the padded input (count_pad) or by the real inputs in it. */
static void naive_pool(const cnn_pool2d_shape *s, int oh, int ow, const float *x, double *ymax,
                       int32_t *argmax, double *yavg) {
    int p, i, j, r, q;
    for (p = 0; p < s->n * s->c; p++)
        for (i = 0; i < oh; i++)
            for (j = 0; j < ow; j++) {
                int top = i * s->stride_h - s->pad_top, left = j * s->stride_w - s->pad_left;
                int real = 0, padded = 0, best = -1;
                double mx = -HUGE_VAL, sum = 0.0;
                for (r = 0; r < s->kh; r++)
                    for (q = 0; q < s->kw; q++) {
                        int ii = top + r, jj = left + q;
                        if (ii < s->h + s->pad_bottom && jj < s->w + s->pad_right) padded++;
                        if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w) continue;
                        real++;
                        sum += x[(size_t)p * s->h * s->w + (size_t)ii * s->w + jj];
                        if (x[(size_t)p * s->h * s->w + (size_t)ii * s->w + jj] > mx) {
                            mx = x[(size_t)p * s->h * s->w + (size_t)ii * s->w + jj];
                            best = ii * s->w + jj;
                        }
                    }
                ymax[((size_t)p * oh + i) * ow + j] = real ? mx : NAN;
                argmax[((size_t)p * oh + i) * ow + j] = best;
                yavg[((size_t)p * oh + i) * ow + j] = real ? sum / (s->count_pad ? padded : real) : NAN;
            }
}

TEST(pool_output_sizes_pytorch_ceil_rule) {
    /* Known PyTorch sizes (n, k, s, pad, ceil -> out), and the formula of the cnn.h comment. */
    static const int known[][6] = {
        { 5, 2, 2, 0, 1, 3 },   /* floor would give 2                                        */
        { 5, 2, 2, 0, 0, 2 },
        { 6, 2, 2, 1, 1, 4 },   /* (6+2-2)/2+1 = 4 exactly: ceil changes nothing             */
        { 4, 3, 2, 1, 1, 3 },   /* ceil((4+2-3)/2)+1 = 3; the 3rd window starts at input 3 < 4 */
        { 4, 3, 2, 1, 0, 2 },
        { 5, 2, 2, 1, 1, 3 },   /* ceil(5/2)+1 = 4, but the 4th window would start at input 5 = n: dropped */
        { 4, 2, 3, 1, 1, 2 },   /* ceil(4/3)+1 = 3, the 3rd would start at input 5 >= 4: dropped */
        { 7, 3, 2, 0, 1, 3 },
        { 8, 3, 2, 0, 1, 4 },   /* floor 3 */
        { 1, 1, 1, 0, 1, 1 },
        { 1, 2, 2, 1, 1, 1 },
    };
    size_t t;
    for (t = 0; t < sizeof known / sizeof known[0]; t++) {
        const int *k = known[t];
        int oh = -1, ow = -1, span = k[0] + 2 * k[3] - k[1];
        int formula = (k[4] ? (span + k[2] - 1) / k[2] : span / k[2]) + 1;
        cnn_pool2d_shape s = pool_shape(1, 1, k[0], k[0], k[1], k[1], k[2], k[2]);
        if (k[4] && (formula - 1) * k[2] >= k[0] + k[3]) formula--;
        s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = k[3];
        s.ceil_mode = k[4];
        CHECKF(cnn_pool2d_check(&s, &oh, &ow) == CNN_OK, "case %zu: %s", t, cnn_last_error());
        CHECKF(oh == k[5] && ow == k[5], "n%d k%d s%d pad%d ceil%d: %dx%d, PyTorch gives %d",
               k[0], k[1], k[2], k[3], k[4], oh, ow, k[5]);
        CHECK(formula == k[5]);
        CHECK(naive_pool_out(k[0], k[1], k[2], k[3], k[3], k[4]) == k[5]);
    }
}

TEST(pool_known_padding_values) {
    /* PyTorch AvgPool2d(2, 2, padding=1) on a 3x3 of ones: count_include_pad gives
       [[0.25, 0.5], [0.5, 1]]; without it every window averages ones. */
    float ones[9], y[4];
    int i;
    cnn_pool2d_shape s = pool_shape(1, 1, 3, 3, 2, 2, 2, 2);
    for (i = 0; i < 9; i++) ones[i] = 1.0f;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 1;
    s.count_pad = 1;
    CHECK_OK(cnn_avgpool2d_forward(&s, ones, y));
    CHECK(y[0] == 0.25f && y[1] == 0.5f && y[2] == 0.5f && y[3] == 1.0f);
    s.count_pad = 0;
    CHECK_OK(cnn_avgpool2d_forward(&s, ones, y));
    CHECK(y[0] == 1.0f && y[1] == 1.0f && y[2] == 1.0f && y[3] == 1.0f);

    /* PyTorch AvgPool1d(3, 2, padding=1, ceil_mode=True) on [1, 2, 3, 4]: three windows,
       the last holds input 4, one pad and one position past the padded input:
       count_include_pad [1, 3, 2] (divisor clipped to the padded input), else [1.5, 3, 4]. */
    {
        static const float x[4] = { 1, 2, 3, 4 };
        float z[3];
        int oh = 0, ow = 0;
        cnn_pool2d_shape t = pool_shape(1, 1, 1, 4, 1, 3, 1, 2);
        t.pad_left = t.pad_right = 1;
        t.ceil_mode = 1;
        t.count_pad = 1;
        CHECK_OK(cnn_pool2d_check(&t, &oh, &ow));
        CHECK(oh == 1 && ow == 3);
        CHECK_OK(cnn_avgpool2d_forward(&t, x, z));
        CHECK_NEAR(z[0], 1.0, 1e-6); CHECK_NEAR(z[1], 3.0, 1e-6); CHECK_NEAR(z[2], 2.0, 1e-6);
        t.count_pad = 0;
        CHECK_OK(cnn_avgpool2d_forward(&t, x, z));
        CHECK_NEAR(z[0], 1.5, 1e-6); CHECK_NEAR(z[1], 3.0, 1e-6); CHECK_NEAR(z[2], 4.0, 1e-6);
    }
    /* Max pooling ignores padding: all-negative inputs never pool to 0. */
    {
        static const float neg[9] = { -5, -4, -3, -2, -1, -2, -3, -4, -5 };
        float m[4];
        s.count_pad = 0;
        CHECK_OK(cnn_maxpool2d_forward(&s, neg, m, NULL));
        CHECK(m[0] == -5.0f && m[1] == -3.0f && m[2] == -2.0f && m[3] == -1.0f);
    }
    /* A NaN in a window is passed on (wherever it is in the window), not hidden by a max. */
    {
        float v[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, m[4];
        int32_t arg[4];
        cnn_pool2d_shape t = pool_shape(1, 1, 3, 3, 2, 2, 1, 1);   /* 2x2 windows, stride 1 */
        v[4] = (float)NAN;                /* the centre: in all four windows */
        CHECK_OK(cnn_maxpool2d_forward(&t, v, m, arg));
        CHECK(isnan(m[0]) && isnan(m[1]) && isnan(m[2]) && isnan(m[3]));
        CHECK(arg[0] == 4 && arg[3] == 4);
        v[4] = 5.0f; v[0] = (float)NAN;   /* the first input: only window (0, 0) */
        CHECK_OK(cnn_maxpool2d_forward(&t, v, m, arg));
        CHECK(isnan(m[0]) && m[1] == 6.0f && m[2] == 8.0f && m[3] == 9.0f);
    }
}

static void describe_pool(const cnn_pool2d_shape *s, char *buf, size_t cap) {
    snprintf(buf, cap, "n%d c%d %dx%d window %dx%d stride %dx%d pads t%d b%d l%d r%d%s%s",
             s->n, s->c, s->h, s->w, s->kh, s->kw, s->stride_h, s->stride_w, s->pad_top, s->pad_bottom,
             s->pad_left, s->pad_right, s->ceil_mode ? " ceil" : "", s->count_pad ? " count_pad" : "");
}

TEST(pool_forward_random_shapes) {
    int iter, valid = 0, seen_ceil_extra = 0, seen_count_pad = 0, seen_rect = 0, seen_overlap = 0;
    cnn_rng rng;
    cnn_rng_seed(&rng, 77);
    for (iter = 0; iter < 1500; iter++) {
        cnn_pool2d_shape s = pool_shape(1 + (int)cnn_rng_below(&rng, 2), 1 + (int)cnn_rng_below(&rng, 3),
                                        1 + (int)cnn_rng_below(&rng, 10), 1 + (int)cnn_rng_below(&rng, 10),
                                        1 + (int)cnn_rng_below(&rng, 4), 1 + (int)cnn_rng_below(&rng, 4),
                                        1 + (int)cnn_rng_below(&rng, 3), 1 + (int)cnn_rng_below(&rng, 3));
        int oh, ow, got_h = -1, got_w = -1, bad = 0;
        size_t nx, ny, i;
        float *x, *ymax, *yavg;
        int32_t *arg, *ref_arg;
        double *ref_max, *ref_avg;
        char what[200];
        s.pad_top = (int)cnn_rng_below(&rng, (uint32_t)s.kh / 2 + 1);
        s.pad_bottom = (int)cnn_rng_below(&rng, (uint32_t)s.kh / 2 + 1);
        s.pad_left = (int)cnn_rng_below(&rng, (uint32_t)s.kw / 2 + 1);
        s.pad_right = (int)cnn_rng_below(&rng, (uint32_t)s.kw / 2 + 1);
        s.ceil_mode = (int)cnn_rng_below(&rng, 2);
        s.count_pad = (int)cnn_rng_below(&rng, 2);
        describe_pool(&s, what, sizeof what);
        oh = naive_pool_out(s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.ceil_mode);
        ow = naive_pool_out(s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.ceil_mode);
        if (oh < 1 || ow < 1) {
            CHECKF(cnn_pool2d_check(&s, &got_h, &got_w) == CNN_ERR_SHAPE, "%s: expected CNN_ERR_SHAPE", what);
            continue;
        }
        CHECKF(cnn_pool2d_check(&s, &got_h, &got_w) == CNN_OK, "%s: %s", what, cnn_last_error());
        CHECKF(got_h == oh && got_w == ow, "%s: output %dx%d, expected %dx%d", what, got_h, got_w, oh, ow);
        valid++;
        seen_ceil_extra += s.ceil_mode && (oh != naive_pool_out(s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, 0) ||
                                           ow != naive_pool_out(s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, 0));
        seen_count_pad += s.count_pad && (s.pad_top || s.pad_bottom || s.pad_left || s.pad_right);
        seen_rect += s.kh != s.kw || s.stride_h != s.stride_w;
        seen_overlap += s.stride_h < s.kh || s.stride_w < s.kw;
        nx = (size_t)s.n * s.c * s.h * s.w;
        ny = (size_t)s.n * s.c * oh * ow;
        x = falloc(nx); ymax = falloc(ny); yavg = falloc(ny);
        arg = (int32_t *)malloc(ny * sizeof(int32_t)); ref_arg = (int32_t *)malloc(ny * sizeof(int32_t));
        ref_max = (double *)malloc(ny * sizeof(double)); ref_avg = (double *)malloc(ny * sizeof(double));
        if (!arg || !ref_arg || !ref_max || !ref_avg) { fprintf(stderr, "out of memory\n"); exit(2); }
        fill_uniform(&rng, x, nx, -2, 1);   /* mostly negative: padding must not win a max */
        fill_nan(ymax, ny); fill_nan(yavg, ny);
        CHECKF(cnn_maxpool2d_forward(&s, x, ymax, arg) == CNN_OK, "%s: %s", what, cnn_last_error());
        CHECKF(cnn_avgpool2d_forward(&s, x, yavg) == CNN_OK, "%s: %s", what, cnn_last_error());
        naive_pool(&s, oh, ow, x, ref_max, ref_arg, ref_avg);
        for (i = 0; i < ny && bad < 3; i++) {
            /* Max is exact (and the first of equal values wins, as in the reference). The mean
               of m <= 16 values of |x| <= 2, divided by at least m: the float sum is within
               (m + 1) 2^-24 sum|x| <= 17 * 2^-24 * 2m, so the mean within 17 * 2^-23 + a
               rounding of the division: 4e-6 bounds it. */
            if (!((double)ymax[i] == ref_max[i] && arg[i] == ref_arg[i] && fabs((double)yavg[i] - ref_avg[i]) <= 4e-6)) {
                CHECKF(0, "%s: output %zu: max %.9g (at %d), reference %.9g (at %d); avg %.9g, reference %.9g",
                       what, i, (double)ymax[i], (int)arg[i], ref_max[i], (int)ref_arg[i], (double)yavg[i], ref_avg[i]);
                bad++;
            }
        }
        free(x); free(ymax); free(yavg); free(arg); free(ref_arg); free(ref_max); free(ref_avg);
    }
    CHECKF(valid >= 750, "only %d valid pooling shapes", valid);
    CHECK(seen_ceil_extra && seen_count_pad && seen_rect && seen_overlap);
}

TEST(global_avgpool_forward) {
    cnn_rng rng;
    int n, c, hw;
    cnn_rng_seed(&rng, 5);
    for (n = 1; n <= 3; n++)
        for (c = 1; c <= 4; c += 3)
            for (hw = 1; hw <= 50; hw += 7) {
                size_t nx = (size_t)n * c * hw, p;
                float *x = falloc(nx), *y = falloc((size_t)n * c);
                int i;
                fill_uniform(&rng, x, nx, -1, 1);
                fill_nan(y, (size_t)n * c);
                CHECK_OK(cnn_global_avgpool_forward(n, c, hw, x, y));
                for (p = 0; p < (size_t)n * c; p++) {
                    double sum = 0.0;
                    for (i = 0; i < hw; i++) sum += x[p * hw + i];
                    CHECK_NEAR(y[p], sum / hw, 4e-6);   /* (hw + 1) 2^-24 max|x| + rounding */
                }
                free(x); free(y);
            }
}

/* ---- 4. dense, softmax, losses, activations, dropout --------------------------------------- */

TEST(dense_forward) {
    cnn_rng rng;
    int iter;
    cnn_rng_seed(&rng, 9);
    for (iter = 0; iter < 70; iter++) {
        /* small random shapes, then every tenth a larger one (full SIMD tiles and tails) */
        int large = iter % 10 == 9;
        int n = 1 + (int)cnn_rng_below(&rng, large ? 9 : 3), in = 1 + (int)cnn_rng_below(&rng, large ? 300 : 37);
        int out = 1 + (int)cnn_rng_below(&rng, large ? 70 : 13);
        int bias = iter % 2, i, o, k, pass;
        float *x = falloc((size_t)n * in), *w = falloc((size_t)out * in), *b = falloc((size_t)out), *y = falloc((size_t)n * out);
        for (pass = 0; pass < 2; pass++) {
            if (pass == 0) { fill_int(&rng, x, (size_t)n * in, -3, 3); fill_int(&rng, w, (size_t)out * in, -3, 3); fill_int(&rng, b, (size_t)out, -3, 3); }
            else { fill_uniform(&rng, x, (size_t)n * in, -1, 1); fill_uniform(&rng, w, (size_t)out * in, -1, 1); fill_uniform(&rng, b, (size_t)out, -1, 1); }
            fill_nan(y, (size_t)n * out);
            CHECK_OK(cnn_dense_forward(n, in, out, x, w, bias ? b : NULL, y));
            for (i = 0; i < n; i++)
                for (o = 0; o < out; o++) {
                    double sum = bias ? b[o] : 0.0, mag = bias ? fabs(b[o]) : 0.0, tol;
                    for (k = 0; k < in; k++) { sum += (double)w[o * in + k] * x[i * in + k]; mag += fabs((double)w[o * in + k] * x[i * in + k]); }
                    /* integers exact; reals within the worst-case float summation bound */
                    tol = pass == 0 ? 0.0 : (in + 2.0) * (FLT_EPSILON / 2) * mag + 1e-6;
                    CHECKF(fabs(y[i * out + o] - sum) <= tol, "n%d in%d out%d: y[%d][%d] = %.9g, reference %.9g",
                           n, in, out, i, o, (double)y[i * out + o], sum);
                }
        }
        free(x); free(w); free(b); free(y);
    }
}

TEST(softmax_rows) {
    static const float logits[4][3] = { { 1, 2, 3 }, { 1000, -1000, 0 }, { -1000, -1000, -1000 }, { 1000, 1000, 999 } };
    float p[12];
    int i, j;
    CHECK_OK(cnn_softmax(4, 3, &logits[0][0], p));
    for (i = 0; i < 4; i++) {
        double sum = 0.0, m = logits[i][0], z = 0.0;
        for (j = 0; j < 3; j++) { CHECK(isfinite(p[i * 3 + j])); CHECK(p[i * 3 + j] >= 0.0f); sum += p[i * 3 + j]; }
        CHECK_NEAR(sum, 1.0, 1e-6);
        for (j = 1; j < 3; j++) if (logits[i][j] > m) m = logits[i][j];
        for (j = 0; j < 3; j++) z += exp(logits[i][j] - m);
        for (j = 0; j < 3; j++) CHECK_NEAR(p[i * 3 + j], exp(logits[i][j] - m) / z, 1e-6);
    }
    CHECK(p[3] == 1.0f && p[4] == 0.0f);
    CHECK_NEAR(p[6], 1.0 / 3.0, 1e-7);
    /* in place */
    {
        float q[3] = { 0, 0, 0 };
        CHECK_OK(cnn_softmax(1, 3, q, q));
        CHECK_NEAR(q[0], 1.0 / 3.0, 1e-7);
    }
}

TEST(softmax_cross_entropy_values) {
    float loss = -1.0f, d[4];
    int32_t label0 = 0, label1 = 1, bad_labels[2] = { 0, 2 }, negative = -1;
    static const float zero2[2] = { 0, 0 }, big[2] = { 1000, -1000 };
    CHECK_OK(cnn_softmax_cross_entropy(1, 2, zero2, &label0, &loss, d));
    CHECK_NEAR(loss, log(2.0), 1e-6);
    CHECK_NEAR(d[0], -0.5, 1e-7); CHECK_NEAR(d[1], 0.5, 1e-7);
    CHECK_OK(cnn_softmax_cross_entropy(1, 2, big, &label0, &loss, d));
    CHECK(loss == 0.0f);
    CHECK(d[0] == 0.0f && d[1] == 0.0f);
    CHECK_OK(cnn_softmax_cross_entropy(1, 2, big, &label1, &loss, d));
    CHECK_NEAR(loss, 2000.0, 1e-3);
    CHECK(isfinite(d[0]) && isfinite(d[1]));
    CHECK_NEAR(d[0], 1.0, 1e-7); CHECK_NEAR(d[1], -1.0, 1e-7);
    /* A batch: the mean, and dlogits divided by n. */
    {
        static const float z[6] = { 0, 0, 1000, -1000, 1, 2 };
        int32_t labels[3] = { 0, 1, 1 };
        double expect = (log(2.0) + 2000.0 + (log(exp(1.0) + exp(2.0)) - 2.0)) / 3.0;
        float dz[6];
        CHECK_OK(cnn_softmax_cross_entropy(3, 2, z, labels, &loss, dz));
        CHECK_NEAR(loss, expect, 1e-4);
        CHECK_NEAR(dz[0], -0.5 / 3, 1e-7);
        CHECK_NEAR(dz[3], -1.0 / 3, 1e-7);
        CHECK_NEAR(dz[4], (exp(1.0) / (exp(1.0) + exp(2.0))) / 3, 1e-7);
        CHECK_OK(cnn_softmax_cross_entropy(3, 2, z, labels, &loss, NULL));   /* dlogits optional */
        CHECK_OK(cnn_softmax_cross_entropy(3, 2, z, labels, NULL, dz));      /* so is the loss  */
    }
    CHECK_FAILS(cnn_softmax_cross_entropy(2, 2, big, bad_labels, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "label");
    CHECK_FAILS(cnn_softmax_cross_entropy(1, 2, big, &negative, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "label");
    CHECK_FAILS(cnn_softmax_cross_entropy(1, 2, big, NULL, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_softmax_cross_entropy(0, 2, big, &label0, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "softmax");
}

TEST(mean_squared_error_values) {
    static const float pred[4] = { 1, 2, 3, 4 }, target[4] = { 0, 2, 5, 4 };
    float loss = -1.0f, d[4];
    CHECK_OK(cnn_mean_squared_error(2, 2, pred, target, &loss, d));
    CHECK_NEAR(loss, (1.0 + 0.0 + 4.0 + 0.0) / 4.0, 1e-7);
    CHECK_NEAR(d[0], 0.5, 1e-7); CHECK_NEAR(d[1], 0.0, 1e-7); CHECK_NEAR(d[2], -1.0, 1e-7); CHECK_NEAR(d[3], 0.0, 1e-7);
    CHECK_OK(cnn_mean_squared_error(1, 4, pred, pred, &loss, NULL));
    CHECK(loss == 0.0f);
    CHECK_FAILS(cnn_mean_squared_error(0, 4, pred, target, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "mean squared");
    CHECK_FAILS(cnn_mean_squared_error(1, 4, NULL, target, &loss, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
}

TEST(activation_forward_values) {
    static const float x[7] = { -100, -2, -0.5f, 0, 0.5f, 2, 100 };
    float y[7];
    int i;
    CHECK_OK(cnn_activation_forward(CNN_RELU, 0, 7, x, y));
    for (i = 0; i < 7; i++) CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
    CHECK_OK(cnn_activation_forward(CNN_LEAKY_RELU, 0.1f, 7, x, y));
    for (i = 0; i < 7; i++) CHECK_NEAR(y[i], x[i] > 0 ? x[i] : 0.1 * x[i], 1e-6 * fabs(x[i]));
    CHECK_OK(cnn_activation_forward(CNN_SIGMOID, 0, 7, x, y));
    for (i = 0; i < 7; i++) { CHECK(isfinite(y[i])); CHECK_NEAR(y[i], 1.0 / (1.0 + exp(-x[i])), 2e-7); }
    CHECK(y[0] >= 0.0f && y[6] <= 1.0f);
    CHECK_OK(cnn_activation_forward(CNN_TANH, 0, 7, x, y));
    for (i = 0; i < 7; i++) CHECK_NEAR(y[i], tanh(x[i]), 2e-7);   /* a few float ulps */
    CHECK_OK(cnn_activation_forward(CNN_ACT_NONE, 0, 7, x, y));
    for (i = 0; i < 7; i++) CHECK(y[i] == x[i]);
    /* In place, and a NaN is passed on rather than hidden. */
    {
        float z[3] = { -1, 2, (float)NAN };
        CHECK_OK(cnn_activation_forward(CNN_RELU, 0, 3, z, z));
        CHECK(z[0] == 0.0f && z[1] == 2.0f && isnan(z[2]));
    }
    CHECK_OK(cnn_activation_forward(CNN_RELU, 0, 0, NULL, NULL));     /* nothing to do */
    CHECK_FAILS(cnn_activation_forward(CNN_RELU, 0, 3, NULL, y), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_activation_forward((cnn_activation)99, 0, 3, x, y), CNN_ERR_INVALID_ARGUMENT, "activation");
    CHECK_FAILS(cnn_activation_forward(CNN_LEAKY_RELU, 1.5f, 3, x, y), CNN_ERR_INVALID_ARGUMENT, "slope");
    CHECK_FAILS(cnn_activation_backward(CNN_RELU, 0, 3, x, NULL, y), CNN_ERR_INVALID_ARGUMENT, "NULL");
}

TEST(dropout_forward) {
    enum { COUNT = 100000 };
    const float rate = 0.3f;
    float *x = falloc(COUNT), *y = falloc(COUNT), *mask = falloc(COUNT), *mask2 = falloc(COUNT);
    double kept_sum = 0.0;
    size_t i, zeros = 0, wrong = 0;
    cnn_rng rng;
    for (i = 0; i < COUNT; i++) x[i] = 1.0f + (float)(i % 7);
    /* Evaluation: the identity, mask all ones. */
    fill_nan(y, COUNT);
    CHECK_OK(cnn_dropout_forward(COUNT, rate, 0, NULL, x, y, mask));
    CHECK(memcmp(x, y, COUNT * sizeof(float)) == 0);
    for (i = 0; i < COUNT; i++) wrong += mask[i] != 1.0f;
    CHECK(wrong == 0);
    CHECK_OK(cnn_dropout_forward(COUNT, rate, 0, NULL, x, y, NULL));
    /* Training: about 'rate' of the values zeroed (the count of zeros is binomial with
       sd sqrt(rate (1-rate) / COUNT) = 0.00145 of COUNT: 0.01 is 7 sd), the rest scaled. */
    cnn_rng_seed(&rng, 42);
    CHECK_OK(cnn_dropout_forward(COUNT, rate, 1, &rng, x, y, mask));
    for (i = 0; i < COUNT; i++) {
        if (mask[i] == 0.0f) { zeros++; wrong += y[i] != 0.0f; }
        else { wrong += fabs(mask[i] - 1.0 / (1.0 - rate)) > 1e-6 || y[i] != x[i] * mask[i]; kept_sum += y[i]; }
    }
    CHECKF(wrong == 0, "%zu values neither zeroed nor scaled by 1/(1-rate)", wrong);
    CHECKF(fabs((double)zeros / COUNT - rate) < 0.01, "%zu of %d zeroed, expected about %g", zeros, COUNT, (double)rate);
    {   /* the mean is kept: sum(y) is close to sum(x) = 4 COUNT */
        double mean_x = 0.0;
        for (i = 0; i < COUNT; i++) mean_x += x[i];
        CHECK_NEAR(kept_sum / mean_x, 1.0, 0.02);
    }
    /* Same seed, same mask; another seed, another mask. */
    cnn_rng_seed(&rng, 42);
    CHECK_OK(cnn_dropout_forward(COUNT, rate, 1, &rng, x, y, mask2));
    CHECK(memcmp(mask, mask2, COUNT * sizeof(float)) == 0);
    cnn_rng_seed(&rng, 43);
    CHECK_OK(cnn_dropout_forward(COUNT, rate, 1, &rng, x, y, mask2));
    CHECK(memcmp(mask, mask2, COUNT * sizeof(float)) != 0);
    /* Rate 0 in training is the identity too; in place works. */
    cnn_rng_seed(&rng, 1);
    CHECK_OK(cnn_dropout_forward(COUNT, 0.0f, 1, &rng, x, y, mask));
    CHECK(memcmp(x, y, COUNT * sizeof(float)) == 0);
    memcpy(y, x, COUNT * sizeof(float));
    CHECK_OK(cnn_dropout_forward(COUNT, 0.5f, 1, &rng, y, y, mask));
    for (wrong = 0, i = 0; i < COUNT; i++) wrong += y[i] != x[i] * mask[i];
    CHECK(wrong == 0);
    /* Backward multiplies by the mask. */
    CHECK_OK(cnn_dropout_backward(COUNT, x, mask, y));
    for (wrong = 0, i = 0; i < COUNT; i++) wrong += y[i] != x[i] * mask[i];
    CHECK(wrong == 0);
    /* Errors */
    CHECK_FAILS(cnn_dropout_forward(10, 1.0f, 1, &rng, x, y, mask), CNN_ERR_INVALID_ARGUMENT, "rate");
    CHECK_FAILS(cnn_dropout_forward(10, -0.1f, 0, &rng, x, y, mask), CNN_ERR_INVALID_ARGUMENT, "rate");
    CHECK_FAILS(cnn_dropout_forward(10, (float)NAN, 0, &rng, x, y, mask), CNN_ERR_INVALID_ARGUMENT, "rate");
    CHECK_FAILS(cnn_dropout_forward(10, 0.5f, 1, NULL, x, y, mask), CNN_ERR_INVALID_ARGUMENT, "rng");
    CHECK_FAILS(cnn_dropout_forward(10, 0.5f, 1, &rng, x, y, NULL), CNN_ERR_INVALID_ARGUMENT, "mask");
    CHECK_FAILS(cnn_dropout_forward(10, 0.5f, 0, &rng, NULL, y, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_dropout_backward(10, x, NULL, y), CNN_ERR_INVALID_ARGUMENT, "NULL");
    free(x); free(y); free(mask); free(mask2);
}

/* ---- 5. error handling of the raw kernels -------------------------------------------------- */

TEST(conv_errors) {
    float buf[64];
    cnn_conv2d_shape good = conv_shape(1, 1, 4, 4, 1, 3, 3), s;
    int i;
    for (i = 0; i < 64; i++) buf[i] = 0.0f;
    CHECK_OK(cnn_conv2d_forward(&good, buf, buf, NULL, buf + 32));
    CHECK_FAILS(cnn_conv2d_check(NULL, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_forward(NULL, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_forward(&good, NULL, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_forward(&good, buf, NULL, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_forward(&good, buf, buf, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_backward_data(&good, NULL, buf, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_backward_data(&good, buf, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_backward_weights(&good, NULL, buf, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_conv2d_backward_weights(&good, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    s = good; s.n = 0;   CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.c = -1;  CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.h = 0;   CHECK_FAILS(cnn_conv2d_backward_data(&s, buf, buf, buf), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.w = -3;  CHECK_FAILS(cnn_conv2d_backward_weights(&s, buf, buf, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.k = 0;   CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "filters");
    s = good; s.kh = 0;  CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "filters");
    s = good; s.kw = -1; CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "filters");
    s = good; s.stride_h = -1; CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "stride");
    s = good; s.stride_w = -2; CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "stride");
    s = good; s.dilation_h = -1; CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "dilation");
    s = good; s.dilation_w = -2; CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "dilation");
    s = good; s.pad_top = -1; CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "padding");
    s = good; s.pad_right = -1; CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "padding");
    /* kernel larger than the padded input: 5x5 on 4x4; 3x3 dilated to 5 on 4x4; fits with pads */
    s = good; s.kh = s.kw = 5; CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_SHAPE, "larger");
    s = good; s.kw = 5; CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_SHAPE, "kernel");
    s = good; s.dilation_h = 2; CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_SHAPE, "dilation");
    s = good; s.kh = s.kw = 5; s.pad_top = s.pad_left = 1; CHECK_OK(cnn_conv2d_check(&s, NULL, NULL));
    s = good; s.h = s.w = 1; CHECK_FAILS(cnn_conv2d_backward_data(&s, buf, buf, buf), CNN_ERR_SHAPE, "larger");
    /* sizes whose products overflow: rejected before any memory is touched */
    s = conv_shape(100000, 100000, 100000, 100000, 1, 1, 1);
    CHECK_FAILS(cnn_conv2d_forward(&s, buf, buf, NULL, buf), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_conv2d_backward_data(&s, buf, buf, buf), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_conv2d_backward_weights(&s, buf, buf, buf, buf), CNN_ERR_OVERFLOW, "overflow");
    s = conv_shape(1, 1, 1, 1, INT_MAX, INT_MAX, 1);       /* the weights alone overflow */
    s.pad_top = INT_MAX / 2; s.pad_bottom = INT_MAX / 2 + 1;
    CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_OVERFLOW, "overflow");
    s = conv_shape(1, 1, 4, 4, 1, 1, 1);
    s.pad_top = INT_MAX; s.pad_bottom = INT_MAX;
    CHECK_FAILS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_OVERFLOW, "padding");
}

TEST(pool_errors) {
    float buf[64];
    int32_t arg[16];
    cnn_pool2d_shape good = pool_shape(1, 1, 4, 4, 2, 2, 2, 2), s;
    int i;
    for (i = 0; i < 64; i++) buf[i] = 0.0f;
    CHECK_OK(cnn_maxpool2d_forward(&good, buf, buf + 32, arg));
    CHECK_FAILS(cnn_pool2d_check(NULL, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_maxpool2d_forward(NULL, buf, buf, arg), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_maxpool2d_forward(&good, NULL, buf, arg), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_maxpool2d_forward(&good, buf, NULL, arg), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_maxpool2d_backward(&good, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "argmax");
    CHECK_FAILS(cnn_maxpool2d_backward(&good, NULL, arg, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_avgpool2d_forward(&good, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_avgpool2d_backward(&good, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    s = good; s.n = 0;  CHECK_FAILS(cnn_maxpool2d_forward(&s, buf, buf, arg), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.w = -1; CHECK_FAILS(cnn_avgpool2d_forward(&s, buf, buf), CNN_ERR_INVALID_ARGUMENT, "input");
    s = good; s.kh = 0; CHECK_FAILS(cnn_maxpool2d_forward(&s, buf, buf, arg), CNN_ERR_INVALID_ARGUMENT, "window");
    s = good; s.stride_w = 0; CHECK_FAILS(cnn_avgpool2d_forward(&s, buf, buf), CNN_ERR_INVALID_ARGUMENT, "stride");
    s = good; s.pad_left = -1; CHECK_FAILS(cnn_pool2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "padding");
    s = good; s.pad_top = 2;   CHECK_FAILS(cnn_pool2d_check(&s, NULL, NULL), CNN_ERR_INVALID_ARGUMENT, "half");
    s = good; s.kh = s.kw = 5; CHECK_FAILS(cnn_maxpool2d_forward(&s, buf, buf, arg), CNN_ERR_SHAPE, "larger");
    s = good; s.kh = 6; s.pad_top = 1; CHECK_FAILS(cnn_avgpool2d_forward(&s, buf, buf), CNN_ERR_SHAPE, "larger");
    s = good; s.kh = 5; s.pad_top = 1; CHECK_OK(cnn_pool2d_check(&s, NULL, NULL));   /* 5 fits in 4 + 1 */
    s = pool_shape(100000, 100000, 100000, 100000, 1, 1, 1, 1);
    CHECK_FAILS(cnn_maxpool2d_forward(&s, buf, buf, arg), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_avgpool2d_backward(&s, buf, buf), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_global_avgpool_forward(0, 1, 1, buf, buf), CNN_ERR_INVALID_ARGUMENT, "global");
    CHECK_FAILS(cnn_global_avgpool_forward(1, 1, -4, buf, buf), CNN_ERR_INVALID_ARGUMENT, "global");
    CHECK_FAILS(cnn_global_avgpool_forward(1, 1, 4, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_global_avgpool_backward(1, 1, 4, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_global_avgpool_forward(INT_MAX, INT_MAX, INT_MAX, buf, buf), CNN_ERR_OVERFLOW, "overflow");
}

TEST(dense_softmax_errors) {
    float buf[16];
    int i;
    for (i = 0; i < 16; i++) buf[i] = 0.0f;
    CHECK_FAILS(cnn_dense_forward(0, 2, 2, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "dense");
    CHECK_FAILS(cnn_dense_forward(1, -2, 2, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "dense");
    CHECK_FAILS(cnn_dense_forward(1, 2, 0, buf, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "dense");
    CHECK_FAILS(cnn_dense_forward(1, 2, 2, NULL, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_dense_forward(1, 2, 2, buf, NULL, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_dense_backward_data(1, 2, 2, buf, buf, NULL), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_dense_backward_weights(1, 2, 2, buf, NULL, buf, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(cnn_dense_forward(INT_MAX, INT_MAX, 1, buf, buf, NULL, buf), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_dense_backward_weights(1, INT_MAX, INT_MAX, buf, buf, buf, buf), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_softmax(0, 3, buf, buf), CNN_ERR_INVALID_ARGUMENT, "softmax");
    CHECK_FAILS(cnn_softmax(1, 0, buf, buf), CNN_ERR_INVALID_ARGUMENT, "softmax");
    CHECK_FAILS(cnn_softmax(1, 3, NULL, buf), CNN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_OK(cnn_softmax(2, 3, buf, buf));
}

/* Sizes at the edge of int: the padded input or the output no longer fits in an int. The
   answer must be CNN_ERR_OVERFLOW (a kernel that does fit is not a shape error), and building
   the message must not itself overflow (under -fsanitize=undefined that aborts). */
static int names_overflow(const char *msg) { return mentions(msg, "overflow") || mentions(msg, "too large"); }

TEST(sizes_at_int_limits) {
    float buf[4] = { 0, 0, 0, 0 };
    cnn_conv2d_shape s = conv_shape(1, 1, INT_MAX, 1, 1, 1, 1);
    cnn_pool2d_shape p = pool_shape(1, 1, INT_MAX, 1, 2, 1, 1, 1);
    /* 1x1 kernel on INT_MAX rows plus one row of padding: INT_MAX + 1 output rows. */
    s.pad_bottom = 1;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_OVERFLOW);
    CHECKF(names_overflow(cnn_last_error()), "message '%s'", cnn_last_error());
    /* A kernel that really does not fit, with padded sizes beyond INT_MAX in the message. */
    s = conv_shape(1, 1, 10, 10, 1, 3, 1);
    s.dilation_h = INT_MAX;
    s.pad_top = s.pad_bottom = INT_MAX / 2;
    CHECK_STATUS(cnn_conv2d_check(&s, NULL, NULL), CNN_ERR_SHAPE);
    CHECKF(mentions(cnn_last_error(), "larger") && !strstr(cnn_last_error(), "-"),
           "message '%s' should name the sizes, none negative", cnn_last_error());
    /* 2-row window, stride 1, one pad each side on INT_MAX rows: INT_MAX + 1 outputs. */
    p.pad_top = p.pad_bottom = 1;
    CHECK_STATUS(cnn_pool2d_check(&p, NULL, NULL), CNN_ERR_OVERFLOW);
    CHECKF(names_overflow(cnn_last_error()), "message '%s'", cnn_last_error());
    /* INT_MAX x INT_MAX values do not fit in memory: overflow, as dense and conv say. */
    CHECK_STATUS(cnn_mean_squared_error(INT_MAX, INT_MAX, buf, buf, NULL, NULL), CNN_ERR_OVERFLOW);
    CHECKF(names_overflow(cnn_last_error()), "message '%s'", cnn_last_error());
}

/* Softmax and softmax cross-entropy must check n * classes like every other kernel before
   reading anything. Last in main: the cnn.h this was written against reads past the buffers
   here (a crash), and the other tests should report first. */
TEST(softmax_sizes_overflow) {
    float buf[4] = { 0, 0, 0, 0 };
    int32_t label = 0;
    CHECK_FAILS(cnn_softmax_cross_entropy(INT_MAX, INT_MAX, buf, &label, NULL, NULL), CNN_ERR_OVERFLOW, "overflow");
    CHECK_FAILS(cnn_softmax(INT_MAX, INT_MAX, buf, buf), CNN_ERR_OVERFLOW, "overflow");
}

TEST(status_names) {
    int i;
    for (i = 0; i < CNN_STATUS_COUNT; i++) CHECK(strncmp(cnn_status_name((cnn_status)i), "CNN_", 4) == 0);
    CHECK(strcmp(cnn_status_name(CNN_ERR_OVERFLOW), "CNN_ERR_OVERFLOW") == 0);
    CHECK(strcmp(cnn_status_name((cnn_status)999), "CNN_ERR_UNKNOWN") == 0);
}

/* A conv shape with only its sizes set: zero strides and dilations mean 1, as in the option
   structs, on every entry point; the results equal those of the shape with 1s written out. */
TEST(conv_shape_zero_fields_mean_defaults) {
    static float x[2 * 3 * 7 * 6], w[4 * 3 * 3 * 3], b[4], y1[2 * 4 * 5 * 4], y2[2 * 4 * 5 * 4];
    static float dx1[2 * 3 * 7 * 6], dx2[2 * 3 * 7 * 6], dw1[4 * 3 * 3 * 3], dw2[4 * 3 * 3 * 3], db1[4], db2[4];
    cnn_conv2d_shape bare, full;
    cnn_rng rng;
    size_t i;
    int oh = 0, ow = 0, pass;
    cnn_rng_seed(&rng, 17);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (i = 0; i < sizeof w / sizeof w[0]; i++) w[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (i = 0; i < 4; i++) b[i] = (float)i;
    memset(&bare, 0, sizeof bare);
    bare.n = 2; bare.c = 3; bare.h = 7; bare.w = 6; bare.k = 4; bare.kh = 3; bare.kw = 3;
    full = conv_shape(2, 3, 7, 6, 4, 3, 3);
    CHECK_OK(cnn_conv2d_check(&bare, &oh, &ow));
    CHECK(oh == 5 && ow == 4);
    CHECK(cnn_conv2d_workspace_bytes(&bare) == cnn_conv2d_workspace_bytes(&full));
    for (pass = 0; pass < 3; pass++) CHECK(cnn_conv2d_algo_chosen(&bare, pass) == cnn_conv2d_algo_chosen(&full, pass));
    CHECK_OK(cnn_conv2d_forward(&bare, x, w, b, y1));
    CHECK_OK(cnn_conv2d_forward(&full, x, w, b, y2));
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    CHECK_OK(cnn_conv2d_backward_data(&bare, y1, w, dx1));
    CHECK_OK(cnn_conv2d_backward_data(&full, y1, w, dx2));
    CHECK(memcmp(dx1, dx2, sizeof dx1) == 0);
    CHECK_OK(cnn_conv2d_backward_weights(&bare, x, y1, dw1, db1));
    CHECK_OK(cnn_conv2d_backward_weights(&full, x, y1, dw2, db2));
    CHECK(memcmp(dw1, dw2, sizeof dw1) == 0 && memcmp(db1, db2, sizeof db1) == 0);
    bare.stride_h = 2;                            /* a field set is used; the others default */
    CHECK_OK(cnn_conv2d_check(&bare, &oh, &ow));
    CHECK(oh == 3 && ow == 4);
}

int main(void) {
    RUN(conv_shape_zero_fields_mean_defaults);
    RUN(lecture_cross_correlation_7x7);
    RUN(lecture_pooling_4x4);
    RUN(lecture_output_sizes);
    RUN(padding_helpers);
    RUN(conv_forward_chosen_shapes);
    RUN(conv_forward_random_shapes);
    RUN(pool_output_sizes_pytorch_ceil_rule);
    RUN(pool_known_padding_values);
    RUN(pool_forward_random_shapes);
    RUN(global_avgpool_forward);
    RUN(dense_forward);
    RUN(softmax_rows);
    RUN(softmax_cross_entropy_values);
    RUN(mean_squared_error_values);
    RUN(activation_forward_values);
    RUN(dropout_forward);
    RUN(conv_errors);
    RUN(pool_errors);
    RUN(dense_softmax_errors);
    RUN(status_names);
    RUN(sizes_at_int_limits);
    RUN(softmax_sizes_overflow);
    return harness_report();
}
