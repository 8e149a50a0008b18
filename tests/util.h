/* util.h - helpers several tests share: random inputs, the relative error of a fast kernel
   against its reference, whole-file reads and writes, and the model format's CRC-32 (to forge
   files whose checksum is right but whose content is wrong). Include after cnn.h. Each helper
   is static and marked unused, so a test includes the file whole and uses what it needs. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__) || defined(__clang__)
#define UTIL_FN static __attribute__((unused))
#else
#define UTIL_FN static
#endif

/* n floats uniform in [-1, 1), malloc'ed (at least one, so n = 0 is not NULL). */
UTIL_FN float *random_floats(cnn_rng *rng, size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = 2.0f * cnn_rng_uniform(rng) - 1.0f;
    return p;
}

/* max |got - ref| / max(1, max |ref|); a NaN in got counts as the worst error. */
UTIL_FN double max_error(const float *got, const float *ref, size_t n) {
    double worst = 0.0, magnitude = 1.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) worst = d;
        if (fabs(ref[i]) > magnitude) magnitude = fabs(ref[i]);
    }
    return worst / magnitude;
}

/* Up to cap bytes of a file into buf: the count read, or -1 when it does not open. */
UTIL_FN long read_file(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

UTIL_FN void write_file(const char *path, const void *buf, long n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
}

/* CRC-32 (IEEE, reflected, as zlib and the model format compute it). */
UTIL_FN uint32_t crc32_of(const unsigned char *p, long n) {
    uint32_t c = 0xffffffffu;
    long i;
    int k;
    for (i = 0; i < n; i++) { c ^= p[i]; for (k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1; }
    return c ^ 0xffffffffu;
}
UTIL_FN void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
/* A model file of n bytes whose last 4 are its CRC-32: the CRC written anew after an edit. */
UTIL_FN void reseal(unsigned char *buf, long n) { put_u32(buf + n - 4, crc32_of(buf, n - 4)); }

/* The kernel paths this CPU runs, scalar (the reference) first: paths needs room for 4. */
UTIL_FN int available_paths(cnn_simd *paths) {
    static const cnn_simd vector[3] = { CNN_SIMD_AVX2, CNN_SIMD_AVX512, CNN_SIMD_NEON };
    int i, count = 0;
    paths[count++] = CNN_SIMD_SCALAR;
    for (i = 0; i < 3; i++) if (cnn_simd_available(vector[i])) paths[count++] = vector[i];
    return count;
}

#endif
