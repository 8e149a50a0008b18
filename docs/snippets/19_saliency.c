/* The gradient with respect to the input: which pixels the decision hangs on (a saliency
   map), and how to push an image across the decision with one small step of every pixel
   (the fast gradient sign method, FGSM: x' = x + eps * sign(dL/dx)). */
#include <math.h>
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

#define N 64

int main(void) {
    static float images[N * 6 * 6];
    static int32_t labels[N];
    float x[36], dx[36], adv[36], before[2], after[2], top = 0.0f;
    const int32_t label = 1;                     /* a vertical bar */
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 6, .width = 6 };
    cnn_conv_opts conv = { .filters = 4, .kernel = 3, .activation = CNN_ACT_RELU };
    cnn_dense_opts dense = { .units = 2 };
    cnn_build_opts build = { .max_batch = 16, .seed = 3 };
    cnn_fit_opts fit = { .epochs = 20, .batch_size = 16, .sgd = { .learning_rate = 0.1f }, .seed = 4, .quiet = 1 };
    cnn_dataset data = { .images = images, .labels = labels, .count = N };
    int i, k;

    for (i = 0; i < N; i++) {                    /* class 0: a horizontal bar, 1: a vertical one */
        labels[i] = i % 2;
        for (k = 0; k < 36; k++) images[i * 36 + k] = 0.0f;
        for (k = 0; k < 6; k++) images[i * 36 + (labels[i] ? k * 6 + (i / 2) % 6 : (i / 2) % 6 * 6 + k)] = 1.0f;
    }
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_dense(&net, &dense) ||
        cnn_net_build(&net, &build) || cnn_fit(&net, &data, &fit, NULL)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }

    for (k = 0; k < 36; k++) x[k] = k % 6 == 2 ? 1.0f : 0.0f;          /* a bar in column 2 */
    /* forward, backward against the true label, then one layer further: dL/dx */
    if (cnn_forward(&net, x, 1, 0) || cnn_backward(&net, &label, NULL) || cnn_input_gradient(&net, dx)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    cnn_softmax(1, 2, cnn_output(&net), before);
    for (k = 0; k < 36; k++) top = fmaxf(top, fabsf(dx[k]));
    printf("saliency |dL/dx|, 0 to 9:\n");
    for (i = 0; i < 6; i++) {
        for (k = 0; k < 6; k++) printf(" %d", (int)(9.0f * fabsf(dx[i * 6 + k]) / top + 0.5f));
        printf("\n");
    }

    /* FGSM: every pixel moves by eps in the direction that raises the loss */
    for (k = 0; k < 36; k++) adv[k] = x[k] + 0.3f * (dx[k] > 0.0f ? 1.0f : dx[k] < 0.0f ? -1.0f : 0.0f);
    if (cnn_predict(&net, adv, 1, after, NULL)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    printf("p(vertical): %.2f before, %.2f after a step of 0.3 per pixel\n", before[1], after[1]);
    cnn_net_free(&net);
    return 0;
}
