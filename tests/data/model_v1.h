/* model_v1.h - the architecture of tests/data/model_v1.cnn and the inputs its expected
   outputs were computed for; shared by make_model_v1.c and tests/test_interop.c. */
#define MODEL_V1_IMAGES 4
#define MODEL_V1_OUTPUTS 3

/* 4 images of 3 x 9 x 8, from a fixed seed. */
static void model_v1_input(float *x) {
    cnn_rng rng;
    int i;
    cnn_rng_seed(&rng, 7);
    for (i = 0; i < MODEL_V1_IMAGES * 3 * 9 * 8; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
}

static cnn_status model_v1_describe(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts c1, c2;
    cnn_pool_opts p1, p2;
    cnn_dense_opts d1, d2;
    memset(&in, 0, sizeof in); memset(&c1, 0, sizeof c1); memset(&c2, 0, sizeof c2);
    memset(&p1, 0, sizeof p1); memset(&p2, 0, sizeof p2); memset(&d1, 0, sizeof d1); memset(&d2, 0, sizeof d2);
    in.channels = 3; in.height = 9; in.width = 8;
    c1.filters = 4; c1.kernel = 3; c1.padding = CNN_PAD_SAME; c1.activation = CNN_ACT_LEAKY_RELU; c1.alpha = 0.1f;
    p1.size = 2; p1.ceil_mode = 1;                                      /* 9x8 -> 5x4 */
    c2.filters = 5; c2.kernel_h = 2; c2.kernel_w = 2; c2.dilation = 2; c2.no_bias = 1;
    c2.padding = CNN_PAD_EXPLICIT; c2.pad_top = 1; c2.pad_left = 1; c2.activation = CNN_ACT_TANH;  /* -> 4x3 */
    p2.kind = CNN_POOL_AVG; p2.size = 2; p2.stride = 1; p2.pad = 1; p2.count_pad = 1;               /* -> 5x4 */
    d1.units = 6; d1.activation = CNN_ACT_RELU;
    d2.units = MODEL_V1_OUTPUTS;
    cnn_net_init(net, &in);
    cnn_add_conv(net, &c1);
    cnn_add_pool(net, &p1);
    cnn_add_conv(net, &c2);
    cnn_add_pool(net, &p2);
    cnn_add_activation(net, CNN_ACT_SIGMOID, 0.0f);
    cnn_add_dropout(net, 0.25f);
    cnn_add_flatten(net);
    cnn_add_dense(net, &d1);
    return cnn_add_dense(net, &d2);
}
