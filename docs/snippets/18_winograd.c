/* Winograd: the same convolution with fewer multiplications. First F(2,3) by hand, two outputs
   of a 3-tap filter from four inputs with 4 products instead of 6; then cnn.h's F(4x4, 3x3)
   against direct convolution on a 3x3 layer, and what auto picks for two layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float d[4] = { 1, 2, 3, 4 }, g[3] = { 1, 0, -1 };
    /* Direct: y0 = g0 d0 + g1 d1 + g2 d2, y1 = g0 d1 + g1 d2 + g2 d3: 6 products. */
    float y0 = g[0] * d[0] + g[1] * d[1] + g[2] * d[2], y1 = g[0] * d[1] + g[1] * d[2] + g[2] * d[3];
    /* Winograd F(2,3): 4 products of transformed inputs and transformed filter taps
       (the filter's part, G g, is computed once and reused for every pair of outputs). */
    float m1 = (d[0] - d[2]) * g[0], m2 = (d[1] + d[2]) * (g[0] + g[1] + g[2]) / 2;
    float m3 = (d[2] - d[1]) * (g[0] - g[1] + g[2]) / 2, m4 = (d[1] - d[3]) * g[2];
    cnn_conv2d_shape s = { .n = 2, .c = 16, .h = 20, .w = 20, .k = 16, .kh = 3, .kw = 3,
                           .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                           .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
    cnn_conv2d_shape first = { .n = 64, .c = 1, .h = 28, .w = 28, .k = 32, .kh = 3, .kw = 3,
                               .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
    cnn_conv2d_shape wide = { .n = 1, .c = 64, .h = 56, .w = 56, .k = 64, .kh = 3, .kw = 3,
                              .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                              .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
    const size_t nx = 2 * 16 * 20 * 20, nw = 16 * 16 * 9;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    float *y_direct = malloc(nx * sizeof *x), *y_wino = malloc(nx * sizeof *x);
    size_t ws_bytes, i;
    void *ws;
    double diff = 0, top = 0;
    cnn_rng rng;

    printf("direct:   y = %g, %g (6 products)\n", y0, y1);
    printf("winograd: y = %g, %g (4 products)\n", m1 + m2 + m3, m2 - m3 - m4);

    cnn_rng_seed(&rng, 1);
    for (i = 0; i < nx; i++) x[i] = cnn_rng_normal(&rng);
    for (i = 0; i < nw; i++) w[i] = cnn_rng_normal(&rng);
    s.algo = CNN_CONV_WINOGRAD_4X4;     /* Winograd needs the workspace: size it for this algo */
    ws_bytes = cnn_conv2d_workspace_bytes(&s);
    ws = malloc(ws_bytes);
    if (cnn_conv2d_forward_ws(&s, x, w, NULL, y_wino, ws, ws_bytes)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    s.algo = CNN_CONV_DIRECT;
    if (cnn_conv2d_forward_ws(&s, x, w, NULL, y_direct, ws, ws_bytes)) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    for (i = 0; i < nx; i++) {
        if (fabs(y_wino[i] - y_direct[i]) > diff) diff = fabs(y_wino[i] - y_direct[i]);
        if (fabs(y_direct[i]) > top) top = fabs(y_direct[i]);
    }
    printf("F(4x4, 3x3) against direct, 16 -> 16 channels: within 1e-5 of the largest output: %s\n",
           diff <= 1e-5 * top ? "yes" : "no");

    /* Winograd on a 5x5 kernel cannot work: an error that says why. */
    s.kh = s.kw = 5; s.algo = CNN_CONV_WINOGRAD_4X4;
    printf("%s: %s\n", cnn_status_name(cnn_conv2d_check(&s, NULL, NULL)), cnn_last_error());

    printf("auto, 1 channel in (the digit model's first layer): %s\n", cnn_conv_algo_name(cnn_conv2d_algo_chosen(&first, 0)));
    printf("auto, 64 -> 64 channels on 56x56: %s\n", cnn_conv_algo_name(cnn_conv2d_algo_chosen(&wide, 0)));
    free(x); free(w); free(y_direct); free(y_wino); free(ws);
    return 0;
}
