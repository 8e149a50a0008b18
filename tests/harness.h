/* harness.h - the project's own tiny test harness (no dependencies, so the suite also runs
   cross-compiled under qemu).

   TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); ... }
   int main(void) { RUN(name); ...; return harness_report(); }

   A test passes when none of its checks fail. A test with nothing to check here (no vector
   path to compare with the scalar reference, say) calls SKIP_IF(cond, why): it prints
   SKIPPED and counts neither as passed nor as failed; so does a test that made no checks at
   all, since it could not have failed. The last line printed is "N passed, N failed"; the
   exit status is non-zero on any failure. */
#ifndef HARNESS_H
#define HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int harness_tests_passed, harness_tests_failed, harness_tests_skipped, harness_current_failed, harness_checks;
static const char *harness_current_skipped;

/* Ends the current test, uncounted, when cond holds. */
#define SKIP_IF(cond, why) do { if (cond) { harness_current_skipped = (why); return; } } while (0)

#define TEST(name) static void name(void)

#define CHECK(cond) do { harness_checks++; if (!(cond)) { \
    harness_current_failed++; \
    fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

/* Like CHECK, with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...) do { harness_checks++; if (!(cond)) { \
    harness_current_failed++; \
    fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); harness_checks++; \
    if (!(fabs(a_ - b_) <= (tol))) { harness_current_failed++; \
        fprintf(stderr, "  FAIL %s:%d: %s = %.9g, %s = %.9g, differ by more than %g\n", \
                __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } } while (0)

/* A call returning a cnn_status that must succeed; prints the library's message if not. */
#define CHECK_OK(call) do { cnn_status st_ = (call); harness_checks++; if (st_ != CNN_OK) { \
    harness_current_failed++; \
    fprintf(stderr, "  FAIL %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, \
            cnn_status_name(st_), cnn_last_error()); } } while (0)

/* A call that must fail with a given status. */
#define CHECK_STATUS(call, expected) do { cnn_status st_ = (call); harness_checks++; if (st_ != (expected)) { \
    harness_current_failed++; \
    fprintf(stderr, "  FAIL %s:%d: %s -> %s, expected %s (%s)\n", __FILE__, __LINE__, #call, \
            cnn_status_name(st_), cnn_status_name(expected), cnn_last_error()); } } while (0)

#define RUN(name) do { int checks_before_ = harness_checks; \
    harness_current_failed = 0; harness_current_skipped = NULL; name(); \
    if (!harness_current_failed && !harness_current_skipped && harness_checks == checks_before_) \
        harness_current_skipped = "it made no checks"; \
    if (harness_current_failed) { harness_tests_failed++; fprintf(stderr, "FAIL %s\n", #name); } \
    else if (harness_current_skipped) { harness_tests_skipped++; printf("SKIPPED %s: %s\n", #name, harness_current_skipped); } \
    else { harness_tests_passed++; printf("ok   %s\n", #name); } fflush(stdout); } while (0)

static int harness_report(void) {
    if (harness_tests_skipped) printf("%d skipped (not counted)\n", harness_tests_skipped);
    printf("%d passed, %d failed\n", harness_tests_passed, harness_tests_failed);
    return harness_tests_failed ? 1 : 0;
}

#endif
