/* test_grad.c - gradient checks: every backward pass of cnn.h against central finite
   differences of its forward pass.

   For a layer with output y, take the scalar loss L = sum(y * R) for a fixed random R, so
   dL/dy = R: the library's backward functions turn R into dL/dx, dL/dw, dL/db, and each is
   compared, point by point, with

       (L(v + h) - L(v - h)) / (2h)      (2h taken as the float difference actually applied)

   with the forward run in float and L accumulated in double. Whole networks are checked the
   same way through cnn_forward + cnn_backward, with their own loss (softmax cross-entropy or
   MSE) computed here in double from cnn_output().

   Acceptance, for each gradient tensor with s = max |analytic| over the whole tensor:
       |a - n| <= rtol * max(|a|, |n|) + atol * s     at every checked point, and
       ||a - n|| <= rtol * ||a||                       over the checked points,
   with (rtol, atol) given per check below. A gradient that is all zero cannot pass: s must
   be well above zero and some checked point must carry a nonzero gradient. Points where the
   function has a kink within the step are skipped (and counted; most points must be
   checked): ReLU inputs with |x| < 3h, max-pool inputs within 3h of a rival in a window,
   and in networks any point whose step changes a ReLU sign or a max-pool choice anywhere.

   Set TEST_GRAD_VERBOSE=1 to print, per tensor, the worst error relative to its allowance.

   Build: cc -std=c99 -O2 -I. tests/test_grad.c -lm && ./a.out */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

#include <float.h>
#include <stdlib.h>

static int verbose;

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}
static float *falloc(size_t n) { return (float *)xmalloc(n * sizeof(float)); }

static void fill_uniform(cnn_rng *rng, float *p, size_t n, float lo, float hi) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(rng);
}

/* Poisons a gradient buffer: the backward functions overwrite, they must not accumulate. */
static void fill_nan(float *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)NAN;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Up to 'want' distinct indices below count (all of them when there are few), seeded. */
static size_t pick_indices(cnn_rng *rng, size_t count, size_t want, size_t *out) {
    size_t *all, i;
    if (count <= want) { for (i = 0; i < count; i++) out[i] = i; return count; }
    all = (size_t *)xmalloc(count * sizeof(size_t));
    for (i = 0; i < count; i++) all[i] = i;
    for (i = 0; i < want; i++) {       /* the first 'want' steps of a Fisher-Yates shuffle */
        size_t j = i + cnn_rng_below(rng, (uint32_t)(count - i)), t = all[i];
        all[i] = all[j]; all[j] = t;
        out[i] = all[i];
    }
    free(all);
    return want;
}

/* ---- bookkeeping of one gradient tensor's check -------------------------------------------- */

typedef struct gstats {
    char what[200];
    double rtol, atol, scale;
    int checked, skipped, nonzero, failures;
    double worst, sum_d2, sum_a2;
} gstats;

static void gc_begin(gstats *g, const char *what, const float *analytic, size_t count, double rtol, double atol) {
    size_t i;
    memset(g, 0, sizeof *g);
    snprintf(g->what, sizeof g->what, "%s", what);
    g->rtol = rtol;
    g->atol = atol;
    for (i = 0; i < count; i++) {
        CHECKF(isfinite(analytic[i]), "%s: analytic gradient [%zu] is %g", what, i, (double)analytic[i]);
        if (fabs(analytic[i]) > g->scale) g->scale = fabs(analytic[i]);
    }
}

static void gc_point(gstats *g, size_t index, double a, double n) {
    double err = fabs(a - n), allowed = g->rtol * fmax(fabs(a), fabs(n)) + g->atol * g->scale;
    g->checked++;
    if (fabs(a) > 1e-3 * g->scale) g->nonzero++;
    g->sum_d2 += (a - n) * (a - n);
    g->sum_a2 += a * a;
    if (allowed > 0 && err / allowed > g->worst) g->worst = err / allowed;
    if (!(err <= allowed)) {
        if (g->failures < 5)
            fprintf(stderr, "  %s: [%zu] analytic %.9g, numeric %.9g (allowed difference %.3g)\n",
                    g->what, index, a, n, allowed);
        g->failures++;
    }
}

/* min_scale: the all-zero guard; min_fraction: of the points tried, how many must be checked
   (not skipped as kinks). */
static void gc_end(gstats *g, double min_scale, double min_fraction) {
    int tried = g->checked + g->skipped;
    CHECKF(g->failures == 0, "%s: %d of %d points disagree with finite differences", g->what, g->failures, g->checked);
    CHECKF(g->scale >= min_scale, "%s: max |gradient| is %g: (nearly) all zero, the check would prove nothing",
           g->what, g->scale);
    CHECKF(g->nonzero > 0, "%s: every checked point has a zero gradient", g->what);
    CHECKF(g->checked > 0 && g->checked >= min_fraction * tried, "%s: only %d of %d points checked (%d on kinks)",
           g->what, g->checked, tried, g->skipped);
    CHECKF(sqrt(g->sum_d2) <= g->rtol * sqrt(g->sum_a2), "%s: relative error norm %.3g exceeds %g", g->what,
           sqrt(g->sum_d2) / sqrt(g->sum_a2), g->rtol);
    if (verbose)
        printf("     %-58s worst %.3f  norm %.2e  scale %.2e  checked %d/%d\n", g->what, g->worst,
               g->sum_a2 > 0 ? sqrt(g->sum_d2 / g->sum_a2) : 0.0, g->scale, g->checked, tried);
}

/* ---- finite differences of a raw kernel ------------------------------------------------------ */

typedef double (*loss_fn)(void *ctx);
/* Nonzero when the loss has a kink within [v - h, v + h] of point 'index'. */
typedef int (*kink_fn)(void *ctx, size_t index, double h);

/* Checks 'samples' points of 'param' (all when fewer): the step is step * max(1, |v|). */
static void check_tensor(const char *what, loss_fn loss, void *ctx, float *param, size_t count, const float *analytic,
                         size_t samples, double step, kink_fn kink, cnn_rng *rng, double rtol, double atol,
                         double min_scale, double min_fraction) {
    size_t *idx = (size_t *)xmalloc(samples * sizeof(size_t)), k, m = pick_indices(rng, count, samples, idx);
    gstats g;
    gc_begin(&g, what, analytic, count, rtol, atol);
    for (k = 0; k < m; k++) {
        size_t i = idx[k];
        float v = param[i], vp, vm;
        double h = step * fmax(1.0, fabs(v)), lp, lm;
        if (kink && kink(ctx, i, h)) { g.skipped++; continue; }
        vp = (float)(v + h);
        vm = (float)(v - h);
        param[i] = vp; lp = loss(ctx);
        param[i] = vm; lm = loss(ctx);
        param[i] = v;
        gc_point(&g, i, analytic[i], (lp - lm) / ((double)vp - (double)vm));
    }
    gc_end(&g, min_scale, min_fraction);
    free(idx);
}

/* Linear kernels (conv, dense, average pooling, dropout with a fixed mask) have no truncation
   error: only the float rounding of the forward, about 1e-7 of |y| on the few outputs a step
   moves, over 2h = 2e-2. 1e-3 leaves a wide margin over what that produces (about 1e-5). */
#define LINEAR_STEP 1e-2
#define LINEAR_RTOL 1e-3
#define LINEAR_ATOL 1e-4

/* ---- convolution --------------------------------------------------------------------------- */

typedef struct conv_cfg {
    const char *name;
    int n, c, h, w, k, kh, kw, sh, sw, dh, dw;
    cnn_padding padding;
    int pt, pb, pl, pr;            /* CNN_PAD_EXPLICIT */
    int bias;
} conv_cfg;

typedef struct conv_problem {
    cnn_conv2d_shape s;
    float *x, *w, *b, *y, *r;
    size_t ny;
} conv_problem;

static double conv_loss(void *ctx) {
    conv_problem *p = (conv_problem *)ctx;
    cnn_conv2d_forward(&p->s, p->x, p->w, p->b, p->y);
    return dot(p->y, p->r, p->ny);
}

TEST(conv2d_gradients) {
    static const conv_cfg cfgs[] = {
        { "stride 1, valid",                      2, 3, 7, 6, 2, 3, 3, 1, 1, 1, 1, CNN_PAD_VALID, 0, 0, 0, 0, 1 },
        { "stride 2, same",                       2, 2, 9, 8, 3, 3, 3, 2, 2, 1, 1, CNN_PAD_SAME, 0, 0, 0, 0, 1 },
        { "stride 3, full",                       1, 2, 8, 10, 2, 3, 3, 3, 3, 1, 1, CNN_PAD_FULL, 0, 0, 0, 0, 1 },
        { "stride 3x1, same, 2x3 kernel",         2, 2, 10, 7, 2, 2, 3, 3, 1, 1, 1, CNN_PAD_SAME, 0, 0, 0, 0, 0 },
        { "explicit asymmetric pads, stride 1x2", 2, 3, 6, 7, 2, 2, 3, 1, 2, 1, 1, CNN_PAD_EXPLICIT, 1, 0, 2, 1, 1 },
        { "dilation 2, valid",                    1, 2, 9, 9, 2, 3, 3, 1, 1, 2, 2, CNN_PAD_VALID, 0, 0, 0, 0, 1 },
        { "dilation 2x1, same, stride 2",         2, 1, 8, 7, 3, 3, 3, 2, 2, 2, 1, CNN_PAD_SAME, 0, 0, 0, 0, 1 },
        { "dilation 1x2, full, 2x2 kernel",       1, 2, 5, 6, 2, 2, 2, 1, 1, 1, 2, CNN_PAD_FULL, 0, 0, 0, 0, 1 },
        { "dilation 2, full, stride 2",           1, 2, 6, 5, 2, 3, 2, 2, 2, 2, 2, CNN_PAD_FULL, 0, 0, 0, 0, 0 },
        { "1x3 kernel, valid",                    2, 2, 5, 7, 3, 1, 3, 1, 1, 1, 1, CNN_PAD_VALID, 0, 0, 0, 0, 1 },
        { "3x1 kernel, stride 2x1, same",         1, 3, 7, 5, 2, 3, 1, 2, 1, 1, 1, CNN_PAD_SAME, 0, 0, 0, 0, 1 },
        { "5x2 kernel, dilation 2, explicit",     2, 2, 9, 6, 2, 5, 2, 1, 3, 2, 2, CNN_PAD_EXPLICIT, 2, 1, 0, 3, 0 },
        { "1x1 image, 3x3 kernel, same",          3, 2, 1, 1, 2, 3, 3, 1, 1, 1, 1, CNN_PAD_SAME, 0, 0, 0, 0, 1 },
        { "stride 3 > kernel 2: unread inputs",   2, 2, 9, 8, 2, 2, 2, 3, 3, 1, 1, CNN_PAD_VALID, 0, 0, 0, 0, 1 },
        { "1x1 kernel, 7 channels",               2, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, CNN_PAD_VALID, 0, 0, 0, 0, 1 },
        /* wider layers, where the blocked (SIMD) paths take over from the scalar ones */
        { "8 -> 20 channels, same",               2, 8, 9, 10, 20, 3, 3, 1, 1, 1, 1, CNN_PAD_SAME, 0, 0, 0, 0, 1 },
        { "16 -> 7 channels, stride 2, dilation 2", 1, 16, 11, 9, 7, 3, 3, 2, 2, 2, 2, CNN_PAD_FULL, 0, 0, 0, 0, 1 },
    };
    cnn_rng rng;
    size_t t;
    cnn_rng_seed(&rng, 1234);
    for (t = 0; t < sizeof cfgs / sizeof cfgs[0]; t++) {
        const conv_cfg *c = &cfgs[t];
        conv_problem p;
        int oh = 0, ow = 0;
        size_t nx, nw, i;
        float *dx, *dw, *db, *dw2;
        char what[200];
        memset(&p, 0, sizeof p);
        p.s.n = c->n; p.s.c = c->c; p.s.h = c->h; p.s.w = c->w; p.s.k = c->k; p.s.kh = c->kh; p.s.kw = c->kw;
        p.s.stride_h = c->sh; p.s.stride_w = c->sw; p.s.dilation_h = c->dh; p.s.dilation_w = c->dw;
        if (c->padding == CNN_PAD_EXPLICIT) {
            p.s.pad_top = c->pt; p.s.pad_bottom = c->pb; p.s.pad_left = c->pl; p.s.pad_right = c->pr;
        } else {
            cnn_padding_for(c->padding, c->h, c->kh, c->sh, c->dh, &p.s.pad_top, &p.s.pad_bottom);
            cnn_padding_for(c->padding, c->w, c->kw, c->sw, c->dw, &p.s.pad_left, &p.s.pad_right);
        }
        CHECKF(cnn_conv2d_check(&p.s, &oh, &ow) == CNN_OK, "%s: %s", c->name, cnn_last_error());
        if (oh < 1 || ow < 1) continue;
        nx = (size_t)c->n * c->c * c->h * c->w;
        nw = (size_t)c->k * c->c * c->kh * c->kw;
        p.ny = (size_t)c->n * c->k * oh * ow;
        p.x = falloc(nx); p.w = falloc(nw); p.y = falloc(p.ny); p.r = falloc(p.ny);
        p.b = c->bias ? falloc((size_t)c->k) : NULL;
        dx = falloc(nx); dw = falloc(nw); dw2 = falloc(nw); db = falloc((size_t)c->k);
        fill_uniform(&rng, p.x, nx, -1, 1);
        fill_uniform(&rng, p.w, nw, -1, 1);
        if (p.b) fill_uniform(&rng, p.b, (size_t)c->k, -1, 1);
        fill_uniform(&rng, p.r, p.ny, -1, 1);
        fill_nan(dx, nx); fill_nan(dw, nw); fill_nan(db, (size_t)c->k); fill_nan(dw2, nw);
        CHECK_OK(cnn_conv2d_backward_data(&p.s, p.r, p.w, dx));
        CHECK_OK(cnn_conv2d_backward_weights(&p.s, p.x, p.r, dw, db));
        CHECK_OK(cnn_conv2d_backward_weights(&p.s, p.x, p.r, dw2, NULL));   /* db is optional */
        CHECKF(memcmp(dw, dw2, nw * sizeof(float)) == 0, "%s: dw depends on whether db is asked for", c->name);

        snprintf(what, sizeof what, "conv %s: dx", c->name);
        check_tensor(what, conv_loss, &p, p.x, nx, dx, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        snprintf(what, sizeof what, "conv %s: dw", c->name);
        check_tensor(what, conv_loss, &p, p.w, nw, dw, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        if (p.b) {
            snprintf(what, sizeof what, "conv %s: db", c->name);
            check_tensor(what, conv_loss, &p, p.b, (size_t)c->k, db, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        }
        /* db is the sum of dy over batch and positions, exactly what no bias would leave out */
        for (i = 0; i < (size_t)c->k; i++) {
            double sum = 0.0;
            size_t j, plane = (size_t)oh * ow;
            int n;
            for (n = 0; n < c->n; n++) for (j = 0; j < plane; j++) sum += p.r[((size_t)n * c->k + i) * plane + j];
            CHECK_NEAR(db[i], sum, 1e-5 * (1.0 + (double)c->n * plane));
        }
        free(p.x); free(p.w); free(p.b); free(p.y); free(p.r); free(dx); free(dw); free(dw2); free(db);
    }
}

/* ---- pooling ------------------------------------------------------------------------------- */

typedef struct pool_problem {
    cnn_pool2d_shape s;
    int oh, ow, max;
    float *x, *y, *r;
    int32_t *arg;
    size_t ny;
} pool_problem;

static double pool_loss(void *ctx) {
    pool_problem *p = (pool_problem *)ctx;
    if (p->max) cnn_maxpool2d_forward(&p->s, p->x, p->y, p->arg);
    else cnn_avgpool2d_forward(&p->s, p->x, p->y);
    return dot(p->y, p->r, p->ny);
}

/* A max-pool kink: some window holding input 'index' has its max and runner-up within 3h
   when one of them is this input (a step of h could change which one wins). */
static int pool_kink(void *ctx, size_t index, double h) {
    const pool_problem *p = (const pool_problem *)ctx;
    const cnn_pool2d_shape *s = &p->s;
    size_t plane_size = (size_t)s->h * s->w, base = index / plane_size * plane_size;
    int row = (int)(index % plane_size) / s->w, col = (int)(index % plane_size) % s->w, i, j, r, q;
    if (!p->max) return 0;
    for (i = 0; i < p->oh; i++)
        for (j = 0; j < p->ow; j++) {
            int top = i * s->stride_h - s->pad_top, left = j * s->stride_w - s->pad_left;
            double rival = -HUGE_VAL;
            if (row < top || row >= top + s->kh || col < left || col >= left + s->kw) continue;
            for (r = top; r < top + s->kh; r++)
                for (q = left; q < left + s->kw; q++)
                    if (r >= 0 && r < s->h && q >= 0 && q < s->w && (r != row || q != col) && p->x[base + (size_t)r * s->w + q] > rival)
                        rival = p->x[base + (size_t)r * s->w + q];
            if (fabs((double)p->x[index] - rival) < 3 * h) return 1;
        }
    return 0;
}

TEST(pool_gradients) {
    /* name, n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, ceil */
    static const struct { const char *name; int v[13]; } cfgs[] = {
        { "2x2 stride 2",                          { 2, 2, 6, 7, 2, 2, 2, 2, 0, 0, 0, 0, 0 } },
        { "2x2 stride 2, ceil (partial windows)",  { 2, 2, 7, 5, 2, 2, 2, 2, 0, 0, 0, 0, 1 } },
        { "3x3 stride 2, pad 1, ceil (overlap)",   { 1, 3, 8, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1 } },
        { "2x3 stride 1x2, asymmetric pads",       { 2, 1, 5, 8, 2, 3, 1, 2, 1, 0, 1, 1, 0 } },
        { "3x2 stride 3x1, ceil",                  { 1, 2, 8, 6, 3, 2, 3, 1, 0, 1, 0, 1, 1 } },
        { "3x3 stride 2, pad 1, ceil on 4x4",      { 2, 2, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1 } },
        { "3x3 stride 1, pad 1 (every input 9x)",  { 1, 2, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 0 } },
    };
    cnn_rng rng;
    size_t t;
    int kind;
    cnn_rng_seed(&rng, 99);
    for (t = 0; t < sizeof cfgs / sizeof cfgs[0]; t++) {
        for (kind = 0; kind < 3; kind++) {         /* max, avg, avg with count_pad */
            const int *v = cfgs[t].v;
            pool_problem p;
            size_t nx;
            float *dx;
            char what[200];
            memset(&p, 0, sizeof p);
            p.s.n = v[0]; p.s.c = v[1]; p.s.h = v[2]; p.s.w = v[3]; p.s.kh = v[4]; p.s.kw = v[5];
            p.s.stride_h = v[6]; p.s.stride_w = v[7];
            p.s.pad_top = v[8]; p.s.pad_bottom = v[9]; p.s.pad_left = v[10]; p.s.pad_right = v[11];
            p.s.ceil_mode = v[12];
            p.s.count_pad = kind == 2;
            p.max = kind == 0;
            CHECKF(cnn_pool2d_check(&p.s, &p.oh, &p.ow) == CNN_OK, "%s: %s", cfgs[t].name, cnn_last_error());
            nx = (size_t)p.s.n * p.s.c * p.s.h * p.s.w;
            p.ny = (size_t)p.s.n * p.s.c * p.oh * p.ow;
            p.x = falloc(nx); p.y = falloc(p.ny); p.r = falloc(p.ny); dx = falloc(nx);
            p.arg = (int32_t *)xmalloc(p.ny * sizeof(int32_t));
            fill_uniform(&rng, p.x, nx, -1, 1);
            fill_uniform(&rng, p.r, p.ny, -1, 1);
            fill_nan(dx, nx);
            if (p.max) {
                CHECK_OK(cnn_maxpool2d_forward(&p.s, p.x, p.y, p.arg));
                CHECK_OK(cnn_maxpool2d_backward(&p.s, p.r, p.arg, dx));
            } else {
                CHECK_OK(cnn_avgpool2d_forward(&p.s, p.x, p.y));
                CHECK_OK(cnn_avgpool2d_backward(&p.s, p.r, dx));
            }
            snprintf(what, sizeof what, "%s pool %s%s: dx", p.max ? "max" : "avg", cfgs[t].name,
                     kind == 2 ? ", count_pad" : "");
            /* Max pooling is piecewise linear: away from its kinks the step h = 1e-3 is exact.
               Every input is checked; at least 75% must be away from a kink. */
            check_tensor(what, pool_loss, &p, p.x, nx, dx, nx, p.max ? 1e-3 : LINEAR_STEP, pool_kink, &rng,
                         LINEAR_RTOL, LINEAR_ATOL, 1e-2, 0.75);
            free(p.x); free(p.y); free(p.r); free(dx); free(p.arg);
        }
    }
}

typedef struct gap_problem { int n, c, hw; float *x, *y, *r; } gap_problem;

static double gap_loss(void *ctx) {
    gap_problem *p = (gap_problem *)ctx;
    cnn_global_avgpool_forward(p->n, p->c, p->hw, p->x, p->y);
    return dot(p->y, p->r, (size_t)p->n * p->c);
}

TEST(global_avgpool_gradients) {
    gap_problem p;
    float *dx;
    size_t nx;
    cnn_rng rng;
    cnn_rng_seed(&rng, 3);
    p.n = 2; p.c = 3; p.hw = 12;
    nx = (size_t)p.n * p.c * p.hw;
    p.x = falloc(nx); p.y = falloc((size_t)p.n * p.c); p.r = falloc((size_t)p.n * p.c); dx = falloc(nx);
    fill_uniform(&rng, p.x, nx, -1, 1);
    fill_uniform(&rng, p.r, (size_t)p.n * p.c, -1, 1);
    fill_nan(dx, nx);
    CHECK_OK(cnn_global_avgpool_backward(p.n, p.c, p.hw, p.r, dx));
    check_tensor("global avg pool: dx", gap_loss, &p, p.x, nx, dx, nx, LINEAR_STEP, NULL, &rng,
                 LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
    free(p.x); free(p.y); free(p.r); free(dx);
}

/* ---- dense --------------------------------------------------------------------------------- */

typedef struct dense_problem { int n, in, out; float *x, *w, *b, *y, *r; } dense_problem;

static double dense_loss(void *ctx) {
    dense_problem *p = (dense_problem *)ctx;
    cnn_dense_forward(p->n, p->in, p->out, p->x, p->w, p->b, p->y);
    return dot(p->y, p->r, (size_t)p->n * p->out);
}

TEST(dense_gradients) {
    static const int shapes[][4] = { { 3, 11, 5, 1 }, { 1, 7, 1, 1 }, { 2, 1, 6, 0 }, { 4, 33, 9, 1 }, { 7, 70, 21, 1 } };
    cnn_rng rng;
    size_t t;
    cnn_rng_seed(&rng, 7);
    for (t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        dense_problem p;
        float *dx, *dw, *db, *dw2;
        size_t nx, nw, ny;
        char what[120];
        p.n = shapes[t][0]; p.in = shapes[t][1]; p.out = shapes[t][2];
        nx = (size_t)p.n * p.in; nw = (size_t)p.out * p.in; ny = (size_t)p.n * p.out;
        p.x = falloc(nx); p.w = falloc(nw); p.y = falloc(ny); p.r = falloc(ny);
        p.b = shapes[t][3] ? falloc((size_t)p.out) : NULL;
        dx = falloc(nx); dw = falloc(nw); dw2 = falloc(nw); db = falloc((size_t)p.out);
        fill_uniform(&rng, p.x, nx, -1, 1);
        fill_uniform(&rng, p.w, nw, -1, 1);
        if (p.b) fill_uniform(&rng, p.b, (size_t)p.out, -1, 1);
        fill_uniform(&rng, p.r, ny, -1, 1);
        fill_nan(dx, nx); fill_nan(dw, nw); fill_nan(db, (size_t)p.out);
        CHECK_OK(cnn_dense_backward_data(p.n, p.in, p.out, p.r, p.w, dx));
        CHECK_OK(cnn_dense_backward_weights(p.n, p.in, p.out, p.x, p.r, dw, db));
        CHECK_OK(cnn_dense_backward_weights(p.n, p.in, p.out, p.x, p.r, dw2, NULL));
        CHECK(memcmp(dw, dw2, nw * sizeof(float)) == 0);
        snprintf(what, sizeof what, "dense %dx%d -> %d: dx", p.n, p.in, p.out);
        check_tensor(what, dense_loss, &p, p.x, nx, dx, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        snprintf(what, sizeof what, "dense %dx%d -> %d: dw", p.n, p.in, p.out);
        check_tensor(what, dense_loss, &p, p.w, nw, dw, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        if (p.b) {
            snprintf(what, sizeof what, "dense %dx%d -> %d: db", p.n, p.in, p.out);
            check_tensor(what, dense_loss, &p, p.b, (size_t)p.out, db, 120, LINEAR_STEP, NULL, &rng, LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
        }
        free(p.x); free(p.w); free(p.b); free(p.y); free(p.r); free(dx); free(dw); free(dw2); free(db);
    }
}

/* ---- activations and dropout --------------------------------------------------------------- */

typedef struct act_problem { cnn_activation act; float alpha; size_t count; float *x, *y, *r; } act_problem;

static double act_loss(void *ctx) {
    act_problem *p = (act_problem *)ctx;
    cnn_activation_forward(p->act, p->alpha, p->count, p->x, p->y);
    return dot(p->y, p->r, p->count);
}

/* ReLU and leaky ReLU bend at 0. */
static int act_kink(void *ctx, size_t index, double h) {
    const act_problem *p = (const act_problem *)ctx;
    return (p->act == CNN_RELU || p->act == CNN_LEAKY_RELU) && fabs(p->x[index]) < 3 * h;
}

TEST(activation_gradients) {
    static const struct { cnn_activation act; float alpha; const char *name; } acts[] = {
        { CNN_RELU, 0.0f, "relu" }, { CNN_LEAKY_RELU, 0.01f, "leaky relu 0.01" }, { CNN_LEAKY_RELU, 0.2f, "leaky relu 0.2" },
        { CNN_SIGMOID, 0.0f, "sigmoid" }, { CNN_TANH, 0.0f, "tanh" }, { CNN_ACT_NONE, 0.0f, "none" },
    };
    enum { COUNT = 300 };
    act_problem p;
    float *dx = falloc(COUNT), *dx2 = falloc(COUNT);
    cnn_rng rng;
    size_t t;
    cnn_rng_seed(&rng, 11);
    p.count = COUNT;
    p.x = falloc(COUNT); p.y = falloc(COUNT); p.r = falloc(COUNT);
    for (t = 0; t < sizeof acts / sizeof acts[0]; t++) {
        char what[80];
        p.act = acts[t].act;
        p.alpha = acts[t].alpha;
        fill_uniform(&rng, p.x, COUNT, -4, 4);
        fill_uniform(&rng, p.r, COUNT, -1, 1);
        CHECK_OK(cnn_activation_forward(p.act, p.alpha, COUNT, p.x, p.y));
        fill_nan(dx, COUNT);
        CHECK_OK(cnn_activation_backward(p.act, p.alpha, COUNT, p.y, p.r, dx));
        memcpy(dx2, p.r, COUNT * sizeof(float));              /* dx may be dy */
        CHECK_OK(cnn_activation_backward(p.act, p.alpha, COUNT, p.y, dx2, dx2));
        CHECK(memcmp(dx, dx2, COUNT * sizeof(float)) == 0);
        snprintf(what, sizeof what, "activation %s: dx", acts[t].name);
        /* h = 1e-2: sigmoid and tanh have |f'''| <= 2, so the truncation error h^2/6 |f'''| is
           below 4e-5; float rounding of f over 2h adds about 6e-8 / 2e-2 = 3e-6 (times |R| <= 1),
           against gradients up to 1: rtol 1e-3 plus atol 1e-4 of the largest. ReLU inputs
           within 3h = 0.03 of the kink are skipped (about 1% of U(-4, 4)). */
        check_tensor(what, act_loss, &p, p.x, COUNT, dx, COUNT, 1e-2, act_kink, &rng, 1e-3, 1e-4, 1e-2, 0.9);
    }
    free(p.x); free(p.y); free(p.r); free(dx); free(dx2);
}

typedef struct drop_problem { size_t count; float rate; int training; uint64_t seed; float *x, *y, *mask, *r; } drop_problem;

static double drop_loss(void *ctx) {
    drop_problem *p = (drop_problem *)ctx;
    cnn_rng rng;
    cnn_rng_seed(&rng, p->seed);            /* the same seed each time: a fixed mask */
    cnn_dropout_forward(p->count, p->rate, p->training, &rng, p->x, p->y, p->mask);
    return dot(p->y, p->r, p->count);
}

TEST(dropout_gradients) {
    enum { COUNT = 200 };
    drop_problem p;
    float *dx = falloc(COUNT), *mask0 = falloc(COUNT);
    cnn_rng rng;
    size_t i, kept = 0;
    cnn_rng_seed(&rng, 13);
    p.count = COUNT; p.rate = 0.4f; p.seed = 555;
    p.x = falloc(COUNT); p.y = falloc(COUNT); p.mask = falloc(COUNT); p.r = falloc(COUNT);
    fill_uniform(&rng, p.x, COUNT, -1, 1);
    fill_uniform(&rng, p.r, COUNT, -1, 1);

    /* Evaluation: the identity, so the gradient is R itself. */
    p.training = 0;
    drop_loss(&p);
    fill_nan(dx, COUNT);
    CHECK_OK(cnn_dropout_backward(COUNT, p.r, p.mask, dx));
    CHECK(memcmp(dx, p.r, COUNT * sizeof(float)) == 0);
    check_tensor("dropout, evaluation: dx", drop_loss, &p, p.x, COUNT, dx, COUNT, LINEAR_STEP, NULL, &rng,
                 LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);

    /* Training with a fixed mask: dx = R * mask, zero where dropped. */
    p.training = 1;
    drop_loss(&p);
    memcpy(mask0, p.mask, COUNT * sizeof(float));
    fill_nan(dx, COUNT);
    CHECK_OK(cnn_dropout_backward(COUNT, p.r, p.mask, dx));
    for (i = 0; i < COUNT; i++) {
        kept += p.mask[i] != 0.0f;
        CHECK(dx[i] == p.r[i] * p.mask[i]);
    }
    CHECK(kept > COUNT / 3 && kept < COUNT - COUNT / 5);        /* some of each */
    check_tensor("dropout, training, fixed mask: dx", drop_loss, &p, p.x, COUNT, dx, COUNT, LINEAR_STEP, NULL, &rng,
                 LINEAR_RTOL, LINEAR_ATOL, 1e-2, 1.0);
    CHECK(memcmp(mask0, p.mask, COUNT * sizeof(float)) == 0);    /* the mask really was fixed */
    free(p.x); free(p.y); free(p.mask); free(p.r); free(dx); free(mask0);
}

/* ---- losses -------------------------------------------------------------------------------- */

typedef struct loss_problem { int n, classes; float *z, *target; int32_t *labels; int mse; } loss_problem;

static double loss_value(void *ctx) {
    loss_problem *p = (loss_problem *)ctx;
    float loss = 0.0f;
    if (p->mse) cnn_mean_squared_error(p->n, p->classes, p->z, p->target, &loss, NULL);
    else cnn_softmax_cross_entropy(p->n, p->classes, p->z, p->labels, &loss, NULL);
    return loss;
}

TEST(loss_gradients) {
    static const float spreads[3] = { 1.0f, 4.0f, 20.0f };   /* mild, confident, saturated logits */
    loss_problem p;
    float *d;
    cnn_rng rng;
    int s, i;
    cnn_rng_seed(&rng, 21);
    p.n = 4; p.classes = 5;
    p.z = falloc(20); p.target = falloc(20); d = falloc(20);
    p.labels = (int32_t *)xmalloc(4 * sizeof(int32_t));
    for (s = 0; s < 3; s++) {
        char what[80];
        float loss = 0.0f;
        fill_uniform(&rng, p.z, 20, -spreads[s], spreads[s]);
        for (i = 0; i < 4; i++) p.labels[i] = (int32_t)cnn_rng_below(&rng, 5);
        p.mse = 0;
        fill_nan(d, 20);
        CHECK_OK(cnn_softmax_cross_entropy(p.n, p.classes, p.z, p.labels, &loss, d));
        CHECK_NEAR(loss, loss_value(&p), 0.0);
        snprintf(what, sizeof what, "softmax cross-entropy, logits +-%g: dlogits", (double)spreads[s]);
        /* The loss comes back in float: its rounding (about 6e-8 of the loss) over 2h = 2e-2
           is a few 1e-6; truncation h^2/6 |L'''| is below 1e-5 (|L'''| <= 1/n here). */
        check_tensor(what, loss_value, &p, p.z, 20, d, 20, 1e-2, NULL, &rng, 1e-2, 1e-3, 1e-2, 1.0);
    }
    p.mse = 1;
    fill_uniform(&rng, p.z, 20, -1, 1);
    fill_uniform(&rng, p.target, 20, -1, 1);
    fill_nan(d, 20);
    CHECK_OK(cnn_mean_squared_error(p.n, p.classes, p.z, p.target, NULL, d));
    /* A quadratic: central differences are exact but for the float rounding of the loss. */
    check_tensor("mean squared error: dpred", loss_value, &p, p.z, 20, d, 20, LINEAR_STEP, NULL, &rng, 1e-3, 1e-3, 1e-2, 1.0);
    free(p.z); free(p.target); free(d); free(p.labels);
}

/* ---- whole networks -------------------------------------------------------------------------- */

/* The loss of the last forward, computed here in double from the network's output: the mean
   softmax cross-entropy, or the mean squared error against one-hot targets. */
static double net_loss(const cnn_net *net, int n, const int32_t *labels) {
    const float *out = cnn_output(net);
    int classes = cnn_net_output_size(net), i, j;
    double total = 0.0;
    for (i = 0; i < n; i++) {
        const float *z = out + (size_t)i * classes;
        if (net->loss == CNN_LOSS_SOFTMAX_CROSS_ENTROPY) {
            double m = z[0], sum = 0.0;
            for (j = 1; j < classes; j++) if (z[j] > m) m = z[j];
            for (j = 0; j < classes; j++) sum += exp((double)z[j] - m);
            total += m + log(sum) - z[labels[i]];
        } else {
            for (j = 0; j < classes; j++) {
                double d = (double)z[j] - (labels[i] == j ? 1.0 : 0.0);
                total += d * d / classes;
            }
        }
    }
    return total / n;
}

/* Where the piecewise-linear parts of the network are: the sign of every (leaky) ReLU output
   and the choice of every max-pool window. A finite-difference step that changes any of these
   crossed a kink; such points are skipped. Returns the number of entries written (pat NULL:
   only counts). */
static size_t net_pattern(const cnn_net *net, int n, int32_t *pat) {
    size_t k = 0, j, count;
    int i;
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        count = (size_t)n * l->out_c * l->out_h * l->out_w;
        if ((l->act == CNN_RELU || l->act == CNN_LEAKY_RELU) &&
            (l->kind == CNN_LAYER_CONV || l->kind == CNN_LAYER_DENSE || l->kind == CNN_LAYER_ACTIVATION)) {
            for (j = 0; j < count; j++, k++) if (pat) pat[k] = l->out[j] > 0.0f;
        } else if (l->kind == CNN_LAYER_POOL && l->pool_kind == CNN_POOL_MAX) {
            for (j = 0; j < count; j++, k++) if (pat) pat[k] = l->argmax[j];
        }
    }
    return k;
}

typedef struct net_run {
    cnn_net *net;
    const float *x;
    const int32_t *labels;
    const float *r;               /* not NULL: the loss is sum(output * r) (cnn_backward_from) */
    int n, training;
    cnn_rng rng0;                 /* the dropout stream of the analytic run */
    int32_t *pattern;
} net_run;

/* A forward pass as in the analytic run (same mode; in training the same dropout mask, by
   restoring the network's generator) and its loss. */
static double net_eval(net_run *run) {
    cnn_status st;
    run->net->rng = run->rng0;
    st = cnn_forward(run->net, run->x, run->n, run->training);
    CHECKF(st == CNN_OK, "forward: %s", cnn_last_error());
    net_pattern(run->net, run->n, run->pattern);
    if (run->r) return dot(cnn_output(run->net), run->r, (size_t)run->n * cnn_net_output_size(run->net));
    return net_loss(run->net, run->n, run->labels);
}

/* Network steps are relative, h = step * max(1, |w|). The loss is computed in double from a
   float forward whose rounding, about 1e-7 of the loss, over 2h is 5e-5 absolute for
   h = 1e-3; curvature (sigmoid, tanh, softmax) adds h^2/6 |L'''|. Networks with kinks (ReLU,
   max pooling) take h = 1e-3 so few points are skipped; smooth ones take h = 1e-2, which
   divides the rounding noise by 10 for the small gradients of their first layers. Hence
   rtol 1e-2 and atol 2e-2 of the tensor's largest gradient. Most points (80% over a network)
   must be away from kinks. */
#define NET_STEP_KINKS 1e-3
#define NET_STEP_SMOOTH 1e-2
#define NET_RTOL 1e-2
#define NET_ATOL 2e-2

/* Builds the described network, checks every parameter gradient of one batch of n images,
   and frees it (the description stays). from_output: backpropagate a random R through
   cnn_backward_from, the loss being sum(output * R), instead of cnn_backward's loss. */
static void check_net(const char *name, cnn_net *net, int n, int training, uint64_t seed, int from_output) {
    cnn_rng rng;
    float *x, *r, *dx, loss = -1.0f;
    int32_t *labels, *base_pattern;
    float *grads[CNN_MAX_LAYERS][2];
    size_t in_size = (size_t)net->in_c * net->in_h * net->in_w, pat_len;
    int classes = cnn_net_output_size(net), i, t, tried = 0, checked = 0;
    double base, step;
    net_run run;
    cnn_build_opts bo;

    memset(&bo, 0, sizeof bo);
    bo.max_batch = 4;
    bo.seed = seed;
    CHECKF(cnn_net_build(net, &bo) == CNN_OK, "%s: build: %s", name, cnn_last_error());
    if (!net->built) return;
    cnn_rng_seed(&rng, seed + 1);
    for (i = 0; i < net->layer_count; i++)          /* nonzero biases, so they matter too */
        if (net->layers[i].b) fill_uniform(&rng, net->layers[i].b, net->layers[i].bias_count, -0.2f, 0.2f);
    x = falloc((size_t)n * in_size);
    labels = (int32_t *)xmalloc((size_t)n * sizeof(int32_t));
    r = falloc((size_t)n * classes);
    fill_uniform(&rng, x, (size_t)n * in_size, -1, 1);
    fill_uniform(&rng, r, (size_t)n * classes, -1, 1);
    for (i = 0; i < n; i++) labels[i] = (int32_t)cnn_rng_below(&rng, (uint32_t)classes);

    /* The analytic run. */
    run.net = net; run.x = x; run.labels = labels; run.n = n; run.training = training; run.rng0 = net->rng;
    run.r = from_output ? r : NULL;
    CHECKF(cnn_forward(net, x, n, training) == CNN_OK, "%s: forward: %s", name, cnn_last_error());
    if (from_output) CHECKF(cnn_backward_from(net, r) == CNN_OK, "%s: backward_from: %s", name, cnn_last_error());
    else CHECKF(cnn_backward(net, labels, &loss) == CNN_OK, "%s: backward: %s", name, cnn_last_error());
    memset(grads, 0, sizeof grads);
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        if (l->weight_count) {
            grads[i][0] = falloc(l->weight_count);
            memcpy(grads[i][0], l->dw, l->weight_count * sizeof(float));
        }
        if (l->bias_count) {
            grads[i][1] = falloc(l->bias_count);
            memcpy(grads[i][1], l->db, l->bias_count * sizeof(float));
        }
    }
    /* Backward again from the same forward: the gradients are overwritten, not accumulated. */
    if (from_output) CHECK_OK(cnn_backward_from(net, r));
    else CHECK_OK(cnn_backward(net, labels, NULL));
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        CHECKF(!l->weight_count || memcmp(grads[i][0], l->dw, l->weight_count * sizeof(float)) == 0,
               "%s: layer %d: a second backward changed dw", name, i);
        CHECKF(!l->bias_count || memcmp(grads[i][1], l->db, l->bias_count * sizeof(float)) == 0,
               "%s: layer %d: a second backward changed db", name, i);
    }
    /* dL/dx on request, from what the backward pass left (checked below with the parameters) */
    dx = falloc((size_t)n * in_size);
    CHECKF(cnn_input_gradient(net, dx) == CNN_OK, "%s: input gradient: %s", name, cnn_last_error());
    pat_len = net_pattern(net, n, NULL);
    run.pattern = (int32_t *)xmalloc((pat_len ? pat_len : 1) * sizeof(int32_t));
    base_pattern = (int32_t *)xmalloc((pat_len ? pat_len : 1) * sizeof(int32_t));
    net_pattern(net, n, base_pattern);
    step = pat_len ? NET_STEP_KINKS : NET_STEP_SMOOTH;

    /* The same forward again gives the same loss, the one backward reported. */
    base = net_eval(&run);
    if (!from_output)
        CHECKF(fabs(base - loss) <= 1e-5 * fmax(1.0, fabs(base)), "%s: backward's loss %.9g, recomputed %.9g", name, (double)loss, base);
    CHECKF(!pat_len || memcmp(run.pattern, base_pattern, pat_len * sizeof(int32_t)) == 0,   /* (no pattern: nothing to read) */
           "%s: the repeated forward took other kinks (dropout mask not fixed?)", name);

    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        for (t = 0; t < 2; t++) {
            float *param = t ? l->b : l->w;
            size_t count = t ? l->bias_count : l->weight_count, idx[30], m, k;
            char what[200];
            gstats g;
            if (!count) continue;
            snprintf(what, sizeof what, "net %s: layer %d (%s) %s", name, i,
                     l->kind == CNN_LAYER_CONV ? "conv" : "dense", t ? "db" : "dw");
            gc_begin(&g, what, grads[i][t], count, NET_RTOL, NET_ATOL);
            m = pick_indices(&rng, count, 30, idx);
            for (k = 0; k < m; k++) {
                float v = param[idx[k]], vp, vm;
                double h = step * fmax(1.0, fabs(v)), lp, lm;
                int kink;
                vp = (float)(v + h);
                vm = (float)(v - h);
                param[idx[k]] = vp;
                lp = net_eval(&run);
                kink = memcmp(run.pattern, base_pattern, pat_len * sizeof(int32_t)) != 0;
                param[idx[k]] = vm;
                lm = net_eval(&run);
                kink |= memcmp(run.pattern, base_pattern, pat_len * sizeof(int32_t)) != 0;
                param[idx[k]] = v;
                if (kink) { g.skipped++; continue; }
                gc_point(&g, idx[k], grads[i][t][idx[k]], (lp - lm) / ((double)vp - (double)vm));
            }
            gc_end(&g, 1e-3, 0.0);           /* at least one point checked, and nonzero */
            tried += g.checked + g.skipped;
            checked += g.checked;
        }
    }
    {   /* the input gradient, point by point like a parameter (steps absolute: x is in [-1, 1]) */
        size_t idx[30], m, k;
        char what[200];
        gstats g;
        snprintf(what, sizeof what, "net %s: input gradient dx", name);
        gc_begin(&g, what, dx, (size_t)n * in_size, NET_RTOL, NET_ATOL);
        m = pick_indices(&rng, (size_t)n * in_size, 30, idx);
        for (k = 0; k < m; k++) {
            float v = x[idx[k]], vp = (float)(v + step), vm = (float)(v - step);
            double lp, lm;
            int kink;
            x[idx[k]] = vp;
            lp = net_eval(&run);
            kink = memcmp(run.pattern, base_pattern, pat_len * sizeof(int32_t)) != 0;
            x[idx[k]] = vm;
            lm = net_eval(&run);
            kink |= memcmp(run.pattern, base_pattern, pat_len * sizeof(int32_t)) != 0;
            x[idx[k]] = v;
            if (kink) { g.skipped++; continue; }
            gc_point(&g, idx[k], dx[idx[k]], (lp - lm) / ((double)vp - (double)vm));
        }
        /* Through a deep sigmoid network dx is small (1e-3): the guard is lower, and still
           far above the finite differences' noise (about 5e-6 at these steps). */
        gc_end(&g, 1e-4, 0.0);
        tried += g.checked + g.skipped;
        checked += g.checked;
    }
    CHECKF(checked >= 0.8 * tried, "net %s: only %d of %d points checked, the rest on kinks", name, checked, tried);
    if (verbose) printf("     net %s: %d of %d points checked, %d on kinks\n", name, checked, tried, tried - checked);
    for (i = 0; i < net->layer_count; i++) { free(grads[i][0]); free(grads[i][1]); }
    free(x); free(dx); free(r); free(labels); free(run.pattern); free(base_pattern);
    cnn_net_free(net);
}

static cnn_net test_net;   /* a cnn_net is a few kilobytes: not on the stack */

static void net_begin(int c, int h, int w, cnn_loss loss) {
    cnn_net_opts o;
    memset(&o, 0, sizeof o);
    o.channels = c; o.height = h; o.width = w; o.loss = loss;
    CHECK_OK(cnn_net_init(&test_net, &o));
}

TEST(net_conv_relu_maxpool_ceil_dense) {
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    net_begin(2, 9, 8, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.kernel = 3; conv.activation = CNN_RELU;            /* valid: 4x7x6 */
    CHECK_OK(cnn_add_conv(&test_net, &conv));
    memset(&pool, 0, sizeof pool);
    pool.kind = CNN_POOL_MAX; pool.size = 2; pool.ceil_mode = 1;               /* 4x4x3 */
    CHECK_OK(cnn_add_pool(&test_net, &pool));
    memset(&conv, 0, sizeof conv);
    conv.filters = 3; conv.kernel_h = 2; conv.kernel_w = 3; conv.stride = 2;
    conv.padding = CNN_PAD_SAME; conv.activation = CNN_LEAKY_RELU; conv.alpha = 0.1f;   /* 3x2x2 */
    CHECK_OK(cnn_add_conv(&test_net, &conv));
    CHECK_OK(cnn_add_flatten(&test_net));
    memset(&dense, 0, sizeof dense);
    dense.units = 6; dense.activation = CNN_TANH;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    memset(&dense, 0, sizeof dense);
    dense.units = 4;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(test_net.layers[1].out_h == 4 && test_net.layers[1].out_w == 3);
    CHECK(test_net.layers[2].out_h == 2 && test_net.layers[2].out_w == 2);
    check_net("conv relu, maxpool ceil, conv same 2x3/2 leaky, flatten, dense tanh, dense; CE", &test_net, 3, 0, 101, 0);
    check_net("the same, through cnn_backward_from", &test_net, 3, 0, 111, 1);
}

TEST(net_full_dilated_sigmoid_avgpool_explicit_gap) {
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    net_begin(1, 8, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&conv, 0, sizeof conv);
    conv.filters = 3; conv.kernel = 3; conv.dilation = 2; conv.padding = CNN_PAD_FULL; conv.activation = CNN_SIGMOID;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 3x12x11 */
    memset(&pool, 0, sizeof pool);
    pool.kind = CNN_POOL_AVG; pool.size = 3; pool.stride = 2; pool.pad = 1; pool.ceil_mode = 1; pool.count_pad = 1;
    CHECK_OK(cnn_add_pool(&test_net, &pool));                                   /* 3x7x6 */
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.kernel = 3; conv.stride_w = 2; conv.padding = CNN_PAD_EXPLICIT;
    conv.pad_top = 1; conv.pad_bottom = 0; conv.pad_left = 2; conv.pad_right = 1;
    conv.no_bias = 1; conv.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 4x6x4 */
    CHECK_OK(cnn_add_global_avg_pool(&test_net));
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(test_net.layers[0].out_h == 12 && test_net.layers[0].out_w == 11);
    CHECK(test_net.layers[1].out_h == 7 && test_net.layers[1].out_w == 6);
    CHECK(test_net.layers[2].out_h == 6 && test_net.layers[2].out_w == 4);
    check_net("conv full dil 2 sigmoid, avgpool ceil count_pad, conv explicit tanh no bias, gap, dense; CE",
              &test_net, 3, 0, 202, 0);
}

TEST(net_stride3_relu_layer_dropout_eval_mse) {
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    net_begin(3, 7, 10, CNN_LOSS_MSE);
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.kernel = 3; conv.stride = 3; conv.padding = CNN_PAD_SAME;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 4x3x4 */
    CHECK_OK(cnn_add_activation(&test_net, CNN_RELU, 0.0f));
    CHECK_OK(cnn_add_dropout(&test_net, 0.3f));
    memset(&pool, 0, sizeof pool);
    pool.kind = CNN_POOL_MAX; pool.size = 2; pool.stride = 1;                  /* overlapping: 4x2x3 */
    CHECK_OK(cnn_add_pool(&test_net, &pool));
    memset(&dense, 0, sizeof dense);
    dense.units = 5; dense.activation = CNN_SIGMOID;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK_OK(cnn_add_dropout(&test_net, 0.2f));
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(test_net.layers[0].out_h == 3 && test_net.layers[0].out_w == 4);
    check_net("conv same /3, relu layer, dropout (eval), maxpool /1, dense sigmoid, dropout, dense; MSE",
              &test_net, 3, 0, 303, 0);
}

TEST(net_dilated_strided_leaky_avgpool_dropout_training) {
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    net_begin(2, 8, 9, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&conv, 0, sizeof conv);
    conv.filters = 3; conv.kernel = 3; conv.dilation_h = 2; conv.stride_w = 2; conv.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 3x4x4 */
    CHECK_OK(cnn_add_activation(&test_net, CNN_LEAKY_RELU, 0.2f));
    memset(&pool, 0, sizeof pool);
    pool.kind = CNN_POOL_AVG; pool.size = 3; pool.stride = 2; pool.pad = 1; pool.ceil_mode = 1;   /* 3x3x3 */
    CHECK_OK(cnn_add_pool(&test_net, &pool));
    CHECK_OK(cnn_add_dropout(&test_net, 0.25f));
    memset(&dense, 0, sizeof dense);
    dense.units = 4; dense.activation = CNN_RELU;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(test_net.layers[0].out_h == 4 && test_net.layers[0].out_w == 4);
    CHECK(test_net.layers[2].out_h == 3 && test_net.layers[2].out_w == 3);
    /* Training mode: dropout draws a mask; every finite-difference forward restores the
       network's generator first, so it draws the same mask (a fixed mask). */
    check_net("conv dil 2x1 /1x2 tanh, leaky layer, avgpool ceil, dropout (training), dense relu, dense; CE",
              &test_net, 3, 1, 404, 0);
}

TEST(net_single_dense_mse_and_batch_one) {
    cnn_dense_opts dense;
    cnn_conv_opts conv;
    net_begin(1, 3, 4, CNN_LOSS_MSE);
    memset(&dense, 0, sizeof dense);
    dense.units = 5;
    CHECK_OK(cnn_add_dense(&test_net, &dense));                                 /* flattens 1x3x4 */
    check_net("dense on an image (implicit flatten); MSE", &test_net, 2, 0, 505, 0);
    net_begin(2, 5, 5, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&conv, 0, sizeof conv);
    conv.filters = 3; conv.kernel = 5; conv.padding = CNN_PAD_VALID; conv.activation = CNN_SIGMOID;   /* 3x1x1 */
    CHECK_OK(cnn_add_conv(&test_net, &conv));
    CHECK_OK(cnn_add_flatten(&test_net));
    memset(&dense, 0, sizeof dense);
    dense.units = 2;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    check_net("conv to 1x1 sigmoid, flatten, dense; CE; batch of 1", &test_net, 1, 0, 606, 0);
}

TEST(net_parameterless_first_and_last_layers) {
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    /* Layers without parameters at the ends: the first layer's input gradient is never
       needed, and the loss may sit on an activation layer. */
    net_begin(3, 8, 8, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    CHECK_OK(cnn_add_dropout(&test_net, 0.5f));
    memset(&pool, 0, sizeof pool);
    pool.kind = CNN_POOL_MAX; pool.size = 3; pool.stride = 2; pool.pad = 1; pool.ceil_mode = 1;    /* 3x4x4 */
    CHECK_OK(cnn_add_pool(&test_net, &pool));
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.kernel = 3; conv.padding = CNN_PAD_SAME; conv.activation = CNN_RELU;
    CHECK_OK(cnn_add_conv(&test_net, &conv));
    CHECK_OK(cnn_add_global_avg_pool(&test_net));
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    check_net("dropout (training) first, maxpool ceil, conv same relu, gap, dense; CE", &test_net, 2, 1, 707, 0);

    net_begin(1, 6, 6, CNN_LOSS_MSE);
    memset(&conv, 0, sizeof conv);
    conv.filters = 2; conv.kernel = 3;
    CHECK_OK(cnn_add_conv(&test_net, &conv));
    CHECK_OK(cnn_add_flatten(&test_net));
    memset(&dense, 0, sizeof dense);
    dense.units = 4;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK_OK(cnn_add_activation(&test_net, CNN_SIGMOID, 0.0f));
    check_net("conv, flatten, dense, sigmoid layer last; MSE", &test_net, 3, 0, 808, 0);
}

/* cnn_input_gradient through every kind of first layer that the nets above do not start with
   (conv, dense and dropout do): max and average pooling, global pooling, an activation layer,
   flatten; and its refusals. */
TEST(input_gradient_through_each_first_layer) {
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    float x[2 * 2 * 5 * 5], dx[2 * 2 * 5 * 5];
    int32_t labels[2] = { 0, 1 };
    int kind;
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    for (kind = 0; kind < 5; kind++) {
        static const char *names[5] = { "maxpool first, dense", "avgpool first, dense", "gap first, dense",
                                         "tanh layer first, dense", "flatten first, dense" };
        net_begin(2, 5, 5, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
        memset(&pool, 0, sizeof pool);
        pool.kind = kind == 1 ? CNN_POOL_AVG : CNN_POOL_MAX; pool.size = 2; pool.stride = 1;
        if (kind < 2) CHECK_OK(cnn_add_pool(&test_net, &pool));
        if (kind == 2) CHECK_OK(cnn_add_global_avgpool(&test_net));
        if (kind == 3) CHECK_OK(cnn_add_activation(&test_net, CNN_ACT_TANH, 0.0f));
        if (kind == 4) CHECK_OK(cnn_add_flatten(&test_net));
        CHECK_OK(cnn_add_dense(&test_net, &dense));
        check_net(names[kind], &test_net, 2, 0, 900 + (uint64_t)kind, 0);
    }
    /* refusals: before a backward, after a new forward, without gradients, NULL */
    {
        cnn_build_opts b;
        memset(&b, 0, sizeof b); b.max_batch = 2;
        memset(x, 0, sizeof x);
        x[3] = 1.0f;
        CHECK_OK(cnn_net_build(&test_net, &b));
        CHECK_STATUS(cnn_input_gradient(&test_net, dx), CNN_ERR_STATE);
        CHECK_OK(cnn_forward(&test_net, x, 2, 1));
        CHECK_STATUS(cnn_input_gradient(&test_net, dx), CNN_ERR_STATE);
        CHECK(strstr(cnn_last_error(), "cnn_backward first") != NULL);
        CHECK_OK(cnn_backward(&test_net, labels, NULL));
        CHECK_STATUS(cnn_input_gradient(&test_net, NULL), CNN_ERR_INVALID_ARGUMENT);
        CHECK_OK(cnn_input_gradient(&test_net, dx));
        CHECK_OK(cnn_forward(&test_net, x, 1, 1));      /* a new forward: the old backward is gone */
        CHECK_STATUS(cnn_input_gradient(&test_net, dx), CNN_ERR_STATE);
        cnn_net_free(&test_net);
        b.inference_only = 1;
        CHECK_OK(cnn_net_build(&test_net, &b));
        CHECK_OK(cnn_forward(&test_net, x, 1, 0));
        CHECK_STATUS(cnn_input_gradient(&test_net, dx), CNN_ERR_STATE);
        CHECK_STATUS(cnn_input_gradient(NULL, dx), CNN_ERR_INVALID_ARGUMENT);
        cnn_net_free(&test_net);
    }
}

/* Grouped and depthwise convolution layers (groups = 3 with 2 channels a group; depthwise
   with a channel multiplier of 2) and a grouped layer with explicit Winograd run per group. */
TEST(net_grouped_and_depthwise_conv) {
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    net_begin(3, 8, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&conv, 0, sizeof conv);
    conv.filters = 6; conv.kernel = 3; conv.padding = CNN_PAD_SAME; conv.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 6x8x7 */
    memset(&conv, 0, sizeof conv);
    conv.filters = 9; conv.kernel = 3; conv.groups = 3; conv.stride = 2; conv.padding = CNN_PAD_SAME;
    conv.activation = CNN_SIGMOID;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* 9x4x4, groups of 3 -> 3 */
    memset(&conv, 0, sizeof conv);
    conv.filters = 18; conv.kernel = 3; conv.groups = 9; conv.padding = CNN_PAD_SAME; conv.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* depthwise x2: 18x4x4 */
    memset(&conv, 0, sizeof conv);
    conv.filters = 6; conv.kernel = 3; conv.groups = 2; conv.padding = CNN_PAD_SAME; conv.algo = CNN_CONV_WINOGRAD_2X2;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                   /* Winograd per group */
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(cnn_net_param_count(&test_net) == (size_t)(6 * 27 + 6) + (9 * 18 + 9) + (18 * 9 + 18) + (6 * 81 + 6) + (96 * 3 + 3));
    check_net("conv tanh, grouped /2 sigmoid, depthwise x2 tanh, grouped Winograd, dense; CE", &test_net, 3, 0, 303, 0);
}

/* Transposed convolution layers: stride 2 with output padding and groups (an encoder and
   decoder), then dilation with a stride-1 Winograd-sized one, a first layer included (its
   input gradient: the convolution's forward). */
TEST(net_conv_transpose) {
    cnn_conv_opts conv;
    cnn_conv_transpose_opts t;
    cnn_dense_opts dense;
    net_begin(2, 7, 6, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    memset(&t, 0, sizeof t);
    t.filters = 4; t.kernel = 2; t.stride = 1; t.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv_transpose(&test_net, &t));                          /* 4x8x7 */
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.kernel = 3; conv.stride = 2; conv.padding = CNN_PAD_SAME; conv.activation = CNN_SIGMOID;
    CHECK_OK(cnn_add_conv(&test_net, &conv));                                 /* 4x4x4 */
    memset(&t, 0, sizeof t);
    t.filters = 6; t.kernel = 3; t.stride = 2; t.pad = 1; t.output_padding = 1; t.groups = 2; t.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv_transpose(&test_net, &t));                          /* 6x8x8 */
    memset(&t, 0, sizeof t);
    t.filters = 3; t.kernel = 3; t.dilation = 2; t.pad = 2; t.no_bias = 1;
    CHECK_OK(cnn_add_conv_transpose(&test_net, &t));                          /* 3x8x8 */
    memset(&dense, 0, sizeof dense);
    dense.units = 3;
    CHECK_OK(cnn_add_dense(&test_net, &dense));
    CHECK(test_net.layers[0].out_h == 8 && test_net.layers[0].out_w == 7);
    CHECK(test_net.layers[2].out_h == 8 && test_net.layers[2].out_w == 8);
    CHECK(test_net.layers[3].out_h == 8 && test_net.layers[3].out_w == 8);
    CHECK(cnn_net_param_count(&test_net) == (size_t)(2 * 4 * 4 + 4) + (4 * 36 + 4) + (4 * 3 * 9 + 6) + (6 * 3 * 9) + (192 * 3 + 3));
    check_net("convT 2x2 tanh, conv /2 sigmoid, convT /2 out pad 1 groups 2 tanh, convT dil 2, dense; CE", &test_net, 3, 0, 404, 0);
    check_net("the same, through cnn_backward_from", &test_net, 2, 0, 414, 1);
}

int main(void) {
    const char *v = getenv("TEST_GRAD_VERBOSE");
    verbose = v && *v && *v != '0';
    RUN(conv2d_gradients);
    RUN(pool_gradients);
    RUN(global_avgpool_gradients);
    RUN(dense_gradients);
    RUN(activation_gradients);
    RUN(dropout_gradients);
    RUN(loss_gradients);
    RUN(net_conv_relu_maxpool_ceil_dense);
    RUN(net_full_dilated_sigmoid_avgpool_explicit_gap);
    RUN(net_stride3_relu_layer_dropout_eval_mse);
    RUN(net_dilated_strided_leaky_avgpool_dropout_training);
    RUN(net_single_dense_mse_and_batch_one);
    RUN(net_parameterless_first_and_last_layers);
    RUN(input_gradient_through_each_first_layer);
    RUN(net_grouped_and_depthwise_conv);
    RUN(net_conv_transpose);
    return harness_report();
}
