/* Stride, padding and the output-size formula
       out = floor((n + pad_total - dilation*(k-1) - 1) / stride) + 1          */
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
    const float kernel[3 * 3] = { 0, 0, 1, 1, 0, 0, 0, 1, 1 };
    float map[7 * 7];
    cnn_conv2d_shape s = { .n = 1, .c = 1, .h = 7, .w = 7, .k = 1, .kh = 3, .kw = 3,
                           .stride_h = 2, .stride_w = 2, .dilation_h = 1, .dilation_w = 1 };
    int before, after, oh, ow, i, j;

    /* The lecture's exercise: a 7x9 input, a 3x3 filter, stride 1, valid (no) padding. */
    printf("7x9, 3x3, valid:     %d x %d\n",
           cnn_conv_output_size(7, 3, 1, 1, 0), cnn_conv_output_size(9, 3, 1, 1, 0));
    /* 7x7 with stride 1 and stride 2. */
    printf("7x7, 3x3, stride 1:  %d x %d\n",
           cnn_conv_output_size(7, 3, 1, 1, 0), cnn_conv_output_size(7, 3, 1, 1, 0));
    printf("7x7, 3x3, stride 2:  %d x %d\n",
           cnn_conv_output_size(7, 3, 2, 1, 0), cnn_conv_output_size(7, 3, 2, 1, 0));
    /* Padding modes: the pads one axis of 7 gets for a 3-wide kernel at stride 1. */
    cnn_padding_for(CNN_PAD_SAME, 7, 3, 1, 1, &before, &after);
    printf("same: pads %d+%d -> %d\n", before, after, cnn_conv_output_size(7, 3, 1, 1, before + after));
    cnn_padding_for(CNN_PAD_FULL, 7, 3, 1, 1, &before, &after);
    printf("full: pads %d+%d -> %d\n", before, after, cnn_conv_output_size(7, 3, 1, 1, before + after));

    /* The 7x7 example again with stride 2: every other position of the stride-1 map. */
    if (cnn_conv2d_check(&s, &oh, &ow) != CNN_OK || cnn_conv2d_forward(&s, image, kernel, NULL, map) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("stride 2 feature map (%d x %d):\n", oh, ow);
    for (i = 0; i < oh; i++) {
        for (j = 0; j < ow; j++) printf(" %g", map[i * ow + j]);
        printf("\n");
    }
    /* With 'same' padding (one ring of zeros) the map keeps the image's 7x7 size. */
    s.stride_h = s.stride_w = 1;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 1;
    if (cnn_conv2d_check(&s, &oh, &ow) != CNN_OK || cnn_conv2d_forward(&s, image, kernel, NULL, map) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("same-padded feature map (%d x %d):\n", oh, ow);
    for (i = 0; i < oh; i++) {
        for (j = 0; j < ow; j++) printf(" %g", map[i * ow + j]);
        printf("\n");
    }
    return 0;
}
