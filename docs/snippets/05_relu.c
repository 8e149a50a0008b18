/* ReLU: after the convolution, negative values become 0. Here as a function on its own, then
   fused into a convolution layer of a network. */
#include <stdio.h>
#include <string.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float v[5] = { -2.0f, -0.5f, 0.0f, 1.5f, 3.0f };
    const float image[6 * 6] = {
        1, 0, 0, 0, 0, 1,
        0, 1, 0, 0, 1, 0,
        0, 0, 1, 1, 0, 0,
        1, 0, 0, 0, 1, 0,
        0, 1, 0, 0, 1, 0,
        0, 0, 1, 0, 1, 0 };
    const float filters[2 * 1 * 3 * 3] = {
         1, -1, -1,   -1,  1, -1,   -1, -1,  1,
        -1,  1, -1,   -1,  1, -1,   -1,  1, -1 };
    float r[5];
    const float *maps;
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 6, .width = 6 };
    cnn_conv_opts conv = { .filters = 2, .kernel = 3, .no_bias = 1, .activation = CNN_ACT_RELU };
    cnn_build_opts build = { .max_batch = 1, .inference_only = 1 };
    int k, i, j;

    cnn_activation_forward(CNN_ACT_RELU, 0.0f, 5, v, r);
    printf("relu:");
    for (i = 0; i < 5; i++) printf(" %g", r[i]);
    printf("\n");

    /* A network of one layer: 2 filters of 3x3, no bias, ReLU fused into the layer. */
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_net_build(&net, &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    memcpy(cnn_layer_weights(&net, 0, NULL), filters, sizeof filters);   /* ours, not random ones */
    if (cnn_forward(&net, image, 1, 0) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    maps = cnn_output(&net);
    for (k = 0; k < 2; k++) {
        printf("rectified map %d:\n", k);
        for (i = 0; i < 4; i++) {
            for (j = 0; j < 4; j++) printf(" %g", maps[(k * 4 + i) * 4 + j]);
            printf("\n");
        }
    }
    cnn_net_free(&net);
    return 0;
}
