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
       name, by the small inflate below (RFC 1951 DEFLATE: stored, fixed and dynamic Huffman
       blocks; RFC 1952 gzip: header fields, CRC-32 and length checked, several members
       allowed). No zlib needed.

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

/* The decompressors, public because they are useful on their own (a PNG's IDAT is a zlib
   stream: 2 header bytes, DEFLATE data, Adler-32). Output is allocated with IDX_MALLOC and freed
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

/* ---- CRC-32 ----------------------------------------------------------------------------------
   The reflected CRC with polynomial 0xEDB88320 (gzip, PNG, zip). Four bits at a time from a
   16-entry table: a fixed table, so no initialisation and no shared mutable state, and fast
   enough (two lookups per byte) for files of tens of megabytes. */

IDXDEF uint32_t idx_crc32(uint32_t crc, const void *data, size_t size) {
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < size; i++) {
        crc ^= p[i];
        crc = nibble[crc & 15] ^ (crc >> 4);
        crc = nibble[crc & 15] ^ (crc >> 4);
    }
    return ~crc;
}

/* ---- Inflate (RFC 1951) ----------------------------------------------------------------------
   A DEFLATE stream is a sequence of blocks. Each starts with 3 bits: BFINAL, then BTYPE
   (0 stored, 1 fixed Huffman codes, 2 dynamic Huffman codes sent in the block header).
   Huffman blocks hold literal bytes and (length, distance) pairs meaning "copy length bytes
   from distance bytes back in the output". Bits are packed starting at the least significant
   bit of each byte; Huffman codes are sent most significant bit first, other fields least
   significant bit first. */

#define IDX__FAST_BITS 10  /* codes up to this length are decoded by one table lookup */
#define IDX__MAX_CODE_BITS 15

typedef struct idx__huffman {
    /* fast[next FAST_BITS input bits] = (code length << 9) | symbol, 0 when the code is longer.
       Indexed by the bits as they arrive, i.e. by the bit-reversed code. */
    uint16_t fast[1 << IDX__FAST_BITS];
    uint16_t count[IDX__MAX_CODE_BITS + 1];  /* how many codes have each length              */
    uint16_t symbol[288];                    /* symbols sorted by (length, symbol): canonical */
} idx__huffman;

typedef struct idx__inflater {
    const unsigned char *in;
    size_t in_size, in_pos;
    uint64_t bits;          /* input bits not yet used, the next one in bit 0 */
    int bit_count;
    unsigned char *out;     /* grows; IDX_MAX_BYTES at most */
    size_t out_size, out_capacity;
    char *err;
    size_t err_size;
} idx__inflater;

static void idx__refill(idx__inflater *z) {
    while (z->bit_count <= 56 && z->in_pos < z->in_size) {
        z->bits |= (uint64_t)z->in[z->in_pos++] << z->bit_count;
        z->bit_count += 8;
    }
}

static int idx__truncated(idx__inflater *z) {
    return idx__fail(z->err, z->err_size, "truncated: the DEFLATE data ends inside a block");
}

/* The next n (<= 32) bits as a number, least significant first. */
static int idx__get_bits(idx__inflater *z, int n, uint32_t *value) {
    *value = 0;  /* defined on failure too: optimisers cannot always see it is never used */
    if (z->bit_count < n) idx__refill(z);
    if (z->bit_count < n) return idx__truncated(z);
    *value = (uint32_t)(z->bits & (((uint64_t)1 << n) - 1));
    z->bits >>= n;
    z->bit_count -= n;
    return 0;
}

/* Build the decoding tables of a canonical Huffman code given each symbol's code length
   (0: symbol unused). RFC 1951 3.2.2: codes of one length are consecutive integers in symbol
   order, and the first code of length L+1 is (last code of length L + 1) * 2.
   An over-subscribed set of lengths (more codes than fit) cannot come from a real encoder and
   is rejected; an incomplete one is accepted (the unused codes fail when met). */
static int idx__build_huffman(idx__inflater *z, idx__huffman *h, const unsigned char *lengths,
                              int n, const char *what) {
    uint16_t offset[IDX__MAX_CODE_BITS + 2];
    uint32_t next_code[IDX__MAX_CODE_BITS + 1];
    int len, s, left = 1;
    uint32_t code = 0;

    memset(h, 0, sizeof *h);
    for (s = 0; s < n; s++) h->count[lengths[s]]++;
    h->count[0] = 0;
    for (len = 1; len <= IDX__MAX_CODE_BITS; len++) {
        left = left * 2 - h->count[len];
        if (left < 0)
            return idx__fail(z->err, z->err_size, "corrupt: over-subscribed %s Huffman code", what);
    }
    offset[1] = 0;
    for (len = 1; len <= IDX__MAX_CODE_BITS; len++) {
        offset[len + 1] = (uint16_t)(offset[len] + h->count[len]);
        next_code[len] = code;
        code = (code + h->count[len]) << 1;
    }
    for (s = 0; s < n; s++) {
        int l = lengths[s];
        if (l == 0) continue;
        h->symbol[offset[l]++] = (uint16_t)s;
        if (l <= IDX__FAST_BITS) {
            /* Reverse the code's bits (it is sent MSB first) and fill every table slot whose low
               l bits are that code: the higher bits belong to whatever follows. */
            uint32_t c = next_code[l], reversed = 0;
            int i;
            for (i = 0; i < l; i++) reversed |= ((c >> i) & 1u) << (l - 1 - i);
            for (; reversed < (1u << IDX__FAST_BITS); reversed += 1u << l)
                h->fast[reversed] = (uint16_t)(l << 9 | s);
        }
        next_code[l]++;
    }
    return 0;
}

/* Decode one symbol. Codes longer than FAST_BITS walk the canonical code one bit at a time:
   at length L the codes are first .. first + count[L] - 1, listed in 'symbol' from 'index'. */
static int idx__decode(idx__inflater *z, const idx__huffman *h, int *symbol) {
    uint32_t entry, code = 0, first = 0, index = 0;
    int len;
    *symbol = 0;  /* as in idx__get_bits */
    if (z->bit_count < IDX__MAX_CODE_BITS) idx__refill(z);
    entry = h->fast[z->bits & ((1u << IDX__FAST_BITS) - 1)];
    if (entry != 0) {
        len = (int)(entry >> 9);
        if (len > z->bit_count) return idx__truncated(z);
        z->bits >>= len;
        z->bit_count -= len;
        *symbol = (int)(entry & 511);
        return 0;
    }
    for (len = 1; len <= IDX__MAX_CODE_BITS; len++) {
        if (len > z->bit_count) return idx__truncated(z);
        code |= (uint32_t)(z->bits >> (len - 1)) & 1u;
        if (code - first < h->count[len]) {
            z->bits >>= len;
            z->bit_count -= len;
            *symbol = h->symbol[index + code - first];
            return 0;
        }
        index += h->count[len];
        first = (first + h->count[len]) << 1;
        code <<= 1;
    }
    return idx__fail(z->err, z->err_size, "corrupt: a Huffman code that the block does not define");
}

/* Room for n more output bytes, growing by doubling up to IDX_MAX_BYTES. */
static int idx__reserve(idx__inflater *z, size_t n) {
    size_t need = z->out_size + n, capacity = z->out_capacity;
    unsigned char *grown;
    if (need <= capacity) return 0;
    if (n > IDX_MAX_BYTES || need > IDX_MAX_BYTES)
        return idx__fail(z->err, z->err_size,
                         "decompressed data larger than the limit of %lu bytes (IDX_MAX_BYTES)",
                         (unsigned long)IDX_MAX_BYTES);
    if (capacity < 4096) capacity = 4096;
    while (capacity < need) capacity = capacity > IDX_MAX_BYTES / 2 ? IDX_MAX_BYTES : capacity * 2;
    grown = (unsigned char *)IDX_REALLOC(z->out, capacity);
    if (!grown)
        return idx__fail(z->err, z->err_size, "out of memory for %lu bytes of decompressed data",
                         (unsigned long)capacity);
    z->out = grown;
    z->out_capacity = capacity;
    return 0;
}

static int idx__stored_block(idx__inflater *z) {
    uint32_t len, nlen;
    /* The block starts at the next byte boundary. The bytes already pulled into the bit buffer
       are handed back to the input, so the data can be copied straight from it. */
    z->bits >>= z->bit_count % 8;
    z->bit_count -= z->bit_count % 8;
    z->in_pos -= (size_t)(z->bit_count / 8);
    z->bits = 0;
    z->bit_count = 0;
    if (z->in_size - z->in_pos < 4) return idx__truncated(z);
    len = (uint32_t)z->in[z->in_pos] | (uint32_t)z->in[z->in_pos + 1] << 8;
    nlen = (uint32_t)z->in[z->in_pos + 2] | (uint32_t)z->in[z->in_pos + 3] << 8;
    z->in_pos += 4;
    if ((len ^ 0xffffu) != nlen)
        return idx__fail(z->err, z->err_size,
                         "corrupt: stored block length %u does not match its complement %u",
                         (unsigned)len, (unsigned)nlen);
    if (z->in_size - z->in_pos < len) return idx__truncated(z);
    if (len == 0) return 0;  /* an empty block (flush marker): the output may not exist yet */
    if (idx__reserve(z, len) != 0) return -1;
    memcpy(z->out + z->out_size, z->in + z->in_pos, len);
    z->out_size += len;
    z->in_pos += len;
    return 0;
}

/* Lengths 3..258 and distances 1..32768: a base plus extra bits read after the symbol. */
static const uint16_t idx__length_base[29] = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const unsigned char idx__length_extra[29] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t idx__dist_base[30] = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
    257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const unsigned char idx__dist_extra[30] = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int idx__huffman_block(idx__inflater *z, const idx__huffman *lit, const idx__huffman *dist) {
    for (;;) {
        int symbol, dsym;
        uint32_t extra, length, distance;
        if (idx__decode(z, lit, &symbol) != 0) return -1;
        if (symbol < 256) {
            if (idx__reserve(z, 1) != 0) return -1;
            z->out[z->out_size++] = (unsigned char)symbol;
            continue;
        }
        if (symbol == 256) return 0;  /* end of block */
        symbol -= 257;
        if (symbol >= 29)
            return idx__fail(z->err, z->err_size, "corrupt: invalid length symbol %d", symbol + 257);
        if (idx__get_bits(z, idx__length_extra[symbol], &extra) != 0) return -1;
        length = idx__length_base[symbol] + extra;
        if (idx__decode(z, dist, &dsym) != 0) return -1;
        if (dsym >= 30)
            return idx__fail(z->err, z->err_size, "corrupt: invalid distance symbol %d", dsym);
        if (idx__get_bits(z, idx__dist_extra[dsym], &extra) != 0) return -1;
        distance = idx__dist_base[dsym] + extra;
        if (distance > z->out_size)
            return idx__fail(z->err, z->err_size,
                             "corrupt: a match reaches %u bytes back, before the start of the data",
                             (unsigned)distance);
        if (idx__reserve(z, length) != 0) return -1;
        {
            /* Byte by byte on purpose: source and destination overlap when distance < length
               (a run: distance 1 repeats the last byte). */
            unsigned char *dst = z->out + z->out_size;
            const unsigned char *src = dst - distance;
            uint32_t i;
            for (i = 0; i < length; i++) dst[i] = src[i];
            z->out_size += length;
        }
    }
}

static int idx__fixed_block(idx__inflater *z) {
    /* RFC 1951 3.2.6: literal/length codes of 8, 9, 7 and 8 bits; distance codes all 5 bits.
       Built per block: it costs less than the block's own decoding and needs no shared state. */
    unsigned char lengths[288 + 30];
    idx__huffman lit, dist;
    int i;
    for (i = 0; i < 144; i++) lengths[i] = 8;
    for (; i < 256; i++) lengths[i] = 9;
    for (; i < 280; i++) lengths[i] = 7;
    for (; i < 288; i++) lengths[i] = 8;
    for (i = 0; i < 30; i++) lengths[288 + i] = 5;
    if (idx__build_huffman(z, &lit, lengths, 288, "fixed literal/length") != 0) return -1;
    if (idx__build_huffman(z, &dist, lengths + 288, 30, "fixed distance") != 0) return -1;
    return idx__huffman_block(z, &lit, &dist);
}

static int idx__dynamic_block(idx__inflater *z) {
    /* The header sends the code lengths of the literal/length and distance codes, themselves
       Huffman-coded with a small "code length code" whose lengths come first, 3 bits each, in
       this order (the lengths most likely to be zero come last, so they can be left out). */
    static const unsigned char order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                            11, 4, 12, 3, 13, 2, 14, 1, 15};
    unsigned char lengths[286 + 30];
    unsigned char code_lengths[19];
    idx__huffman lengths_code, lit, dist;
    uint32_t hlit, hdist, hclen, value;
    int i, n;

    if (idx__get_bits(z, 5, &hlit) != 0 || idx__get_bits(z, 5, &hdist) != 0 ||
        idx__get_bits(z, 4, &hclen) != 0)
        return -1;
    hlit += 257;
    hdist += 1;
    hclen += 4;
    if (hlit > 286 || hdist > 30)
        return idx__fail(z->err, z->err_size,
                         "corrupt: dynamic block declares %u literal/length and %u distance codes "
                         "(at most 286 and 30)", (unsigned)hlit, (unsigned)hdist);
    memset(code_lengths, 0, sizeof code_lengths);
    for (i = 0; i < (int)hclen; i++) {
        if (idx__get_bits(z, 3, &value) != 0) return -1;
        code_lengths[order[i]] = (unsigned char)value;
    }
    if (idx__build_huffman(z, &lengths_code, code_lengths, 19, "code length") != 0) return -1;

    n = (int)(hlit + hdist);
    for (i = 0; i < n;) {
        int symbol, repeat;
        unsigned char fill;
        if (idx__decode(z, &lengths_code, &symbol) != 0) return -1;
        if (symbol < 16) {
            lengths[i++] = (unsigned char)symbol;
            continue;
        }
        if (symbol == 16) {  /* repeat the previous length 3..6 times */
            if (i == 0)
                return idx__fail(z->err, z->err_size, "corrupt: length repeat with no previous length");
            fill = lengths[i - 1];
            if (idx__get_bits(z, 2, &value) != 0) return -1;
            repeat = 3 + (int)value;
        } else if (symbol == 17) {  /* 3..10 zeros */
            fill = 0;
            if (idx__get_bits(z, 3, &value) != 0) return -1;
            repeat = 3 + (int)value;
        } else {  /* 18: 11..138 zeros */
            fill = 0;
            if (idx__get_bits(z, 7, &value) != 0) return -1;
            repeat = 11 + (int)value;
        }
        if (repeat > n - i)
            return idx__fail(z->err, z->err_size, "corrupt: code lengths run past their count");
        while (repeat--) lengths[i++] = fill;
    }
    if (lengths[256] == 0)
        return idx__fail(z->err, z->err_size, "corrupt: dynamic block has no end-of-block code");
    if (idx__build_huffman(z, &lit, lengths, (int)hlit, "literal/length") != 0) return -1;
    if (idx__build_huffman(z, &dist, lengths + hlit, (int)hdist, "distance") != 0) return -1;
    return idx__huffman_block(z, &lit, &dist);
}

/* Inflate from z->in[z->in_pos] on, appending to z->out. Leaves in_pos at the first byte
   after the stream (the rest of the last byte is padding). */
static int idx__inflate_stream(idx__inflater *z) {
    uint32_t final, type;
    z->bits = 0;
    z->bit_count = 0;
    do {
        int status;
        if (idx__get_bits(z, 1, &final) != 0 || idx__get_bits(z, 2, &type) != 0) return -1;
        if (type == 0) status = idx__stored_block(z);
        else if (type == 1) status = idx__fixed_block(z);
        else if (type == 2) status = idx__dynamic_block(z);
        else status = idx__fail(z->err, z->err_size, "corrupt: DEFLATE block type 3 does not exist");
        if (status != 0) return -1;
    } while (!final);
    z->in_pos -= (size_t)(z->bit_count / 8);  /* whole bytes read ahead are not ours */
    z->bits = 0;
    z->bit_count = 0;
    return 0;
}

static void idx__inflater_init(idx__inflater *z, const void *data, size_t size, char *err,
                               size_t err_size) {
    memset(z, 0, sizeof *z);
    z->in = (const unsigned char *)data;
    z->in_size = size;
    z->err = err;
    z->err_size = err_size;
}

static int idx__inflater_finish(idx__inflater *z, int status, unsigned char **out,
                                size_t *out_size) {
    if (status != 0) {
        IDX_FREE(z->out);
        return -1;
    }
    *out = z->out;
    *out_size = z->out_size;
    return 0;
}

IDXDEF int idx_inflate(const void *data, size_t size, unsigned char **out, size_t *out_size,
                       size_t *consumed, char *err, size_t err_size) {
    idx__inflater z;
    int status;
    if (!out || !out_size || (!data && size > 0))
        return idx__fail(err, err_size, "idx_inflate: NULL argument");
    *out = NULL;
    *out_size = 0;
    idx__inflater_init(&z, data, size, err, err_size);
    /* Allocated from the start, even for empty output: success always means *out != NULL,
       and no code below ever does arithmetic on a NULL buffer. */
    status = idx__reserve(&z, 1);
    if (status == 0) status = idx__inflate_stream(&z);
    if (status == 0 && consumed) *consumed = z.in_pos;
    return idx__inflater_finish(&z, status, out, out_size);
}

/* ---- gzip (RFC 1952) -------------------------------------------------------------------------
   member = header (1f 8b, method 8, flags, mtime, xfl, os, optional fields), DEFLATE data,
   CRC-32 of the uncompressed data, its length mod 2^32 (both little-endian). A .gz file may
   hold several members one after the other; their contents are concatenated. */

enum { IDX__FHCRC = 2, IDX__FEXTRA = 4, IDX__FNAME = 8, IDX__FCOMMENT = 16 };

static int idx__gzip_member(idx__inflater *z, int member) {
    const unsigned char *in = z->in;
    size_t pos = z->in_pos, start = z->in_pos, out_start = z->out_size;
    unsigned flags;
    uint32_t crc, isize;

    if (z->in_size - pos < 10)
        return idx__fail(z->err, z->err_size, "truncated: gzip member %d header is cut off", member);
    if (in[pos] != 0x1f || in[pos + 1] != 0x8b)
        return idx__fail(z->err, z->err_size, "not gzip data (member %d lacks the 1f 8b magic)", member);
    if (in[pos + 2] != 8)
        return idx__fail(z->err, z->err_size, "gzip compression method %d is not DEFLATE (8)", in[pos + 2]);
    flags = in[pos + 3];
    if (flags & 0xe0)
        return idx__fail(z->err, z->err_size, "corrupt: reserved gzip header flags 0x%02x set", flags);
    pos += 10;
    if (flags & IDX__FEXTRA) {
        size_t xlen;
        if (z->in_size - pos < 2) goto truncated;
        xlen = (size_t)in[pos] | (size_t)in[pos + 1] << 8;
        pos += 2;
        if (z->in_size - pos < xlen) goto truncated;
        pos += xlen;
    }
    if (flags & IDX__FNAME) {  /* zero-terminated file name */
        while (pos < z->in_size && in[pos] != 0) pos++;
        if (pos == z->in_size) goto truncated;
        pos++;
    }
    if (flags & IDX__FCOMMENT) {
        while (pos < z->in_size && in[pos] != 0) pos++;
        if (pos == z->in_size) goto truncated;
        pos++;
    }
    if (flags & IDX__FHCRC) {  /* low 16 bits of the CRC-32 of the header so far */
        uint32_t want;
        if (z->in_size - pos < 2) goto truncated;
        want = (uint32_t)in[pos] | (uint32_t)in[pos + 1] << 8;
        if ((idx_crc32(0, in + start, pos - start) & 0xffffu) != want)
            return idx__fail(z->err, z->err_size, "corrupt: gzip header CRC mismatch");
        pos += 2;
    }
    z->in_pos = pos;
    if (idx__inflate_stream(z) != 0) return -1;
    if (z->in_size - z->in_pos < 8)
        return idx__fail(z->err, z->err_size,
                         "truncated: gzip member %d ends before its CRC-32 and length", member);
    crc = idx__le32(in + z->in_pos);
    isize = idx__le32(in + z->in_pos + 4);
    z->in_pos += 8;
    if (idx_crc32(0, z->out + out_start, z->out_size - out_start) != crc)
        return idx__fail(z->err, z->err_size,
                         "corrupt: CRC-32 of gzip member %d does not match its data", member);
    if ((uint32_t)(z->out_size - out_start) != isize)
        return idx__fail(z->err, z->err_size,
                         "corrupt: gzip member %d inflates to %lu bytes, its trailer says %lu",
                         member, (unsigned long)(z->out_size - out_start), (unsigned long)isize);
    return 0;
truncated:
    return idx__fail(z->err, z->err_size, "truncated: gzip member %d header is cut off", member);
}

IDXDEF int idx_gunzip(const void *data, size_t size, unsigned char **out, size_t *out_size,
                      char *err, size_t err_size) {
    idx__inflater z;
    int status = 0, member = 1;
    if (!out || !out_size || (!data && size > 0))
        return idx__fail(err, err_size, "idx_gunzip: NULL argument");
    *out = NULL;
    *out_size = 0;
    idx__inflater_init(&z, data, size, err, err_size);
    /* The last member's ISIZE is the whole size for a single-member file (mod 2^32): allocate
       it at once rather than doubling through a 47 MB file. Only a hint: capped by the limit,
       and ignored when larger than DEFLATE's best ratio (258 bytes from 2 bits, about 1032:1)
       allows, which only a corrupt trailer claims. */
    if (size >= 18) {
        size_t hint = idx__le32(z.in + size - 4);
        if (hint > 0 && hint <= IDX_MAX_BYTES && hint / 1032 <= size) status = idx__reserve(&z, hint);
    }
    if (status == 0) status = idx__reserve(&z, 1);  /* never a NULL buffer, as in idx_inflate */
    do {
        if (status == 0) status = idx__gzip_member(&z, member++);
        /* Another member must follow at once; anything else is not gzip data. */
        if (status == 0 && z.in_pos < z.in_size &&
            (z.in_size - z.in_pos < 2 || z.in[z.in_pos] != 0x1f || z.in[z.in_pos + 1] != 0x8b))
            status = idx__fail(err, err_size, "%lu bytes that are not gzip data after the end of "
                               "the gzip data", (unsigned long)(z.in_size - z.in_pos));
    } while (status == 0 && z.in_pos < z.in_size);
    return idx__inflater_finish(&z, status, out, out_size);
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
