/* Adam on the bars of section 11, then a save and a load that resumes training where it was:
   the file carries Adam's moments and the step count when the build holds them. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

#define N 32                                   /* images: 16 horizontal bars, 16 vertical */
#define BATCH 8

int main(void) {
    static float images[N * 8 * 8];
    int32_t labels[N];
    cnn_net net, resumed;
    cnn_net_opts in = { .channels = 1, .height = 8, .width = 8 };
    cnn_conv_opts conv = { .filters = 4, .kernel = 3, .activation = CNN_ACT_RELU };
    cnn_dense_opts dense = { .units = 2 };
    cnn_build_opts build = { .max_batch = BATCH, .seed = 1, .with_adam = 1 };
    cnn_optim_opts adam = { .optimizer = CNN_OPTIM_ADAM, .learning_rate = 0.03f };
    cnn_dataset data = { .images = images, .labels = labels, .count = N };
    cnn_rng rng;
    float before, after, accuracy;
    int i, k, epoch, b;

    cnn_rng_seed(&rng, 42);                    /* the images of section 11 */
    for (i = 0; i < N; i++) {
        float *img = images + i * 64;
        labels[i] = i % 2;
        for (k = 0; k < 64; k++) img[k] = 0.2f * cnn_rng_uniform(&rng);
        for (k = 0; k < 8; k++) img[labels[i] ? k * 8 + (i / 2) % 8 : (i / 2) % 8 * 8 + k] = 1.0f;
    }
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_pool(&net, NULL) ||
        cnn_add_dense(&net, &dense) || cnn_net_build(&net, &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    cnn_evaluate(&net, &data, &before, &accuracy);
    for (epoch = 1; epoch <= 10; epoch++)
        for (b = 0; b < N; b += BATCH)
            if (cnn_train_batch(&net, images + b * 64, labels + b, BATCH, &adam, NULL) != CNN_OK) {
                fprintf(stderr, "%s\n", cnn_last_error());
                return 1;
            }
    cnn_evaluate(&net, &data, &after, &accuracy);
    printf("Adam, 10 epochs (%u steps): loss %s, accuracy %.0f%%\n", (unsigned)net.step,
           after < before / 10 ? "down more than tenfold" : "NOT down tenfold", 100 * accuracy);
    /* The same build options when loading (.with_adam): the moments come back with the weights. */
    if (cnn_save(&net, "bars.cnn") || cnn_load(&resumed, "bars.cnn", &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("loaded: step %u, first moment of the first weight %s\n", (unsigned)resumed.step,
           resumed.adam_m[0] == net.adam_m[0] ? "as saved" : "LOST");
    cnn_net_free(&resumed);
    cnn_net_free(&net);
    return 0;
}
