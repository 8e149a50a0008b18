/* Max and average pooling: each 2x2 window becomes one number. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

static void print_map(const char *title, const float *m, int h, int w) {
    int i, j;
    printf("%s (%d x %d):\n", title, h, w);
    for (i = 0; i < h; i++) {
        for (j = 0; j < w; j++) printf(" %g", m[i * w + j]);
        printf("\n");
    }
}

int main(void) {
    const float x[4 * 4] = {
         8, 7,  5,  3,
        12, 9,  5,  7,
        13, 2, 10,  3,
         9, 4,  5, 14 };
    /* the 5x5 feature map of the 7x7 example */
    const float map[5 * 5] = {
        0, 1, 0, 0, 0,
        0, 1, 1, 1, 0,
        1, 0, 0, 2, 1,
        1, 4, 2, 1, 0,
        0, 0, 1, 2, 1 };
    float y[3 * 3];
    int32_t argmax[3 * 3];
    int oh, ow;
    /* 2x2 windows, stride 2, no padding */
    cnn_pool2d_shape s = { .n = 1, .c = 1, .h = 4, .w = 4, .kh = 2, .kw = 2,
                           .stride_h = 2, .stride_w = 2 };

    if (cnn_maxpool2d_forward(&s, x, y, argmax) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    print_map("max pooling", y, 2, 2);
    printf("taken from input positions %d %d %d %d\n", argmax[0], argmax[1], argmax[2], argmax[3]);
    if (cnn_avgpool2d_forward(&s, x, y) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    print_map("average pooling", y, 2, 2);

    /* 5 is odd: floor mode drops the last row and column, ceil mode keeps a last, partial
       window ("if at the end of the row, we just continue"). */
    s.h = s.w = 5;
    cnn_pool2d_check(&s, &oh, &ow);
    printf("5x5, floor mode: %d x %d\n", oh, ow);
    s.ceil_mode = 1;
    if (cnn_pool2d_check(&s, &oh, &ow) != CNN_OK || cnn_maxpool2d_forward(&s, map, y, NULL) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    print_map("max pooling, ceil mode", y, oh, ow);
    return 0;
}
