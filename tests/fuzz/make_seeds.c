/* make_seeds.c - writes the model-file seeds of the fuzz corpus (tests/fuzz/corpus/load and
   load_weights): small models that together use every layer kind and option the file format
   stores. Run from the repository root: cc -std=c99 -I. tests/fuzz/make_seeds.c -lm && ./a.out
   (the IDX and build seeds are written by tests/fuzz/make_seeds.py). */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

static int save(cnn_net *net, const char *path) {
    cnn_build_opts b = {0};
    b.max_batch = 1;
    b.seed = 5;
    if (cnn_net_build(net, &b) || cnn_save(net, path)) { fprintf(stderr, "%s: %s\n", path, cnn_last_error()); return 1; }
    cnn_net_free(net);
    return 0;
}

/* A model with optimizer state: built to hold it, one step of the optimizer taken (kind 1:
   SGD with momentum, 2: Adam) from made-up gradients, saved with its state. */
static int save_stepped(cnn_net *net, const char *path, int kind) {
    cnn_build_opts b = {0};
    cnn_sgd_opts o = {0};
    size_t i;
    b.max_batch = 1;
    b.seed = 5;
    b.with_momentum = kind == 1;
    b.with_adam = kind == 2;
    o.momentum = kind == 1 ? 0.9f : 0.0f;
    o.optimizer = kind == 2 ? CNN_OPTIM_ADAM : CNN_OPTIM_SGD;
    if (cnn_net_build(net, &b)) { fprintf(stderr, "%s: %s\n", path, cnn_last_error()); return 1; }
    for (i = 0; i < net->param_floats; i++) net->grads[i] = (float)(i % 7) * 0.1f - 0.3f;
    if (cnn_optimizer_step(net, &o) || cnn_save(net, path)) { fprintf(stderr, "%s: %s\n", path, cnn_last_error()); return 1; }
    cnn_net_free(net);
    return 0;
}

int main(void) {
    cnn_net net;
    cnn_net_opts in = {0};
    cnn_conv_opts conv = {0};
    cnn_pool_opts pool = {0};
    cnn_dense_opts dense = {0};
    cnn_upsample_opts up;
    int bad = 0;
    /* the architecture fuzz_load_weights builds */
    in.channels = 1; in.height = 8; in.width = 8;
    conv.filters = 4; conv.activation = CNN_RELU;
    dense.units = 2;
    cnn_net_init(&net, &in);
    cnn_add_conv(&net, &conv);
    cnn_add_pool(&net, NULL);
    conv.filters = 3; conv.activation = CNN_ACT_NONE;
    cnn_add_conv(&net, &conv);
    cnn_add_dense(&net, &dense);
    bad |= save(&net, "tests/fuzz/corpus/load/small.cnn");
    cnn_net_init(&net, &in);
    conv.filters = 4; conv.activation = CNN_RELU;
    cnn_add_conv(&net, &conv);
    cnn_add_pool(&net, NULL);
    conv.filters = 3; conv.activation = CNN_ACT_NONE;
    cnn_add_conv(&net, &conv);
    cnn_add_dense(&net, &dense);
    bad |= save(&net, "tests/fuzz/corpus/load_weights/small.cnn");
    /* every layer kind and the rarer options: MSE, strides, dilation, explicit pads,
       average pooling in ceil mode, leaky ReLU, dropout, flatten, global pooling, no bias */
    in.channels = 2; in.height = 9; in.width = 7; in.loss = CNN_LOSS_MSE;
    cnn_net_init(&net, &in);
    conv.filters = 3; conv.kernel_h = 3; conv.kernel_w = 2; conv.stride_h = 2; conv.dilation_w = 2;
    conv.padding = CNN_PAD_EXPLICIT; conv.pad_top = 1; conv.pad_left = 2; conv.activation = CNN_LEAKY_RELU; conv.alpha = 0.2f;
    cnn_add_conv(&net, &conv);
    pool.kind = CNN_POOL_AVG; pool.size = 2; pool.stride = 1; pool.ceil_mode = 1; pool.count_pad = 1; pool.pad = 1;
    cnn_add_pool(&net, &pool);
    cnn_add_activation(&net, CNN_TANH, 0.0f);
    cnn_add_dropout(&net, 0.25f);
    cnn_add_flatten(&net);
    dense.units = 5; dense.activation = CNN_SIGMOID; dense.no_bias = 1;
    cnn_add_dense(&net, &dense);
    bad |= save(&net, "tests/fuzz/corpus/load/every_layer.cnn");
    in.channels = 3; in.height = 5; in.width = 5; in.loss = CNN_LOSS_SOFTMAX_CROSS_ENTROPY;
    cnn_net_init(&net, &in);
    memset(&conv, 0, sizeof conv);
    conv.filters = 4; conv.padding = CNN_PAD_SAME; conv.stride = 3;
    cnn_add_conv(&net, &conv);
    cnn_add_global_avg_pool(&net);
    dense.units = 3; dense.activation = CNN_ACT_NONE; dense.no_bias = 0;
    cnn_add_dense(&net, &dense);
    bad |= save(&net, "tests/fuzz/corpus/load/global_pool.cnn");
    cnn_net_init(&net, &in);                        /* the same, with optimizer state */
    cnn_add_conv(&net, &conv);
    cnn_add_global_avg_pool(&net);
    cnn_add_dense(&net, &dense);
    bad |= save_stepped(&net, "tests/fuzz/corpus/load/sgd_state.cnn", 1);
    cnn_net_init(&net, &in);
    cnn_add_conv(&net, &conv);
    cnn_add_global_avg_pool(&net);
    cnn_add_dense(&net, &dense);
    bad |= save_stepped(&net, "tests/fuzz/corpus/load/adam_state.cnn", 2);
    {   /* batch norm after a conv, after pooling and after a dense layer (per feature), one
           with another eps and a momentum of exactly 0 (fields 28, 29; four tensors each) */
        cnn_batchnorm_opts bn = {0};
        in.channels = 2; in.height = 6; in.width = 5;
        cnn_net_init(&net, &in);
        memset(&conv, 0, sizeof conv);
        conv.filters = 3; conv.no_bias = 1;
        cnn_add_conv(&net, &conv);
        cnn_add_batchnorm(&net, NULL);
        cnn_add_pool(&net, NULL);
        bn.eps = 1e-3f; bn.momentum = CNN_BATCHNORM_MOMENTUM_ZERO;
        cnn_add_batchnorm(&net, &bn);
        dense.units = 4;
        cnn_add_dense(&net, &dense);
        bn.eps = 0.0f; bn.momentum = 0.5f;
        cnn_add_batchnorm(&net, &bn);
        bad |= save(&net, "tests/fuzz/corpus/load/batchnorm.cnn");
    }
    /* upsampling by a scale and to a size, bilinear with align_corners, global max pooling */
    in.channels = 2; in.height = 3; in.width = 4;
    cnn_net_init(&net, &in);
    conv.filters = 3; conv.stride = 1;
    cnn_add_conv(&net, &conv);
    memset(&up, 0, sizeof up);
    up.scale_h = 2; up.scale_w = 3;
    cnn_add_upsample(&net, &up);
    memset(&up, 0, sizeof up);
    up.mode = CNN_UPSAMPLE_BILINEAR; up.align_corners = 1; up.out_h = 7; up.out_w = 5;
    cnn_add_upsample(&net, &up);
    cnn_add_global_maxpool(&net);
    cnn_add_dense(&net, &dense);
    bad |= save(&net, "tests/fuzz/corpus/load/upsample.cnn");
    return bad;
}
