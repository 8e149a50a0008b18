/* An image is an array of numbers. cnn.h stores images NCHW: batch, channels, rows, columns. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    /* A black-and-white 2x2 image: one channel, a 2-D array. 1 is ink, 0 is background. */
    float bw[1 * 2 * 2] = { 0, 1,
                            1, 0 };
    /* A colour 2x2 image: three channels (red, green, blue), a 3-D array. Each channel is a
       whole 2x2 plane, stored one after the other (channels first). */
    float rgb[3 * 2 * 2] = { 1, 0, 0, 1,      /* red   plane */
                             0, 1, 0, 0,      /* green plane */
                             0, 0, 1, 1 };    /* blue  plane */
    const int C = 3, H = 2, W = 2;
    int c, h, w;
    cnn_net net;
    cnn_net_opts in = { .channels = 3, .height = 2, .width = 2 };

    printf("black and white: row 0 = %g %g, row 1 = %g %g\n", bw[0], bw[1], bw[2], bw[3]);
    /* Value (c, h, w) of image n sits at ((n*C + c)*H + h)*W + w. */
    for (h = 0; h < H; h++)
        for (w = 0; w < W; w++) {
            printf("pixel (%d,%d): rgb =", h, w);
            for (c = 0; c < C; c++) printf(" %g", rgb[(c * H + h) * W + w]);
            printf("\n");
        }
    /* A network is told the shape of one input image: channels x height x width. */
    if (cnn_net_init(&net, &in) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    printf("one input image holds %d numbers\n", cnn_net_output_size(&net));
    return 0;
}
