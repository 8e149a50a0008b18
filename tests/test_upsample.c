/* test_upsample.c - upsampling (nearest, bilinear with align_corners both ways) and global
   max pooling: the plain functions against values PyTorch computed, their gradients against
   finite differences, the layers in a network (gradients, threads, summary, save/load, the
   checks when added), and the pooling options a model file must keep. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"
#include <stdlib.h>

/* The inputs the PyTorch values below were computed from: x[i] = ((37 i) mod 11) / 10 - 0.5
   and, for the gradients, the loss sum(y * r) with r[i] = ((53 i) mod 13) / 12 - 0.5, both
   computed in double and rounded to float, as the generator did. */
static float x_at(int i) { return (float)(((i * 37) % 11) / 10.0 - 0.5); }
static float r_at(int i) { return (float)(((i * 53) % 13) / 12.0 - 0.5); }

/* Generated once with /usr/bin/python3 (torch 2.x, CPU, float32) by this script:
     def xin(n,c,h,w): return torch.tensor([((i*37)%11)/10.0-0.5 for i in range(n*c*h*w)],
                                           dtype=torch.float64).float().reshape(n,c,h,w)
     def rin(k): return torch.tensor([((i*53)%13)/12.0-0.5 for i in range(k)], dtype=torch.float64).float()
     x = xin(*shape).requires_grad_(True); y = F.interpolate(x, **kw)
     (y * rin(y.numel()).reshape(y.shape)).sum().backward()
     print y.flatten() and x.grad.flatten() with %.9g
   for the cases named in each comment (kw as given there). */
/* nearest_3x4_to_5x7: F.interpolate(x [1, 2, 3, 4], {'size': (5, 7), 'mode': 'nearest'}) */
static const float nearest_3x4_to_5x7_y[70] = {
    -0.5f, -0.5f, -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.400000006f,
    -0.5f, -0.5f, -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.400000006f,
    0.0f, 0.0f, 0.400000006f, 0.400000006f, -0.300000012f, -0.300000012f, 0.100000001f,
    0.0f, 0.0f, 0.400000006f, 0.400000006f, -0.300000012f, -0.300000012f, 0.100000001f,
    0.5f, 0.5f, -0.200000003f, -0.200000003f, 0.200000003f, 0.200000003f, -0.5f,
    -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.400000006f, -0.400000006f, 0.0f,
    -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.400000006f, -0.400000006f, 0.0f,
    0.400000006f, 0.400000006f, -0.300000012f, -0.300000012f, 0.100000001f, 0.100000001f, 0.5f,
    0.400000006f, 0.400000006f, -0.300000012f, -0.300000012f, 0.100000001f, 0.100000001f, 0.5f,
    -0.200000003f, -0.200000003f, 0.200000003f, 0.200000003f, -0.5f, -0.5f, -0.100000001f
};
static const float nearest_3x4_to_5x7_dx[24] = {
    -0.666666627f, -2.98023224e-08f, 0.666666627f, -0.5f, -0.333333313f, 0.333333313f, -0.0833333433f,
    -0.333333313f, -0.583333373f, -0.25f, 0.0833333358f, 0.166666672f, 0.166666701f, 0.833333313f,
    -0.666666627f, -0.0833333433f, 0.49999997f, 0.0833333358f, -0.333333313f, 0.0833333433f, 0.916666627f,
    -0.916666627f, -0.583333373f, -0.166666672f
};
/* nearest_2x3_x3x2: F.interpolate(x [1, 1, 2, 3], {'scale_factor': (3, 2), 'mode': 'nearest'}) */
static const float nearest_2x3_x3x2_y[36] = {
    -0.5f, -0.5f, -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.5f,
    -0.5f, -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.5f, -0.5f,
    -0.100000001f, -0.100000001f, 0.300000012f, 0.300000012f, -0.400000006f, -0.400000006f, 0.0f,
    0.0f, 0.400000006f, 0.400000006f, -0.400000006f, -0.400000006f, 0.0f, 0.0f,
    0.400000006f, 0.400000006f, -0.400000006f, -0.400000006f, 0.0f, 0.0f, 0.400000006f,
    0.400000006f
};
static const float nearest_2x3_x3x2_dx[6] = {
    -0.833333313f, -0.916666746f, 0.0833333284f, 0.583333313f, -0.583333313f, 0.416666687f
};
/* bilinear_3x4_to_5x7: F.interpolate(x [1, 2, 3, 4], {'size': (5, 7), 'mode': 'bilinear', 'align_corners': False}) */
static const float bilinear_3x4_to_5x7_y[70] = {
    -0.5f, -0.357142836f, -0.128571421f, 0.100000046f, 0.24999994f, -0.150000125f, -0.400000006f,
    -0.299999982f, -0.157142818f, 0.071428597f, 0.0799999908f, 0.0414285213f, -0.107142903f, -0.199999988f,
    2.98023224e-08f, 0.142857164f, 0.371428549f, 0.0499999151f, -0.271428525f, -0.0428570881f, 0.0999999642f,
    0.300000042f, 0.207142845f, 0.0585713759f, 0.0199999902f, -0.0185714252f, -0.167142928f, -0.26000005f,
    0.5f, 0.249999955f, -0.150000021f, 4.61935983e-08f, 0.149999931f, -0.250000119f, -0.5f,
    -0.100000001f, 0.0428571664f, 0.271428615f, -0.050000079f, -0.371428549f, -0.142857075f, 0.0f,
    0.100000016f, 0.0857142881f, 0.0628571361f, -0.0700000301f, -0.171428517f, 0.0571429394f, 0.200000018f,
    0.399999976f, 0.149999946f, -0.25f, -0.0999999568f, 0.128571451f, 0.357142895f, 0.49999997f,
    0.0399999507f, 0.025714267f, 0.00285716658f, -0.13000004f, -0.231428593f, -0.00285712769f, 0.139999956f,
    -0.200000003f, -0.0571428351f, 0.171428576f, -0.15000008f, -0.471428543f, -0.242857069f, -0.100000001f
};
static const float bilinear_3x4_to_5x7_dx[24] = {
    -0.666666627f, -0.308333427f, 0.12976186f, -0.154761851f, -0.424999952f, -0.00833336543f, 0.329761863f,
    -0.26309517f, -0.295238137f, 0.0785714313f, 0.284523875f, -0.201190516f, 0.27619049f, 0.673809528f,
    -0.280952245f, -0.419047773f, 0.403571367f, 0.313095272f, -0.586904764f, -0.14642863f, 0.570238113f,
    -0.486904711f, -0.435714304f, -0.0476190895f
};
/* bilinear_3x5_x2: F.interpolate(x [1, 1, 3, 5], {'scale_factor': 2, 'mode': 'bilinear', 'align_corners': False}) */
static const float bilinear_3x5_x2_y[60] = {
    -0.5f, -0.400000006f, -0.200000003f, 1.86264515e-09f, 0.200000003f, 0.125f, -0.224999994f,
    -0.300000012f, -0.100000001f, 0.0f, -0.275000006f, -0.243750006f, -0.181250006f, -0.0500000007f,
    0.150000006f, 0.143750012f, -0.0687500015f, -0.143749997f, -0.0812500045f, -0.0500000007f, 0.175000012f,
    0.0687500015f, -0.143750012f, -0.150000006f, 0.0500000007f, 0.181250006f, 0.243750006f, 0.168750003f,
    -0.043750003f, -0.150000006f, 0.349999994f, 0.174999997f, -0.175000012f, -0.25f, -0.0500000007f,
    0.150000006f, 0.349999994f, 0.275000006f, -0.075000003f, -0.25f, 0.25f, 0.075000003f,
    -0.275000006f, -0.349999994f, -0.150000006f, 0.0500000007f, 0.25f, 0.175000012f, -0.174999997f,
    -0.349999994f, 0.200000003f, 0.0250000022f, -0.324999988f, -0.400000006f, -0.200000003f, 1.86264515e-09f,
    0.200000003f, 0.125f, -0.224999994f, -0.400000006f
};
static const float bilinear_3x5_x2_dx[15] = {
    -0.24999997f, -0.43750003f, -0.651041687f, -0.39062503f, 0.166666687f, 0.0416666791f, 0.395833313f,
    0.588541627f, 0.036458306f, -0.354166657f, 0.0624999702f, -0.9375f, -0.541666687f, 0.125f,
    0.479166657f
};
/* bilinear_ac_3x4_to_7x5: F.interpolate(x [1, 1, 3, 4], {'size': (7, 5), 'mode': 'bilinear', 'align_corners': True}) */
static const float bilinear_ac_3x4_to_7x5_y[35] = {
    -0.5f, -0.200000003f, 0.100000009f, 0.125f, -0.400000006f, -0.333333313f, -0.0333333239f,
    0.0833333358f, 0.0166666638f, -0.233333319f, -0.166666657f, 0.13333334f, 0.0666666627f, -0.0916666687f,
    -0.0666666552f, 1.49011612e-08f, 0.300000012f, 0.049999997f, -0.200000003f, 0.0999999866f, 0.166666687f,
    0.191666663f, 0.0333333276f, -0.124999993f, -0.100000024f, 0.333333373f, 0.083333306f, 0.0166666619f,
    -0.0499999821f, -0.300000042f, 0.5f, -0.0249999985f, 0.0f, 0.0249999985f, -0.5f
};
static const float bilinear_ac_3x4_to_7x5_dx[12] = {
    -0.513888955f, -0.263888896f, -0.284722239f, -0.215277776f, 0.0763888508f, 0.0902778134f, -0.0763888508f,
    -0.0625000149f, 0.104166679f, -0.368055582f, -0.118055575f, 0.131944448f
};
/* bilinear_ac_3x4_to_1x6: F.interpolate(x [1, 1, 3, 4], {'size': (1, 6), 'mode': 'bilinear', 'align_corners': True}) */
static const float bilinear_ac_3x4_to_1x6_y[6] = {
    -0.5f, -0.25999999f, -0.0199999791f, 0.220000044f, 0.0199999381f, -0.400000006f
};
static const float bilinear_ac_3x4_to_1x6_dx[12] = {
    -0.666666627f, -0.566666603f, -0.366666704f, -0.150000021f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f
};
/* bilinear_5x7_to_2x3: F.interpolate(x [1, 1, 5, 7], {'size': (2, 3), 'mode': 'bilinear', 'align_corners': False}) */
static const float bilinear_5x7_to_2x3_y[6] = {
    0.216666654f, 0.0499999784f, 0.0666666478f, -0.208333313f, 0.174999982f, 0.00833325554f
};
static const float bilinear_5x7_to_2x3_dx[35] = {
    -0.0416666716f, -0.0833333284f, -1.2417634e-08f, -0.104166649f, 0.0f, -0.0555555746f, -0.0277777612f,
    -0.125000015f, -0.249999985f, -3.7252903e-08f, -0.31249994f, 0.0f, -0.166666716f, -0.0833332837f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    -0.0625000075f, -0.124999993f, -1.49011612e-08f, -0.124999985f, 0.0f, -0.0416666791f, -0.0208333209f,
    -0.0208333358f, -0.0416666642f, -4.96705388e-09f, -0.0416666642f, 0.0f, -0.0138888936f, -0.00694444031f
};
/* nearest_5x7_to_2x3: F.interpolate(x [1, 1, 5, 7], {'size': (2, 3), 'mode': 'nearest'}) */
static const float nearest_5x7_to_2x3_y[6] = {
    -0.5f, 0.300000012f, 0.0f, -0.400000006f, 0.400000006f, 0.100000001f
};
static const float nearest_5x7_to_2x3_dx[35] = {
    -0.5f, 0.0f, -0.416666657f, 0.0f, -0.333333343f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    -0.25f, 0.0f, -0.166666672f, 0.0f, -0.0833333358f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f
};

typedef struct torch_case {
    const char *name;
    int n, c, h, w, out_h, out_w;
    cnn_upsample_mode mode;
    int align_corners;
    const float *y, *dx;
} torch_case;

static const torch_case torch_cases[] = {
    { "nearest 3x4 -> 5x7", 1, 2, 3, 4, 5, 7, CNN_UPSAMPLE_NEAREST, 0, nearest_3x4_to_5x7_y, nearest_3x4_to_5x7_dx },
    { "nearest 2x3 x(3,2)", 1, 1, 2, 3, 6, 6, CNN_UPSAMPLE_NEAREST, 0, nearest_2x3_x3x2_y, nearest_2x3_x3x2_dx },
    { "bilinear 3x4 -> 5x7", 1, 2, 3, 4, 5, 7, CNN_UPSAMPLE_BILINEAR, 0, bilinear_3x4_to_5x7_y, bilinear_3x4_to_5x7_dx },
    { "bilinear 3x5 x2", 1, 1, 3, 5, 6, 10, CNN_UPSAMPLE_BILINEAR, 0, bilinear_3x5_x2_y, bilinear_3x5_x2_dx },
    { "bilinear ac 3x4 -> 7x5", 1, 1, 3, 4, 7, 5, CNN_UPSAMPLE_BILINEAR, 1, bilinear_ac_3x4_to_7x5_y, bilinear_ac_3x4_to_7x5_dx },
    { "bilinear ac 3x4 -> 1x6", 1, 1, 3, 4, 1, 6, CNN_UPSAMPLE_BILINEAR, 1, bilinear_ac_3x4_to_1x6_y, bilinear_ac_3x4_to_1x6_dx },
    { "bilinear 5x7 -> 2x3", 1, 1, 5, 7, 2, 3, CNN_UPSAMPLE_BILINEAR, 0, bilinear_5x7_to_2x3_y, bilinear_5x7_to_2x3_dx },
    { "nearest 5x7 -> 2x3", 1, 1, 5, 7, 2, 3, CNN_UPSAMPLE_NEAREST, 0, nearest_5x7_to_2x3_y, nearest_5x7_to_2x3_dx },
};

static cnn_upsample2d_shape shape_of(int n, int c, int h, int w, int out_h, int out_w, cnn_upsample_mode mode, int ac) {
    cnn_upsample2d_shape s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = w; s.out_h = out_h; s.out_w = out_w; s.mode = mode; s.align_corners = ac;
    return s;
}

/* Forward and backward agree with PyTorch's F.interpolate and its autograd. */
TEST(matches_pytorch) {
    size_t t;
    for (t = 0; t < sizeof torch_cases / sizeof torch_cases[0]; t++) {
        const torch_case *k = &torch_cases[t];
        const cnn_upsample2d_shape s = shape_of(k->n, k->c, k->h, k->w, k->out_h, k->out_w, k->mode, k->align_corners);
        const int nx = k->n * k->c * k->h * k->w, ny = k->n * k->c * k->out_h * k->out_w;
        float *x = (float *)malloc(sizeof(float) * nx), *y = (float *)malloc(sizeof(float) * ny);
        float *r = (float *)malloc(sizeof(float) * ny), *dx = (float *)malloc(sizeof(float) * nx);
        double worst_y = 0, worst_dx = 0;
        int i;
        for (i = 0; i < nx; i++) { x[i] = x_at(i); dx[i] = 1234.0f; }   /* backward must overwrite dx */
        for (i = 0; i < ny; i++) r[i] = r_at(i);
        CHECK_OK(cnn_upsample2d_forward(&s, x, y));
        CHECK_OK(cnn_upsample2d_backward(&s, r, dx));
        for (i = 0; i < ny; i++) worst_y = fmax(worst_y, fabs((double)y[i] - k->y[i]));
        for (i = 0; i < nx; i++) worst_dx = fmax(worst_dx, fabs((double)dx[i] - k->dx[i]));
        CHECKF(worst_y <= 1e-6, "%s: forward differs from PyTorch by %g", k->name, worst_y);
        CHECKF(worst_dx <= 1e-6, "%s: backward differs from PyTorch by %g", k->name, worst_dx);
        free(x); free(y); free(r); free(dx);
    }
}

typedef struct up_case { int n, c, h, w, out_h, out_w; } up_case;
/* awkward shapes: 1x1 images, prime and odd sizes, 1, 3, 7, 17 channels, down as well as up */
static const up_case up_cases[] = {
    { 2, 3, 1, 1, 3, 4 }, { 1, 7, 3, 5, 6, 10 }, { 1, 1, 5, 7, 2, 3 }, { 2, 17, 4, 3, 9, 13 },
    { 1, 3, 7, 1, 17, 1 }, { 3, 1, 2, 2, 2, 2 }, { 1, 1, 1, 6, 1, 11 },
};

static double dot_d(const float *a, const float *b, size_t n) {
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* The backward pass is the forward's adjoint: <A x, r> = <x, A^T r> for random x and r, and
   each input's gradient matches a central difference of sum(y * r) (the map is linear, so
   the difference is exact up to rounding). Every mode, on every awkward shape. */
TEST(gradients) {
    static const struct { cnn_upsample_mode mode; int ac; } modes[] = {
        { CNN_UPSAMPLE_NEAREST, 0 }, { CNN_UPSAMPLE_BILINEAR, 0 }, { CNN_UPSAMPLE_BILINEAR, 1 } };
    cnn_rng rng;
    size_t t, m;
    cnn_rng_seed(&rng, 17);
    for (t = 0; t < sizeof up_cases / sizeof up_cases[0]; t++) {
        for (m = 0; m < 3; m++) {
            const up_case *k = &up_cases[t];
            const cnn_upsample2d_shape s = shape_of(k->n, k->c, k->h, k->w, k->out_h, k->out_w, modes[m].mode, modes[m].ac);
            const size_t nx = (size_t)k->n * k->c * k->h * k->w, ny = (size_t)k->n * k->c * k->out_h * k->out_w;
            float *x = random_floats(&rng, nx), *r = random_floats(&rng, ny);
            float *y = (float *)malloc(sizeof(float) * ny), *dx = (float *)malloc(sizeof(float) * nx);
            double worst = 0, lhs, rhs, dx_norm = 0;
            size_t i;
            CHECK_OK(cnn_upsample2d_forward(&s, x, y));
            CHECK_OK(cnn_upsample2d_backward(&s, r, dx));
            lhs = dot_d(y, r, ny);
            rhs = dot_d(x, dx, nx);
            CHECKF(fabs(lhs - rhs) <= 1e-5 * (1 + fabs(lhs)), "case %zu mode %zu: <Ax, r> %.9g, <x, A^T r> %.9g", t, m, lhs, rhs);
            for (i = 0; i < nx; i++) {
                const float keep = x[i], h = 1e-2f;
                double up, down;
                x[i] = keep + h; cnn_upsample2d_forward(&s, x, y); up = dot_d(y, r, ny);
                x[i] = keep - h; cnn_upsample2d_forward(&s, x, y); down = dot_d(y, r, ny);
                x[i] = keep;
                worst = fmax(worst, fabs((up - down) / (2.0 * h) - dx[i]));
                dx_norm += fabs(dx[i]);
            }
            CHECKF(worst <= 2e-3, "case %zu mode %zu: dx differs from the finite difference by %g", t, m, worst);
            CHECKF(dx_norm > 0, "case %zu mode %zu: an all-zero gradient proves nothing", t, m);
            free(x); free(r); free(y); free(dx);
        }
    }
}

/* Upsampling an image to its own size is the identity in every mode; nearest x2 copies each
   pixel into a 2x2 block, and its backward sums the block. */
TEST(identity_and_blocks) {
    cnn_rng rng;
    float *x, y[7 * 5 * 4], dx[7 * 5];
    int m, i, j;
    cnn_rng_seed(&rng, 5);
    x = random_floats(&rng, 7 * 5);
    for (m = 0; m < 3; m++) {
        const cnn_upsample2d_shape s = shape_of(1, 1, 7, 5, 7, 5, m ? CNN_UPSAMPLE_BILINEAR : CNN_UPSAMPLE_NEAREST, m == 2);
        CHECK_OK(cnn_upsample2d_forward(&s, x, y));
        CHECK(memcmp(x, y, sizeof(float) * 35) == 0);
    }
    {
        const cnn_upsample2d_shape s = shape_of(1, 1, 7, 5, 14, 10, CNN_UPSAMPLE_NEAREST, 0);
        int blocks_ok = 1;
        CHECK_OK(cnn_upsample2d_forward(&s, x, y));
        for (i = 0; i < 14; i++)
            for (j = 0; j < 10; j++) blocks_ok &= y[i * 10 + j] == x[(i / 2) * 5 + j / 2];
        CHECK(blocks_ok);
        CHECK_OK(cnn_upsample2d_backward(&s, y, dx));
        for (i = 0; i < 35; i++) CHECK_NEAR(dx[i], 4.0f * x[i], 1e-6);
        x[3] = INFINITY;                    /* nearest copies: an infinity stays one, no NaN */
        CHECK_OK(cnn_upsample2d_forward(&s, x, y));
        CHECK(isinf(y[6]) && isinf(y[7]) && isinf(y[16]) && isinf(y[17]) && y[8] == y[8] && y[5] == y[5]);
    }
    free(x);
}

TEST(plain_checks) {
    float buf[64] = {0};
    cnn_upsample2d_shape s = shape_of(1, 1, 2, 2, 4, 4, CNN_UPSAMPLE_NEAREST, 0);
    CHECK_OK(cnn_upsample2d_check(&s));
    s.out_w = 0;
    CHECK_STATUS(cnn_upsample2d_forward(&s, buf, buf), CNN_ERR_INVALID_ARGUMENT);
    s.out_w = 4; s.mode = (cnn_upsample_mode)7;
    CHECK_STATUS(cnn_upsample2d_backward(&s, buf, buf), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "mode 7") != NULL);
    s.mode = CNN_UPSAMPLE_NEAREST; s.align_corners = 1;
    CHECK_STATUS(cnn_upsample2d_check(&s), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "align_corners") != NULL);
    s.align_corners = 0;
    CHECK_STATUS(cnn_upsample2d_forward(&s, NULL, buf), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_upsample2d_check(NULL), CNN_ERR_INVALID_ARGUMENT);
    s.n = s.c = s.h = s.w = 1; s.out_h = s.out_w = 65536;
    CHECK_STATUS(cnn_upsample2d_check(&s), CNN_ERR_OVERFLOW);
    CHECK_STATUS(cnn_global_maxpool_forward(1, 0, 4, buf, buf, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_global_maxpool_backward(1, 1, 4, buf, NULL, buf), CNN_ERR_INVALID_ARGUMENT);
}

/* Global max pooling: each plane's first maximum, its position, a NaN when the plane has
   one; backward puts dy at that position and zero elsewhere; the gradient of a random
   plane (no ties) against finite differences. */
TEST(global_maxpool) {
    static const int shapes[][3] = { { 1, 1, 1 }, { 2, 3, 7 }, { 1, 17, 13 }, { 3, 7, 1 }, { 1, 1, 49 } };
    cnn_rng rng;
    size_t t;
    cnn_rng_seed(&rng, 11);
    for (t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int n = shapes[t][0], c = shapes[t][1], hw = shapes[t][2];
        const size_t nx = (size_t)n * c * hw, ny = (size_t)n * c;
        float *x = random_floats(&rng, nx), *y = (float *)malloc(sizeof(float) * ny), *dy = random_floats(&rng, ny);
        float *dx = (float *)malloc(sizeof(float) * nx);
        int32_t *arg = (int32_t *)malloc(sizeof(int32_t) * ny);
        size_t p;
        int i, ok = 1;
        CHECK_OK(cnn_global_maxpool_forward(n, c, hw, x, y, arg));
        for (p = 0; p < ny; p++) {
            float best = x[p * hw];
            for (i = 1; i < hw; i++) best = x[p * hw + i] > best ? x[p * hw + i] : best;
            ok &= y[p] == best && x[p * hw + arg[p]] == best;
        }
        CHECK(ok);
        for (i = 0; i < (int)nx; i++) dx[i] = 99.0f;
        CHECK_OK(cnn_global_maxpool_backward(n, c, hw, dy, arg, dx));
        for (p = 0, ok = 1; p < ny; p++)
            for (i = 0; i < hw; i++) ok &= dx[p * hw + i] == (i == arg[p] ? dy[p] : 0.0f);
        CHECK(ok);
        /* finite differences of sum(y * dy): a step smaller than the gap to the runner-up */
        for (i = 0, ok = 1; i < (int)nx; i++) {
            const float keep = x[i], h = 1e-4f;
            double up, down;
            x[i] = keep + h; cnn_global_maxpool_forward(n, c, hw, x, y, NULL); up = dot_d(y, dy, ny);
            x[i] = keep - h; cnn_global_maxpool_forward(n, c, hw, x, y, NULL); down = dot_d(y, dy, ny);
            x[i] = keep;
            ok &= fabs((up - down) / (2.0 * h) - dx[i]) <= 1e-2;
        }
        CHECK(ok);
        free(x); free(y); free(dy); free(dx); free(arg);
    }
    {   /* ties: the first; a NaN: the first NaN, wherever it is */
        float x[6] = { 1, 3, 3, -2, 3, 0 }, y[1];
        int32_t arg[1];
        CHECK_OK(cnn_global_maxpool_forward(1, 1, 6, x, y, arg));
        CHECK(y[0] == 3 && arg[0] == 1);
        x[4] = NAN; x[5] = NAN;
        CHECK_OK(cnn_global_maxpool_forward(1, 1, 6, x, y, arg));
        CHECK(y[0] != y[0] && arg[0] == 4);
        x[0] = NAN;
        CHECK_OK(cnn_global_maxpool_forward(1, 1, 6, x, y, arg));
        CHECK(y[0] != y[0] && arg[0] == 0);
    }
}

static int mentions(const char *text, const char *word) { return strstr(text, word) != NULL; }

/* Each bad option is refused when the layer is added, with a message naming the layer, its
   kind and the value; the network is then marked invalid. */
TEST(layer_checks) {
    static const struct { cnn_upsample_opts o; const char *word; } bad[] = {
        { { CNN_UPSAMPLE_NEAREST, 0, 0, 0, 0, 0, 0 }, "scale 0x0" },
        { { CNN_UPSAMPLE_NEAREST, 0, 2, 0, -1, 0, 0 }, "scale 2x-1" },
        { { CNN_UPSAMPLE_NEAREST, 0, 0, 0, 0, 5, 0 }, "output size 5x0" },
        { { CNN_UPSAMPLE_NEAREST, 0, 0, 0, 0, -3, 4 }, "output size -3x4" },
        { { (cnn_upsample_mode)3, 0, 2, 0, 0, 0, 0 }, "mode 3" },
        { { CNN_UPSAMPLE_NEAREST, 1, 2, 0, 0, 0, 0 }, "align_corners 1" },
        { { CNN_UPSAMPLE_BILINEAR, 0, 2, 0, 0, 8, 8 }, "both a scale (2" },
    };
    cnn_net_opts in;
    cnn_conv_opts conv;
    size_t t;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 5; in.width = 4;
    memset(&conv, 0, sizeof conv); conv.filters = 2;
    for (t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        cnn_net net;
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_conv(&net, &conv));
        CHECK_STATUS(cnn_add_upsample(&net, &bad[t].o), CNN_ERR_INVALID_ARGUMENT);
        CHECKF(mentions(cnn_last_error(), "layer 1 (upsample") && mentions(cnn_last_error(), bad[t].word),
               "message '%s' should name layer 1, upsample and '%s'", cnn_last_error(), bad[t].word);
        CHECK(net.invalid);
    }
    {
        cnn_net net;
        cnn_dense_opts d;
        memset(&d, 0, sizeof d); d.units = 4;
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_dense(&net, &d));
        CHECK_STATUS(cnn_add_upsample(&net, NULL), CNN_ERR_SHAPE);
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_dense(&net, &d));
        CHECK_STATUS(cnn_add_global_maxpool(&net), CNN_ERR_SHAPE);
        CHECK(mentions(cnn_last_error(), "layer 1 (global_maxpool"));
    }
}

/* The layers in a network: shapes, the summary (no parameters), describe. */
TEST(layers_in_a_network) {
    cnn_net net;
    cnn_net_opts in;
    cnn_upsample_opts up;
    cnn_conv_opts conv;
    cnn_layer_info info;
    char summary[2048];
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 5; in.width = 7;
    memset(&conv, 0, sizeof conv); conv.filters = 4; conv.padding = CNN_PAD_SAME;
    CHECK_OK(cnn_net_init(&net, &in));
    memset(&up, 0, sizeof up); up.scale = 2;
    CHECK_OK(cnn_add_upsample(&net, &up));
    CHECK_OK(cnn_add_conv(&net, &conv));
    memset(&up, 0, sizeof up); up.mode = CNN_UPSAMPLE_BILINEAR; up.scale_h = 3; up.scale_w = 1;
    CHECK_OK(cnn_add_upsample(&net, &up));
    memset(&up, 0, sizeof up); up.mode = CNN_UPSAMPLE_BILINEAR; up.align_corners = 1; up.out_h = 11; up.out_w = 13;
    CHECK_OK(cnn_add_upsample(&net, &up));
    CHECK_OK(cnn_add_global_maxpool(&net));
    CHECK(net.layers[0].out_h == 10 && net.layers[0].out_w == 14 && net.layers[0].out_c == 3);
    CHECK(net.layers[2].out_h == 30 && net.layers[2].out_w == 14);
    CHECK(net.layers[3].out_h == 11 && net.layers[3].out_w == 13 && net.layers[3].up_scale_h == 0);
    CHECK_OK(cnn_layer_describe(&net, 4, &info));
    CHECK(info.kind == CNN_LAYER_GLOBAL_MAXPOOL && info.flat && info.out_c == 4 && info.weight_count == 0);
    CHECK_OK(cnn_layer_describe(&net, 3, &info));
    CHECK(info.kind == CNN_LAYER_UPSAMPLE && info.out_h == 11 && info.out_w == 13 && info.weight_count == 0 && !info.flat);
    CHECK(cnn_net_param_count(&net) == 3 * 3 * 3 * 4 + 4);
    cnn_net_summary(&net, summary, sizeof summary);
    CHECKF(mentions(summary, "upsample x2 nearest") && mentions(summary, "upsample x3x1 bilinear") &&
           mentions(summary, "upsample 11x13 bilinear ac") && mentions(summary, "global_maxpool") &&
           mentions(summary, "Total params: 112"), "%s", summary);
}

/* A small network for the network-level tests: conv, upsampling, conv, global max pooling,
   dense; MSE loss so that real-valued targets drive it. */
static cnn_status small_net(cnn_net *net, cnn_upsample_mode mode, int ac, int threads, int max_batch) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_upsample_opts up;
    cnn_dense_opts dense;
    cnn_build_opts build;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 5; in.width = 6; in.loss = CNN_LOSS_MSE;
    memset(&conv, 0, sizeof conv); conv.filters = 7; conv.padding = CNN_PAD_SAME; conv.activation = CNN_ACT_TANH;
    memset(&up, 0, sizeof up); up.mode = mode; up.align_corners = ac;
    if (ac) { up.out_h = 9; up.out_w = 13; } else { up.scale_h = 2; up.scale_w = 3; }
    memset(&dense, 0, sizeof dense); dense.units = 3;
    memset(&build, 0, sizeof build); build.max_batch = max_batch; build.seed = 21; build.threads = threads;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_upsample(net, &up))) return st;
    conv.filters = 17;
    if ((st = cnn_add_conv(net, &conv)) || (st = cnn_add_global_maxpool(net)) || (st = cnn_add_dense(net, &dense))) return st;
    return cnn_net_build(net, &build);
}

/* The first conv's weight gradient goes back through global max pooling and upsampling:
   it must match finite differences of the network's loss. */
TEST(network_gradients) {
    int m;
    for (m = 0; m < 3; m++) {
        cnn_net net;
        cnn_rng rng;
        float *x, *t, loss, *w, *dw, *g, worst = 0, norm = 0;
        size_t count, i;
        const int n = 3;
        CHECK_OK(small_net(&net, m ? CNN_UPSAMPLE_BILINEAR : CNN_UPSAMPLE_NEAREST, m == 2, 1, n));
        cnn_rng_seed(&rng, 3);
        x = random_floats(&rng, (size_t)n * 3 * 5 * 6);
        t = random_floats(&rng, (size_t)n * 3);
        CHECK_OK(cnn_forward(&net, x, n, 1));
        CHECK_OK(cnn_backward_targets(&net, t, &loss));
        w = cnn_layer_weights(&net, 0, &count);
        dw = cnn_layer_weight_grads(&net, 0, NULL);
        g = (float *)malloc(sizeof(float) * count);
        memcpy(g, dw, sizeof(float) * count);
        for (i = 0; i < count; i++) {
            const float keep = w[i], h = 1e-3f;
            float up, down;
            w[i] = keep + h; cnn_forward(&net, x, n, 1); cnn_backward_targets(&net, t, &up);
            w[i] = keep - h; cnn_forward(&net, x, n, 1); cnn_backward_targets(&net, t, &down);
            w[i] = keep;
            worst = fmaxf(worst, fabsf((up - down) / (2 * h) - g[i]));
            norm = fmaxf(norm, fabsf(g[i]));
        }
        CHECKF(worst <= 2e-3f + 2e-2f * norm, "mode %d: first conv's dw differs from finite differences by %g (largest %g)", m, (double)worst, (double)norm);
        CHECKF(norm > 1e-4f, "mode %d: an all-zero gradient proves nothing", m);
        free(x); free(t); free(g);
        cnn_net_free(&net);
    }
}

/* An upsampling first layer: cnn_input_gradient carries the gradient through it. */
TEST(input_gradient) {
    cnn_net net;
    cnn_net_opts in;
    cnn_upsample_opts up;
    cnn_build_opts build;
    float x[2 * 2 * 3 * 4], dx[2 * 2 * 3 * 4], ref[2 * 2 * 3 * 4], dy[2 * 2 * 6 * 8];
    int i;
    memset(&in, 0, sizeof in); in.channels = 2; in.height = 3; in.width = 4; in.loss = CNN_LOSS_MSE;
    memset(&up, 0, sizeof up); up.mode = CNN_UPSAMPLE_BILINEAR; up.scale = 2;
    memset(&build, 0, sizeof build); build.max_batch = 2;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_upsample(&net, &up));
    CHECK_OK(cnn_net_build(&net, &build));
    for (i = 0; i < 48; i++) x[i] = x_at(i);
    for (i = 0; i < 192; i++) dy[i] = r_at(i);
    CHECK_OK(cnn_forward(&net, x, 2, 1));
    CHECK_OK(cnn_backward_from(&net, dy));
    CHECK_OK(cnn_input_gradient(&net, dx));
    {
        const cnn_upsample2d_shape s = shape_of(2, 2, 3, 4, 6, 8, CNN_UPSAMPLE_BILINEAR, 0);
        CHECK_OK(cnn_upsample2d_backward(&s, dy, ref));
    }
    CHECK(memcmp(dx, ref, sizeof dx) == 0);
    cnn_net_free(&net);
}

/* Threads split the planes: 2, 3 and 7 threads give the outputs and the gradients of one,
   bit for bit, at batch 1 and 5. */
TEST(threads_bit_identical) {
    static const int counts[] = { 2, 3, 7 };
    int m, b, k;
    for (m = 0; m < 3; m++) {
        for (b = 0; b < 2; b++) {
            const int n = b ? 5 : 1;
            cnn_net one;
            cnn_rng rng;
            float *x, *t, *out1, *grads1;
            const cnn_upsample_mode mode = m ? CNN_UPSAMPLE_BILINEAR : CNN_UPSAMPLE_NEAREST;
            CHECK_OK(small_net(&one, mode, m == 2, 1, n));
            cnn_rng_seed(&rng, 8);
            x = random_floats(&rng, (size_t)n * 90);
            t = random_floats(&rng, (size_t)n * 3);
            CHECK_OK(cnn_forward(&one, x, n, 1));
            CHECK_OK(cnn_backward_targets(&one, t, NULL));
            out1 = (float *)malloc(sizeof(float) * n * 3);
            grads1 = (float *)malloc(sizeof(float) * one.param_floats);
            memcpy(out1, cnn_output(&one), sizeof(float) * n * 3);
            memcpy(grads1, one.grads, sizeof(float) * one.param_floats);
            for (k = 0; k < 3; k++) {
                cnn_net many;
                CHECK_OK(small_net(&many, mode, m == 2, counts[k], n));
                CHECK_OK(cnn_forward(&many, x, n, 1));
                CHECK_OK(cnn_backward_targets(&many, t, NULL));
                CHECKF(memcmp(out1, cnn_output(&many), sizeof(float) * n * 3) == 0, "mode %d batch %d threads %d: outputs differ", m, n, counts[k]);
                CHECKF(memcmp(grads1, many.grads, sizeof(float) * one.param_floats) == 0, "mode %d batch %d threads %d: gradients differ", m, n, counts[k]);
                cnn_net_free(&many);
            }
            free(x); free(t); free(out1); free(grads1);
            cnn_net_free(&one);
        }
    }
}

/* Every pooling option the plain functions have is a layer option and survives a model
   file: max and average, ceil mode, symmetric and asymmetric padding, count_pad both ways,
   non-square windows and strides. The loaded network has the same layers and, bit for bit,
   the same outputs. */
TEST(pool_options_save_load) {
    cnn_net net, back;
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_pool_opts pool[5];
    cnn_build_opts build;
    cnn_rng rng;
    unsigned char *file;
    size_t size = 0, cap = 1 << 20;
    float *x;
    int i;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 23; in.width = 19;
    memset(&conv, 0, sizeof conv); conv.filters = 5;
    memset(pool, 0, sizeof pool);
    pool[0].kind = CNN_POOL_MAX; pool[0].size = 3; pool[0].stride = 2; pool[0].pad = 1; pool[0].ceil_mode = 1;
    pool[1].kind = CNN_POOL_AVG; pool[1].size = 3; pool[1].stride = 2; pool[1].pad = 1; pool[1].count_pad = 1; pool[1].ceil_mode = 1;
    pool[2].kind = CNN_POOL_AVG; pool[2].size_h = 2; pool[2].size_w = 3; pool[2].stride_h = 1; pool[2].stride_w = 2;
    pool[2].pad_top = 1; pool[2].pad_bottom = 0; pool[2].pad_left = 0; pool[2].pad_right = 1; pool[2].count_pad = 0;
    pool[3].kind = CNN_POOL_AVG; pool[3].size = 2; pool[3].pad_top = 1; pool[3].pad_left = 1; pool[3].count_pad = 1;
    pool[4].kind = CNN_POOL_MAX; pool[4].size = 2; pool[4].stride = 1; pool[4].pad_right = 1; pool[4].pad_bottom = 1;
    memset(&build, 0, sizeof build); build.max_batch = 2; build.seed = 4;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &conv));
    for (i = 0; i < 5; i++) CHECK_OK(cnn_add_pool(&net, &pool[i]));
    CHECK_OK(cnn_add_global_avgpool(&net));
    CHECK_OK(cnn_net_build(&net, &build));
    CHECK(net.layers[1].pool.ceil_mode && net.layers[2].pool.count_pad && !net.layers[3].pool.count_pad &&
          net.layers[3].pool.pad_right == 1 && net.layers[3].pool.pad_left == 0 && net.layers[4].pool.pad_bottom == 0);
    file = (unsigned char *)malloc(cap);
    CHECK_OK(cnn_save_to_memory(&net, file, cap, &size));
    memset(&back, 0, sizeof back);
    CHECK_OK(cnn_load_from_memory(&back, file, size, &build));
    CHECK(back.layer_count == net.layer_count);
    for (i = 0; i < net.layer_count && i < back.layer_count; i++) {
        const cnn_pool2d_shape *a = &net.layers[i].pool, *b = &back.layers[i].pool;
        CHECKF(net.layers[i].kind == back.layers[i].kind && net.layers[i].pool_kind == back.layers[i].pool_kind &&
               a->kh == b->kh && a->kw == b->kw && a->stride_h == b->stride_h && a->stride_w == b->stride_w &&
               a->pad_top == b->pad_top && a->pad_bottom == b->pad_bottom && a->pad_left == b->pad_left &&
               a->pad_right == b->pad_right && a->ceil_mode == b->ceil_mode && a->count_pad == b->count_pad &&
               net.layers[i].out_h == back.layers[i].out_h && net.layers[i].out_w == back.layers[i].out_w,
               "layer %d differs after loading", i);
    }
    cnn_rng_seed(&rng, 9);
    x = random_floats(&rng, 2 * 3 * 23 * 19);
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    CHECK_OK(cnn_forward(&back, x, 2, 0));
    CHECK(memcmp(cnn_output(&net), cnn_output(&back), sizeof(float) * 2 * 5) == 0);
    free(x); free(file);
    cnn_net_free(&net); cnn_net_free(&back);
}

/* Upsampling (each mode, a scale and a size) and global max pooling survive a model file:
   the same records, the same outputs; a record with a mode this cnn.h does not know, or a
   size that does not match its scale, is refused as corrupt, naming the layer. */
TEST(save_load) {
    cnn_net net, back;
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_upsample_opts up[3];
    cnn_build_opts build;
    cnn_rng rng;
    unsigned char *file;
    size_t size = 0, cap = 1 << 20;
    float *x;
    int i;
    memset(&in, 0, sizeof in); in.channels = 2; in.height = 3; in.width = 5;
    memset(&conv, 0, sizeof conv); conv.filters = 3; conv.padding = CNN_PAD_SAME;
    memset(up, 0, sizeof up);
    up[0].scale = 2;
    up[1].mode = CNN_UPSAMPLE_BILINEAR; up[1].scale_h = 1; up[1].scale_w = 3;
    up[2].mode = CNN_UPSAMPLE_BILINEAR; up[2].align_corners = 1; up[2].out_h = 7; up[2].out_w = 11;
    memset(&build, 0, sizeof build); build.max_batch = 2; build.seed = 4;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &conv));
    for (i = 0; i < 3; i++) CHECK_OK(cnn_add_upsample(&net, &up[i]));
    CHECK_OK(cnn_add_conv(&net, &conv));
    CHECK_OK(cnn_add_global_maxpool(&net));
    CHECK_OK(cnn_net_build(&net, &build));
    file = (unsigned char *)malloc(cap);
    CHECK_OK(cnn_save_to_memory(&net, file, cap, &size));
    memset(&back, 0, sizeof back);
    CHECK_OK(cnn_load_from_memory(&back, file, size, &build));
    CHECK(back.layer_count == net.layer_count);
    for (i = 0; i < net.layer_count && i < back.layer_count; i++) {
        const cnn_layer *a = &net.layers[i], *b = &back.layers[i];
        CHECKF(a->kind == b->kind && a->out_c == b->out_c && a->out_h == b->out_h && a->out_w == b->out_w &&
               a->up.mode == b->up.mode && a->up.align_corners == b->up.align_corners &&
               a->up_scale_h == b->up_scale_h && a->up_scale_w == b->up_scale_w, "layer %d differs after loading", i);
    }
    cnn_rng_seed(&rng, 9);
    x = random_floats(&rng, 2 * 2 * 3 * 5);
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    CHECK_OK(cnn_forward(&back, x, 2, 0));
    CHECK(memcmp(cnn_output(&net), cnn_output(&back), sizeof(float) * 2 * 3) == 0);
    cnn_net_free(&back);
    {   /* the records: 32 bytes of header, 32 fields of 4 bytes each; layer 2 is the x1x3 one */
        unsigned char *bad = (unsigned char *)malloc(size);
        const size_t rec = 32 + 2 * 128;
        memcpy(bad, file, size);
        CHECK(bad[rec] == CNN_LAYER_UPSAMPLE && bad[rec + 4 * 22] == 1 && bad[rec + 4 * 25] == 3 && bad[rec + 4 * 27] == 30);
        put_u32(bad + rec + 4 * 22, 5);                  /* a mode nobody knows */
        reseal(bad, (long)size);
        CHECK_STATUS(cnn_load_from_memory(&back, bad, size, &build), CNN_ERR_FILE_CORRUPT);
        CHECKF(mentions(cnn_last_error(), "layer 2") && mentions(cnn_last_error(), "mode 5"), "%s", cnn_last_error());
        memcpy(bad, file, size);
        put_u32(bad + rec + 4 * 27, 31);                 /* 10 columns x 3 are not 31 */
        reseal(bad, (long)size);
        CHECK_STATUS(cnn_load_from_memory(&back, bad, size, &build), CNN_ERR_FILE_CORRUPT);
        CHECKF(mentions(cnn_last_error(), "layer 2") && mentions(cnn_last_error(), "31"), "%s", cnn_last_error());
        free(bad);
    }
    free(x); free(file);
    cnn_net_free(&net);
}

/* An inference-only build (two shared buffers, no argmax) and a network reading another's
   weights (shared_weights) give the training build's outputs bit for bit. small_net draws
   the same weights from the same seed; a rebuild keeps them. */
TEST(inference_build) {
    int m;
    for (m = 0; m < 3; m++) {
        const cnn_upsample_mode mode = m ? CNN_UPSAMPLE_BILINEAR : CNN_UPSAMPLE_NEAREST;
        const int n = 4;
        cnn_net train, lean, shared;
        cnn_build_opts b;
        cnn_rng rng;
        float *x;
        CHECK_OK(small_net(&train, mode, m == 2, 1, n));
        cnn_rng_seed(&rng, 12);
        x = random_floats(&rng, (size_t)n * 90);
        CHECK_OK(cnn_forward(&train, x, n, 0));
        memset(&b, 0, sizeof b); b.max_batch = n; b.inference_only = 1;
        CHECK_OK(small_net(&lean, mode, m == 2, 1, n));
        CHECK_OK(cnn_net_build(&lean, &b));            /* a rebuild keeps the weights */
        CHECK(!lean.training);
        CHECK_OK(cnn_forward(&lean, x, n, 0));
        CHECK(memcmp(cnn_output(&train), cnn_output(&lean), sizeof(float) * n * 3) == 0);
        CHECK_OK(small_net(&shared, mode, m == 2, 1, n));
        cnn_net_free(&shared);                          /* the description stays */
        b.shared_weights = &train;
        CHECK_OK(cnn_net_build(&shared, &b));
        CHECK_OK(cnn_forward(&shared, x, n, 0));
        CHECK(memcmp(cnn_output(&train), cnn_output(&shared), sizeof(float) * n * 3) == 0);
        free(x);
        cnn_net_free(&shared);
        cnn_net_free(&lean);
        cnn_net_free(&train);
    }
}

int main(void) {
    RUN(matches_pytorch);
    RUN(gradients);
    RUN(identity_and_blocks);
    RUN(plain_checks);
    RUN(global_maxpool);
    RUN(layer_checks);
    RUN(layers_in_a_network);
    RUN(network_gradients);
    RUN(input_gradient);
    RUN(threads_bit_identical);
    RUN(pool_options_save_load);
    RUN(save_load);
    RUN(inference_build);
    return harness_report();
}
