/* fuzz_idx.c - the examples' IDX reader and its gzip/DEFLATE decoder (examples/idx.h) on any
   bytes: raw DEFLATE, gzip, and IDX images and labels (plain or gzipped). What parses must be
   as large as its header says. */
#include "fuzz.h"
#define IDX_IMPLEMENTATION
#include "../../examples/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *out = NULL;
    size_t out_size = 0, consumed = 0;
    char err[256];
    idx_images images;
    idx_labels labels;
    if (idx_inflate(data, size, &out, &out_size, &consumed, err, sizeof err) == 0) {
        FUZZ_CHECK(consumed <= size);
        if (out_size) FUZZ_CHECK(out != NULL);
        free(out);
    }
    out = NULL;
    if (idx_gunzip(data, size, &out, &out_size, err, sizeof err) == 0) free(out);
    if (idx_parse_images(data, size, &images, err, sizeof err) == 0) {
        size_t pixels = (size_t)images.count * (size_t)images.rows * (size_t)images.cols, i, sum = 0;
        for (i = 0; i < pixels; i++) sum += images.pixels[i];   /* every pixel is readable */
        FUZZ_CHECK(sum <= pixels * 255);
        idx_free_images(&images);
    }
    if (idx_parse_labels(data, size, &labels, err, sizeof err) == 0) {
        int i;
        for (i = 0; i < labels.count; i++) FUZZ_CHECK(labels.labels[i] < labels.classes);
        idx_free_labels(&labels);
    }
    return 0;
}
