/* test_batchnorm.c - batch normalization: the plain functions against a double-precision
   reference (forward, and backward against central differences of that reference, on
   awkward shapes), the running statistics against values worked out by hand, evaluation
   mode, the refusals (one value per channel in training, bad eps and momentum), the network
   layer (gradients through it, thread counts 1/2/3/7 bit for bit, rebuilds, shared weights,
   the optimizer leaving the running statistics alone, save and load) and folding into the
   convolution before it. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- a double-precision reference ---------------------------------------------------------- */

/* Training forward in double: y (n*c*hw), and the batch mean and biased variance per channel. */
static void ref_train(int n, int c, int hw, double eps, const double *x, const double *gamma, const double *beta,
                      double *y, double *mean, double *var) {
    int k, i, j;
    for (k = 0; k < c; k++) {
        double s = 0.0, q = 0.0, m = (double)n * hw, inv;
        for (i = 0; i < n; i++) for (j = 0; j < hw; j++) s += x[((size_t)i * c + k) * hw + j];
        s /= m;
        for (i = 0; i < n; i++) for (j = 0; j < hw; j++) { double d = x[((size_t)i * c + k) * hw + j] - s; q += d * d; }
        q /= m;
        inv = 1.0 / sqrt(q + eps);
        for (i = 0; i < n; i++)
            for (j = 0; j < hw; j++) {
                size_t at = ((size_t)i * c + k) * hw + j;
                y[at] = (x[at] - s) * inv * gamma[k] + beta[k];
            }
        if (mean) mean[k] = s;
        if (var) var[k] = q;
    }
}

/* The loss sum(y * r) of the reference forward. */
static double ref_loss(int n, int c, int hw, double eps, const double *x, const double *gamma, const double *beta,
                       const double *r, double *scratch) {
    size_t i, count = (size_t)n * c * hw;
    double total = 0.0;
    ref_train(n, c, hw, eps, x, gamma, beta, scratch, NULL, NULL);
    for (i = 0; i < count; i++) total += scratch[i] * r[i];
    return total;
}

static double *to_double(const float *p, size_t n) {
    double *d = (double *)malloc((n ? n : 1) * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) d[i] = p[i];
    return d;
}

/* Every shape of C 1, 3, 7 and H, W 1, 5, 7, with batches 1, 2, 3 (training needs n*h*w >= 2). */
TEST(plain_forward_and_backward_against_reference) {
    static const int cs[] = {1, 3, 7}, sides[] = {1, 5, 7}, ns[] = {1, 2, 3};
    cnn_rng rng;
    int a, b, d, e, shapes = 0;
    cnn_rng_seed(&rng, 17);
    for (a = 0; a < 3; a++) for (b = 0; b < 3; b++) for (d = 0; d < 3; d++) for (e = 0; e < 3; e++) {
        const int c = cs[a], h = sides[b], w = sides[d], n = ns[e], hw = h * w;
        const size_t count = (size_t)n * c * hw;
        const float eps = 1e-5f, momentum = 0.1f;
        float *x, *gamma, *beta, *rm, *rv, *y, *sm, *si, *dy, *dx, *dg, *db;
        double *xd, *gd, *bd, *rd, *yd, *md, *vd, *scratch, worst = 0.0, scale = 0.0;
        size_t i;
        int k;
        if ((size_t)n * hw < 2) continue;
        shapes++;
        x = random_floats(&rng, count);
        gamma = random_floats(&rng, (size_t)c);
        beta = random_floats(&rng, (size_t)c);
        rm = random_floats(&rng, (size_t)c);
        rv = random_floats(&rng, (size_t)c);
        dy = random_floats(&rng, count);
        for (k = 0; k < c; k++) { gamma[k] += 1.5f; rv[k] += 1.5f; x[k * hw] += 3.0f * (float)k; }   /* means apart from 0 */
        y = random_floats(&rng, count); sm = random_floats(&rng, (size_t)c); si = random_floats(&rng, (size_t)c);
        dx = random_floats(&rng, count); dg = random_floats(&rng, (size_t)c); db = random_floats(&rng, (size_t)c);
        xd = to_double(x, count); gd = to_double(gamma, (size_t)c); bd = to_double(beta, (size_t)c); rd = to_double(dy, count);
        yd = (double *)malloc(count * sizeof(double)); scratch = (double *)malloc(count * sizeof(double));
        md = (double *)malloc((size_t)c * sizeof(double)); vd = (double *)malloc((size_t)c * sizeof(double));
        {
            float *rm0 = (float *)malloc((size_t)c * sizeof(float)), *rv0 = (float *)malloc((size_t)c * sizeof(float));
            memcpy(rm0, rm, (size_t)c * sizeof(float));
            memcpy(rv0, rv, (size_t)c * sizeof(float));
            CHECK_OK(cnn_batchnorm_forward_train(n, c, hw, eps, momentum, x, gamma, beta, rm, rv, y, sm, si));
            ref_train(n, c, hw, eps, xd, gd, bd, yd, md, vd);
            for (i = 0; i < count; i++) worst = fmax(worst, fabs(y[i] - yd[i]));
            CHECKF(worst < 2e-5, "n %d c %d %dx%d: forward differs from the reference by %g", n, c, h, w, worst);
            for (k = 0; k < c; k++) {
                const double m = (double)n * hw;
                CHECK_NEAR(sm[k], md[k], 1e-6 * (1.0 + fabs(md[k])));
                CHECK_NEAR(si[k], 1.0 / sqrt(vd[k] + eps), 1e-6 / sqrt(vd[k] + eps));
                CHECK_NEAR(rm[k], 0.9 * rm0[k] + 0.1 * md[k], 1e-6 * (1.0 + fabs(rm[k])));
                CHECK_NEAR(rv[k], 0.9 * rv0[k] + 0.1 * vd[k] * m / (m - 1.0), 1e-6 * (1.0 + fabs(rv[k])));
            }
            free(rm0); free(rv0);
        }
        /* backward: dx, dgamma, dbeta against central differences of sum(y * dy) in double */
        CHECK_OK(cnn_batchnorm_backward(n, c, hw, 1, x, dy, gamma, sm, si, dx, dg, db));
        worst = 0.0;
        for (k = 0; k < c; k++) {
            const double h0 = 1e-5;
            double save = gd[k], lp, lm;
            gd[k] = save + h0; lp = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            gd[k] = save - h0; lm = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            gd[k] = save;
            worst = fmax(worst, fabs(dg[k] - (lp - lm) / (2 * h0)) / (1.0 + fabs(dg[k])));
            scale = fmax(scale, fabs(dg[k]));
            save = bd[k];
            bd[k] = save + h0; lp = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            bd[k] = save - h0; lm = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            bd[k] = save;
            worst = fmax(worst, fabs(db[k] - (lp - lm) / (2 * h0)) / (1.0 + fabs(db[k])));
        }
        CHECKF(worst < 1e-4, "n %d c %d %dx%d: dgamma or dbeta differ from the differences by %g", n, c, h, w, worst);
        CHECKF(scale > 1e-3, "n %d c %d %dx%d: dgamma all near zero (%g): nothing tested", n, c, h, w, scale);
        worst = scale = 0.0;
        for (i = 0; i < count; i++) {   /* every value: dx couples all of a channel */
            const double h0 = 1e-5, save = xd[i];
            double lp, lm, num;
            xd[i] = save + h0; lp = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            xd[i] = save - h0; lm = ref_loss(n, c, hw, eps, xd, gd, bd, rd, scratch);
            xd[i] = save;
            num = (lp - lm) / (2 * h0);
            worst = fmax(worst, fabs(dx[i] - num));
            scale = fmax(scale, fabs(num));
        }
        /* With two values a channel's xhat is +-1 whatever x is: dx is near 0 (only eps
           keeps it from 0), and checked against the differences all the same. */
        CHECKF(worst <= 1e-4 * fmax(1.0, scale), "n %d c %d %dx%d: dx differs from the differences by %g (largest %g)", n, c, h, w, worst, scale);
        CHECKF((size_t)n * hw == 2 || scale > 1e-2, "n %d c %d %dx%d: dx all near zero: nothing tested", n, c, h, w);
        /* evaluation mode: the running statistics, and dx = dy * gamma / sqrt(var + eps) */
        CHECK_OK(cnn_batchnorm_forward_eval(n, c, hw, eps, x, gamma, beta, rm, rv, y));
        worst = 0.0;
        for (i = 0; i < count; i++) {
            const int ch = (int)(i / (size_t)hw % (size_t)c);
            const double inv = 1.0 / sqrt((double)rv[ch] + eps), want = ((double)x[i] - rm[ch]) * inv * gamma[ch] + beta[ch];
            worst = fmax(worst, fabs(y[i] - want));
            sm[ch] = rm[ch];
            si[ch] = (float)inv;
        }
        CHECKF(worst < 1e-5, "n %d c %d %dx%d: evaluation differs by %g", n, c, h, w, worst);
        CHECK_OK(cnn_batchnorm_backward(n, c, hw, 0, x, dy, gamma, sm, si, dx, dg, db));
        worst = 0.0;
        for (i = 0; i < count; i++) {
            const int ch = (int)(i / (size_t)hw % (size_t)c);
            worst = fmax(worst, fabs(dx[i] - (double)dy[i] * gamma[ch] * si[ch]));
        }
        CHECKF(worst < 1e-5, "n %d c %d %dx%d: evaluation dx differs by %g", n, c, h, w, worst);
        free(x); free(gamma); free(beta); free(rm); free(rv); free(y); free(sm); free(si); free(dy); free(dx); free(dg); free(db);
        free(xd); free(gd); free(bd); free(rd); free(yd); free(md); free(vd); free(scratch);
    }
    CHECK(shapes == 78);   /* 81 shapes, less the 3 of one value per channel (n 1, 1x1) */
}

/* x = 1, 2 | 3, 4 (two images of one channel of 1 x 2): mean 2.5, biased variance 1.25,
   unbiased 5/3. From the defaults (0, 1) with momentum 0.1: 0.25 and 0.9 + 1/6. */
TEST(running_statistics_by_hand) {
    const float x[4] = {1, 2, 3, 4};
    float y[4], rm = 0.0f, rv = 1.0f, sm, si;
    int i;
    CHECK_OK(cnn_batchnorm_forward_train(2, 1, 2, 1e-5f, 0.1f, x, NULL, NULL, &rm, &rv, y, &sm, &si));
    CHECK_NEAR(rm, 0.25, 1e-7);
    CHECK_NEAR(rv, 0.9 + 0.1 * 5.0 / 3.0, 1e-7);
    CHECK_NEAR(sm, 2.5, 0);
    for (i = 0; i < 4; i++) CHECK_NEAR(y[i], (x[i] - 2.5) / sqrt(1.25 + 1e-5), 1e-6);
    /* momentum 1: the batch's own; momentum 0: unchanged */
    CHECK_OK(cnn_batchnorm_forward_train(2, 1, 2, 1e-5f, 1.0f, x, NULL, NULL, &rm, &rv, y, NULL, NULL));
    CHECK_NEAR(rm, 2.5, 0);
    CHECK_NEAR(rv, 5.0 / 3.0, 1e-7);
    CHECK_OK(cnn_batchnorm_forward_train(2, 1, 2, 1e-5f, 0.0f, x, NULL, NULL, &rm, &rv, y, NULL, NULL));
    CHECK_NEAR(rm, 2.5, 0);
    CHECK_NEAR(rv, 5.0 / 3.0, 1e-7);
}

TEST(plain_refusals) {
    const float x[2] = {1, 2};
    float y[2], rm = 0, rv = 1, sm, si, dx[2];
    /* one value per channel: no variance to normalise by (PyTorch raises too) */
    CHECK_STATUS(cnn_batchnorm_forward_train(1, 1, 1, 1e-5f, 0.1f, x, NULL, NULL, &rm, &rv, y, &sm, &si), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "n x hw = 1") != NULL);
    CHECK(rm == 0.0f && rv == 1.0f);
    CHECK_STATUS(cnn_batchnorm_backward(1, 1, 1, 1, x, x, NULL, &sm, &si, dx, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    /* ... which evaluation has (the running variance) */
    CHECK_OK(cnn_batchnorm_forward_eval(1, 1, 1, 1e-5f, x, NULL, NULL, &rm, &rv, y));
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 1, 1, 0.0f, 0.1f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 1, 1, -1e-5f, 0.1f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 1, 1, (float)NAN, 0.1f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 1, 1, 1e-5f, 1.5f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "momentum 1.5") != NULL);
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 1, 1, 1e-5f, -0.1f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_batchnorm_forward_train(2, 0, 1, 1e-5f, 0.1f, x, NULL, NULL, NULL, NULL, y, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_batchnorm_forward_eval(2, 1, 1, 1e-5f, x, NULL, NULL, NULL, &rv, y), CNN_ERR_INVALID_ARGUMENT);
}

/* ---- the network layer ---------------------------------------------------------------------- */

static cnn_net net_a, net_b, net_c;   /* a cnn_net is a few kilobytes: not on the stack */

static void begin(cnn_net *net, int c, int h, int w, cnn_loss loss) {
    cnn_net_opts o;
    memset(&o, 0, sizeof o);
    o.channels = c; o.height = h; o.width = w; o.loss = loss;
    CHECK_OK(cnn_net_init(net, &o));
}

static void add_conv(cnn_net *net, int filters, int kernel, cnn_padding pad, cnn_activation act, int no_bias) {
    cnn_conv_opts o;
    memset(&o, 0, sizeof o);
    o.filters = filters; o.kernel = kernel; o.padding = pad; o.activation = act; o.no_bias = no_bias;
    CHECK_OK(cnn_add_conv(net, &o));
}

static void add_dense_bias(cnn_net *net, int units, cnn_activation act, int no_bias) {
    cnn_dense_opts o;
    memset(&o, 0, sizeof o);
    o.units = units; o.activation = act; o.no_bias = no_bias;
    CHECK_OK(cnn_add_dense(net, &o));
}

static void add_dense(cnn_net *net, int units, cnn_activation act) {
    cnn_dense_opts o;
    memset(&o, 0, sizeof o);
    o.units = units; o.activation = act;
    CHECK_OK(cnn_add_dense(net, &o));
}

static void build(cnn_net *net, int max_batch, int inference_only, int threads) {
    cnn_build_opts b;
    memset(&b, 0, sizeof b);
    b.max_batch = max_batch; b.inference_only = inference_only; b.threads = threads; b.seed = 5;
    CHECK_OK(cnn_net_build(net, &b));
}

/* Random gamma, beta, running statistics of every batch norm (variance in [0.5, 1.5)). */
static void randomise_bn(cnn_net *net, cnn_rng *rng) {
    int i, k;
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->kind != CNN_LAYER_BATCHNORM) continue;
        for (k = 0; k < l->out_c; k++) {
            l->w[k] = 0.5f + cnn_rng_uniform(rng);
            l->b[k] = cnn_rng_uniform(rng) - 0.5f;
            l->running_mean[k] = cnn_rng_uniform(rng) - 0.5f;
            l->running_var[k] = 0.5f + cnn_rng_uniform(rng);
        }
    }
}

TEST(layer_options_summary_and_refusals) {
    cnn_batchnorm_opts o;
    cnn_layer_info info;
    char buf[2048];
    size_t count;
    float *rm, *rv;
    begin(&net_a, 3, 5, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_a, 7, 3, CNN_PAD_SAME, CNN_ACT_NONE, 1);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    CHECK(net_a.layers[1].eps == 1e-5f && net_a.layers[1].momentum == 0.1f);
    add_dense(&net_a, 5, CNN_ACT_NONE);
    memset(&o, 0, sizeof o);
    o.momentum = CNN_BATCHNORM_MOMENTUM_ZERO;
    o.eps = 1e-3f;
    CHECK_OK(cnn_add_batchnorm(&net_a, &o));     /* BatchNorm1d: per feature */
    CHECK(net_a.layers[3].momentum == 0.0f && net_a.layers[3].eps == 1e-3f);
    CHECK_OK(cnn_layer_describe(&net_a, 1, &info));
    CHECK(info.kind == CNN_LAYER_BATCHNORM && info.weight_count == 7 && info.bias_count == 7 && info.out_c == 7 && info.out_h == 5 && info.out_w == 7);
    CHECK_OK(cnn_layer_describe(&net_a, 3, &info));
    CHECK(info.flat && info.out_c == 5 && info.weight_count == 5);
    /* conv 7*3*3*3, bn 14, dense 5*245 + 5, bn 10: running statistics are not parameters */
    CHECK(cnn_net_param_count(&net_a) == 189 + 14 + 1230 + 10);
    cnn_net_summary(&net_a, buf, sizeof buf);
    CHECK(strstr(buf, "batchnorm") != NULL && strstr(buf, "Total params: 1,443") != NULL);
    CHECK(cnn_layer_running_mean(&net_a, 1, &count) == NULL);   /* not built */
    build(&net_a, 4, 0, 1);
    rm = cnn_layer_running_mean(&net_a, 1, &count);
    CHECK(rm && count == 7);
    rv = cnn_layer_running_var(&net_a, 3, &count);
    CHECK(rv && count == 5 && rv[0] == 1.0f && rv[4] == 1.0f);
    CHECK(rm && rm[0] == 0.0f && net_a.layers[1].w[6] == 1.0f && net_a.layers[1].b[6] == 0.0f);
    CHECK(cnn_layer_running_var(&net_a, 0, &count) == NULL && count == 0);
    CHECK(strstr(cnn_last_error(), "not batchnorm") != NULL);
    cnn_net_free(&net_a);

    begin(&net_a, 3, 5, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_a, 2, 3, CNN_PAD_VALID, CNN_ACT_NONE, 0);
    o.eps = -1.0f; o.momentum = 0.0f;
    CHECK_STATUS(cnn_add_batchnorm(&net_a, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "layer 1 (batchnorm") != NULL && strstr(cnn_last_error(), "eps -1") != NULL);
    begin(&net_a, 3, 5, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    o.eps = 0.0f; o.momentum = 1.25f;
    CHECK_STATUS(cnn_add_batchnorm(&net_a, &o), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "layer 0 (batchnorm") != NULL && strstr(cnn_last_error(), "momentum 1.25") != NULL);
    begin(&net_a, 3, 5, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    o.momentum = (float)NAN;
    CHECK_STATUS(cnn_add_batchnorm(&net_a, &o), CNN_ERR_INVALID_ARGUMENT);
    o.momentum = 1.0f;
    begin(&net_a, 3, 5, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    CHECK_OK(cnn_add_batchnorm(&net_a, &o));
}

/* Training mode needs two values per channel: a batch of one 1 x 1 map (or vector) is
   refused by forward naming the layer, and by fit before it starts; evaluation takes it.
   An inference build refuses training mode (its statistics are read-only). */
TEST(layer_one_value_per_channel_and_inference_builds) {
    float x[2 * 12], y[8];
    int32_t labels[3] = {0, 1, 0};
    cnn_dataset data;
    cnn_fit_opts fo;
    cnn_rng rng;
    int i;
    cnn_rng_seed(&rng, 3);
    for (i = 0; i < 24; i++) x[i] = cnn_rng_uniform(&rng);
    begin(&net_a, 3, 2, 2, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_dense(&net_a, 4, CNN_ACT_NONE);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    add_dense(&net_a, 2, CNN_ACT_NONE);
    build(&net_a, 4, 0, 1);
    CHECK_STATUS(cnn_forward(&net_a, x, 1, 1), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "layer 1 (batchnorm") != NULL);
    CHECK_OK(cnn_forward(&net_a, x, 1, 0));
    CHECK_OK(cnn_forward(&net_a, x, 2, 1));
    CHECK_OK(cnn_predict(&net_a, x, 1, y, NULL));
    memset(&data, 0, sizeof data);
    data.images = x; data.labels = labels; data.count = 2;
    memset(&fo, 0, sizeof fo);
    fo.epochs = 1; fo.batch_size = 1; fo.quiet = 1;
    CHECK_STATUS(cnn_fit(&net_a, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "layer 1 (batchnorm") != NULL);
    fo.batch_size = 2;             /* 2 images, then 1 left over: the lone one is skipped */
    data.count = 3;
    {
        float x3[3 * 12];
        memcpy(x3, x, sizeof x);
        for (i = 24; i < 36; i++) x3[i] = 0.5f;
        data.images = x3;
        CHECK_OK(cnn_fit(&net_a, &data, &fo, NULL));
    }
    build(&net_a, 4, 1, 1);
    CHECK_STATUS(cnn_forward(&net_a, x, 2, 1), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "layer 1 (batchnorm)") != NULL);
    CHECK_OK(cnn_forward(&net_a, x, 2, 0));
    cnn_net_free(&net_a);
    /* after a conv, a single image has h*w values per channel: enough */
    begin(&net_a, 1, 3, 3, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_a, 3, 3, CNN_PAD_SAME, CNN_ACT_NONE, 0);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    build(&net_a, 2, 0, 1);
    CHECK_OK(cnn_forward(&net_a, x, 1, 1));
    cnn_net_free(&net_a);
}

/* The layer's training forward is the plain function's, on its channels, and its running
   statistics move; evaluation uses them. */
TEST(layer_matches_plain_functions) {
    enum { N = 3, C = 7, H = 5, W = 3 };
    float x[N * C * H * W], y[N * C * H * W], rm[C], rv[C], sm[C], si[C], rm0[C], rv0[C];
    cnn_rng rng;
    int i;
    cnn_rng_seed(&rng, 9);
    for (i = 0; i < N * C * H * W; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) + (float)(i % 3);
    begin(&net_a, C, H, W, CNN_LOSS_MSE);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    build(&net_a, N, 0, 1);
    randomise_bn(&net_a, &rng);
    memcpy(rm, net_a.layers[0].running_mean, sizeof rm);
    memcpy(rv, net_a.layers[0].running_var, sizeof rv);
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    CHECK_OK(cnn_forward(&net_a, x, N, 0));          /* evaluation first: nothing moves */
    CHECK_OK(cnn_batchnorm_forward_eval(N, C, H * W, 1e-5f, x, net_a.layers[0].w, net_a.layers[0].b, rm, rv, y));
    CHECK(memcmp(y, cnn_output(&net_a), sizeof y) == 0);
    CHECK(memcmp(rm0, net_a.layers[0].running_mean, sizeof rm) == 0 && memcmp(rv0, net_a.layers[0].running_var, sizeof rv) == 0);
    CHECK_OK(cnn_forward(&net_a, x, N, 1));
    CHECK_OK(cnn_batchnorm_forward_train(N, C, H * W, 1e-5f, 0.1f, x, net_a.layers[0].w, net_a.layers[0].b, rm, rv, y, sm, si));
    CHECK(memcmp(y, cnn_output(&net_a), sizeof y) == 0);
    CHECK(memcmp(rm, net_a.layers[0].running_mean, sizeof rm) == 0 && memcmp(rv, net_a.layers[0].running_var, sizeof rv) == 0);
    CHECK(memcmp(rm0, rm, sizeof rm) != 0 && memcmp(rv0, rv, sizeof rv) != 0);
    cnn_net_free(&net_a);
}

/* Central differences of sum(output * r) through a network, in float: h 1e-2, tolerance 2e-2
   of the tensor's largest gradient plus 1e-2 relative (test_grad.c's figures for smooth
   networks). */
static double net_objective(cnn_net *net, const float *x, int n, const float *r) {
    const float *out;
    size_t i, count = (size_t)n * cnn_net_output_size(net);
    double total = 0.0;
    CHECK_OK(cnn_forward(net, x, n, 1));
    out = cnn_output(net);
    for (i = 0; i < count; i++) total += (double)out[i] * r[i];
    return total;
}

static void check_tensor_fd(const char *what, cnn_net *net, float *x, int n, const float *r, float *param, const float *grad, size_t count) {
    size_t i, step = count > 24 ? count / 24 : 1;
    double worst = 0.0, largest = 0.0;
    for (i = 0; i < count; i++) largest = fmax(largest, fabs(grad[i]));
    CHECKF(largest > 1e-3, "%s: gradient all near zero (%g)", what, largest);
    for (i = 0; i < count; i += step) {
        const float v = param[i];
        const double h = 1e-2 * fmax(1.0, fabs(v));
        double lp, lm, num;
        param[i] = (float)(v + h); lp = net_objective(net, x, n, r);
        param[i] = (float)(v - h); lm = net_objective(net, x, n, r);
        param[i] = v;
        num = (lp - lm) / ((double)(float)(v + h) - (double)(float)(v - h));
        worst = fmax(worst, fabs(num - grad[i]) - 1e-2 * fabs(num));
    }
    CHECKF(worst <= 2e-2 * largest, "%s: off by %g (largest gradient %g)", what, worst, largest);
}

/* Gradients through the network in training mode: batch norm first (the input gradient goes
   through it), after a conv without bias, after a dense layer (per feature), before a tanh. */
TEST(layer_gradients_in_a_network) {
    enum { N = 3 };
    const int shapes[][3] = { {1, 5, 7}, {3, 7, 5}, {7, 1, 5} };
    int s;
    for (s = 0; s < 3; s++) {
        const int c = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
        const size_t in = (size_t)N * c * h * w;
        float *x, *r, *dx, *grads[8][2];
        cnn_rng rng;
        int i, classes;
        char what[160];
        cnn_rng_seed(&rng, 40 + (uint64_t)s);
        begin(&net_a, c, h, w, CNN_LOSS_MSE);
        CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
        add_conv(&net_a, 3, 3, CNN_PAD_SAME, CNN_ACT_NONE, 1);
        CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
        CHECK_OK(cnn_add_activation(&net_a, CNN_ACT_TANH, 0));
        add_dense_bias(&net_a, 4, CNN_ACT_NONE, 1);   /* a bias before batch norm has no gradient */
        CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
        add_dense(&net_a, 3, CNN_ACT_NONE);
        build(&net_a, N, 0, 1);
        if (!net_a.built) return;
        randomise_bn(&net_a, &rng);
        classes = cnn_net_output_size(&net_a);
        x = random_floats(&rng, in);
        r = random_floats(&rng, (size_t)N * classes);
        dx = random_floats(&rng, in);
        CHECK_OK(cnn_forward(&net_a, x, N, 1));
        CHECK_OK(cnn_backward_from(&net_a, r));
        CHECK_OK(cnn_input_gradient(&net_a, dx));
        for (i = 0; i < net_a.layer_count; i++) {
            cnn_layer *l = &net_a.layers[i];
            grads[i][0] = grads[i][1] = NULL;
            if (l->weight_count) { grads[i][0] = (float *)malloc(l->weight_count * sizeof(float)); memcpy(grads[i][0], l->dw, l->weight_count * sizeof(float)); }
            if (l->bias_count) { grads[i][1] = (float *)malloc(l->bias_count * sizeof(float)); memcpy(grads[i][1], l->db, l->bias_count * sizeof(float)); }
        }
        for (i = 0; i < net_a.layer_count; i++) {
            cnn_layer *l = &net_a.layers[i];
            if (grads[i][0]) {
                snprintf(what, sizeof what, "%dx%dx%d: layer %d (%s) dw", c, h, w, i, l->kind == CNN_LAYER_BATCHNORM ? "batchnorm: dgamma" : "weights");
                check_tensor_fd(what, &net_a, x, N, r, l->w, grads[i][0], l->weight_count);
            }
            if (grads[i][1]) {
                snprintf(what, sizeof what, "%dx%dx%d: layer %d (%s) db", c, h, w, i, l->kind == CNN_LAYER_BATCHNORM ? "batchnorm: dbeta" : "bias");
                check_tensor_fd(what, &net_a, x, N, r, l->b, grads[i][1], l->bias_count);
            }
            free(grads[i][0]); free(grads[i][1]);
        }
        snprintf(what, sizeof what, "%dx%dx%d: input gradient through the first batch norm", c, h, w);
        check_tensor_fd(what, &net_a, x, N, r, x, dx, in);
        free(x); free(r); free(dx);
        cnn_net_free(&net_a);
    }
}

/* Threads 2, 3, 7 against 1, bit for bit: training forwards (and the running statistics
   they move), backward, evaluation; channels 1, 3, 7 and 17. */
TEST(layer_threads_bit_identical) {
    static const int threads[] = {2, 3, 7}, channels[] = {1, 3, 7, 17};
    int ci, t;
    for (ci = 0; ci < 4; ci++) {
        const int c = channels[ci], n = 5;
        const size_t in = (size_t)n * 2 * 7 * 5;
        float *x, *r = NULL, *ref_out = NULL, *ref_grads = NULL, *ref_eval = NULL, *ref_state = NULL;
        size_t out_n, state_n;
        cnn_rng rng;
        cnn_rng_seed(&rng, 70 + (uint64_t)c);
        x = random_floats(&rng, in);
        for (t = -1; t < 3; t++) {
            const int th = t < 0 ? 1 : threads[t];
            cnn_net *net = &net_a;
            begin(net, 2, 7, 5, CNN_LOSS_MSE);
            add_conv(net, c, 3, CNN_PAD_SAME, CNN_ACT_NONE, 0);
            CHECK_OK(cnn_add_batchnorm(net, NULL));
            CHECK_OK(cnn_add_activation(net, CNN_ACT_RELU, 0));
            add_dense(net, 9, CNN_ACT_NONE);
            CHECK_OK(cnn_add_batchnorm(net, NULL));
            add_dense(net, 3, CNN_ACT_NONE);
            build(net, n, 0, th);
            if (!net->built) return;
            out_n = (size_t)n * 3;
            state_n = net->param_floats + net->buffer_floats;
            if (t < 0) {
                r = random_floats(&rng, out_n);
                ref_out = (float *)malloc(out_n * sizeof(float));
                ref_eval = (float *)malloc(out_n * sizeof(float));
                ref_grads = (float *)malloc(net->param_floats * sizeof(float));
                ref_state = (float *)malloc(state_n * sizeof(float));
            }
            CHECK_OK(cnn_forward(net, x, n, 1));
            CHECK_OK(cnn_forward(net, x, n, 1));         /* the running statistics move twice */
            if (t < 0) memcpy(ref_out, cnn_output(net), out_n * sizeof(float));
            else CHECKF(memcmp(ref_out, cnn_output(net), out_n * sizeof(float)) == 0, "c %d, %d threads: training forward differs", c, th);
            CHECK_OK(cnn_backward_from(net, r));
            if (t < 0) memcpy(ref_grads, net->grads, net->param_floats * sizeof(float));
            else CHECKF(memcmp(ref_grads, net->grads, net->param_floats * sizeof(float)) == 0, "c %d, %d threads: gradients differ", c, th);
            if (t < 0) memcpy(ref_state, net->params, state_n * sizeof(float));
            else CHECKF(memcmp(ref_state, net->params, state_n * sizeof(float)) == 0, "c %d, %d threads: running statistics differ", c, th);
            CHECK_OK(cnn_forward(net, x, n, 0));
            if (t < 0) memcpy(ref_eval, cnn_output(net), out_n * sizeof(float));
            else CHECKF(memcmp(ref_eval, cnn_output(net), out_n * sizeof(float)) == 0, "c %d, %d threads: evaluation differs", c, th);
            cnn_net_free(net);
        }
        free(x); free(r); free(ref_out); free(ref_eval); free(ref_grads); free(ref_state);
    }
}

/* The running statistics are state, not parameters: SGD with weight decay and momentum
   leaves them alone, a rebuild keeps them, an inference network sharing the weights reads
   them, and early stopping's best epoch restores them with the weights. */
TEST(layer_state_kept_shared_and_untouched_by_sgd) {
    enum { N = 4 };
    float x[N * 2 * 5 * 5], rm[3], rv[3], out_train[N * 3], out_inf[N * 3], out_shared[N * 3];
    cnn_sgd_opts sgd;
    cnn_build_opts b;
    cnn_rng rng;
    int i;
    int32_t labels[N] = {0, 1, 2, 1};
    cnn_rng_seed(&rng, 12);
    for (i = 0; i < N * 50; i++) x[i] = cnn_rng_uniform(&rng);
    begin(&net_a, 2, 5, 5, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_a, 3, 3, CNN_PAD_VALID, CNN_ACT_NONE, 0);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    CHECK_OK(cnn_add_global_avgpool(&net_a));
    memset(&b, 0, sizeof b);
    b.max_batch = N; b.with_momentum = 1; b.seed = 2;
    CHECK_OK(cnn_net_build(&net_a, &b));
    randomise_bn(&net_a, &rng);
    CHECK_OK(cnn_forward(&net_a, x, N, 1));
    CHECK_OK(cnn_backward(&net_a, labels, NULL));
    memcpy(rm, net_a.layers[1].running_mean, sizeof rm);
    memcpy(rv, net_a.layers[1].running_var, sizeof rv);
    memset(&sgd, 0, sizeof sgd);
    sgd.learning_rate = 0.5f; sgd.momentum = 0.9f; sgd.weight_decay = 0.5f;
    for (i = 0; i < 3; i++) CHECK_OK(cnn_sgd_step(&net_a, &sgd));
    CHECK(memcmp(rm, net_a.layers[1].running_mean, sizeof rm) == 0 && memcmp(rv, net_a.layers[1].running_var, sizeof rv) == 0);
    CHECK_OK(cnn_forward(&net_a, x, N, 0));
    memcpy(out_train, cnn_output(&net_a), sizeof out_train);
    /* an inference network reading these weights and statistics */
    begin(&net_b, 2, 5, 5, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_b, 3, 3, CNN_PAD_VALID, CNN_ACT_NONE, 0);
    CHECK_OK(cnn_add_batchnorm(&net_b, NULL));
    CHECK_OK(cnn_add_global_avgpool(&net_b));
    memset(&b, 0, sizeof b);
    b.max_batch = N; b.inference_only = 1; b.shared_weights = &net_a;
    CHECK_OK(cnn_net_build(&net_b, &b));
    CHECK(net_b.layers[1].running_var == net_a.layers[1].running_var);
    CHECK_OK(cnn_forward(&net_b, x, N, 0));
    memcpy(out_shared, cnn_output(&net_b), sizeof out_shared);
    CHECK(memcmp(out_train, out_shared, sizeof out_train) == 0);
    cnn_net_free(&net_b);
    /* rebuilt for inference, in place: the statistics come along */
    build(&net_a, N, 1, 2);
    CHECK(memcmp(rm, net_a.layers[1].running_mean, sizeof rm) == 0 && memcmp(rv, net_a.layers[1].running_var, sizeof rv) == 0);
    CHECK_OK(cnn_forward(&net_a, x, N, 0));
    memcpy(out_inf, cnn_output(&net_a), sizeof out_inf);
    CHECK(memcmp(out_train, out_inf, sizeof out_train) == 0);
    /* new weights: the identity again */
    memset(&b, 0, sizeof b);
    b.max_batch = N; b.reinit_weights = 1;
    CHECK_OK(cnn_net_build(&net_a, &b));
    CHECK(net_a.layers[1].running_mean[2] == 0.0f && net_a.layers[1].running_var[2] == 1.0f && net_a.layers[1].w[2] == 1.0f);
    cnn_net_free(&net_a);
}

/* A one-pass reader over memory, for the load path that cannot go back. */
typedef struct reader { const unsigned char *p; size_t size, at; } reader;
static size_t read_memory(void *user, void *buf, size_t n) {
    reader *r = (reader *)user;
    if (n > r->size - r->at) n = r->size - r->at;
    memcpy(buf, r->p + r->at, n);
    r->at += n;
    return n;
}

static void describe_for_file(cnn_net *net) {
    cnn_batchnorm_opts o;
    begin(net, 3, 6, 5, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(net, 4, 3, CNN_PAD_SAME, CNN_ACT_NONE, 1);
    memset(&o, 0, sizeof o);
    o.eps = 1e-3f; o.momentum = CNN_BATCHNORM_MOMENTUM_ZERO;
    CHECK_OK(cnn_add_batchnorm(net, &o));
    CHECK_OK(cnn_add_global_avgpool(net));
    o.eps = 0.0f; o.momentum = 0.25f;
    CHECK_OK(cnn_add_batchnorm(net, &o));
    add_dense(net, 2, CNN_ACT_NONE);
}

/* Save and load: eps and momentum (a momentum of exactly 0 too) in fields 28 and 29, four
   tensors per batch norm, the running statistics bit for bit; weights alone, from a stream
   that can go back and from one that cannot; damaged records refused. */
TEST(save_and_load) {
    enum { N = 2 };
    unsigned char *file;
    size_t size = 0, i;
    float x[N * 90], ref[N * 2];
    cnn_rng rng;
    reader rd;
    int k;
    cnn_rng_seed(&rng, 31);
    for (k = 0; k < N * 90; k++) x[k] = cnn_rng_uniform(&rng);
    describe_for_file(&net_a);
    build(&net_a, N, 0, 1);
    randomise_bn(&net_a, &rng);
    CHECK_OK(cnn_forward(&net_a, x, N, 0));
    memcpy(ref, cnn_output(&net_a), sizeof ref);
    CHECK_OK(cnn_save_to_memory(&net_a, NULL, 0, &size));
    file = (unsigned char *)malloc(size);
    CHECK_OK(cnn_save_to_memory(&net_a, file, size, &size));
    /* 12 header bytes + 5 header fields, 5 records of 32 fields; batch norm 1 is record 1 */
    CHECK(file[32 + 128 + 4 * 28] != 0 && memcmp(file + 32 + 128 + 4 * 29, "\0\0\0\x80", 4) == 0);   /* -0.0f */
    CHECK(file[32 + 5 * 128] == 1 + 4 + 4 + 2);                                                       /* tensors */
    CHECK_OK(cnn_load_from_memory(&net_b, file, size, NULL));
    CHECK(net_b.layers[1].eps == 1e-3f && net_b.layers[1].momentum == 0.0f && signbit(net_b.layers[1].momentum));
    CHECK(net_b.layers[3].eps == 1e-5f && net_b.layers[3].momentum == 0.25f);
    CHECK(net_b.param_floats == net_a.param_floats && net_b.buffer_floats == net_a.buffer_floats && net_a.buffer_floats > 0);
    CHECK(memcmp(net_a.params, net_b.params, (net_a.param_floats + net_a.buffer_floats) * sizeof(float)) == 0);
    CHECK_OK(cnn_forward(&net_b, x, N, 0));
    CHECK(memcmp(ref, cnn_output(&net_b), sizeof ref) == 0);
    /* a momentum of 0: training moves nothing */
    CHECK_OK(cnn_forward(&net_b, x, N, 1));
    CHECK(memcmp(net_a.layers[1].running_var, net_b.layers[1].running_var, 4 * sizeof(float)) == 0);
    CHECK(memcmp(net_a.layers[3].running_var, net_b.layers[3].running_var, 4 * sizeof(float)) != 0);
    cnn_net_free(&net_b);
    /* weights alone, into a fresh network of the same description: both reading paths */
    for (k = 0; k < 2; k++) {
        describe_for_file(&net_b);
        build(&net_b, N, 0, 1);
        if (k == 0) CHECK_OK(cnn_load_weights_from_memory(&net_b, file, size));
        else {
            rd.p = file; rd.size = size; rd.at = 0;
            CHECK_OK(cnn_load_weights_from_callback(&net_b, read_memory, &rd));
        }
        for (i = 0; i < net_a.param_floats + net_a.buffer_floats; i++)
            CHECKF(memcmp(net_a.params + i, net_b.params + i, sizeof(float)) == 0, "k %d: float %zu of %zu + %zu: %g, %g", k, i,
                   net_a.param_floats, net_a.buffer_floats, net_a.params[i], net_b.params[i]);
        cnn_net_free(&net_b);
    }
    /* damaged: no gamma and beta; a NaN eps; a momentum of 2 */
    for (k = 0; k < 3; k++) {
        unsigned char *bad = (unsigned char *)malloc(size);
        memcpy(bad, file, size);
        if (k == 0) put_u32(bad + 32 + 128 + 4 * 4, 0);
        if (k == 1) put_u32(bad + 32 + 128 + 4 * 28, 0x7fc00000u);
        if (k == 2) put_u32(bad + 32 + 128 + 4 * 29, 0x40000000u);
        reseal(bad, (long)size);
        CHECK_STATUS(cnn_load_from_memory(&net_b, bad, size, NULL), CNN_ERR_FILE_CORRUPT);
        CHECK(strstr(cnn_last_error(), "layer 1") != NULL);
        free(bad);
    }
    free(file);
    cnn_net_free(&net_a);
}

/* Folding: the same outputs within 1e-5 of the largest, with random statistics, gamma, beta;
   convs with and without bias; a batch norm after a conv with a fused ReLU, after pooling and
   after dense stays a batch norm. */
TEST(fold_into_convolution) {
    enum { N = 3 };
    float x[N * 3 * 9 * 7];
    cnn_rng rng;
    cnn_build_opts b;
    int i, pass;
    cnn_rng_seed(&rng, 23);
    for (i = 0; i < N * 3 * 9 * 7; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    begin(&net_a, 3, 9, 7, CNN_LOSS_SOFTMAX_CROSS_ENTROPY);
    add_conv(&net_a, 7, 3, CNN_PAD_SAME, CNN_ACT_NONE, 1);     /* folds, gains a bias */
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    CHECK_OK(cnn_add_activation(&net_a, CNN_ACT_RELU, 0));
    add_conv(&net_a, 5, 3, CNN_PAD_VALID, CNN_ACT_NONE, 0);    /* folds into its bias */
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    add_conv(&net_a, 4, 1, CNN_PAD_VALID, CNN_ACT_RELU, 0);    /* fused ReLU: stays */
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));
    {
        cnn_pool_opts po;
        memset(&po, 0, sizeof po);
        CHECK_OK(cnn_add_pool(&net_a, &po));
    }
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));                  /* after pooling: stays */
    add_dense(&net_a, 6, CNN_ACT_NONE);
    CHECK_OK(cnn_add_batchnorm(&net_a, NULL));                  /* after dense: stays */
    add_dense(&net_a, 3, CNN_ACT_NONE);
    build(&net_a, N, 0, 1);
    for (pass = 0; pass < 2; pass++) {
        const float *ref, *got;
        double worst = 0.0, largest = 0.0;
        float ref_copy[N * 3];
        randomise_bn(&net_a, &rng);
        for (i = 0; i < net_a.layer_count; i++)
            if (net_a.layers[i].kind == CNN_LAYER_CONV && net_a.layers[i].b)
                { int k; for (k = 0; k < net_a.layers[i].out_c; k++) net_a.layers[i].b[k] = cnn_rng_uniform(&rng) - 0.5f; }
        CHECK_OK(cnn_forward(&net_a, x, N, 0));
        ref = cnn_output(&net_a);
        memcpy(ref_copy, ref, sizeof ref_copy);
        memset(&b, 0, sizeof b);
        b.max_batch = N; b.inference_only = pass; b.threads = pass ? 3 : 1;
        CHECK_OK(cnn_net_fold_batchnorm(&net_a, &net_b, &b));
        if (!net_b.built) return;
        CHECK(net_b.layer_count == net_a.layer_count - 2);
        CHECK(net_b.layers[0].kind == CNN_LAYER_CONV && net_b.layers[0].bias_count == 7 && net_b.layers[1].kind == CNN_LAYER_ACTIVATION);
        CHECK(net_b.layers[2].kind == CNN_LAYER_CONV && net_b.layers[3].kind == CNN_LAYER_CONV && net_b.layers[4].kind == CNN_LAYER_BATCHNORM);
        CHECK(cnn_net_param_count(&net_b) == cnn_net_param_count(&net_a) - 2 * 12 + 7);
        CHECK_OK(cnn_forward(&net_b, x, N, 0));
        got = cnn_output(&net_b);
        for (i = 0; i < N * 3; i++) { worst = fmax(worst, fabs(got[i] - ref_copy[i])); largest = fmax(largest, fabs(ref_copy[i])); }
        CHECKF(worst <= 1e-5 * largest && largest > 0.1, "folded differs by %g of %g", worst, largest);
        cnn_net_free(&net_b);
    }
    /* refusals */
    memset(&b, 0, sizeof b);
    b.shared_weights = &net_a;
    CHECK_STATUS(cnn_net_fold_batchnorm(&net_a, &net_b, &b), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_net_fold_batchnorm(&net_a, &net_a, NULL), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net_a);
    CHECK_STATUS(cnn_net_fold_batchnorm(&net_a, &net_b, NULL), CNN_ERR_STATE);
    (void)net_c;
}

int main(void) {
    RUN(plain_forward_and_backward_against_reference);
    RUN(running_statistics_by_hand);
    RUN(plain_refusals);
    RUN(layer_options_summary_and_refusals);
    RUN(layer_one_value_per_channel_and_inference_builds);
    RUN(layer_matches_plain_functions);
    RUN(layer_gradients_in_a_network);
    RUN(layer_threads_bit_identical);
    RUN(layer_state_kept_shared_and_untouched_by_sgd);
    RUN(save_and_load);
    RUN(fold_into_convolution);
    return harness_report();
}
