/* test_alloc_failure.c - allocation-failure injection. The library allocates only through
   CNN_MALLOC; here that hook fails the k-th allocation of a whole scenario (build, a training
   step, fit, save, load, load_weights, load_weights from a reader), for k = 1, 2, ... until a run completes with no
   failure injected, so every allocation site has failed once. Each failure must be a clean
   error (CNN_ERR_OUT_OF_MEMORY and a message), leave no half-built network (not built, or
   the caller's network unchanged) and leak nothing (the ASan build of this suite checks
   leaks at exit, and the hook counts what is outstanding). */
#include <stdlib.h>

static long alloc_calls, fail_at, outstanding;
static void *failing_malloc(size_t size) {
    void *p;
    if (++alloc_calls == fail_at) return NULL;
    p = malloc(size);
    if (p) outstanding++;
    return p;
}
static void counting_free(void *p) {
    if (p) outstanding--;
    free(p);
}
#define CNN_MALLOC(size, ctx) ((void)(ctx), failing_malloc(size))
#define CNN_FREE(ptr, ctx) ((void)(ctx), counting_free(ptr))
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

#define MODEL "build/tests/alloc_failure.cnn"

static float images[16 * 64];
static int32_t labels[16];
static unsigned char model[1 << 14];

/* A reader over model[]: the one-pass path of the loaders. */
typedef struct reader { size_t size, at; } reader;
static size_t read_model(void *user, void *out, size_t want) {
    reader *r = (reader *)user;
    size_t n = want < r->size - r->at ? want : r->size - r->at;
    memcpy(out, model + r->at, n);
    r->at += n;
    return n;
}

static cnn_status describe(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 8; in.width = 8;
    memset(&conv, 0, sizeof conv); conv.filters = 4; conv.activation = CNN_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 2;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_pool(net, NULL))) return st;
    return cnn_add_dense(net, &dense);
}

/* The whole scenario. Returns how far it got: 0 when every step worked, else the step that
   failed (after checking that it failed cleanly). */
static int scenario(void) {
    cnn_net net, loaded, sentinel;
    cnn_build_opts build;
    cnn_dataset data;
    cnn_fit_opts fit;
    cnn_status st;
    float loss, before;
    reader r;
    memset(&build, 0, sizeof build); build.max_batch = 8;
    CHECK_OK(describe(&net));
    st = cnn_net_build(&net, &build);
    if (st) {
        CHECK(st == CNN_ERR_OUT_OF_MEMORY && cnn_last_error()[0] && !net.built && net.arena.base == NULL);
        return 1;
    }
    CHECK_OK(cnn_train_batch(&net, images, labels, 8, NULL, &loss));    /* allocates nothing */
    memset(&data, 0, sizeof data); data.images = images; data.labels = labels; data.count = 16;
    memset(&fit, 0, sizeof fit); fit.epochs = 1; fit.quiet = 1;
    st = cnn_fit(&net, &data, &fit, NULL);
    if (st) {
        CHECK(st == CNN_ERR_OUT_OF_MEMORY && cnn_last_error()[0] && net.built);
        cnn_net_free(&net);
        return 2;
    }
    CHECK_OK(cnn_save(&net, MODEL));
    memset(&loaded, 0x3c, sizeof loaded);
    sentinel = loaded;
    st = cnn_load(&loaded, MODEL, &build);
    if (st) {
        CHECK(st == CNN_ERR_OUT_OF_MEMORY && cnn_last_error()[0]);
        CHECK(memcmp(&loaded, &sentinel, sizeof loaded) == 0);          /* the output untouched */
        cnn_net_free(&net);
        return 3;
    }
    CHECK_OK(cnn_load_weights(&net, MODEL));
    cnn_net_free(&loaded);
    r.at = 0;
    CHECK_OK(cnn_save_to_memory(&net, model, sizeof model, &r.size));   /* allocates nothing */
    before = net.params[0];
    net.params[0] += 1.0f;
    st = cnn_load_weights_from_callback(&net, read_model, &r);     /* reads into a copy */
    if (st) {
        CHECK(st == CNN_ERR_OUT_OF_MEMORY && cnn_last_error()[0] && net.params[0] == before + 1.0f);
        cnn_net_free(&net);
        return 4;
    }
    CHECK(net.params[0] == before);
    cnn_net_free(&net);
    return 0;
}

TEST(every_allocation_can_fail_cleanly) {
    long k, sites = 0;
    int step, reached[5] = { 0, 0, 0, 0, 0 };
    size_t i;
    for (i = 0; i < 16 * 64; i++) images[i] = (float)(i % 13) / 13.0f;
    for (i = 0; i < 16; i++) labels[i] = (int32_t)(i % 2);
    for (k = 1; k < 100; k++) {
        alloc_calls = 0;
        fail_at = k;
        step = scenario();
        CHECKF(outstanding == 0, "failing allocation %ld: %ld allocations not freed", k, outstanding);
        reached[step]++;
        if (step == 0) break;                      /* no allocation left to fail */
        sites++;
    }
    CHECKF(step == 0, "the scenario never completed");
    CHECKF(sites == 5 && reached[1] == 1 && reached[2] == 1 && reached[3] == 1 && reached[4] == 2,
           "%ld allocation sites failed: build %d, fit %d, load %d, load weights from a reader %d",
           sites, reached[1], reached[2], reached[3], reached[4]);
    /* and with no failure at all, the count of allocations is what was failed in turn */
    CHECK(alloc_calls == sites);
}

int main(void) {
    RUN(every_allocation_can_fail_cleanly);
    return harness_report();
}
