/* test_threads.c - a network's results do not depend on its thread count. Every layer kind,
   forward (batch 1, where filters are split, and larger batches, where images are), backward
   (where the parameter gradient is summed over fixed parts of the batch) and whole training
   runs, with 2, 3 and 7 threads, compared bit for bit with 1 thread; the caller's own
   parallel_for; CNN_THREADS; a thousand threaded networks built and freed; and a build whose
   worker threads cannot be started (pthread_create, or CreateThread on Windows, made to
   fail), which must fail cleanly. It also runs on Windows (make test cross-compiles it with
   MinGW and runs it under Wine where they are installed), so the Win32 pool is tested too. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <stdlib.h>
#include <time.h>        /* nanosleep */

/* Thread starts fail from the fail_thread_at-th on (0: never), counted in thread_starts. */
static int thread_starts, fail_thread_at;
#if defined(_WIN32)
#include <windows.h>
static int failing_thread_create(HANDLE *t, LPTHREAD_START_ROUTINE main_fn, void *arg) {
    if (fail_thread_at && ++thread_starts >= fail_thread_at) return 8;    /* ERROR_NOT_ENOUGH_MEMORY */
    return (*t = CreateThread(NULL, 0, main_fn, arg, 0, NULL)) ? 0 : (int)GetLastError();
}
static void set_env(const char *name, const char *value) { _putenv_s(name, value); }
static void unset_env(const char *name) { _putenv_s(name, ""); }   /* "": removes it */
#else
#include <pthread.h>
static int failing_thread_create(pthread_t *t, void *(*main_fn)(void *), void *arg) {
    if (fail_thread_at && ++thread_starts >= fail_thread_at) return 11;   /* EAGAIN */
    return pthread_create(t, NULL, main_fn, arg);
}
static void set_env(const char *name, const char *value) { setenv(name, value, 1); }
static void unset_env(const char *name) { unsetenv(name); }
#endif
#define CNN__THREAD_CREATE(thread, main_fn, arg) failing_thread_create(thread, main_fn, arg)
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static const int thread_counts[] = {2, 3, 7};

static void fill(float *x, size_t n, uint64_t seed) {
    cnn_rng r;
    size_t i;
    cnn_rng_seed(&r, seed);
    for (i = 0; i < n; i++) x[i] = cnn_rng_uniform(&r) * 2.0f - 1.0f;
}

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* A network description: each layer kind, on awkward shapes. */
typedef cnn_status (*describe_fn)(cnn_net *net);

static cnn_status conv_net(cnn_net *net, int c, int hw, int filters, int kernel, int stride, cnn_padding pad, cnn_conv_algo algo) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = c; in.height = hw; in.width = hw + 2;
    memset(&conv, 0, sizeof conv);
    conv.filters = filters; conv.kernel = kernel; conv.stride = stride; conv.padding = pad; conv.algo = algo;
    conv.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv))) return st;
    return cnn_add_dense(net, &dense);
}
static cnn_status net_conv_1ch(cnn_net *net) { return conv_net(net, 1, 9, 32, 3, 1, CNN_PAD_VALID, CNN_CONV_AUTO); }
static cnn_status net_conv_3ch(cnn_net *net) { return conv_net(net, 3, 7, 17, 3, 1, CNN_PAD_SAME, CNN_CONV_AUTO); }
static cnn_status net_conv_7ch_stride2(cnn_net *net) { return conv_net(net, 7, 11, 48, 5, 2, CNN_PAD_SAME, CNN_CONV_AUTO); }
static cnn_status net_conv_17ch_1x1(cnn_net *net) { return conv_net(net, 17, 1, 32, 1, 1, CNN_PAD_VALID, CNN_CONV_AUTO); }
static cnn_status net_conv_direct(cnn_net *net) { return conv_net(net, 32, 13, 64, 3, 1, CNN_PAD_SAME, CNN_CONV_DIRECT); }
static cnn_status net_conv_auto_wide(cnn_net *net) { return conv_net(net, 32, 14, 32, 3, 1, CNN_PAD_SAME, CNN_CONV_AUTO); }
static cnn_status net_conv_wino2(cnn_net *net) { return conv_net(net, 7, 10, 32, 3, 1, CNN_PAD_SAME, CNN_CONV_WINOGRAD_2X2); }
static cnn_status net_conv_wino4(cnn_net *net) { return conv_net(net, 33, 9, 48, 3, 1, CNN_PAD_VALID, CNN_CONV_WINOGRAD_4X4); }
/* Images with more tiles than one piece of 16: with fewer images than threads, the forward
   pass is split by tiles, and pieces begin and end inside an image and inside a tile row. */
static cnn_status net_conv_wino4_tiles(cnn_net *net) { return conv_net(net, 32, 23, 32, 3, 1, CNN_PAD_SAME, CNN_CONV_WINOGRAD_4X4); }
static cnn_status net_conv_wino2_tiles(cnn_net *net) { return conv_net(net, 17, 15, 32, 3, 1, CNN_PAD_SAME, CNN_CONV_WINOGRAD_2X2); }
/* 128 x 64 x 9 = 73,728 weights: the fingerprint that tells whether the kept Winograd filters
   are current is cut into two pieces (of 65,536 floats and the rest), and the filters'
   transform into pieces of filters, both claimed by the threads. */
static cnn_status net_conv_wino4_big(cnn_net *net) { return conv_net(net, 64, 3, 128, 3, 1, CNN_PAD_SAME, CNN_CONV_WINOGRAD_4X4); }

/* A Winograd layer after another, so that its data gradient is computed: with fewer images
   than threads and 64 tiles a thread (156 tiles an image here: on 2 threads) it is split by
   tiles (pieces begin inside tile rows). */
static cnn_status wino_second(cnn_net *net, int c, int h, int w, cnn_conv_algo algo, cnn_padding pad) {
    cnn_net_opts in;
    cnn_conv_opts first, wino;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = h; in.width = w;
    memset(&first, 0, sizeof first); first.filters = c; first.padding = CNN_PAD_SAME; first.activation = CNN_ACT_TANH;
    memset(&wino, 0, sizeof wino); wino.filters = 8; wino.padding = pad; wino.algo = algo; wino.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &first)) || (st = cnn_add_conv(net, &wino))) return st;
    return cnn_add_dense(net, &dense);
}
static cnn_status net_wino4_data_gradient(cnn_net *net) { return wino_second(net, 4, 48, 50, CNN_CONV_WINOGRAD_4X4, CNN_PAD_SAME); }
static cnn_status net_wino2_data_gradient(cnn_net *net) { return wino_second(net, 5, 24, 26, CNN_CONV_WINOGRAD_2X2, CNN_PAD_SAME); }
/* Valid padding, 49 x 53: the data gradient's last row and column are peeled off
   (cnn__wino_peels), and the 12 x 13 tiles an image are split by tiles on 2 threads. */
static cnn_status net_wino4_peeled_data_gradient(cnn_net *net) { return wino_second(net, 4, 49, 53, CNN_CONV_WINOGRAD_4X4, CNN_PAD_VALID); }

/* Grouped (split per image and group on a vector path), depthwise and grouped Winograd. */
static cnn_status net_grouped(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts grouped, depthwise, wino;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 8; in.height = 9; in.width = 11;
    memset(&grouped, 0, sizeof grouped); grouped.filters = 32; grouped.groups = 4; grouped.padding = CNN_PAD_SAME;
    grouped.activation = CNN_ACT_RELU;
    memset(&depthwise, 0, sizeof depthwise); depthwise.filters = 32; depthwise.groups = 32; depthwise.stride = 2;
    depthwise.padding = CNN_PAD_SAME;
    memset(&wino, 0, sizeof wino); wino.filters = 16; wino.groups = 2; wino.algo = CNN_CONV_WINOGRAD_4X4;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &grouped)) || (st = cnn_add_conv(net, &depthwise)) ||
        (st = cnn_add_conv(net, &wino)))
        return st;
    return cnn_add_dense(net, &dense);
}

/* Transposed convolutions: stride 2 with output padding and groups, and a wide stride-1 one
   whose forward (a convolution's data gradient) may take Winograd. */
static cnn_status net_conv_transpose(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_transpose_opts up, wide;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 6; in.height = 5; in.width = 7;
    memset(&up, 0, sizeof up); up.filters = 32; up.stride = 2; up.pad = 1; up.output_padding = 1; up.groups = 2;
    up.activation = CNN_ACT_RELU;
    memset(&wide, 0, sizeof wide); wide.filters = 32; wide.pad = 1; wide.activation = CNN_ACT_TANH;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv_transpose(net, &up)) || (st = cnn_add_conv_transpose(net, &wide)))
        return st;
    return cnn_add_dense(net, &dense);
}

static cnn_status net_pools_and_dense(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_pool_opts maxp, avgp;
    cnn_dense_opts d1, d2;
    cnn_activation_opts act;
    cnn_dropout_opts drop;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 13; in.width = 11;
    memset(&conv, 0, sizeof conv); conv.filters = 16; conv.padding = CNN_PAD_SAME;
    memset(&maxp, 0, sizeof maxp); maxp.kind = CNN_POOL_MAX; maxp.size = 2; maxp.ceil_mode = 1;
    memset(&avgp, 0, sizeof avgp); avgp.kind = CNN_POOL_AVG; avgp.size = 3; avgp.stride = 2; avgp.pad = 1;
    memset(&d1, 0, sizeof d1); d1.units = 48; d1.activation = CNN_ACT_TANH;
    memset(&d2, 0, sizeof d2); d2.units = 7;
    memset(&act, 0, sizeof act); act.activation = CNN_ACT_LEAKY_RELU;
    memset(&drop, 0, sizeof drop); drop.rate = 0.25f;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_activation_ex(net, &act)) ||
        (st = cnn_add_pool(net, &maxp)) || (st = cnn_add_pool(net, &avgp)) || (st = cnn_add_flatten(net)) ||
        (st = cnn_add_dense(net, &d1)) || (st = cnn_add_dropout_ex(net, &drop)))
        return st;
    return cnn_add_dense(net, &d2);
}

static cnn_status net_global_pool(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_activation_opts act;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 5; in.height = 6; in.width = 7;
    memset(&conv, 0, sizeof conv); conv.filters = 64; conv.kernel = 3; conv.activation = CNN_ACT_SIGMOID;
    memset(&act, 0, sizeof act); act.activation = CNN_ACT_TANH;
    memset(&dense, 0, sizeof dense); dense.units = 32;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_global_avgpool(net)) ||
        (st = cnn_add_dense(net, &dense)) || (st = cnn_add_activation_ex(net, &act)))
        return st;
    dense.units = 4;
    return cnn_add_dense(net, &dense);
}

/* Evaluation's awkward ends: an activation on the caller's images (not in place), batch norm
   in place after a conv layer, and after the last dense layer an activation and a dropout
   that work in place (in an inference build the output is then the dense layer's). */
static cnn_status net_eval_tail(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_pool_opts pool;
    cnn_dense_opts dense;
    cnn_activation_opts tanh_act, sigmoid_act;
    cnn_dropout_opts drop;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 3; in.height = 9; in.width = 8;
    memset(&conv, 0, sizeof conv); conv.filters = 16; conv.padding = CNN_PAD_SAME;
    memset(&pool, 0, sizeof pool); pool.size = 2;
    memset(&dense, 0, sizeof dense); dense.units = 5;
    memset(&tanh_act, 0, sizeof tanh_act); tanh_act.activation = CNN_ACT_TANH;
    memset(&sigmoid_act, 0, sizeof sigmoid_act); sigmoid_act.activation = CNN_ACT_SIGMOID;
    memset(&drop, 0, sizeof drop); drop.rate = 0.5f;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_activation_ex(net, &tanh_act)) || (st = cnn_add_conv(net, &conv)) ||
        (st = cnn_add_batchnorm(net, NULL)) || (st = cnn_add_pool(net, &pool)) || (st = cnn_add_flatten(net)) ||
        (st = cnn_add_dense(net, &dense)) || (st = cnn_add_activation_ex(net, &sigmoid_act)))
        return st;
    return cnn_add_dropout_ex(net, &drop);
}

/* Images large enough that a block holds at most 3 (64 KB of input, 480 KB of conv output
   each), so that a slot runs block after block through its own buffers. */
static cnn_status net_big_images(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 4; in.height = 64; in.width = 64;
    memset(&conv, 0, sizeof conv); conv.filters = 32; conv.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_global_avgpool(net))) return st;
    return cnn_add_dense(net, &dense);
}

/* Two 4x4 tiles an image: auto picks Winograd for 8 images or more (16 tiles), direct for
   fewer, so the blocks of a batch of 9 must run what the batch chose, not what they would. */
static cnn_status net_wino_by_batch(cnn_net *net) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 32; in.height = 6; in.width = 10;
    memset(&conv, 0, sizeof conv); conv.filters = 32; conv.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv))) return st;
    return cnn_add_dense(net, &dense);
}

static const struct { const char *name; describe_fn describe; } nets[] = {
    {"conv 1 channel, 32 filters", net_conv_1ch},
    {"conv 3 channels, 17 filters, same", net_conv_3ch},
    {"conv 7 channels, 5x5 stride 2", net_conv_7ch_stride2},
    {"conv 17 channels on a 1x3 image, 1x1", net_conv_17ch_1x1},
    {"conv direct 32 -> 64", net_conv_direct},
    {"conv auto 32 -> 32, 14x16", net_conv_auto_wide},
    {"conv Winograd F(2x2)", net_conv_wino2},
    {"conv Winograd F(4x4) 33 -> 48", net_conv_wino4},
    {"conv Winograd F(4x4) 32 -> 32, 23x25 (42 tiles an image)", net_conv_wino4_tiles},
    {"conv Winograd F(2x2) 17 -> 32, 15x17 (72 tiles an image)", net_conv_wino2_tiles},
    {"conv Winograd F(4x4) 64 -> 128, 3x5: fingerprint and filter transform in pieces", net_conv_wino4_big},
    {"conv, then Winograd F(4x4) 4 -> 8, 48x50: its data gradient", net_wino4_data_gradient},
    {"conv, then Winograd F(4x4) 4 -> 8, valid, 49x53: its peeled data gradient", net_wino4_peeled_data_gradient},
    {"conv, then Winograd F(2x2) 5 -> 8, 24x26: its data gradient", net_wino2_data_gradient},
    {"grouped, depthwise and grouped Winograd convolutions", net_grouped},
    {"transposed convolutions", net_conv_transpose},
    {"max and average pooling, activation, dropout, dense", net_pools_and_dense},
    {"global average pooling", net_global_pool},
};
#define NET_COUNT ((int)(sizeof nets / sizeof nets[0]))

/* What a network computes on one batch: output, every parameter gradient, the weights after
   two SGD steps. */
typedef struct outcome {
    float *out, *grads, *params;
    size_t out_n, param_n;
    float loss;
} outcome;

static void outcome_free(outcome *o) { free(o->out); free(o->grads); free(o->params); memset(o, 0, sizeof *o); }

static int run_net(describe_fn describe, int threads, int n, outcome *o) {
    cnn_net net;
    cnn_build_opts build;
    cnn_sgd_opts sgd;
    float *x;
    int32_t *labels;
    size_t in_size;
    int i, ok = 1;
    memset(o, 0, sizeof *o);
    memset(&build, 0, sizeof build);
    build.max_batch = 9; build.seed = 11; build.threads = threads; build.init = CNN_INIT_HE_NORMAL; build.with_momentum = 1;
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.05f; sgd.momentum = 0.9f; sgd.weight_decay = 0.001f;
    if (describe(&net) != CNN_OK || cnn_net_build(&net, &build) != CNN_OK) {
        fprintf(stderr, "  build failed: %s\n", cnn_last_error());
        return 0;
    }
    in_size = (size_t)net.in_c * net.in_h * net.in_w;
    x = (float *)malloc(in_size * n * sizeof(float));
    labels = (int32_t *)malloc(n * sizeof(int32_t));
    fill(x, in_size * n, 5);
    for (i = 0; i < n; i++) labels[i] = i % cnn_net_output_size(&net);
    o->out_n = (size_t)n * cnn_net_output_size(&net);
    o->param_n = net.param_floats;
    o->out = (float *)malloc(o->out_n * sizeof(float));
    o->grads = (float *)malloc(o->param_n * sizeof(float));
    o->params = (float *)malloc(o->param_n * sizeof(float));
    ok &= cnn_forward(&net, x, n, 1) == CNN_OK;
    if (ok) memcpy(o->out, cnn_output(&net), o->out_n * sizeof(float));
    ok &= cnn_backward(&net, labels, &o->loss) == CNN_OK;
    if (ok) memcpy(o->grads, net.grads, o->param_n * sizeof(float));
    ok &= cnn_sgd_step(&net, &sgd) == CNN_OK;
    ok &= cnn_train_batch(&net, x, labels, n, &sgd, NULL) == CNN_OK;
    if (ok) memcpy(o->params, net.params, o->param_n * sizeof(float));
    if (!ok) fprintf(stderr, "  a pass failed: %s\n", cnn_last_error());
    cnn_net_free(&net);
    free(x);
    free(labels);
    return ok;
}

/* Every layer kind, batches 1 (filters and units split), 2, 3 (fewer images than 7 threads)
   and 9 (images split; the gradient in 4 parts): bit for bit what one thread computes. */
TEST(every_layer_gives_the_same_bits_on_any_thread_count) {
    static const int batches[] = {1, 2, 3, 9};
    int k, b, t;
    for (k = 0; k < NET_COUNT; k++)
        for (b = 0; b < 4; b++) {
            outcome one, many;
            CHECKF(run_net(nets[k].describe, 1, batches[b], &one), "%s, batch %d, 1 thread", nets[k].name, batches[b]);
            for (t = 0; t < 3; t++) {
                const int threads = thread_counts[t];
                CHECKF(run_net(nets[k].describe, threads, batches[b], &many), "%s, batch %d, %d threads", nets[k].name, batches[b], threads);
                if (!one.out || !many.out) { outcome_free(&many); continue; }
                CHECKF(same_floats(one.out, many.out, one.out_n), "%s, batch %d: output with %d threads", nets[k].name, batches[b], threads);
                CHECKF(memcmp(&one.loss, &many.loss, sizeof one.loss) == 0, "%s, batch %d: loss with %d threads", nets[k].name, batches[b], threads);
                CHECKF(same_floats(one.grads, many.grads, one.param_n), "%s, batch %d: gradients with %d threads", nets[k].name, batches[b], threads);
                CHECKF(same_floats(one.params, many.params, one.param_n), "%s, batch %d: weights after 2 steps with %d threads",
                       nets[k].name, batches[b], threads);
                outcome_free(&many);
            }
            /* Not all zero: a gradient of zeros would agree trivially. */
            if (one.grads) {
                size_t i, nonzero = 0;
                for (i = 0; i < one.param_n; i++) nonzero += one.grads[i] != 0.0f;
                CHECKF(nonzero > one.param_n / 4, "%s, batch %d: only %zu of %zu gradients are not zero", nets[k].name, batches[b], nonzero, one.param_n);
            }
            outcome_free(&one);
        }
}

/* Evaluation (training = 0) on T threads runs each block of images through every layer
   (cnn__forward_blocks): in training builds each layer's output for the batch, and in
   inference builds the output, must be what one thread computes layer by layer, for batches
   from 1 (no blocks) to 9, trained weights (batch norm's running statistics moved). */
static int eval_net(describe_fn describe, int threads, int inference, int n, const float *params, float *out, size_t cap,
                    size_t *count) {
    cnn_net net;
    cnn_build_opts build;
    static float x[9 * 4 * 64 * 64];
    int i, ok;
    memset(&build, 0, sizeof build);
    build.max_batch = 9; build.seed = 11; build.threads = threads; build.inference_only = inference;
    if (describe(&net) != CNN_OK || cnn_net_build(&net, &build) != CNN_OK) return 0;
    if ((size_t)net.in_c * net.in_h * net.in_w > 4 * 64 * 64) { cnn_net_free(&net); return 0; }
    memcpy(net.params, params, (net.param_floats + net.buffer_floats) * sizeof(float));
    fill(x, (size_t)n * net.in_c * net.in_h * net.in_w, 21);
    ok = cnn_forward(&net, x, n, 0) == CNN_OK;
    *count = 0;
    for (i = 0; ok && i < net.layer_count; i++) {   /* every layer's output in a training build */
        const cnn_layer *l = &net.layers[i];
        const size_t size = (size_t)n * l->out_c * l->out_h * l->out_w;
        const float *y = inference ? (i == net.layer_count - 1 ? cnn_output(&net) : NULL) : cnn_layer_output(&net, i, NULL);
        if (!y) continue;
        if (*count + size > cap) { ok = 0; break; }
        memcpy(out + *count, y, size * sizeof(float));
        *count += size;
    }
    cnn_net_free(&net);
    return ok;
}

TEST(evaluation_gives_the_same_bits_on_any_thread_count) {
    static const int batches[] = {1, 2, 3, 5, 9};
    static float one[1 << 21], many[1 << 21], params[1 << 16];
    static const describe_fn described[] = {net_eval_tail, net_big_images, net_wino_by_batch, net_pools_and_dense, net_conv_transpose, net_grouped,
                                            net_conv_wino4, net_conv_auto_wide, net_global_pool};
    int k, b, t, inference;
    for (k = 0; k < (int)(sizeof described / sizeof described[0]); k++) {
        /* weights and running statistics of a network trained for a step */
        cnn_net trained;
        cnn_build_opts build;
        static float x[9 * 4 * 64 * 64];
        int32_t labels[9] = {0, 1, 2, 0, 1, 2, 0, 1, 2};
        memset(&build, 0, sizeof build); build.max_batch = 9; build.seed = 3;
        CHECK_OK(described[k](&trained));
        CHECK_OK(cnn_net_build(&trained, &build));
        if (trained.param_floats + trained.buffer_floats > sizeof params / sizeof params[0]) { CHECK(!"params holds them"); return; }
        fill(x, (size_t)9 * trained.in_c * trained.in_h * trained.in_w, 4);
        CHECK_OK(cnn_train_batch(&trained, x, labels, 9, NULL, NULL));
        memcpy(params, trained.params, (trained.param_floats + trained.buffer_floats) * sizeof(float));
        cnn_net_free(&trained);
        for (inference = 0; inference < 2; inference++)
            for (b = 0; b < 5; b++) {
                size_t n_one = 0, n_many = 0;
                CHECKF(eval_net(described[k], 1, inference, batches[b], params, one, 1 << 21, &n_one), "net %d, batch %d, 1 thread",
                       k, batches[b]);
                CHECK(n_one > 0);
                for (t = 0; t < 3; t++) {
                    CHECKF(eval_net(described[k], thread_counts[t], inference, batches[b], params, many, 1 << 21, &n_many),
                           "net %d, batch %d, %d threads", k, batches[b], thread_counts[t]);
                    CHECKF(n_many == n_one && same_floats(one, many, n_one), "net %d, %s build, batch %d: outputs with %d threads", k,
                           inference ? "inference" : "training", batches[b], thread_counts[t]);
                }
            }
    }
}

/* The digit model of the lecture, trained by cnn_fit for two epochs with validation, then
   evaluated and asked for predictions. */
static int fit_digits(int threads, float *params, size_t cap, float *val_loss, int32_t *classes) {
    static float images[200 * 16 * 16];
    static int32_t labels[200];
    cnn_net net;
    cnn_net_opts in;
    cnn_conv_opts c1, c2;
    cnn_pool_opts pool;
    cnn_dense_opts d1, d2;
    cnn_build_opts build;
    cnn_fit_opts fit;
    cnn_fit_result result;
    cnn_dataset data;
    float loss, acc;
    int i, ok;
    fill(images, sizeof images / sizeof images[0], 3);
    for (i = 0; i < 200; i++) {
        labels[i] = i % 4;
        images[i * 256 + labels[i] * 40] += 3.0f;   /* something to learn */
    }
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 16; in.width = 16;
    memset(&c1, 0, sizeof c1); c1.filters = 32; c1.activation = CNN_ACT_RELU;
    memset(&c2, 0, sizeof c2); c2.filters = 32; c2.activation = CNN_ACT_RELU; c2.padding = CNN_PAD_SAME;
    memset(&pool, 0, sizeof pool); pool.size = 2;
    memset(&d1, 0, sizeof d1); d1.units = 32; d1.activation = CNN_ACT_RELU;
    memset(&d2, 0, sizeof d2); d2.units = 4;
    memset(&build, 0, sizeof build); build.max_batch = 16; build.seed = 4; build.threads = threads; build.with_momentum = 1;
    memset(&fit, 0, sizeof fit);
    fit.epochs = 2; fit.batch_size = 16; fit.sgd.learning_rate = 0.02f; fit.sgd.momentum = 0.9f; fit.sgd.nesterov = 1;
    fit.validation_fraction = 0.2f; fit.seed = 9; fit.quiet = 1;
    memset(&data, 0, sizeof data); data.images = images; data.labels = labels; data.count = 200;
    if (cnn_net_init(&net, &in) || cnn_add_conv(&net, &c1) || cnn_add_pool(&net, &pool) || cnn_add_conv(&net, &c2) ||
        cnn_add_pool(&net, &pool) || cnn_add_dense(&net, &d1) || cnn_add_dense(&net, &d2) || cnn_net_build(&net, &build))
        return 0;
    ok = cnn_fit(&net, &data, &fit, &result) == CNN_OK && net.param_floats <= cap;
    if (ok) memcpy(params, net.params, net.param_floats * sizeof(float));
    ok = ok && cnn_evaluate(&net, &data, &loss, &acc) == CNN_OK && cnn_predict(&net, images, 37, NULL, classes) == CNN_OK;
    *val_loss = result.val_loss;
    cnn_net_free(&net);
    return ok;
}

TEST(a_whole_training_run_gives_the_same_weights_on_any_thread_count) {
    static float one[40000], many[40000];
    int32_t classes_one[37], classes_many[37];
    float val_one, val_many;
    int t;
    CHECK(fit_digits(1, one, 40000, &val_one, classes_one));
    for (t = 0; t < 3; t++) {
        CHECKF(fit_digits(thread_counts[t], many, 40000, &val_many, classes_many), "%d threads", thread_counts[t]);
        CHECKF(same_floats(one, many, 40000), "weights after training with %d threads", thread_counts[t]);
        CHECKF(memcmp(&val_one, &val_many, sizeof val_one) == 0, "validation loss %g with 1 thread, %g with %d",
               (double)val_one, (double)val_many, thread_counts[t]);
        CHECK(memcmp(classes_one, classes_many, sizeof classes_one) == 0);
    }
}

/* The caller's pool: here a parallel_for that runs the indices backwards on this thread,
   counting its calls; the results must not change. */
static int hook_calls;
static size_t hook_largest_range;
static void backwards_parallel_for(void *pool, cnn_parallel_task task, void *context, size_t range) {
    size_t i;
    CHECK(pool == (void *)&hook_calls);
    hook_calls++;
    if (range > hook_largest_range) hook_largest_range = range;
    for (i = range; i-- > 0;) task(context, i);
}

TEST(the_callers_parallel_for_is_used_instead_of_the_pool) {
    cnn_net a, b;
    cnn_build_opts build;
    float x[3 * 13 * 11 * 4];
    int32_t labels[4] = {0, 1, 2, 3};
    memset(&build, 0, sizeof build); build.max_batch = 4; build.seed = 2;
    CHECK_OK(net_pools_and_dense(&a));
    CHECK_OK(net_pools_and_dense(&b));
    CHECK_OK(cnn_net_build(&a, &build));
    build.threads = 5; build.parallel_for = backwards_parallel_for; build.parallel_pool = &hook_calls;
    CHECK_OK(cnn_net_build(&b, &build));
    CHECK(b.pool == NULL);                  /* no thread of cnn.h's own */
    fill(x, sizeof x / sizeof x[0], 8);
    CHECK_OK(cnn_train_batch(&a, x, labels, 4, NULL, NULL));
    CHECK_OK(cnn_train_batch(&b, x, labels, 4, NULL, NULL));
    CHECK(hook_calls > 5 && hook_largest_range == 5);
    CHECK(same_floats(a.params, b.params, a.param_floats));
    cnn_net_free(&a);
    cnn_net_free(&b);
}

/* A trained threaded network rebuilt for inference, in the same caller buffer: the old pool is
   stopped before its arena is reused, the weights are kept, and the predictions equal a
   one-thread network's over the same weights. */
TEST(a_threaded_network_rebuilt_for_inference_keeps_its_weights) {
    static unsigned char buffer[4 << 20];
    cnn_net net, one;
    cnn_build_opts build;
    static float kept[1 << 16];
    float x[3 * 13 * 11 * 4], p_many[64], p_one[64];
    int32_t labels[4] = {0, 1, 2, 3}, c_many[4], c_one[4];
    size_t outputs;
    memset(&build, 0, sizeof build); build.max_batch = 4; build.seed = 6; build.threads = 2;
    build.buffer = buffer; build.buffer_size = sizeof buffer;
    CHECK_OK(net_pools_and_dense(&net));
    CHECK_OK(cnn_net_build(&net, &build));
    fill(x, sizeof x / sizeof x[0], 12);
    CHECK_OK(cnn_train_batch(&net, x, labels, 4, NULL, NULL));
    if (net.param_floats > sizeof kept / sizeof kept[0]) { CHECK(!"kept holds the parameters"); cnn_net_free(&net); return; }
    memcpy(kept, net.params, net.param_floats * sizeof(float));
    build.inference_only = 1; build.threads = 3;
    CHECK_OK(cnn_net_build(&net, &build));
    CHECK(net.threads == 3 && same_floats(kept, net.params, net.param_floats));
    memset(&build, 0, sizeof build); build.max_batch = 4; build.inference_only = 1; build.shared_weights = &net;
    CHECK_OK(net_pools_and_dense(&one));
    CHECK_OK(cnn_net_build(&one, &build));
    outputs = (size_t)cnn_net_output_size(&net) * 4;
    CHECK(outputs <= 64);
    CHECK_OK(cnn_predict(&net, x, 4, NULL, c_many));
    CHECK_OK(cnn_forward(&net, x, 4, 0));
    memcpy(p_many, cnn_output(&net), outputs * sizeof(float));
    CHECK_OK(cnn_predict(&one, x, 4, NULL, c_one));
    CHECK_OK(cnn_forward(&one, x, 4, 0));
    memcpy(p_one, cnn_output(&one), outputs * sizeof(float));
    CHECK(memcmp(c_many, c_one, sizeof c_one) == 0 && same_floats(p_many, p_one, outputs));
    cnn_net_free(&one);
    cnn_net_free(&net);
}

TEST(cnn_threads_in_the_environment_sets_the_default) {
    cnn_net net;
    cnn_build_opts build;
    memset(&build, 0, sizeof build);
    CHECK_OK(net_global_pool(&net));
    set_env("CNN_THREADS", "3");
    CHECK_OK(cnn_net_build(&net, &build));
    CHECK(net.threads == 3);
    build.threads = 2;                      /* the program's own value comes first */
    CHECK_OK(cnn_net_build(&net, &build));
    CHECK(net.threads == 2);
    build.threads = 0;
    set_env("CNN_THREADS", "many");
    CHECK_STATUS(cnn_net_build(&net, &build), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "CNN_THREADS") != NULL);
    set_env("CNN_THREADS", "0");
    CHECK_STATUS(cnn_net_build(&net, &build), CNN_ERR_INVALID_ARGUMENT);
    unset_env("CNN_THREADS");
    CHECK_OK(cnn_net_build(&net, &build));
    CHECK(net.threads == 1 && net.pool == NULL);
    build.threads = CNN_MAX_THREADS + 1;
    CHECK_STATUS(cnn_net_build(&net, &build), CNN_ERR_INVALID_ARGUMENT);
    build.threads = -2;
    CHECK_STATUS(cnn_net_build(&net, &build), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net);
    CHECK(cnn_cpu_count() >= 1);
}

/* Built and freed a thousand times: every worker joined, nothing kept. Threads still alive
   would show in /proc/self/status (Linux); memory in the sanitizer build's leak check. */
#if defined(_WIN32)
#include <tlhelp32.h>
static int threads_alive(void) {          /* the threads of this process, from a snapshot */
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    THREADENTRY32 te;
    int n = 0;
    if (snap == INVALID_HANDLE_VALUE) return -1;
    te.dwSize = sizeof te;
    if (Thread32First(snap, &te))
        do n += te.th32OwnerProcessID == GetCurrentProcessId(); while (Thread32Next(snap, &te));
    CloseHandle(snap);
    return n;
}
#else
static int threads_alive(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
    fclose(f);
    return n;
}
#endif

/* The thread count once it has settled at 'expect' (or after about a second). A joined
   thread has finished, but the count may show it a moment longer: under qemu-user, which
   lets pthread_join return before the host thread is gone, and under Wine. A thread that
   leaked stays, and the count never settles. */
static int threads_settled_at(int expect) {
    int n = threads_alive(), tries;
    for (tries = 0; n != expect && tries < 100; tries++) {
#if defined(_WIN32)
        Sleep(10);
#else
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
#endif
        n = threads_alive();
    }
    return n;
}

TEST(a_thousand_threaded_networks_leave_no_thread_behind) {
    cnn_net net;
    cnn_build_opts build;
    float x[5 * 6 * 7];
    const int before = threads_alive();
    int i, ok = 1;
    memset(&build, 0, sizeof build); build.max_batch = 2; build.threads = 3; build.inference_only = 1;
    fill(x, sizeof x / sizeof x[0], 1);
    CHECK_OK(net_global_pool(&net));
    for (i = 0; i < 1000 && ok; i++) {
        ok = cnn_net_build(&net, &build) == CNN_OK;
        if (ok && i == 0) CHECK(before < 0 || threads_settled_at(before + 2) == before + 2);
        if (ok && i % 100 == 0) ok = cnn_forward(&net, x, 1, 0) == CNN_OK;
        cnn_net_free(&net);
    }
    CHECKF(ok, "build %d: %s", i, cnn_last_error());
    CHECK(!net.built && net.pool == NULL);
    if (before >= 0) { int now = threads_settled_at(before); CHECKF(now == before, "%d threads alive, %d before", now, before); }
}

TEST(a_thread_that_cannot_start_fails_the_build_cleanly) {
    cnn_net net;
    cnn_build_opts build;
    const int before = threads_alive();
    int at;
    memset(&build, 0, sizeof build); build.max_batch = 4; build.threads = 4;
    CHECK_OK(net_pools_and_dense(&net));
    for (at = 1; at <= 3; at++) {           /* the first, second and third worker fail */
        thread_starts = 0;
        fail_thread_at = at;
        CHECK_STATUS(cnn_net_build(&net, &build), CNN_ERR_STATE);
        CHECKF(strstr(cnn_last_error(), "worker thread") != NULL, "%s", cnn_last_error());
        CHECK(!net.built && net.pool == NULL && net.arena.base == NULL);
        if (before >= 0) {
            int now = threads_settled_at(before);
            CHECKF(now == before, "failing at start %d: %d threads alive, %d before", at, now, before);
        }
    }
    fail_thread_at = 0;
    CHECK_OK(cnn_net_build(&net, &build));  /* and it works again when threads can start */
    CHECK(net.built && net.pool != NULL);
    cnn_net_free(&net);
}

int main(void) {
    RUN(every_layer_gives_the_same_bits_on_any_thread_count);
    RUN(evaluation_gives_the_same_bits_on_any_thread_count);
    RUN(a_whole_training_run_gives_the_same_weights_on_any_thread_count);
    RUN(the_callers_parallel_for_is_used_instead_of_the_pool);
    RUN(a_threaded_network_rebuilt_for_inference_keeps_its_weights);
    RUN(cnn_threads_in_the_environment_sets_the_default);
    RUN(a_thousand_threaded_networks_leave_no_thread_behind);
    RUN(a_thread_that_cannot_start_fails_the_build_cleanly);
    return harness_report();
}
