/* The arena: how many bytes the digit model needs, and building it in a static buffer. */
#include <stdint.h>
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

static unsigned char memory[1 << 20];            /* 1 MiB, no malloc */

int main(void) {
    cnn_net net;
    cnn_net_opts mnist = { .channels = 1, .height = 28, .width = 28 };
    cnn_conv_opts c32 = { .filters = 32, .activation = CNN_ACT_RELU };
    cnn_conv_opts c64 = { .filters = 64, .activation = CNN_ACT_RELU };
    cnn_dense_opts d64 = { .units = 64, .activation = CNN_ACT_RELU }, d10 = { .units = 10 };
    cnn_build_opts train32 = { .max_batch = 32 };
    cnn_build_opts infer32 = { .max_batch = 32, .inference_only = 1 };
    cnn_build_opts infer1 = { .max_batch = 1, .inference_only = 1,
                              .buffer = memory, .buffer_size = sizeof memory };
    int i, aligned = 1;

    if (cnn_net_init(&net, &mnist) || cnn_add_conv(&net, &c32) || cnn_add_pool(&net, NULL) ||
        cnn_add_conv(&net, &c64) || cnn_add_pool(&net, NULL) || cnn_add_conv(&net, &c64) ||
        cnn_add_flatten(&net) || cnn_add_dense(&net, &d64) || cnn_add_dense(&net, &d10)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("training,  max_batch 32: %zu bytes\n", cnn_net_required_bytes(&net, &train32));
    printf("inference, max_batch 32: %zu bytes\n", cnn_net_required_bytes(&net, &infer32));
    printf("inference, max_batch 1:  %zu bytes\n", cnn_net_required_bytes(&net, &infer1));

    if (cnn_net_build(&net, &infer1) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    printf("built in a static buffer: %zu of %zu bytes used, allocated by the library: %s\n",
           net.arena.used, sizeof memory, net.arena.allocation ? "yes" : "no");
    printf("%zu parameters in %zu floats (each tensor padded to 64 bytes)\n",
           cnn_net_param_count(&net), net.param_floats);
    for (i = 0; i < cnn_net_layer_count(&net); i++) {
        const float *w = cnn_layer_weights(&net, i, NULL), *b = cnn_layer_bias(&net, i, NULL);
        if ((w && (uintptr_t)w % 64) || (b && (uintptr_t)b % 64)) aligned = 0;
    }
    printf("every weight and bias tensor 64-byte aligned: %s\n", aligned ? "yes" : "no");
    cnn_net_free(&net);
    return 0;
}
