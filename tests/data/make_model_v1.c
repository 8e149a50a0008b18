/* make_model_v1.c - writes tests/data/model_v1.cnn and model_v1.expected, the model file of
   format version 1 that tests/test_interop.c loads to prove later versions of cnn.h still read
   it. Run once, when the file format version changes (never to "fix" a failing test):

       cc -std=c99 -O2 -I. tests/data/make_model_v1.c -o /tmp/make_model_v1 -lm
       /tmp/make_model_v1 tests/data

   The network has one layer of every kind with parameters or settings the file stores
   (padding, stride, dilation, leaky slope, ceil mode, count_pad, dropout rate, no bias), and
   non-zero biases. The expected outputs are computed on the scalar reference path for
   model_v1_input(), which the test computes the same way. */
#include <stdio.h>
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"
#include "model_v1.h"

int main(int argc, char **argv) {
    char path[1024];
    float x[MODEL_V1_IMAGES * 3 * 9 * 8];
    cnn_net net;
    cnn_rng rng;
    const float *y;
    FILE *f;
    int i, j, outs;
    size_t p;
    if (argc != 2) { fprintf(stderr, "usage: make_model_v1 <directory>\n"); return 2; }
    if (model_v1_describe(&net) || cnn_net_build(&net, NULL)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    /* Biases start at zero: give every parameter a seeded value so a mix-up of tensors shows. */
    cnn_rng_seed(&rng, 2026);
    for (i = 0; i < net.layer_count; i++) {
        for (p = 0; p < net.layers[i].bias_count; p++) net.layers[i].b[p] = 0.5f * cnn_rng_normal(&rng);
    }
    model_v1_input(x);
    cnn_simd_force(CNN_SIMD_SCALAR);
    if (cnn_forward(&net, x, MODEL_V1_IMAGES, 0)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    y = cnn_output(&net);
    outs = cnn_net_output_size(&net);
    snprintf(path, sizeof path, "%s/model_v1.cnn", argv[1]);
    if (cnn_save(&net, path)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    snprintf(path, sizeof path, "%s/model_v1.expected", argv[1]);
    if (!(f = fopen(path, "w"))) { perror(path); return 1; }
    fprintf(f, "# outputs of model_v1.cnn for model_v1_input(), scalar path, cnn.h %s\n", cnn_version());
    for (i = 0; i < MODEL_V1_IMAGES; i++) {
        for (j = 0; j < outs; j++) fprintf(f, "%s%.9g", j ? " " : "", (double)y[i * outs + j]);
        fprintf(f, "\n");
    }
    fclose(f);
    cnn_net_free(&net);
    return 0;
}
