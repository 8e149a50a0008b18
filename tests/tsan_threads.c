/* tsan_threads.c - the thread pool under ThreadSanitizer (tests/tsan.sh): training and
   inference steps (layer by layer, and depth first in blocks of images) on 2 and 3 threads, which must race on nothing (every task writes only
   its own share, the workspace slot of its own), a network built and freed while its
   workers sleep, and two networks used from two threads at once. */
#include <pthread.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static cnn_status describe(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts c1, c2;
    cnn_pool_opts pool;
    cnn_dense_opts d1, d2;
    cnn_dropout_opts drop;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 12; in.width = 12;
    memset(&c1, 0, sizeof c1); c1.filters = 32; c1.activation = CNN_ACT_RELU;
    memset(&c2, 0, sizeof c2); c2.filters = 32; c2.activation = CNN_ACT_RELU; c2.algo = CNN_CONV_WINOGRAD_4X4; c2.padding = CNN_PAD_SAME;
    memset(&pool, 0, sizeof pool); pool.size = 2;
    memset(&d1, 0, sizeof d1); d1.units = 32; d1.activation = CNN_ACT_TANH;
    memset(&d2, 0, sizeof d2); d2.units = 3;
    memset(&drop, 0, sizeof drop); drop.rate = 0.2f;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &c1)) || (st = cnn_add_pool(net, &pool)) ||
        (st = cnn_add_conv(net, &c2)) || (st = cnn_add_dense(net, &d1)) || (st = cnn_add_dropout_ex(net, &drop)))
        return st;
    return cnn_add_dense(net, &d2);
}

static float images[8 * 144];
static int32_t labels[8];

static int train(int threads, int steps) {
    cnn_net net;
    cnn_build_opts build;
    int i, ok = 1;
    memset(&build, 0, sizeof build); build.max_batch = 8; build.threads = threads; build.seed = 3;
    if (describe(&net) || cnn_net_build(&net, &build)) return 0;
    for (i = 0; i < steps && ok; i++) {
        ok &= cnn_train_batch(&net, images, labels, i % 2 ? 8 : 3, NULL, NULL) == CNN_OK;
        ok &= cnn_forward(&net, images, 1, 0) == CNN_OK;
        ok &= cnn_forward(&net, images, i % 2 ? 8 : 5, 0) == CNN_OK;   /* blocks of images, depth first */
    }
    cnn_net_free(&net);
    return ok;
}

/* An inference build: its blocks go through each slot's own buffers. */
static int infer(int threads) {
    cnn_net net;
    cnn_build_opts build;
    int ok;
    memset(&build, 0, sizeof build); build.max_batch = 8; build.threads = threads; build.seed = 3; build.inference_only = 1;
    if (describe(&net) || cnn_net_build(&net, &build)) return 0;
    ok = cnn_forward(&net, images, 8, 0) == CNN_OK && cnn_forward(&net, images, 3, 0) == CNN_OK &&
         cnn_forward(&net, images, 1, 0) == CNN_OK && cnn_forward(&net, images, 7, 0) == CNN_OK;
    cnn_net_free(&net);
    return ok;
}

TEST(training_and_inference_steps_race_on_nothing) {
    CHECK(train(2, 4));
    CHECK(train(3, 3));
    CHECK(infer(2));
    CHECK(infer(3));
}

TEST(building_and_freeing_while_workers_sleep) {
    int i;
    for (i = 0; i < 20; i++) CHECK(train(2, i % 2));
}

static void *train_elsewhere(void *ok) {
    *(int *)ok = train(2, 3);
    return NULL;
}

TEST(two_networks_from_two_threads_at_once) {
    pthread_t other;
    int ok_other = 0;
    CHECK(pthread_create(&other, NULL, train_elsewhere, &ok_other) == 0);
    CHECK(train(2, 3));
    pthread_join(other, NULL);
    CHECK(ok_other);
}

int main(void) {
    cnn_rng r;
    int i;
    cnn_rng_seed(&r, 1);
    for (i = 0; i < 8 * 144; i++) images[i] = cnn_rng_uniform(&r);
    for (i = 0; i < 8; i++) labels[i] = i % 3;
    RUN(training_and_inference_steps_race_on_nothing);
    RUN(building_and_freeing_while_workers_sleep);
    RUN(two_networks_from_two_threads_at_once);
    return harness_report();
}
