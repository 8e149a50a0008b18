/* peak.c - the core's FP32 FMA throughput: the ceiling every GFLOPS figure is compared to.

   A core retires FMAs from a few pipes, each with a latency of several cycles: Zen 4 has two
   256-bit FMA pipes with a 4-cycle latency, so it needs 2 * 4 = 8 independent chains in flight
   to keep both busy, and then does 2 pipes * 8 lanes * 2 FLOP = 32 FLOP per cycle. We run 12
   chains (headroom for a longer latency, 12 + 2 of the 16 vector registers) of
   acc = acc * a + b, which neither overflows nor underflows (it converges to b / (1 - a)).

   x86 picks the AVX2 kernel at run time from CPUID and XGETBV, read directly (a
   target attribute, not -mavx2, so the file builds and runs on any x86-64). */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define BENCH_X86 1
#include <cpuid.h>
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#define CHAINS 12

static volatile float bench__sink;

/* The portable fallback: 12 scalar chains, a multiply and an add each (C99 does not contract
   them into an FMA unless asked), counted as 2 FLOP. */
static double bench__fma_scalar(int64_t iterations) {
    float acc[CHAINS];
    const float a = 0.999999f, b = 1e-6f;
    int64_t it;
    int j;
    for (j = 0; j < CHAINS; j++) acc[j] = (float)j;
    for (it = 0; it < iterations; it++)
        for (j = 0; j < CHAINS; j++) acc[j] = acc[j] * a + b;
    for (j = 1; j < CHAINS; j++) acc[0] += acc[j];
    bench__sink = acc[0];
    return 2.0 * CHAINS * (double)iterations;
}

#ifdef BENCH_X86
__attribute__((target("avx2,fma"))) static double bench__fma_avx2(int64_t iterations) {
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
    __m256 c0 = _mm256_set1_ps(0.f), c1 = _mm256_set1_ps(1.f), c2 = _mm256_set1_ps(2.f);
    __m256 c3 = _mm256_set1_ps(3.f), c4 = _mm256_set1_ps(4.f), c5 = _mm256_set1_ps(5.f);
    __m256 c6 = _mm256_set1_ps(6.f), c7 = _mm256_set1_ps(7.f), c8 = _mm256_set1_ps(8.f);
    __m256 c9 = _mm256_set1_ps(9.f), c10 = _mm256_set1_ps(10.f), c11 = _mm256_set1_ps(11.f);
    float out[8];
    int64_t it;
    int j;
    for (it = 0; it < iterations; it++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
    }
    c0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                       _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    c0 = _mm256_add_ps(c0, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    _mm256_storeu_ps(out, c0);
    for (j = 1; j < 8; j++) out[0] += out[j];
    bench__sink = out[0];
    return 2.0 * 8 * CHAINS * (double)iterations;
}

/* The same 12 chains 16 floats wide: the peak of cnn.h's AVX-512 path (on Zen 4 the same
   FLOP per cycle as AVX2; on Zen 5, with 512-bit pipes, twice). */
__attribute__((target("avx512f"))) static double bench__fma_avx512(int64_t iterations) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
    __m512 c[CHAINS];
    int64_t it;
    int j;
    for (j = 0; j < CHAINS; j++) c[j] = _mm512_set1_ps((float)j);
    for (it = 0; it < iterations; it++) {   /* unrolled by the compiler: c stays in registers */
        c[0] = _mm512_fmadd_ps(c[0], a, b);   c[1] = _mm512_fmadd_ps(c[1], a, b);
        c[2] = _mm512_fmadd_ps(c[2], a, b);   c[3] = _mm512_fmadd_ps(c[3], a, b);
        c[4] = _mm512_fmadd_ps(c[4], a, b);   c[5] = _mm512_fmadd_ps(c[5], a, b);
        c[6] = _mm512_fmadd_ps(c[6], a, b);   c[7] = _mm512_fmadd_ps(c[7], a, b);
        c[8] = _mm512_fmadd_ps(c[8], a, b);   c[9] = _mm512_fmadd_ps(c[9], a, b);
        c[10] = _mm512_fmadd_ps(c[10], a, b); c[11] = _mm512_fmadd_ps(c[11], a, b);
    }
    for (j = 1; j < CHAINS; j++) c[0] = _mm512_add_ps(c[0], c[j]);
    bench__sink = _mm512_reduce_add_ps(c[0]);
    return 2.0 * 16 * CHAINS * (double)iterations;
}

/* AVX-512F in CPUID, and the OS saving the ZMM and mask registers (XCR0 bits 1, 2 and 5-7). */
static int bench__has_avx512(void) {
    unsigned eax, ebx, ecx, edx, xcr0_lo, xcr0_hi;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xe6u) != 0xe6u || __get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx & (1u << 16)) != 0;
}

/* AVX2 and FMA in CPUID, and the OS saving the YMM registers (XCR0 bits 1 and 2). */
static int bench__has_avx2_fma(void) {
    unsigned eax, ebx, ecx, edx, xcr0_lo, xcr0_hi;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 12)) || !(ecx & (1u << 27)) || !(ecx & (1u << 28))) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6u) != 6u) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx & (1u << 5)) != 0;
}
#endif

#ifdef __aarch64__
static double bench__fma_neon(int64_t iterations) {
    const float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-6f);
    float32x4_t c[CHAINS];
    int64_t it;
    int j;
    for (j = 0; j < CHAINS; j++) c[j] = vdupq_n_f32((float)j);
    for (it = 0; it < iterations; it++)
        for (j = 0; j < CHAINS; j++) c[j] = vfmaq_f32(b, c[j], a);
    for (j = 1; j < CHAINS; j++) c[0] = vaddq_f32(c[0], c[j]);
    bench__sink = vaddvq_f32(c[0]);
    return 2.0 * 4 * CHAINS * (double)iterations;
}
#endif

double bench_fma_avx512_kernel(int64_t iterations) {
#ifdef BENCH_X86
    if (bench__has_avx512()) return bench__fma_avx512(iterations);
#endif
    (void)iterations;
    return 0.0;
}

const char *bench_fma_variant(void) {
#ifdef BENCH_X86
    if (bench__has_avx2_fma()) return "avx2+fma";
#elif defined(__aarch64__)
    return "neon";
#endif
    return "scalar";
}

double bench_fma_kernel(int64_t iterations) {
#ifdef BENCH_X86
    static int avx2 = -1;
    if (avx2 < 0) avx2 = bench__has_avx2_fma();
    if (avx2) return bench__fma_avx2(iterations);
#elif defined(__aarch64__)
    return bench__fma_neon(iterations);
#endif
    return bench__fma_scalar(iterations);
}

void bench_cpu_model(char *buf, int cap) {
    char line[512];
    FILE *f;
    if (cap <= 0) return;
    snprintf(buf, (size_t)cap, "unknown");
    f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    while (fgets(line, sizeof line, f) != NULL) {
        /* "model name" on x86, "Model" or "CPU part" lines elsewhere: take the first name. */
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
            char *p = strchr(line, ':');
            size_t n;
            if (p == NULL) continue;
            p++;
            while (*p == ' ' || *p == '\t') p++;
            n = strcspn(p, "\n");
            snprintf(buf, (size_t)cap, "%.*s", (int)n, p);
            break;
        }
    }
    fclose(f);
}

const char *bench_c_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C compiler";
#endif
}
