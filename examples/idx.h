/* idx.h - read MNIST-style IDX files, plain or gzip-compressed, in one C99 header.
   Public domain / MIT, see the end.

   Do this:
       #define IDX_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.
   Everywhere else, include "idx.h" without the define: you get the declarations only.

   WHAT IT READS
       IDX is the format of the MNIST files (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
           bytes 0-1   zero
           byte  2     element type: 0x08 = unsigned byte (the only type read here)
           byte  3     number of dimensions: 3 for images (count, rows, cols), 1 for labels
           then one big-endian uint32 per dimension, then the elements, last index fastest.
       So images are count * rows * cols bytes, image after image, row after row; 0 is
       background and 255 ink. Both the ".idx3-ubyte" and "-idx3-ubyte" spellings of the name,
       and Fashion-MNIST's ".gz" files, are the same format.

       A file that starts with the gzip magic bytes 1f 8b is decompressed first, whatever its
       name, by zlib (RFC 1952 gzip: CRC-32 and length checked, several members allowed).
       Link with -lz (Debian: zlib1g-dev).

   EXAMPLE
       idx_dataset train;
       char err[256];
       if (idx_load_dataset("data/mnist", IDX_TRAIN, &train, err, sizeof err) != 0) {
           fprintf(stderr, "%s\n", err);
           return 1;
       }
       float *x = malloc(sizeof(float) * train.images.count * train.images.rows * train.images.cols);
       int32_t *y = malloc(sizeof(int32_t) * train.labels.count);
       idx_images_to_float(&train.images, x);   // pixel / 255, in [0, 1]
       idx_labels_to_int32(&train.labels, y);
       idx_free_dataset(&train);

   ERRORS
       Functions that can fail return 0 on success and -1 on failure. The reason goes into the
       caller's buffer err (err_size bytes, always NUL-terminated; err may be NULL): which file,
       what was expected, what was found ("data/mnist/train-labels-idx1-ubyte: header says 8000
       labels (8008 bytes) but the file has 7990 bytes"). Nothing is printed, nothing aborts,
       and on failure the output struct is left zeroed, so freeing it is always safe. Corrupt and
       truncated files are rejected: every read is bounds-checked.

   CONFIGURATION (define before including the implementation)
       IDX_STATIC              make every function static (private to the including file)
       IDX_MALLOC(sz)          \
       IDX_REALLOC(p,sz)        | allocator hooks, define all three or none
       IDX_FREE(p)             /
       IDX_MAX_BYTES           largest file, and largest decompressed content, accepted
                               (default 1 GiB; the MNIST training images are 47 MB)

   THREADS
       No global state: any function may be called from any thread.
*/
#ifndef IDX_H
#define IDX_H

#include <stddef.h>
#include <stdint.h>

#ifdef IDX_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define IDXDEF static __attribute__((unused))
#else
#define IDXDEF static
#endif
#else
#define IDXDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct idx_images {
    unsigned char *pixels;   /* count * rows * cols bytes, image after image, row after row */
    int count, rows, cols;
} idx_images;

typedef struct idx_labels {
    unsigned char *labels;   /* count bytes */
    int count;
    int classes;             /* largest label + 1: 10 for MNIST */
} idx_labels;

typedef struct idx_dataset {
    idx_images images;
    idx_labels labels;       /* labels.count == images.count */
} idx_dataset;

typedef enum idx_split {
    IDX_TRAIN = 0,           /* train-images-idx3-ubyte, train-labels-idx1-ubyte            */
    IDX_TEST                 /* t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or test-...) */
} idx_split;

/* Load an idx3 uint8 image file / an idx1 uint8 label file, gzip-compressed or not. */
IDXDEF int idx_load_images(const char *path, idx_images *images, char *err, size_t err_size);
IDXDEF int idx_load_labels(const char *path, idx_labels *labels, char *err, size_t err_size);

/* The same from bytes in memory (copied: 'data' stays the caller's). */
IDXDEF int idx_parse_images(const void *data, size_t size, idx_images *images, char *err,
                            size_t err_size);
IDXDEF int idx_parse_labels(const void *data, size_t size, idx_labels *labels, char *err,
                            size_t err_size);

IDXDEF void idx_free_images(idx_images *images);
IDXDEF void idx_free_labels(idx_labels *labels);

/* dst[i] = pixels[i] / 255 for all count * rows * cols pixels; dst is the caller's. */
IDXDEF void idx_images_to_float(const idx_images *images, float *dst);
/* dst[i] = labels[i] for all count labels: the int32 labels cnn.h's cnn_dataset takes. */
IDXDEF void idx_labels_to_int32(const idx_labels *labels, int32_t *dst);

/* Find the image and label files of one split in 'dir', under any of the usual names:
       train-images-idx3-ubyte   train-images.idx3-ubyte   (and either with .gz)
       t10k-images-idx3-ubyte    t10k-images.idx3-ubyte    test-images-idx3-ubyte  ...
   Plain files are preferred to .gz ones. The paths (path_size bytes each) are filled in. */
IDXDEF int idx_find_files(const char *dir, idx_split split, char *images_path,
                          char *labels_path, size_t path_size, char *err, size_t err_size);

/* idx_find_files + idx_load_images + idx_load_labels, and the counts must agree. */
IDXDEF int idx_load_dataset(const char *dir, idx_split split, idx_dataset *dataset, char *err,
                            size_t err_size);
IDXDEF void idx_free_dataset(idx_dataset *dataset);

/* The decompressors (zlib underneath), public because they are useful on their own (a PNG's
   IDAT is a zlib stream: 2 header bytes, DEFLATE data, Adler-32). Output is allocated with IDX_MALLOC and freed
   with IDX_FREE (free() by default). */
/* Raw DEFLATE (RFC 1951). *consumed (may be NULL) gets the bytes of input used: the data may
   be followed by something else. */
IDXDEF int idx_inflate(const void *data, size_t size, unsigned char **out, size_t *out_size,
                       size_t *consumed, char *err, size_t err_size);
/* gzip (RFC 1952): every member, checked against its CRC-32 and length. */
IDXDEF int idx_gunzip(const void *data, size_t size, unsigned char **out, size_t *out_size,
                      char *err, size_t err_size);
/* CRC-32 as in gzip and PNG. Start with crc = 0; pass the result back in to continue. */
IDXDEF uint32_t idx_crc32(uint32_t crc, const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* IDX_H */

/* ============================================================================================
   Implementation
   ============================================================================================ */
#ifdef IDX_IMPLEMENTATION
#ifndef IDX_IMPLEMENTATION_DONE
#define IDX_IMPLEMENTATION_DONE

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#if defined(IDX_MALLOC) && defined(IDX_REALLOC) && defined(IDX_FREE)
/* all three given */
#elif !defined(IDX_MALLOC) && !defined(IDX_REALLOC) && !defined(IDX_FREE)
#include <stdlib.h>
#define IDX_MALLOC(sz) malloc(sz)
#define IDX_REALLOC(p, sz) realloc(p, sz)
#define IDX_FREE(p) free(p)
#else
#error "idx.h: define all of IDX_MALLOC, IDX_REALLOC and IDX_FREE, or none of them"
#endif

#ifndef IDX_MAX_BYTES
#define IDX_MAX_BYTES ((size_t)1 << 30)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int idx__fail(char *err, size_t err_size, const char *format, ...) {
    if (err && err_size > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
    return -1;
}

/* A failure of a parse, reported with the file name in front. */
static int idx__fail_in(const char *path, char *err, size_t err_size, const char *message) {
    return idx__fail(err, err_size, "%s: %s", path, message);
}

static uint32_t idx__be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t idx__le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- Decompression: zlib ---------------------------------------------------------------------
   gzip (RFC 1952) and raw DEFLATE (RFC 1951) through zlib, the library every system has
   (Debian: zlib1g-dev; link with -lz). What zlib does not say in its own words is checked
   here: the gzip magic, method and reserved flags (with messages that name them), several
   members one after the other, nothing else after the last one, and the size limit. */

IDXDEF uint32_t idx_crc32(uint32_t crc, const void *data, size_t size) {
    const unsigned char *p = (const unsigned char *)data;
    uLong c = crc;
    while (size > 0) {  /* zlib takes uInt lengths */
        uInt n = size > 0x40000000u ? 0x40000000u : (uInt)size;
        c = crc32(c, p, n);
        p += n;
        size -= n;
    }
    return (uint32_t)c;
}

typedef struct idx__sink {
    unsigned char *out;
    size_t size, capacity;
} idx__sink;

/* Room for at least n more bytes, doubling, within IDX_MAX_BYTES. */
static int idx__grow(idx__sink *s, size_t n, char *err, size_t err_size) {
    size_t want = s->capacity ? s->capacity : 1024;
    unsigned char *bigger;
    if (s->size + n <= s->capacity) return 0;
    if (n > IDX_MAX_BYTES - s->size)
        return idx__fail(err, err_size, "the data inflates to more than the limit of %lu bytes (IDX_MAX_BYTES)",
                         (unsigned long)IDX_MAX_BYTES);
    while (want < s->size + n) want = want > IDX_MAX_BYTES / 2 ? IDX_MAX_BYTES : want * 2;
    bigger = (unsigned char *)IDX_REALLOC(s->out, want);
    if (!bigger) return idx__fail(err, err_size, "out of memory for %lu bytes", (unsigned long)want);
    s->out = bigger;
    s->capacity = want;
    return 0;
}

/* Inflates one zlib stream (raw DEFLATE or one gzip member, by window_bits) from *pos,
   appending to the sink; *pos moves past what the stream used. */
static int idx__zinflate(const unsigned char *in, size_t size, size_t *pos, int window_bits, idx__sink *s,
                         const char *what, char *err, size_t err_size) {
    z_stream z;
    int status;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK) return idx__fail(err, err_size, "zlib: cannot start inflating");
    z.next_in = (Bytef *)(in + *pos);
    do {
        if (z.avail_in == 0) {  /* zlib counts in uInt: feed a very large input in pieces */
            size_t left = size - (size_t)((const unsigned char *)z.next_in - in);
            z.avail_in = (uInt)(left > 0x40000000u ? 0x40000000u : left);
        }
        if (s->size == s->capacity && idx__grow(s, 1, err, err_size) != 0) { inflateEnd(&z); return -1; }
        z.next_out = s->out + s->size;
        z.avail_out = (uInt)(s->capacity - s->size > 0x40000000u ? 0x40000000u : s->capacity - s->size);
        {
            size_t before = z.avail_out;
            status = inflate(&z, Z_NO_FLUSH);
            s->size += before - z.avail_out;
        }
    } while (status == Z_OK);
    *pos = (size_t)((const unsigned char *)z.next_in - in);
    inflateEnd(&z);
    if (status == Z_STREAM_END) return 0;
    if (status == Z_BUF_ERROR)   /* no progress possible: the input ended inside the stream */
        return idx__fail(err, err_size, "truncated: %s ends before its end", what);
    if (z.msg && strstr(z.msg, "incorrect data check"))
        return idx__fail(err, err_size, "corrupt: CRC-32 of %s does not match its data", what);
    if (z.msg && strstr(z.msg, "incorrect length check"))
        return idx__fail(err, err_size, "corrupt: the length %s's trailer says differs from its data", what);
    return idx__fail(err, err_size, "corrupt: %s: %s", what, z.msg ? z.msg : "zlib error");
}

IDXDEF int idx_inflate(const void *data, size_t size, unsigned char **out, size_t *out_size,
                       size_t *consumed, char *err, size_t err_size) {
    idx__sink s;
    size_t pos = 0;
    if (!out || !out_size || (!data && size > 0))
        return idx__fail(err, err_size, "idx_inflate: NULL argument");
    *out = NULL;
    *out_size = 0;
    memset(&s, 0, sizeof s);
    if (idx__zinflate((const unsigned char *)data, size, &pos, -15, &s, "the DEFLATE data", err, err_size) != 0) {
        IDX_FREE(s.out);
        return -1;
    }
    *out = s.out;   /* never NULL on success: the sink was grown before inflating */
    *out_size = s.size;
    if (consumed) *consumed = pos;
    return 0;
}

enum { IDX__FRESERVED = 0xe0 };

IDXDEF int idx_gunzip(const void *data, size_t size, unsigned char **out, size_t *out_size,
                      char *err, size_t err_size) {
    const unsigned char *in = (const unsigned char *)data;
    idx__sink s;
    size_t pos = 0;
    int member = 1;
    char what[40];
    if (!out || !out_size || (!data && size > 0))
        return idx__fail(err, err_size, "idx_gunzip: NULL argument");
    *out = NULL;
    *out_size = 0;
    memset(&s, 0, sizeof s);
    /* The last member's ISIZE is the whole size of a single-member file (mod 2^32): one
       allocation instead of doubling through a 47 MB file. A hint only, capped by the limit
       and ignored past DEFLATE's best ratio (about 1032:1). */
    if (size >= 18) {
        size_t hint = idx__le32(in + size - 4);
        if (hint > 0 && hint <= IDX_MAX_BYTES && hint / 1032 <= size && idx__grow(&s, hint, err, err_size) != 0) return -1;
    }
    do {
        snprintf(what, sizeof what, "gzip member %d", member);
        if (size - pos < 10) { idx__fail(err, err_size, "truncated: %s header is cut off", what); goto fail; }
        if (in[pos] != 0x1f || in[pos + 1] != 0x8b) { idx__fail(err, err_size, "not gzip data (%s lacks the 1f 8b magic)", what); goto fail; }
        if (in[pos + 2] != 8) { idx__fail(err, err_size, "gzip compression method %d is not DEFLATE (8)", in[pos + 2]); goto fail; }
        if (in[pos + 3] & IDX__FRESERVED) { idx__fail(err, err_size, "corrupt: reserved gzip header flags 0x%02x set", in[pos + 3]); goto fail; }
        if (idx__zinflate(in, size, &pos, 16 + 15, &s, what, err, err_size) != 0) goto fail;
        member++;
        /* Another member must follow at once; anything else is not gzip data. */
        if (pos < size && (size - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)) {
            idx__fail(err, err_size, "%lu bytes that are not gzip data after the end of the gzip data", (unsigned long)(size - pos));
            goto fail;
        }
    } while (pos < size);
    if (!s.out && idx__grow(&s, 1, err, err_size) != 0) goto fail;
    *out = s.out;
    *out_size = s.size;
    return 0;
fail:
    IDX_FREE(s.out);
    return -1;
}

/* ---- IDX parsing ---------------------------------------------------------------------------- */

static int idx__is_gzip(const unsigned char *data, size_t size) {
    return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* Check the header of an IDX file of uint8 elements and 'want_dims' dimensions; the dims are
   returned and the element count must match the bytes that follow exactly. */
static int idx__parse_header(const unsigned char *data, size_t size, int want_dims,
                             const char *what, uint32_t dims[3], size_t *offset, char *err,
                             size_t err_size) {
    size_t header, elements = 1;
    int d;
    if (size < 4)
        return idx__fail(err, err_size, "truncated: %lu bytes, too short for an IDX header",
                         (unsigned long)size);
    if (data[0] != 0 || data[1] != 0)
        return idx__fail(err, err_size,
                         "not an IDX file: magic %02x %02x %02x %02x, expected 00 00 08 %02x",
                         data[0], data[1], data[2], data[3], want_dims);
    if (data[2] != 0x08)
        return idx__fail(err, err_size,
                         "IDX element type 0x%02x is not supported (only 0x08, unsigned byte)",
                         data[2]);
    if (data[3] != want_dims)
        return idx__fail(err, err_size,
                         "%s need an IDX file with %d dimension%s, this one has %d%s", what,
                         want_dims, want_dims == 1 ? "" : "s", data[3],
                         want_dims == 3 && data[3] == 1 ? " (a labels file?)"
                         : want_dims == 1 && data[3] == 3 ? " (an images file?)" : "");
    header = 4 + 4 * (size_t)want_dims;
    if (size < header)
        return idx__fail(err, err_size, "truncated: %lu bytes, the IDX header needs %lu",
                         (unsigned long)size, (unsigned long)header);
    for (d = 0; d < want_dims; d++) {
        dims[d] = idx__be32(data + 4 + 4 * d);
        if (dims[d] == 0)
            return idx__fail(err, err_size, "IDX dimension %d is zero: no %s", d, what);
        if (dims[d] > IDX_MAX_BYTES || elements > IDX_MAX_BYTES / dims[d])
            return idx__fail(err, err_size,
                             "IDX dimensions ask for more than %lu bytes (IDX_MAX_BYTES): corrupt?",
                             (unsigned long)IDX_MAX_BYTES);
        elements *= dims[d];
    }
    if (size - header != elements)
        return idx__fail(err, err_size, "%s: header says %lu bytes of data but the file has %lu%s",
                         what, (unsigned long)elements, (unsigned long)(size - header),
                         size - header < elements ? " (truncated)" : " (extra bytes at the end)");
    *offset = header;
    return 0;
}

/* Owns 'buffer' (IDX_MALLOC'd, gzip or not): returns the IDX payload at the start of a buffer
   of its own. */
static int idx__take_payload(unsigned char *buffer, size_t size, int want_dims, const char *what,
                             uint32_t dims[3], unsigned char **payload, char *err,
                             size_t err_size) {
    size_t offset = 0, count;
    unsigned char *shrunk;
    if (idx__is_gzip(buffer, size)) {
        unsigned char *plain;
        size_t plain_size;
        char reason[200];
        int status = idx_gunzip(buffer, size, &plain, &plain_size, reason, sizeof reason);
        IDX_FREE(buffer);
        if (status != 0) return idx__fail(err, err_size, "gzip: %s", reason);
        buffer = plain;
        size = plain_size;
    }
    if (idx__parse_header(buffer, size, want_dims, what, dims, &offset, err, err_size) != 0) {
        IDX_FREE(buffer);
        return -1;
    }
    count = size - offset;
    memmove(buffer, buffer + offset, count);
    shrunk = (unsigned char *)IDX_REALLOC(buffer, count);
    *payload = shrunk ? shrunk : buffer;
    return 0;
}

static int idx__images_from_buffer(unsigned char *buffer, size_t size, idx_images *images,
                                   char *err, size_t err_size) {
    uint32_t dims[3];
    unsigned char *pixels;
    if (idx__take_payload(buffer, size, 3, "images", dims, &pixels, err, err_size) != 0) return -1;
    images->pixels = pixels;
    images->count = (int)dims[0];
    images->rows = (int)dims[1];
    images->cols = (int)dims[2];
    return 0;
}

static int idx__labels_from_buffer(unsigned char *buffer, size_t size, idx_labels *labels,
                                   char *err, size_t err_size) {
    uint32_t dims[3];
    unsigned char *values;
    int i, largest = 0;
    if (idx__take_payload(buffer, size, 1, "labels", dims, &values, err, err_size) != 0) return -1;
    for (i = 0; i < (int)dims[0]; i++)
        if (values[i] > largest) largest = values[i];
    labels->labels = values;
    labels->count = (int)dims[0];
    labels->classes = largest + 1;
    return 0;
}

static unsigned char *idx__copy(const void *data, size_t size, char *err, size_t err_size) {
    unsigned char *copy;
    if (!data && size > 0) {
        idx__fail(err, err_size, "NULL data");
        return NULL;
    }
    if (size > IDX_MAX_BYTES) {
        idx__fail(err, err_size, "%lu bytes, more than the limit of %lu (IDX_MAX_BYTES)",
                  (unsigned long)size, (unsigned long)IDX_MAX_BYTES);
        return NULL;
    }
    copy = (unsigned char *)IDX_MALLOC(size > 0 ? size : 1);
    if (!copy) {
        idx__fail(err, err_size, "out of memory for %lu bytes", (unsigned long)size);
        return NULL;
    }
    if (size > 0) memcpy(copy, data, size);
    return copy;
}

IDXDEF int idx_parse_images(const void *data, size_t size, idx_images *images, char *err,
                            size_t err_size) {
    unsigned char *copy;
    if (!images) return idx__fail(err, err_size, "idx_parse_images: NULL images");
    memset(images, 0, sizeof *images);
    copy = idx__copy(data, size, err, err_size);
    return copy ? idx__images_from_buffer(copy, size, images, err, err_size) : -1;
}

IDXDEF int idx_parse_labels(const void *data, size_t size, idx_labels *labels, char *err,
                            size_t err_size) {
    unsigned char *copy;
    if (!labels) return idx__fail(err, err_size, "idx_parse_labels: NULL labels");
    memset(labels, 0, sizeof *labels);
    copy = idx__copy(data, size, err, err_size);
    return copy ? idx__labels_from_buffer(copy, size, labels, err, err_size) : -1;
}

/* ---- Files ---------------------------------------------------------------------------------- */

/* The whole file in one IDX_MALLOC'd buffer. Read in growing chunks rather than trusting a
   size from fseek/ftell, which pipes and some special files do not give. */
static int idx__read_file(const char *path, unsigned char **data, size_t *size, char *err,
                          size_t err_size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buffer = NULL;
    size_t used = 0, capacity = 0;
    if (!f) return idx__fail(err, err_size, "cannot open for reading");
    for (;;) {
        size_t got;
        if (used == capacity) {
            unsigned char *grown;
            if (capacity >= IDX_MAX_BYTES) {
                IDX_FREE(buffer);
                fclose(f);
                return idx__fail(err, err_size, "larger than the limit of %lu bytes (IDX_MAX_BYTES)",
                                 (unsigned long)IDX_MAX_BYTES);
            }
            capacity = capacity == 0 ? 65536
                       : capacity > IDX_MAX_BYTES / 2 ? IDX_MAX_BYTES : capacity * 2;
            grown = (unsigned char *)IDX_REALLOC(buffer, capacity);
            if (!grown) {
                IDX_FREE(buffer);
                fclose(f);
                return idx__fail(err, err_size, "out of memory reading the file");
            }
            buffer = grown;
        }
        got = fread(buffer + used, 1, capacity - used, f);
        used += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        const int why = errno;            /* e.g. EISDIR: a directory opens, then cannot be read */
        IDX_FREE(buffer);
        fclose(f);
        return idx__fail(err, err_size, "read error (%s): not a regular file?", strerror(why));
    }
    fclose(f);
    *data = buffer;
    *size = used;
    return 0;
}

IDXDEF int idx_load_images(const char *path, idx_images *images, char *err, size_t err_size) {
    unsigned char *data;
    size_t size;
    char reason[256];
    if (!images || !path) return idx__fail(err, err_size, "idx_load_images: NULL argument");
    memset(images, 0, sizeof *images);
    if (idx__read_file(path, &data, &size, reason, sizeof reason) != 0 ||
        idx__images_from_buffer(data, size, images, reason, sizeof reason) != 0)
        return idx__fail_in(path, err, err_size, reason);
    return 0;
}

IDXDEF int idx_load_labels(const char *path, idx_labels *labels, char *err, size_t err_size) {
    unsigned char *data;
    size_t size;
    char reason[256];
    if (!labels || !path) return idx__fail(err, err_size, "idx_load_labels: NULL argument");
    memset(labels, 0, sizeof *labels);
    if (idx__read_file(path, &data, &size, reason, sizeof reason) != 0 ||
        idx__labels_from_buffer(data, size, labels, reason, sizeof reason) != 0)
        return idx__fail_in(path, err, err_size, reason);
    return 0;
}

IDXDEF void idx_free_images(idx_images *images) {
    if (!images) return;
    IDX_FREE(images->pixels);
    memset(images, 0, sizeof *images);
}

IDXDEF void idx_free_labels(idx_labels *labels) {
    if (!labels) return;
    IDX_FREE(labels->labels);
    memset(labels, 0, sizeof *labels);
}

IDXDEF void idx_images_to_float(const idx_images *images, float *dst) {
    size_t i, n = (size_t)images->count * (size_t)images->rows * (size_t)images->cols;
    for (i = 0; i < n; i++) dst[i] = (float)images->pixels[i] / 255.0f;
}

IDXDEF void idx_labels_to_int32(const idx_labels *labels, int32_t *dst) {
    int i;
    for (i = 0; i < labels->count; i++) dst[i] = labels->labels[i];
}

/* Whether path is a file that can be read: it opens and its first read does not fail. (A
   directory opens with fopen on POSIX systems and fails on the first read, so a directory that
   has a data file's name is passed over rather than chosen.) */
static int idx__file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    int readable;
    if (!f) return 0;
    readable = fgetc(f) != EOF || !ferror(f);
    fclose(f);
    return readable;
}

/* Try "<dir>/<prefix>-<kind><sep><dims>-ubyte[.gz]" for every spelling; 0 if one exists. */
static int idx__find_one(const char *dir, idx_split split, const char *kind, const char *dims,
                         char *path, size_t path_size) {
    static const char *const train_prefixes[] = {"train", NULL};
    static const char *const test_prefixes[] = {"t10k", "test", NULL};
    static const char *const separators[] = {"-", "."};  /* train-images-idx3, train-images.idx3 */
    static const char *const suffixes[] = {"", ".gz"};
    const char *const *prefixes = split == IDX_TRAIN ? train_prefixes : test_prefixes;
    const char *slash = "/";
    size_t dir_len = strlen(dir);
    int p, s, x;
    if (dir_len == 0 || dir[dir_len - 1] == '/' || dir[dir_len - 1] == '\\') slash = "";
    for (x = 0; x < 2; x++)
        for (p = 0; prefixes[p]; p++)
            for (s = 0; s < 2; s++) {
                int n = snprintf(path, path_size, "%s%s%s-%s%s%s-ubyte%s", dir, slash, prefixes[p],
                                 kind, separators[s], dims, suffixes[x]);
                if (n > 0 && (size_t)n < path_size && idx__file_exists(path)) return 0;
            }
    return -1;
}

IDXDEF int idx_find_files(const char *dir, idx_split split, char *images_path,
                          char *labels_path, size_t path_size, char *err, size_t err_size) {
    const char *prefix = split == IDX_TRAIN ? "train" : "t10k";
    if (!dir || !images_path || !labels_path || path_size == 0)
        return idx__fail(err, err_size, "idx_find_files: NULL argument");
    if (idx__find_one(dir, split, "images", "idx3", images_path, path_size) != 0) {
        images_path[0] = labels_path[0] = '\0';
        return idx__fail(err, err_size,
                         "%s: no %s images: looked for %s-images-idx3-ubyte, %s-images.idx3-ubyte%s"
                         " (each also .gz). For MNIST run `make data`.", dir,
                         split == IDX_TRAIN ? "training" : "test", prefix, prefix,
                         split == IDX_TRAIN ? "" : ", test-images-...");
    }
    if (idx__find_one(dir, split, "labels", "idx1", labels_path, path_size) != 0) {
        labels_path[0] = '\0';
        return idx__fail(err, err_size,
                         "%s: found %s but no labels: looked for %s-labels-idx1-ubyte, "
                         "%s-labels.idx1-ubyte%s (each also .gz)", dir, images_path, prefix, prefix,
                         split == IDX_TRAIN ? "" : ", test-labels-...");
    }
    return 0;
}

IDXDEF int idx_load_dataset(const char *dir, idx_split split, idx_dataset *dataset, char *err,
                            size_t err_size) {
    char images_path[1024], labels_path[1024];
    if (!dataset) return idx__fail(err, err_size, "idx_load_dataset: NULL dataset");
    memset(dataset, 0, sizeof *dataset);
    if (idx_find_files(dir, split, images_path, labels_path, sizeof images_path, err, err_size) != 0)
        return -1;
    if (idx_load_images(images_path, &dataset->images, err, err_size) != 0) return -1;
    if (idx_load_labels(labels_path, &dataset->labels, err, err_size) != 0) {
        idx_free_images(&dataset->images);
        return -1;
    }
    if (dataset->images.count != dataset->labels.count) {
        idx__fail(err, err_size, "%s has %d images but %s has %d labels", images_path,
                  dataset->images.count, labels_path, dataset->labels.count);
        idx_free_dataset(dataset);
        return -1;
    }
    return 0;
}

IDXDEF void idx_free_dataset(idx_dataset *dataset) {
    if (!dataset) return;
    idx_free_images(&dataset->images);
    idx_free_labels(&dataset->labels);
}

#ifdef __cplusplus
}
#endif
#endif /* IDX_IMPLEMENTATION_DONE */
#endif /* IDX_IMPLEMENTATION */

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
