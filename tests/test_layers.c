/* test_layers.c - the layer options and names of the network API, the layers without weights
   through save and load, the random draws behind initialisation and dropout. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

#define TMP_MODEL "build/tests/test_layers_model.cnn"

static cnn_net_opts input(int c, int h, int w) {
    cnn_net_opts o;
    memset(&o, 0, sizeof o);
    o.channels = c; o.height = h; o.width = w;
    return o;
}

/* One activation layer on a 1 x 1 x 4 input, its output for the values -2, -1, 1, 2. */
static cnn_status activation_net(cnn_net *net, const cnn_activation_opts *opts, float out[4]) {
    static const float x[4] = { -2.0f, -1.0f, 1.0f, 2.0f };
    cnn_net_opts in = input(1, 1, 4);
    cnn_build_opts b;
    cnn_status st;
    memset(&b, 0, sizeof b);
    b.max_batch = 1;
    st = cnn_net_init(net, &in);
    if (!st) st = cnn_add_activation_ex(net, opts);
    if (!st) st = cnn_net_build(net, &b);
    if (!st) st = cnn_forward(net, x, 1, 0);
    if (!st) memcpy(out, cnn_output(net), 4 * sizeof(float));
    return st;
}

/* Options structs for the activation and dropout layers, zero meaning default as everywhere;
   CNN_ALPHA_ZERO asks for a leaky slope of exactly 0. */
TEST(activation_and_dropout_option_structs) {
    cnn_net net;
    cnn_activation_opts a;
    cnn_dropout_opts d;
    cnn_net_opts in = input(1, 1, 4);
    float y[4];

    memset(&a, 0, sizeof a);
    a.activation = CNN_ACT_LEAKY_RELU;                      /* alpha 0: the default 0.01 */
    CHECK_OK(activation_net(&net, &a, y));
    CHECK(net.layers[0].alpha == 0.01f);
    CHECK(y[0] == -0.02f && y[1] == -0.01f && y[2] == 1.0f && y[3] == 2.0f);
    cnn_net_free(&net);

    a.alpha = CNN_ALPHA_ZERO;                               /* exactly 0 */
    CHECK_OK(activation_net(&net, &a, y));
    CHECK(net.layers[0].alpha == 0.0f && signbit(net.layers[0].alpha));
    CHECK(y[0] == 0.0f && y[1] == 0.0f && y[2] == 1.0f && y[3] == 2.0f);
    cnn_net_free(&net);

    a.alpha = 0.25f;
    CHECK_OK(activation_net(&net, &a, y));
    CHECK(y[0] == -0.5f && y[3] == 2.0f);
    cnn_net_free(&net);

    CHECK_OK(activation_net(&net, NULL, y));                /* NULL: no activation */
    CHECK(net.layers[0].act == CNN_ACT_NONE && y[0] == -2.0f && y[3] == 2.0f);
    cnn_net_free(&net);

    a.activation = CNN_ACT_LEAKY_RELU; a.alpha = 1.5f;
    CHECK_STATUS(activation_net(&net, &a, y), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "slope") != NULL);
    cnn_net_free(&net);

    /* The plain form and the earlier names still compile and mean the same. */
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_activation(&net, CNN_LEAKY_RELU, 0.0f));
    CHECK(net.layers[0].act == CNN_ACT_LEAKY_RELU && net.layers[0].alpha == 0.01f);
    CHECK_OK(cnn_add_activation(&net, CNN_ACT_LEAKY_RELU, CNN_ALPHA_ZERO));
    CHECK(net.layers[1].alpha == 0.0f);
    CHECK(CNN_RELU == CNN_ACT_RELU && CNN_SIGMOID == CNN_ACT_SIGMOID && CNN_TANH == CNN_ACT_TANH);

    memset(&d, 0, sizeof d);
    d.rate = 0.25f;
    CHECK_OK(cnn_add_dropout_ex(&net, &d));
    CHECK(net.layers[2].kind == CNN_LAYER_DROPOUT && net.layers[2].rate == 0.25f);
    CHECK_OK(cnn_add_dropout_ex(&net, NULL));               /* rate 0: passes values on */
    CHECK(net.layers[3].rate == 0.0f);
    CHECK_OK(cnn_add_dropout(&net, 0.5f));
    CHECK(net.layers[4].rate == 0.5f);
    d.rate = 1.0f;
    CHECK_STATUS(cnn_add_dropout_ex(&net, &d), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "dropout") != NULL && strstr(cnn_last_error(), "rate") != NULL);
}

/* cnn_add_global_avgpool and its earlier name add the same layer. */
TEST(global_avgpool_names) {
    cnn_net net;
    cnn_net_opts in = input(3, 4, 5);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_global_avgpool(&net));
    CHECK(net.layers[0].kind == CNN_LAYER_GLOBAL_AVGPOOL && net.layers[0].out_c == 3 && net.layers[0].flat);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_global_avg_pool(&net));
    CHECK(net.layers[0].kind == CNN_LAYER_GLOBAL_AVG_POOL && CNN_LAYER_GLOBAL_AVG_POOL == CNN_LAYER_GLOBAL_AVGPOOL);
}

/* Mean, variance, the share within one standard deviation, skewness and kurtosis of n draws:
   the moments a normal distribution fixes (0, 1, 0.6827, 0, 3 for a standard one). */
typedef struct moments { double mean, var, within1, skew, kurt; } moments;
static moments moments_of(const float *v, size_t n) {
    moments m;
    double sum = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0, sd;
    size_t i, within = 0;
    for (i = 0; i < n; i++) sum += v[i];
    m.mean = sum / (double)n;
    for (i = 0; i < n; i++) {
        double d = v[i] - m.mean;
        m2 += d * d; m3 += d * d * d; m4 += d * d * d * d;
    }
    m.var = m2 / (double)n;
    sd = sqrt(m.var);
    for (i = 0; i < n; i++) within += fabs(v[i] - m.mean) <= sd;
    m.within1 = (double)within / (double)n;
    m.skew = m3 / (double)n / (m.var * sd);
    m.kurt = m4 / (double)n / (m.var * m.var);
    return m;
}

/* cnn_rng_normal draws N(0, 1): 200,000 draws have its moments to within about four
   standard errors of each estimate (mean 0.0022, variance 0.0032, share 0.001, skewness
   0.0055, kurtosis 0.011), for two seeds. */
TEST(rng_normal_is_standard_normal) {
    static float v[200000];
    const size_t n = sizeof v / sizeof v[0];
    uint64_t seed;
    for (seed = 1; seed <= 2; seed++) {
        cnn_rng rng;
        moments m;
        size_t i, far_out = 0;
        cnn_rng_seed(&rng, seed);
        for (i = 0; i < n; i++) {
            v[i] = cnn_rng_normal(&rng);
            far_out += !(fabsf(v[i]) < 10.0f);                  /* also catches NaN and inf */
        }
        m = moments_of(v, n);
        CHECK(far_out == 0);
        CHECK_NEAR(m.mean, 0.0, 0.01);
        CHECK_NEAR(m.var, 1.0, 0.015);
        CHECK_NEAR(m.within1, 0.6827, 0.005);
        CHECK_NEAR(m.skew, 0.0, 0.025);
        CHECK_NEAR(m.kurt, 3.0, 0.05);
    }
}

/* He normal draws each weight from N(0, 2 / fan_in), fan_in = C*KH*KW for a convolution and
   the inputs for a dense layer; biases start at 0. The share within one standard deviation
   tells a normal distribution (0.683) from a uniform one of the same variance (0.577), and
   the variance tells He (2/72 here) from Glorot (2/(72+576)). */
TEST(he_normal_initialisation_statistics) {
    cnn_net net;
    cnn_net_opts in = input(8, 6, 6);
    cnn_conv_opts c;
    cnn_dense_opts d;
    cnn_build_opts b;
    memset(&c, 0, sizeof c); memset(&d, 0, sizeof d); memset(&b, 0, sizeof b);
    c.filters = 256; c.kernel = 3;                          /* fan_in 72, 18,432 weights */
    d.units = 400;                                          /* fan_in 256*4*4 = 4096, 1,638,400 weights */
    b.init = CNN_INIT_HE_NORMAL; b.seed = 11; b.max_batch = 1; b.inference_only = 1;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c));
    CHECK_OK(cnn_add_dense(&net, &d));
    CHECK_OK(cnn_net_build(&net, &b));
    if (net.built) {
        const cnn_layer *conv = &net.layers[0], *dense = &net.layers[1];
        moments mc = moments_of(conv->w, conv->weight_count), md = moments_of(dense->w, dense->weight_count);
        size_t i, nonzero_bias = 0;
        CHECK(conv->weight_count == 256 * 72 && dense->weight_count == 400 * 4096);
        CHECK_NEAR(mc.mean, 0.0, 4.0 * sqrt(2.0 / 72 / 18432));
        CHECK_NEAR(mc.var / (2.0 / 72), 1.0, 0.05);
        CHECK_NEAR(mc.within1, 0.6827, 0.015);
        CHECK_NEAR(md.mean, 0.0, 4.0 * sqrt(2.0 / 4096 / 1638400));
        CHECK_NEAR(md.var / (2.0 / 4096), 1.0, 0.01);
        CHECK_NEAR(md.within1, 0.6827, 0.002);
        for (i = 0; i < 256; i++) nonzero_bias += conv->b[i] != 0.0f;
        for (i = 0; i < 400; i++) nonzero_bias += dense->b[i] != 0.0f;
        CHECK(nonzero_bias == 0);
        /* Glorot uniform on the same layers: another variance, and uniform. */
        CHECK_OK(cnn_net_init_weights(&net, CNN_INIT_GLOROT_UNIFORM, 11));
        mc = moments_of(conv->w, conv->weight_count);
        CHECK_NEAR(mc.var / (2.0 / (72 + 256 * 9)), 1.0, 0.05);
        CHECK_NEAR(mc.within1, 0.5774, 0.015);
    }
    cnn_net_free(&net);
}

/* Saves net, loads it with another build seed, and compares both networks layer by layer and
   output by output, in evaluation and (with the same dropout generator) in training mode. */
static void check_round_trip(cnn_net *net, const float *x, int n) {
    static float before[2][512], after[2][512];
    cnn_net loaded;
    cnn_build_opts b;
    int i, mode;
    size_t outputs = (size_t)n * (size_t)cnn_net_output_size(net);
    memset(&b, 0, sizeof b);
    b.max_batch = net->max_batch; b.seed = 999;
    memset(&loaded, 0, sizeof loaded);
    CHECK(outputs <= 512);
    CHECK_OK(cnn_save(net, TMP_MODEL));
    CHECK_OK(cnn_load(&loaded, TMP_MODEL, &b));
    if (!loaded.built || outputs > 512) return;
    CHECK(loaded.layer_count == net->layer_count);
    for (i = 0; i < net->layer_count && i < loaded.layer_count; i++) {
        const cnn_layer *a = &net->layers[i], *l = &loaded.layers[i];
        CHECKF(a->kind == l->kind && a->act == l->act && a->rate == l->rate && a->flat == l->flat &&
               a->out_c == l->out_c && a->out_h == l->out_h && a->out_w == l->out_w &&
               (a->act != CNN_ACT_LEAKY_RELU || memcmp(&a->alpha, &l->alpha, sizeof(float)) == 0),
               "layer %d: kind %d/%d act %d/%d alpha %g/%g rate %g/%g", i, (int)a->kind, (int)l->kind,
               (int)a->act, (int)l->act, (double)a->alpha, (double)l->alpha, (double)a->rate, (double)l->rate);
    }
    for (mode = 0; mode < 2; mode++) {                     /* 0: evaluation, 1: training (dropout) */
        cnn_rng_seed(&net->rng, 5);
        cnn_rng_seed(&loaded.rng, 5);
        CHECK_OK(cnn_forward(net, x, n, mode));
        memcpy(before[mode], cnn_output(net), outputs * sizeof(float));
        CHECK_OK(cnn_forward(&loaded, x, n, mode));
        memcpy(after[mode], cnn_output(&loaded), outputs * sizeof(float));
        CHECK(memcmp(before[mode], after[mode], outputs * sizeof(float)) == 0);
    }
    /* Dropout did something in training mode, so the comparison above tested its rate. */
    CHECK(memcmp(before[0], before[1], outputs * sizeof(float)) != 0);
    cnn_net_free(&loaded);
}

/* The layers without weights survive save and load: activation (its kind and slope, the
   exact-zero slope included), dropout (its rate), flatten and global average pooling. */
TEST(weightless_layers_save_and_load) {
    static float x[3 * 2 * 7 * 7];
    cnn_net net;
    cnn_net_opts in = input(2, 7, 7);
    cnn_conv_opts c;
    cnn_dense_opts d;
    cnn_activation_opts leaky, zero, sig;
    cnn_dropout_opts drop;
    cnn_build_opts b;
    cnn_rng rng;
    size_t i;
    cnn_rng_seed(&rng, 3);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    memset(&c, 0, sizeof c); memset(&d, 0, sizeof d); memset(&b, 0, sizeof b);
    memset(&leaky, 0, sizeof leaky); memset(&zero, 0, sizeof zero); memset(&sig, 0, sizeof sig);
    c.filters = 4; c.kernel = 3; d.units = 5;
    leaky.activation = CNN_ACT_LEAKY_RELU; leaky.alpha = 0.2f;
    zero.activation = CNN_ACT_LEAKY_RELU; zero.alpha = CNN_ALPHA_ZERO;
    sig.activation = CNN_ACT_SIGMOID;
    drop.rate = 0.3f;
    b.max_batch = 3; b.seed = 1;

    /* conv, leaky ReLU, dropout, flatten, dense */
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c));
    CHECK_OK(cnn_add_activation_ex(&net, &leaky));
    CHECK_OK(cnn_add_dropout_ex(&net, &drop));
    CHECK_OK(cnn_add_flatten(&net));
    CHECK_OK(cnn_add_dense(&net, &d));
    CHECK_OK(cnn_net_build(&net, &b));
    if (net.built) check_round_trip(&net, x, 3);
    cnn_net_free(&net);

    /* conv, leaky ReLU with slope exactly 0, dropout, global average pooling, sigmoid, dense */
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c));
    CHECK_OK(cnn_add_activation_ex(&net, &zero));
    CHECK_OK(cnn_add_dropout_ex(&net, &drop));
    CHECK_OK(cnn_add_global_avgpool(&net));
    CHECK_OK(cnn_add_activation_ex(&net, &sig));
    CHECK_OK(cnn_add_dense(&net, &d));
    CHECK_OK(cnn_net_build(&net, &b));
    if (net.built) check_round_trip(&net, x, 3);
    cnn_net_free(&net);
}

/* An arena without memory (zeroed, or freed) gives no block and says why; the network's
   measured size is what its build uses (cnn_net_required_bytes and cnn_net_build share the
   arena's bump rule). */
TEST(arena_without_memory_and_exact_measure) {
    static unsigned char buffer[1 << 16];
    cnn_arena a;
    cnn_net net;
    cnn_net_opts in = input(1, 8, 8);
    cnn_conv_opts c;
    cnn_build_opts b;
    size_t need;
    memset(&a, 0, sizeof a);
    CHECK(cnn_arena_push(&a, 0) == NULL && cnn_arena_push(&a, 16) == NULL);
    CHECK(strstr(cnn_last_error(), "no memory") != NULL);
    CHECK_OK(cnn_arena_init(&a, buffer, sizeof buffer));
    CHECK(cnn_arena_push(&a, 16) != NULL);
    cnn_arena_free(&a);
    CHECK(cnn_arena_push(&a, 16) == NULL);
    memset(&c, 0, sizeof c); memset(&b, 0, sizeof b);
    c.filters = 3;
    b.max_batch = 2; b.buffer = buffer; b.buffer_size = sizeof buffer;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &c));
    need = cnn_net_required_bytes(&net, &b);
    CHECK(need > 0 && need <= sizeof buffer);
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(net.arena.used + CNN_ALIGNMENT == need);    /* measured exactly, plus the alignment slack */
    cnn_net_free(&net);
}

/* The IEEE CRC-32 the model file ends with (reflected polynomial 0xEDB88320, as zlib). */
static uint32_t file_crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Replaces the 4 bytes of 'was' in the model file at path by those of 'now' (the value must
   occur once) and writes a CRC that matches again: a file cnn_save would never write (it
   refuses non-finite weights) but a damaged or hostile one can be. Returns 1 on success. */
static int patch_weight(const char *path, float was, float now) {
    static unsigned char file[1 << 16];
    size_t size, i, at = 0;
    int found = 0;
    uint32_t crc;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size = fread(file, 1, sizeof file, f);
    fclose(f);
    if (size < 8 || size == sizeof file) return 0;
    for (i = 0; i + 4 <= size - 4; i++)
        if (memcmp(file + i, &was, 4) == 0) { at = i; found++; }
    if (found != 1) return 0;
    memcpy(file + at, &now, 4);
    crc = file_crc32(file, size - 4);
    for (i = 0; i < 4; i++) file[size - 4 + i] = (unsigned char)(crc >> (8 * i));   /* little-endian */
    f = fopen(path, "wb");
    if (!f) return 0;
    i = fwrite(file, 1, size, f);
    return fclose(f) == 0 && i == size;
}

/* A model file whose CRC is right but which holds a NaN or infinite weight is refused by both
   loaders, before anything changes: the weights of a network that loads must be usable. */
TEST(non_finite_weights_are_refused_on_load) {
    static const float bad[2] = { NAN, -INFINITY };
    cnn_net net, target;
    cnn_net_opts in = input(1, 4, 4);
    cnn_dense_opts d;
    cnn_build_opts b;
    int k;
    memset(&d, 0, sizeof d); memset(&b, 0, sizeof b);
    d.units = 3; b.max_batch = 1; b.seed = 4;
    for (k = 0; k < 2; k++) {
        float kept;
        CHECK_OK(cnn_net_init(&net, &in));
        CHECK_OK(cnn_add_dense(&net, &d));
        CHECK_OK(cnn_net_build(&net, &b));
        if (!net.built) return;
        CHECK_OK(cnn_save(&net, TMP_MODEL));
        CHECK(patch_weight(TMP_MODEL, net.layers[0].w[7], bad[k]));
        memset(&target, 0, sizeof target);
        CHECK_STATUS(cnn_load(&target, TMP_MODEL, &b), CNN_ERR_FILE_CORRUPT);
        CHECK(!target.built);
        CHECK(strstr(cnn_last_error(), "NaN") != NULL);
        CHECK_OK(cnn_net_init(&target, &in));
        CHECK_OK(cnn_add_dense(&target, &d));
        CHECK_OK(cnn_net_build(&target, &b));
        kept = target.layers[0].w[7];
        CHECK_STATUS(cnn_load_weights(&target, TMP_MODEL), CNN_ERR_FILE_CORRUPT);
        CHECK(target.layers[0].w[7] == kept);              /* untouched */
        cnn_net_free(&target);
        cnn_net_free(&net);
    }
}

/* A few training steps through dropout, from the build's weights and a given dropout
   generator state: the trained weights. */
static cnn_status dropout_run(const cnn_rng *start, int steps, float *params, size_t *count) {
    static float x[4 * 2 * 6 * 6];
    static const int32_t labels[4] = { 0, 1, 2, 1 };
    cnn_net net;
    cnn_net_opts in = input(2, 6, 6);
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_build_opts b;
    cnn_sgd_opts sgd;
    cnn_status st;
    size_t i;
    int k;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    memset(&conv, 0, sizeof conv); conv.filters = 3; conv.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    memset(&b, 0, sizeof b); b.max_batch = 4; b.seed = 21; b.with_momentum = 1;
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.1f; sgd.momentum = 0.5f;
    if ((st = cnn_net_init(&net, &in)) || (st = cnn_add_conv(&net, &conv)) || (st = cnn_add_dropout(&net, 0.5f)) ||
        (st = cnn_add_dense(&net, &dense)) || (st = cnn_net_build(&net, &b)))
        return st;
    if (start) *cnn_net_dropout_rng(&net) = *start;
    for (k = 0; k < steps && !st; k++) st = cnn_train_batch(&net, x, labels, 4, &sgd, NULL);
    if (!st) { memcpy(params, net.params, net.param_floats * sizeof(float)); *count = net.param_floats; }
    cnn_net_free(&net);
    return st;
}

/* Dropout draws from the network's generator: the same state gives the same masks, so the
   same training run, bit for bit; another state another run. */
TEST(dropout_runs_repeat_from_the_same_generator_state) {
    static float a[4096], b[4096], c[4096];
    size_t na = 0, nb = 0, nc = 0;
    cnn_rng seeded, other;
    cnn_rng_seed(&seeded, 1234);
    cnn_rng_seed(&other, 1235);
    CHECK_OK(dropout_run(&seeded, 5, a, &na));
    CHECK_OK(dropout_run(&seeded, 5, b, &nb));
    CHECK_OK(dropout_run(&other, 5, c, &nc));
    CHECK(na > 0 && na == nb && na == nc && na <= 4096);
    CHECK(memcmp(a, b, na * sizeof(float)) == 0);
    CHECK(memcmp(a, c, na * sizeof(float)) != 0);
    /* without a state of one's own, the build's seed decides, the same way every time */
    CHECK_OK(dropout_run(NULL, 5, b, &nb));
    CHECK_OK(dropout_run(NULL, 5, c, &nc));
    CHECK(memcmp(b, c, nb * sizeof(float)) == 0);
    CHECK(cnn_net_dropout_rng(NULL) == NULL && strstr(cnn_last_error(), "NULL") != NULL);
}

/* The functions that reach into layers agree with the structs they read, and refuse what a
   layer does not have. */
TEST(layer_functions_reach_parameters_gradients_and_outputs) {
    static float x[2 * 3 * 9 * 7];
    cnn_net net;
    cnn_net_opts in = input(3, 9, 7);
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    cnn_build_opts b;
    cnn_layer_info info;
    size_t count = 99, i;
    int shape[4] = { 0, 0, 0, 0 };
    const float *out;
    memset(&conv, 0, sizeof conv); conv.filters = 5; conv.kernel_h = 3; conv.kernel_w = 2; conv.activation = CNN_ACT_TANH;
    memset(&pool, 0, sizeof pool); pool.size_h = 2; pool.size_w = 3; pool.stride = 1;
    memset(&dense, 0, sizeof dense); dense.units = 4; dense.no_bias = 1;
    memset(&b, 0, sizeof b); b.max_batch = 2;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)(i % 5) - 2.0f;
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_conv(&net, &conv));
    CHECK_OK(cnn_add_pool(&net, &pool));
    CHECK_OK(cnn_add_dense(&net, &dense));
    CHECK(cnn_net_layer_count(&net) == 3 && cnn_net_layer_count(NULL) == 0);
    CHECK_OK(cnn_layer_describe(&net, 0, &info));       /* before building too */
    CHECK(info.kind == CNN_LAYER_CONV && info.activation == CNN_ACT_TANH && info.in_c == 3 && info.in_h == 9 && info.in_w == 7);
    CHECK(info.out_c == 5 && info.out_h == 7 && info.out_w == 6 && !info.flat && info.kernel_h == 3 && info.kernel_w == 2);
    CHECK(info.weight_count == 5 * 3 * 3 * 2 && info.bias_count == 5);
    CHECK_OK(cnn_layer_describe(&net, 1, &info));
    CHECK(info.kind == CNN_LAYER_POOL && info.out_h == 6 && info.out_w == 4 && info.kernel_h == 2 && info.kernel_w == 3 && info.weight_count == 0);
    CHECK_OK(cnn_layer_describe(&net, 2, &info));
    CHECK(info.kind == CNN_LAYER_DENSE && info.flat && info.out_c == 4 && info.weight_count == 4 * 5 * 6 * 4 && info.bias_count == 0);
    CHECK_STATUS(cnn_layer_describe(&net, 3, &info), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "layer 3") && strstr(cnn_last_error(), "0 to 2"));
    CHECK_STATUS(cnn_layer_describe(&net, -1, &info), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_layer_describe(&net, 0, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(cnn_layer_weights(&net, 0, &count) == NULL && count == 0 && strstr(cnn_last_error(), "not built"));
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(cnn_layer_weights(&net, 0, &count) == net.layers[0].w && count == 90);
    CHECK(cnn_layer_bias(&net, 0, &count) == net.layers[0].b && count == 5);
    CHECK(cnn_layer_weight_grads(&net, 0, &count) == net.layers[0].dw && count == 90);
    CHECK(cnn_layer_bias_grads(&net, 0, NULL) == net.layers[0].db);
    CHECK(cnn_layer_weights(&net, 2, &count) == net.layers[2].w && count == 480);
    count = 7;
    CHECK(cnn_layer_bias(&net, 2, &count) == NULL && count == 0 && strstr(cnn_last_error(), "layer 2 (dense) has no bias"));
    CHECK(cnn_layer_weights(&net, 1, &count) == NULL && strstr(cnn_last_error(), "layer 1 (pool) has no weights"));
    CHECK(cnn_layer_weights(NULL, 0, &count) == NULL && cnn_layer_weights(&net, 5, &count) == NULL);
    CHECK(cnn_layer_output(&net, 0, shape) == NULL && strstr(cnn_last_error(), "no forward"));
    CHECK_OK(cnn_forward(&net, x, 2, 0));
    out = cnn_layer_output(&net, 1, shape);
    CHECK(out == net.layers[1].out && shape[0] == 2 && shape[1] == 5 && shape[2] == 6 && shape[3] == 4);
    CHECK(cnn_layer_output(&net, 2, shape) == cnn_output(&net) && shape[1] == 4 && shape[2] == 1 && shape[3] == 1);
    CHECK(cnn_layer_output(&net, 3, NULL) == NULL);
    cnn_net_free(&net);
    b.inference_only = 1;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(cnn_layer_weights(&net, 0, NULL) != NULL);
    CHECK(cnn_layer_weight_grads(&net, 0, &count) == NULL && count == 0 && strstr(cnn_last_error(), "inference_only"));
    cnn_net_free(&net);
}

int main(void) {
    RUN(activation_and_dropout_option_structs);
    RUN(global_avgpool_names);
    RUN(rng_normal_is_standard_normal);
    RUN(he_normal_initialisation_statistics);
    RUN(weightless_layers_save_and_load);
    RUN(arena_without_memory_and_exact_measure);
    RUN(non_finite_weights_are_refused_on_load);
    RUN(dropout_runs_repeat_from_the_same_generator_state);
    RUN(layer_functions_reach_parameters_gradients_and_outputs);
    return harness_report();
}
