/* filters.c - the lecture's hand-made filters, run through cnn.h's own kernels.

   A convolutional layer learns its filters. Image processing used fixed ones long before, and
   the lecture shows what they do: this program applies four of them to one image with
   cnn_conv2d_forward, then ReLU (cnn_activation_forward) and 2x2 max pooling
   (cnn_maxpool2d_forward) - the three steps of one convolutional block - and writes every
   intermediate result as a PNG.

       cc -std=c99 -O2 -I. examples/filters.c -o build/examples/filters -lm
       build/examples/filters [--data DIR] [--index N] [--out DIR]

   The image is test image N (default 0) of the IDX files in DIR (default data/mnist, from
   `make data`). Without them it draws its own picture: a square, a disc and a diagonal bar.
   Output, in DIR (default out/filters):
       input.png                         the image
       NAME_1_conv.png                   convolved: mid-gray is 0, white positive, black negative
       NAME_2_relu.png                   after ReLU: the negative part is gone (black)
       NAME_3_pool.png                   after 2x2 max pooling: half the size, strongest kept
       overview.png                      all of them: one row per filter, the input and those
                                         three steps
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNN_IMPLEMENTATION
#include "cnn.h"
#define IDX_IMPLEMENTATION
#include "examples/idx.h"
#define IMG_IMPLEMENTATION
#include "examples/image_io.h"

#define FILTERS 4

/* The filters, 3x3 each, in the KCRS layout cnn_conv2d_forward takes (K = 4 filters, C = 1
   channel). cnn.h convolves as every framework does, without flipping the kernel
   (cross-correlation), so a kernel reads as the pattern it looks for. */
static const char *const filter_names[FILTERS] = {"edges", "sharpen", "horizontal", "vertical"};
static const float filter_weights[FILTERS * 9] = {
    -1, -1, -1,   -1, 8, -1,   -1, -1, -1,    /* edges: a pixel unlike its 8 neighbours     */
     0, -1,  0,   -1, 5, -1,    0, -1,  0,    /* sharpen: the pixel plus its difference
                                                 from the 4 nearest: contrast boosted        */
    -1, -2, -1,    0, 0,  0,    1,  2,  1,    /* horizontal edges (Sobel): dark above,
                                                 bright below is positive                   */
    -1,  0,  1,   -2, 0,  2,   -1,  0,  1,    /* vertical edges (Sobel): dark left, bright
                                                 right is positive                          */
};

/* A test picture when there is no data: white shapes on black, 48x48. */
static void draw_shapes(float *image, int size) {
    int r, c;
    for (r = 0; r < size; r++)
        for (c = 0; c < size; c++) {
            int square = r >= 6 && r < 22 && c >= 6 && c < 22;
            int disc = (r - 32) * (r - 32) + (c - 32) * (c - 32) <= 10 * 10;
            int bar = abs((r - 4) - (size - 1 - c)) <= 1 && r >= 24 && c < 20;
            image[r * size + c] = square || disc || bar ? 1.0f : 0.0f;
        }
}

/* Loads test image 'index' from dir; 0 if it worked, else 1 and the reason in err. */
static int load_digit(const char *dir, int index, float **image, int *rows, int *cols,
                      int *label, char *err, size_t err_size) {
    idx_dataset test;
    size_t pixels;
    if (idx_load_dataset(dir, IDX_TEST, &test, err, err_size) != 0) return 1;
    if (index < 0 || index >= test.images.count) {
        snprintf(err, err_size, "--index %d, but %s has %d test images", index, dir, test.images.count);
        idx_free_dataset(&test);
        return 1;
    }
    *rows = test.images.rows;
    *cols = test.images.cols;
    *label = test.labels.labels[index];
    pixels = (size_t)*rows * *cols;
    *image = (float *)malloc(pixels * sizeof(float));
    if (*image) {
        idx_images images = test.images;           /* just image 'index': a one-image view */
        images.pixels += pixels * index;
        images.count = 1;
        idx_images_to_float(&images, *image);
    }
    idx_free_dataset(&test);
    return *image ? 0 : 1;
}

/* Float map -> gray bytes. Signed maps put 0 at mid-gray and the largest magnitude at black
   or white; non-negative maps (after ReLU) put 0 at black and the largest value at white. */
static void to_gray(const float *map, int n, int is_signed, unsigned char *gray) {
    float top = 1e-12f;
    int i;
    for (i = 0; i < n; i++) top = fabsf(map[i]) > top ? fabsf(map[i]) : top;
    for (i = 0; i < n; i++)
        gray[i] = (unsigned char)(is_signed ? 127.5f + 127.0f * map[i] / top
                                            : 255.0f * (map[i] > 0.0f ? map[i] : 0.0f) / top + 0.5f);
}

/* One picture: the map in gray, enlarged 'factor' times, written as dir/name (name NULL: no
   file) and copied into 'cell' (cell_w x cell_h pixels) of the overview. */
static int picture(const char *dir, const char *name, const float *map, int w, int h,
                   int is_signed, int factor, unsigned char *cell, int cell_w, int cell_h) {
    unsigned char *gray = (unsigned char *)malloc((size_t)w * h);
    img_image small, big = {0};
    char path[1024], err[512];
    int x, y, status = 0;
    if (!gray) return 1;
    to_gray(map, w * h, is_signed, gray);
    small.pixels = gray;
    small.width = w;
    small.height = h;
    small.channels = 1;
    if (img_upscale(&small, factor, &big, err, sizeof err) != 0) status = 1;
    if (!status && name) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (img_write_png(path, big.pixels, big.width, big.height, 1, err, sizeof err) != 0) status = 1;
    }
    if (!status) {                      /* into the cell, black where it is smaller */
        memset(cell, 0, (size_t)cell_w * cell_h);
        for (y = 0; y < big.height && y < cell_h; y++)
            for (x = 0; x < big.width && x < cell_w; x++)
                cell[(size_t)y * cell_w + x] = big.pixels[(size_t)y * big.width + x];
    }
    if (status) fprintf(stderr, "filters: %s\n", err);
    img_free(&big);
    free(gray);
    return status;
}

static int failed(const char *what, cnn_status st) {
    fprintf(stderr, "filters: %s failed: %s: %s\n", what, cnn_status_name(st), cnn_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *data = "data/mnist", *out = "out/filters";
    int index = 0, rows = 48, cols = 48, label = -1, i, k, oh, ow, ph, pw, status = 0;
    int factor, cell_w, cell_h;
    float *image = NULL, *conv, *relu, *pool;
    unsigned char *cells;
    cnn_conv2d_shape cs;
    cnn_pool2d_shape ps;
    cnn_status st;
    char why[512];

    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--index")) index = atoi(argv[i + 1]);
        else break;
    }
    if (i != argc) {
        fprintf(stderr, "usage: filters [--data DIR] [--index N] [--out DIR]\n");
        return 2;
    }

    /* 1. The image: a real digit if the data is there, else our own shapes. */
    if (load_digit(data, index, &image, &rows, &cols, &label, why, sizeof why) != 0) {
        rows = cols = 48;
        image = (float *)malloc(sizeof(float) * rows * cols);
        if (!image) return 1;
        draw_shapes(image, rows);
        printf("input: no digit (%s)\n       so a drawing of a square, a disc and a bar, %dx%d\n",
               why, cols, rows);
    } else {
        printf("input: test image %d of %s (label %d), %dx%d\n", index, data, label, cols, rows);
    }

    /* 2. Convolution: all four filters in one call (K = 4 output channels). 'Same' padding,
          one zero pixel around the image, keeps the output the size of the input. */
    memset(&cs, 0, sizeof cs);
    cs.n = 1; cs.c = 1; cs.h = rows; cs.w = cols;
    cs.k = FILTERS; cs.kh = 3; cs.kw = 3;
    cs.stride_h = cs.stride_w = 1;
    cs.dilation_h = cs.dilation_w = 1;
    cnn_padding_for(CNN_PAD_SAME, rows, 3, 1, 1, &cs.pad_top, &cs.pad_bottom);
    cnn_padding_for(CNN_PAD_SAME, cols, 3, 1, 1, &cs.pad_left, &cs.pad_right);
    if ((st = cnn_conv2d_check(&cs, &oh, &ow))) return failed("conv2d shape", st);

    /* 3. 2x2 max pooling with stride 2 over the four maps. */
    memset(&ps, 0, sizeof ps);
    ps.n = 1; ps.c = FILTERS; ps.h = oh; ps.w = ow;
    ps.kh = ps.kw = 2;
    ps.stride_h = ps.stride_w = 2;
    if ((st = cnn_pool2d_check(&ps, &ph, &pw))) return failed("maxpool shape", st);

    conv = (float *)malloc(sizeof(float) * FILTERS * oh * ow);
    relu = (float *)malloc(sizeof(float) * FILTERS * oh * ow);
    pool = (float *)malloc(sizeof(float) * FILTERS * ph * pw);
    if (!conv || !relu || !pool) return 1;

    if ((st = cnn_conv2d_forward(&cs, image, filter_weights, NULL, conv))) return failed("conv2d", st);
    if ((st = cnn_activation_forward(CNN_ACT_RELU, 0.0f, (size_t)FILTERS * oh * ow, conv, relu)))
        return failed("relu", st);
    if ((st = cnn_maxpool2d_forward(&ps, relu, pool, NULL))) return failed("maxpool", st);

    /* 4. Pictures, enlarged to about 224 pixels (pooled maps twice as much), each in its own
          file and in the overview: one row per filter, input | conv | relu | pool. */
    img_make_dirs(out);
    factor = (224 + rows - 1) / rows;
    cell_w = ow * factor;
    cell_h = oh * factor;
    cells = (unsigned char *)malloc((size_t)FILTERS * 4 * cell_w * cell_h);
    if (!cells) return 1;
    for (k = 0; k < FILTERS; k++) {
        const float *w = filter_weights + 9 * k;
        unsigned char *row = cells + (size_t)k * 4 * cell_w * cell_h;
        size_t cell = (size_t)cell_w * cell_h;
        char conv_name[64], relu_name[64], pool_name[64];
        printf("%-10s [%2.0f %2.0f %2.0f; %2.0f %2.0f %2.0f; %2.0f %2.0f %2.0f]  conv %dx%d, relu, "
               "maxpool %dx%d\n", filter_names[k], w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
               w[8], ow, oh, pw, ph);
        snprintf(conv_name, sizeof conv_name, "%s_1_conv.png", filter_names[k]);
        snprintf(relu_name, sizeof relu_name, "%s_2_relu.png", filter_names[k]);
        snprintf(pool_name, sizeof pool_name, "%s_3_pool.png", filter_names[k]);
        status |= picture(out, k == 0 ? "input.png" : NULL, image, cols, rows, 0, factor, row,
                          cell_w, cell_h);
        status |= picture(out, conv_name, conv + k * oh * ow, ow, oh, 1, factor, row + cell,
                          cell_w, cell_h);
        status |= picture(out, relu_name, relu + k * oh * ow, ow, oh, 0, factor, row + 2 * cell,
                          cell_w, cell_h);
        status |= picture(out, pool_name, pool + k * ph * pw, pw, ph, 0, 2 * factor,
                          row + 3 * cell, cell_w, cell_h);
    }
    {
        img_image grid;
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/overview.png", out);
        if (img_tile(cells, FILTERS * 4, cell_w, cell_h, 4, 255, &grid, err, sizeof err) != 0 ||
            img_write_png(path, grid.pixels, grid.width, grid.height, 1, err, sizeof err) != 0) {
            fprintf(stderr, "filters: %s\n", err);
            status = 1;
        }
        img_free(&grid);
        printf("wrote %s/*.png; %s: one row per filter: input, conv, relu, maxpool\n", out, path);
    }
    free(cells);
    free(pool);
    free(relu);
    free(conv);
    free(image);
    return status;
}
