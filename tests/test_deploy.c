/* test_deploy.c - from training to deployment: a rebuild keeps the weights, an inference
   build holds the liveness minimum and nothing else, a training build only the state asked
   for, and a cnn_net from code of another layout is refused. */
#include <stdlib.h>

static int alloc_calls;
static void *counting_malloc(size_t size) { alloc_calls++; return malloc(size); }
#define CNN_MALLOC(size, ctx) ((void)(ctx), counting_malloc(size))
#define CNN_FREE(ptr, ctx) ((void)(ctx), free(ptr))
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

/* The lecture's digit model (93,322 parameters). */
static cnn_status digit_model(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts c;
    cnn_dense_opts d;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 28; in.width = 28;
    memset(&c, 0, sizeof c); c.filters = 32; c.activation = CNN_ACT_RELU;
    memset(&d, 0, sizeof d); d.units = 64; d.activation = CNN_ACT_RELU;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &c)) || (st = cnn_add_pool(net, NULL))) return st;
    c.filters = 64;
    if ((st = cnn_add_conv(net, &c)) || (st = cnn_add_pool(net, NULL)) || (st = cnn_add_conv(net, &c)) ||
        (st = cnn_add_flatten(net)) || (st = cnn_add_dense(net, &d))) return st;
    d.units = 10; d.activation = CNN_ACT_NONE;
    return cnn_add_dense(net, &d);
}

/* Odd shapes, an activation layer on the input itself, dropout, global pooling. */
static cnn_status odd_model(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts c;
    cnn_dense_opts d;
    cnn_pool_opts p;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 17; in.width = 7;
    memset(&c, 0, sizeof c); c.filters = 7; c.kernel = 3; c.padding = CNN_PAD_SAME;
    memset(&p, 0, sizeof p); p.size = 3; p.stride = 2; p.kind = CNN_POOL_AVG;
    memset(&d, 0, sizeof d); d.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_activation(net, CNN_ACT_TANH, 0.0f)) || (st = cnn_add_conv(net, &c)) ||
        (st = cnn_add_dropout(net, 0.5f)) || (st = cnn_add_pool(net, &p)) || (st = cnn_add_activation(net, CNN_ACT_RELU, 0.0f))) return st;
    c.filters = 17; c.kernel = 1;
    if ((st = cnn_add_conv(net, &c)) || (st = cnn_add_global_avgpool(net)) || (st = cnn_add_dense(net, &d))) return st;
    return CNN_OK;
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }
static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

/* What an inference build should need, from the layer shapes alone: weights, the Winograd
   layers' transformed filters (kept from one forward pass to the next), one region of
   max_batch x the largest two adjacent outputs (views and in-place layers are no outputs),
   the forward workspace (without the transformed filters), 64 bytes of slack. *liveness: the
   same without any rounding. */
static size_t inference_formula(const cnn_net *net, int batch, size_t *liveness) {
    size_t weights = 0, region = 0, exact = 0, held = 0, held_exact = 0, ws = 0;
    int i;
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        size_t out = (size_t)l->out_c * l->out_h * l->out_w * batch;
        weights += round16(l->weight_count) + round16(l->bias_count);
        if (l->kind == CNN_LAYER_CONV) {
            cnn_conv2d_shape s = l->conv;
            size_t bytes;
            s.n = batch;
            if (cnn__wino_tile_sized(&s, 0)) {  /* memory is sized for Winograd wherever a path takes it */
                const size_t a = (size_t)cnn__wino_of(cnn__wino_tile_sized(&s, 0))->a;
                weights += round16(a * a * s.k * s.c);
            }
            bytes = cnn__conv2d_workspace(&s, 1, 0, 0, cnn__wino_tile_sized(&s, 0) != 0);   /* the kernels' own need, forward only */
            if (bytes > ws) ws = bytes;
        }
        if (l->kind == CNN_LAYER_FLATTEN || l->kind == CNN_LAYER_DROPOUT || (l->kind == CNN_LAYER_ACTIVATION && held))
            continue;
        if (held + round16(out) > region) region = held + round16(out);
        if (held_exact + out > exact) exact = held_exact + out;
        held = round16(out);
        held_exact = out;
    }
    *liveness = weights * 4 + exact * 4 + ws;
    return weights * 4 + region * 4 + align64(ws) + 64;
}

TEST(inference_needs_the_liveness_minimum) {
    cnn_net net;
    cnn_build_opts b;
    int m, batch;
    for (m = 0; m < 2; m++) {
        CHECK_OK(m ? odd_model(&net) : digit_model(&net));
        for (batch = 1; batch <= 32; batch += 31) {
            size_t need, formula, liveness;
            memset(&b, 0, sizeof b); b.inference_only = 1; b.max_batch = batch;
            need = cnn_net_required_bytes(&net, &b);
            formula = inference_formula(&net, batch, &liveness);
            CHECKF(need == formula, "model %d, batch %d: %zu bytes, the formula %zu", m, batch, need, formula);
            CHECKF(need <= liveness + liveness / 20, "model %d, batch %d: %zu bytes, liveness minimum %zu", m, batch, need, liveness);
            if (m == 0 && batch == 1) printf("digit model, inference, batch 1: %zu bytes (liveness minimum %zu)\n", need, liveness);
            if (m == 0 && batch == 32) printf("digit model, inference, batch 32: %zu bytes (liveness minimum %zu)\n", need, liveness);
        }
    }
}

TEST(inference_builds_compute_what_training_builds_do) {
    static float x[5 * 3 * 17 * 7], keep[5 * 3 * 17 * 7];
    float out_train[5 * 3], out_infer[5 * 3];
    cnn_net net;
    cnn_build_opts b;
    cnn_rng rng;
    size_t i;
    int before;
    cnn_rng_seed(&rng, 11);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = 2.0f * cnn_rng_normal(&rng);
    memcpy(keep, x, sizeof x);
    CHECK_OK(odd_model(&net));
    memset(&b, 0, sizeof b); b.max_batch = 5; b.seed = 2;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK_OK(cnn_predict(&net, x, 5, out_train, NULL));
    b.inference_only = 1;
    CHECK_OK(cnn_net_build(&net, &b));                 /* the same weights, the lean layout */
    CHECK(net.grads == NULL && net.input == NULL && net.labels == NULL && net.grad_a == NULL);
    for (i = 0; i < (size_t)net.layer_count; i++) CHECK(net.layers[i].mask == NULL && net.layers[i].argmax == NULL);
    before = alloc_calls;
    CHECK_OK(cnn_predict(&net, x, 5, out_infer, NULL));
    CHECK(alloc_calls == before);                      /* nothing allocated in forward */
    CHECK(memcmp(x, keep, sizeof x) == 0);             /* the first layer worked beside the images, not on them */
    for (i = 0; i < 5 * 3; i++) CHECK_NEAR(out_infer[i], out_train[i], 1e-5);
    CHECK_STATUS(cnn_forward(&net, x, 5, 1), CNN_ERR_STATE);   /* dropout needs masks */
    cnn_net_free(&net);
}

TEST(training_holds_only_the_state_asked_for) {
    cnn_net net;
    cnn_build_opts b;
    cnn_sgd_opts sgd;
    cnn_fit_opts fo;
    cnn_dataset d;
    memset(&d, 0, sizeof d);
    static float x[8 * 28 * 28];
    int32_t y[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    size_t plain, both, floats = 0;
    int i;
    CHECK_OK(digit_model(&net));
    memset(&b, 0, sizeof b); b.max_batch = 8;
    plain = cnn_net_required_bytes(&net, &b);
    b.with_momentum = 1; b.with_early_stopping = 1;
    both = cnn_net_required_bytes(&net, &b);
    for (i = 0; i < net.layer_count; i++) floats += round16(net.layers[i].weight_count) + round16(net.layers[i].bias_count);
    CHECK(both - plain == 2 * floats * sizeof(float));              /* velocity and the best weights */
    b.with_momentum = 0; b.with_early_stopping = 0;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(net.velocity == NULL && net.best_params == NULL && net.grads != NULL);
    memset(&sgd, 0, sizeof sgd); sgd.momentum = 0.9f;
    CHECK_STATUS(cnn_train_batch(&net, x, y, 8, &sgd, NULL), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "with_momentum") != NULL);
    CHECK_STATUS(cnn_sgd_step(&net, &sgd), CNN_ERR_STATE);
    sgd.momentum = 0.0f;
    CHECK_OK(cnn_train_batch(&net, x, y, 8, &sgd, NULL));       /* plain SGD needs no velocity */
    d.images = x; d.labels = y; d.count = 8;
    memset(&fo, 0, sizeof fo); fo.quiet = 1; fo.epochs = 1; fo.validation = &d; fo.patience = 2;
    CHECK_STATUS(cnn_fit(&net, &d, &fo, NULL), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "with_early_stopping") != NULL);
    fo.patience = 0;
    CHECK_OK(cnn_fit(&net, &d, &fo, NULL));                     /* validation alone needs no copy */
    cnn_net_free(&net);
}

TEST(a_rebuild_keeps_the_trained_weights) {
    static float x[64 * 28 * 28];
    static unsigned char buffer[4 << 20];
    int32_t y[64], trained_classes[64], deployed_classes[64];
    float *trained;
    cnn_net net;
    cnn_build_opts b;
    cnn_sgd_opts sgd;
    cnn_rng rng;
    size_t i;
    int step, distinct = 0;
    cnn_rng_seed(&rng, 5);
    for (i = 0; i < 64; i++) {   /* ten classes, each a bright band at its own rows */
        size_t r, c;
        y[i] = (int32_t)(i % 10);
        for (r = 0; r < 28; r++) for (c = 0; c < 28; c++)
            x[i * 784 + r * 28 + c] = 0.2f * cnn_rng_uniform(&rng) + (r / 3 == (size_t)y[i] ? 1.0f : 0.0f);
    }
    CHECK_OK(digit_model(&net));
    memset(&b, 0, sizeof b); b.max_batch = 32; b.seed = 3; b.with_momentum = 1;
    CHECK_OK(cnn_net_build(&net, &b));
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.05f; sgd.momentum = 0.9f;
    for (step = 0; step < 10; step++) CHECK_OK(cnn_train_batch(&net, x + (step % 2) * 32 * 784, y + (step % 2) * 32, 32, &sgd, NULL));
    CHECK_OK(cnn_predict(&net, x, 64, NULL, trained_classes));
    for (i = 1; i < 64; i++) distinct += trained_classes[i] != trained_classes[0];
    CHECK(distinct > 0);
    trained = (float *)malloc(net.param_floats * sizeof(float));
    CHECK(trained != NULL);
    if (!trained) return;
    memcpy(trained, net.params, net.param_floats * sizeof(float));

    memset(&b, 0, sizeof b); b.inference_only = 1; b.max_batch = 1;      /* deploy: one image at a time */
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(memcmp(net.params, trained, net.param_floats * sizeof(float)) == 0);
    CHECK_OK(cnn_predict(&net, x, 64, NULL, deployed_classes));
    CHECK(memcmp(deployed_classes, trained_classes, sizeof trained_classes) == 0);
    /* into a static buffer, then again into the same buffer: still the same weights */
    b.buffer = buffer; b.buffer_size = sizeof buffer;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(memcmp(net.params, trained, net.param_floats * sizeof(float)) == 0);
    /* a rebuild that fails leaves the network as it was */
    b.buffer_size = 1000;
    CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_OUT_OF_MEMORY);
    CHECK(net.built && memcmp(net.params, trained, net.param_floats * sizeof(float)) == 0);
    CHECK_OK(cnn_predict(&net, x, 64, NULL, deployed_classes));
    CHECK(memcmp(deployed_classes, trained_classes, sizeof trained_classes) == 0);
    /* asked for, a rebuild draws new weights */
    b.buffer = NULL; b.buffer_size = 0; b.reinit_weights = 1; b.seed = 99;
    CHECK_OK(cnn_net_build(&net, &b));
    CHECK(memcmp(net.params, trained, net.param_floats * sizeof(float)) != 0);
    free(trained);
    cnn_net_free(&net);
}

static size_t read_nothing(void *user, void *data, size_t size) { (void)user; (void)data; (void)size; return 0; }

TEST(a_network_of_another_layout_is_refused) {
    cnn_net net;
    cnn_net_opts in;
    cnn_build_opts b;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 4; in.width = 4;
    memset(&b, 0, sizeof b);
    /* a caller compiled with another CNN_MAX_LAYERS passes another sizeof(cnn_net) */
    memset(&net, 0x5a, sizeof net);
    CHECK_STATUS(cnn__net_init_sized(&net, &in, sizeof net + 8 * sizeof(cnn_layer)), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "CNN_MAX_LAYERS") != NULL);
    CHECK(net.in_c == 0x5a5a5a5a);                               /* nothing written */
    /* a network whose stamp is not this code's: every entry point refuses it */
    CHECK_STATUS(cnn_add_flatten(&net), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "CNN_MAX_LAYERS") != NULL);
    CHECK_STATUS(cnn_net_build(&net, &b), CNN_ERR_STATE);
    CHECK(cnn_net_required_bytes(&net, &b) == 0);
    CHECK_STATUS(cnn_forward(&net, NULL, 1, 0), CNN_ERR_STATE);
    CHECK(cnn_net_param_count(&net) == 0 && cnn_output(&net) == NULL);
    cnn_net_free(&net);                                          /* touches nothing */
    CHECK(net.in_c == 0x5a5a5a5a);
    CHECK_OK(cnn_net_init(&net, &in));
    CHECK_OK(cnn_add_flatten(&net));
    CHECK_OK(cnn_net_build(&net, &b));
    /* the loaders write a whole cnn_net: a caller of another size is refused before that */
    {
        static unsigned char model[4096];
        size_t size = 0;
        cnn_net loaded;
        CHECK_OK(cnn_save_to_memory(&net, model, sizeof model, &size));
        memset(&loaded, 0x5a, sizeof loaded);
        CHECK_STATUS(cnn__load_from_memory_sized(&loaded, model, size, sizeof loaded + sizeof(cnn_layer), NULL), CNN_ERR_INVALID_ARGUMENT);
        CHECK(strstr(cnn_last_error(), "load from memory") && strstr(cnn_last_error(), "CNN_MAX_LAYERS"));
        CHECK_STATUS(cnn__load_from_callback_sized(&loaded, read_nothing, NULL, sizeof loaded - 8, NULL), CNN_ERR_INVALID_ARGUMENT);
        CHECK(cnn_save(&net, "build/tests/deploy_layout.cnn") == CNN_OK);
        CHECK_STATUS(cnn__load_sized(&loaded, "build/tests/deploy_layout.cnn", 1, NULL), CNN_ERR_INVALID_ARGUMENT);
        CHECK(loaded.in_c == 0x5a5a5a5a);                        /* nothing written */
        CHECK_OK(cnn_load_from_memory(&loaded, model, size, NULL));   /* the macro passes the right size */
        CHECK(loaded.layer_count == 1);
        cnn_net_free(&loaded);
        CHECK_OK((cnn_load)(&loaded, "build/tests/deploy_layout.cnn", NULL));   /* the function itself */
        cnn_net_free(&loaded);
        remove("build/tests/deploy_layout.cnn");
    }
    cnn_net_free(&net);
}

TEST(option_structs_keep_their_layout) {
    /* cnn_fit_opts embeds cnn_sgd_opts: new optimizer fields take reserved room, so the
       fields after it stay where they are */
    CHECK(sizeof(cnn_sgd_opts) == 64);
    CHECK(offsetof(cnn_fit_opts, schedule) == offsetof(cnn_fit_opts, sgd) + 64);
    /* the layout stamp is the first field, where every layout puts it */
    CHECK(offsetof(cnn_net, layout_stamp) == 0);
}

int main(void) {
    RUN(inference_needs_the_liveness_minimum);
    RUN(inference_builds_compute_what_training_builds_do);
    RUN(training_holds_only_the_state_asked_for);
    RUN(a_rebuild_keeps_the_trained_weights);
    RUN(a_network_of_another_layout_is_refused);
    RUN(option_structs_keep_their_layout);
    return harness_report();
}
