/* test_net.c - the network API: building and shape checks, memory, training, save/load. */
#include <stdlib.h>
#ifdef _WIN32
#include <direct.h>
#define make_dir(path) _mkdir(path)
#define remove_dir(path) _rmdir(path)
#else
#include <sys/stat.h>
#include <unistd.h>
#define make_dir(path) mkdir(path, 0755)
#define remove_dir(path) rmdir(path)
#endif

/* Count every allocation the library makes, to prove forward/backward/step make none. */
static int alloc_calls;
static void *counting_malloc(size_t size) { alloc_calls++; return malloc(size); }
#define CNN_MALLOC(size, ctx) ((void)(ctx), counting_malloc(size))
#define CNN_FREE(ptr, ctx) ((void)(ctx), free(ptr))
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "util.h"

#define TMP_MODEL "build/tests/test_net_model.cnn"

static cnn_conv_opts conv(int filters, int kernel, cnn_activation act) {
    cnn_conv_opts o;
    memset(&o, 0, sizeof o);
    o.filters = filters; o.kernel = kernel; o.activation = act;
    return o;
}
static cnn_dense_opts dense(int units, cnn_activation act) {
    cnn_dense_opts o;
    memset(&o, 0, sizeof o);
    o.units = units; o.activation = act;
    return o;
}
static cnn_net_opts input(int c, int h, int w) {
    cnn_net_opts o;
    memset(&o, 0, sizeof o);
    o.channels = c; o.height = h; o.width = w;
    return o;
}
static cnn_build_opts build_opts(int max_batch, uint64_t seed) {
    cnn_build_opts o;
    memset(&o, 0, sizeof o);
    o.max_batch = max_batch; o.seed = seed;
    return o;
}

/* The lecture's digit model: 93,322 parameters. */
static cnn_status digit_model(cnn_net *net) {
    cnn_net_opts in = input(1, 28, 28);
    cnn_conv_opts c32 = conv(32, 3, CNN_RELU), c64 = conv(64, 3, CNN_RELU);
    cnn_dense_opts d64 = dense(64, CNN_RELU), d10 = dense(10, CNN_ACT_NONE);
    cnn_status st = cnn_net_init(net, &in);
    if (!st) st = cnn_add_conv(net, &c32);
    if (!st) st = cnn_add_pool(net, NULL);
    if (!st) st = cnn_add_conv(net, &c64);
    if (!st) st = cnn_add_pool(net, NULL);
    if (!st) st = cnn_add_conv(net, &c64);
    if (!st) st = cnn_add_flatten(net);
    if (!st) st = cnn_add_dense(net, &d64);
    if (!st) st = cnn_add_dense(net, &d10);
    return st;
}

TEST(lecture_parameter_counts) {
    cnn_net net;
    cnn_net_opts in = input(1, 28, 28);
    cnn_conv_opts c32 = conv(32, 3, CNN_ACT_NONE), c64 = conv(64, 3, CNN_ACT_NONE);
    cnn_dense_opts d128 = dense(128, CNN_ACT_NONE), d10 = dense(10, CNN_ACT_NONE);
    char summary[4096];
    CHECK_OK(digit_model(&net));
    CHECK(cnn_net_param_count(&net) == 93322);
    CHECK(cnn_net_output_size(&net) == 10);
    /* Conv(32) -> Conv(64) -> MaxPool -> Flatten -> Dense(128) -> Dense(10): 1,199,882. The
       lecture's table prints 18,494 for the second conv; (3*3*32+1)*64 = 18,496. */
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c32));
    CHECK_OK(cnn_add_conv(&net, &c64));
    CHECK_OK(cnn_add_pool(&net, NULL));
    CHECK_OK(cnn_add_flatten(&net));
    CHECK_OK(cnn_add_dense(&net, &d128));
    CHECK_OK(cnn_add_dense(&net, &d10));
    CHECK(cnn_net_param_count(&net) == 1199882);
    CHECK(net.layers[1].weight_count + net.layers[1].bias_count == 18496);
    CHECK(net.layers[3].out_c == 9216);
    CHECK(cnn_net_summary(&net, summary, sizeof summary) < sizeof summary);
    CHECK(strstr(summary, "Total params: 1,199,882") != NULL);
    CHECK(strstr(summary, "18,496") != NULL);
    CHECK(strstr(summary, "64 x 12 x 12") != NULL);
}

TEST(summary_truncates_safely) {
    cnn_net net;
    char small[40];
    size_t need;
    CHECK_OK(digit_model(&net));
    need = cnn_net_summary(&net, small, sizeof small);
    CHECK(need > sizeof small);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(cnn_net_summary(&net, NULL, 0) == need);
}

TEST(shape_inference_and_padding_modes) {
    cnn_net net;
    cnn_net_opts in = input(3, 7, 9);
    cnn_conv_opts o = conv(4, 3, CNN_ACT_NONE);
    cnn_pool_opts p;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &o));                    /* valid: 5 x 7 */
    CHECK(net.layers[0].out_h == 5 && net.layers[0].out_w == 7);
    o.padding = CNN_PAD_SAME; o.stride = 2;             /* same, stride 2: ceil(5/2) x ceil(7/2) */
    CHECK_OK(cnn_add_conv(&net, &o));
    CHECK(net.layers[1].out_h == 3 && net.layers[1].out_w == 4);
    o.padding = CNN_PAD_FULL; o.stride = 1;             /* full: n + k - 1 */
    CHECK_OK(cnn_add_conv(&net, &o));
    CHECK(net.layers[2].out_h == 5 && net.layers[2].out_w == 6);
    o.padding = CNN_PAD_EXPLICIT; o.pad_top = 1; o.pad_bottom = 0; o.pad_left = 2; o.pad_right = 1;
    o.kernel = 0; o.kernel_h = 2; o.kernel_w = 3; o.dilation = 2;   /* extents 3 x 5 */
    CHECK_OK(cnn_add_conv(&net, &o));
    CHECK(net.layers[3].out_h == 5 + 1 - 3 + 1 && net.layers[3].out_w == 6 + 3 - 5 + 1);
    memset(&p, 0, sizeof p);
    p.ceil_mode = 1;                                     /* 4 x 5 pooled 2x2 ceil: 2 x 3 */
    CHECK_OK(cnn_add_pool(&net, &p));
    CHECK(net.layers[4].out_h == 2 && net.layers[4].out_w == 3);
    CHECK_OK(cnn_add_global_avg_pool(&net));
    CHECK(net.layers[5].out_c == 4 && net.layers[5].flat);
}

TEST(bad_layers_are_rejected_with_a_message) {
    cnn_net net;
    cnn_net_opts in = input(1, 4, 4), bad_in = input(0, 28, 28);
    cnn_conv_opts big = conv(8, 5, CNN_ACT_NONE), zero = conv(0, 3, CNN_ACT_NONE), neg = conv(8, 3, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(4, 1);
    cnn_dense_opts d = dense(10, CNN_ACT_NONE);
    CHECK_STATUS(cnn_net_init(&net, &bad_in), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_net_init(NULL, &in), CNN_ERR_INVALID_ARGUMENT);

    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_STATUS(cnn_add_conv(&net, &big), CNN_ERR_SHAPE);     /* 5x5 kernel on a 4x4 image */
    CHECK(strstr(cnn_last_error(), "layer 0") && strstr(cnn_last_error(), "conv") && strstr(cnn_last_error(), "5x5"));
    CHECK_STATUS(cnn_add_dense(&net, &d), CNN_ERR_STATE);      /* the network is now invalid */
    CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_STATE);
    CHECK(cnn_net_required_bytes(&net, &b) == 0);

    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_STATUS(cnn_add_conv(&net, &zero), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "filters") != NULL);
    CHECK_OK(cnn_net_init(&net, &in));
    neg.stride = -1;
    CHECK_STATUS(cnn_add_conv(&net, &neg), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_net_init(&net, &in));
    neg.stride = 1; neg.dilation = 3;                           /* extent 7 > 4 */
    CHECK_STATUS(cnn_add_conv(&net, &neg), CNN_ERR_SHAPE);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_flatten(&net));
    CHECK_STATUS(cnn_add_conv(&net, &big), CNN_ERR_SHAPE);      /* conv after flatten */
    CHECK(strstr(cnn_last_error(), "vector") != NULL);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_STATUS(cnn_add_dropout(&net, 1.0f), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_STATUS(cnn_add_activation(&net, (cnn_activation)99, 0.0f), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_STATE);       /* no layers */
}

TEST(overflowing_sizes_are_rejected) {
    cnn_net net;
    cnn_net_opts huge = input(65536, 65536, 65536), in = input(1, 1000, 1000);
    cnn_conv_opts wide = conv(1 << 30, 1, CNN_ACT_NONE);
    cnn_dense_opts d = dense(1 << 30, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(1 << 30, 0);
    CHECK_STATUS(cnn_net_init(&net, &huge), CNN_ERR_OVERFLOW);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK(cnn_add_conv(&net, &wide) != CNN_OK);
    /* 2^30 x 10^6 weights can be described but not allocated: the build says so. */
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_dense(&net, &d));
    b.max_batch = 1;
    CHECK_STATUS(cnn_net_build(&net, &b), sizeof(size_t) > 4 ? CNN_ERR_OUT_OF_MEMORY : CNN_ERR_OVERFLOW);
    CHECK(!net.built);
    b.max_batch = 1 << 30;
    CHECK_OK(cnn_net_init(&net, &in));
    wide.filters = 8;
    CHECK_OK(cnn_add_conv(&net, &wide));
    /* 2^30 images of 8 MB each cannot be addressed: an error, not a crash. */
    CHECK(cnn_net_required_bytes(&net, &b) == 0 || sizeof(size_t) > 4);
    if (sizeof(size_t) > 4) CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_OUT_OF_MEMORY);
}

TEST(static_buffer_arena_and_out_of_memory) {
    static unsigned char buffer[16 << 20];
    cnn_net net;
    cnn_build_opts b = build_opts(8, 3);
    size_t need;
    int before;
    CHECK_OK(digit_model(&net));
    need = cnn_net_required_bytes(&net, &b);
    CHECK(need > 0 && need < sizeof buffer);
    b.buffer = buffer; b.buffer_size = need - 1;
    CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_OUT_OF_MEMORY);
    CHECK(strstr(cnn_last_error(), "needs") != NULL);
    CHECK(!net.built);
    b.buffer_size = need;
    before = alloc_calls;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(alloc_calls == before);                     /* the caller's buffer: no malloc at all */
    CHECK(net.arena.used <= need);
    CHECK(((uintptr_t)net.params & 63) == 0 && ((uintptr_t)net.layers[0].out & 63) == 0);
    cnn_net_free(&net);
    /* The same with a misaligned buffer start: still fits, still aligned. */
    b.buffer = buffer + 3; b.buffer_size = need;
    CHECK_OK(digit_model(&net));
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(((uintptr_t)net.layers[2].w & 63) == 0);
    cnn_net_free(&net);
}

TEST(arena_push_mark_rewind) {
    unsigned char mem[1024];
    cnn_arena a;
    void *p, *q;
    size_t mark;
    CHECK_OK(cnn_arena_init(&a, mem, sizeof mem));
    p = cnn_arena_push(&a, 10);
    CHECK(p && ((uintptr_t)p & 63) == 0);
    mark = cnn_arena_mark(&a);
    q = cnn_arena_push(&a, 100);
    CHECK(q && ((uintptr_t)q & 63) == 0 && (unsigned char *)q >= (unsigned char *)p + 10);
    cnn_arena_rewind(&a, mark);
    CHECK(cnn_arena_push(&a, 100) == q);              /* scratch is reused */
    CHECK(a.high_water >= 164);
    CHECK(cnn_arena_push(&a, 4096) == NULL);
    CHECK(strstr(cnn_last_error(), "4096") != NULL);
    CHECK_STATUS(cnn_arena_init(&a, NULL, 10), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_arena_create(&a, 1000, NULL));
    CHECK(cnn_arena_push(&a, 1000) != NULL);
    CHECK(cnn_arena_push(&a, 1) == NULL);
    cnn_arena_free(&a);
}

static void fill_uniform(float *x, size_t n, cnn_rng *r) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = cnn_rng_uniform(r);
}

TEST(no_allocation_in_forward_backward_step) {
    cnn_net net;
    cnn_build_opts b = build_opts(4, 5);
    cnn_sgd_opts sgd;
    static float x[4 * 28 * 28];
    b.with_momentum = 1;
    int32_t labels[4] = {1, 2, 3, 4};
    cnn_rng r;
    float loss;
    int before, i;
    cnn_rng_seed(&r, 9);
    fill_uniform(x, 4 * 28 * 28, &r);
    memset(&sgd, 0, sizeof sgd);
    sgd.momentum = 0.9f; sgd.weight_decay = 1e-4f;
    CHECK_OK(digit_model(&net));
    CHECK_OK(cnn_add_dropout(&net, 0.25f));
    CHECK_OK(cnn_net_build(&net, &b));
    before = alloc_calls;
    for (i = 0; i < 3; i++) {
        CHECK_OK(cnn_forward(&net, x, 4, 1));
        CHECK_OK(cnn_backward(&net, labels, &loss));
        CHECK_OK(cnn_sgd_step(&net, &sgd));
        CHECK_OK(cnn_train_batch(&net, x, labels, 3, &sgd, &loss));
        CHECK_OK(cnn_predict(&net, x, 4, NULL, NULL));
    }
    CHECK(alloc_calls == before);
    cnn_net_free(&net);
}

TEST(state_errors) {
    cnn_net net;
    cnn_build_opts b = build_opts(2, 1);
    float x[2 * 28 * 28] = {0};
    int32_t labels[2] = {0, 11};
    CHECK_OK(digit_model(&net));
    CHECK_STATUS(cnn_forward(&net, x, 1, 0), CNN_ERR_STATE);          /* not built */
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK_STATUS(cnn_backward(&net, labels, NULL), CNN_ERR_STATE);    /* no forward yet */
    CHECK_STATUS(cnn_forward(&net, x, 3, 0), CNN_ERR_INVALID_ARGUMENT); /* beyond max_batch */
    CHECK(strstr(cnn_last_error(), "max_batch") != NULL);
    CHECK_STATUS(cnn_forward(&net, NULL, 1, 0), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    CHECK_STATUS(cnn_backward(&net, labels, NULL), CNN_ERR_INVALID_ARGUMENT);  /* label 11 of 10 */
    cnn_net_free(&net);
    b.inference_only = 1;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(net.grads == NULL);
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    CHECK_STATUS(cnn_backward(&net, labels, NULL), CNN_ERR_STATE);
    cnn_net_free(&net);
}

/* Horizontal against vertical bars on a noisy 12x12 image: separable, so a small CNN must
   reach (nearly) 100%. */
static void make_bars(float *x, int32_t *y, int n, uint64_t seed) {
    cnn_rng r;
    int i, a, b;
    cnn_rng_seed(&r, seed);
    for (i = 0; i < n; i++) {
        int vertical = (int)cnn_rng_below(&r, 2), pos = 1 + (int)cnn_rng_below(&r, 10);
        y[i] = vertical;
        for (a = 0; a < 12; a++)
            for (b = 0; b < 12; b++)
                x[(size_t)i * 144 + a * 12 + b] = 0.3f * cnn_rng_uniform(&r) + ((vertical ? b : a) == pos ? 1.0f : 0.0f);
    }
}

static cnn_status bars_model(cnn_net *net, uint64_t seed, int max_batch) {
    cnn_net_opts in = input(1, 12, 12);
    cnn_conv_opts c = conv(6, 3, CNN_RELU);
    cnn_dense_opts d = dense(2, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(max_batch, seed);
    cnn_status st = cnn_net_init(net, &in);
    b.with_momentum = 1; b.with_early_stopping = 1;     /* the tests below train with both */
    if (!st) st = cnn_add_conv(net, &c);
    if (!st) st = cnn_add_pool(net, NULL);
    if (!st) st = cnn_add_dense(net, &d);
    if (!st) st = cnn_net_build(net, &b);
    return st;
}

typedef struct history { int epochs; float loss[64], val_loss[64]; } history;
static int record(const cnn_progress *p, void *user) {
    history *h = (history *)user;
    if (p->epoch_done && h->epochs < 64) { h->loss[h->epochs] = p->loss; h->val_loss[h->epochs] = p->val_loss; h->epochs++; }
    return 0;
}

TEST(training_learns_bars) {
    static float x[800 * 144], tx[200 * 144];
    static int32_t y[800], ty[200];
    cnn_net net;
    cnn_dataset train, test;
    cnn_fit_opts fo;
    cnn_fit_result res;
    history h;
    float loss0, acc0, loss, acc;
    make_bars(x, y, 800, 1);
    make_bars(tx, ty, 200, 2);
    memset(&train, 0, sizeof train); train.images = x; train.labels = y; train.count = 800;
    memset(&test, 0, sizeof test); test.images = tx; test.labels = ty; test.count = 200;
    CHECK_OK(bars_model(&net, 7, 32));
    CHECK_OK(cnn_evaluate(&net, &test, &loss0, &acc0));
    memset(&fo, 0, sizeof fo);
    memset(&h, 0, sizeof h);
    fo.epochs = 6; fo.sgd.learning_rate = 0.05f; fo.sgd.momentum = 0.9f;
    fo.validation_fraction = 0.1f; fo.seed = 3; fo.progress = record; fo.user = &h;
    CHECK_OK(cnn_fit(&net, &train, &fo, &res));
    CHECK_OK(cnn_evaluate(&net, &test, &loss, &acc));
    CHECKF(acc >= 0.98f, "test accuracy %f", (double)acc);
    CHECKF(loss < 0.5f * loss0, "loss %f -> %f", (double)loss0, (double)loss);
    CHECK(h.epochs == 6 && res.epochs_run == 6);
    CHECKF(h.loss[5] < h.loss[0], "training loss %f -> %f", (double)h.loss[0], (double)h.loss[5]);
    CHECK(h.val_loss[0] >= 0.0f);
    cnn_net_free(&net);
}

/* Four steps of 16 bars images each on two networks alike, side by side. */
static void train_side_by_side(cnn_net *a, cnn_net *b, const float *x, const int32_t *y, const cnn_sgd_opts *sgd) {
    int i;
    for (i = 0; i < 4; i++) {
        CHECK_OK(cnn_train_batch(a, x + i * 16 * 144, y + i * 16, 16, sgd, NULL));
        CHECK_OK(cnn_train_batch(b, x + i * 16 * 144, y + i * 16, 16, sgd, NULL));
    }
}

TEST(same_seed_same_network) {
    static float x[64 * 144];
    static int32_t y[64];
    cnn_net a, b;
    cnn_sgd_opts sgd;
    make_bars(x, y, 64, 5);
    memset(&sgd, 0, sizeof sgd);
    sgd.momentum = 0.5f;
    CHECK_OK(bars_model(&a, 11, 16));
    CHECK_OK(bars_model(&b, 11, 16));
    CHECK(memcmp(a.params, b.params, a.param_floats * sizeof(float)) == 0);
    train_side_by_side(&a, &b, x, y, &sgd);
    CHECK(memcmp(a.params, b.params, a.param_floats * sizeof(float)) == 0);
    cnn_net_free(&b);
    CHECK_OK(bars_model(&b, 12, 16));                 /* another seed, other weights */
    CHECK(memcmp(a.params, b.params, a.param_floats * sizeof(float)) != 0);
    cnn_net_free(&a);
    cnn_net_free(&b);
}

/* Pool-then-activation: a (leaky) ReLU before a max pool, in the conv layer or as a layer of
   its own, trains to the same bits. Fused into the conv layer, backward differentiates it at
   the pool's outputs (cnn__pool_takes_activation); as a layer, at its own. */
static cnn_status pooled_model(cnn_net *net, int separate) {
    cnn_net_opts in = input(1, 12, 12);
    cnn_conv_opts c1 = conv(6, 3, separate ? CNN_ACT_NONE : CNN_RELU), c2 = conv(8, 3, separate ? CNN_ACT_NONE : CNN_ACT_LEAKY_RELU);
    cnn_dense_opts d = dense(2, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(16, 21);
    cnn_status st = cnn_net_init(net, &in);
    c2.alpha = 0.1f;
    b.with_momentum = 1;
    if (!st) st = cnn_add_conv(net, &c1);
    if (!st && separate) st = cnn_add_activation(net, CNN_RELU, 0.0f);
    if (!st) st = cnn_add_pool(net, NULL);
    if (!st) st = cnn_add_conv(net, &c2);
    if (!st && separate) st = cnn_add_activation(net, CNN_ACT_LEAKY_RELU, 0.1f);
    if (!st) st = cnn_add_global_maxpool(net);
    if (!st) st = cnn_add_dense(net, &d);
    if (!st) st = cnn_net_build(net, &b);
    return st;
}

TEST(activation_before_a_max_pool_trains_the_same_fused_or_not) {
    static float x[64 * 144];
    static int32_t y[64];
    cnn_net fused, separate;
    cnn_sgd_opts sgd;
    int i;
    make_bars(x, y, 64, 9);
    for (i = 0; i < 64 * 144; i++) x[i] -= 0.4f;      /* negative inputs: both sides of 0 */
    memset(&sgd, 0, sizeof sgd);
    sgd.learning_rate = 0.1f;
    sgd.momentum = 0.9f;
    CHECK_OK(pooled_model(&fused, 0));
    CHECK_OK(pooled_model(&separate, 1));
    CHECK(fused.param_floats == separate.param_floats);
    CHECK(memcmp(fused.params, separate.params, fused.param_floats * sizeof(float)) == 0);
    train_side_by_side(&fused, &separate, x, y, &sgd);
    CHECK(memcmp(fused.params, separate.params, fused.param_floats * sizeof(float)) == 0);
    cnn_net_free(&fused);
    cnn_net_free(&separate);
}

TEST(sgd_momentum_nesterov_and_decay_follow_the_formulas) {
    cnn_net net;
    cnn_net_opts in = input(1, 1, 3);
    cnn_dense_opts d = dense(1, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(1, 1);
    cnn_sgd_opts sgd;
    float w0, g, v;
    int nesterov;
    b.with_momentum = 1;
    for (nesterov = 0; nesterov < 2; nesterov++) {
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_dense(&net, &d));
        CHECK_OK(cnn_net_build(&net, &b));
        memset(&sgd, 0, sizeof sgd);
        sgd.learning_rate = 0.1f; sgd.momentum = 0.9f; sgd.nesterov = nesterov; sgd.weight_decay = 0.5f;
        net.layers[0].b[0] = 2.0f;
        w0 = net.layers[0].w[0];
        net.layers[0].dw[0] = 1.0f; net.layers[0].db[0] = 1.0f;
        CHECK_OK(cnn_sgd_step(&net, &sgd));
        g = 1.0f + 0.5f * w0; v = g;                               /* first step: v = g */
        CHECK_NEAR(net.layers[0].w[0], w0 - 0.1f * (nesterov ? g + 0.9f * v : v), 1e-6);
        CHECK_NEAR(net.layers[0].b[0], 2.0f - 0.1f * (nesterov ? 1.0f + 0.9f : 1.0f), 1e-6);  /* no decay */
        w0 = net.layers[0].w[0];
        CHECK_OK(cnn_sgd_step(&net, &sgd));                        /* same gradient again */
        g = 1.0f + 0.5f * w0; v = 0.9f * v + g;
        CHECK_NEAR(net.layers[0].w[0], w0 - 0.1f * (nesterov ? g + 0.9f * v : v), 1e-5);
        cnn_net_free(&net);
    }
}

TEST(learning_rate_schedules) {
    cnn_fit_opts o;
    memset(&o, 0, sizeof o);
    o.sgd.learning_rate = 0.1f;
    CHECK_NEAR(cnn_schedule_lr(&o, 7), 0.1, 1e-7);
    o.schedule = CNN_SCHEDULE_STEP; o.step_epochs = 3; o.gamma = 0.5f;
    CHECK_NEAR(cnn_schedule_lr(&o, 2), 0.1, 1e-7);
    CHECK_NEAR(cnn_schedule_lr(&o, 3), 0.05, 1e-7);
    CHECK_NEAR(cnn_schedule_lr(&o, 7), 0.025, 1e-7);
    o.schedule = CNN_SCHEDULE_COSINE; o.epochs = 10;
    CHECK_NEAR(cnn_schedule_lr(&o, 0), 0.1, 1e-7);
    CHECK_NEAR(cnn_schedule_lr(&o, 5), 0.05, 1e-6);
    CHECK(cnn_schedule_lr(&o, 9) < 0.01f);
}

TEST(nan_loss_stops_training_with_an_error) {
    static float x[64 * 144];
    static int32_t y[64];
    cnn_net net;
    cnn_dataset d;
    cnn_fit_opts fo;
    make_bars(x, y, 64, 8);
    x[5] = (float)NAN;
    memset(&d, 0, sizeof d); d.images = x; d.labels = y; d.count = 64;
    memset(&fo, 0, sizeof fo);
    fo.quiet = 1; fo.epochs = 2;
    CHECK_OK(bars_model(&net, 1, 16));
    CHECK_STATUS(cnn_fit(&net, &d, &fo, NULL), CNN_ERR_NUMERIC);
    CHECK(strstr(cnn_last_error(), "loss") != NULL);
    cnn_net_free(&net);
}

static int stop_after_two(const cnn_progress *p, void *user) {
    (void)user;
    return p->epoch_done && p->epoch == 2;
}

TEST(early_stopping_restores_the_best_weights) {
    static float x[400 * 144], vx[100 * 144];
    static int32_t y[400], vy[100];
    cnn_net net;
    cnn_dataset train, val;
    cnn_fit_opts fo;
    cnn_fit_result res;
    history h;
    float vloss;
    int i, best = 0;
    make_bars(x, y, 400, 21);
    make_bars(vx, vy, 100, 22);
    for (i = 0; i < 100; i++) vy[i] = 1 - vy[i];       /* a validation set that disagrees: its loss rises */
    memset(&train, 0, sizeof train); train.images = x; train.labels = y; train.count = 400;
    memset(&val, 0, sizeof val); val.images = vx; val.labels = vy; val.count = 100;
    memset(&fo, 0, sizeof fo);
    memset(&h, 0, sizeof h);
    fo.epochs = 30; fo.sgd.learning_rate = 0.05f; fo.validation = &val; fo.patience = 2;
    fo.progress = record; fo.user = &h;
    CHECK_OK(bars_model(&net, 4, 32));
    CHECK_OK(cnn_fit(&net, &train, &fo, &res));
    CHECK(res.stopped_early && res.epochs_run < 30);
    CHECK(res.epochs_run == res.best_epoch + 2);
    for (i = 1; i < h.epochs; i++) if (h.val_loss[i] < h.val_loss[best]) best = i;
    CHECK(res.best_epoch == best + 1);
    CHECK_OK(cnn_evaluate(&net, &val, &vloss, NULL));
    CHECK_NEAR(vloss, h.val_loss[best], 1e-5);          /* the weights are those of the best epoch */
    /* A callback can stop training too. */
    memset(&fo, 0, sizeof fo);
    fo.epochs = 5; fo.progress = stop_after_two;
    CHECK_OK(cnn_fit(&net, &train, &fo, &res));
    CHECK(res.epochs_run == 2);
    fo.patience = 1;                                    /* patience without validation: refused */
    CHECK_STATUS(cnn_fit(&net, &train, &fo, &res), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net);
}

TEST(predict_and_evaluate) {
    static float x[50 * 144];
    static int32_t y[50];
    float probs[50 * 2], loss, acc;
    int32_t classes[50];
    cnn_net net;
    cnn_dataset d;
    int i, correct = 0;
    make_bars(x, y, 50, 30);
    CHECK_OK(bars_model(&net, 2, 16));               /* 50 images: 4 chunks of up to 16 */
    CHECK_OK(cnn_predict(&net, x, 50, probs, classes));
    for (i = 0; i < 50; i++) {
        CHECK_NEAR(probs[2 * i] + probs[2 * i + 1], 1.0, 1e-6);
        CHECK(classes[i] == (probs[2 * i + 1] > probs[2 * i]));
        correct += classes[i] == y[i];
    }
    memset(&d, 0, sizeof d); d.images = x; d.labels = y; d.count = 50;
    CHECK_OK(cnn_evaluate(&net, &d, &loss, &acc));
    CHECK_NEAR(acc, correct / 50.0, 1e-6);
    CHECK(loss > 0.0f);
    cnn_net_free(&net);
}

TEST(save_load_round_trip) {
    static float x[20 * 144], p1[40], p2[40];
    static int32_t y[20];
    cnn_net net, loaded;
    cnn_build_opts b = build_opts(5, 0);
    make_bars(x, y, 20, 40);
    CHECK_OK(bars_model(&net, 13, 8));
    CHECK_OK(cnn_train_batch(&net, x, y, 8, NULL, NULL));
    CHECK_OK(cnn_save(&net, TMP_MODEL));
    CHECK(system("ls " TMP_MODEL ".tmp-* >/dev/null 2>&1") != 0);   /* the temporary file is gone */
    memset(&loaded, 0, sizeof loaded);
    CHECK_OK(cnn_load(&loaded, TMP_MODEL, &b));
    CHECK(loaded.max_batch == 5 && cnn_net_param_count(&loaded) == cnn_net_param_count(&net));
    CHECK_OK(cnn_predict(&net, x, 20, p1, NULL));
    CHECK_OK(cnn_predict(&loaded, x, 20, p2, NULL));
    CHECK(memcmp(p1, p2, sizeof p1) == 0);             /* bit-identical predictions */
    /* load_weights into a fresh network of the same architecture */
    cnn_net_free(&loaded);
    CHECK_OK(bars_model(&loaded, 99, 8));
    CHECK_OK(cnn_load_weights(&loaded, TMP_MODEL));
    CHECK_OK(cnn_predict(&loaded, x, 20, p2, NULL));
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    cnn_net_free(&loaded);
    cnn_net_free(&net);
}

TEST(corrupt_model_files_are_rejected) {
    static unsigned char good[65536], bad[65536];
    cnn_net net, other;
    cnn_net_opts in = input(1, 12, 12);
    cnn_conv_opts c = conv(5, 3, CNN_RELU);
    cnn_dense_opts d = dense(2, CNN_ACT_NONE);
    cnn_build_opts b = build_opts(4, 0);
    long n, cut;
    const char *path = "build/tests/test_net_bad.cnn";
    CHECK_OK(bars_model(&net, 3, 4));
    CHECK_OK(cnn_save(&net, TMP_MODEL));
    n = read_file(TMP_MODEL, good, sizeof good);
    CHECK(n > 100 && n < (long)sizeof good);

    memcpy(bad, good, (size_t)n); bad[0] = 'X';
    write_file(path, bad, n);
    CHECK_STATUS(cnn_load(&other, path, &b), CNN_ERR_FILE_MAGIC);

    memcpy(bad, good, (size_t)n); put_u32(bad + 8, 99); reseal(bad, n);
    write_file(path, bad, n);
    CHECK_STATUS(cnn_load(&other, path, &b), CNN_ERR_FILE_VERSION);

    for (cut = 0; cut < n; cut += (cut < 200 ? 7 : 301)) {      /* every kind of early end */
        cnn_status st;
        write_file(path, good, cut);
        st = cnn_load(&other, path, &b);
        CHECKF(st == CNN_ERR_FILE_TRUNCATED || (cut < 8 && st == CNN_ERR_FILE_MAGIC),
               "cut at %ld of %ld: %s", cut, n, cnn_status_name(st));
    }
    write_file(path, good, n - 1);
    CHECK_STATUS(cnn_load(&other, path, &b), CNN_ERR_FILE_TRUNCATED);

    memcpy(bad, good, (size_t)n); bad[n - 19] ^= 0x40;   /* a flipped bit in the last bias (before 8 bytes of optimizer section) */
    write_file(path, bad, n);
    CHECK_STATUS(cnn_load(&other, path, &b), CNN_ERR_FILE_CHECKSUM);

    /* A tensor dimension that disagrees with the architecture (checksum made right). The
       first tensor header follows 8 + 6*4 header bytes, 3 layer records of 128 bytes and a count. */
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 8 + 24 + 3 * 128 + 4 + 4, 7);                   /* conv weights: K = 7, not 6 */
    reseal(bad, n);
    write_file(path, bad, n);
    CHECK_STATUS(cnn_load(&other, path, &b), CNN_ERR_FILE_SHAPE);

    /* A layer record with an impossible value: 0x7fffffff filters. */
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 8 + 24 + 5 * 4, 0x7fffffffu);
    reseal(bad, n);
    write_file(path, bad, n);
    CHECK(cnn_load(&other, path, &b) != CNN_OK);

    memcpy(bad, good, (size_t)n);                                 /* trailing garbage */
    bad[n] = 0;
    write_file(path, bad, n + 1);
    CHECK(cnn_load(&other, path, &b) != CNN_OK);

    CHECK_STATUS(cnn_load(&other, "build/tests/no/such/file.cnn", &b), CNN_ERR_IO);

    /* load_weights into another architecture: a shape mismatch, weights untouched. */
    CHECK_OK(cnn_net_init(&other, &in));
    CHECK_OK(cnn_add_conv(&other, &c));
    CHECK_OK(cnn_add_pool(&other, NULL));
    CHECK_OK(cnn_add_dense(&other, &d));
    CHECK_OK(cnn_net_build(&other, &b));
    {
        float before = other.layers[0].w[0];
        CHECK_STATUS(cnn_load_weights(&other, TMP_MODEL), CNN_ERR_FILE_SHAPE);
        CHECK(strstr(cnn_last_error(), "layer 0") != NULL);
        CHECK(other.layers[0].w[0] == before);
    }
    cnn_net_free(&other);
    cnn_net_free(&net);
}

/* (A save that fails half-way keeps the old file: tests/test_hardening.c, where the file
   size limit of POSIX makes the write itself fail.) */
TEST(failed_save_keeps_the_old_file) {
    static unsigned char before[65536], after[65536];
    cnn_net net;
    long n1, n2;
    CHECK_OK(bars_model(&net, 3, 4));
    CHECK_OK(cnn_save(&net, TMP_MODEL));
    n1 = read_file(TMP_MODEL, before, sizeof before);
    net.layers[0].w[0] += 1.0f;
    /* The target is a directory: the rename fails, the temporary file is removed. */
    remove_dir("build/tests/test_net_dir.cnn");          /* a run that stopped here left it */
    CHECK(make_dir("build/tests/test_net_dir.cnn") == 0);   /* not system("mkdir -p"): Windows' mkdir has no -p */
    CHECK_STATUS(cnn_save(&net, "build/tests/test_net_dir.cnn"), CNN_ERR_IO);
    CHECK(remove_dir("build/tests/test_net_dir.cnn") == 0);
    CHECK(system("ls build/tests/test_net_dir.cnn.tmp-* >/dev/null 2>&1") != 0);   /* no temporary file left */
    n2 = read_file(TMP_MODEL, after, sizeof after);
    CHECK(n1 == n2 && memcmp(before, after, (size_t)n1) == 0);
    CHECK_STATUS(cnn_save(&net, "build/tests/no/such/dir/model.cnn"), CNN_ERR_IO);
    cnn_net_free(&net);
}

TEST(mse_loss_network_trains) {
    static float x[256 * 144];
    static int32_t y[256];
    cnn_net net;
    cnn_net_opts in = input(1, 12, 12);
    cnn_conv_opts c = conv(4, 3, CNN_TANH);
    cnn_dense_opts d = dense(2, CNN_SIGMOID);
    cnn_build_opts b = build_opts(32, 1);
    cnn_dataset ds;
    cnn_fit_opts fo;
    float loss0, loss1, acc;
    make_bars(x, y, 256, 50);
    b.with_momentum = 1;
    in.loss = CNN_LOSS_MSE;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c));
    CHECK_OK(cnn_add_pool(&net, NULL));
    CHECK_OK(cnn_add_dense(&net, &d));
    CHECK_OK(cnn_net_build(&net, &b));
    memset(&ds, 0, sizeof ds); ds.images = x; ds.labels = y; ds.count = 256;
    CHECK_OK(cnn_evaluate(&net, &ds, &loss0, NULL));
    memset(&fo, 0, sizeof fo);
    fo.epochs = 8; fo.sgd.learning_rate = 0.5f; fo.sgd.momentum = 0.9f; fo.quiet = 1;
    CHECK_OK(cnn_fit(&net, &ds, &fo, NULL));
    CHECK_OK(cnn_evaluate(&net, &ds, &loss1, &acc));
    CHECKF(loss1 < 0.5f * loss0 && acc > 0.9f, "mse %f -> %f, accuracy %f", (double)loss0, (double)loss1, (double)acc);
    cnn_net_free(&net);
}

/* x in [-1, 1] -> dense 16 tanh -> dense 1: the network of the regression tests. */
static cnn_status regression_net(cnn_net *net, cnn_loss loss, int max_batch) {
    cnn_net_opts in;
    cnn_dense_opts hidden, out;
    cnn_build_opts b;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 1; in.width = 1; in.loss = loss;
    memset(&hidden, 0, sizeof hidden); hidden.units = 16; hidden.activation = CNN_ACT_TANH;
    memset(&out, 0, sizeof out); out.units = 1;
    memset(&b, 0, sizeof b); b.max_batch = max_batch; b.seed = 8; b.with_momentum = 1; b.with_early_stopping = 1;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_dense(net, &hidden)) || (st = cnn_add_dense(net, &out))) return st;
    return cnn_net_build(net, &b);
}

/* cnn_backward_targets is the mean squared error against real values: the same loss and
   gradients as cnn_backward_from with dL/dy = 2 (y - t) / (n * outputs), which the gradient
   checks cover. */
TEST(backward_with_real_targets_is_mean_squared_error) {
    cnn_net net;
    const float x[4] = { -0.9f, -0.2f, 0.3f, 0.8f }, t[4] = { 1.5f, -0.25f, 0.0f, 2.0f };
    float dout[4], loss = -1.0f, *dw, keep[16];
    size_t count;
    double expect = 0.0;
    int i;
    CHECK_OK(regression_net(&net, CNN_LOSS_MSE, 4));
    CHECK_OK(cnn_forward(&net, x, 4, 1));
    for (i = 0; i < 4; i++) {
        double d = (double)cnn_output(&net)[i] - t[i];
        expect += d * d / 4;
        dout[i] = (float)(2.0 * d / 4);
    }
    CHECK_OK(cnn_backward_targets(&net, t, &loss));
    CHECK_NEAR(loss, expect, 1e-6 * (1 + expect));
    dw = cnn_layer_weight_grads(&net, 0, &count);
    CHECK(dw != NULL && count == 16);
    memcpy(keep, dw, sizeof keep);
    CHECK_OK(cnn_backward_from(&net, dout));
    for (i = 0; i < 16; i++) CHECK_NEAR(dw[i], keep[i], 1e-6);
    CHECK_STATUS(cnn_backward_targets(&net, NULL, &loss), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net);
    CHECK_OK(regression_net(&net, CNN_LOSS_SOFTMAX_CROSS_ENTROPY, 4));
    CHECK_OK(cnn_forward(&net, x, 4, 1));
    CHECK_STATUS(cnn_backward_targets(&net, t, &loss), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "CNN_LOSS_MSE") != NULL);
    cnn_net_free(&net);
}

/* cnn_fit regresses y = sin(3x) / 2 from 256 samples: the loss falls below a tenth of the
   targets' variance, validation (taken by index from the same set) included, and the
   accuracies read -1. A network with the softmax loss refuses the targets. */
TEST(fit_regresses_a_real_valued_function) {
    static float x[256], y[256], y_before[256];
    cnn_net net;
    cnn_dataset data;
    cnn_fit_opts fit;
    cnn_fit_result result;
    float before, after, accuracy = 0.0f;
    double variance = 0.0, mean = 0.0;
    int i;
    for (i = 0; i < 256; i++) {
        x[i] = -1.0f + 2.0f * (float)i / 255.0f;
        y[i] = 0.5f * (float)sin(3.0 * x[i]);
        mean += y[i] / 256.0;
    }
    for (i = 0; i < 256; i++) variance += (y[i] - mean) * (y[i] - mean) / 256.0;
    memset(&data, 0, sizeof data);
    memset(&data, 0, sizeof data); data.images = x; data.targets = y; data.count = 256;      /* no labels */
    CHECK_OK(regression_net(&net, CNN_LOSS_MSE, 16));
    CHECK_OK(cnn_evaluate(&net, &data, &before, &accuracy));
    CHECK(accuracy == -1.0f);
    CHECK_OK(cnn_predict(&net, x, 256, y_before, NULL));
    memset(&fit, 0, sizeof fit);
    fit.epochs = 60; fit.batch_size = 16; fit.quiet = 1; fit.seed = 3;
    fit.sgd.learning_rate = 0.1f; fit.sgd.momentum = 0.9f;
    fit.validation_fraction = 0.125f; fit.patience = 60;
    CHECK_OK(cnn_fit(&net, &data, &fit, &result));
    CHECK(result.accuracy == -1.0f && result.val_accuracy == -1.0f && result.val_loss >= 0.0f);
    CHECK_OK(cnn_evaluate(&net, &data, &after, NULL));
    CHECKF(after < 0.1 * variance && after < 0.1f * before, "loss %g before, %g after; variance %g", (double)before, (double)after, variance);
    CHECKF(result.val_loss < 0.1 * variance, "validation loss %g", (double)result.val_loss);
    cnn_net_free(&net);
    CHECK_OK(regression_net(&net, CNN_LOSS_SOFTMAX_CROSS_ENTROPY, 16));
    CHECK_STATUS(cnn_fit(&net, &data, &fit, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "CNN_LOSS_MSE") != NULL);
    data.targets = NULL;                                        /* neither labels nor targets */
    CHECK_STATUS(cnn_evaluate(&net, &data, &after, NULL), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net);
}

int main(void) {
    RUN(backward_with_real_targets_is_mean_squared_error);
    RUN(fit_regresses_a_real_valued_function);
    RUN(lecture_parameter_counts);
    RUN(summary_truncates_safely);
    RUN(shape_inference_and_padding_modes);
    RUN(bad_layers_are_rejected_with_a_message);
    RUN(overflowing_sizes_are_rejected);
    RUN(static_buffer_arena_and_out_of_memory);
    RUN(arena_push_mark_rewind);
    RUN(no_allocation_in_forward_backward_step);
    RUN(state_errors);
    RUN(training_learns_bars);
    RUN(same_seed_same_network);
    RUN(activation_before_a_max_pool_trains_the_same_fused_or_not);
    RUN(sgd_momentum_nesterov_and_decay_follow_the_formulas);
    RUN(learning_rate_schedules);
    RUN(nan_loss_stops_training_with_an_error);
    RUN(early_stopping_restores_the_best_weights);
    RUN(predict_and_evaluate);
    RUN(save_load_round_trip);
    RUN(corrupt_model_files_are_rejected);
    RUN(failed_save_keeps_the_old_file);
    RUN(mse_loss_network_trains);
    return harness_report();
}
