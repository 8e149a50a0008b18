/* test_memory_io.c - models saved to and loaded from memory and through callbacks, in a
   build without <stdio.h> in cnn.h (CNN_NO_STDIO: the embedded case, no files at all). The
   same checks as the file functions: every truncation, a flipped byte, bytes after the end,
   a failing reader or writer; a failure leaves the output network (or the weights) as they
   were. And the optimizer reset that cnn_load_weights does. */
#define CNN_NO_STDIO
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

static unsigned char image[1 << 16], other[1 << 16];
static float x[2 * 1 * 8 * 8];

/* 1 x 8 x 8 -> conv 3x3 (4, relu) -> max pool -> dropout -> dense 3 */
static cnn_status make_net(cnn_net *net, uint64_t seed, int inference_only) {
    cnn_net_opts in;
    cnn_conv_opts conv;
    cnn_dense_opts dense;
    cnn_build_opts build;
    cnn_status st;
    memset(&in, 0, sizeof in); in.channels = 1; in.height = 8; in.width = 8;
    memset(&conv, 0, sizeof conv); conv.filters = 4; conv.activation = CNN_ACT_RELU;
    memset(&dense, 0, sizeof dense); dense.units = 3;
    memset(&build, 0, sizeof build); build.max_batch = 2; build.seed = seed; build.inference_only = inference_only; build.with_momentum = !inference_only;
    if ((st = cnn_net_init(net, &in)) || (st = cnn_add_conv(net, &conv)) || (st = cnn_add_pool(net, NULL)) ||
        (st = cnn_add_dropout(net, 0.25f)) || (st = cnn_add_dense(net, &dense)))
        return st;
    return cnn_net_build(net, &build);
}

static void fill_input(void) {
    size_t i;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
}

/* The outputs of two networks on the same input agree exactly. */
static int same_outputs(cnn_net *a, cnn_net *b) {
    float ya[6];
    if (cnn_forward(a, x, 2, 0) || cnn_forward(b, x, 2, 0)) return 0;
    memcpy(ya, cnn_output(a), sizeof ya);
    return memcmp(ya, cnn_output(b), sizeof ya) == 0;
}

/* A writer into a fixed buffer that may be told to fail after some bytes. */
typedef struct sink { unsigned char *buf; size_t cap, at, fail_after, calls; } sink;
static int sink_write(void *user, const void *data, size_t size) {
    sink *s = (sink *)user;
    s->calls++;
    if (s->at + size > s->fail_after || s->at + size > s->cap) return 1;
    memcpy(s->buf + s->at, data, size);
    s->at += size;
    return 0;
}

/* A reader over a buffer that may end early or report an error at some offset. */
typedef struct source { const unsigned char *buf; size_t size, at, error_at; } source;
static size_t source_read(void *user, void *data, size_t size) {
    source *s = (source *)user;
    size_t n = size < s->size - s->at ? size : s->size - s->at;
    if (s->at + n > s->error_at) return CNN_READ_ERROR;
    memcpy(data, s->buf + s->at, n);
    s->at += n;
    return n;
}
static source source_of(const unsigned char *buf, size_t size) {
    source s;
    s.buf = buf; s.size = size; s.at = 0; s.error_at = (size_t)-1;
    return s;
}

TEST(save_to_memory_reports_the_size_and_refuses_a_small_buffer) {
    cnn_net net;
    size_t size = 0, again = 0, i;
    int untouched = 1;
    CHECK_OK(make_net(&net, 1, 0));
    CHECK_OK(cnn_save_to_memory(&net, NULL, 0, &size));
    /* magic 8, version 4, header 20, 4 records of 128 (32 fields), tensor count 4, then conv w (4 + 16 +
       144), conv b (4 + 4 + 16), dense w (4 + 8 + 4*3*36), dense b (4 + 4 + 12), the optimizer section
       with no state (kind and step count, 8), CRC 4 */
    CHECK(size == 8 + 4 + 20 + 4 * 128 + 4 + (20 + 144) + (8 + 16) + (12 + 432) + (8 + 12) + 8 + 4);
    CHECK(size <= sizeof image);
    memset(image, 0xab, sizeof image);
    CHECK_STATUS(cnn_save_to_memory(&net, image, size - 1, &again), CNN_ERR_OUT_OF_MEMORY);
    CHECK(again == size && strstr(cnn_last_error(), "needs") != NULL);
    for (i = 0; i < sizeof image; i++) untouched &= image[i] == 0xab;
    CHECK(untouched);
    CHECK_STATUS(cnn_save_to_memory(&net, NULL, 100, &again), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_save_to_memory(&net, image, sizeof image, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(cnn_save_to_memory(&net, image, size, &again));
    CHECK(again == size && image[size] == 0xab && memcmp(image, "CNNH\r\n\x1a\n", 8) == 0);
    net.params[3] = (float)NAN;
    CHECK_STATUS(cnn_save_to_memory(&net, image, sizeof image, &again), CNN_ERR_NUMERIC);
    CHECK(strstr(cnn_last_error(), "layer 0 (conv) weights[3]") != NULL);
    cnn_net_free(&net);
    CHECK_STATUS(cnn_save_to_memory(&net, image, sizeof image, &again), CNN_ERR_STATE);
}

TEST(a_model_round_trips_through_memory_and_callbacks) {
    cnn_net net, loaded, streamed;
    cnn_build_opts build;
    size_t size;
    sink s;
    source src;
    fill_input();
    CHECK_OK(make_net(&net, 7, 0));
    CHECK_OK(cnn_save_to_memory(&net, image, sizeof image, &size));
    memset(&build, 0, sizeof build); build.max_batch = 2; build.inference_only = 1;
    CHECK_OK(cnn_load_from_memory(&loaded, image, size, &build));
    CHECK(loaded.built && !loaded.training && loaded.layer_count == 4);
    CHECK(same_outputs(&net, &loaded));
    /* the writer sees the same bytes, in pieces */
    memset(&s, 0, sizeof s); s.buf = other; s.cap = sizeof other; s.fail_after = (size_t)-1;
    CHECK_OK(cnn_save_to_callback(&net, sink_write, &s));
    CHECK(s.at == size && memcmp(image, other, size) == 0 && s.calls > 1);
    src = source_of(other, size);
    CHECK_OK(cnn_load_from_callback(&streamed, source_read, &src, &build));
    CHECK(src.at == size && same_outputs(&net, &streamed));
    cnn_net_free(&loaded);
    cnn_net_free(&streamed);
    cnn_net_free(&net);
}

TEST(damaged_images_fail_and_leave_the_network_untouched) {
    cnn_net net, out, sentinel;
    size_t size, cut;
    source src;
    int ok_memory = 1, ok_callback = 1, untouched = 1;
    CHECK_OK(make_net(&net, 3, 0));
    CHECK_OK(cnn_save_to_memory(&net, image, sizeof image, &size));
    memset(&out, 0x5a, sizeof out);
    sentinel = out;
    for (cut = 0; cut < size; cut++) {          /* every truncation */
        cnn_status a = cnn_load_from_memory(&out, image, cut, NULL), b;
        src = source_of(image, cut);
        b = cnn_load_from_callback(&out, source_read, &src, NULL);
        ok_memory &= cut < 8 ? a == CNN_ERR_FILE_MAGIC : a == CNN_ERR_FILE_TRUNCATED;
        ok_callback &= cut < 8 ? b == CNN_ERR_FILE_MAGIC : b == CNN_ERR_FILE_TRUNCATED;
        untouched &= memcmp(&out, &sentinel, sizeof out) == 0;
    }
    CHECK(ok_memory && ok_callback && untouched);
    memcpy(other, image, size);
    other[size - 18] ^= 0x10;       /* a bit of the last bias (8 bytes of optimizer section, no state, follow) */
    CHECK_STATUS(cnn_load_from_memory(&out, other, size, NULL), CNN_ERR_FILE_CHECKSUM);
    src = source_of(other, size);
    CHECK_STATUS(cnn_load_from_callback(&out, source_read, &src, NULL), CNN_ERR_FILE_CHECKSUM);
    memcpy(other, image, size);
    other[size] = 0;
    CHECK_STATUS(cnn_load_from_memory(&out, other, size + 1, NULL), CNN_ERR_FILE_CORRUPT);
    src = source_of(image, size);
    src.error_at = size / 2;                        /* the reader fails half way */
    CHECK_STATUS(cnn_load_from_callback(&out, source_read, &src, NULL), CNN_ERR_IO);
    CHECK(memcmp(&out, &sentinel, sizeof out) == 0);
    CHECK_STATUS(cnn_load_from_memory(&out, NULL, 10, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_load_from_memory(NULL, image, size, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_load_from_callback(&out, NULL, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(&out, &sentinel, sizeof out) == 0);
    cnn_net_free(&net);
}

TEST(a_failing_writer_is_an_io_error) {
    cnn_net net;
    size_t size;
    sink s;
    CHECK_OK(make_net(&net, 3, 0));
    CHECK_OK(cnn_save_to_memory(&net, NULL, 0, &size));
    memset(&s, 0, sizeof s); s.buf = other; s.cap = sizeof other; s.fail_after = size / 3;
    CHECK_STATUS(cnn_save_to_callback(&net, sink_write, &s), CNN_ERR_IO);
    CHECK(s.at <= size / 3);
    CHECK_STATUS(cnn_save_to_callback(&net, NULL, &s), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&net);
}

TEST(load_weights_from_memory_and_callbacks_reset_the_momentum) {
    cnn_net a, b;
    cnn_sgd_opts sgd;
    size_t size, i;
    source src;
    int32_t labels[2] = { 0, 2 };
    float before[512];
    int velocity_zero = 1;
    fill_input();
    CHECK_OK(make_net(&a, 11, 0));
    CHECK_OK(make_net(&b, 12, 0));
    CHECK(b.param_floats <= sizeof before / sizeof before[0]);
    CHECK_OK(cnn_save_to_memory(&a, image, sizeof image, &size));
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.1f; sgd.momentum = 0.9f;
    CHECK_OK(cnn_train_batch(&b, x, labels, 2, &sgd, NULL));      /* b now carries momentum */
    CHECK(b.step == 1);
    memcpy(other, image, size);
    other[size - 18] ^= 0x10;
    memcpy(before, b.params, b.param_floats * sizeof(float));
    CHECK_STATUS(cnn_load_weights_from_memory(&b, other, size), CNN_ERR_FILE_CHECKSUM);
    src = source_of(other, size);
    CHECK_STATUS(cnn_load_weights_from_callback(&b, source_read, &src), CNN_ERR_FILE_CHECKSUM);
    src = source_of(image, size - 1);
    CHECK_STATUS(cnn_load_weights_from_callback(&b, source_read, &src), CNN_ERR_FILE_TRUNCATED);
    CHECK(memcmp(before, b.params, b.param_floats * sizeof(float)) == 0 && b.step == 1);   /* no weight moved */
    CHECK_OK(cnn_load_weights_from_memory(&b, image, size));
    CHECK(same_outputs(&a, &b));
    for (i = 0; i < b.param_floats; i++) velocity_zero &= b.velocity[i] == 0.0f;
    CHECK(velocity_zero && b.step == 0);
    /* through a reader too, after another step */
    CHECK_OK(cnn_train_batch(&b, x, labels, 2, &sgd, NULL));
    src = source_of(image, size);
    CHECK_OK(cnn_load_weights_from_callback(&b, source_read, &src));
    CHECK(same_outputs(&a, &b) && b.step == 0 && b.velocity[0] == 0.0f);
    CHECK_STATUS(cnn_load_weights_from_memory(&b, NULL, 4), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_load_weights_from_callback(&b, NULL, NULL), CNN_ERR_INVALID_ARGUMENT);
    cnn_net_free(&a);
    cnn_net_free(&b);
}

TEST(reset_optimizer_makes_the_next_step_a_first_step) {
    cnn_net a, b;
    cnn_sgd_opts sgd;
    int32_t labels[2] = { 1, 0 };
    fill_input();
    CHECK_OK(make_net(&a, 5, 0));
    CHECK_OK(make_net(&b, 5, 0));
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.05f; sgd.momentum = 0.9f;
    /* b takes a step, gets its weights back from a, and forgets: its next step is a's first */
    CHECK_OK(cnn_train_batch(&b, x, labels, 2, &sgd, NULL));
    memcpy(b.params, a.params, a.param_floats * sizeof(float));
    cnn_rng_seed(cnn_net_dropout_rng(&a), 99);         /* and the same dropout masks */
    cnn_rng_seed(cnn_net_dropout_rng(&b), 99);
    CHECK_OK(cnn_net_reset_optimizer(&b));
    CHECK(b.step == 0);
    CHECK_OK(cnn_train_batch(&a, x, labels, 2, &sgd, NULL));
    CHECK_OK(cnn_train_batch(&b, x, labels, 2, &sgd, NULL));
    CHECK(memcmp(a.params, b.params, a.param_floats * sizeof(float)) == 0);
    CHECK(memcmp(a.velocity, b.velocity, a.param_floats * sizeof(float)) == 0);
    cnn_net_free(&b);
    CHECK_STATUS(cnn_net_reset_optimizer(&b), CNN_ERR_STATE);
    CHECK_STATUS(cnn_net_reset_optimizer(NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECK_OK(make_net(&b, 5, 1));
    CHECK_OK(cnn_net_reset_optimizer(&b));              /* inference only: nothing to forget */
    cnn_net_free(&a);
    cnn_net_free(&b);
}

int main(void) {
    RUN(save_to_memory_reports_the_size_and_refuses_a_small_buffer);
    RUN(a_model_round_trips_through_memory_and_callbacks);
    RUN(damaged_images_fail_and_leave_the_network_untouched);
    RUN(a_failing_writer_is_an_io_error);
    RUN(load_weights_from_memory_and_callbacks_reset_the_momentum);
    RUN(reset_optimizer_makes_the_next_step_a_first_step);
    return harness_report();
}
