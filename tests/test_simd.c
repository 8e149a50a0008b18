/* test_simd.c - every SIMD kernel against the scalar reference, on many shapes including the
   awkward ones: 1, 3, 7, 17 and 31..33 channels, odd, prime and 1-pixel sizes, H != W, every
   stride, dilation and padding. Paths differ only in rounding (FMA and summation order), so
   results must agree to a tolerance relative to the result's magnitude:
       max |fast - reference| <= 2e-5 * max(1, max |reference|)   (float32, sums of <= 2304 terms) */
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

static cnn_rng rng;

#define TOLERANCE 2e-5

static int fast_paths[8], fast_count;
static int workspace_used;    /* shapes whose direct path wrote its workspace */

/* Runs the three convolution passes on every path and compares them with scalar. */
static void compare_conv(const cnn_conv2d_shape *s) {
    int oh, ow, p;
    size_t nx, ny, nw;
    float *x, *w, *b, *dy, *y_ref, *dx_ref, *dw_ref, *db_ref, *y, *dx, *dw, *db;
    size_t ws_bytes = cnn_conv2d_workspace_bytes(s), i;
    unsigned char *ws;
    int trial;
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return;
    ws = (unsigned char *)malloc(ws_bytes + 1);
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * s->c * s->kh * s->kw;
    x = random_floats(&rng, nx); w = random_floats(&rng, nw); b = random_floats(&rng, (size_t)s->k); dy = random_floats(&rng, ny);
    y_ref = random_floats(&rng, ny); dx_ref = random_floats(&rng, nx); dw_ref = random_floats(&rng, nw); db_ref = random_floats(&rng, (size_t)s->k);
    y = random_floats(&rng, ny); dx = random_floats(&rng, nx); dw = random_floats(&rng, nw); db = random_floats(&rng, (size_t)s->k);
    cnn_simd_force(CNN_SIMD_SCALAR);
    CHECK_OK(cnn_conv2d_forward(s, x, w, b, y_ref));
    CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx_ref));
    CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw_ref, db_ref));
    /* Each fast path three times: without a workspace (the im2col paths); with one (the
       direct paths) at an odd address and full of NaN, so a cell the kernels forget to clear
       shows; and with one byte too few (the fallback). */
    for (p = 0; p < fast_count; p++)
        for (trial = 0; trial < (ws_bytes ? 3 : 1); trial++) {
            const size_t given = trial == 0 ? 0 : trial == 1 ? ws_bytes : ws_bytes - 1;
            unsigned char *space = trial == 0 ? NULL : ws + 1;
            double e1, e2, e3, e4;
            cnn_simd_force((cnn_simd)fast_paths[p]);
            memset(ws, 0xff, ws_bytes + 1);
            CHECK_OK(cnn_conv2d_forward_ws(s, x, w, b, y, space, given));
            CHECK_OK(cnn_conv2d_backward_data_ws(s, dy, w, dx, space, given));
            CHECK_OK(cnn_conv2d_backward_weights_ws(s, x, dy, dw, db, space, given));
            if (trial == 1) { for (i = 1; i <= ws_bytes && ws[i] == 0xff; i++) {} workspace_used += i <= ws_bytes; }
            e1 = max_error(y, y_ref, ny); e2 = max_error(dx, dx_ref, nx); e3 = max_error(dw, dw_ref, nw); e4 = max_error(db, db_ref, (size_t)s->k);
            CHECKF(e1 <= TOLERANCE && e2 <= TOLERANCE && e3 <= TOLERANCE && e4 <= TOLERANCE,
                   "%s conv (workspace %zu of %zu) n%d c%d %dx%d k%d %dx%d stride %d,%d dil %d,%d pads %d,%d,%d,%d: errors fwd %g dx %g dw %g db %g",
                   cnn_simd_name((cnn_simd)fast_paths[p]), given, ws_bytes, s->n, s->c, s->h, s->w, s->k, s->kh, s->kw, s->stride_h, s->stride_w,
                   s->dilation_h, s->dilation_w, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, e1, e2, e3, e4);
        }
    free(ws);
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(w); free(b); free(dy); free(y_ref); free(dx_ref); free(dw_ref); free(db_ref); free(y); free(dx); free(dw); free(db);
}

static cnn_conv2d_shape conv_shape(int n, int c, int h, int w, int k, int kh, int kw, int stride, int pad) {
    cnn_conv2d_shape s;
    memset(&s, 0, sizeof s);                 /* zero: defaults for every other field (algo) */
    s.n = n; s.c = c; s.h = h; s.w = w; s.k = k; s.kh = kh; s.kw = kw;
    s.stride_h = s.stride_w = stride; s.dilation_h = s.dilation_w = 1;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
    return s;
}

TEST(conv_awkward_channels_and_sizes) {
    static const int channels[] = {1, 3, 7, 17, 31, 32, 33};
    static const int sizes[] = {1, 2, 3, 5, 7, 13, 17, 31, 33};
    int i, j, k;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (i = 0; i < 7; i++)
        for (j = 0; j < 9; j++)
            for (k = 0; k < 7; k += 3) {
                cnn_conv2d_shape s = conv_shape(1 + (i + j) % 3, channels[i], sizes[j], sizes[(j + 4) % 9], channels[k], 3, 3, 1, 1);
                compare_conv(&s);
            }
}

TEST(conv_strides_dilations_paddings) {
    int it;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (it = 0; it < 250; it++) {
        cnn_conv2d_shape s;
        memset(&s, 0, sizeof s);
        s.n = 1 + (int)cnn_rng_below(&rng, 5);
        s.c = 1 + (int)cnn_rng_below(&rng, 17);
        s.h = 1 + (int)cnn_rng_below(&rng, 33);
        s.w = 1 + (int)cnn_rng_below(&rng, 33);
        s.k = 1 + (int)cnn_rng_below(&rng, 33);
        s.kh = 1 + (int)cnn_rng_below(&rng, 5);
        s.kw = 1 + (int)cnn_rng_below(&rng, 5);
        s.stride_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.stride_w = it % 3 ? s.stride_h : 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_h = 1 + (int)cnn_rng_below(&rng, 3);
        s.dilation_w = 1 + (int)cnn_rng_below(&rng, 2);
        s.pad_top = (int)cnn_rng_below(&rng, 4); s.pad_bottom = (int)cnn_rng_below(&rng, 4);
        s.pad_left = (int)cnn_rng_below(&rng, 4); s.pad_right = (int)cnn_rng_below(&rng, 4);
        compare_conv(&s);
    }
}

TEST(conv_digit_model_and_vgg_like_layers) {
    cnn_conv2d_shape m1 = conv_shape(3, 1, 28, 28, 32, 3, 3, 1, 0), m2 = conv_shape(3, 32, 13, 13, 64, 3, 3, 1, 0);
    cnn_conv2d_shape m3 = conv_shape(5, 64, 5, 5, 64, 3, 3, 1, 0), v = conv_shape(1, 64, 20, 20, 64, 3, 3, 1, 1);
    cnn_conv2d_shape s2 = conv_shape(1, 64, 21, 21, 128, 3, 3, 2, 1), k5 = conv_shape(2, 1, 28, 28, 32, 5, 5, 1, 0);
    cnn_conv2d_shape deep = conv_shape(1, 300, 6, 6, 7, 3, 3, 1, 1);          /* more taps than one strip chunk */
    cnn_conv2d_shape passes = conv_shape(2, 260, 5, 5, 70, 3, 3, 1, 1);       /* more filters than one pass holds */
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    compare_conv(&m1); compare_conv(&m2); compare_conv(&m3); compare_conv(&v); compare_conv(&s2); compare_conv(&k5);
    compare_conv(&deep); compare_conv(&passes);
    /* The direct paths ran: with a fast path, the digit and VGG-like layers wrote their workspace. */
    CHECKF(fast_count == 0 || workspace_used >= 7, "the workspace was used for %d shapes", workspace_used);
}

static void compare_dense(int n, int in, int out) {
    float *x = random_floats(&rng, (size_t)n * in), *w = random_floats(&rng, (size_t)out * in), *b = random_floats(&rng, (size_t)out);
    float *dy = random_floats(&rng, (size_t)n * out);
    float *y_ref = random_floats(&rng, (size_t)n * out), *dx_ref = random_floats(&rng, (size_t)n * in), *dw_ref = random_floats(&rng, (size_t)out * in), *db_ref = random_floats(&rng, (size_t)out);
    float *y = random_floats(&rng, (size_t)n * out), *dx = random_floats(&rng, (size_t)n * in), *dw = random_floats(&rng, (size_t)out * in), *db = random_floats(&rng, (size_t)out);
    int p;
    cnn_simd_force(CNN_SIMD_SCALAR);
    CHECK_OK(cnn_dense_forward(n, in, out, x, w, b, y_ref));
    CHECK_OK(cnn_dense_backward_data(n, in, out, dy, w, dx_ref));
    CHECK_OK(cnn_dense_backward_weights(n, in, out, x, dy, dw_ref, db_ref));
    for (p = 0; p < fast_count; p++) {
        double e1, e2, e3, e4;
        cnn_simd_force((cnn_simd)fast_paths[p]);
        CHECK_OK(cnn_dense_forward(n, in, out, x, w, b, y));
        CHECK_OK(cnn_dense_backward_data(n, in, out, dy, w, dx));
        CHECK_OK(cnn_dense_backward_weights(n, in, out, x, dy, dw, db));
        e1 = max_error(y, y_ref, (size_t)n * out); e2 = max_error(dx, dx_ref, (size_t)n * in);
        e3 = max_error(dw, dw_ref, (size_t)out * in); e4 = max_error(db, db_ref, (size_t)out);
        CHECKF(e1 <= TOLERANCE && e2 <= TOLERANCE && e3 <= TOLERANCE && e4 <= TOLERANCE,
               "%s dense n%d %d->%d: errors fwd %g dx %g dw %g db %g", cnn_simd_name((cnn_simd)fast_paths[p]), n, in, out, e1, e2, e3, e4);
    }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(x); free(w); free(b); free(dy); free(y_ref); free(dx_ref); free(dw_ref); free(db_ref); free(y); free(dx); free(dw); free(db);
}

TEST(dense_many_shapes) {
    static const int sizes[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100};
    int i, j, k;
    SKIP_IF(!fast_count, "no vector path on this CPU/build to compare with the scalar reference");
    for (i = 0; i < 13; i++)
        for (j = 0; j < 13; j += 2)
            for (k = 0; k < 13; k += 3) compare_dense(sizes[k] % 6 + 1, sizes[i], sizes[j]);
    compare_dense(64, 576, 64);
    compare_dense(5, 1000, 10);
}

/* The transposed pack is a copy, so it must match its definition exactly, on every row count,
   lengths around the vector blocks (4, 8 and 16 wide), an odd row stride and a misaligned source,
   on each vector path this machine has;
   nothing past the last row of the strip may be written. The row sums it can add on the way
   are sums in another order: they must match to 1e-5 of the sum of magnitudes, be added to
   what was there, and leave the entries past the last row alone. */
TEST(pack_transposed_matches_its_definition) {
#ifdef CNN__SIMD
    static float strip[41 * 16] CNN__ALIGN32;
    float sums[17];
    static const cnn_simd paths[] = {CNN_SIMD_AVX2, CNN_SIMD_AVX512, CNN_SIMD_NEON};
    float *src = random_floats(&rng, 16 * 45 + 1);
    int rows, len, r, t, wrong = 0, with_sums, p;
    for (p = 0; p < 3; p++)
    for (with_sums = 0; with_sums < 2 && cnn_simd_available(paths[p]) && cnn_simd_force(paths[p]) == CNN_OK; with_sums++)
        for (rows = 1; rows <= 16; rows++)
            for (len = 1; len <= 40; len++) {
                const ptrdiff_t src_row = len % 2 ? len : len + 5;       /* always odd */
                for (t = 0; t < 41 * 16; t++) strip[t] = -99.0f;
                for (r = 0; r < 17; r++) sums[r] = (float)r;
                cnn__pack_transposed(src + 1, src_row, rows, len, strip, with_sums ? sums : NULL);
                for (t = 0; t < len; t++)
                    for (r = 0; r < 16; r++)
                        wrong += strip[t * 16 + r] != (r < rows ? src[1 + r * src_row + t] : 0.0f);
                for (t = len * 16; t < 41 * 16; t++) wrong += strip[t] != -99.0f;
                for (r = 0; r < 17; r++) {
                    double want = r, size = fabs((double)r);
                    for (t = 0; with_sums && r < rows && t < len; t++) {
                        want += src[1 + r * src_row + t];
                        size += fabs(src[1 + r * src_row + t]);
                    }
                    wrong += fabs(sums[r] - want) > 1e-5 * size;
                }
                CHECKF(wrong == 0, "%s: rows %d, len %d, sums %d: %d cells wrong", cnn_simd_name(paths[p]), rows, len, with_sums, wrong);
                if (wrong) { free(src); cnn_simd_force(CNN_SIMD_AUTO); return; }
            }
    cnn_simd_force(CNN_SIMD_AUTO);
    free(src);
#endif
}

TEST(paths_can_be_forced_and_named) {
    CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
    CHECK(cnn_simd_active() == CNN_SIMD_SCALAR);
    CHECK(strcmp(cnn_simd_name(CNN_SIMD_SCALAR), "scalar") == 0);
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
    CHECK(cnn_simd_available(cnn_simd_active()));
    CHECK(strcmp(cnn_simd_name(CNN_SIMD_AVX512), "avx512") == 0);
    /* AVX-512 comes ahead of AVX2 when the CPU has it (unless CNN_SIMD names a lower path) */
    if (cnn_simd_available(CNN_SIMD_AVX512) && !getenv("CNN_SIMD")) CHECK(cnn_simd_active() == CNN_SIMD_AVX512);
    if (cnn_simd_available(CNN_SIMD_AVX512)) {
        CHECK_OK(cnn_simd_force(CNN_SIMD_AVX512));
        CHECK(cnn_simd_active() == CNN_SIMD_AVX512);
        CHECK_OK(cnn_simd_force(CNN_SIMD_AVX2));
        CHECK(cnn_simd_active() == CNN_SIMD_AVX2);
        CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
    } else {
        CHECK_STATUS(cnn_simd_force(CNN_SIMD_AVX512), CNN_ERR_INVALID_ARGUMENT);
    }
#if defined(__aarch64__)
    CHECK_STATUS(cnn_simd_force(CNN_SIMD_AVX2), CNN_ERR_INVALID_ARGUMENT);
#else
    CHECK_STATUS(cnn_simd_force(CNN_SIMD_NEON), CNN_ERR_INVALID_ARGUMENT);
#endif
}

/* The L2 the kernels block for (CNN__L2_BYTES): CNN_L2_BYTES where the program defines it,
   else what the CPU reports, read once. glibc's sysconf reads the same CPUID leaf on x86, so
   where it answers within the range cnn.h accepts the two must agree. */
TEST(l2_cache_size_is_the_cpus) {
    const size_t l2 = CNN__L2_BYTES;
#ifdef CNN_L2_BYTES
    CHECK(l2 == (size_t)CNN_L2_BYTES);
#else
    CHECK(l2 >= (size_t)256 * 1024 && l2 <= (size_t)4096 * 1024 && l2 % 1024 == 0);
    CHECK(CNN__L2_BYTES == l2);
#if defined(_SC_LEVEL2_CACHE_SIZE)
    {
        const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
        printf("L2 per core: %lu KB (sysconf: %ld KB)\n", (unsigned long)(l2 / 1024), reported / 1024);
        if (reported >= 256L * 1024 && reported <= 4096L * 1024) CHECK(l2 == (size_t)reported);
    }
#endif
#endif
}

int main(void) {
    cnn_simd p;
    int i;
    cnn_rng_seed(&rng, 2026);
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
    RUN(paths_can_be_forced_and_named);
    RUN(l2_cache_size_is_the_cpus);
    RUN(conv_awkward_channels_and_sizes);
    RUN(conv_strides_dilations_paddings);
    RUN(conv_digit_model_and_vgg_like_layers);
    RUN(dense_many_shapes);
    RUN(pack_transposed_matches_its_definition);
    return harness_report();
}
