/* Convolution + pooling + flattening as a network: the 7x7 image becomes a vector of 9. */
#include <stdio.h>
#include <string.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float image[7 * 7] = {
        0, 0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 1, 0,
        0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0,
        0, 1, 0, 0, 0, 1, 0,
        0, 0, 1, 1, 1, 0, 0,
        0, 0, 0, 0, 0, 0, 0 };
    const float kernel[3 * 3] = { 0, 0, 1, 1, 0, 0, 0, 1, 1 };
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 7, .width = 7 };
    cnn_conv_opts conv = { .filters = 1, .kernel = 3, .no_bias = 1 };
    cnn_pool_opts pool = { .kind = CNN_POOL_MAX, .size = 2, .stride = 2, .ceil_mode = 1 };
    cnn_build_opts build = { .max_batch = 1, .inference_only = 1 };
    const float *v;
    int i, n;

    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_pool(&net, &pool) ||
        cnn_add_flatten(&net) || cnn_net_build(&net, &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    memcpy(cnn_layer_weights(&net, 0, NULL), kernel, sizeof kernel);
    if (cnn_forward(&net, image, 1, 0) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    v = cnn_output(&net);
    n = cnn_net_output_size(&net);
    printf("flattened (%d values):", n);
    for (i = 0; i < n; i++) printf(" %g", v[i]);
    printf("\n");
    /* NCHW already stores a map row after row: flattening moves no data. */
    printf("the flatten layer is a view of the pooled map: %s\n",
           cnn_layer_output(&net, 2, NULL) == cnn_layer_output(&net, 1, NULL) ? "yes" : "no");
    cnn_net_free(&net);
    return 0;
}
