/* image_io.h - write PNG and PGM, read PGM, and arrange small images into grids. One C99 header.
   Public domain / MIT, see the end.

   Do this:
       #define IMG_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.
   Everywhere else, include "image_io.h" without the define: you get the declarations only.

   WHAT IT IS FOR
       Looking at what a network sees and learns: write an input digit, a grid of the first
       layer's filters or a layer's feature maps as a PNG any viewer opens. The PNG encoder is
       stb_image_write's (Debian: libstb-dev; compile with -I/usr/include/stb), compiled into
       the implementation as static functions.

   PIXELS
       8 bits per sample, rows top to bottom, each row width * channels bytes, no padding.
       channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (PNG); PGM is gray only.

   EXAMPLE: the 8 filters of a 5x5 convolution, enlarged 8 times
       unsigned char tiles[8 * 25];
       img_image grid, big;
       char err[256];
       for (int k = 0; k < 8; k++) img_floats_to_bytes(weights + 25 * k, 25, tiles + 25 * k);
       if (img_tile(tiles, 8, 5, 5, 4, 0, &grid, err, sizeof err) != 0 ||
           img_upscale(&grid, 8, &big, err, sizeof err) != 0 ||
           img_write_png("filters.png", big.pixels, big.width, big.height, 1, err, sizeof err) != 0)
           fprintf(stderr, "%s\n", err);
       img_free(&grid);
       img_free(&big);

   ERRORS
       Functions that can fail return 0 on success and -1 on failure, with the reason in the
       caller's buffer err (err_size bytes, always NUL-terminated; err may be NULL). Nothing is
       printed, nothing aborts; on failure an output img_image is left zeroed (img_free is safe).

   CONFIGURATION (define before including the implementation)
       IMG_STATIC                     make every function static
       IMG_MALLOC(sz) IMG_FREE(p)     allocator hooks, define both or neither
       IMG_MAX_PIXELS                 largest width * height accepted (default 2^28)
*/
#ifndef IMAGE_IO_H
#define IMAGE_IO_H

#include <stddef.h>

#ifdef IMG_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define IMGDEF static __attribute__((unused))
#else
#define IMGDEF static
#endif
#else
#define IMGDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct img_image {
    unsigned char *pixels;        /* height rows of width * channels bytes */
    int width, height, channels;
} img_image;

IMGDEF void img_free(img_image *image);

/* PNG of 8-bit samples, in memory (*png allocated with IMG_MALLOC) or to a file. */
IMGDEF int img_encode_png(const unsigned char *pixels, int width, int height, int channels,
                          unsigned char **png, size_t *png_size, char *err, size_t err_size);
IMGDEF int img_write_png(const char *path, const unsigned char *pixels, int width, int height,
                         int channels, char *err, size_t err_size);

/* Binary PGM (P5, maxval 255) of a gray image. */
IMGDEF int img_write_pgm(const char *path, const unsigned char *pixels, int width, int height,
                         char *err, size_t err_size);
/* PGM, binary (P5) or plain text (P2), any maxval 1..255 (scaled to 0..255), '#' comments.
   The result has channels == 1. Only the first image of a multi-image file is read. */
IMGDEF int img_read_pgm(const char *path, img_image *image, char *err, size_t err_size);
IMGDEF int img_parse_pgm(const void *data, size_t size, img_image *image, char *err,
                         size_t err_size);

/* Each pixel becomes a factor x factor block (nearest neighbour): small digits made visible. */
IMGDEF int img_upscale(const img_image *src, int factor, img_image *dst, char *err,
                       size_t err_size);

/* 'count' gray tiles of tile_width x tile_height, stored one after the other, laid out left to
   right, top to bottom in 'columns' columns (<= 0: a near-square grid), with a 1-pixel line of
   value 'border' around and between them. The result is
       columns * (tile_width + 1) + 1  by  rows * (tile_height + 1) + 1  pixels. */
IMGDEF int img_tile(const unsigned char *tiles, int count, int tile_width, int tile_height,
                    int columns, unsigned char border, img_image *grid, char *err,
                    size_t err_size);

/* Map n floats linearly onto 0..255, the smallest to 0 and the largest to 255, as one needs
   for weights and activations of no fixed range. All equal: 128. NaN: 0. */
IMGDEF void img_floats_to_bytes(const float *src, size_t n, unsigned char *dst);

/* mkdir -p: creates every directory along path. Errors ("exists" among them) are ignored: a
   file that then cannot be written says so itself. */
IMGDEF void img_make_dirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* IMAGE_IO_H */

/* ============================================================================================
   Implementation
   ============================================================================================ */
#ifdef IMG_IMPLEMENTATION
#ifndef IMG_IMPLEMENTATION_DONE
#define IMG_IMPLEMENTATION_DONE

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(IMG_MALLOC) && defined(IMG_FREE)
/* both given */
#elif !defined(IMG_MALLOC) && !defined(IMG_FREE)
#include <stdlib.h>
#define IMG_MALLOC(sz) malloc(sz)
#define IMG_FREE(p) free(p)
#else
#error "image_io.h: define both IMG_MALLOC and IMG_FREE, or neither"
#endif

#if defined(_WIN32)
#include <direct.h>
#define img__mkdir(path) _mkdir(path)
#else
#include <sys/stat.h>
#define img__mkdir(path) mkdir(path, 0777)
#endif

#ifndef IMG_MAX_PIXELS
#define IMG_MAX_PIXELS ((size_t)1 << 28)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int img__fail(char *err, size_t err_size, const char *format, ...) {
    if (err && err_size > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
    return -1;
}

IMGDEF void img_free(img_image *image) {
    if (!image) return;
    IMG_FREE(image->pixels);
    memset(image, 0, sizeof *image);
}

/* Width and height positive, and width * height * channels within IMG_MAX_PIXELS * channels. */
static int img__check_size(int width, int height, int channels, const char *what, char *err,
                           size_t err_size) {
    if (width <= 0 || height <= 0)
        return img__fail(err, err_size, "%s: size %d x %d is not positive", what, width, height);
    if (channels < 1 || channels > 4)
        return img__fail(err, err_size, "%s: %d channels, expected 1 to 4", what, channels);
    if ((size_t)width > IMG_MAX_PIXELS / (size_t)height)
        return img__fail(err, err_size, "%s: %d x %d is more than IMG_MAX_PIXELS (%lu) pixels",
                         what, width, height, (unsigned long)IMG_MAX_PIXELS);
    return 0;
}

static int img__alloc(img_image *image, int width, int height, int channels, char *err,
                      size_t err_size) {
    size_t size = (size_t)width * (size_t)height * (size_t)channels;
    image->pixels = (unsigned char *)IMG_MALLOC(size);
    if (!image->pixels)
        return img__fail(err, err_size, "out of memory for a %d x %d image", width, height);
    image->width = width;
    image->height = height;
    image->channels = channels;
    return 0;
}

static int img__write_file(const char *path, const unsigned char *data, size_t size, char *err,
                           size_t err_size) {
    FILE *f = fopen(path, "wb");
    int failed;
    if (!f) return img__fail(err, err_size, "%s: cannot open for writing", path);
    failed = fwrite(data, 1, size, f) != size;
    failed |= fclose(f) != 0;  /* buffered data is written here: a full disk shows up now */
    if (failed) return img__fail(err, err_size, "%s: write error (disk full?)", path);
    return 0;
}

/* ---- PNG -------------------------------------------------------------------------------------
   stb_image_write (nothings/stb; Debian: libstb-dev, headers in /usr/include/stb) compresses
   the rows with zlib-style DEFLATE and PNG's per-row filters. Its implementation is compiled
   here, static (private to this file), so a program may also use stb_image_write itself. */

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"  /* the writers of other formats */
#endif
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

IMGDEF int img_encode_png(const unsigned char *pixels, int width, int height, int channels,
                          unsigned char **png, size_t *png_size, char *err, size_t err_size) {
    unsigned char *encoded;
    int size = 0;
    if (!pixels || !png || !png_size) return img__fail(err, err_size, "png: NULL argument");
    *png = NULL;
    *png_size = 0;
    if (img__check_size(width, height, channels, "png", err, err_size) != 0) return -1;
    if ((size_t)width * (size_t)channels > 0x7fffffffu / (size_t)height)  /* stb counts in int */
        return img__fail(err, err_size, "png: %d x %d x %d is too large", width, height, channels);
    encoded = stbi_write_png_to_mem(pixels, width * channels, width, height, channels, &size);
    if (!encoded) return img__fail(err, err_size, "png: stb_image_write failed (out of memory?)");
    /* Handed over in memory from IMG_MALLOC, as documented. */
    *png = (unsigned char *)IMG_MALLOC((size_t)size);
    if (!*png) {
        STBIW_FREE(encoded);
        return img__fail(err, err_size, "png: out of memory for %d bytes", size);
    }
    memcpy(*png, encoded, (size_t)size);
    STBIW_FREE(encoded);
    *png_size = (size_t)size;
    return 0;
}

IMGDEF int img_write_png(const char *path, const unsigned char *pixels, int width, int height,
                         int channels, char *err, size_t err_size) {
    unsigned char *png;
    size_t size;
    char reason[200];
    int status;
    if (!path) return img__fail(err, err_size, "png: NULL path");
    if (img_encode_png(pixels, width, height, channels, &png, &size, reason, sizeof reason) != 0)
        return img__fail(err, err_size, "%s: %s", path, reason);
    status = img__write_file(path, png, size, err, err_size);
    IMG_FREE(png);
    return status;
}

/* ---- PGM ---------------------------------------------------------------------------------- */

IMGDEF int img_write_pgm(const char *path, const unsigned char *pixels, int width, int height,
                         char *err, size_t err_size) {
    char header[64];
    unsigned char *file;
    size_t header_size, size;
    int status;
    if (!path || !pixels) return img__fail(err, err_size, "pgm: NULL argument");
    if (img__check_size(width, height, 1, path, err, err_size) != 0) return -1;
    header_size = (size_t)snprintf(header, sizeof header, "P5\n%d %d\n255\n", width, height);
    size = header_size + (size_t)width * (size_t)height;
    file = (unsigned char *)IMG_MALLOC(size);
    if (!file) return img__fail(err, err_size, "%s: out of memory", path);
    memcpy(file, header, header_size);
    memcpy(file + header_size, pixels, size - header_size);
    status = img__write_file(path, file, size, err, err_size);
    IMG_FREE(file);
    return status;
}

typedef struct img__reader {
    const unsigned char *p;
    size_t size, pos;
} img__reader;

static int img__is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip whitespace and '#' comments (to the end of the line). */
static void img__skip_space(img__reader *r) {
    while (r->pos < r->size) {
        if (img__is_space(r->p[r->pos])) {
            r->pos++;
        } else if (r->p[r->pos] == '#') {
            while (r->pos < r->size && r->p[r->pos] != '\n' && r->p[r->pos] != '\r') r->pos++;
        } else {
            break;
        }
    }
}

/* A decimal number up to 'max' after whitespace and comments; 'what' names it in errors. */
static int img__read_number(img__reader *r, long max, const char *what, long *value, char *err,
                            size_t err_size) {
    long v = 0;
    size_t start;
    img__skip_space(r);
    start = r->pos;
    if (r->pos >= r->size)
        return img__fail(err, err_size, "truncated: the file ends before the %s", what);
    while (r->pos < r->size && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
        v = v * 10 + (r->p[r->pos] - '0');
        if (v > max)
            return img__fail(err, err_size, "%s is larger than %ld", what, max);
        r->pos++;
    }
    if (r->pos == start)
        return img__fail(err, err_size, "expected the %s, found '%c' at byte %lu", what,
                         r->p[start] >= 32 && r->p[start] < 127 ? r->p[start] : '?',
                         (unsigned long)start);
    if (r->pos < r->size && !img__is_space(r->p[r->pos]) && r->p[r->pos] != '#')
        return img__fail(err, err_size, "the %s is followed by '%c' instead of a space", what,
                         r->p[r->pos] >= 32 && r->p[r->pos] < 127 ? r->p[r->pos] : '?');
    *value = v;
    return 0;
}

IMGDEF int img_parse_pgm(const void *data, size_t size, img_image *image, char *err,
                         size_t err_size) {
    img__reader r;
    long width, height, maxval;
    size_t count, i;
    int plain;
    if (!image) return img__fail(err, err_size, "pgm: NULL image");
    memset(image, 0, sizeof *image);
    if (!data && size > 0) return img__fail(err, err_size, "pgm: NULL data");
    r.p = (const unsigned char *)data;
    r.size = size;
    r.pos = 0;
    if (size < 2 || r.p[0] != 'P' || (r.p[1] != '5' && r.p[1] != '2'))
        return img__fail(err, err_size, "not a PGM file: it must start with P5 (binary) or P2 (plain)");
    plain = r.p[1] == '2';
    r.pos = 2;
    if (r.pos < size && !img__is_space(r.p[r.pos]) && r.p[r.pos] != '#')
        return img__fail(err, err_size, "not a PGM file: no space after the P%c", r.p[1]);
    if (img__read_number(&r, 1L << 30, "width", &width, err, err_size) != 0 ||
        img__read_number(&r, 1L << 30, "height", &height, err, err_size) != 0 ||
        img__read_number(&r, 65535, "maxval", &maxval, err, err_size) != 0)
        return -1;
    if (img__check_size((int)width, (int)height, 1, "pgm", err, err_size) != 0) return -1;
    if (maxval < 1 || maxval > 255)
        return img__fail(err, err_size, "maxval %ld is not supported (1..255: 8-bit samples only)",
                         maxval);
    count = (size_t)width * (size_t)height;
    if (!plain) {
        /* Exactly one whitespace byte separates maxval from the binary samples: what follows
           it is data, even if it looks like a space or a '#'. */
        if (r.pos >= size) return img__fail(err, err_size, "truncated: no pixel data after the header");
        if (!img__is_space(r.p[r.pos]))
            return img__fail(err, err_size, "the maxval must be followed by one whitespace byte");
        r.pos++;
        if (size - r.pos < count)
            return img__fail(err, err_size,
                             "truncated: %ld x %ld pixels need %lu bytes, the file has %lu", width,
                             height, (unsigned long)count, (unsigned long)(size - r.pos));
    }
    if (img__alloc(image, (int)width, (int)height, 1, err, err_size) != 0) return -1;
    for (i = 0; i < count; i++) {
        long v;
        if (plain) {
            if (img__read_number(&r, 65535, "pixel value", &v, err, err_size) != 0) {
                img_free(image);
                return -1;
            }
        } else {
            v = r.p[r.pos++];
        }
        if (v > maxval) {
            img_free(image);
            return img__fail(err, err_size, "pixel %lu is %ld, above the maxval %ld",
                             (unsigned long)i, v, maxval);
        }
        /* Rescale to 0..255, rounding to nearest. */
        image->pixels[i] = (unsigned char)((v * 255 + maxval / 2) / maxval);
    }
    return 0;
}

IMGDEF int img_read_pgm(const char *path, img_image *image, char *err, size_t err_size) {
    FILE *f;
    unsigned char *data = NULL;
    size_t used = 0, capacity = 0;
    char reason[200];
    int status;
    if (!image) return img__fail(err, err_size, "pgm: NULL image");
    memset(image, 0, sizeof *image);
    if (!path) return img__fail(err, err_size, "pgm: NULL path");
    f = fopen(path, "rb");
    if (!f) return img__fail(err, err_size, "%s: cannot open for reading", path);
    /* Grow the buffer as the file is read; stop early once it is larger than any PGM we accept
       could be (header + the most pixels, as plain text of up to 4 characters a sample). */
    for (;;) {
        size_t got;
        if (used == capacity) {
            unsigned char *grown;
            if (capacity > 4 * IMG_MAX_PIXELS + 4096) {
                IMG_FREE(data);
                fclose(f);
                return img__fail(err, err_size, "%s: too large for a PGM of at most %lu pixels",
                                 path, (unsigned long)IMG_MAX_PIXELS);
            }
            capacity = capacity == 0 ? 65536 : capacity * 2;
            grown = (unsigned char *)IMG_MALLOC(capacity);
            if (!grown) {
                IMG_FREE(data);
                fclose(f);
                return img__fail(err, err_size, "%s: out of memory", path);
            }
            if (used > 0) memcpy(grown, data, used);
            IMG_FREE(data);
            data = grown;
        }
        got = fread(data + used, 1, capacity - used, f);
        used += got;
        if (got == 0) break;
    }
    status = ferror(f) ? img__fail(reason, sizeof reason, "read error")
                       : img_parse_pgm(data, used, image, reason, sizeof reason);
    fclose(f);
    IMG_FREE(data);
    if (status != 0) return img__fail(err, err_size, "%s: %s", path, reason);
    return 0;
}

/* ---- Arranging images --------------------------------------------------------------------- */

IMGDEF int img_upscale(const img_image *src, int factor, img_image *dst, char *err,
                       size_t err_size) {
    int x, y, c;
    if (!dst) return img__fail(err, err_size, "upscale: NULL destination");
    memset(dst, 0, sizeof *dst);
    if (!src || !src->pixels) return img__fail(err, err_size, "upscale: NULL source");
    if (factor < 1) return img__fail(err, err_size, "upscale: factor %d is not positive", factor);
    if (img__check_size(src->width, src->height, src->channels, "upscale", err, err_size) != 0)
        return -1;
    if (src->width > 0x7fffffff / factor || src->height > 0x7fffffff / factor)
        return img__fail(err, err_size, "upscale: %d x %d times %d is too large", src->width,
                         src->height, factor);
    if (img__check_size(src->width * factor, src->height * factor, src->channels, "upscale", err,
                        err_size) != 0)
        return -1;
    if (img__alloc(dst, src->width * factor, src->height * factor, src->channels, err,
                   err_size) != 0)
        return -1;
    for (y = 0; y < dst->height; y++)
        for (x = 0; x < dst->width; x++)
            for (c = 0; c < src->channels; c++)
                dst->pixels[((size_t)y * dst->width + x) * src->channels + c] =
                    src->pixels[((size_t)(y / factor) * src->width + x / factor) * src->channels + c];
    return 0;
}

IMGDEF int img_tile(const unsigned char *tiles, int count, int tile_width, int tile_height,
                    int columns, unsigned char border, img_image *grid, char *err,
                    size_t err_size) {
    int rows, width, height, t, y;
    if (!grid) return img__fail(err, err_size, "tile: NULL grid");
    memset(grid, 0, sizeof *grid);
    if (!tiles) return img__fail(err, err_size, "tile: NULL tiles");
    if (count < 1) return img__fail(err, err_size, "tile: %d tiles, need at least one", count);
    if (img__check_size(tile_width, tile_height, 1, "tile", err, err_size) != 0) return -1;
    if (columns <= 0) {  /* the smallest c with c * c >= count */
        columns = 1;
        while ((long)columns * columns < count) columns++;
    }
    if (columns > count) columns = count;
    rows = (count + columns - 1) / columns;
    if ((long)columns * (tile_width + 1) + 1 > 0x7fffffffL ||
        (long)rows * (tile_height + 1) + 1 > 0x7fffffffL)
        return img__fail(err, err_size, "tile: a grid of %d x %d tiles is too large", columns, rows);
    width = columns * (tile_width + 1) + 1;
    height = rows * (tile_height + 1) + 1;
    if (img__check_size(width, height, 1, "tile", err, err_size) != 0) return -1;
    if (img__alloc(grid, width, height, 1, err, err_size) != 0) return -1;
    memset(grid->pixels, border, (size_t)width * (size_t)height);  /* lines and empty cells */
    for (t = 0; t < count; t++) {
        const unsigned char *tile = tiles + (size_t)t * tile_width * tile_height;
        int left = 1 + (t % columns) * (tile_width + 1), top = 1 + (t / columns) * (tile_height + 1);
        for (y = 0; y < tile_height; y++)
            memcpy(grid->pixels + (size_t)(top + y) * width + left, tile + (size_t)y * tile_width,
                   (size_t)tile_width);
    }
    return 0;
}

IMGDEF void img_floats_to_bytes(const float *src, size_t n, unsigned char *dst) {
    float lo = 0, hi = 0;
    int seen = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        float v = src[i];
        if (v != v) continue;  /* NaN */
        if (!seen || v < lo) lo = v;
        if (!seen || v > hi) hi = v;
        seen = 1;
    }
    for (i = 0; i < n; i++) {
        float v = src[i];
        if (v != v) dst[i] = 0;
        else if (!(hi > lo)) dst[i] = 128;
        else {
            /* In double: hi - lo can overflow float for values near FLT_MAX. */
            double scaled = ((double)v - lo) / ((double)hi - lo) * 255.0 + 0.5;
            dst[i] = (unsigned char)(scaled >= 255.0 ? 255 : scaled);
        }
    }
}

IMGDEF void img_make_dirs(const char *path) {
    char buf[1024];
    size_t i, n = strlen(path);
    if (n >= sizeof buf) return;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            img__mkdir(buf);
            buf[i] = c;
        }
}

#ifdef __cplusplus
}
#endif
#endif /* IMG_IMPLEMENTATION_DONE */
#endif /* IMG_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions: The above copyright notice
and this permission notice shall be included in all copies or substantial portions of the
Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either
in source code form or as a compiled binary, for any purpose, commercial or non-commercial, and
by any means.
------------------------------------------------------------------------------
*/
