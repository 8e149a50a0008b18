/* tsan_shared_weights.c - two threads, each its own small inference network over one copy of
   the weights, built while the other builds (the case that made the lazy CPU detection race).
   Built and run under -fsanitize=thread by tests/tsan.sh, and as a normal test by
   tests/test_shared_weights.c, which includes this file.

   1. Two threads start before anything in the process has used the library: each builds a
      network of its own (same seed, so same weights) and classifies the images.
   2. The main thread builds the owner of the weights and classifies the images: the
      reference.
   3. Two threads each build an inference network with max_batch 1 over the owner's weights
      (cnn_build_opts.shared_weights) and classify the images one at a time.
   Every thread's classes and outputs must equal the reference's. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdlib.h>
#ifndef CNN_IMPLEMENTATION_INCLUDED
#define CNN_IMPLEMENTATION
#endif
#include "../cnn.h"
#include "harness.h"

#define SW_IMAGES 24
#define SW_THREADS 2
#define SW_CLASSES 5

static float sw_images[SW_IMAGES * 3 * 13 * 11];

/* A small network with every kind of layer an inference build lays out differently. */
static cnn_status sw_describe(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts c;
    cnn_dense_opts d;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 13; in.width = 11;
    memset(&c, 0, sizeof c); c.filters = 8; c.kernel = 3; c.padding = CNN_PAD_SAME;
    memset(&d, 0, sizeof d); d.units = SW_CLASSES;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &c)) || (st = cnn_add_activation(net, CNN_ACT_RELU, 0.0f)) ||
        (st = cnn_add_pool(net, NULL)) || (st = cnn_add_dropout(net, 0.3f))) return st;
    c.filters = 6; c.activation = CNN_ACT_TANH; c.padding = CNN_PAD_VALID;
    if ((st = cnn_add_conv(net, &c)) || (st = cnn_add_flatten(net)) || (st = cnn_add_dense(net, &d))) return st;
    return CNN_OK;
}

typedef struct sw_job {
    const cnn_net *owner;            /* NULL: build a network of its own */
    cnn_status status;
    char error[256];
    int32_t classes[SW_IMAGES];
    float outputs[SW_IMAGES * SW_CLASSES];
} sw_job;

static void *sw_run(void *arg) {
    sw_job *job = (sw_job *)arg;
    cnn_net net;
    cnn_build_opts b;
    int i;
    memset(&b, 0, sizeof b);
    b.seed = 42;
    b.inference_only = 1;
    b.max_batch = job->owner ? 1 : 8;
    b.shared_weights = job->owner;
    job->status = sw_describe(&net);
    if (!job->status) job->status = cnn_net_build(&net, &b);
    for (i = 0; !job->status && i < SW_IMAGES; i++) {     /* one image at a time */
        job->status = cnn_predict(&net, sw_images + (size_t)i * 3 * 13 * 11, 1, job->outputs + i * SW_CLASSES, job->classes + i);
    }
    if (job->status) {
        size_t n = strlen(cnn_last_error());
        if (n >= sizeof job->error) n = sizeof job->error - 1;
        memcpy(job->error, cnn_last_error(), n);
        job->error[n] = '\0';
    }
    cnn_net_free(&net);
    return NULL;
}

/* Runs SW_THREADS jobs at once over 'owner' (NULL: each its own network); 0 on success. */
static int sw_run_threads(sw_job *jobs, const cnn_net *owner) {
    pthread_t threads[SW_THREADS];
    int i, started = 0, ok = 1;
    for (i = 0; i < SW_THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].owner = owner;
    }
    for (i = 0; i < SW_THREADS; i++) {
        if (pthread_create(&threads[i], NULL, sw_run, &jobs[i]) != 0) { ok = 0; break; }
        started++;
    }
    for (i = 0; i < started; i++) pthread_join(threads[i], NULL);
    return ok ? 0 : -1;
}

TEST(threads_share_one_copy_of_the_weights) {
    static sw_job first[SW_THREADS], shared[SW_THREADS];
    static float ref_out[SW_IMAGES * SW_CLASSES];
    int32_t ref_classes[SW_IMAGES];
    cnn_net owner;
    cnn_build_opts b;
    cnn_rng rng;
    size_t i;
    int t, distinct = 0;
    cnn_rng_seed(&rng, 7);
    for (i = 0; i < sizeof sw_images / sizeof sw_images[0]; i++) sw_images[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;

    /* 1. Each thread builds its own network: the library's first use is in two threads. */
    CHECK(sw_run_threads(first, NULL) == 0);
    /* 2. The owner: a training build of the same seed (the weights it shares are its own). */
    memset(&b, 0, sizeof b);
    b.seed = 42;
    b.max_batch = 16;
    CHECK_OK(sw_describe(&owner));
    CHECK_OK(cnn_net_build(&owner, &b));
    CHECK_OK(cnn_predict(&owner, sw_images, SW_IMAGES, ref_out, ref_classes));
    for (i = 1; i < SW_IMAGES; i++) distinct += ref_classes[i] != ref_classes[0];
    CHECKF(distinct > 0, "every image in class %d: a weak reference", (int)ref_classes[0]);
    /* 3. Two networks over the owner's weights, in two threads at once. */
    CHECK(sw_run_threads(shared, &owner) == 0);
    for (t = 0; t < SW_THREADS; t++) {
        CHECKF(first[t].status == CNN_OK, "thread %d (own network): %s", t, first[t].error);
        CHECKF(shared[t].status == CNN_OK, "thread %d (shared weights): %s", t, shared[t].error);
        CHECK(memcmp(first[t].classes, ref_classes, sizeof ref_classes) == 0);
        CHECK(memcmp(shared[t].classes, ref_classes, sizeof ref_classes) == 0);
        for (i = 0; i < SW_IMAGES * SW_CLASSES; i++) {
            /* batch 1 and batch 16 may take other kernel paths: equal up to rounding */
            CHECK_NEAR(first[t].outputs[i], ref_out[i], 1e-5);
            CHECK_NEAR(shared[t].outputs[i], ref_out[i], 1e-5);
        }
    }
    cnn_net_free(&owner);
}

#ifndef SW_NO_MAIN
int main(void) {
    RUN(threads_share_one_copy_of_the_weights);
    return harness_report();
}
#endif
