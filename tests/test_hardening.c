/* test_hardening.c - what a hostile input or a careless caller found (issue 13), one test per
   defect, so none comes back: strides far larger than the input, loading into an
   uninitialised network, NaN and infinities wherever a loss is computed, hostile model files,
   and the save path's temp file. */
#define _XOPEN_SOURCE 700      /* symlink, setrlimit, signal: the save tests are POSIX */
#include <limits.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every allocation the library makes is seen here: the largest request must stay within the
   arena limit (a hostile file must not reach the allocator), and requests above 2 GiB are
   refused rather than tried, so a regression fails instead of exhausting the machine. */
static size_t largest_request;
static void *counting_malloc(size_t size) {
    if (size > largest_request) largest_request = size;
    return size > ((size_t)2 << 30) ? NULL : malloc(size);
}
#define CNN_MALLOC(size, ctx) ((void)(ctx), counting_malloc(size))
#define CNN_FREE(ptr, ctx) ((void)(ctx), free(ptr))
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "harness.h"

#define DIR "build/tests/"

static cnn_rng rng;

static float *random_floats(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    return p;
}

/* The three convolution passes on every path, with a workspace, against the scalar reference;
   the shapes are legal (cnn_add_conv and model files accept them), so UBSan must stay quiet. */
static void conv_paths_agree(const cnn_conv2d_shape *s) {
    int oh, ow, path;
    size_t nx, ny, nw, i, ws_bytes;
    float *x, *w, *b, *dy, *y0, *dx0, *dw0, *db0, *y, *dx, *dw, *db;
    void *ws;
    CHECK_OK(cnn_conv2d_check(s, &oh, &ow));
    if (cnn_conv2d_check(s, &oh, &ow) != CNN_OK) return;
    nx = (size_t)s->n * s->c * s->h * s->w; ny = (size_t)s->n * s->k * oh * ow; nw = (size_t)s->k * s->c * s->kh * s->kw;
    ws_bytes = cnn_conv2d_workspace_bytes(s);
    ws = malloc(ws_bytes + 1);
    x = random_floats(nx); w = random_floats(nw); b = random_floats((size_t)s->k); dy = random_floats(ny);
    y0 = random_floats(ny); dx0 = random_floats(nx); dw0 = random_floats(nw); db0 = random_floats((size_t)s->k);
    y = random_floats(ny); dx = random_floats(nx); dw = random_floats(nw); db = random_floats((size_t)s->k);
    CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
    CHECK_OK(cnn_conv2d_forward(s, x, w, b, y0));
    CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx0));
    CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw0, db0));
    for (path = CNN_SIMD_AVX2; path <= CNN_SIMD_NEON; path++) {
        if (!cnn_simd_available((cnn_simd)path)) continue;
        CHECK_OK(cnn_simd_force((cnn_simd)path));
        CHECK_OK(cnn_conv2d_forward_ws(s, x, w, b, y, ws, ws_bytes));
        CHECK_OK(cnn_conv2d_backward_data_ws(s, dy, w, dx, ws, ws_bytes));
        CHECK_OK(cnn_conv2d_backward_weights_ws(s, x, dy, dw, db, ws, ws_bytes));
        for (i = 0; i < ny; i++) CHECK_NEAR(y[i], y0[i], 1e-4);
        for (i = 0; i < nx; i++) CHECK_NEAR(dx[i], dx0[i], 1e-4);
        for (i = 0; i < nw; i++) CHECK_NEAR(dw[i], dw0[i], 1e-4);
        CHECK_OK(cnn_conv2d_forward(s, x, w, b, y));
        CHECK_OK(cnn_conv2d_backward_data(s, dy, w, dx));
        CHECK_OK(cnn_conv2d_backward_weights(s, x, dy, dw, db));
        for (i = 0; i < ny; i++) CHECK_NEAR(y[i], y0[i], 1e-4);
        for (i = 0; i < nx; i++) CHECK_NEAR(dx[i], dx0[i], 1e-4);
        for (i = 0; i < nw; i++) CHECK_NEAR(dw[i], dw0[i], 1e-4);
    }
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
    free(x); free(w); free(b); free(dy); free(y0); free(dx0); free(dw0); free(db0);
    free(y); free(dx); free(dw); free(db); free(ws);
}

/* Defect 2: a stride far larger than the input (one output per axis) made the vector paths
   compute stride * row length in int, which overflows (undefined behaviour; UBSan reports it). */
TEST(conv_stride_far_larger_than_the_input) {
    static const int cases[][10] = {
        /* n c  h  w  k kh kw  stride_h    stride_w   pad */
        { 2, 3, 5, 7, 4, 3, 3, INT_MAX,   1,         0 },
        { 2, 3, 5, 7, 4, 3, 3, 1,         INT_MAX,   0 },
        { 1, 2, 4, 4, 3, 2, 2, INT_MAX,   INT_MAX,   1 },
        { 3, 1, 9, 9, 17, 3, 3, 1 << 30,  1 << 29,   2 },
        { 1, 7, 3, 3, 5, 3, 3, INT_MAX,   INT_MAX,   40 },
        { 2, 17, 1, 1, 3, 1, 1, INT_MAX,  INT_MAX,   0 },
    };
    size_t t;
    for (t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *p = cases[t];
        cnn_conv2d_shape s;
        memset(&s, 0, sizeof s);
        s.n = p[0]; s.c = p[1]; s.h = p[2]; s.w = p[3]; s.k = p[4]; s.kh = p[5]; s.kw = p[6];
        s.stride_h = p[7]; s.stride_w = p[8]; s.dilation_h = s.dilation_w = 1;
        s.pad_top = s.pad_left = p[9];
        conv_paths_agree(&s);
    }
}

/* Extreme sizes near INT_MAX: the shape checks and the workspace query compute only from the
   shape, so they run here without the memory such layers would need. Under UBSan any int
   product that overflows on the way fails the suite. */
static int extreme(cnn_rng *r) {
    static const int v[] = {1, 2, 3, 5, 7, 16, 255, 46341, 65536, 1 << 20, 1 << 30, INT_MAX / 4, INT_MAX / 2, INT_MAX - 1, INT_MAX};
    return v[cnn_rng_below(r, sizeof v / sizeof v[0])];
}

TEST(extreme_shapes_are_checked_without_overflow) {
    cnn_rng r;
    int i, accepted = 0;
    cnn_rng_seed(&r, 2);
    for (i = 0; i < 200000; i++) {
        cnn_conv2d_shape s;
        cnn_pool2d_shape p;
        int oh, ow;
        s.n = extreme(&r); s.c = extreme(&r); s.h = extreme(&r); s.w = extreme(&r);
        s.k = extreme(&r); s.kh = extreme(&r); s.kw = extreme(&r);
        s.stride_h = extreme(&r); s.stride_w = extreme(&r); s.dilation_h = extreme(&r); s.dilation_w = extreme(&r);
        s.pad_top = extreme(&r) - 1; s.pad_bottom = extreme(&r) - 1; s.pad_left = extreme(&r) - 1; s.pad_right = extreme(&r) - 1;
        if (cnn_conv2d_check(&s, &oh, &ow) == CNN_OK) {
            accepted++;
            CHECK(oh >= 1 && ow >= 1);
            (void)cnn_conv2d_workspace_bytes(&s);
        }
        p.n = extreme(&r); p.c = extreme(&r); p.h = extreme(&r); p.w = extreme(&r); p.kh = extreme(&r); p.kw = extreme(&r);
        p.stride_h = extreme(&r); p.stride_w = extreme(&r);
        p.pad_top = extreme(&r) - 1; p.pad_bottom = extreme(&r) - 1; p.pad_left = extreme(&r) - 1; p.pad_right = extreme(&r) - 1;
        p.ceil_mode = i & 1; p.count_pad = (i >> 1) & 1;
        if (cnn_pool2d_check(&p, &oh, &ow) == CNN_OK) CHECK(oh >= 1 && ow >= 1);
    }
    CHECK(accepted > 100);    /* the sweep reaches the workspace query, not only the checks */
}

/* Pooling with a stride and a window as large as the input allows, on every path. */
TEST(pool_stride_far_larger_than_the_input) {
    cnn_pool2d_shape s;
    float x[2 * 3 * 5 * 4], y[2 * 3 * 4], y0[2 * 3 * 4], dx[2 * 3 * 5 * 4], dx0[2 * 3 * 5 * 4];
    int32_t am[2 * 3 * 4];
    int oh, ow, mode;
    size_t i;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    for (mode = 0; mode < 4; mode++) {
        memset(&s, 0, sizeof s);
        s.n = 2; s.c = 3; s.h = 5; s.w = 4; s.kh = 3; s.kw = 2; s.stride_h = INT_MAX; s.stride_w = INT_MAX - 1;
        s.pad_top = s.pad_bottom = 1; s.pad_left = 1; s.ceil_mode = mode & 1; s.count_pad = mode >> 1;
        CHECK_OK(cnn_pool2d_check(&s, &oh, &ow));
        CHECK(oh == 1 && ow == 1);
        CHECK_OK(cnn_simd_force(CNN_SIMD_SCALAR));
        CHECK_OK(cnn_avgpool2d_forward(&s, x, y0));
        CHECK_OK(cnn_avgpool2d_backward(&s, y0, dx0));
        CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
        CHECK_OK(cnn_avgpool2d_forward(&s, x, y));
        CHECK_OK(cnn_avgpool2d_backward(&s, y, dx));
        for (i = 0; i < 6; i++) CHECK_NEAR(y[i], y0[i], 1e-6);
        for (i = 0; i < sizeof dx / sizeof dx[0]; i++) CHECK_NEAR(dx[i], dx0[i], 1e-6);
        CHECK_OK(cnn_maxpool2d_forward(&s, x, y, am));
        CHECK_OK(cnn_maxpool2d_backward(&s, y, am, dx));
        /* window rows -1..1 and columns -1..0: the max of x[0..1][0] of each plane */
        for (i = 0; i < 6; i++) CHECK(y[i] == (x[i * 20] > x[i * 20 + 4] ? x[i * 20] : x[i * 20 + 4]));
    }
}

/* A network whose convolution's stride is larger than its input: what cnn_add_conv and a
   model file accept must train on every path without undefined behaviour. */
TEST(network_with_a_huge_stride_trains) {
    cnn_net net;
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    cnn_sgd_opts sgd;
    float x[4 * 2 * 6 * 5], loss;
    int32_t labels[4] = {0, 1, 2, 1};
    int path;
    size_t i;
    for (i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = cnn_rng_normal(&rng);
    for (path = CNN_SIMD_SCALAR; path <= CNN_SIMD_NEON; path++) {
        if (!cnn_simd_available((cnn_simd)path)) continue;
        CHECK_OK(cnn_simd_force((cnn_simd)path));
        memset(&no, 0, sizeof no); no.channels = 2; no.height = 6; no.width = 5;
        CHECK_OK(cnn_net_init(&net, &no));
        memset(&co, 0, sizeof co); co.filters = 7; co.kernel = 3; co.stride_h = INT_MAX; co.stride_w = INT_MAX - 2;
        co.padding = CNN_PAD_SAME; co.activation = CNN_RELU;
        CHECK_OK(cnn_add_conv(&net, &co));
        memset(&dn, 0, sizeof dn); dn.units = 3;
        CHECK_OK(cnn_add_dense(&net, &dn));
        memset(&bo, 0, sizeof bo); bo.max_batch = 4;
        CHECK_OK(cnn_net_build(&net, &bo));
        memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.1f;
        CHECK_OK(cnn_train_batch(&net, x, labels, 4, &sgd, &loss));
        CHECK(loss == loss);
        cnn_net_free(&net);
    }
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
}

/* ---- model files ---- */

static long read_file(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}
static void write_file(const char *path, const void *buf, long n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
}
static uint32_t crc32_of(const unsigned char *p, long n) {
    uint32_t c = 0xffffffffu;
    long i;
    int k;
    for (i = 0; i < n; i++) { c ^= p[i]; for (k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1; }
    return c ^ 0xffffffffu;
}
static void put_u32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static void reseal(unsigned char *buf, long n) { put_u32(buf + n - 4, crc32_of(buf, n - 4)); }
static int count_of(const char *text, const char *word) {
    int n = 0;
    for (; (text = strstr(text, word)) != NULL; text++) n++;
    return n;
}

/* 1 x 8 x 8 -> conv 3x3 (4) -> max pool -> conv 3x3 (3) -> dense 2 */
static cnn_status small_model(cnn_net *net, int max_batch) {
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    cnn_status st;
    memset(&no, 0, sizeof no); no.channels = 1; no.height = 8; no.width = 8;
    memset(&co, 0, sizeof co); co.filters = 4; co.activation = CNN_RELU;
    memset(&dn, 0, sizeof dn); dn.units = 2;
    memset(&bo, 0, sizeof bo); bo.max_batch = max_batch; bo.seed = 5;
    if ((st = cnn_net_init(net, &no)) || (st = cnn_add_conv(net, &co)) || (st = cnn_add_pool(net, NULL))) return st;
    co.filters = 3;
    if ((st = cnn_add_conv(net, &co)) || (st = cnn_add_dense(net, &dn))) return st;
    return cnn_net_build(net, &bo);
}

/* Defect 1: cnn_load read net->built of the caller's (uninitialised) network and freed
   whatever its arena pointer held. Now the output is never read, and a failure leaves it as
   it was, byte for byte. */
TEST(load_into_an_uninitialised_network) {
    cnn_net net, garbage, copy;
    float x[64], p1[2], p2[2];
    size_t i;
    for (i = 0; i < 64; i++) x[i] = cnn_rng_uniform(&rng);
    CHECK_OK(small_model(&net, 2));
    CHECK_OK(cnn_save(&net, DIR "hardening.cnn"));
    memset(&garbage, 0xa5, sizeof garbage);    /* built != 0, arena.allocation a wild pointer */
    copy = garbage;
    CHECK_STATUS(cnn_load(&garbage, DIR "no-such-model.cnn", NULL), CNN_ERR_IO);
    CHECK(memcmp(&garbage, &copy, sizeof copy) == 0);
    CHECK_OK(cnn_load(&garbage, DIR "hardening.cnn", NULL));
    CHECK_OK(cnn_predict(&net, x, 1, p1, NULL));
    CHECK_OK(cnn_predict(&garbage, x, 1, p2, NULL));
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    cnn_net_free(&garbage);
    cnn_net_free(&net);
}

/* Defect 6: a 120-byte file with a valid CRC describing a 1 x 40000 x 40000 input (an arena
   of 819 GB at the default max_batch of 32) must be refused by the arena limit before any
   allocation is tried; a failed build after a good parse leaves the caller's network intact
   and working. */
TEST(hostile_file_cannot_demand_memory) {
    unsigned char file[8 + 6 * 4 + 20 * 4 + 4 + 4];
    cnn_net net, before;
    cnn_build_opts bo;
    float x[64], p1[2], p2[2];
    long n = 0;
    size_t i;
    for (i = 0; i < 64; i++) x[i] = cnn_rng_uniform(&rng);
    memcpy(file, "CNNH\r\n\x1a\n", 8); n = 8;
    put_u32(file + n, 1); n += 4;                         /* version */
    put_u32(file + n, 0); n += 4;                         /* loss */
    put_u32(file + n, 1); put_u32(file + n + 4, 40000); put_u32(file + n + 8, 40000); n += 12;
    put_u32(file + n, 1); n += 4;                         /* one layer: */
    memset(file + n, 0, 80); put_u32(file + n, CNN_LAYER_ACTIVATION); put_u32(file + n + 4, CNN_RELU); n += 80;
    put_u32(file + n, 0); n += 4;                         /* no tensors */
    n += 4; reseal(file, n);
    CHECK(n == 120);
    write_file(DIR "hostile.cnn", file, n);
    CHECK_OK(small_model(&net, 2));
    CHECK_OK(cnn_predict(&net, x, 1, p1, NULL));
    before = net;
    largest_request = 0;
    CHECK_STATUS(cnn_load(&net, DIR "hostile.cnn", NULL), CNN_ERR_OUT_OF_MEMORY);
    CHECKF(largest_request <= CNN_DEFAULT_MAX_ARENA_BYTES, "asked the allocator for %zu bytes", largest_request);
    CHECKF(strstr(cnn_last_error(), "needs 819200") && strstr(cnn_last_error(), "than the 1073741824 allowed"), "%s", cnn_last_error());
    CHECK(memcmp(&net, &before, sizeof net) == 0);        /* the previous network, untouched ... */
    CHECK_OK(cnn_predict(&net, x, 1, p2, NULL));          /* ... and still working */
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    /* The limit is a build option: lowered, a small model is refused; lifted, it loads. */
    CHECK_OK(cnn_save(&net, DIR "hardening.cnn"));
    memset(&bo, 0, sizeof bo);
    bo.max_arena_bytes = 1000;
    CHECK_STATUS(cnn_load(&before, DIR "hardening.cnn", &bo), CNN_ERR_OUT_OF_MEMORY);
    bo.max_arena_bytes = CNN_NO_ARENA_LIMIT;
    CHECK_OK(cnn_load(&before, DIR "hardening.cnn", &bo));
    cnn_net_free(&before);
    cnn_net_free(&net);
}

/* Defect 3: the temporary file was the fixed name path.tmp, opened with fopen: a symlink
   planted there was followed and its target overwritten. */
TEST(save_never_follows_a_planted_symlink) {
    cnn_net net;
    unsigned char victim[16];
    CHECK_OK(small_model(&net, 1));
    write_file(DIR "victim.txt", "precious", 8);
    remove(DIR "planted.cnn.tmp");
    CHECK(symlink("victim.txt", DIR "planted.cnn.tmp") == 0);
    CHECK_OK(cnn_save(&net, DIR "planted.cnn"));
    CHECK(read_file(DIR "victim.txt", victim, sizeof victim) == 8 && memcmp(victim, "precious", 8) == 0);
    remove(DIR "planted.cnn.tmp");
    cnn_net_free(&net);
}

/* A save whose write fails half-way (here: the file size limit) keeps the old file and leaves
   no temporary file behind. */
TEST(save_failing_half_way_keeps_the_old_file) {
    static unsigned char before[65536], after[65536];
    cnn_net net;
    struct rlimit old, tiny;
    long n1, n2;
    CHECK_OK(small_model(&net, 1));
    CHECK_OK(cnn_save(&net, DIR "kept.cnn"));
    n1 = read_file(DIR "kept.cnn", before, sizeof before);
    net.layers[0].w[0] += 1.0f;
    signal(SIGXFSZ, SIG_IGN);                 /* a write past the limit then fails with EFBIG */
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    tiny = old; tiny.rlim_cur = 100;
    CHECK(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
    CHECK_STATUS(cnn_save(&net, DIR "kept.cnn"), CNN_ERR_IO);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    n2 = read_file(DIR "kept.cnn", after, sizeof after);
    CHECK(n1 > 100 && n1 == n2 && memcmp(before, after, (size_t)n1) == 0);
    CHECK(system("ls " DIR "kept.cnn.tmp* >/dev/null 2>&1") != 0);
    cnn_net_free(&net);
}

/* Two processes saving to one path at once: each has its own temporary file, so the path
   always holds one whole model. */
TEST(concurrent_saves_never_mix) {
    cnn_net net, loaded;
    pid_t child;
    int i, status = -1, bad = 0;
    CHECK_OK(small_model(&net, 1));
    CHECK_OK(cnn_save(&net, DIR "shared.cnn"));
    child = fork();
    if (child == 0) {
        for (i = 0; i < 40; i++) { net.layers[0].w[0] = (float)i; if (cnn_save(&net, DIR "shared.cnn")) _exit(1); }
        _exit(0);
    }
    for (i = 0; i < 40; i++) {
        net.layers[0].w[1] = (float)-i;
        if (cnn_save(&net, DIR "shared.cnn")) bad++;
        if (cnn_load(&loaded, DIR "shared.cnn", NULL)) bad++; else cnn_net_free(&loaded);
    }
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECKF(bad == 0, "%d saves or loads failed: %s", bad, cnn_last_error());
    CHECK_OK(cnn_load(&loaded, DIR "shared.cnn", NULL));
    cnn_net_free(&loaded);
    cnn_net_free(&net);
}

/* Defect 4: a NaN or infinite weight saved fine and then never loaded. */
TEST(save_refuses_what_load_would_refuse) {
    cnn_net net;
    unsigned char before[65536], after[65536];
    long n1, n2;
    CHECK_OK(small_model(&net, 1));
    CHECK_OK(cnn_save(&net, DIR "finite.cnn"));
    n1 = read_file(DIR "finite.cnn", before, sizeof before);
    net.layers[2].w[5] = (float)NAN;
    CHECK_STATUS(cnn_save(&net, DIR "finite.cnn"), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "layer 2 (conv) weights[5]") != NULL, "%s", cnn_last_error());
    net.layers[2].w[5] = 0.5f;
    net.layers[3].b[1] = -(float)HUGE_VAL;
    CHECK_STATUS(cnn_save(&net, DIR "finite.cnn"), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "layer 3 (dense) bias[1]") != NULL, "%s", cnn_last_error());
    n2 = read_file(DIR "finite.cnn", after, sizeof after);
    CHECK(n1 == n2 && memcmp(before, after, (size_t)n1) == 0);
    net.layers[3].b[1] = 3.0e38f;                  /* large but finite: saved and loaded */
    CHECK_OK(cnn_save(&net, DIR "finite.cnn"));
    {
        cnn_net loaded;
        CHECK_OK(cnn_load(&loaded, DIR "finite.cnn", NULL));
        CHECK(loaded.layers[3].b[1] == 3.0e38f);
        cnn_net_free(&loaded);
    }
    cnn_net_free(&net);
}

/* Defect 7 (load) and issue 19: messages that say what is wrong, naming the layer once. */
TEST(load_messages_say_what_is_wrong) {
    static unsigned char good[65536], bad[65536];
    cnn_net net, other;
    long n;
    CHECK_STATUS(cnn_load(&other, DIR, NULL), CNN_ERR_IO);
    CHECKF(strstr(cnn_last_error(), "a directory") != NULL, "%s", cnn_last_error());
    write_file(DIR "empty.cnn", "", 0);
    CHECK_STATUS(cnn_load(&other, DIR "empty.cnn", NULL), CNN_ERR_FILE_MAGIC);
    CHECKF(strstr(cnn_last_error(), "empty") != NULL, "%s", cnn_last_error());
    /* layer 2's kernel made 9x9 (larger than its 3x3 input), the checksum made right */
    CHECK_OK(small_model(&net, 1));
    CHECK_OK(cnn_save(&net, DIR "hardening.cnn"));
    n = read_file(DIR "hardening.cnn", good, sizeof good);
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 32 + 2 * 80 + 6 * 4, 9);
    put_u32(bad + 32 + 2 * 80 + 7 * 4, 9);
    reseal(bad, n);
    write_file(DIR "bad.cnn", bad, n);
    CHECK_STATUS(cnn_load(&other, DIR "bad.cnn", NULL), CNN_ERR_FILE_CORRUPT);
    CHECKF(count_of(cnn_last_error(), "layer 2") == 1 && strstr(cnn_last_error(), "load: layer 2 (conv"),
           "%s", cnn_last_error());
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 32 + 1 * 80, 77);               /* layer 1: an unknown kind */
    reseal(bad, n);
    write_file(DIR "bad.cnn", bad, n);
    CHECK_STATUS(cnn_load(&other, DIR "bad.cnn", NULL), CNN_ERR_FILE_CORRUPT);
    CHECKF(count_of(cnn_last_error(), "layer 1") == 1 && strstr(cnn_last_error(), "load: layer 1: unknown layer kind 77"),
           "%s", cnn_last_error());
    cnn_net_free(&net);
}

int main(void) {
    cnn_rng_seed(&rng, 13);
    RUN(conv_stride_far_larger_than_the_input);
    RUN(extreme_shapes_are_checked_without_overflow);
    RUN(pool_stride_far_larger_than_the_input);
    RUN(network_with_a_huge_stride_trains);
    RUN(load_into_an_uninitialised_network);
    RUN(hostile_file_cannot_demand_memory);
    RUN(save_never_follows_a_planted_symlink);
    RUN(save_failing_half_way_keeps_the_old_file);
    RUN(concurrent_saves_never_mix);
    RUN(save_refuses_what_load_would_refuse);
    RUN(load_messages_say_what_is_wrong);
    return harness_report();
}
