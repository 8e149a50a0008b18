/* Dropout: in training, each value is zeroed with probability 'rate'; the survivors are scaled
   by 1 / (1 - rate) so the expected value stays the same, and evaluation changes nothing. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    float x[10], y[10], mask[10];
    cnn_rng rng;
    int i;

    for (i = 0; i < 10; i++) x[i] = 1.0f;
    cnn_rng_seed(&rng, 3);
    if (cnn_dropout_forward(10, 0.5f, 1, &rng, x, y, mask) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("training:  ");
    for (i = 0; i < 10; i++) printf(" %g", y[i]);
    printf("\n");
    cnn_dropout_forward(10, 0.5f, 0, NULL, x, y, NULL);
    printf("evaluation:");
    for (i = 0; i < 10; i++) printf(" %g", y[i]);
    printf("\n");

    /* In a network: the lecture's MaxPooling2D(), Dropout(0.2), Flatten(). The 'training'
       argument of cnn_forward decides whether the layer drops anything. */
    {
        static float image[1 * 8 * 8];
        cnn_net net;
        cnn_net_opts in = { .channels = 1, .height = 8, .width = 8 };
        cnn_build_opts build = { .max_batch = 1, .seed = 5 };
        cnn_dropout_opts dropout = { .rate = 0.2f };
        const float *out;
        float kept = 0.0f;
        int zeros;
        for (i = 0; i < 64; i++) image[i] = 1.0f;
        if (cnn_net_init(&net, &in) || cnn_add_pool(&net, NULL) || cnn_add_dropout_ex(&net, &dropout) ||
            cnn_add_flatten(&net) || cnn_net_build(&net, &build)) {
            fprintf(stderr, "%s\n", cnn_last_error());
            return 1;
        }
        cnn_forward(&net, image, 1, 1);
        out = cnn_output(&net);
        for (zeros = 0, i = 0; i < 16; i++) {
            zeros += out[i] == 0.0f;
            if (out[i] != 0.0f) kept = out[i];
        }
        printf("training forward: %d of 16 values dropped, the others %g\n", zeros, kept);
        cnn_forward(&net, image, 1, 0);
        out = cnn_output(&net);
        for (zeros = 0, i = 0; i < 16; i++) zeros += out[i] == 0.0f;
        printf("evaluation forward: %d of 16 values dropped\n", zeros);
        cnn_net_free(&net);
    }
    return 0;
}
