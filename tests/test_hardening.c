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
#include <fcntl.h>
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
#include "util.h"
#define IDX_IMPLEMENTATION
#include "../examples/idx.h"

#define DIR "build/tests/"

static cnn_rng rng;

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
    x = random_floats(&rng, nx); w = random_floats(&rng, nw); b = random_floats(&rng, (size_t)s->k); dy = random_floats(&rng, ny);
    y0 = random_floats(&rng, ny); dx0 = random_floats(&rng, nx); dw0 = random_floats(&rng, nw); db0 = random_floats(&rng, (size_t)s->k);
    y = random_floats(&rng, ny); dx = random_floats(&rng, nx); dw = random_floats(&rng, nw); db = random_floats(&rng, (size_t)s->k);
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
    {   /* every small shape at stride INT_MAX (fuzz_build found the data gradient's classes) */
        cnn_conv2d_shape s;
        int c, h, w, kh, kw, pad;
        memset(&s, 0, sizeof s);
        s.n = 1; s.k = 3; s.stride_h = s.stride_w = INT_MAX; s.dilation_h = s.dilation_w = 1;
        for (c = 1; c <= 17; c = c == 1 ? 3 : c + 14)
            for (h = 1; h <= 5; h += 2)
                for (w = 1; w <= 6; w += 5)
                    for (kh = 1; kh <= 3; kh++)
                        for (kw = 1; kw <= 3; kw += 2)
                            for (pad = 0; pad <= 1; pad++) {
                                s.c = c; s.h = h; s.w = w; s.kh = kh; s.kw = kw;
                                s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
                                if (cnn_conv2d_check(&s, NULL, NULL) == CNN_OK) conv_paths_agree(&s);
                            }
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
        memset(&s, 0, sizeof s);                 /* zero: the fields not drawn (algo) default */
        memset(&p, 0, sizeof p);
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
    memset(&bo, 0, sizeof bo); bo.max_batch = max_batch; bo.seed = 5; bo.with_momentum = 1;
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
    put_u32(bad + 32 + 2 * 128 + 6 * 4, 9);
    put_u32(bad + 32 + 2 * 128 + 7 * 4, 9);
    reseal(bad, n);
    write_file(DIR "bad.cnn", bad, n);
    CHECK_STATUS(cnn_load(&other, DIR "bad.cnn", NULL), CNN_ERR_FILE_CORRUPT);
    CHECKF(count_of(cnn_last_error(), "layer 2") == 1 && strstr(cnn_last_error(), "load: layer 2 (conv"),
           "%s", cnn_last_error());
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 32 + 1 * 128, 77);              /* layer 1: a kind this cnn.h does not know */
    reseal(bad, n);
    write_file(DIR "bad.cnn", bad, n);
    CHECK_STATUS(cnn_load(&other, DIR "bad.cnn", NULL), CNN_ERR_FILE_VERSION);
    CHECKF(count_of(cnn_last_error(), "layer 1") == 1 && strstr(cnn_last_error(), "load: layer 1: layer kind 77 is not known"),
           "%s", cnn_last_error());
    memcpy(bad, good, (size_t)n);
    put_u32(bad + 8, 3);                          /* a format version from the future */
    reseal(bad, n);
    write_file(DIR "bad.cnn", bad, n);
    CHECK_STATUS(cnn_load(&other, DIR "bad.cnn", NULL), CNN_ERR_FILE_VERSION);
    CHECKF(strstr(cnn_last_error(), "file format version 3") && strstr(cnn_last_error(), "reads versions 1 to 2"), "%s", cnn_last_error());
    cnn_net_free(&net);
}

/* ---- numbers: NaN and infinities wherever a loss is computed (defect 5) ---- */

static void fill(float *x, size_t n, float v) { size_t i; for (i = 0; i < n; i++) x[i] = v; }

TEST(softmax_of_infinities_follows_the_limits) {
    const float inf = (float)HUGE_VAL;
    float z[4][3] = { { inf, 1.0f, -2.0f }, { inf, inf, 0.0f }, { -inf, -inf, -inf }, { -inf, 3.0f, 3.0f } };
    float nan_row[3] = { 0.0f, (float)NAN, 1.0f }, p[4][3], q[3];
    CHECK_OK(cnn_softmax(4, 3, &z[0][0], &p[0][0]));
    CHECK(p[0][0] == 1.0f && p[0][1] == 0.0f && p[0][2] == 0.0f);
    CHECK(p[1][0] == 0.5f && p[1][1] == 0.5f && p[1][2] == 0.0f);
    CHECK_NEAR(p[2][0], 1.0 / 3, 1e-7); CHECK(p[2][0] == p[2][1] && p[2][1] == p[2][2]);
    CHECK(p[3][0] == 0.0f && p[3][1] == 0.5f && p[3][2] == 0.5f);
    CHECK_OK(cnn_softmax(1, 3, nan_row, q));
    CHECK(q[0] != q[0] && q[1] != q[1] && q[2] != q[2]);
}

TEST(losses_refuse_nan_and_infinity) {
    float z[2] = { (float)NAN, 1.0f }, d[2], loss = 0.0f, t[2] = { 0.0f, 0.0f }, big[2] = { 3e38f, -3e38f };
    int32_t label = 1;
    CHECK_STATUS(cnn_softmax_cross_entropy(1, 2, z, &label, &loss, d), CNN_ERR_NUMERIC);
    CHECK(loss != loss);
    CHECK_STATUS(cnn_mean_squared_error(1, 2, big, t, &loss, NULL), CNN_ERR_NUMERIC);   /* (3e38)^2 overflows a float */
    CHECKF(strstr(cnn_last_error(), "mean squared error: the loss is inf") != NULL, "%s", cnn_last_error());
}

/* NaN in the input: backward, train_batch, evaluate and predict all say so, and the weights are
   those before the call. */
TEST(nan_is_an_error_everywhere_a_loss_is_computed) {
    cnn_net net;
    float x[3 * 64], before[4096], loss = 0.0f, probs[6];
    int32_t labels[3] = { 0, 1, 1 }, classes[3];
    cnn_dataset data;
    cnn_sgd_opts sgd;
    size_t i;
    for (i = 0; i < 3 * 64; i++) x[i] = cnn_rng_uniform(&rng);
    CHECK_OK(small_model(&net, 3));
    CHECK(net.param_floats <= 4096);
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 0.1f; sgd.momentum = 0.9f;
    CHECK_OK(cnn_train_batch(&net, x, labels, 3, &sgd, &loss));        /* one good step: momentum is live */
    x[64 + 10] = (float)NAN;
    memcpy(before, net.params, net.param_floats * sizeof(float));
    CHECK_OK(cnn_forward(&net, x, 3, 1));
    CHECK_STATUS(cnn_backward(&net, labels, &loss), CNN_ERR_NUMERIC);
    CHECK(loss != loss);
    CHECK_STATUS(cnn_sgd_step(&net, &sgd), CNN_ERR_NUMERIC);             /* no step on the gradients of a NaN loss */
    CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) == 0);
    CHECK_STATUS(cnn_train_batch(&net, x, labels, 3, &sgd, &loss), CNN_ERR_NUMERIC);
    CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) == 0);
    memset(&data, 0, sizeof data); data.images = x; data.labels = labels; data.count = 3;
    CHECK_STATUS(cnn_evaluate(&net, &data, &loss, NULL), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "evaluate: images 0 to 2") != NULL, "%s", cnn_last_error());
    CHECK_STATUS(cnn_predict(&net, x, 3, probs, classes), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "predict: image 1") != NULL, "%s", cnn_last_error());
    CHECK_OK(cnn_predict(&net, x, 1, probs, classes));                  /* image 0 alone is fine */
    x[64 + 10] = 0.5f;                                                  /* and a good batch trains again */
    CHECK_OK(cnn_train_batch(&net, x, labels, 3, &sgd, &loss));
    CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) != 0);
    cnn_net_free(&net);
}

/* A finite gradient that a huge learning rate carries past FLT_MAX: the step is refused whole. */
TEST(a_step_that_would_overflow_changes_nothing) {
    cnn_net net;
    float x[2 * 64], before[4096];
    int32_t labels[2] = { 0, 1 };
    cnn_sgd_opts sgd;
    size_t i;
    for (i = 0; i < 2 * 64; i++) x[i] = cnn_rng_uniform(&rng);
    CHECK_OK(small_model(&net, 2));
    CHECK_OK(cnn_forward(&net, x, 2, 1));
    CHECK_OK(cnn_backward(&net, labels, NULL));
    for (i = 0; i < net.param_floats; i++) net.grads[i] = 1e34f;        /* finite; times 1e6 it is not */
    memcpy(before, net.params, net.param_floats * sizeof(float));
    for (i = 0; i < 3; i++) {                                          /* plain, momentum, Nesterov */
        memset(&sgd, 0, sizeof sgd); sgd.learning_rate = 1e6f; sgd.momentum = i ? 0.5f : 0.0f; sgd.nesterov = i == 2;
        CHECK_STATUS(cnn_sgd_step(&net, &sgd), CNN_ERR_NUMERIC);
        CHECKF(strstr(cnn_last_error(), "layer 0 (conv) weights[0]") && strstr(cnn_last_error(), "no weight was changed"), "%s", cnn_last_error());
        CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) == 0);
    }
    net.layers[3].db[1] = (float)NAN;                                   /* a NaN deep in the last layer */
    for (i = 0; i < net.param_floats; i++) if (net.grads + i != net.layers[3].db + 1) net.grads[i] = 0.0f;
    memset(&sgd, 0, sizeof sgd); sgd.momentum = 0.9f; sgd.nesterov = 1;
    CHECK_STATUS(cnn_sgd_step(&net, &sgd), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "layer 3 (dense) bias[1]") != NULL, "%s", cnn_last_error());
    CHECK(memcmp(before, net.params, net.param_floats * sizeof(float)) == 0);
    CHECK(net.step == 0);
    cnn_net_free(&net);
}

/* Training with a huge learning rate must end in CNN_ERR_NUMERIC with the weights of the last
   good step: every step fit took left finite weights, and the refused one changed nothing. */
static float last_good[4096];
static int steps_seen;
static cnn_net *watched;
static int remember_weights(const cnn_progress *p, void *user) {
    (void)p; (void)user;
    memcpy(last_good, watched->params, watched->param_floats * sizeof(float));
    steps_seen++;
    return 0;
}

TEST(huge_learning_rate_ends_in_numeric_with_the_last_good_weights) {
    static float x[64 * 64];
    static int32_t y[64];
    cnn_net net;
    cnn_dataset data;
    cnn_fit_opts fo;
    size_t i;
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    for (i = 0; i < 64 * 64; i++) x[i] = 10.0f * cnn_rng_uniform(&rng);
    for (i = 0; i < 64; i++) y[i] = (int32_t)(i % 2);
    /* linear layers and a squared error: each step multiplies the error, so it diverges */
    memset(&no, 0, sizeof no); no.channels = 1; no.height = 8; no.width = 8; no.loss = CNN_LOSS_MSE;
    memset(&co, 0, sizeof co); co.filters = 2;
    memset(&dn, 0, sizeof dn); dn.units = 2;
    memset(&bo, 0, sizeof bo); bo.max_batch = 8; bo.with_momentum = 1;
    CHECK_OK(cnn_net_init(&net, &no));
    CHECK_OK(cnn_add_conv(&net, &co));
    CHECK_OK(cnn_add_dense(&net, &dn));
    CHECK_OK(cnn_net_build(&net, &bo));
    watched = &net;
    steps_seen = 0;
    memcpy(last_good, net.params, net.param_floats * sizeof(float));
    memset(&fo, 0, sizeof fo);
    fo.epochs = 50; fo.batch_size = 8; fo.sgd.learning_rate = 100.0f; fo.sgd.momentum = 0.9f;
    fo.progress = remember_weights;
    memset(&data, 0, sizeof data); data.images = x; data.labels = y; data.count = 64;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_NUMERIC);
    CHECKF(strstr(cnn_last_error(), "fit: epoch") && strstr(cnn_last_error(), "lower the learning rate"), "%s", cnn_last_error());
    CHECK(steps_seen >= 2);                        /* it trained a while before diverging */
    CHECK(memcmp(last_good, net.params, net.param_floats * sizeof(float)) == 0);
    for (i = 0; i < net.param_floats; i++) CHECK(net.params[i] - net.params[i] == 0.0f);
    cnn_net_free(&net);
}

/* Inputs near the float limits through every layer kind: huge (1e30) and tiny (1e-30 and
   denormal) values give finite outputs where the math is finite, on every path, and where the
   math overflows (1e30 squared) the loss says so instead of training on infinities. */
TEST(inputs_near_the_float_limits_pass_through_every_layer) {
    static const float values[] = { 1e30f, -1e30f, 1e-30f, -1e-30f, 1e-40f, -1e-45f, 0.0f };
    cnn_net net;
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_pool_opts po;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    float x[2 * 2 * 9 * 9], probs[2 * 3], out_ref[6];
    int32_t labels[2] = { 2, 0 }, classes[2];
    size_t v, i;
    int path, act;
    for (act = CNN_RELU; act < CNN_ACTIVATION_COUNT; act++)
        for (path = CNN_SIMD_SCALAR; path <= CNN_SIMD_NEON; path++) {
            if (!cnn_simd_available((cnn_simd)path)) continue;
            CHECK_OK(cnn_simd_force((cnn_simd)path));
            memset(&no, 0, sizeof no); no.channels = 2; no.height = 9; no.width = 9;
            memset(&co, 0, sizeof co); co.filters = 3; co.padding = CNN_PAD_SAME; co.activation = (cnn_activation)act;
            memset(&po, 0, sizeof po);
            memset(&dn, 0, sizeof dn); dn.units = 3;
            memset(&bo, 0, sizeof bo); bo.max_batch = 2; bo.seed = 3;
            CHECK_OK(cnn_net_init(&net, &no));
            CHECK_OK(cnn_add_conv(&net, &co));                   /* conv + fused activation */
            CHECK_OK(cnn_add_pool(&net, &po));                   /* max pool */
            po.kind = CNN_POOL_AVG; po.size = 3; po.stride = 1; po.pad = 1;
            CHECK_OK(cnn_add_pool(&net, &po));                   /* average pool, padded */
            CHECK_OK(cnn_add_activation(&net, (cnn_activation)act, 0.1f));
            CHECK_OK(cnn_add_dropout(&net, 0.25f));
            CHECK_OK(cnn_add_flatten(&net));
            CHECK_OK(cnn_add_dense(&net, &dn));
            CHECK_OK(cnn_net_build(&net, &bo));
            for (v = 0; v < sizeof values / sizeof values[0]; v++) {
                const int huge = values[v] > 1e20f || values[v] < -1e20f;
                cnn_status st;
                float loss;
                fill(x, sizeof x / sizeof x[0], values[v]);
                x[7] = -values[v];
                CHECK_OK(cnn_forward(&net, x, 2, 1));
                st = cnn_backward(&net, labels, &loss);
                /* Tiny inputs: everything finite (denormals may flush to zero, never to NaN).
                   Huge ones: finite through bounded activations, else a finite loss or an honest
                   CNN_ERR_NUMERIC, never CNN_OK with a non-finite loss. */
                if (!huge || act == CNN_SIGMOID || act == CNN_TANH) CHECK_OK(st);
                CHECK(st == CNN_ERR_NUMERIC || (st == CNN_OK && loss - loss == 0.0f));
                if (st == CNN_OK)
                    for (i = 0; i < net.param_floats; i++) CHECK(net.grads[i] - net.grads[i] == 0.0f);
                st = cnn_predict(&net, x, 2, probs, classes);
                CHECK(st == CNN_OK || st == CNN_ERR_NUMERIC);
                if (!huge) {
                    CHECK_OK(st);
                    for (i = 0; i < 6; i++) CHECK(probs[i] >= 0.0f && probs[i] <= 1.0f);
                    if (path == CNN_SIMD_SCALAR) memcpy(out_ref, cnn_output(&net), sizeof out_ref);
                    else for (i = 0; i < 6; i++) CHECK_NEAR(cnn_output(&net)[i], out_ref[i], 1e-5);
                }
            }
            cnn_net_free(&net);
        }
    CHECK_OK(cnn_simd_force(CNN_SIMD_AUTO));
}

/* ---- options (defect 7, issue 19) ---- */

TEST(fit_options_are_reported_by_name) {
    cnn_net net;
    float x[4 * 64];
    int32_t y[4] = { 0, 1, 0, 1 };
    cnn_dataset data;
    cnn_fit_opts fo;
    memset(x, 0, sizeof x);
    memset(&data, 0, sizeof data); data.images = x; data.labels = y; data.count = 4;
    CHECK_OK(small_model(&net, 2));
    memset(&fo, 0, sizeof fo); fo.quiet = 1;
    fo.epochs = -1;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "-1 epochs") && !strstr(cnn_last_error(), "batch"), "%s", cnn_last_error());
    fo.epochs = 2; fo.batch_size = 3;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "batch_size 3") != NULL, "%s", cnn_last_error());
    fo.batch_size = 0; fo.schedule = CNN_SCHEDULE_STEP;
    fo.gamma = (float)NAN;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "gamma") != NULL, "%s", cnn_last_error());
    fo.gamma = -0.5f;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    fo.gamma = 0.5f; fo.step_epochs = -3;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    /* a huge gamma: refused before training, in the schedule's words */
    fo.gamma = 1e5f; fo.step_epochs = 1; fo.epochs = 5;
    CHECK_STATUS(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(cnn_last_error(), "schedule") && strstr(cnn_last_error(), "gamma"), "%s", cnn_last_error());
    CHECK(net.step == 0);
    fo.gamma = 0.5f;
    CHECK_OK(cnn_fit(&net, &data, &fo, NULL));
    cnn_net_free(&net);
}

/* The progress bar writes one line per epoch, without carriage returns, when stderr is a file. */
TEST(progress_bar_in_a_log_file) {
    static unsigned char text[8192];
    cnn_net net;
    float x[16 * 64];
    int32_t y[16];
    cnn_dataset data;
    cnn_fit_opts fo;
    int saved, fd, lines = 0, returns = 0;
    long n, i;
    for (i = 0; i < 16 * 64; i++) x[i] = cnn_rng_uniform(&rng);
    for (i = 0; i < 16; i++) y[i] = (int32_t)(i % 2);
    memset(&data, 0, sizeof data); data.images = x; data.labels = y; data.count = 16;
    CHECK_OK(small_model(&net, 2));
    memset(&fo, 0, sizeof fo); fo.epochs = 3; fo.batch_size = 2; fo.validation_fraction = 0.25f;
    fflush(stderr);
    saved = dup(2);
    fd = open(DIR "progress.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
    CHECK_OK(cnn_fit(&net, &data, &fo, NULL));          /* 3 epochs with validation figures */
    CHECK_OK(cnn_fit(&net, &data, NULL, NULL));         /* the defaults: 10 epochs */
    fflush(stderr);
    dup2(saved, 2); close(saved); close(fd);
    n = read_file(DIR "progress.log", text, sizeof text);
    for (i = 0; i < n; i++) { lines += text[i] == '\n'; returns += text[i] == '\r'; }
    CHECKF(lines == 13 && returns == 0, "%ld bytes, %d lines, %d carriage returns", n, lines, returns);
    CHECK(count_of((const char *)text, "val_loss") == 3);
    cnn_net_free(&net);
}

/* Defect 7 (examples/idx.h): a directory with a data file's name was picked, then reported as
   "read error". It is passed over, and reading one says why. */
TEST(idx_reader_passes_over_a_directory) {
    char images[256], labels[256], err[512];
    idx_images im;
    CHECK(system("rm -rf " DIR "idxdir && mkdir -p " DIR "idxdir/train-images-idx3-ubyte") == 0);
    CHECK(idx_find_files(DIR "idxdir", IDX_TRAIN, images, labels, sizeof images, err, sizeof err) != 0);
    CHECKF(strstr(err, "no training images") != NULL, "%s", err);
    CHECK(idx_load_images(DIR "idxdir/train-images-idx3-ubyte", &im, err, sizeof err) != 0);
    CHECKF(strstr(err, "directory") != NULL || strstr(err, "not a regular file") != NULL, "%s", err);
    CHECK(system("rm -rf " DIR "idxdir") == 0);
}

/* ---- error paths the rest of the suite does not reach (coverage, docs/testing.md) ---- */

/* Each refusal comes with its status and a message naming the problem. */
#define REFUSED(call, status, words) do { CHECK_STATUS(call, status); \
    CHECKF(strstr(cnn_last_error(), words) != NULL, "%s", cnn_last_error()); } while (0)

TEST(every_option_check_says_what_is_wrong) {
    cnn_net net;
    cnn_net_opts no;
    cnn_conv_opts co;
    cnn_pool_opts po;
    cnn_dense_opts dn;
    cnn_build_opts bo;
    cnn_sgd_opts sgd;
    cnn_fit_opts fo;
    cnn_dataset data;
    float x[8 * 64], probs[16], y0 = 0.0f;
    int32_t labels[8] = { 0, 1, 0, 1, 0, 1, 0, 7 }, classes[8];
    char summary[2048];
    int i;
    memset(x, 0, sizeof x);
    memset(&no, 0, sizeof no); no.channels = 1; no.height = 8; no.width = 8; no.loss = (cnn_loss)9;
    REFUSED(cnn_net_init(&net, &no), CNN_ERR_INVALID_ARGUMENT, "unknown loss 9");
    no.loss = CNN_LOSS_MSE;
    CHECK_OK(cnn_net_init(&net, &no));
    memset(&co, 0, sizeof co); co.filters = 2; co.padding = (cnn_padding)7;
    REFUSED(cnn_add_conv(&net, &co), CNN_ERR_INVALID_ARGUMENT, "unknown padding mode 7");
    CHECK_OK(cnn_net_init(&net, &no));
    memset(&po, 0, sizeof po); po.kind = (cnn_pool_kind)5;
    REFUSED(cnn_add_pool(&net, &po), CNN_ERR_INVALID_ARGUMENT, "unknown pooling kind 5");
    CHECK_OK(cnn_net_init(&net, &no));
    memset(&po, 0, sizeof po); po.stride_w = -2;
    REFUSED(cnn_add_pool(&net, &po), CNN_ERR_INVALID_ARGUMENT, "may not be negative");
    CHECK_OK(cnn_net_init(&net, &no));
    memset(&dn, 0, sizeof dn);
    REFUSED(cnn_add_dense(&net, &dn), CNN_ERR_INVALID_ARGUMENT, "units is 0");
    CHECK_OK(cnn_net_init(&net, &no));
    for (i = 0; i < CNN_MAX_LAYERS; i++) CHECK_OK(cnn_add_activation(&net, CNN_RELU, 0.0f));
    REFUSED(cnn_add_flatten(&net), CNN_ERR_INVALID_ARGUMENT, "CNN_MAX_LAYERS");
    /* a network of every parameterless kind, explicit pool pads, He initialisation, MSE */
    CHECK_OK(cnn_net_init(&net, &no));
    memset(&co, 0, sizeof co); co.filters = 2; co.activation = CNN_TANH;
    CHECK_OK(cnn_add_conv(&net, &co));
    memset(&po, 0, sizeof po); po.kind = CNN_POOL_AVG; po.size = 3; po.pad_top = 1; po.pad_left = 1;
    CHECK_OK(cnn_add_pool(&net, &po));
    CHECK_OK(cnn_add_activation(&net, CNN_LEAKY_RELU, 0.2f));
    CHECK_OK(cnn_add_activation(&net, CNN_SIGMOID, 0.0f));
    CHECK_OK(cnn_add_dropout(&net, 0.5f));
    CHECK_OK(cnn_add_global_avg_pool(&net));
    memset(&dn, 0, sizeof dn); dn.units = 2;
    CHECK_OK(cnn_add_dense(&net, &dn));
    memset(&bo, 0, sizeof bo); bo.max_batch = 8; bo.init = (cnn_init)4;
    REFUSED(cnn_net_build(&net, &bo), CNN_ERR_INVALID_ARGUMENT, "unknown initialisation 4");
    bo.init = CNN_INIT_HE_NORMAL;
    CHECK_OK(cnn_net_build(&net, &bo));
    CHECK(net.layers[0].w[0] != 0.0f);
    REFUSED(cnn_net_init_weights(&net, (cnn_init)4, 1), CNN_ERR_INVALID_ARGUMENT, "unknown initialisation 4");
    CHECK(cnn_net_summary(&net, summary, sizeof summary) < sizeof summary);
    CHECKF(strstr(summary, "leaky_relu") && strstr(summary, "sigmoid") && strstr(summary, "dropout 0.50") &&
           strstr(summary, "global_avgpool") && strstr(summary, "pool"), "%s", summary);
    {
        FILE *f = fopen(DIR "summary.txt", "w");
        CHECK(f != NULL);
        if (f) { cnn_net_print_summary(&net, f); fclose(f); }
    }
    memset(&sgd, 0, sizeof sgd); sgd.learning_rate = -1.0f;
    REFUSED(cnn_sgd_step(&net, &sgd), CNN_ERR_INVALID_ARGUMENT, "learning rate");
    sgd.learning_rate = 0.1f; sgd.momentum = 1.0f;
    REFUSED(cnn_sgd_step(&net, &sgd), CNN_ERR_INVALID_ARGUMENT, "momentum");
    sgd.momentum = 0.0f; sgd.weight_decay = -1.0f;
    REFUSED(cnn_sgd_step(&net, &sgd), CNN_ERR_INVALID_ARGUMENT, "weight decay");
    CHECK_OK(cnn_forward(&net, x, 8, 1));
    REFUSED(cnn_backward(&net, labels, NULL), CNN_ERR_INVALID_ARGUMENT, "label 7 of image 7");
    CHECK_OK(cnn_predict(&net, x, 8, probs, classes));        /* MSE: the outputs themselves */
    CHECK(memcmp(probs, cnn_output(&net), 16 * sizeof(float)) == 0);
    memset(&data, 0, sizeof data); data.images = x; data.labels = labels; data.count = 0;
    REFUSED(cnn_evaluate(&net, &data, &y0, NULL), CNN_ERR_INVALID_ARGUMENT, "count 0");
    data.count = 4;
    memset(&fo, 0, sizeof fo); fo.quiet = 1; fo.schedule = (cnn_schedule)9;
    REFUSED(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT, "unknown schedule 9");
    fo.schedule = CNN_SCHEDULE_CONSTANT; fo.validation_fraction = 1.5f;
    REFUSED(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT, "validation_fraction");
    fo.validation_fraction = 0.9f;
    REFUSED(cnn_fit(&net, &data, &fo, NULL), CNN_ERR_INVALID_ARGUMENT, "leaves none to train on");
    cnn_net_free(&net);
    CHECK(strcmp(cnn_simd_name(CNN_SIMD_AUTO), "auto") == 0 && strcmp(cnn_simd_name((cnn_simd)42), "?") == 0);
    {   /* arenas: sizes past the address space are refused, not wrapped */
        cnn_arena a;
        unsigned char buf[256];
        REFUSED(cnn_arena_create(&a, (size_t)-1, NULL), CNN_ERR_OVERFLOW, "too large");
        CHECK_OK(cnn_arena_init(&a, buf, sizeof buf));
        CHECK(cnn_arena_push(&a, 8) != NULL);           /* the next block starts at 64 */
        CHECK(cnn_arena_push(&a, (size_t)-1 - 8) == NULL);
        CHECKF(strstr(cnn_last_error(), "overflows the address space") != NULL, "%s", cnn_last_error());
    }
    CHECK_OK(cnn_net_init(&net, &no));                  /* an identity activation layer reads "linear" */
    CHECK_OK(cnn_add_activation(&net, CNN_ACT_NONE, 0.0f));
    CHECK(cnn_net_summary(&net, summary, sizeof summary) < sizeof summary && strstr(summary, "linear"));
}

/* Model files damaged in each field the reader checks, the checksum made right each time. */
TEST(every_model_file_check_says_what_is_wrong) {
    static unsigned char good[65536], bad[65536];
    cnn_net net, other;
    long n;
    const long rec = 32;                     /* the first layer record: after magic, version, header */
    CHECK_OK(small_model(&net, 1));
    CHECK_OK(cnn_save(&net, DIR "hardening.cnn"));
    n = read_file(DIR "hardening.cnn", good, sizeof good);
#define DAMAGED(offset, value, status, words) do { memcpy(bad, good, (size_t)n); put_u32(bad + (offset), (value)); \
        reseal(bad, n); write_file(DIR "bad.cnn", bad, n); REFUSED(cnn_load(&other, DIR "bad.cnn", NULL), status, words); } while (0)
    DAMAGED(12, 5, CNN_ERR_FILE_CORRUPT, "impossible header (loss 5");         /* header: loss 12, */
    DAMAGED(28, 0, CNN_ERR_FILE_CORRUPT, "impossible header");                 /* C, H, W 16..24, layers 28 */
    DAMAGED(16, 0, CNN_ERR_FILE_CORRUPT, "load: net init");
    DAMAGED(rec + 4, 17, CNN_ERR_FILE_CORRUPT, "layer 0: activation 17");
    DAMAGED(rec + 6 * 4, 0, CNN_ERR_FILE_CORRUPT, "layer 0: a conv layer with a zero kernel");
    DAMAGED(rec + 19 * 4, 5, CNN_ERR_FILE_VERSION, "layer 0: a conv layer of 5 groups");
    DAMAGED(rec + 128 + 8 * 4, 0, CNN_ERR_FILE_CORRUPT, "layer 1: a pool layer with a zero window or stride");
    DAMAGED(rec + 4 * 128, 9, CNN_ERR_FILE_SHAPE, "the file has 9 tensors, its architecture needs 6");
    DAMAGED(rec + 4 * 128 + 4, 3, CNN_ERR_FILE_SHAPE, "layer 0 (conv) weights has 3 dimensions, expected 4");
    DAMAGED(rec + 4 * 128 + 4 + 5 * 4, 0x7fc00000u, CNN_ERR_FILE_CORRUPT, "layer 0 holds a NaN or infinite parameter");
    /* records of the parameterless kinds load back */
    {
        cnn_net_opts no;
        cnn_dense_opts dn;
        cnn_build_opts bo;
        memset(&no, 0, sizeof no); no.channels = 2; no.height = 3; no.width = 3;
        memset(&dn, 0, sizeof dn); dn.units = 2;
        memset(&bo, 0, sizeof bo); bo.max_batch = 1;
        CHECK_OK(cnn_net_init(&other, &no));
        CHECK_OK(cnn_add_dropout(&other, 0.3f));
        CHECK_OK(cnn_add_global_avg_pool(&other));
        CHECK_OK(cnn_add_flatten(&other));
        CHECK_OK(cnn_add_dense(&other, &dn));
        CHECK_OK(cnn_net_build(&other, &bo));
        CHECK_OK(cnn_save(&other, DIR "kinds.cnn"));
        REFUSED(cnn_load_weights(&net, DIR "kinds.cnn"), CNN_ERR_FILE_SHAPE, "the file's network takes 2x3x3 with 4 layers");
        cnn_net_free(&other);
        CHECK_OK(cnn_load(&other, DIR "kinds.cnn", &bo));
        CHECK(other.layer_count == 4 && other.layers[0].rate == 0.3f && other.layers[1].kind == CNN_LAYER_GLOBAL_AVG_POOL);
        cnn_net_free(&other);
    }
#undef DAMAGED
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
    RUN(softmax_of_infinities_follows_the_limits);
    RUN(losses_refuse_nan_and_infinity);
    RUN(nan_is_an_error_everywhere_a_loss_is_computed);
    RUN(a_step_that_would_overflow_changes_nothing);
    RUN(huge_learning_rate_ends_in_numeric_with_the_last_good_weights);
    RUN(inputs_near_the_float_limits_pass_through_every_layer);
    RUN(fit_options_are_reported_by_name);
    RUN(progress_bar_in_a_log_file);
    RUN(idx_reader_passes_over_a_directory);
    RUN(every_option_check_says_what_is_wrong);
    RUN(every_model_file_check_says_what_is_wrong);
    return harness_report();
}
