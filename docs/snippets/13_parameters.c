/* Counting parameters: a conv layer has (kh*kw*in_channels + 1) * filters, a dense layer
   (inputs + 1) * units; pooling, flattening and ReLU have none. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    cnn_net net;
    cnn_net_opts mnist = { .channels = 1, .height = 28, .width = 28 };
    cnn_conv_opts c32 = { .filters = 32, .kernel = 3, .activation = CNN_ACT_RELU };
    cnn_conv_opts c64 = { .filters = 64, .kernel = 3, .activation = CNN_ACT_RELU };
    cnn_dense_opts d64 = { .units = 64, .activation = CNN_ACT_RELU };
    cnn_dense_opts d128 = { .units = 128, .activation = CNN_ACT_RELU };
    cnn_dense_opts d10 = { .units = 10 };       /* logits: the softmax is part of the loss */

    /* The lecture's digit model (Keras):
         Conv2D(32, (3,3), relu, input_shape=(28,28,1)), MaxPooling2D((2,2)),
         Conv2D(64, (3,3), relu), MaxPooling2D((2,2)), Conv2D(64, (3,3), relu),
         Flatten(), Dense(64, relu), Dense(10, softmax)                              */
    if (cnn_net_init(&net, &mnist) || cnn_add_conv(&net, &c32) || cnn_add_pool(&net, NULL) ||
        cnn_add_conv(&net, &c64) || cnn_add_pool(&net, NULL) || cnn_add_conv(&net, &c64) ||
        cnn_add_flatten(&net) || cnn_add_dense(&net, &d64) || cnn_add_dense(&net, &d10)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    cnn_net_print_summary(&net, stdout);

    /* The "basic CNN" of the parameter table: Conv(32) -> Conv(64) -> MaxPool -> Flatten ->
       Dense(128) -> Dense(10). */
    if (cnn_net_init(&net, &mnist) || cnn_add_conv(&net, &c32) || cnn_add_conv(&net, &c64) ||
        cnn_add_pool(&net, NULL) || cnn_add_flatten(&net) || cnn_add_dense(&net, &d128) ||
        cnn_add_dense(&net, &d10)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("\n");
    cnn_net_print_summary(&net, stdout);
    printf("second conv: (3*3*32 + 1) * 64 = %d\n", (3 * 3 * 32 + 1) * 64);
    return 0;
}
