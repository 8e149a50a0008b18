/* test_shared_weights.c - networks that read another network's parameters
   (cnn_build_opts.shared_weights): what they hold, what they refuse, and the two-thread
   scenario of tests/tsan_shared_weights.c (which tests/tsan.sh runs under ThreadSanitizer). */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#define SW_NO_MAIN
#include "tsan_shared_weights.c"

#define TMP_WEIGHTS "build/tests/test_shared_weights.cnn"

TEST(a_sharer_reads_the_owners_weights_and_holds_none) {
    static float x[4 * 3 * 13 * 11];
    float out_owner[4 * SW_CLASSES], out_sharer[4 * SW_CLASSES];
    int32_t c_owner[4], c_sharer[4];
    cnn_net owner, sharer, again;
    cnn_build_opts b, s;
    cnn_rng rng;
    size_t i, alone, shared;
    cnn_rng_seed(&rng, 3);
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    memset(&b, 0, sizeof b); b.seed = 5; b.max_batch = 4;
    CHECK_OK(sw_describe(&owner));
    CHECK_OK(cnn_net_build(&owner, &b));
    memset(&s, 0, sizeof s); s.inference_only = 1; s.max_batch = 1;
    CHECK_OK(sw_describe(&sharer));
    alone = cnn_net_required_bytes(&sharer, &s);
    s.shared_weights = &owner;
    shared = cnn_net_required_bytes(&sharer, &s);
    /* the parameters are the only difference: param_floats floats, 64-byte blocks */
    CHECKF(alone - shared == owner.param_floats * sizeof(float), "%zu - %zu vs %zu floats", alone, shared, owner.param_floats);
    CHECK_OK(cnn_net_build(&sharer, &s));
    CHECK(sharer.params == owner.params && sharer.layers[0].w == owner.layers[0].w);
    CHECK(sharer.weights_owner == &owner);
    CHECK_OK(cnn_predict(&owner, x, 4, out_owner, c_owner));
    CHECK_OK(cnn_predict(&sharer, x, 4, out_sharer, c_sharer));
    CHECK(memcmp(c_owner, c_sharer, sizeof c_owner) == 0);
    for (i = 0; i < 4 * SW_CLASSES; i++) CHECK_NEAR(out_sharer[i], out_owner[i], 1e-5);
    /* the owner's weights change: the sharer sees it (one copy) */
    owner.layers[6].b[0] += 1.0f;               /* the dense layer's first bias */
    CHECK_OK(cnn_predict(&sharer, x, 1, out_sharer, NULL));
    CHECK_OK(cnn_predict(&owner, x, 1, out_owner, NULL));
    CHECK_NEAR(out_sharer[0], out_owner[0], 1e-5);
    /* a sharer of a sharer reads the same copy, and names the first owner */
    CHECK_OK(sw_describe(&again));
    s.shared_weights = &sharer;
    CHECK_OK(cnn_net_build(&again, &s));
    CHECK(again.params == owner.params && again.weights_owner == &owner);
    cnn_net_free(&again);
    /* rebuilt without shared_weights, a sharer keeps the weights it read, in its own copy */
    s.shared_weights = NULL;
    CHECK_OK(cnn_net_build(&sharer, &s));
    CHECK(sharer.params != owner.params && sharer.weights_owner == NULL);
    CHECK(memcmp(sharer.params, owner.params, owner.param_floats * sizeof(float)) == 0);
    cnn_net_free(&sharer);
    cnn_net_free(&owner);
}

TEST(sharing_is_refused_with_a_reason) {
    cnn_net owner, sharer, other;
    cnn_build_opts b, s;
    cnn_dense_opts d;
    memset(&b, 0, sizeof b); b.max_batch = 2;
    memset(&s, 0, sizeof s); s.inference_only = 1; s.max_batch = 1;
    CHECK_OK(sw_describe(&owner));
    CHECK_OK(sw_describe(&sharer));
    s.shared_weights = &owner;                              /* not built yet */
    CHECK_STATUS(cnn_net_build(&sharer, &s), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "not built") != NULL);
    CHECK_OK(cnn_net_build(&owner, &b));
    s.inference_only = 0;                                   /* a training build would write them */
    CHECK_STATUS(cnn_net_build(&sharer, &s), CNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(cnn_last_error(), "inference_only") != NULL);
    CHECK(!sharer.built);
    s.inference_only = 1;
    s.shared_weights = &sharer;                             /* itself */
    CHECK_STATUS(cnn_net_build(&sharer, &s), CNN_ERR_INVALID_ARGUMENT);
    /* another architecture: the last layer has 4 outputs, not 5 */
    CHECK_OK(sw_describe(&other));
    other.layer_count--;
    memset(&d, 0, sizeof d); d.units = SW_CLASSES - 1;
    CHECK_OK(cnn_add_dense(&other, &d));
    s.shared_weights = &owner;
    CHECK_STATUS(cnn_net_build(&other, &s), CNN_ERR_SHAPE);
    CHECKF(strstr(cnn_last_error(), "layer 6") && strstr(cnn_last_error(), "dense 4") && strstr(cnn_last_error(), "dense 5"),
           "%s", cnn_last_error());
    CHECK(cnn_net_required_bytes(&other, &s) == 0);
    /* a sharer writes no weight */
    CHECK_OK(cnn_net_build(&sharer, &s));
    CHECK_STATUS(cnn_net_init_weights(&sharer, CNN_INIT_HE_NORMAL, 1), CNN_ERR_STATE);
    CHECK(strstr(cnn_last_error(), "shared_weights") != NULL);
    CHECK_OK(cnn_save(&owner, TMP_WEIGHTS));
    CHECK_STATUS(cnn_load_weights(&sharer, TMP_WEIGHTS), CNN_ERR_STATE);
    CHECK_STATUS(cnn_forward(&sharer, sw_images, 1, 1), CNN_ERR_STATE);   /* dropout in training mode */
    CHECK(strstr(cnn_last_error(), "dropout") != NULL);
    /* the owner may not read the weights of a network that reads its own */
    s.shared_weights = &sharer;
    CHECK_STATUS(cnn_net_build(&owner, &s), CNN_ERR_INVALID_ARGUMENT);
    CHECK(owner.built && owner.training);                   /* a refused rebuild changes nothing */
    cnn_net_free(&sharer);
    cnn_net_free(&owner);
    remove(TMP_WEIGHTS);
}

int main(void) {
    RUN(a_sharer_reads_the_owners_weights_and_holds_none);
    RUN(sharing_is_refused_with_a_reason);
    RUN(threads_share_one_copy_of_the_weights);
    return harness_report();
}
