/* Convolution as a sliding inner product: the lecture's 7x7 image and 3x3 feature detector. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float image[7 * 7] = {
        0, 0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 1, 0,
        0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0,
        0, 1, 0, 0, 0, 1, 0,
        0, 0, 1, 1, 1, 0, 0,
        0, 0, 0, 0, 0, 0, 0 };
    const float kernel[3 * 3] = {
        0, 0, 1,
        1, 0, 0,
        0, 1, 1 };
    float map[5 * 5], centre = 0.0f;
    /* one image, one channel, 7x7; one filter of 3x3; stride 1, no dilation, no padding */
    cnn_conv2d_shape s = { .n = 1, .c = 1, .h = 7, .w = 7, .k = 1, .kh = 3, .kw = 3,
                           .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
    int i, j, r, q;

    if (cnn_conv2d_forward(&s, image, kernel, NULL, map) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("feature map:\n");
    for (i = 0; i < 5; i++) {
        for (j = 0; j < 5; j++) printf(" %g", map[i * 5 + j]);
        printf("\n");
    }
    /* The same number by hand: the inner product of the kernel with the patch whose top-left
       corner is (2, 2), i.e. the patch centred on pixel (3, 3). */
    for (r = 0; r < 3; r++)
        for (q = 0; q < 3; q++) centre += kernel[r * 3 + q] * image[(2 + r) * 7 + (2 + q)];
    printf("centre by hand: %g\n", centre);
    return 0;
}
