/* Several filters: each one slides over the image and gives its own feature map. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float image[6 * 6] = {
        1, 0, 0, 0, 0, 1,
        0, 1, 0, 0, 1, 0,
        0, 0, 1, 1, 0, 0,
        1, 0, 0, 0, 1, 0,
        0, 1, 0, 0, 1, 0,
        0, 0, 1, 0, 1, 0 };
    /* Two 3x3 filters, stored KCRS (filter, channel, row, column): filter 0 looks for a
       diagonal line, filter 1 for a vertical one. */
    const float filters[2 * 1 * 3 * 3] = {
         1, -1, -1,   -1,  1, -1,   -1, -1,  1,
        -1,  1, -1,   -1,  1, -1,   -1,  1, -1 };
    const float bias[2] = { 0, 0 };
    float maps[2 * 4 * 4];             /* NCHW: 1 image, 2 channels (one per filter), 4x4 */
    cnn_conv2d_shape s = { .n = 1, .c = 1, .h = 6, .w = 6, .k = 2, .kh = 3, .kw = 3,
                           .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
    /* The next layer sees the two maps as a 2-channel image: its filters have depth 2. This
       one is 1x1 with weight 1 on each channel, so it adds the two maps. */
    const float mix[1 * 2 * 1 * 1] = { 1, 1 };
    float sum[4 * 4];
    cnn_conv2d_shape s2 = { .n = 1, .c = 2, .h = 4, .w = 4, .k = 1, .kh = 1, .kw = 1,
                            .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
    int k, i, j;

    if (cnn_conv2d_forward(&s, image, filters, bias, maps) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    for (k = 0; k < 2; k++) {
        printf("feature map %d:\n", k);
        for (i = 0; i < 4; i++) {
            for (j = 0; j < 4; j++) printf(" %2g", maps[(k * 4 + i) * 4 + j]);
            printf("\n");
        }
    }
    if (cnn_conv2d_forward(&s2, maps, mix, NULL, sum) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("a depth-2 filter over both maps:\n");
    for (i = 0; i < 4; i++) {
        for (j = 0; j < 4; j++) printf(" %2g", sum[i * 4 + j]);
        printf("\n");
    }
    return 0;
}
