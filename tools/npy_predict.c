/* npy_predict.c - runs a cnn.h model file on images from a .npy file and writes the outputs
   (the last layer's, logits for a classifier) as another .npy file. A bridge for checking
   cnn.h against another framework on the same inputs (tests/torch_interop.py uses it).

       cc -std=c99 -O2 -I. tools/npy_predict.c -o npy_predict -lm
       ./npy_predict model.cnn images.npy outputs.npy N

   images.npy holds N x C x H x W float32 (the model's input shape); outputs.npy receives
   N x outputs float32. */
#include <stdio.h>
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(int argc, char **argv) {
    cnn_net net;
    cnn_build_opts build = {0};
    float *x = NULL, *y = NULL;
    int n, outs, in_shape[4], out_shape[2], rc = 1;
    if (argc != 5 || (n = atoi(argv[4])) < 1) {
        fprintf(stderr, "usage: npy_predict model.cnn images.npy outputs.npy N\n");
        return 2;
    }
    build.max_batch = n;
    build.inference_only = 1;
    memset(&net, 0, sizeof net);
    if (cnn_load(&net, argv[1], &build)) goto fail;
    in_shape[0] = n; in_shape[1] = net.in_c; in_shape[2] = net.in_h; in_shape[3] = net.in_w;
    outs = cnn_net_output_size(&net);
    out_shape[0] = n; out_shape[1] = outs;
    x = (float *)malloc((size_t)n * net.in_c * net.in_h * net.in_w * sizeof *x);
    y = (float *)malloc((size_t)n * outs * sizeof *y);
    if (!x || !y) { fprintf(stderr, "npy_predict: out of memory\n"); goto done; }
    if (cnn_npy_load(argv[2], 4, in_shape, x) || cnn_forward(&net, x, n, 0)) goto fail;
    memcpy(y, cnn_output(&net), (size_t)n * outs * sizeof *y);
    if (cnn_npy_save(argv[3], y, 2, out_shape)) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "npy_predict: %s\n", cnn_last_error());
done:
    free(x);
    free(y);
    cnn_net_free(&net);
    return rc;
}
