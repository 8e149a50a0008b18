/* The model file, read back field by field by a reader written from docs/design.md alone
   (it does not use cnn.h's loader), with its own CRC-32 to check the last four bytes. */
#include <stdio.h>
#include <string.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

static unsigned char file[4096];
static size_t at, size;

static uint32_t u32(void) {                          /* little-endian, whatever the machine */
    uint32_t v = (uint32_t)file[at] | (uint32_t)file[at + 1] << 8 |
                 (uint32_t)file[at + 2] << 16 | (uint32_t)file[at + 3] << 24;
    at += 4;
    return v;
}
static float f32(void) { uint32_t v = u32(); float f; memcpy(&f, &v, 4); return f; }

static uint32_t crc32(const unsigned char *p, size_t n) {  /* IEEE 802.3, as zlib's crc32() */
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++)
        for (c ^= p[i], k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    return c ^ 0xffffffffu;
}

int main(void) {
    /* A tiny model: 1x3x3 input, conv 1 filter 2x2 + bias + ReLU, dense 2 (flattens 1x2x2). */
    const float conv_w[4] = { 1, 2, 3, 4 }, conv_b[1] = { 0.5f };
    const float dense_w[8] = { 1, -1, 0.25f, 0, 0, 0, 0, 2 }, dense_b[2] = { 0, -1 };
    cnn_net net;
    cnn_net_opts in = { .channels = 1, .height = 3, .width = 3 };
    cnn_conv_opts conv = { .filters = 1, .kernel = 2, .activation = CNN_ACT_RELU };
    cnn_dense_opts dense = { .units = 2 };
    cnn_build_opts build = { .max_batch = 1, .inference_only = 1 };
    uint32_t layers, tensors, i, t, d, f;
    FILE *fp;

    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &conv) || cnn_add_dense(&net, &dense) ||
        cnn_net_build(&net, &build)) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    memcpy(cnn_layer_weights(&net, 0, NULL), conv_w, sizeof conv_w);
    memcpy(cnn_layer_bias(&net, 0, NULL), conv_b, sizeof conv_b);
    memcpy(cnn_layer_weights(&net, 1, NULL), dense_w, sizeof dense_w);
    memcpy(cnn_layer_bias(&net, 1, NULL), dense_b, sizeof dense_b);
    if (cnn_save(&net, "tiny.cnn") != CNN_OK || !(fp = fopen("tiny.cnn", "rb"))) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    size = fread(file, 1, sizeof file, fp);
    fclose(fp);

    printf("%zu bytes\n", size);
    printf("   0  magic   ");
    for (i = 0; i < 8; i++) printf(" %02x", file[i]);
    printf("\n");
    at = 8;
    printf("   8  version  %u\n", u32());
    printf("  12  loss     %u\n", u32());
    printf("  16  input    %u", u32());              /* channels, height, width */
    printf(" x %u", u32());
    printf(" x %u\n", u32());
    layers = u32();
    printf("  28  layers   %u\n", layers);
    for (i = 0; i < layers; i++) {
        printf("%4zu  record  ", at);
        for (f = 0; f < 32; f++) {
            if (f == 2 || f == 3 || f == 28 || f == 29) printf(" %g", f32());   /* float bits */
            else printf(" %u", u32());
        }
        printf("\n");
    }
    printf("%4zu  tensors ", at);
    tensors = u32();
    printf(" %u\n", tensors);
    for (t = 0; t < tensors; t++) {
        uint32_t ndim, count = 1;
        size_t start = at;
        ndim = u32();
        printf("%4zu  tensor   ndim %u, dims", start, ndim);
        for (d = 0; d < ndim; d++) { uint32_t dim = u32(); count *= dim; printf(" %u", dim); }
        printf(", values");
        for (d = 0; d < count; d++) printf(" %g", f32());
        printf("\n");
    }
    printf("%4zu  optimizer", at);                 /* state kind (0: none), steps taken */
    printf(" %u", u32());
    printf(", %u steps\n", u32());
    printf("%4zu  crc-32  ", at);
    printf(" %08x, computed %08x\n", (unsigned)u32(), (unsigned)crc32(file, size - 4));
    printf("bytes left after the checksum: %zu\n", size - at);
    cnn_net_free(&net);
    return 0;
}
