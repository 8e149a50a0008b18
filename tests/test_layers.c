/* test_layers.c - the layer options and names of the network API, the layers without weights
   through save and load, and the random draws behind initialisation. */
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

int main(void) {
    RUN(activation_and_dropout_option_structs);
    RUN(global_avgpool_names);
    return harness_report();
}
