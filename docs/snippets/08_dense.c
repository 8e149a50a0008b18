/* A dense (fully connected) layer: every output is a weighted sum of every input, plus a bias.
   y[o] = b[o] + sum_i W[o][i] * x[i], with W stored (out, in): one row per output. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float x[9] = { 1, 1, 0, 4, 2, 1, 0, 2, 1 };   /* the flattened vector */
    const float W[2 * 9] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1,          /* output 0: the sum of all inputs */
        0, 0, 0, 1, 1, 1, 0, 0, 0 };        /* output 1: the middle row of the pooled map */
    const float b[2] = { 0.5f, -1.0f };
    float y[2];
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 7, .width = 7 };
    cnn_conv_opts conv = { .filters = 1, .kernel = 3, .no_bias = 1 };
    cnn_pool_opts pool = { .ceil_mode = 1 };          /* max, 2x2, stride 2: the defaults */
    cnn_dense_opts dense = { .units = 2 };
    cnn_layer_info layer;

    if (cnn_dense_forward(1, 9, 2, x, W, b, y) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    printf("y = %g %g\n", y[0], y[1]);

    /* In a network, a dense layer after a C x H x W map flattens it implicitly. */
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_pool(&net, &pool) ||
        cnn_add_dense(&net, &dense) || cnn_layer_describe(&net, 2, &layer)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("dense layer: %d inputs -> %d outputs, %zu weights + %zu biases\n",
           layer.in_c * layer.in_h * layer.in_w, layer.out_c, layer.weight_count, layer.bias_count);
    return 0;
}
