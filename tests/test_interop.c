/* test_interop.c - what crosses the library's edge: the version, model files written by an
   earlier cnn.h (tests/data), NumPy .npy tensors, and the progress bar as a public callback. */
#define _POSIX_C_SOURCE 200809L           /* dup, dup2: stderr into a file and back */
#include <stdlib.h>
#include <unistd.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"
#include "data/model_v1.h"

#define TMP "build/tests/test_interop_"

TEST(version_macros_and_run_time_agree) {
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", CNN_VERSION_MAJOR, CNN_VERSION_MINOR, CNN_VERSION_PATCH);
    CHECK(strcmp(expect, CNN_VERSION_STRING) == 0);
    CHECK(strcmp(cnn_version(), CNN_VERSION_STRING) == 0);
}

/* The committed file of format version 1 loads, and gives the outputs recorded when it was
   written (tests/data/make_model_v1.c). */
TEST(model_file_version_1_still_loads) {
    float x[MODEL_V1_IMAGES * 3 * 9 * 8], expect[MODEL_V1_IMAGES * MODEL_V1_OUTPUTS], scale = 0.0f;
    const float *y;
    char line[512];
    cnn_net net;
    FILE *f;
    int i = 0, k;
    f = fopen("tests/data/model_v1.expected", "r");
    CHECK(f != NULL);
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        if (line[0] == '#') continue;
        for (k = 0; k < MODEL_V1_OUTPUTS && i < MODEL_V1_IMAGES * MODEL_V1_OUTPUTS; k++, p = end)
            expect[i++] = strtof(p, &end);
    }
    fclose(f);
    CHECK(i == MODEL_V1_IMAGES * MODEL_V1_OUTPUTS);
    memset(&net, 0, sizeof net);
    CHECK_OK(cnn_load(&net, "tests/data/model_v1.cnn", NULL));
    if (!net.built) return;
    CHECK(net.layer_count == 9);
    CHECK(net.in_c == 3 && net.in_h == 9 && net.in_w == 8);
    model_v1_input(x);
    CHECK_OK(cnn_forward(&net, x, MODEL_V1_IMAGES, 0));
    y = cnn_output(&net);
    for (i = 0; i < MODEL_V1_IMAGES * MODEL_V1_OUTPUTS; i++) scale = fabsf(expect[i]) > scale ? fabsf(expect[i]) : scale;
    CHECK(scale > 0.1f);
    for (i = 0; i < MODEL_V1_IMAGES * MODEL_V1_OUTPUTS; i++) CHECK_NEAR(y[i], expect[i], 1e-5 * scale);
    cnn_net_free(&net);
}

/* ---- NPY ---- */

static size_t encode(const float *v, int ndim, const int *shape, unsigned char *buf, size_t cap) {
    return cnn_npy_encode(v, ndim, shape, buf, cap);
}

TEST(npy_encode_writes_numpy_s_header) {
    const float v[6] = {1, -2, 3.5f, 0, 1e-3f, 6};
    const int shape[2] = {2, 3};
    unsigned char buf[256];
    size_t n = encode(v, 2, shape, NULL, 0), m;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(n == 128 + 24);                      /* the header padded to 128 as numpy does, 6 floats */
    m = encode(v, 2, shape, buf, sizeof buf);
    CHECK(m == n);
    CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK(buf[8] == 118 && buf[9] == 0);       /* 128 - 10 */
    CHECK(memcmp(buf + 10, dict, strlen(dict)) == 0);
    CHECK(buf[127] == '\n' && buf[126] == ' ');
    /* -2.0f is 0xC0000000: little-endian bytes 00 00 00 C0 */
    CHECK(buf[132] == 0 && buf[133] == 0 && buf[134] == 0 && buf[135] == 0xC0);
    /* a 1-D shape is spelt (5,), as Python does */
    {
        const int one[1] = {5};
        float z[5] = {0};
        CHECK(encode(z, 1, one, buf, sizeof buf) == 128 + 20);
        CHECK(strstr((const char *)buf + 10, "'shape': (5,), }") != NULL);
    }
    /* too small a buffer: nothing written, the size needed returned */
    memset(buf, 0xAB, sizeof buf);
    CHECK(encode(v, 2, shape, buf, 140) == n && buf[0] == 0xAB);
}

TEST(npy_round_trip_in_memory) {
    float v[2 * 3 * 4 * 5], back[2 * 3 * 4 * 5];
    const int shape[4] = {2, 3, 4, 5};
    unsigned char buf[1024];
    cnn_rng rng;
    size_t n;
    int i;
    cnn_rng_seed(&rng, 1);
    for (i = 0; i < 120; i++) v[i] = cnn_rng_normal(&rng);
    n = encode(v, 4, shape, buf, sizeof buf);
    CHECK(n == 128 + 480);
    CHECK_OK(cnn_npy_decode(buf, n, 4, shape, back));
    CHECK(memcmp(v, back, sizeof v) == 0);
    CHECK_OK(cnn_npy_decode(buf, n, 4, shape, NULL));   /* check only */
}

/* A hand-written header (other key order, double quotes, no trailing comma, version 2.0). */
TEST(npy_decode_reads_other_spellings) {
    unsigned char buf[256];
    const char *dict = "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}\n";
    const int shape[1] = {3};
    const float v[3] = {1.5f, -2, 0.25f};
    float out[3];
    size_t hl = strlen(dict);
    memcpy(buf, "\x93NUMPY\x02\x00", 8);
    buf[8] = (unsigned char)hl; buf[9] = buf[10] = buf[11] = 0;
    memcpy(buf + 12, dict, hl);
    memcpy(buf + 12 + hl, v, sizeof v);          /* this machine is little-endian (x86, AArch64) */
    CHECK_OK(cnn_npy_decode(buf, 12 + hl + 12, 1, shape, out));
    CHECK(out[0] == 1.5f && out[1] == -2.0f && out[2] == 0.25f);
}

/* Builds a version 1.0 image of 'dict' followed by 'values' bytes of 0x3f (finite floats). */
static size_t image(unsigned char *buf, const char *dict, size_t values) {
    size_t hl = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hl; buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, dict, hl);
    memset(buf + 10 + hl, 0x3f, values);
    return 10 + hl + values;
}

TEST(npy_decode_names_every_bad_file) {
    unsigned char buf[512];
    const int s23[2] = {2, 3};
    float out[6] = {7, 7, 7, 7, 7, 7};
    size_t n;
    n = image(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", 48);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    CHECK(strstr(cnn_last_error(), "'<f8'") != NULL);
    n = image(buf, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    CHECK(strstr(cnn_last_error(), "'>f4'") != NULL);
    n = image(buf, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    CHECK(strstr(cnn_last_error(), "Fortran") != NULL);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_SHAPE);
    CHECK(strstr(cnn_last_error(), "shape (3, 2), expected (2, 3)") != NULL);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_SHAPE);
    CHECK(strstr(cnn_last_error(), "shape (6,), expected (2, 3)") != NULL);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 23);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_TRUNCATED);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 28);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, 30, 2, s23, out), CNN_ERR_FILE_TRUNCATED);     /* ends in the header */
    CHECK_STATUS(cnn_npy_decode(buf, 8, 2, s23, out), CNN_ERR_FILE_TRUNCATED);      /* ends in the prefix */
    buf[6] = 4;
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_VERSION);
    buf[6] = 1; buf[1] = 'n';
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_MAGIC);
    n = image(buf, "{'descr': '<f4', 'shape': (2, 3), }\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    CHECK(strstr(cnn_last_error(), "'fortran_order'") != NULL);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}\n", 24);
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    /* a NaN value (0x7fc00000) */
    n = image(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24);
    buf[n - 4] = 0; buf[n - 3] = 0; buf[n - 2] = 0xc0; buf[n - 1] = 0x7f;
    CHECK_STATUS(cnn_npy_decode(buf, n, 2, s23, out), CNN_ERR_FILE_CORRUPT);
    CHECK(strstr(cnn_last_error(), "value 5") != NULL);
    /* nothing was written by any failed decode */
    CHECK(out[0] == 7 && out[5] == 7);
    CHECK_STATUS(cnn_npy_decode(NULL, 0, 2, s23, out), CNN_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnn_npy_decode(buf, n, -1, s23, out), CNN_ERR_INVALID_ARGUMENT);
    CHECK(cnn_npy_encode(out, CNN_NPY_MAX_DIMS + 1, s23, NULL, 0) == 0);
}

static void write_file(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(p, 1, n, f); fclose(f); }
}

TEST(npy_files_save_load_and_refuse) {
    float v[12], back[12];
    const int shape[3] = {2, 3, 2}, wrong[3] = {2, 2, 3};
    unsigned char buf[512];
    size_t n;
    int i;
    for (i = 0; i < 12; i++) v[i] = (float)i * 0.5f - 2.0f;
    CHECK_OK(cnn_npy_save(TMP "t.npy", v, 3, shape));
    CHECK_OK(cnn_npy_load(TMP "t.npy", 3, shape, back));
    CHECK(memcmp(v, back, sizeof v) == 0);
    for (i = 0; i < 12; i++) back[i] = 9.0f;
    CHECK_STATUS(cnn_npy_load(TMP "t.npy", 3, wrong, back), CNN_ERR_FILE_SHAPE);
    CHECK(strstr(cnn_last_error(), TMP "t.npy") != NULL);
    /* truncated and overlong files; the destination untouched */
    n = cnn_npy_encode(v, 3, shape, buf, sizeof buf);
    write_file(TMP "short.npy", buf, n - 1);
    CHECK_STATUS(cnn_npy_load(TMP "short.npy", 3, shape, back), CNN_ERR_FILE_TRUNCATED);
    write_file(TMP "short.npy", buf, 40);
    CHECK_STATUS(cnn_npy_load(TMP "short.npy", 3, shape, back), CNN_ERR_FILE_TRUNCATED);
    buf[n] = 0;
    write_file(TMP "long.npy", buf, n + 1);
    CHECK_STATUS(cnn_npy_load(TMP "long.npy", 3, shape, back), CNN_ERR_FILE_CORRUPT);
    /* the last value a NaN: found only after the first values were read */
    buf[n - 1] = 0x7f; buf[n - 2] = 0xc0;
    write_file(TMP "nan.npy", buf, n);
    CHECK_STATUS(cnn_npy_load(TMP "nan.npy", 3, shape, back), CNN_ERR_FILE_CORRUPT);
    CHECK(back[0] == 9.0f && back[11] == 9.0f);
    CHECK_STATUS(cnn_npy_load(TMP "no-such.npy", 3, shape, back), CNN_ERR_IO);
    CHECK_STATUS(cnn_npy_save("build/no-such-dir/x.npy", v, 3, shape), CNN_ERR_IO);
    remove(TMP "t.npy"); remove(TMP "short.npy"); remove(TMP "long.npy"); remove(TMP "nan.npy");
}

/* Every tensor of a network out and back in; a damaged file changes no weight. */
TEST(npy_whole_network) {
    cnn_net a, b;
    cnn_build_opts build;
    float x[MODEL_V1_IMAGES * 3 * 9 * 8], ya[2 * MODEL_V1_OUTPUTS];
    size_t p, diff = 0;
    int i;
    memset(&build, 0, sizeof build);
    build.max_batch = 4; build.seed = 11;
    CHECK_OK(model_v1_describe(&a));
    CHECK_OK(cnn_net_build(&a, &build));
    CHECK_OK(model_v1_describe(&b));
    build.seed = 12;
    CHECK_OK(cnn_net_build(&b, &build));
    if (!a.built || !b.built) return;
    for (i = 0; i < a.layer_count; i++)
        for (p = 0; p < a.layers[i].bias_count; p++) a.layers[i].b[p] = 0.1f * (float)p - 0.2f;
    CHECK_OK(cnn_save_npy(&a, TMP));
    CHECK_OK(cnn_npy_load(TMP "layer0.weight.npy", 4, (const int[]){4, 3, 3, 3}, b.layers[0].w));
    CHECK_STATUS(cnn_npy_load(TMP "layer2.bias.npy", 1, (const int[]){5}, b.layers[2].w), CNN_ERR_IO);  /* no bias */
    CHECK_OK(cnn_npy_load(TMP "layer7.weight.npy", 2, (const int[]){6, 100}, b.layers[7].w));
    /* damage one file: nothing of b changes */
    {
        float before = b.layers[8].b[0];
        const int s[1] = {MODEL_V1_OUTPUTS};
        const int s2[1] = {MODEL_V1_OUTPUTS + 1};
        float bad2[MODEL_V1_OUTPUTS + 1] = {1, 2, 3, 4};
        CHECK_OK(cnn_npy_save(TMP "layer8.bias.npy", bad2, 1, s2));
        CHECK_STATUS(cnn_load_npy(&b, TMP), CNN_ERR_FILE_SHAPE);
        CHECK(strstr(cnn_last_error(), "layer 8 (dense) bias") != NULL);
        CHECK(b.layers[8].b[0] == before);
        CHECK(b.layers[2].w[0] != a.layers[2].w[0]);
        CHECK_OK(cnn_npy_save(TMP "layer8.bias.npy", a.layers[8].b, 1, s));
    }
    CHECK_OK(cnn_load_npy(&b, TMP));
    for (i = 0; i < a.layer_count; i++) {
        for (p = 0; p < a.layers[i].weight_count; p++) diff += a.layers[i].w[p] != b.layers[i].w[p];
        for (p = 0; p < a.layers[i].bias_count; p++) diff += a.layers[i].b[p] != b.layers[i].b[p];
    }
    CHECK(diff == 0);
    model_v1_input(x);
    CHECK_OK(cnn_forward(&a, x, 2, 0));
    memcpy(ya, cnn_output(&a), sizeof ya);
    CHECK_OK(cnn_forward(&b, x, 2, 0));
    CHECK(memcmp(ya, cnn_output(&b), sizeof ya) == 0);
    CHECK_STATUS(cnn_load_npy(&b, "build/tests/no-such-prefix-"), CNN_ERR_IO);
    for (i = 0; i < a.layer_count; i++) {
        char path[256];
        snprintf(path, sizeof path, TMP "layer%d.weight.npy", i); remove(path);
        snprintf(path, sizeof path, TMP "layer%d.bias.npy", i); remove(path);
    }
    cnn_net_free(&a);
    cnn_net_free(&b);
}

/* ---- the progress bar ---- */

/* Runs fn with stderr going to a file; returns what it wrote. */
static char captured[4096];
static const char *capture_stderr(void (*fn)(void)) {
    FILE *f = fopen(TMP "stderr.txt", "w+");
    int saved;
    size_t n;
    captured[0] = '\0';
    if (!f) return captured;
    fflush(stderr);
    saved = dup(2);
    dup2(fileno(f), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(captured, 1, sizeof captured - 1, f);
    captured[n] = '\0';
    fclose(f);
    remove(TMP "stderr.txt");
    return captured;
}

static int bar_returns;
static void draw_epoch_end(void) {
    cnn_progress p;
    memset(&p, 0, sizeof p);
    p.epoch = 2; p.epochs = 5; p.batch = p.batches = 40; p.epoch_done = 1;
    p.loss = 0.5f; p.accuracy = 0.8f; p.val_loss = 0.25f; p.val_accuracy = 0.9f;
    p.seconds = 3.0; p.images_per_second = 1234.0; p.learning_rate = 0.01f;
    bar_returns = cnn_progress_bar(&p, NULL);
}

TEST(progress_bar_is_public) {
    const char *text = capture_stderr(draw_epoch_end);
    CHECK(bar_returns == 0);
    CHECKF(strstr(text, "epoch 2/5") && strstr(text, "0.5000") && strstr(text, "0.2500") && strstr(text, "1234"), "drew: %s", text);
    CHECK(strchr(text, '\n') != NULL);           /* an epoch's line ends */
}

/* A callback of one's own that keeps the bar: counts the calls, stops after the first epoch. */
typedef struct bar_user { int calls, epochs_seen; } bar_user;
static int count_then_bar(const cnn_progress *p, void *user) {
    bar_user *u = (bar_user *)user;
    u->calls++;
    if (p->epoch_done) u->epochs_seen++;
    cnn_progress_bar(p, NULL);
    return p->epoch_done;                         /* stop after epoch 1 */
}
static bar_user fit_user;
static cnn_fit_result fit_result;
static cnn_status fit_status;
static void fit_with_wrapped_bar(void) {
    static float x[16 * 3 * 9 * 8];
    static int32_t y[16];
    cnn_net net;
    cnn_dataset data;
    cnn_fit_opts fit;
    cnn_rng rng;
    int i;
    cnn_rng_seed(&rng, 5);
    for (i = 0; i < 16 * 3 * 9 * 8; i++) x[i] = cnn_rng_uniform(&rng);
    for (i = 0; i < 16; i++) y[i] = i % 3;
    memset(&fit, 0, sizeof fit);
    fit.epochs = 3; fit.batch_size = 4; fit.progress = count_then_bar; fit.user = &fit_user;
    memset(&data, 0, sizeof data); data.images = x; data.labels = y; data.count = 16;
    fit_status = model_v1_describe(&net);
    if (!fit_status) fit_status = cnn_net_build(&net, NULL);
    if (!fit_status) fit_status = cnn_fit(&net, &data, &fit, &fit_result);
    cnn_net_free(&net);
}

TEST(progress_bar_inside_ones_own_callback) {
    const char *text = capture_stderr(fit_with_wrapped_bar);
    CHECK(fit_status == CNN_OK);
    CHECK(fit_result.epochs_run == 1);
    CHECK(fit_user.epochs_seen == 1 && fit_user.calls == 5);     /* 4 batches and the epoch end */
    CHECKF(strstr(text, "epoch 1/3") != NULL, "drew: %s", text);
}

int main(void) {
    RUN(version_macros_and_run_time_agree);
    RUN(model_file_version_1_still_loads);
    RUN(npy_encode_writes_numpy_s_header);
    RUN(npy_round_trip_in_memory);
    RUN(npy_decode_reads_other_spellings);
    RUN(npy_decode_names_every_bad_file);
    RUN(npy_files_save_load_and_refuse);
    RUN(npy_whole_network);
    RUN(progress_bar_is_public);
    RUN(progress_bar_inside_ones_own_callback);
    return harness_report();
}
