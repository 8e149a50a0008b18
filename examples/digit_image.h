/* digit_image.h - turn any picture of a handwritten digit into a 28x28 MNIST-style image.
   Public domain / MIT, like cnn.h. Include it in one C file (all functions are static).

   MNIST's digits were prepared like this (LeCun et al., "Gradient-based learning applied to
   document recognition", and the MNIST page): the digit's bounding box scaled, keeping its
   aspect ratio, to fit in 20x20 pixels with anti-aliasing (so grey edges); then placed in a
   28x28 field so that its centre of mass is at the field's centre. Ink is bright (1) on a
   black (0) background. digit_prepare does the same to an image of any size:

     1. background: the mean of the border pixels; a light one (> 0.5) is inverted, so a dark
        pen on white paper becomes ink on black, as in MNIST;
     2. ink is stretched so the background is 0 and the strongest ink 1 (noise below 20% of
        it is dropped: paper texture, JPEG ringing);
     3. the bounding box of the ink, resampled by area averaging to fit 20x20 keeping aspect;
     4. pasted into 28x28 with its centre of mass at (14, 14) (as far as the field allows). */
#ifndef DIGIT_IMAGE_H
#define DIGIT_IMAGE_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#define DIGIT_SIZE 28
#define DIGIT_BOX 20

/* One output pixel of an area-averaging resample: the mean of the source rectangle
   [x0, x1) x [y0, y1) (in source pixels, fractional), each source pixel weighted by the part
   of it the rectangle covers. Works for shrinking and enlarging alike. */
static float digit__area_mean(const float *src, int stride, double x0, double x1, double y0, double y1) {
    double sum = 0.0, area = 0.0;
    int x, y;
    for (y = (int)floor(y0); y < (int)ceil(y1); y++) {
        double hy = fmin(y1, y + 1.0) - fmax(y0, (double)y);
        if (hy <= 0) continue;
        for (x = (int)floor(x0); x < (int)ceil(x1); x++) {
            double wx = fmin(x1, x + 1.0) - fmax(x0, (double)x);
            if (wx <= 0) continue;
            sum += wx * hy * src[(size_t)y * stride + x];
            area += wx * hy;
        }
    }
    return area > 0 ? (float)(sum / area) : 0.0f;
}

/* grey: width x height values in [0, 1] (0 black, 1 white), row after row; any size, any
   background. out: 28 x 28 in [0, 1], ink 1. work: width x height floats of scratch.
   Returns 0, or -1 with a reason in err when the image holds no ink at all. */
static int digit_prepare(const float *grey, int width, int height, float *work, float out[DIGIT_SIZE * DIGIT_SIZE],
                         char *err, size_t err_size) {
    double border = 0.0, cx = 0.0, cy = 0.0, mass = 0.0, scale;
    float box[DIGIT_BOX * DIGIT_BOX], peak = 0.0f, back;
    int x, y, n = 0, invert, left = width, right = -1, top = height, bottom = -1, bw, bh, ox, oy;
    size_t i, count = (size_t)width * height;
    for (x = 0; x < width; x++) { border += grey[x] + grey[(size_t)(height - 1) * width + x]; n += 2; }
    for (y = 0; y < height; y++) { border += grey[(size_t)y * width] + grey[(size_t)y * width + width - 1]; n += 2; }
    border /= n;
    invert = border > 0.5;
    back = (float)(invert ? 1.0 - border : border);
    for (i = 0; i < count; i++) {
        float v = (invert ? 1.0f - grey[i] : grey[i]) - back;
        work[i] = v > 0.0f ? v : 0.0f;
        if (work[i] > peak) peak = work[i];
    }
    if (peak <= 0.0f) {
        snprintf(err, err_size, "the image is uniform: no digit to see");
        return -1;
    }
    for (i = 0; i < count; i++) {
        work[i] /= peak;
        if (work[i] < 0.2f) work[i] = 0.0f;
    }
    for (y = 0; y < height; y++)
        for (x = 0; x < width; x++)
            if (work[(size_t)y * width + x] > 0.0f) {
                if (x < left) left = x;
                if (x > right) right = x;
                if (y < top) top = y;
                if (y > bottom) bottom = y;
            }
    /* The box, scaled so its longer side is 20 pixels. */
    scale = (double)DIGIT_BOX / (right - left + 1 > bottom - top + 1 ? right - left + 1 : bottom - top + 1);
    bw = (int)floor((right - left + 1) * scale + 0.5); bh = (int)floor((bottom - top + 1) * scale + 0.5);
    if (bw < 1) bw = 1;
    if (bh < 1) bh = 1;
    if (bw > DIGIT_BOX) bw = DIGIT_BOX;
    if (bh > DIGIT_BOX) bh = DIGIT_BOX;
    for (y = 0; y < bh; y++)
        for (x = 0; x < bw; x++) {
            float v = digit__area_mean(work, width, left + x / scale, left + (x + 1) / scale, top + y / scale, top + (y + 1) / scale);
            box[y * DIGIT_BOX + x] = v;
            cx += v * x; cy += v * y; mass += v;
        }
    cx /= mass; cy /= mass;
    /* Centre of mass to (14, 14), the box kept inside the field. */
    ox = (int)floor(DIGIT_SIZE / 2.0 - cx + 0.5); oy = (int)floor(DIGIT_SIZE / 2.0 - cy + 0.5);
    if (ox < 0) ox = 0;
    if (oy < 0) oy = 0;
    if (ox > DIGIT_SIZE - bw) ox = DIGIT_SIZE - bw;
    if (oy > DIGIT_SIZE - bh) oy = DIGIT_SIZE - bh;
    for (i = 0; i < DIGIT_SIZE * DIGIT_SIZE; i++) out[i] = 0.0f;
    for (y = 0; y < bh; y++)
        for (x = 0; x < bw; x++) out[(oy + y) * DIGIT_SIZE + ox + x] = box[y * DIGIT_BOX + x];
    return 0;
}

#endif
