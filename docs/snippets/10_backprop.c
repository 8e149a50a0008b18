/* Backpropagation: the gradient of the loss with respect to every weight, layer by layer from
   the output back to the input. First by hand for one dense layer, then checked against
   finite differences on a small convolutional network. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

static float loss_of(cnn_net *net, const float *x, const int32_t *labels, int n) {
    float loss = 0.0f;
    cnn_forward(net, x, n, 0);
    cnn_softmax_cross_entropy(n, cnn_net_output_size(net), cnn_output(net), labels, &loss, NULL);
    return loss;
}

int main(void) {
    /* 1. One dense layer, 2 inputs -> 2 classes: logits z = W x + b, loss = -log softmax(z)[t].
          dL/dz = p - onehot(t);  dL/dW = dL/dz x^T;  dL/db = dL/dz. */
    const float W[4] = { 1, 2,
                         3, 4 }, x[2] = { 1.0f, 0.5f };
    const int32_t t[1] = { 0 };
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 1, .width = 2 };
    cnn_dense_opts dense = { .units = 2 };
    cnn_build_opts build = { .max_batch = 2, .seed = 7 };
    float p[2], loss, *dW, *db;

    if (cnn_net_init(&net, &in) || cnn_add_dense(&net, &dense) || cnn_net_build(&net, &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    memcpy(cnn_layer_weights(&net, 0, NULL), W, sizeof W);   /* the biases start at zero */
    cnn_forward(&net, x, 1, 1);
    cnn_backward(&net, t, &loss);
    cnn_softmax(1, 2, cnn_output(&net), p);
    dW = cnn_layer_weight_grads(&net, 0, NULL);
    db = cnn_layer_bias_grads(&net, 0, NULL);
    printf("logits %g %g, p %.4f %.4f, loss %.4f\n", cnn_output(&net)[0], cnn_output(&net)[1], p[0], p[1], loss);
    printf("dW by backprop: %.4f %.4f / %.4f %.4f   db: %.4f %.4f\n",
           dW[0], dW[1], dW[2], dW[3], db[0], db[1]);
    printf("dW by hand:     %.4f %.4f / %.4f %.4f   db: %.4f %.4f\n",
           (p[0] - 1) * x[0], (p[0] - 1) * x[1], p[1] * x[0], p[1] * x[1], p[0] - 1, p[1]);
    cnn_net_free(&net);

    /* 2. conv (tanh) -> average pooling -> dense, a batch of 2 random 6x6 images. Each
          gradient is compared with (L(w + h) - L(w - h)) / 2h. */
    {
        cnn_net_opts in2 = { .channels = 1, .height = 6, .width = 6 };
        cnn_conv_opts conv = { .filters = 2, .kernel = 3, .activation = CNN_ACT_TANH };
        cnn_pool_opts pool = { .kind = CNN_POOL_AVG };
        cnn_dense_opts out = { .units = 3 };
        const int32_t labels[2] = { 2, 0 };
        float images[2 * 36], worst = 0.0f;
        cnn_rng rng;
        int i, l, checked = 0;
        cnn_rng_seed(&rng, 1);
        for (i = 0; i < 2 * 36; i++) images[i] = cnn_rng_uniform(&rng);
        if (cnn_net_init(&net, &in2) || cnn_add_conv(&net, &conv) || cnn_add_pool(&net, &pool) ||
            cnn_add_dense(&net, &out) || cnn_net_build(&net, &build)) {
            fprintf(stderr, "%s\n", cnn_last_error());
            return 1;
        }
        cnn_forward(&net, images, 2, 1);
        cnn_backward(&net, labels, &loss);
        for (l = 0; l < cnn_net_layer_count(&net); l++) {
            size_t j, count;
            float *w = cnn_layer_weights(&net, l, &count), *dw = cnn_layer_weight_grads(&net, l, NULL);
            for (j = 0; j < count; j++) {             /* (a pooling layer has none: count 0) */
                const float h = 1e-2f, keep = w[j];
                float up, down;
                w[j] = keep + h; up = loss_of(&net, images, labels, 2);
                w[j] = keep - h; down = loss_of(&net, images, labels, 2);
                w[j] = keep;
                worst = fmaxf(worst, fabsf(dw[j] - (up - down) / (2 * h)));
                checked++;
            }
        }
        printf("%d weight gradients checked; backprop and finite differences agree to 1e-3: %s\n",
               checked, worst < 1e-3f ? "yes" : "no");
        cnn_net_free(&net);
    }
    return 0;
}
