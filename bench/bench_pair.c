/* bench_pair.c - two benchmarks alternated in one run, for the ratio of their times.

   Two figures taken at different moments do not compare on a shared machine: the speed of
   the memory and of the caches changes from one minute to the next, and on the 2-core VM
   here the ratio of the digit model's two-thread training step to its one-thread twin
   swung from 1.2x to 2.0x between runs. A pair runs blocks of the same number of calls
   (about 5 ms, after one untimed call) on each side in turn and reports the median of the
   blocks' ratios, so slow changes of the machine cancel out. Timed on the wall clock: a
   thread pool's work is not the caller's CPU time. Each iteration is one block of each
   side, the first of the two alternating (a side that runs right after the other may find
   its data evicted); the benchmark's own time is that and means nothing.

   The untimed call at a block's start wakes the side's workers, asleep while the other side
   ran: on a VM a vCPU that has been idle for milliseconds can take as long to run again
   (README, Threads), and the figure sought is calls back to back. Without it the digit
   model's inference read 1.13x-1.23x on two threads instead of 1.7x.

   Counters: speedup (the median over the blocks of the first side's time over the
   second's), and the median time of one call of each side, in ms, under the names given.
   BENCH_PAIR_CONTROL=1 in the environment runs the first side on both sides, so speedup
   must read 1.00: a check of the method on the machine at hand. */
#include "bench_cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIR_BLOCKS_MAX 8192
#define PAIR_BLOCK_SECONDS 0.005

typedef struct pair_case {
    bench_setup_fn setup;
    bench_run_fn run;
    bench_teardown_fn teardown;
    const void *first, *second;                 /* the two sides' setup arguments */
    char name[BENCH_NAME_MAX];
} pair_case;

typedef struct pair_ctx {
    const pair_case *pc;
    void *first, *second;
    int calls;                                  /* per side and block */
    int blocks;
    double ratio[PAIR_BLOCKS_MAX], first_s[PAIR_BLOCKS_MAX], second_s[PAIR_BLOCKS_MAX];
} pair_ctx;

static void bench__pair_teardown(void *p) {
    pair_ctx *ctx = (pair_ctx *)p;
    if (ctx == NULL) return;
    if (ctx->first) ctx->pc->teardown(ctx->first);
    if (ctx->second) ctx->pc->teardown(ctx->second);
    free(ctx);
}

/* One untimed call, then 'calls' timed calls on one side: the seconds they took. */
static const char *bench__pair_block(const pair_case *pc, void *side, int calls, double *seconds) {
    const char *err = pc->run(side);
    const double t0 = bench_wall_seconds();
    int i;
    for (i = 0; i < calls && err == NULL; i++) err = pc->run(side);
    *seconds = bench_wall_seconds() - t0;
    return err;
}

static int bench__pair_control(void) {
    const char *v = getenv("BENCH_PAIR_CONTROL");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static const char *bench__pair_setup(const void *arg, void **out) {
    const pair_case *pc = (const pair_case *)arg;
    pair_ctx *ctx = (pair_ctx *)calloc(1, sizeof *ctx);
    const char *err;
    double first, second;
    if (ctx == NULL) return "out of memory";
    *out = ctx;
    ctx->pc = pc;
    if ((err = pc->setup(pc->first, &ctx->first)) != NULL) return err;
    if ((err = pc->setup(bench__pair_control() ? pc->first : pc->second, &ctx->second)) != NULL) return err;
    /* A block of one call on each: the untimed calls touch everything, the first side's
       timed call sizes the blocks. */
    if ((err = bench__pair_block(pc, ctx->second, 1, &second)) != NULL || (err = bench__pair_block(pc, ctx->first, 1, &first)) != NULL)
        return err;
    ctx->calls = first >= PAIR_BLOCK_SECONDS ? 1 : (int)(PAIR_BLOCK_SECONDS / (first > 1e-7 ? first : 1e-7)) + 1;
    return NULL;
}

static const char *bench__pair_run(void *p) {
    pair_ctx *ctx = (pair_ctx *)p;
    const pair_case *pc = ctx->pc;
    const int second_first = ctx->blocks % 2;
    const char *err;
    double first, second;
    if (second_first && (err = bench__pair_block(pc, ctx->second, ctx->calls, &second)) != NULL) return err;
    if ((err = bench__pair_block(pc, ctx->first, ctx->calls, &first)) != NULL) return err;
    if (!second_first && (err = bench__pair_block(pc, ctx->second, ctx->calls, &second)) != NULL) return err;
    if (ctx->blocks < PAIR_BLOCKS_MAX && first > 0 && second > 0) {
        ctx->ratio[ctx->blocks] = first / second;
        ctx->first_s[ctx->blocks] = first / ctx->calls;
        ctx->second_s[ctx->blocks] = second / ctx->calls;
        ctx->blocks++;
    }
    return NULL;
}

static int bench__compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0 .. n-1] (n > 0), which it sorts. */
static double bench__median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench__compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bench__pair_measured(void *p, bench_counter *counters) {
    pair_ctx *ctx = (pair_ctx *)p;
    if (ctx->blocks > 0) {
        counters[0].value = bench__median(ctx->ratio, ctx->blocks);
        counters[1].value = 1e3 * bench__median(ctx->first_s, ctx->blocks);
        counters[2].value = 1e3 * bench__median(ctx->second_s, ctx->blocks);
    }
    ctx->blocks = 0;                            /* the next run starts afresh */
}

void bench_register_pair(const char *name, const char *first_ms, const char *second_ms, const void *first,
                         const void *second, bench_setup_fn setup, bench_run_fn run, bench_teardown_fn teardown) {
    pair_case *pc = (pair_case *)calloc(1, sizeof *pc);     /* lives until the program ends */
    bench_desc d = {0};
    if (pc == NULL) return;
    pc->setup = setup; pc->run = run; pc->teardown = teardown;
    pc->first = first; pc->second = second;
    snprintf(pc->name, sizeof pc->name, "%s", name);
    d.name = pc->name;
    d.label = "blocks of ~5 ms of each side alternated; speedup = median of first / second";
    d.arg = pc;
    d.setup = bench__pair_setup;
    d.run = bench__pair_run;
    d.teardown = bench__pair_teardown;
    d.measured = bench__pair_measured;
    d.counters[0].name = "speedup";
    d.counters[1].name = first_ms;
    d.counters[2].name = second_ms;
    bench_register(&d);
}
