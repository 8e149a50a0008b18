/* fuzz.h - what the libFuzzer targets share (tests/fuzz/fuzz_*.c; see docs/testing.md).
   Each target is built with clang -fsanitize=fuzzer,address,undefined: libFuzzer supplies
   main() and calls LLVMFuzzerTestOneInput with every input it tries; a crash, a sanitizer
   report, a leak or a failed FUZZ_CHECK stops it and leaves the input as crash-<sha1>. */
#ifndef FUZZ_H
#define FUZZ_H
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An invariant the target checks: its failure is a finding, like a crash. */
#define FUZZ_CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* For targets that read by path: each input goes to a file of this process's own. (The model
   loaders are fuzzed from memory and through a reader callback, the same parser as files.) */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((unused))
#endif
static const char *fuzz_write_file(const uint8_t *data, size_t size) {
    static char path[64];
    FILE *f;
    if (!path[0]) snprintf(path, sizeof path, "/tmp/cnn_fuzz_%ld.bin", (long)getpid());
    f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

#endif
