/* fuzz_load_weights.c - cnn_load_weights_from_callback into a built network (the seed
   corpus's architecture) from any bytes, through a reader that hands them over in pieces of
   varying size: the one-pass path, which reads into a copy of the weights. On failure no
   weight may change; on success every weight is finite. */
#include "fuzz.h"
#define CNN_IMPLEMENTATION
#include "../../cnn.h"

static cnn_net net;
static float before[1 << 14];

/* 1 x 8 x 8 -> conv 3x3 (4, relu) -> max pool -> conv 3x3 (3) -> dense 2: the corpus's model */
static void build_once(void) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_build_opts build;
    if (net.built) return;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 8; in.width = 8;
    memset(&conv, 0, sizeof conv); conv.filters = 4; conv.activation = CNN_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 2;
    memset(&build, 0, sizeof build); build.max_batch = 1; build.seed = 5;
    FUZZ_CHECK(cnn_net_init(&net, &in) == CNN_OK && cnn_add_conv(&net, &conv) == CNN_OK && cnn_add_pool(&net, NULL) == CNN_OK);
    conv.filters = 3; conv.activation = CNN_ACT_NONE;
    FUZZ_CHECK(cnn_add_conv(&net, &conv) == CNN_OK && cnn_add_dense(&net, &dense) == CNN_OK);
    FUZZ_CHECK(cnn_net_build(&net, &build) == CNN_OK && net.param_floats <= sizeof before / sizeof before[0]);
}

/* Hands out the bytes in order; a short read only at the end, as the contract says. */
typedef struct reader { const uint8_t *data; size_t size, at; } reader;
static size_t read_some(void *user, void *out, size_t want) {
    reader *r = (reader *)user;
    size_t n = want < r->size - r->at ? want : r->size - r->at;
    memcpy(out, r->data + r->at, n);
    r->at += n;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r;
    size_t i;
    build_once();
    r.data = data; r.size = size; r.at = 0;
    memcpy(before, net.params, net.param_floats * sizeof(float));
    if (cnn_load_weights_from_callback(&net, read_some, &r) != CNN_OK) {
        FUZZ_CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) == 0);
        return 0;
    }
    for (i = 0; i < net.param_floats; i++) FUZZ_CHECK(net.params[i] - net.params[i] == 0.0f);
    return 0;
}
