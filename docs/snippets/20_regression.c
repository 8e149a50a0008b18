/* Regression: a network that outputs a real number, here y = sin(3x) / 2 on [-1, 1]. The
   dataset gives targets instead of labels, and the loss is the mean squared error. */
#include <math.h>
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

#define N 256

int main(void) {
    static float x[N], y[N];
    const float probe[3] = { -0.5f, 0.0f, 0.5f };
    float fitted[3], before, after;
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 1, .width = 1, .loss = CNN_LOSS_MSE };
    cnn_dense_opts hidden = { .units = 16, .activation = CNN_ACT_TANH }, out = { .units = 1 };
    cnn_build_opts build = { .max_batch = 16, .seed = 8, .with_momentum = 1 };
    cnn_fit_opts fit = { .epochs = 60, .batch_size = 16, .seed = 3, .quiet = 1,
                         .sgd = { .learning_rate = 0.1f, .momentum = 0.9f } };
    cnn_dataset data = { .images = x, .targets = y, .count = N };      /* no labels */
    int i;

    for (i = 0; i < N; i++) {
        x[i] = -1.0f + 2.0f * (float)i / (N - 1);
        y[i] = 0.5f * sinf(3.0f * x[i]);
    }
    if (cnn_net_init(&net, &in) || cnn_add_dense(&net, &hidden) || cnn_add_dense(&net, &out) ||
        cnn_net_build(&net, &build) || cnn_evaluate(&net, &data, &before, NULL) ||
        cnn_fit(&net, &data, &fit, NULL) || cnn_evaluate(&net, &data, &after, NULL) ||
        cnn_predict(&net, probe, 3, fitted, NULL)) {               /* MSE: the outputs themselves */
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("mean squared error: %s before training, %s after\n",
           before > 0.05f ? "above 0.05" : "below 0.05", after < 0.005f ? "below 0.005" : "above 0.005");
    for (i = 0; i < 3; i++)
        printf("x = %4.1f: network %5.2f, sin(3x)/2 %5.2f\n", probe[i], fitted[i], 0.5f * sinf(3.0f * probe[i]));
    cnn_net_free(&net);
    return 0;
}
