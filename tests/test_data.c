/* test_data.c - tests of examples/idx.h (IDX files, gzip, inflate) and examples/image_io.h
   (PNG, PGM, tiles).

       cc -std=c99 -Wall -Wextra -Wpedantic -Werror tests/test_data.c -o test_data && ./test_data

   Needs no data files and no network: the compressed inputs are embedded below and every
   other file is written by the test itself into a fresh temporary directory. Each test_*
   function counts once, passed when none of its checks failed (a loop of checks is one
   test, not one pass per iteration). The last line is "N passed, N failed"; the exit status
   is non-zero if anything failed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp and rmdir, for that temporary directory */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDX_IMPLEMENTATION
#include "../examples/idx.h"
#define IMG_IMPLEMENTATION
#include "../examples/image_io.h"

static int passed, failed, checks, current_failed;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            current_failed++;                                                              \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                         \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
        }                                                                                  \
    } while (0)

/* ---- Embedded inputs -------------------------------------------------------------------------
   Made once with `gzip -9 NAME` (so each keeps its file name in the header, FNAME set) from
   IDX image files whose pixels the tests below recompute:
     fixed-idx3-ubyte    2 images 3x4, pixel i = 10 i: tiny, so gzip uses a fixed-Huffman block
     stored-idx3-ubyte   2 images 8x8, pixels 144 + lcg % 112: values whose fixed codes are 9
                         bits, so storing them as they are is smaller: a stored block
     dynamic-idx3-ubyte  1 image 16x16 of only 0, 128, 255 (lcg % 5 picks 0, 0, 0, 128, 255):
                         three symbols, so a dynamic-Huffman block with short codes wins
   test_block_types() checks that each really holds the block type it is named for. */
static const unsigned char gz_fixed[74] = {
    0x1f, 0x8b, 0x08, 0x08, 0x9c, 0x10, 0x02, 0x6b, 0x02, 0x03, 0x66, 0x69, 0x78, 0x65,
    0x64, 0x2d, 0x69, 0x64, 0x78, 0x33, 0x2d, 0x75, 0x62, 0x79, 0x74, 0x65, 0x00, 0x63,
    0x60, 0xe0, 0x60, 0x66, 0x60, 0x60, 0x60, 0x02, 0x62, 0x10, 0xcd, 0xc2, 0xc0, 0x25,
    0x22, 0xa7, 0x61, 0x64, 0xe3, 0x16, 0x10, 0x95, 0x92, 0x57, 0xd1, 0xd4, 0x33, 0x6d,
    0xc1, 0xaa, 0x2d, 0xfb, 0x4e, 0x5c, 0xba, 0xf3, 0x0c, 0x00, 0xcc, 0x65, 0x29, 0xd2,
    0x28, 0x00, 0x00, 0x00,
};
static const unsigned char gz_stored[185] = {
    0x1f, 0x8b, 0x08, 0x08, 0x9c, 0x10, 0x02, 0x6b, 0x02, 0x03, 0x73, 0x74, 0x6f, 0x72,
    0x65, 0x64, 0x2d, 0x69, 0x64, 0x78, 0x33, 0x2d, 0x75, 0x62, 0x79, 0x74, 0x65, 0x00,
    0x01, 0x90, 0x00, 0x6f, 0xff, 0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x08, 0xb6, 0xbe, 0xb1, 0xbb, 0xab, 0xab, 0xc2,
    0xab, 0xe4, 0xc6, 0xcd, 0xff, 0x9c, 0xdc, 0xe1, 0xd7, 0x91, 0x9f, 0xc1, 0xae, 0xe6,
    0xc2, 0xff, 0x97, 0xc7, 0xb6, 0x97, 0xb9, 0xca, 0xe8, 0xcc, 0xc9, 0xca, 0xb6, 0xf3,
    0xab, 0xf2, 0x95, 0xd1, 0xf8, 0xdc, 0xd4, 0xc5, 0xff, 0xa7, 0xbe, 0xe5, 0xdb, 0xaa,
    0xe2, 0xf9, 0xa8, 0xac, 0xc3, 0x9a, 0xc6, 0xde, 0xdf, 0xb9, 0xb9, 0xaf, 0xdf, 0xbf,
    0xe6, 0xde, 0xe3, 0x98, 0xad, 0xcd, 0xea, 0xbe, 0xf6, 0xea, 0xe4, 0xd6, 0xfe, 0xec,
    0xe9, 0xbd, 0xae, 0xaf, 0xd6, 0xb1, 0xb0, 0xa0, 0x9b, 0xcf, 0xe1, 0xc8, 0xd5, 0xf0,
    0xb5, 0xb9, 0xac, 0xb3, 0xfd, 0xea, 0xab, 0xa8, 0xe9, 0xc2, 0xf3, 0xd2, 0xed, 0xc6,
    0xef, 0xfa, 0xa5, 0xf2, 0x96, 0xe3, 0xb8, 0xe9, 0xd2, 0xa1, 0xfe, 0xfc, 0xf2, 0xe8,
    0xa1, 0xdc, 0xc2, 0xa6, 0xf5, 0xd1, 0xc6, 0xff, 0xe7, 0x13, 0x60, 0xbd, 0xa7, 0x90,
    0x00, 0x00, 0x00,
};
static const unsigned char gz_dynamic[123] = {
    0x1f, 0x8b, 0x08, 0x08, 0x9c, 0x10, 0x02, 0x6b, 0x02, 0x03, 0x64, 0x79, 0x6e, 0x61,
    0x6d, 0x69, 0x63, 0x2d, 0x69, 0x64, 0x78, 0x33, 0x2d, 0x75, 0x62, 0x79, 0x74, 0x65,
    0x00, 0x4d, 0x4e, 0x49, 0x0e, 0xc0, 0x40, 0x08, 0xa2, 0xe9, 0xa5, 0xc7, 0x3e, 0x99,
    0x9f, 0x53, 0x45, 0x1d, 0x6b, 0xe2, 0x12, 0x44, 0x01, 0x78, 0x6e, 0x00, 0x57, 0xe4,
    0x9b, 0x49, 0x48, 0xe8, 0x20, 0xa3, 0x48, 0x6e, 0x19, 0x1a, 0x90, 0x86, 0xd8, 0x88,
    0x0a, 0x95, 0x4b, 0x2f, 0xba, 0x54, 0x63, 0x51, 0xcc, 0x8d, 0xef, 0xf2, 0xa5, 0x7c,
    0xa9, 0xa5, 0x72, 0xfa, 0xe8, 0x73, 0x55, 0x29, 0xe6, 0xc1, 0x71, 0x86, 0x33, 0x87,
    0x15, 0x15, 0x51, 0x96, 0xd1, 0x6f, 0x87, 0x95, 0x18, 0xe7, 0xeb, 0xaf, 0xe8, 0x6d,
    0x69, 0x3f, 0x7f, 0x43, 0x8d, 0xe2, 0xda, 0x10, 0x01, 0x00, 0x00,
};

/* The generator of the stored and dynamic inputs (the classic ANSI C example rand()). */
static unsigned lcg_next(uint32_t *state) {
    *state = *state * 1103515245u + 12345u;
    return (unsigned)(*state >> 16) & 0x7fff;
}

typedef struct embedded {
    const char *name;
    const unsigned char *gz;
    size_t gz_size;
    int block_type;  /* of its first DEFLATE block: 0 stored, 1 fixed, 2 dynamic */
    int count, rows, cols;
} embedded;

static const embedded inputs[3] = {
    {"fixed", gz_fixed, sizeof gz_fixed, 1, 2, 3, 4},
    {"stored", gz_stored, sizeof gz_stored, 0, 2, 8, 8},
    {"dynamic", gz_dynamic, sizeof gz_dynamic, 2, 1, 16, 16},
};

/* The pixels the embedded file was made from. */
static void expected_pixels(const embedded *e, unsigned char *pixels) {
    int i, n = e->count * e->rows * e->cols;
    uint32_t state;
    if (e->gz == gz_fixed) {
        for (i = 0; i < n; i++) pixels[i] = (unsigned char)(i * 10);
    } else if (e->gz == gz_stored) {
        state = 1;
        for (i = 0; i < n; i++) pixels[i] = (unsigned char)(144 + lcg_next(&state) % 112);
    } else {
        static const unsigned char values[5] = {0, 0, 0, 128, 255};
        state = 2;
        for (i = 0; i < n; i++) pixels[i] = values[lcg_next(&state) % 5];
    }
}

/* An IDX file in memory: magic 00 00 08 dims, big-endian sizes, then the bytes. */
static size_t make_idx(unsigned char *out, int dims, const int *sizes, const unsigned char *data,
                       size_t data_size) {
    int d;
    out[0] = 0;
    out[1] = 0;
    out[2] = 8;
    out[3] = (unsigned char)dims;
    for (d = 0; d < dims; d++) {
        unsigned v = (unsigned)sizes[d];
        out[4 + 4 * d] = (unsigned char)(v >> 24);
        out[5 + 4 * d] = (unsigned char)(v >> 16);
        out[6 + 4 * d] = (unsigned char)(v >> 8);
        out[7 + 4 * d] = (unsigned char)v;
    }
    memcpy(out + 4 + 4 * dims, data, data_size);
    return 4 + 4 * (size_t)dims + data_size;
}

/* ---- Temporary files -------------------------------------------------------------------- */

static char temp_dir[512];
static char created[32][600];
static int created_count;

static const char *temp_path(const char *name) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    return path;
}

/* Remember a file made in the temporary directory, to remove it at the end. */
static void track(const char *path) {
    if (created_count < (int)(sizeof created / sizeof created[0]))
        snprintf(created[created_count++], sizeof created[0], "%s", path);
}

static int write_file(const char *name, const void *data, size_t size) {
    const char *path = temp_path(name);
    FILE *f = fopen(path, "wb");
    int ok;
    track(path);
    if (!f) return 0;
    ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok;
}

static unsigned char *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void remove_temp_files(void) {
    int i;
    for (i = 0; i < created_count; i++) remove(created[i]);
    rmdir(temp_dir);
}

static int contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* ---- idx.h: checksums and inflate ------------------------------------------------------- */

static void test_crc32(void) {
    const char *check = "123456789";
    uint32_t whole = idx_crc32(0, check, 9);
    CHECK(whole == 0xcbf43926u, "CRC-32 of '123456789' is %08x, the standard check value is cbf43926",
          (unsigned)whole);
    CHECK(idx_crc32(idx_crc32(0, check, 4), check + 4, 5) == whole, "CRC-32 in two pieces differs");
    CHECK(idx_crc32(0, NULL, 0) == 0, "CRC-32 of nothing is 0");
}

static void test_block_types(void) {
    int i;
    for (i = 0; i < 3; i++) {
        const unsigned char *gz = inputs[i].gz;
        size_t pos = 10;
        if (gz[3] & 8) pos += strlen((const char *)gz + 10) + 1;  /* FNAME */
        CHECK(((gz[pos] >> 1) & 3) == inputs[i].block_type,
              "gz_%s: first block has type %d, expected %d", inputs[i].name, (gz[pos] >> 1) & 3,
              inputs[i].block_type);
    }
}

static void test_embedded_gzip(void) {
    int i;
    for (i = 0; i < 3; i++) {
        const embedded *e = &inputs[i];
        unsigned char want[256], *plain = NULL;
        size_t plain_size = 0;
        idx_images images;
        char err[256] = "";
        int n = e->count * e->rows * e->cols;
        expected_pixels(e, want);
        CHECK(idx_gunzip(e->gz, e->gz_size, &plain, &plain_size, err, sizeof err) == 0,
              "gunzip gz_%s: %s", e->name, err);
        CHECK(plain_size == 16 + (size_t)n, "gz_%s inflates to %lu bytes", e->name,
              (unsigned long)plain_size);
        free(plain);
        CHECK(idx_parse_images(e->gz, e->gz_size, &images, err, sizeof err) == 0,
              "parse gz_%s: %s", e->name, err);
        CHECK(images.count == e->count && images.rows == e->rows && images.cols == e->cols,
              "gz_%s: %d x %d x %d", e->name, images.count, images.rows, images.cols);
        CHECK(images.pixels && memcmp(images.pixels, want, (size_t)n) == 0,
              "gz_%s: pixels differ from the ones it was made from", e->name);
        idx_free_images(&images);
        CHECK(images.pixels == NULL && images.count == 0, "idx_free_images zeroes the struct");
    }
}

static void test_multi_member_gzip(void) {
    /* Two gzip files one after the other are one gzip file holding both contents. */
    unsigned char both[sizeof gz_fixed + sizeof gz_stored], *plain = NULL;
    unsigned char fixed_pixels[24], stored_pixels[128];
    size_t plain_size = 0;
    char err[256] = "";
    memcpy(both, gz_fixed, sizeof gz_fixed);
    memcpy(both + sizeof gz_fixed, gz_stored, sizeof gz_stored);
    expected_pixels(&inputs[0], fixed_pixels);
    expected_pixels(&inputs[1], stored_pixels);
    CHECK(idx_gunzip(both, sizeof both, &plain, &plain_size, err, sizeof err) == 0,
          "two members: %s", err);
    CHECK(plain_size == 40 + 144, "two members inflate to %lu bytes, expected 184",
          (unsigned long)plain_size);
    CHECK(plain && memcmp(plain + 16, fixed_pixels, 24) == 0 &&
              memcmp(plain + 40 + 16, stored_pixels, 128) == 0,
          "two members: contents differ");
    free(plain);
}

/* A DEFLATE stream written bit by bit, to make corrupt streams no encoder would. */
typedef struct bit_writer {
    unsigned char bytes[128];
    size_t size;
    int used;  /* bits used in the last byte */
} bit_writer;

/* n bits of value, least significant first (DEFLATE's header fields and extra bits). */
static void put_bits(bit_writer *w, unsigned value, int n) {
    int i;
    for (i = 0; i < n; i++) {
        if (w->used == 0) w->bytes[w->size++] = 0;
        w->bytes[w->size - 1] |= (unsigned char)(((value >> i) & 1u) << w->used);
        w->used = (w->used + 1) % 8;
    }
}

/* A Huffman code of n bits, most significant first. */
static void put_code(bit_writer *w, unsigned code, int n) {
    int i;
    for (i = n - 1; i >= 0; i--) put_bits(w, (code >> i) & 1u, 1);
}

static int inflate_fails_with(const bit_writer *w, const char *part) {
    unsigned char *out = NULL;
    size_t out_size = 0;
    char err[256] = "";
    int status = idx_inflate(w->bytes, w->size, &out, &out_size, NULL, err, sizeof err);
    free(out);
    if (status == 0 || !contains(err, part)) {
        printf("    inflate gave status %d, message '%s', expected one with '%s'\n", status, err,
               part);
        return 0;
    }
    return out == NULL;
}

static void test_inflate_raw(void) {
    static const unsigned char empty_fixed[2] = {0x03, 0x00};  /* final fixed block, end code */
    static const unsigned char stored_abc[10] = {0x01, 3, 0, 0xfc, 0xff, 'a', 'b', 'c', 'X', 'Y'};
    static const unsigned char bad_nlen[9] = {0x01, 3, 0, 0, 0, 'a', 'b', 'c', 0};
    unsigned char *out = NULL;
    size_t out_size = 99, consumed = 0;
    char err[256] = "";
    bit_writer w;

    CHECK(idx_inflate(empty_fixed, 2, &out, &out_size, &consumed, err, sizeof err) == 0,
          "empty fixed block: %s", err);
    CHECK(out != NULL && out_size == 0 && consumed == 2, "empty: out %p size %lu consumed %lu",
          (void *)out, (unsigned long)out_size, (unsigned long)consumed);
    free(out);

    CHECK(idx_inflate(stored_abc, sizeof stored_abc, &out, &out_size, &consumed, err, sizeof err) == 0,
          "stored block: %s", err);
    CHECK(out_size == 3 && out && memcmp(out, "abc", 3) == 0 && consumed == 8,
          "stored block: %lu bytes, consumed %lu (the 'XY' after it is not its)",
          (unsigned long)out_size, (unsigned long)consumed);
    free(out);

    CHECK(idx_inflate(bad_nlen, sizeof bad_nlen, &out, &out_size, NULL, err, sizeof err) != 0 &&
              contains(err, "invalid stored block lengths") && out == NULL,
          "stored LEN/NLEN mismatch accepted or unclear: %s", err);

    /* A match before the start: literal 'a', then length 3 (symbol 257) at distance 2. */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);          /* BFINAL */
    put_bits(&w, 1, 2);          /* fixed Huffman */
    put_code(&w, 0x30 + 'a', 8); /* literals 0..143: 8-bit codes from 00110000 */
    put_code(&w, 1, 7);          /* symbol 257: 7-bit codes from 0000000 for 256..279 */
    put_code(&w, 1, 5);          /* distance symbol 1: distance 2 */
    put_code(&w, 0, 7);          /* end of block */
    CHECK(inflate_fails_with(&w, "invalid distance too far back"), "distance past the start not rejected");

    /* The same literal with no end-of-block code: the data stops inside the block. */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 1, 2);
    put_code(&w, 0x30 + 'a', 8);
    CHECK(inflate_fails_with(&w, "truncated"), "block without end not reported as truncated");

    /* Length symbol 286 exists in the fixed code but means nothing. */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 1, 2);
    put_code(&w, 0xc0 + 6, 8);   /* 280..287: 8-bit codes from 11000000 */
    CHECK(inflate_fails_with(&w, "invalid literal/length code"), "length symbol 286 accepted");

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 3, 2);          /* block type 3 is reserved */
    CHECK(inflate_fails_with(&w, "invalid block type"), "block type 3 accepted");

    /* Dynamic header whose code-length code has four codes of one bit: cannot exist. */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 0, 5);          /* HLIT: 257 codes */
    put_bits(&w, 0, 5);          /* HDIST: 1 code   */
    put_bits(&w, 0, 4);          /* HCLEN: lengths for 16, 17, 18, 0 */
    put_bits(&w, 1, 3);
    put_bits(&w, 1, 3);
    put_bits(&w, 1, 3);
    put_bits(&w, 1, 3);
    CHECK(inflate_fails_with(&w, "invalid code lengths set"), "over-subscribed code accepted");

    /* Code-length code {0: '0', 16: '1'}; the first length is "repeat the previous one". */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 4);
    put_bits(&w, 1, 3);          /* symbol 16: 1 bit */
    put_bits(&w, 0, 3);          /* 17 unused */
    put_bits(&w, 0, 3);          /* 18 unused */
    put_bits(&w, 1, 3);          /* symbol 0: 1 bit */
    put_code(&w, 1, 1);          /* 16 (code 1: 0 < 16 in symbol order, so 0 got code 0) */
    put_bits(&w, 0, 2);
    CHECK(inflate_fails_with(&w, "invalid bit length repeat"), "repeat of nothing accepted");

    /* Code-length code {0: '0', 18: '1'}: 138 + 120 zeros = all 258 lengths zero, so the
       end-of-block symbol 256 has no code. One more zero run would overflow the count. */
    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 4);
    put_bits(&w, 0, 3);          /* 16 unused */
    put_bits(&w, 0, 3);          /* 17 unused */
    put_bits(&w, 1, 3);          /* 18: 1 bit */
    put_bits(&w, 1, 3);          /* 0: 1 bit */
    put_code(&w, 1, 1);
    put_bits(&w, 127, 7);        /* 11 + 127 = 138 zeros */
    {
        bit_writer overflow = w;
        put_code(&overflow, 1, 1);
        put_bits(&overflow, 127, 7);  /* 138 more: 276 > 258 */
        CHECK(inflate_fails_with(&overflow, "invalid bit length repeat"), "code lengths past their count accepted");
    }
    put_code(&w, 1, 1);
    put_bits(&w, 109, 7);        /* 11 + 109 = 120 zeros */
    CHECK(inflate_fails_with(&w, "missing end-of-block"), "block without end-of-block code accepted");
}

/* ---- idx.h: rejecting bad input ---------------------------------------------------------- */

static int images_fail_with(const unsigned char *data, size_t size, const char *part) {
    idx_images images;
    char err[256] = "";
    int status = idx_parse_images(data, size, &images, err, sizeof err);
    int ok = status != 0 && err[0] != 0 && contains(err, part) && images.pixels == NULL &&
             images.count == 0;
    if (!ok) printf("    parse gave status %d, message '%s', expected one with '%s'\n", status, err, part);
    idx_free_images(&images);
    return ok;
}

static void test_bad_idx(void) {
    static const unsigned char pixels[24] = {1, 2, 3};
    static const unsigned char labels[3] = {7, 1, 9};
    const int sizes[3] = {2, 3, 4}, label_count[1] = {3};
    const int zero[3] = {2, 0, 4};
    const int huge[3] = {-1, -1, -1};  /* 0xffffffff each */
    unsigned char file[64], bad[80];
    size_t size = make_idx(file, 3, sizes, pixels, 24);
    idx_images images;
    idx_labels parsed;
    char err[256] = "";

    CHECK(idx_parse_images(file, size, &images, err, sizeof err) == 0, "good file: %s", err);
    idx_free_images(&images);

    CHECK(images_fail_with(file, 3, "truncated"), "3 bytes");
    CHECK(images_fail_with(file, 10, "truncated"), "header cut in the dimensions");
    CHECK(images_fail_with(file, size - 1, "truncated"), "one pixel missing");
    memcpy(bad, file, size);
    bad[size] = 0;
    CHECK(images_fail_with(bad, size + 1, "extra bytes"), "one byte too many");
    memcpy(bad, file, size);
    bad[0] = 0x1f;
    CHECK(images_fail_with(bad, size, "not an IDX file"), "bad magic");
    memcpy(bad, file, size);
    bad[2] = 0x0d;
    CHECK(images_fail_with(bad, size, "0x0d is not supported"), "float IDX");
    CHECK(images_fail_with(bad, 0, "truncated"), "empty file");
    size = make_idx(bad, 3, zero, pixels, 0);
    CHECK(images_fail_with(bad, size, "zero"), "zero rows");
    size = make_idx(bad, 3, huge, pixels, 24);
    CHECK(images_fail_with(bad, size, "IDX_MAX_BYTES"), "4G x 4G x 4G images");

    size = make_idx(file, 1, label_count, labels, 3);
    CHECK(images_fail_with(file, size, "a labels file?"), "labels file read as images");
    CHECK(idx_parse_labels(file, size, &parsed, err, sizeof err) == 0, "labels: %s", err);
    CHECK(parsed.count == 3 && parsed.classes == 10 && parsed.labels[2] == 9,
          "labels: count %d classes %d", parsed.count, parsed.classes);
    idx_free_labels(&parsed);
    size = make_idx(file, 3, sizes, pixels, 24);
    CHECK(idx_parse_labels(file, size, &parsed, err, sizeof err) != 0 &&
              contains(err, "an images file?") && parsed.labels == NULL,
          "images file read as labels: %s", err);
}

static void test_bad_gzip(void) {
    unsigned char bad[sizeof gz_stored + 8];
    size_t n = sizeof gz_fixed;
    int i, missed = 0;

    memcpy(bad, gz_fixed, n);
    bad[n - 8] ^= 0x01;  /* CRC-32 */
    CHECK(images_fail_with(bad, n, "CRC-32"), "wrong CRC accepted");
    memcpy(bad, gz_fixed, n);
    bad[n - 4] ^= 0x01;  /* ISIZE */
    CHECK(images_fail_with(bad, n, "trailer"), "wrong ISIZE accepted");
    memcpy(bad, gz_fixed, n);
    bad[2] = 7;
    CHECK(images_fail_with(bad, n, "not DEFLATE"), "compression method 7 accepted");
    memcpy(bad, gz_fixed, n);
    bad[3] |= 0x20;
    CHECK(images_fail_with(bad, n, "reserved"), "reserved flag accepted");
    memcpy(bad, gz_fixed, n);
    memcpy(bad + n, "junk", 4);
    CHECK(images_fail_with(bad, n + 4, "after the end"), "junk after the gzip data accepted");
    memcpy(bad, gz_fixed, n);
    bad[3] = 0;          /* no FNAME: the name's bytes are now taken as DEFLATE data */
    CHECK(images_fail_with(bad, n, ""), "misread header accepted");

    /* Every proper prefix of every embedded file is rejected, with a message. */
    for (i = 0; i < 3; i++) {
        size_t cut;
        for (cut = 0; cut < inputs[i].gz_size; cut++) {
            idx_images images;
            char err[256] = "";
            if (idx_parse_images(inputs[i].gz, cut, &images, err, sizeof err) == 0 || err[0] == 0) {
                if (missed++ < 5) printf("    gz_%s cut to %lu bytes: accepted or no message\n",
                                         inputs[i].name, (unsigned long)cut);
                idx_free_images(&images);
            }
        }
    }
    CHECK(missed == 0, "%d truncated files not rejected", missed);
}

/* Garbled copies of the embedded files: each must be read correctly or rejected with a
   message; under -fsanitize=address,undefined, any out-of-bounds read would stop the run. */
static void test_garbled(void) {
    uint32_t state = 12345;
    int round, accepted = 0, silent = 0;
    for (round = 0; round < 3000; round++) {
        const embedded *e = &inputs[round % 3];
        unsigned char copy[256];
        size_t size = e->gz_size;
        int changes = 1 + (int)(lcg_next(&state) % 4), c;
        idx_images images;
        idx_labels labels;
        char err[256] = "";
        memcpy(copy, e->gz, size);
        for (c = 0; c < changes; c++) {
            unsigned at = lcg_next(&state) % (unsigned)size;
            if (lcg_next(&state) % 2) copy[at] ^= (unsigned char)(1u << (lcg_next(&state) % 8));
            else copy[at] = (unsigned char)lcg_next(&state);
        }
        if (lcg_next(&state) % 4 == 0) size = lcg_next(&state) % size;
        if (idx_parse_images(copy, size, &images, err, sizeof err) == 0) accepted++;
        else if (err[0] == 0) silent++;
        idx_free_images(&images);
        err[0] = 0;
        if (idx_parse_labels(copy, size, &labels, err, sizeof err) != 0 && err[0] == 0) silent++;
        idx_free_labels(&labels);
    }
    CHECK(silent == 0, "%d garbled inputs rejected without a message", silent);
    /* Only bytes no check covers (mtime, OS, the file name) can change and still pass. */
    CHECK(accepted < 600, "%d of 3000 garbled inputs accepted", accepted);
}

/* ---- idx.h: files and directories ---------------------------------------------------------- */

static void test_idx_files(void) {
    unsigned char pixels[2 * 3 * 4], labels[3] = {3, 0, 0}, file[64];
    const int sizes[3] = {2, 3, 4}, label_sizes[1] = {2}, three[1] = {3};
    idx_images images;
    idx_labels loaded;
    idx_dataset data;
    float floats[24];
    int32_t ints[2];
    char err[512] = "", images_path[600], labels_path[600];
    size_t size;
    int i;

    for (i = 0; i < 24; i++) pixels[i] = (unsigned char)(i == 0 ? 255 : i * 5);
    size = make_idx(file, 3, sizes, pixels, 24);
    CHECK(write_file("train-images-idx3-ubyte", file, size), "cannot write to %s", temp_dir);
    size = make_idx(file, 1, label_sizes, labels, 2);
    CHECK(write_file("train-labels-idx1-ubyte", file, size), "cannot write to %s", temp_dir);

    CHECK(idx_load_images(temp_path("train-images-idx3-ubyte"), &images, err, sizeof err) == 0,
          "%s", err);
    CHECK(images.count == 2 && images.rows == 3 && images.cols == 4 &&
              memcmp(images.pixels, pixels, 24) == 0,
          "round trip of a written file differs");
    idx_free_images(&images);
    CHECK(idx_load_labels(temp_path("train-labels-idx1-ubyte"), &loaded, err, sizeof err) == 0,
          "%s", err);
    CHECK(loaded.count == 2 && loaded.labels[0] == 3 && loaded.classes == 4,
          "labels: count %d classes %d", loaded.count, loaded.classes);
    idx_free_labels(&loaded);

    CHECK(idx_load_dataset(temp_dir, IDX_TRAIN, &data, err, sizeof err) == 0, "%s", err);
    CHECK(data.images.count == 2 && data.labels.count == 2, "dataset counts %d, %d",
          data.images.count, data.labels.count);
    idx_images_to_float(&data.images, floats);
    idx_labels_to_int32(&data.labels, ints);
    CHECK(floats[0] == 1.0f && floats[1] == 5.0f / 255.0f && floats[23] == 115.0f / 255.0f,
          "to float: %g %g %g", (double)floats[0], (double)floats[1], (double)floats[23]);
    CHECK(ints[0] == 3 && ints[1] == 0, "to int32: %d %d", (int)ints[0], (int)ints[1]);
    idx_free_dataset(&data);

    /* The test split under the other spelling, compressed, next to plain labels; and a gzip
       file whose name does not say so. */
    CHECK(write_file("t10k-images.idx3-ubyte.gz", gz_fixed, sizeof gz_fixed), "write");
    size = make_idx(file, 1, label_sizes, labels, 2);
    CHECK(write_file("t10k-labels.idx1-ubyte", file, size), "write");
    CHECK(idx_find_files(temp_dir, IDX_TEST, images_path, labels_path, sizeof images_path, err,
                         sizeof err) == 0 && contains(images_path, "t10k-images.idx3-ubyte.gz"),
          "find test files: %s (%s)", err, images_path);
    CHECK(idx_load_dataset(temp_dir, IDX_TEST, &data, err, sizeof err) == 0 &&
              data.images.count == 2 && data.images.pixels[1] == 10,
          "test split from .gz: %s", err);
    idx_free_dataset(&data);
    CHECK(write_file("dynamic-images", gz_dynamic, sizeof gz_dynamic), "write");
    CHECK(idx_load_images(temp_path("dynamic-images"), &images, err, sizeof err) == 0 &&
              images.rows == 16,
          "gzip found by its magic, not its name: %s", err);
    idx_free_images(&images);

    /* Counts that disagree; a labels file that is missing; files that are not there. */
    size = make_idx(file, 1, three, labels, 3);
    CHECK(write_file("train-labels-idx1-ubyte", file, size), "write");
    CHECK(idx_load_dataset(temp_dir, IDX_TRAIN, &data, err, sizeof err) != 0 &&
              contains(err, "2 images but") && data.images.pixels == NULL,
          "count mismatch: %s", err);
    remove(temp_path("train-labels-idx1-ubyte"));
    CHECK(idx_load_dataset(temp_dir, IDX_TRAIN, &data, err, sizeof err) != 0 &&
              contains(err, "no labels"),
          "missing labels: %s", err);
    CHECK(idx_load_dataset("/nonexistent-directory", IDX_TRAIN, &data, err, sizeof err) != 0 &&
              contains(err, "no training images") && contains(err, "make data"),
          "missing directory: %s", err);
    CHECK(idx_load_images(temp_path("nothing-here"), &images, err, sizeof err) != 0 &&
              contains(err, "nothing-here") && contains(err, "cannot open"),
          "missing file: %s", err);

    /* A truncated file on disk names itself. */
    size = make_idx(file, 3, sizes, pixels, 24);
    CHECK(write_file("cut-idx3-ubyte", file, size - 5), "write");
    CHECK(idx_load_images(temp_path("cut-idx3-ubyte"), &images, err, sizeof err) != 0 &&
              contains(err, "cut-idx3-ubyte: ") && contains(err, "truncated"),
          "truncated file: %s", err);
}

/* ---- image_io.h: PNG --------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t adler32_of(const unsigned char *p, size_t n) {
    uint32_t a = 1, b = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

/* Everything a PNG reader would check, and the pixels back through idx.h's inflate. */
static int png_is(const unsigned char *png, size_t size, int width, int height, int channels,
                  const unsigned char *pixels) {
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const int color_type[5] = {0, 0, 4, 2, 6};
    size_t pos = 8, row_bytes = 1 + (size_t)width * (size_t)channels;
    const unsigned char *idat = NULL;
    size_t idat_size = 0;
    int chunks = 0, ok = 1, seen_end = 0;
    unsigned char *raw = NULL;
    size_t raw_size = 0, consumed = 0, y;
    char err[256] = "";

#define PNG_CHECK(cond, ...)                                                                 \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("    png: %s: ", #cond);                                                  \
            printf(__VA_ARGS__);                                                             \
            printf("\n");                                                                    \
            ok = 0;                                                                          \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)

    PNG_CHECK(size > 8 && memcmp(png, signature, 8) == 0, "bad signature");
    while (pos < size) {
        uint32_t length;
        const unsigned char *type, *data;
        PNG_CHECK(size - pos >= 12, "chunk header cut at %lu", (unsigned long)pos);
        length = be32(png + pos);
        type = png + pos + 4;
        data = png + pos + 8;
        PNG_CHECK(length <= size - pos - 12, "chunk longer than the file");
        PNG_CHECK(idx_crc32(0, type, 4 + (size_t)length) == be32(data + length),
                  "CRC of chunk %.4s", (const char *)type);
        if (chunks == 0) {
            PNG_CHECK(memcmp(type, "IHDR", 4) == 0 && length == 13, "first chunk is not IHDR");
            PNG_CHECK(be32(data) == (uint32_t)width && be32(data + 4) == (uint32_t)height,
                      "IHDR size %u x %u", (unsigned)be32(data), (unsigned)be32(data + 4));
            PNG_CHECK(data[8] == 8 && data[9] == color_type[channels] && data[10] == 0 &&
                          data[11] == 0 && data[12] == 0,
                      "IHDR depth %d type %d", data[8], data[9]);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            PNG_CHECK(idat == NULL, "more than one IDAT");
            idat = data;
            idat_size = length;
        } else {
            PNG_CHECK(memcmp(type, "IEND", 4) == 0 && length == 0, "unexpected chunk %.4s",
                      (const char *)type);
            seen_end = 1;
        }
        chunks++;
        pos += 12 + (size_t)length;
    }
    PNG_CHECK(seen_end && pos == size, "no IEND at the end");
    PNG_CHECK(idat != NULL && idat_size >= 6, "no IDAT");
    /* zlib: CMF (method 8, window <= 32K), FLG (check bits, no preset dictionary). */
    PNG_CHECK((idat[0] & 15) == 8 && (idat[0] >> 4) <= 7 && (idat[0] * 256 + idat[1]) % 31 == 0 &&
                  (idat[1] & 0x20) == 0,
              "zlib header %02x %02x", idat[0], idat[1]);
    PNG_CHECK(idx_inflate(idat + 2, idat_size - 2, &raw, &raw_size, &consumed, err, sizeof err) == 0,
              "inflate: %s", err);
    PNG_CHECK(consumed + 4 == idat_size - 2, "%lu bytes after the DEFLATE data, expected 4",
              (unsigned long)(idat_size - 2 - consumed));
    PNG_CHECK(adler32_of(raw, raw_size) == be32(idat + idat_size - 4), "Adler-32");
    PNG_CHECK(raw_size == row_bytes * (size_t)height, "%lu bytes of rows", (unsigned long)raw_size);
    /* Undo each row's filter (PNG spec 9.2: none, sub, up, average, Paeth, on bytes of the
       same sample one pixel back) in place, then compare with the pixels written. */
    for (y = 0; y < (size_t)height; y++) {
        unsigned char *row = raw + y * row_bytes + 1, *up = y ? raw + (y - 1) * row_bytes + 1 : NULL;
        int filter = row[-1];
        size_t x;
        PNG_CHECK(filter <= 4, "row %lu filter %d", (unsigned long)y, filter);
        for (x = 0; x < row_bytes - 1; x++) {
            int a = x >= (size_t)channels ? row[x - channels] : 0, b = up ? up[x] : 0;
            int c = up && x >= (size_t)channels ? up[x - channels] : 0, p = a + b - c;
            int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
            int predictor = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2
                          : filter == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
            row[x] = (unsigned char)(row[x] + predictor);
        }
        PNG_CHECK(memcmp(row, pixels + y * (row_bytes - 1), row_bytes - 1) == 0,
                  "row %lu pixels differ", (unsigned long)y);
    }
done:
    free(raw);
    return ok;
#undef PNG_CHECK
}

static void test_png(void) {
    static const struct { int width, height, channels; const char *name; } cases[] = {
        {5, 3, 1, "gray.png"},
        {200, 120, 3, "rgb.png"},
        {1, 1, 4, "rgba.png"},
        {300, 219, 1, "wide.png"},
    };
    int c;
    for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        int w = cases[c].width, h = cases[c].height, ch = cases[c].channels, i;
        size_t n = (size_t)w * h * ch, size = 0;
        unsigned char *pixels = (unsigned char *)malloc(n), *file;
        char err[256] = "";
        for (i = 0; i < (int)n; i++) pixels[i] = (unsigned char)(i * 7 + i / 13);
        CHECK(img_write_png(temp_path(cases[c].name), pixels, w, h, ch, err, sizeof err) == 0,
              "%s: %s", cases[c].name, err);
        track(temp_path(cases[c].name));
        file = read_whole_file(temp_path(cases[c].name), &size);
        CHECK(file && png_is(file, size, w, h, ch, pixels), "%s is not the PNG it should be",
              cases[c].name);
        free(file);
        free(pixels);
    }
    {
        unsigned char pixel = 0, *png = NULL;
        size_t size = 0;
        char err[256] = "";
        CHECK(img_encode_png(&pixel, 0, 1, 1, &png, &size, err, sizeof err) != 0 &&
                  contains(err, "not positive") && png == NULL,
              "width 0: %s", err);
        CHECK(img_encode_png(&pixel, 1, 1, 5, &png, &size, err, sizeof err) != 0 &&
                  contains(err, "channels"),
              "5 channels: %s", err);
        CHECK(img_write_png("/nonexistent-directory/x.png", &pixel, 1, 1, 1, err, sizeof err) != 0 &&
                  contains(err, "cannot open"),
              "unwritable path: %s", err);
    }
}

/* ---- image_io.h: PGM --------------------------------------------------------------------- */

static int pgm_fails_with(const char *text, size_t size, const char *part) {
    img_image image;
    char err[256] = "";
    int status = img_parse_pgm(text, size, &image, err, sizeof err);
    int ok = status != 0 && err[0] != 0 && contains(err, part) && image.pixels == NULL;
    if (!ok) printf("    pgm gave status %d, message '%s', expected one with '%s'\n", status, err, part);
    img_free(&image);
    return ok;
}

#define PGM_FAILS(text, part) pgm_fails_with(text, sizeof(text) - 1, part)

static void test_pgm(void) {
    unsigned char pixels[7 * 5], *file;
    img_image image;
    char err[256] = "";
    size_t size = 0;
    int i;

    for (i = 0; i < 35; i++) pixels[i] = (unsigned char)(i * 7);
    CHECK(img_write_pgm(temp_path("round.pgm"), pixels, 7, 5, err, sizeof err) == 0, "%s", err);
    track(temp_path("round.pgm"));
    file = read_whole_file(temp_path("round.pgm"), &size);
    CHECK(file && size == 11 + 35 && memcmp(file, "P5\n7 5\n255\n", 11) == 0, "P5 header");
    free(file);
    CHECK(img_read_pgm(temp_path("round.pgm"), &image, err, sizeof err) == 0, "%s", err);
    CHECK(image.width == 7 && image.height == 5 && image.channels == 1 &&
              memcmp(image.pixels, pixels, 35) == 0,
          "PGM round trip differs");
    img_free(&image);

    {
        /* Plain PGM, comments in odd places, maxval 15: samples scale as round(v * 255 / 15). */
        static const char plain[] = "P2\n# made by hand\n3 2 # size\n15\n0 15 7\n8 1 #c\n 14\n";
        static const unsigned char want[6] = {0, 255, 119, 136, 17, 238};
        CHECK(img_parse_pgm(plain, sizeof plain - 1, &image, err, sizeof err) == 0, "P2: %s", err);
        CHECK(image.width == 3 && image.height == 2 && memcmp(image.pixels, want, 6) == 0,
              "P2 values %d %d %d %d %d %d", image.pixels[0], image.pixels[1], image.pixels[2],
              image.pixels[3], image.pixels[4], image.pixels[5]);
        img_free(&image);
    }
    {
        /* Binary, maxval 100, a comment before the size; the sample after the single space
           is a '#' and a space, i.e. data (35 and 32). */
        static const char binary[] = "P5 # comment\n2 2\n100\n\x00\x32#\x20";
        static const unsigned char want[4] = {0, 128, 89, 82};
        CHECK(img_parse_pgm(binary, sizeof binary - 1, &image, err, sizeof err) == 0, "P5: %s", err);
        CHECK(image.width == 2 && memcmp(image.pixels, want, 4) == 0, "P5 maxval 100: %d %d %d %d",
              image.pixels[0], image.pixels[1], image.pixels[2], image.pixels[3]);
        img_free(&image);
    }

    CHECK(PGM_FAILS("P6\n1 1\n255\n\0\0\0", "not a PGM"), "PPM accepted");
    CHECK(PGM_FAILS("", "not a PGM"), "empty file accepted");
    CHECK(PGM_FAILS("P5", "width"), "magic only");
    CHECK(PGM_FAILS("P5\n0 5\n255\n", "not positive"), "width 0");
    CHECK(PGM_FAILS("P5\n-1 5\n255\n", "expected the width"), "negative width");
    CHECK(PGM_FAILS("P5\n2x 2\n255\n", "followed by 'x'"), "junk after the width");
    CHECK(PGM_FAILS("P5\n99999999999 2\n255\n", "larger than"), "huge width");
    CHECK(PGM_FAILS("P5\n100000 100000\n255\n", "IMG_MAX_PIXELS"), "10^10 pixels");
    CHECK(PGM_FAILS("P5\n2 2\n0\n\0\0\0\0", "maxval 0"), "maxval 0");
    CHECK(PGM_FAILS("P5\n2 2\n65535\n", "not supported"), "16-bit PGM");
    CHECK(PGM_FAILS("P5\n2 2\n70000\n", "larger than"), "maxval 70000");
    CHECK(PGM_FAILS("P5\n2 2\n255\nabc", "truncated"), "3 of 4 pixels");
    CHECK(PGM_FAILS("P5\n2 2\n255", "truncated"), "no pixel data");
    CHECK(PGM_FAILS("P5\n2 2\n255x", "followed by"), "no space after maxval");
    CHECK(PGM_FAILS("P2\n2 1\n10\n5 11\n", "above the maxval"), "sample above maxval");
    CHECK(PGM_FAILS("P2\n2 1\n10\n5\n", "truncated"), "plain: one sample missing");
    CHECK(PGM_FAILS("P2\n2 1\n10\n5 x\n", "expected the pixel value"), "plain: not a number");
    CHECK(PGM_FAILS("P5x\n1 1\n255\n\0", "no space"), "P5x");

    CHECK(img_read_pgm(temp_path("nothing.pgm"), &image, err, sizeof err) != 0 &&
              contains(err, "nothing.pgm: cannot open"),
          "missing file: %s", err);
    CHECK(write_file("bad.pgm", "P5\n2 2\n255\nab", 13), "write");
    CHECK(img_read_pgm(temp_path("bad.pgm"), &image, err, sizeof err) != 0 &&
              contains(err, "bad.pgm: truncated") && image.pixels == NULL,
          "bad file on disk: %s", err);
}

/* ---- image_io.h: arranging ---------------------------------------------------------------- */

static void test_upscale_and_tile(void) {
    unsigned char gray[4] = {1, 2, 3, 4}, rgb[6] = {10, 20, 30, 40, 50, 60}, tiles[5 * 4];
    img_image src, big, grid;
    char err[256] = "";
    int x, y, bad = 0;

    src.pixels = gray;
    src.width = 2;
    src.height = 2;
    src.channels = 1;
    CHECK(img_upscale(&src, 3, &big, err, sizeof err) == 0 && big.width == 6 && big.height == 6,
          "upscale: %s", err);
    for (y = 0; y < 6; y++)
        for (x = 0; x < 6; x++) bad += big.pixels[y * 6 + x] != gray[(y / 3) * 2 + x / 3];
    CHECK(bad == 0, "upscaled gray: %d pixels wrong", bad);
    img_free(&big);

    src.pixels = rgb;
    src.width = 2;
    src.height = 1;
    src.channels = 3;
    CHECK(img_upscale(&src, 2, &big, err, sizeof err) == 0 && big.width == 4 && big.height == 2 &&
              big.channels == 3,
          "upscale rgb: %s", err);
    CHECK(memcmp(big.pixels + 3 * 6, "\x28\x32\x3c", 3) == 0 && memcmp(big.pixels + 3, rgb, 3) == 0,
          "upscaled rgb pixels");
    img_free(&big);
    CHECK(img_upscale(&src, 0, &big, err, sizeof err) != 0 && contains(err, "factor"),
          "factor 0: %s", err);

    /* 3 tiles of 2x2 in 2 columns: 7x7 with the fourth cell empty. */
    for (x = 0; x < 20; x++) tiles[x] = (unsigned char)x;
    CHECK(img_tile(tiles, 3, 2, 2, 2, 99, &grid, err, sizeof err) == 0 && grid.width == 7 &&
              grid.height == 7,
          "tile: %s (%d x %d)", err, grid.width, grid.height);
    bad = 0;
    for (y = 0; y < 7; y++)
        for (x = 0; x < 7; x++) {
            int t = (y / 3) * 2 + x / 3, want;
            if (x % 3 == 0 || y % 3 == 0 || t >= 3) want = 99;
            else want = tiles[t * 4 + (y % 3 - 1) * 2 + (x % 3 - 1)];
            bad += grid.pixels[y * 7 + x] != want;
        }
    CHECK(bad == 0, "tile grid: %d pixels wrong", bad);
    img_free(&grid);
    CHECK(img_tile(tiles, 5, 2, 2, 0, 0, &grid, err, sizeof err) == 0 && grid.width == 10 &&
              grid.height == 7,
          "near-square grid of 5: %d x %d", grid.width, grid.height);
    img_free(&grid);
    CHECK(img_tile(tiles, 2, 2, 2, 9, 0, &grid, err, sizeof err) == 0 && grid.width == 7,
          "more columns than tiles: width %d", grid.width);
    img_free(&grid);
    CHECK(img_tile(tiles, 0, 2, 2, 1, 0, &grid, err, sizeof err) != 0 && grid.pixels == NULL,
          "no tiles accepted");
}

static void test_floats_to_bytes(void) {
    const float ramp[3] = {-1.0f, 0.0f, 1.0f}, flat[2] = {3.0f, 3.0f};
    float with_nan[3] = {0.0f, 1.0f, 2.0f};
    unsigned char out[3];
    with_nan[0] = NAN;
    img_floats_to_bytes(ramp, 3, out);
    CHECK(out[0] == 0 && out[1] == 128 && out[2] == 255, "ramp: %d %d %d", out[0], out[1], out[2]);
    img_floats_to_bytes(flat, 2, out);
    CHECK(out[0] == 128 && out[1] == 128, "flat: %d %d", out[0], out[1]);
    img_floats_to_bytes(with_nan, 3, out);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 255, "NaN: %d %d %d", out[0], out[1], out[2]);
}

/* A test passes when it made checks and none failed. */
#define RUN(test)                                                                          \
    do {                                                                                   \
        int before = checks;                                                               \
        current_failed = 0;                                                                \
        test();                                                                            \
        if (current_failed || checks == before) {                                          \
            failed++;                                                                      \
            printf("FAIL %s (%d checks failed of %d)\n", #test, current_failed, checks - before); \
        } else {                                                                           \
            passed++;                                                                      \
            printf("ok   %s (%d checks)\n", #test, checks - before);                       \
        }                                                                                  \
    } while (0)

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/test_data.XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(temp_dir)) {
        printf("cannot make a temporary directory from %s\n", temp_dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_crc32);
    RUN(test_block_types);
    RUN(test_embedded_gzip);
    RUN(test_multi_member_gzip);
    RUN(test_inflate_raw);
    RUN(test_bad_idx);
    RUN(test_bad_gzip);
    RUN(test_garbled);
    RUN(test_idx_files);
    RUN(test_png);
    RUN(test_pgm);
    RUN(test_upscale_and_tile);
    RUN(test_floats_to_bytes);
    remove_temp_files();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
