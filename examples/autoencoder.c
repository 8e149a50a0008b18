/* autoencoder.c - a small convolutional autoencoder on the MNIST digits, with cnn.h.

   An autoencoder learns to copy its input through a narrow middle: the encoder (convolution
   and pooling) squeezes a 28x28 digit into 4 maps of 7x7 (196 numbers for 784 pixels), the
   decoder (convolution and upsampling, the way back up) draws the digit again from them. The
   target of each image is the image itself: a regression with the mean squared error, so the
   dataset hands cnn_fit real-valued targets instead of labels.

   `make demo-autoencoder` fetches the digits (make data), builds this file and runs it. By hand:
       cc -std=c99 -O2 -I. examples/autoencoder.c -o build/examples/autoencoder -lm -lz
       build/examples/autoencoder [--data DIR] [--out DIR] [--epochs N] [--lr X] [--seed N]
                                  [--threads N] [--quiet]
   Defaults: data/mnist, out/autoencoder, 10 epochs, learning rate 0.04 (SGD, momentum 0.9,
   cosine schedule), seed 1, every core (results are the same for every thread count).

   It writes into --out:
       autoencoder.cnn        the trained model
       reconstructions.png    16 test digits (top row) above what the network drew (bottom)
   and prints the test images' mean squared error beside that of the best constant guess
   (the mean image), which an untrained or broken network does not beat.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNN_IMPLEMENTATION
#include "cnn.h"
#define IDX_IMPLEMENTATION
#include "examples/idx.h"
#define IMG_IMPLEMENTATION
#include "examples/image_io.h"

/* The model: 1x28x28 -> conv 16 -> pool -> 16x14x14 -> conv 4 -> pool -> 4x7x7 (the code)
   -> conv 16 -> upsample x2 (nearest) -> 16x14x14 -> conv 16 -> upsample x2 (bilinear)
   -> 16x28x28 -> conv 1, sigmoid -> 1x28x28, pixels in [0, 1] like the input. Every conv is
   3x3 with 'same' padding; ReLU except on the code and the output. */
static cnn_status add_model_layers(cnn_net *net, int rows, int cols) {
    cnn_net_opts input = {0};
    cnn_conv_opts wide = {0}, code = {0}, out = {0};
    cnn_pool_opts pool = {0};                       /* 2x2 max pooling, stride 2 */
    cnn_upsample_opts nearest = {0}, bilinear = {0};
    cnn_status st;
    input.channels = 1;
    input.height = rows;
    input.width = cols;
    input.loss = CNN_LOSS_MSE;                      /* regression: targets, not classes */
    wide.filters = 16;
    wide.padding = CNN_PAD_SAME;
    wide.activation = CNN_ACT_RELU;
    code = wide;
    code.filters = 4;
    code.activation = CNN_ACT_NONE;
    out = wide;
    out.filters = 1;
    out.activation = CNN_ACT_SIGMOID;
    nearest.scale = 2;
    bilinear.scale = 2;
    bilinear.mode = CNN_UPSAMPLE_BILINEAR;
    if ((st = cnn_net_init(net, &input)) || (st = cnn_add_conv(net, &wide)) || (st = cnn_add_pool(net, &pool)) ||
        (st = cnn_add_conv(net, &code)) || (st = cnn_add_pool(net, &pool)) ||
        (st = cnn_add_conv(net, &wide)) || (st = cnn_add_upsample(net, &nearest)) ||
        (st = cnn_add_conv(net, &wide)) || (st = cnn_add_upsample(net, &bilinear)) || (st = cnn_add_conv(net, &out)))
        return st;
    return CNN_OK;
}

static int cnn_failed(const char *what, cnn_status st) {
    fprintf(stderr, "autoencoder: %s failed: %s: %s\n", what, cnn_status_name(st), cnn_last_error());
    return 1;
}

/* The images of one split as floats in [0, 1] (malloc'ed into *images), their count and size. */
static int load_images(const char *dir, idx_split which, float **images, int *count, int *rows, int *cols) {
    idx_dataset raw;
    char err[512];
    if (idx_load_dataset(dir, which, &raw, err, sizeof err) != 0) {
        fprintf(stderr, "autoencoder: %s\n", err);
        return 1;
    }
    *count = raw.images.count; *rows = raw.images.rows; *cols = raw.images.cols;
    *images = (float *)malloc((size_t)*count * *rows * *cols * sizeof(float));
    if (!*images) { idx_free_dataset(&raw); fprintf(stderr, "autoencoder: out of memory\n"); return 1; }
    idx_images_to_float(&raw.images, *images);
    idx_free_dataset(&raw);
    return 0;
}

/* Mean squared error of the network's reconstructions of n images, and of the mean image. */
static int test_error(cnn_net *net, const float *x, int n, int pixels, double *model, double *mean_image) {
    double *mean = (double *)calloc((size_t)pixels, sizeof(double)), sum = 0.0, base = 0.0;
    int i, j, at;
    cnn_status st;
    if (!mean) return 1;
    for (i = 0; i < n; i++)
        for (j = 0; j < pixels; j++) mean[j] += x[(size_t)i * pixels + j] / n;
    for (at = 0; at < n; at += net->max_batch) {
        const int b = n - at < net->max_batch ? n - at : net->max_batch;
        const float *y;
        if ((st = cnn_forward(net, x + (size_t)at * pixels, b, 0))) { free(mean); return cnn_failed("testing", st); }
        y = cnn_output(net);
        for (i = 0; i < b; i++)
            for (j = 0; j < pixels; j++) {
                const double t = x[(size_t)(at + i) * pixels + j], d = y[(size_t)i * pixels + j] - t, e = mean[j] - t;
                sum += d * d;
                base += e * e;
            }
    }
    *model = sum / ((double)n * pixels);
    *mean_image = base / ((double)n * pixels);
    free(mean);
    return 0;
}

/* The first 16 test digits above their reconstructions, each pixel drawn as a 4x4 block. */
static int save_reconstructions(cnn_net *net, const float *x, int rows, int cols, const char *path) {
    enum { SHOWN = 16 };
    const int pixels = rows * cols;
    unsigned char *tiles = (unsigned char *)malloc((size_t)2 * SHOWN * pixels);
    img_image grid = {0}, big = {0};
    char err[512];
    int i, j, failed = 0, done;
    cnn_status st;
    if (!tiles) return 1;
    for (i = 0; i < SHOWN * pixels; i++) tiles[i] = (unsigned char)(x[i] * 255.0f + 0.5f);
    for (done = 0; done < SHOWN; done += net->max_batch) {
        const int b = SHOWN - done < net->max_batch ? SHOWN - done : net->max_batch;
        if ((st = cnn_forward(net, x + (size_t)done * pixels, b, 0))) { free(tiles); return cnn_failed("drawing", st); }
        for (j = 0; j < b * pixels; j++) {
            const float v = cnn_output(net)[j];
            tiles[(size_t)(SHOWN + done) * pixels + j] = (unsigned char)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
        }
    }
    if (img_tile(tiles, 2 * SHOWN, cols, rows, SHOWN, 128, &grid, err, sizeof err) != 0 ||
        img_upscale(&grid, 4, &big, err, sizeof err) != 0 ||
        img_write_png(path, big.pixels, big.width, big.height, 1, err, sizeof err) != 0) {
        fprintf(stderr, "autoencoder: %s\n", err);
        failed = 1;
    }
    img_free(&grid);
    img_free(&big);
    free(tiles);
    return failed;
}

int main(int argc, char **argv) {
    const char *data = "data/mnist", *out = "out/autoencoder";
    int epochs = 10, threads = cnn_cpu_count(), quiet = 0, i, train_n, test_n, rows, cols, trows, tcols;
    float lr = 0.04f;
    unsigned long seed = 1;
    float *train = NULL, *test = NULL;
    cnn_net net;
    cnn_build_opts build = {0};
    cnn_fit_opts fit = {0};
    cnn_dataset set = {0};
    cnn_fit_result result;
    double mse = 0.0, baseline = 0.0;
    char path[1024];
    cnn_status st;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!v) goto usage;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--epochs")) epochs = atoi(v);
        else if (!strcmp(a, "--lr")) lr = (float)atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else goto usage;
        i++;
    }
    if (epochs < 1 || !(lr > 0.0f) || threads < 1 || threads > CNN_MAX_THREADS) goto usage;

    if (load_images(data, IDX_TRAIN, &train, &train_n, &rows, &cols) ||
        load_images(data, IDX_TEST, &test, &test_n, &trows, &tcols))
        return 1;
    if (trows != rows || tcols != cols || test_n < 16) {
        fprintf(stderr, "autoencoder: test images of %dx%d (%d) do not match the training images' %dx%d\n", tcols, trows, test_n, cols, rows);
        return 1;
    }
    printf("%s: %d training and %d test images of %dx%d\n", data, train_n, test_n, cols, rows);

    if ((st = add_model_layers(&net, rows, cols))) return cnn_failed("describing the model", st);
    build.max_batch = 32;
    build.seed = seed;
    build.with_momentum = 1;
    build.init = CNN_INIT_HE_NORMAL;
    build.threads = threads;
    if ((st = cnn_net_build(&net, &build))) return cnn_failed("building the model", st);
    if (!quiet) cnn_net_print_summary(&net, stdout);

    /* Each image is its own target. With 0.1 and more, the first steps push the ReLUs dead
       and the network outputs black: its error stays at the mean pixel's square, 0.11. */
    set.images = train;
    set.targets = train;
    set.count = train_n;
    fit.epochs = epochs;
    fit.batch_size = 32;
    fit.sgd.learning_rate = lr;
    fit.sgd.momentum = 0.9f;
    fit.schedule = CNN_SCHEDULE_COSINE;
    fit.seed = seed;
    fit.quiet = quiet;
    fflush(stdout);
    if ((st = cnn_fit(&net, &set, &fit, &result))) return cnn_failed("training", st);

    if (test_error(&net, test, test_n, rows * cols, &mse, &baseline)) return 1;
    printf("test reconstruction error (mean squared, pixels in [0, 1]): %.4f; the mean image's: %.4f\n", mse, baseline);
    img_make_dirs(out);
    snprintf(path, sizeof path, "%s/autoencoder.cnn", out);
    if ((st = cnn_save(&net, path))) return cnn_failed("saving the model", st);
    printf("saved %s\n", path);
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    if (save_reconstructions(&net, test, rows, cols, path)) return 1;
    printf("wrote %s (test digits above, reconstructions below)\n", path);
    cnn_net_free(&net);
    free(train);
    free(test);
    return 0;

usage:
    fprintf(stderr, "usage: autoencoder [--data DIR] [--out DIR] [--epochs N] [--lr X] [--seed N] [--threads N] [--quiet]\n");
    return 2;
}
