/* fuzz_load.c - cnn_load_from_memory on any bytes (cnn_load and the reader callbacks run the
   same parser). A model that loads must also run: one forward pass, one backward pass and an
   SGD step (when the network is small enough to run quickly), and save again, to the same
   bytes; a model that fails must leave the output network untouched. Its build holds the
   optimizer state a file may carry, so that it is restored, not only checked. */
#include "fuzz.h"
#define CNN_IMPLEMENTATION
#include "../../cnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float x[4096];
    static unsigned char saved[1 << 17];   /* 20,000 parameters and 32 layers fit */
    cnn_net net, untouched;
    cnn_build_opts build;
    cnn_status st;
    memset(&build, 0, sizeof build);
    build.max_batch = 1;
    build.with_momentum = build.with_adam = 1;       /* optimizer state is restored, not skipped */
    build.max_arena_bytes = (size_t)1 << 24;         /* 16 MB: a fuzzer must not wait on memory */
    memset(&net, 0x5a, sizeof net);
    memcpy(&untouched, &net, sizeof net);
    st = cnn_load_from_memory(&net, data, size, &build);
    if (st != CNN_OK) {
        FUZZ_CHECK(memcmp(&net, &untouched, sizeof net) == 0);
        FUZZ_CHECK(cnn_last_error()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(net.built && net.max_batch == 1);
    /* Running it costs about its weights times its output size: bound both. */
    if ((size_t)net.in_c * net.in_h * net.in_w <= sizeof x / sizeof x[0] && cnn_net_param_count(&net) < 20000 &&
        net.arena.size < ((size_t)1 << 20)) {
        int32_t label = 0;
        float loss;
        size_t bytes = 0;
        memset(x, 0, sizeof x);
        x[0] = 1.0f;
        st = cnn_forward(&net, x, 1, 1);
        if (st == CNN_ERR_INVALID_ARGUMENT) {   /* batch norm of one value per channel: evaluation only */
            FUZZ_CHECK(strstr(cnn_last_error(), "batchnorm") != NULL);
            FUZZ_CHECK(cnn_forward(&net, x, 1, 0) == CNN_OK);
        } else {
            FUZZ_CHECK(st == CNN_OK);
            st = cnn_backward(&net, &label, &loss);
            FUZZ_CHECK(st == CNN_OK || st == CNN_ERR_NUMERIC);
        }
        if (st == CNN_OK) {
            st = cnn_sgd_step(&net, NULL);
            FUZZ_CHECK(st == CNN_OK || st == CNN_ERR_NUMERIC);
        }
        /* what loaded saves (a step leaves finite weights), and loads again */
        FUZZ_CHECK(cnn_save_to_memory(&net, saved, sizeof saved, &bytes) == CNN_OK);
        cnn_net_free(&net);
        FUZZ_CHECK(cnn_load_from_memory(&net, saved, bytes, &build) == CNN_OK);
    }
    cnn_net_free(&net);
    return 0;
}
