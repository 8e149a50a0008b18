#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    static float x[64 * 8 * 8];            /* 64 images, 8x8: a bar at row or column i/8, */
    static int32_t y[64];                  /* horizontal (class 0) or vertical (class 1)  */
    for (int i = 0; i < 64; i++) {
        y[i] = i % 2;
        for (int k = 0; k < 8; k++) x[i * 64 + (y[i] ? k * 8 + i / 8 : i / 8 * 8 + k)] = 1.0f;
    }
    cnn_net net;
    cnn_net_init(&net, &(cnn_net_opts){ .channels = 1, .height = 8, .width = 8 });
    cnn_add_conv(&net, &(cnn_conv_opts){ .filters = 4, .kernel = 3, .activation = CNN_ACT_RELU });
    cnn_add_pool(&net, &(cnn_pool_opts){ .kind = CNN_POOL_MAX, .size = 2 });
    cnn_add_dense(&net, &(cnn_dense_opts){ .units = 2 });
    cnn_dataset data = { .images = x, .labels = y, .count = 64 };
    cnn_fit_opts fit = { .epochs = 20, .batch_size = 8,
                         .sgd = { .learning_rate = 0.05f, .momentum = 0.9f } };
    float accuracy;
    if (cnn_net_build(&net, &(cnn_build_opts){ .with_momentum = 1 }) || cnn_fit(&net, &data, &fit, NULL) ||
        cnn_evaluate(&net, &data, NULL, &accuracy) || cnn_save(&net, "bars.cnn")) {
        fprintf(stderr, "cnn: %s\n", cnn_last_error());
        return 1;
    }
    printf("accuracy %.0f%%, model saved to bars.cnn\n", 100 * accuracy);
    cnn_net_free(&net);
    return 0;
}
