/* Putting it together: the Keras call fit(..., epochs, batch_size, validation_split=0.2,
   shuffle=True) is cnn_fit; then save the trained model, load it back and predict. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

#define N 200

/* Called after every batch and at the end of every epoch; return nonzero to stop. */
static int on_progress(const cnn_progress *p, void *user) {
    (void)user;
    if (p->epoch_done && p->epoch == p->epochs)
        printf("epoch %d/%d: validation accuracy %.0f%%\n", p->epoch, p->epochs, 100 * p->val_accuracy);
    return 0;
}

int main(void) {
    static float images[N * 8 * 8];
    static int32_t labels[N], predicted[N];
    cnn_net net, loaded;
    cnn_net_opts in = { .channels = 1, .height = 8, .width = 8 };
    cnn_conv_opts conv = { .filters = 8, .kernel = 3, .activation = CNN_ACT_RELU };
    cnn_dense_opts dense = { .units = 2 };
    cnn_dropout_opts dropout = { .rate = 0.2f };
    cnn_build_opts build = { .max_batch = 16, .seed = 1, .with_momentum = 1 };
    cnn_fit_opts fit = { .epochs = 5, .batch_size = 16, .validation_fraction = 0.2f,
                         .sgd = { .learning_rate = 0.05f, .momentum = 0.9f },
                         .seed = 2, .progress = on_progress };
    cnn_dataset data = { .images = images, .labels = labels, .count = N };
    cnn_fit_result result;
    cnn_rng rng;
    int i, k, same = 0;

    cnn_rng_seed(&rng, 42);                    /* bars on noise, as in the SGD example */
    for (i = 0; i < N; i++) {
        float *img = images + i * 64;
        labels[i] = i % 2;
        for (k = 0; k < 64; k++) img[k] = 0.2f * cnn_rng_uniform(&rng);
        for (k = 0; k < 8; k++) img[labels[i] ? k * 8 + (i / 2) % 8 : (i / 2) % 8 * 8 + k] = 1.0f;
    }
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_pool(&net, NULL) ||
        cnn_add_dropout_ex(&net, &dropout) || cnn_add_dense(&net, &dense) || cnn_net_build(&net, &build) ||
        cnn_fit(&net, &data, &fit, &result) || cnn_save(&net, "bars.cnn")) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("trained %d epochs on %d images, validated on %d\n", result.epochs_run, N - N / 5, N / 5);

    /* cnn_load reads the architecture and the weights: no need to describe the network, nor
       to initialise 'loaded' (cnn_load never reads it, and writes it only on success). */
    if (cnn_load(&loaded, "bars.cnn", NULL) || cnn_predict(&loaded, images, N, NULL, predicted)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    for (i = 0; i < N; i++) same += predicted[i] == labels[i];
    printf("the loaded model classifies %d of %d images correctly\n", same, N);
    cnn_net_free(&net);
    cnn_net_free(&loaded);
    return 0;
}
