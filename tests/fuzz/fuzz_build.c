/* fuzz_build.c - the network builder driven by fuzzed options: an input shape and up to 8
   layers of any kind with any option values (small ones mostly, and the extremes: 0, -1,
   INT_MAX, ...), then cnn_net_required_bytes and cnn_net_build. Every refusal must come with
   a message; a network that builds must run forward, backward and an SGD step on every path. */
#include <limits.h>
#include <math.h>
#include "fuzz.h"
#define CNN_IMPLEMENTATION
#include "../../cnn.h"

typedef struct reader { const uint8_t *p; size_t left; } reader;

static unsigned byte(reader *r) {
    if (!r->left) return 0;
    r->left--;
    return *r->p++;
}
/* One option value: 0..15 mostly (zero is each option's default), sometimes an extreme. */
static int value(reader *r) {
    static const int extremes[] = { -1, INT_MIN, INT_MAX, INT_MAX - 1, 1 << 16, 46341, 255, 1 << 30 };
    const unsigned b = byte(r);
    return b < 224 ? (int)(b % 16) : extremes[b % 8];
}
static float real(reader *r) {
    static const float specials[] = { 0.0f, 0.5f, -0.5f, 1.0f, 2.0f, 1e30f, -1e-40f, 0.99f };
    const unsigned b = byte(r);
    return b < 240 ? specials[b % 8] : (b & 1 ? (float)NAN : (float)HUGE_VAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float x[2 * 4096], dout[2 * 4096];
    reader r;
    cnn_net net;
    cnn_net_opts in;
    cnn_build_opts build;
    cnn_status st = CNN_OK;
    int layers, i, path;
    size_t need;
    r.p = data; r.left = size;
    memset(&in, 0, sizeof in);
    in.channels = value(&r); in.height = value(&r); in.width = value(&r); in.loss = (cnn_loss)(byte(&r) % 3);
    if (cnn_net_init(&net, &in) != CNN_OK) { FUZZ_CHECK(cnn_last_error()[0]); return 0; }
    layers = (int)(byte(&r) % 9);
    for (i = 0; i < layers && st == CNN_OK; i++) {
        const unsigned kind = byte(&r) % 7;
        if (kind == 0) {
            cnn_conv_opts o;
            memset(&o, 0, sizeof o);
            o.filters = value(&r); o.kernel = value(&r); o.kernel_h = value(&r); o.kernel_w = value(&r);
            o.stride = value(&r); o.stride_h = value(&r); o.stride_w = value(&r);
            o.dilation = value(&r); o.dilation_h = value(&r); o.dilation_w = value(&r);
            o.padding = (cnn_padding)(byte(&r) % 5);
            o.pad_top = value(&r); o.pad_bottom = value(&r); o.pad_left = value(&r); o.pad_right = value(&r);
            o.no_bias = (int)(byte(&r) & 1); o.activation = (cnn_activation)(byte(&r) % 6); o.alpha = real(&r);
            st = cnn_add_conv(&net, &o);
        } else if (kind == 1) {
            cnn_pool_opts o;
            memset(&o, 0, sizeof o);
            o.kind = (cnn_pool_kind)(byte(&r) % 3); o.size = value(&r); o.size_h = value(&r); o.size_w = value(&r);
            o.stride = value(&r); o.stride_h = value(&r); o.stride_w = value(&r);
            o.pad = value(&r); o.pad_top = value(&r); o.pad_bottom = value(&r); o.pad_left = value(&r); o.pad_right = value(&r);
            o.ceil_mode = (int)(byte(&r) & 1); o.count_pad = (int)(byte(&r) & 1);
            st = cnn_add_pool(&net, &o);
        } else if (kind == 2) {
            cnn_dense_opts o;
            memset(&o, 0, sizeof o);
            o.units = value(&r); o.no_bias = (int)(byte(&r) & 1); o.activation = (cnn_activation)(byte(&r) % 6); o.alpha = real(&r);
            st = cnn_add_dense(&net, &o);
        } else if (kind == 3) {
            st = cnn_add_activation(&net, (cnn_activation)(byte(&r) % 6), real(&r));
        } else if (kind == 4) {
            st = cnn_add_dropout(&net, real(&r));
        } else if (kind == 5) {
            st = cnn_add_flatten(&net);
        } else {
            st = cnn_add_global_avg_pool(&net);
        }
        if (st != CNN_OK) FUZZ_CHECK(cnn_last_error()[0] && net.invalid);
    }
    memset(&build, 0, sizeof build);
    build.max_batch = 1 + (int)(byte(&r) % 2);
    build.inference_only = (int)(byte(&r) & 1);
    build.max_arena_bytes = (size_t)1 << 22;              /* 4 MB: small networks only */
    need = cnn_net_required_bytes(&net, &build);
    st = cnn_net_build(&net, &build);
    if (st != CNN_OK) {
        FUZZ_CHECK(cnn_last_error()[0] && !net.built);
        return 0;
    }
    FUZZ_CHECK(need > 0 && net.arena.size + CNN_ALIGNMENT <= need);
    /* Run it when it is cheap: the product of its sizes bounds the work. */
    if ((size_t)net.in_c * net.in_h * net.in_w <= 4096 && (size_t)cnn_net_output_size(&net) <= 4096 &&
        cnn_net_param_count(&net) <= 50000) {
        for (i = 0; i < 2 * 4096; i++) x[i] = (float)((i * 7919) % 17) / 8.0f - 1.0f;
        for (path = CNN_SIMD_SCALAR; path <= CNN_SIMD_AVX512; path++) {
            if (!cnn_simd_available((cnn_simd)path)) continue;
            FUZZ_CHECK(cnn_simd_force((cnn_simd)path) == CNN_OK);
            FUZZ_CHECK(cnn_forward(&net, x, net.max_batch, !build.inference_only) == CNN_OK);
            if (!build.inference_only) {
                int32_t labels[2] = { 0, 0 };
                st = cnn_backward(&net, labels, NULL);
                FUZZ_CHECK(st == CNN_OK || st == CNN_ERR_NUMERIC);
                memset(dout, 0, sizeof dout);
                FUZZ_CHECK(cnn_backward_from(&net, dout) == CNN_OK);
                st = cnn_sgd_step(&net, NULL);
                FUZZ_CHECK(st == CNN_OK || st == CNN_ERR_NUMERIC);
            }
        }
        FUZZ_CHECK(cnn_simd_force(CNN_SIMD_AUTO) == CNN_OK);
    }
    cnn_net_free(&net);
    return 0;
}
