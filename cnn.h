/* cnn.h - convolutional neural networks in one C header. Public domain / MIT, see the end.

   Do this:
       #define CNN_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.

       #include ...
       #define CNN_IMPLEMENTATION
       #include "cnn.h"

   Everywhere else, include "cnn.h" without the define: you get the declarations only.

   WHAT IT IS
       Build, train, evaluate, save and run a convolutional neural network with no other
       dependency than the C standard library. The file reads top to bottom like a lecture.
       Every operation is a plain function over raw float pointers (usable alone, for tests and
       benchmarks), its forward pass next to its backward pass.

   CONTENTS
       The declarations (sections 1 to 11), then the implementation in two parts. Each entry
       is a banner below; search for it ("4. Convolution", "F4. Convolution").
       Part I, the lecture: for each operation its math, its scalar reference, its one dispatch
       point. Read alone, it is the whole library as the scalar path runs it.
         1. Configuration and types
         2. The arena
         3. Tensors and shapes
         4. Convolution
         5. Activations, softmax, dropout
         5b. Batch normalization
         6. Pooling
         6b. Upsampling
         7. Dense (fully connected)
         8. Loss functions
         9. The network
         10. Training
         11. Save and load
         11b. NumPy .npy files
       Part II, the fast kernels: the vector twins of Part I, numbered after the section they
       serve, each written once for every vector width.
         F1. Shared vector kernels
         F4. Convolution
         F5. Activations
         F6. Pooling
         F7. Dense
         F9. The network
         F10. Training

   CONVENTIONS
       - float32 everywhere. Activations are NCHW (batch, channels, rows, columns); convolution
         weights are KCRS (out channels, in channels, kernel rows, kernel columns); dense weights
         are (out, in). These are PyTorch's layouts, so weights compare directly.
       - "Convolution" is cross-correlation, as in every deep-learning framework: the kernel is
         not flipped. y[k][i][j] = b[k] + sum_{c,r,s} w[k][c][r][s] * x[c][i*stride+r*dil-pad][..].
       - Functions that can fail return a cnn_status; cnn_last_error() then returns a message
         naming the problem (which layer, which shape, what was expected). The library never
         calls abort() or exit() and never prints unless asked (cnn_fit's progress bar).

   MEMORY
       One arena per network holds the weights, gradients, optimizer state, the activations of a
       batch and scratch. cnn_net_required_bytes() tells how much; the arena can be a buffer
       you own (a static array: no malloc at all) or one allocated through CNN_MALLOC. After
       cnn_net_build(), forward, backward and an optimizer step allocate nothing.

   CONFIGURATION (define before including the implementation)
       CNN_STATIC            make every function static (private to the including file)
       CNN_MALLOC(sz,ctx)    \  allocator hooks, define both or neither; ctx is the pointer
       CNN_FREE(p,ctx)       /  given in cnn_build_opts.alloc_ctx (NULL elsewhere)
       CNN_ASSERT(x)         internal invariant checks, default none; define it as assert(x)
                             to check them (a failed one then aborts: a bug in cnn.h)
       CNN_NO_STDIO          no <stdio.h>: drops save/load to files and printing
       CNN_NO_SIMD           no intrinsics at all: only the portable scalar kernels
       CNN_NO_AVX512         x86-64 without the AVX-512 kernels (AVX2+FMA and scalar only):
                             for targets known to lack AVX-512; it is over a third of the
                             code the compiler optimizes, more under sanitizers
       CNN_NO_THREADS        no thread pool (no <pthread.h>): a network with threads > 1 runs
                             its parts one after another, unless given a parallel_for; and
                             plain, not atomic, accesses to the kernel-path state (the first
                             build must then not race another)
       CNN_MAX_LAYERS        layers per network (default 32); it sets sizeof(cnn_net), so every
                             file must use the same value (a mismatch is refused, not trusted)
       CNN_L2_BYTES          the per-core L2 cache the kernels block for (default: what
                             the CPU reports, read once; 1 MB where it reports nothing);
                             a convolution whose packed weights pass half of it works
                             through its filters in several passes over the pixels

   KERNEL PATHS
       On x86-64 the AVX-512 kernels, else the AVX2+FMA ones, are chosen at run time when the
       CPU (and the OS) has them; on AArch64 the NEON kernels are always used; the portable
       scalar kernels are the reference and the fallback. cnn_simd_force() picks a path for the
       process; the environment variable CNN_SIMD=scalar (or avx2) makes that path the default.

   THREADS
       A network uses the threads it is built with (cnn_build_opts.threads, or CNN_THREADS in
       the environment; default one): its own pool of worker threads, started by cnn_net_build
       and joined by cnn_net_free, or the caller's pool through cnn_build_opts.parallel_for.
       Every layer's forward and backward pass and the optimizer step split their work over the
       threads; nothing is started or allocated per batch. Results are bit-identical for every
       thread count (docs/design.md says how).
       A cnn_net is still used by one thread at a time: two calls on the same network from two
       threads at once are not allowed, even read-only ones (forward writes the activations).
       Different networks may be used from different threads, also networks that read one
       network's weights (cnn_build_opts.shared_weights): one copy of the weights, a small
       inference network per thread. The kernel path is detected once, atomically
       (CNN_NO_THREADS: plainly). cnn_last_error() is per thread where the compiler supports
       thread-local storage.
*/
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>
#ifndef CNN_NO_STDIO
#include <stdio.h>
#endif

/* CNN_STATIC: every function static; 'unused' keeps -Wunused-function quiet about the
   functions a file does not call. */
#ifdef CNN_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define CNNDEF static __attribute__((unused))
#else
#define CNNDEF static
#endif
#else
#define CNNDEF extern
#endif

#ifndef CNN_MAX_LAYERS
#define CNN_MAX_LAYERS 32
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================
   1. Configuration and types
   ============================================================================================ */

/* The version of this header (semantic versioning: a new MAJOR breaks source compatibility,
   a new MINOR adds, a new PATCH fixes). CHANGELOG.md lists what each release changed. The
   model file format has its own number, CNN_FILE_VERSION (section 11). */
#define CNN_VERSION_MAJOR 0
#define CNN_VERSION_MINOR 1
#define CNN_VERSION_PATCH 0
#define CNN_VERSION_STRING "0.1.0"
/* The version the implementation was compiled from, CNN_VERSION_STRING there: a program
   linked against a cnn.h built elsewhere can compare it with the header it was compiled with. */
CNNDEF const char *cnn_version(void);

typedef enum cnn_status {
    CNN_OK = 0,
    CNN_ERR_INVALID_ARGUMENT,   /* NULL pointer, zero or negative size, bad option value      */
    CNN_ERR_SHAPE,              /* shapes that do not fit together (kernel larger than input) */
    CNN_ERR_OVERFLOW,           /* sizes whose products do not fit in memory sizes             */
    CNN_ERR_OUT_OF_MEMORY,      /* the arena (or the allocator) has not enough bytes           */
    CNN_ERR_STATE,              /* call out of order: backward before forward, net not built  */
    CNN_ERR_NUMERIC,            /* a NaN or infinite loss or update, NaN outputs, NaN weights  */
    CNN_ERR_IO,                 /* the file could not be opened, read, written or renamed      */
    CNN_ERR_FILE_MAGIC,         /* not a cnn.h model file                                      */
    CNN_ERR_FILE_VERSION,       /* a model file of a version, or with a layer, this code lacks  */
    CNN_ERR_FILE_TRUNCATED,     /* the file ends early                                         */
    CNN_ERR_FILE_CORRUPT,       /* a field holds an impossible value                           */
    CNN_ERR_FILE_SHAPE,         /* a tensor's shape differs from what the architecture needs   */
    CNN_ERR_FILE_CHECKSUM,      /* the CRC-32 does not match the contents                      */
    CNN_STATUS_COUNT
} cnn_status;

/* A short name for a status ("CNN_ERR_SHAPE"). */
CNNDEF const char *cnn_status_name(cnn_status status);
/* The message of the last failure in this thread ("conv2d: layer 2 ..."), "" if none. */
CNNDEF const char *cnn_last_error(void);

/* Kernel paths. Every kernel has a portable scalar reference; on x86-64 an AVX-512 path, else
   an AVX2+FMA one, is chosen at run time when the CPU and the OS support it (the same binary
   still runs on older CPUs). Paths agree within floating-point rounding, not bit for bit: FMA and summation order
   differ. The choice is process-wide; force a path only while no kernel is running. */
typedef enum cnn_simd {
    CNN_SIMD_AUTO = 0,   /* the best path this CPU offers */
    CNN_SIMD_SCALAR,
    CNN_SIMD_AVX2,       /* x86-64 AVX2 + FMA */
    CNN_SIMD_NEON,       /* AArch64 */
    CNN_SIMD_AVX512      /* x86-64 AVX-512F (chosen ahead of AVX2) */
} cnn_simd;
/* Forces a path (CNN_SIMD_AUTO: back to the best). Fails if the CPU or build lacks it. */
CNNDEF cnn_status  cnn_simd_force(cnn_simd path);
CNNDEF cnn_simd    cnn_simd_active(void);
CNNDEF int         cnn_simd_available(cnn_simd path);
CNNDEF const char *cnn_simd_name(cnn_simd path);

/* Activation functions. Zero means none (identity). Like every enum here, the values carry
   their type's prefix (CNN_ACT_); the names without it are aliases kept for older code. */
typedef enum cnn_activation {
    CNN_ACT_NONE = 0,
    CNN_ACT_RELU,          /* max(0, x)                                   */
    CNN_ACT_LEAKY_RELU,    /* x > 0 ? x : alpha * x   (alpha default 0.01) */
    CNN_ACT_SIGMOID,       /* 1 / (1 + e^-x)                              */
    CNN_ACT_TANH,          /* tanh(x)                                     */
    CNN_ACTIVATION_COUNT,
    CNN_RELU = CNN_ACT_RELU, CNN_LEAKY_RELU = CNN_ACT_LEAKY_RELU,     /* aliases */
    CNN_SIGMOID = CNN_ACT_SIGMOID, CNN_TANH = CNN_ACT_TANH
} cnn_activation;
/* In the layers' options an alpha of 0 means the default slope 0.01; this negative zero asks
   for a slope of exactly 0 (a leaky ReLU that computes what CNN_ACT_RELU does). */
#define CNN_ALPHA_ZERO (-0.0f)

/* A small seeded random number generator (PCG32): same seed, same numbers, on every machine. */
typedef struct cnn_rng { uint64_t state, inc; } cnn_rng;
CNNDEF void     cnn_rng_seed(cnn_rng *rng, uint64_t seed);
CNNDEF uint32_t cnn_rng_u32(cnn_rng *rng);
CNNDEF float    cnn_rng_uniform(cnn_rng *rng);          /* [0, 1)  */
CNNDEF float    cnn_rng_normal(cnn_rng *rng);           /* N(0, 1) */
CNNDEF uint32_t cnn_rng_below(cnn_rng *rng, uint32_t n); /* [0, n), unbiased */

/* ============================================================================================
   2. The arena: one region, bump allocation, 64-byte aligned blocks
   ============================================================================================ */

typedef struct cnn_arena {
    unsigned char *base;    /* NULL: no memory (cnn_net_required_bytes measures so)     */
    size_t size;            /* bytes available                                           */
    size_t used;            /* bytes handed out (including alignment padding)           */
    size_t high_water;      /* the largest 'used' ever reached                           */
    void *allocation;       /* what CNN_MALLOC returned (NULL for a caller's buffer)     */
    void *alloc_ctx;
} cnn_arena;

#define CNN_ALIGNMENT 64

/* Use the caller's buffer (for example a static array). No allocation ever. */
CNNDEF cnn_status cnn_arena_init(cnn_arena *arena, void *buffer, size_t size);
/* Allocate 'size' bytes through CNN_MALLOC. */
CNNDEF cnn_status cnn_arena_create(cnn_arena *arena, size_t size, void *alloc_ctx);
/* Frees the memory if the arena allocated it; the caller's buffer is left alone. */
CNNDEF void       cnn_arena_free(cnn_arena *arena);
/* A block of 'bytes' bytes aligned to CNN_ALIGNMENT, or NULL (and an error) when full. */
CNNDEF void      *cnn_arena_push(cnn_arena *arena, size_t bytes);
/* Scratch: remember the position, and later give back everything pushed after it. */
CNNDEF size_t     cnn_arena_mark(const cnn_arena *arena);
CNNDEF void       cnn_arena_rewind(cnn_arena *arena, size_t mark);

/* ============================================================================================
   3. Tensors and shapes
   ============================================================================================ */

/* Padding modes. For one axis of size n, kernel k, stride s, dilation d (extent e = d*(k-1)+1):
     valid:    no padding.                       out = floor((n - e) / s) + 1
     same:     out = ceil(n / s); total pad = max((out-1)*s + e - n, 0), the odd one at the
               bottom/right (as TensorFlow does).
     full:     e - 1 on each side (every partial overlap), out = n + e - 1 for s = 1.
     explicit: the pads you give.
   In every case out = floor((n + pad_before + pad_after - e) / s) + 1. */
typedef enum cnn_padding {
    CNN_PAD_VALID = 0,
    CNN_PAD_SAME,
    CNN_PAD_FULL,
    CNN_PAD_EXPLICIT
} cnn_padding;

/* The pads of one axis for a padding mode (explicit mode gives 0, 0). */
CNNDEF void cnn_padding_for(cnn_padding mode, int in, int kernel, int stride, int dilation,
                            int *pad_before, int *pad_after);
/* floor((in + pad_total - dilation*(kernel-1) - 1) / stride) + 1, or 0 when the dilated kernel
   does not fit in the padded input (or an argument is out of range). */
CNNDEF int cnn_conv_output_size(int in, int kernel, int stride, int dilation, int pad_total);

/* ============================================================================================
   4. Convolution (direct and Winograd)
   ============================================================================================ */

/* How a convolution is computed. Zero (auto) lets the library pick per layer and pass: direct
   where Winograd does not pay (few input channels, small outputs), Winograd where it does
   (the rule is in docs/design.md). Winograd serves only 3x3 kernels at stride 1 and dilation 1;
   asking for it elsewhere is CNN_ERR_INVALID_ARGUMENT. Auto never fails. */
typedef enum cnn_conv_algo {
    CNN_CONV_AUTO = 0,
    CNN_CONV_DIRECT,             /* the direct kernels: the variant below that pays, per pass */
    CNN_CONV_WINOGRAD_2X2,       /* F(2x2, 3x3): 16 products per 4 outputs instead of 36     */
    CNN_CONV_WINOGRAD_4X4,       /* F(4x4, 3x3): 36 products per 16 outputs instead of 144   */
    /* One direct variant, forced: for benchmarks and tests of the layer functions below, so
       each can be measured and checked alone. It runs on a vector path, or the call fails with
       CNN_ERR_INVALID_ARGUMENT naming the pass and shape it cannot serve (the scalar path has
       none of them). cnn_add_conv refuses them. */
    CNN_CONV_DIRECT_GRID,        /* over a padded copy, pixels in the lanes: forward at stride 1
                                    and the data gradient; needs the workspace                */
    CNN_CONV_DIRECT_ROWS,        /* output pixels as rows (forward, data gradient) or kernel
                                    taps as rows (weight gradient); needs the workspace       */
    CNN_CONV_DIRECT_LOWERED,     /* im2col strips packed on the fly, no workspace: every
                                    forward and weight gradient, the data gradient at stride 1 */
    CNN_CONV_ALGO_COUNT
} cnn_conv_algo;
/* "auto", "direct", "wino2", "wino4", "grid", "rows", "lowered". */
CNNDEF const char *cnn_conv_algo_name(cnn_conv_algo algo);

/* The shape of one 2-D convolution. Zero-initialise it (memset or = {0}) and set what you
   need: as in the option structs, zero means the default for every field that has one
   (strides and dilations 1, padding 0, algo auto, groups 1), so fields added later (algo,
   groups) keep their default in code written before them. The sizes n, c, h, w, k, kh, kw
   are required.
     x: n * c * h * w        w: k * (c/groups) * kh * kw      b: k (or NULL: no bias)
     y: n * k * out_h * out_w
   Groups (PyTorch's Conv2d groups): the c input channels and the k filters are cut into
   'groups' equal runs, and filter k sees only the input channels of its own run, so a filter
   has c/groups channels. groups = c is a depthwise convolution (k = c * multiplier). */
typedef struct cnn_conv2d_shape {
    int n, c, h, w;                 /* input batch, channels, rows, columns */
    int k, kh, kw;                  /* filters, kernel rows, kernel columns */
    int stride_h, stride_w;         /* zero: 1 */
    int dilation_h, dilation_w;     /* zero: 1 */
    int pad_top, pad_bottom, pad_left, pad_right;
    cnn_conv_algo algo;             /* zero: auto. Winograd needs the workspace (_ws below)  */
    int groups;                     /* zero: 1. Must divide c and k                          */
} cnn_conv2d_shape;

/* The algorithm a pass of this shape runs (pass 0 forward, 1 data gradient, 2 weight
   gradient): algo resolved by the auto rule (from the shape and the active kernel path:
   cnn_simd_active), and direct where Winograd cannot serve. */
CNNDEF cnn_conv_algo cnn_conv2d_algo_chosen(const cnn_conv2d_shape *s, int pass);

/* Checks a shape; out_h and out_w (either may be NULL) receive the output size. */
CNNDEF cnn_status cnn_conv2d_check(const cnn_conv2d_shape *s, int *out_h, int *out_w);
/* y = conv(x, w) + b */
CNNDEF cnn_status cnn_conv2d_forward(const cnn_conv2d_shape *s, const float *x, const float *w,
                                     const float *b, float *y);
/* dx = dL/dx from dy = dL/dy (overwrites dx) */
CNNDEF cnn_status cnn_conv2d_backward_data(const cnn_conv2d_shape *s, const float *dy,
                                           const float *w, float *dx);
/* dw = dL/dw, db = dL/db (db may be NULL), summed over the batch (overwrites dw, db) */
CNNDEF cnn_status cnn_conv2d_backward_weights(const cnn_conv2d_shape *s, const float *x,
                                              const float *dy, float *dw, float *db);

/* The same three with a workspace: scratch memory that lets them take faster paths (at stride
   1, a direct convolution over a padded copy instead of im2col packing; for the data
   gradient, at every stride; for the weight gradient, a product that reads the input in place
   and fills every vector lane with a filter). cnn_conv2d_workspace_bytes(s) is what they can use (0 when
   nothing would); with less, or NULL, they take the paths that need none. The workspace may
   have any alignment and holds nothing between calls. The network keeps one in its arena. */
CNNDEF size_t     cnn_conv2d_workspace_bytes(const cnn_conv2d_shape *s);
CNNDEF cnn_status cnn_conv2d_forward_ws(const cnn_conv2d_shape *s, const float *x, const float *w,
                                        const float *b, float *y, void *workspace, size_t workspace_bytes);
CNNDEF cnn_status cnn_conv2d_backward_data_ws(const cnn_conv2d_shape *s, const float *dy, const float *w,
                                              float *dx, void *workspace, size_t workspace_bytes);
CNNDEF cnn_status cnn_conv2d_backward_weights_ws(const cnn_conv2d_shape *s, const float *x, const float *dy,
                                                 float *dw, float *db, void *workspace, size_t workspace_bytes);

/* Transposed convolution (PyTorch's ConvTranspose2d): the map whose matrix is the transpose
   of a convolution's, so each input pixel scatters a weighted kernel into the output. It
   upsamples: per axis
       out = (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1
   (output_pad, smaller than the stride or the dilation, adds rows at the bottom / right that
   the same convolution would map to the same input size). Zero-initialise and set what you
   need, as cnn_conv2d_shape (zero strides, dilations, groups: 1).
     x: n * c * h * w        w: c * (k/groups) * kh * kw (PyTorch's layout)      b: k or NULL
     y: n * k * out_h * out_w
   It runs on the convolution kernels: with the convolution C of the same weights from k
   channels of out_h x out_w to c channels of h x w, its forward is C's data gradient, its data
   gradient is C's forward, and its weight gradient is C's with x and dy swapped. */
typedef struct cnn_conv_transpose2d_shape {
    int n, c, h, w;                 /* input batch, channels, rows, columns */
    int k, kh, kw;                  /* output channels, kernel rows, kernel columns */
    int stride_h, stride_w;         /* zero: 1 */
    int dilation_h, dilation_w;     /* zero: 1 */
    int pad_h, pad_w;               /* PyTorch's padding: rows (columns) taken off each side */
    int output_pad_h, output_pad_w; /* added at the bottom (right); < stride or < dilation */
    int groups;                     /* zero: 1. Must divide c and k                          */
    cnn_conv_algo algo;             /* zero: auto; the algorithm of the convolution it runs */
} cnn_conv_transpose2d_shape;

CNNDEF cnn_status cnn_conv_transpose2d_check(const cnn_conv_transpose2d_shape *s, int *out_h, int *out_w);
/* y = convT(x, w) + b;  dx from dy (overwrites dx);  dw, db (db may be NULL) summed over the
   batch (overwrites). The _ws forms take a workspace as the convolution's do. */
CNNDEF cnn_status cnn_conv_transpose2d_forward(const cnn_conv_transpose2d_shape *s, const float *x, const float *w,
                                               const float *b, float *y);
CNNDEF cnn_status cnn_conv_transpose2d_backward_data(const cnn_conv_transpose2d_shape *s, const float *dy,
                                                     const float *w, float *dx);
CNNDEF cnn_status cnn_conv_transpose2d_backward_weights(const cnn_conv_transpose2d_shape *s, const float *x,
                                                        const float *dy, float *dw, float *db);
CNNDEF size_t     cnn_conv_transpose2d_workspace_bytes(const cnn_conv_transpose2d_shape *s);
CNNDEF cnn_status cnn_conv_transpose2d_forward_ws(const cnn_conv_transpose2d_shape *s, const float *x, const float *w,
                                                  const float *b, float *y, void *workspace, size_t workspace_bytes);
CNNDEF cnn_status cnn_conv_transpose2d_backward_data_ws(const cnn_conv_transpose2d_shape *s, const float *dy,
                                                        const float *w, float *dx, void *workspace, size_t workspace_bytes);
CNNDEF cnn_status cnn_conv_transpose2d_backward_weights_ws(const cnn_conv_transpose2d_shape *s, const float *x,
                                                           const float *dy, float *dw, float *db, void *workspace,
                                                           size_t workspace_bytes);

/* ============================================================================================
   5. Activations, softmax, dropout
   ============================================================================================ */

/* y = f(x) elementwise (y may equal x). alpha is the leaky-ReLU slope. */
CNNDEF cnn_status cnn_activation_forward(cnn_activation act, float alpha, size_t count,
                                         const float *x, float *y);
/* dx = dy * f'(x), with f' written in terms of the output y = f(x) (dx may equal dy). */
CNNDEF cnn_status cnn_activation_backward(cnn_activation act, float alpha, size_t count,
                                          const float *y, const float *dy, float *dx);

/* Row-wise softmax of an n x classes matrix, stable for large logits. */
CNNDEF cnn_status cnn_softmax(int n, int classes, const float *logits, float *probs);

/* Inverted dropout: in training, each value is zeroed with probability 'rate' and the rest are
   scaled by 1/(1-rate), so evaluation (the identity) needs no rescaling. mask receives the
   factor applied to each value (0 or 1/(1-rate)) for the backward pass. */
CNNDEF cnn_status cnn_dropout_forward(size_t count, float rate, int training, cnn_rng *rng,
                                      const float *x, float *y, float *mask);
CNNDEF cnn_status cnn_dropout_backward(size_t count, const float *dy, const float *mask,
                                       float *dx);

/* ============================================================================================
   5b. Batch normalization
   ============================================================================================ */

/* Batch normalization (PyTorch's BatchNorm2d, and BatchNorm1d with hw = 1), per channel of x,
   n x c x hw values (NCHW; a batch of vectors of c features is hw = 1):
       y = (x - mean) / sqrt(var + eps) * gamma + beta
   Training uses the batch's statistics over the m = n * hw values of each channel (the biased
   variance, m >= 2) and moves the running ones towards them, with the unbiased variance:
       running = (1 - momentum) * running + momentum * batch
   Evaluation uses the running statistics. gamma may be NULL (1), beta NULL (0). eps > 0,
   momentum in [0, 1] (0: the running statistics stay as they are). save_mean and save_invstd
   (c each, may be NULL) receive the batch mean and 1 / sqrt(var + eps) for the backward pass;
   running_mean and running_var may be NULL (not updated). */
CNNDEF cnn_status cnn_batchnorm_forward_train(int n, int c, int hw, float eps, float momentum,
                                              const float *x, const float *gamma, const float *beta,
                                              float *running_mean, float *running_var,
                                              float *y, float *save_mean, float *save_invstd);
CNNDEF cnn_status cnn_batchnorm_forward_eval(int n, int c, int hw, float eps, const float *x,
                                             const float *gamma, const float *beta,
                                             const float *running_mean, const float *running_var,
                                             float *y);
/* dx (may be NULL), dgamma and dbeta (c each, may be NULL; overwritten) from dy. mean and
   invstd are the statistics the forward pass used: save_mean and save_invstd after training
   (batch_stats = 1: the gradient flows through them too), or the running mean and
   1 / sqrt(running_var + eps) after evaluation (batch_stats = 0: they are constants). */
CNNDEF cnn_status cnn_batchnorm_backward(int n, int c, int hw, int batch_stats, const float *x,
                                         const float *dy, const float *gamma, const float *mean,
                                         const float *invstd, float *dx, float *dgamma, float *dbeta);

/* ============================================================================================
   6. Pooling
   ============================================================================================ */

/* The shape of one 2-D pooling. Every field must be set except the flags.
   Output size: floor((n + pads - k) / s) + 1, or with ceil_mode ceil(...) + 1 where a last
   window that starts inside the input (or the left padding) is kept, as PyTorch's ceil_mode.
   Padding may be at most half the window. Max pooling ignores padding; average pooling
   divides by the window clipped to the padded input when count_pad is set, else by the
   number of real input values in the window. */
typedef struct cnn_pool2d_shape {
    int n, c, h, w;
    int kh, kw;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int ceil_mode;
    int count_pad;
} cnn_pool2d_shape;

CNNDEF cnn_status cnn_pool2d_check(const cnn_pool2d_shape *s, int *out_h, int *out_w);
/* argmax (may be NULL) receives, per output, the index within its input plane of the max. */
CNNDEF cnn_status cnn_maxpool2d_forward(const cnn_pool2d_shape *s, const float *x, float *y,
                                        int32_t *argmax);
/* Routes each dy to the input that was the max (overwrites dx). */
CNNDEF cnn_status cnn_maxpool2d_backward(const cnn_pool2d_shape *s, const float *dy,
                                         const int32_t *argmax, float *dx);
CNNDEF cnn_status cnn_avgpool2d_forward(const cnn_pool2d_shape *s, const float *x, float *y);
CNNDEF cnn_status cnn_avgpool2d_backward(const cnn_pool2d_shape *s, const float *dy, float *dx);
/* Global average pooling: n*c planes of hw values -> n*c values. */
CNNDEF cnn_status cnn_global_avgpool_forward(int n, int c, int hw, const float *x, float *y);
CNNDEF cnn_status cnn_global_avgpool_backward(int n, int c, int hw, const float *dy, float *dx);
/* Global max pooling: n*c planes of hw values -> n*c values, each its plane's maximum (the
   first one in memory order; a NaN in the plane is the result, as max pooling). argmax (may
   be NULL) receives its index within the plane; backward routes each dy there (overwrites dx). */
CNNDEF cnn_status cnn_global_maxpool_forward(int n, int c, int hw, const float *x, float *y, int32_t *argmax);
CNNDEF cnn_status cnn_global_maxpool_backward(int n, int c, int hw, const float *dy, const int32_t *argmax, float *dx);

/* Upsampling (section 6b): each plane resized to out_h x out_w, PyTorch's nn.Upsample /
   F.interpolate. Nearest: y[i][j] = x[floor(i * h / out_h)][floor(j * w / out_w)] (PyTorch's
   'nearest'). Bilinear: the source position of output row i is
     align_corners 0:  (i + 0.5) * h / out_h - 0.5, clamped at 0  (pixel centres line up)
     align_corners 1:  i * (h - 1) / (out_h - 1)                   (corner pixels line up)
   and likewise for columns; y is the weighted mean of the four inputs around it. Backward is
   the adjoint: each dy is added back to the inputs it read, with the same weights. */
typedef enum cnn_upsample_mode { CNN_UPSAMPLE_NEAREST = 0, CNN_UPSAMPLE_BILINEAR, CNN_UPSAMPLE_MODE_COUNT } cnn_upsample_mode;
typedef struct cnn_upsample2d_shape {
    int n, c, h, w;               /* the input, NCHW                                        */
    int out_h, out_w;             /* the output plane (smaller than the input also works)  */
    cnn_upsample_mode mode;
    int align_corners;            /* bilinear only (PyTorch refuses it with nearest too)     */
} cnn_upsample2d_shape;
CNNDEF cnn_status cnn_upsample2d_check(const cnn_upsample2d_shape *s);
/* y (n*c*out_h*out_w) from x (n*c*h*w) */
CNNDEF cnn_status cnn_upsample2d_forward(const cnn_upsample2d_shape *s, const float *x, float *y);
/* dx (n*c*h*w, overwritten) from dy (n*c*out_h*out_w) */
CNNDEF cnn_status cnn_upsample2d_backward(const cnn_upsample2d_shape *s, const float *dy, float *dx);

/* ============================================================================================
   7. Dense (fully connected)
   ============================================================================================ */

/* y[n][o] = b[o] + sum_i w[o][i] * x[n][i]. x: n*in, w: out*in, b: out (or NULL), y: n*out */
CNNDEF cnn_status cnn_dense_forward(int n, int in, int out, const float *x, const float *w,
                                    const float *b, float *y);
/* dx = dy * w  (n*in, overwritten) */
CNNDEF cnn_status cnn_dense_backward_data(int n, int in, int out, const float *dy,
                                          const float *w, float *dx);
/* dw = dy^T * x (out*in), db = column sums of dy (may be NULL); overwritten */
CNNDEF cnn_status cnn_dense_backward_weights(int n, int in, int out, const float *x,
                                             const float *dy, float *dw, float *db);

/* ============================================================================================
   8. Loss functions
   ============================================================================================ */

/* Softmax + cross-entropy, mean over the batch: loss = -1/n sum_i log softmax(z_i)[label_i].
   dlogits (may be NULL) = (softmax(z) - onehot(label)) / n. Labels in [0, classes). */
CNNDEF cnn_status cnn_softmax_cross_entropy(int n, int classes, const float *logits,
                                            const int32_t *labels, float *loss, float *dlogits);
/* Mean squared error over all n*size values: loss = 1/(n*size) sum (p - t)^2,
   dpred (may be NULL) = 2 (p - t) / (n*size). */
CNNDEF cnn_status cnn_mean_squared_error(int n, int size, const float *pred, const float *target,
                                         float *loss, float *dpred);

/* ============================================================================================
   9. The network: a sequence of layers
   ============================================================================================ */

typedef enum cnn_layer_kind {
    CNN_LAYER_CONV = 1,
    CNN_LAYER_POOL,
    CNN_LAYER_GLOBAL_AVGPOOL,
    CNN_LAYER_DENSE,
    CNN_LAYER_ACTIVATION,
    CNN_LAYER_DROPOUT,
    CNN_LAYER_FLATTEN,
    CNN_LAYER_CONV_TRANSPOSE = 8,    /* transposed convolution (cnn_add_conv_transpose)        */
    CNN_LAYER_BATCHNORM = 11,     /* batch normalization (cnn_add_batchnorm)                 */
    CNN_LAYER_UPSAMPLE = 9,
    CNN_LAYER_GLOBAL_MAXPOOL = 10,
    CNN_LAYER_GLOBAL_AVG_POOL = CNN_LAYER_GLOBAL_AVGPOOL     /* alias, the earlier name */
} cnn_layer_kind;

typedef enum cnn_pool_kind { CNN_POOL_MAX = 0, CNN_POOL_AVG } cnn_pool_kind;
typedef enum cnn_loss { CNN_LOSS_SOFTMAX_CROSS_ENTROPY = 0, CNN_LOSS_MSE } cnn_loss;
typedef enum cnn_init { CNN_INIT_GLOROT_UNIFORM = 0, CNN_INIT_HE_NORMAL } cnn_init;

/* Threads (see THREADS at the top). A parallel step is a task run once for each index in
   [0, range), range being the network's thread count: task(context, i) may run on any thread,
   in any order, and parallel_for returns when every index has run. This is pthreadpool's
   pthreadpool_parallelize_1d shape, so a program with its own pool passes a short adapter. */
typedef void (*cnn_parallel_task)(void *context, size_t index);
typedef void (*cnn_parallel_for_fn)(void *pool, cnn_parallel_task task, void *context, size_t range);
#define CNN_MAX_THREADS 256
/* Cores (logical processors) online, 1 where the platform cannot say: a threads value for
   a program that wants every core. */
CNNDEF int cnn_cpu_count(void);

/* Options structs: zero-initialise, set what you need; zero means the default. */
typedef struct cnn_net_opts {
    int channels, height, width;  /* the input image (required)                            */
    cnn_loss loss;                /* default softmax cross-entropy on the last layer's output */
} cnn_net_opts;

typedef struct cnn_conv_opts {
    int filters;                  /* output channels (required)                          */
    int kernel;                   /* square kernel size, default 3                        */
    int kernel_h, kernel_w;       /* a non-square kernel (override 'kernel')              */
    int stride;                   /* default 1; stride_h/stride_w override per axis       */
    int stride_h, stride_w;
    int dilation;                 /* default 1; dilation_h/dilation_w override per axis   */
    int dilation_h, dilation_w;
    cnn_padding padding;          /* default valid                                         */
    int pad_top, pad_bottom, pad_left, pad_right;   /* with CNN_PAD_EXPLICIT              */
    int no_bias;                  /* set to leave out the bias                             */
    cnn_activation activation;    /* fused activation, default none                        */
    float alpha;                  /* leaky-ReLU slope, default 0.01 (CNN_ALPHA_ZERO: 0)    */
    cnn_conv_algo algo;           /* default auto; Winograd only for 3x3, stride 1, dil 1  */
    int groups;                   /* default 1; must divide the input channels and filters;
                                     = input channels: depthwise (filters = a multiple)     */
} cnn_conv_opts;

/* A transposed convolution (PyTorch's ConvTranspose2d; cnn_conv_transpose2d_shape gives the
   output size): an upsampling layer, as in a decoder. */
typedef struct cnn_conv_transpose_opts {
    int filters;                  /* output channels (required)                          */
    int kernel;                   /* square kernel size, default 3                        */
    int kernel_h, kernel_w;       /* a non-square kernel (override 'kernel')              */
    int stride;                   /* default 1; stride_h/stride_w override per axis       */
    int stride_h, stride_w;
    int dilation;                 /* default 1; dilation_h/dilation_w override per axis   */
    int dilation_h, dilation_w;
    int pad;                      /* PyTorch's padding, each side, default 0; pad_h/pad_w  */
    int pad_h, pad_w;
    int output_padding;           /* default 0; below the stride (or the dilation); _h, _w */
    int output_padding_h, output_padding_w;
    int groups;                   /* default 1; must divide the input channels and filters */
    int no_bias;                  /* set to leave out the bias                             */
    cnn_activation activation;    /* fused activation, default none                        */
    float alpha;                  /* leaky-ReLU slope, default 0.01 (CNN_ALPHA_ZERO: 0)    */
    cnn_conv_algo algo;           /* default auto: the algorithm of the convolution it runs */
} cnn_conv_transpose_opts;

typedef struct cnn_pool_opts {
    cnn_pool_kind kind;           /* default max                                           */
    int size;                     /* square window, default 2; size_h/size_w per axis      */
    int size_h, size_w;
    int stride;                   /* default = the window size                              */
    int stride_h, stride_w;
    int pad;                      /* on every side; or explicit pad_top.. when any is set   */
    int pad_top, pad_bottom, pad_left, pad_right;
    int ceil_mode;                /* keep a last partial window (PyTorch ceil_mode)         */
    int count_pad;                /* average pooling: padding counts in the divisor         */
} cnn_pool_opts;

/* Upsampling: give a scale (integer, per axis) or an output size, not both. */
typedef struct cnn_upsample_opts {
    cnn_upsample_mode mode;       /* default nearest                                       */
    int align_corners;            /* bilinear: PyTorch's align_corners=True (default False) */
    int scale;                    /* the factor on both axes; scale_h/scale_w per axis      */
    int scale_h, scale_w;
    int out_h, out_w;             /* an explicit output size instead (both)                 */
} cnn_upsample_opts;

typedef struct cnn_dense_opts {
    int units;                    /* outputs (required)                                    */
    int no_bias;
    cnn_activation activation;
    float alpha;                  /* leaky-ReLU slope, default 0.01 (CNN_ALPHA_ZERO: 0)    */
} cnn_dense_opts;

typedef struct cnn_activation_opts {
    cnn_activation activation;    /* default none (the layer passes its input on)          */
    float alpha;                  /* leaky-ReLU slope, default 0.01 (CNN_ALPHA_ZERO: 0)    */
} cnn_activation_opts;

typedef struct cnn_dropout_opts {
    float rate;                   /* probability of zeroing a value, in [0, 1); default 0  */
} cnn_dropout_opts;

/* Batch normalization after a conv or pooling layer (per channel, PyTorch's BatchNorm2d) or
   after a vector (per feature, BatchNorm1d). gamma is the layer's weights (initially 1), beta
   its bias (0); the running mean (0) and variance (1) are buffers: saved, loaded and shared
   with the weights, never touched by the optimizer. cnn_forward in training mode normalises
   with the batch's statistics and updates the running ones; evaluation (cnn_predict,
   cnn_evaluate, training = 0) uses the running ones. */
typedef struct cnn_batchnorm_opts {
    float eps;                    /* added to the variance, > 0; default 1e-5               */
    float momentum;               /* running = (1 - momentum) running + momentum batch, in
                                     [0, 1]; default 0.1 (CNN_BATCHNORM_MOMENTUM_ZERO: 0,
                                     the running statistics stay as loaded)                 */
} cnn_batchnorm_opts;
/* As CNN_ALPHA_ZERO: the negative zero asks for a momentum of exactly 0. */
#define CNN_BATCHNORM_MOMENTUM_ZERO (-0.0f)

typedef struct cnn_layer {
    cnn_layer_kind kind;
    int in_c, in_h, in_w;             /* per-image input shape (dense: in_c = features)   */
    int out_c, out_h, out_w;          /* per-image output shape                            */
    cnn_conv2d_shape conv;            /* conv: n is set per batch                           */
    cnn_pool2d_shape pool;            /* pool: n is set per batch                           */
    cnn_pool_kind pool_kind;
    cnn_activation act;               /* fused (conv, dense) or the layer's own            */
    float alpha;                      /* leaky-ReLU slope                                  */
    float rate;                       /* dropout                                           */
    int has_bias;
    int flat;                         /* the output is a vector, not a C x H x W map        */
    size_t weight_count, bias_count;
    /* Filled in by cnn_net_build: */
    float *w, *b;                     /* parameters                                        */
    float *dw, *db;                   /* their gradients (training builds)                 */
    float *out;                       /* max_batch * out_size activations                  */
    float *mask;                      /* dropout factors                                   */
    int32_t *argmax;                  /* max-pool and global max-pool positions            */
    float *wino_u;                    /* Winograd-transformed filters (forward), or NULL   */
    uint64_t wino_stamp;              /* fingerprint of w when wino_u was computed (0: none) */
    cnn_conv_algo run_algo;           /* conv: the algorithm of the last forward, which its
                                         blocks of images run (cnn__forward_blocks)        */
    /* Transposed convolution: 'conv' holds the convolution it is the data gradient of (from
       out_c x out_h x out_w to in_c x in_h x in_w), and these the output padding. */
    int out_pad_h, out_pad_w;
    /* Batch norm (gamma in w, beta in b): */
    float eps, momentum;
    float *running_mean, *running_var;  /* buffers, in the network's params after the trained
                                           ones (cnn_net.buffer_floats)                       */
    float *bn_mean, *bn_invstd;       /* training builds: the statistics of the last forward */
    int bn_batch_stats;               /* the last forward normalised with the batch's own    */
    /* Upsampling (n set per batch), and the scale it was asked for: 0 when an output size
       was given instead (what the file records). Global max pooling keeps argmax above. */
    cnn_upsample2d_shape up;
    int up_scale_h, up_scale_w;
} cnn_layer;

/* A network. Its fields are readable; change its structure only through the functions. The
   parameter values may be written directly (layers[i].w, layers[i].b, e.g. to set known
   weights), except in a network that reads another's (cnn_build_opts.shared_weights). It may
   live in static memory: nothing in it points to the heap unless the library allocated the
   arena. cnn_net_init on a built network forgets its arena: cnn_net_free first.
   Its size depends on CNN_MAX_LAYERS: every file that shares a cnn_net must be compiled with
   the same value. The first field records the size the network was set up with, and every
   function refuses a network whose record differs from its own (CNN_ERR_STATE), rather than
   read fields at the wrong places; cnn_net_init itself is a macro that passes the caller's
   sizeof(cnn_net), so it refuses before it writes anything. */
typedef struct cnn_net {
    uint32_t layout_stamp;        /* set by cnn_net_init: this build's sizeof(cnn_net), hashed */
    int in_c, in_h, in_w;
    cnn_loss loss;
    int layer_count;
    cnn_layer layers[CNN_MAX_LAYERS];
    int invalid;                  /* a layer failed to add: building is refused              */
    /* Filled in by cnn_net_build: */
    int built, training, max_batch;
    cnn_arena arena;
    float *params, *grads, *velocity, *best_params;  /* contiguous: params[param_floats]    */
    float *adam_m, *adam_v;       /* Adam's first and second moments (with_adam), as params  */
    int state_kind;               /* the state the last step moved: 0 none, 1 SGD velocity,
                                     2 Adam's moments (what cnn_save writes)                 */
    size_t param_floats;          /* including the 64-byte alignment padding of each tensor */
    float *input;                 /* max_batch input images (fit gathers batches here)       */
    int32_t *labels;              /* max_batch labels                                        */
    float *grad_a, *grad_b;       /* ping-pong buffers for the backward pass                 */
    void *scratch;                /* the convolutions' workspace (cnn_conv2d_workspace_bytes) */
    size_t scratch_bytes;
    const float *x;               /* input of the last forward                               */
    int batch;                    /* its batch size (0: no forward yet)                      */
    cnn_rng rng;                  /* dropout masks                                           */
    uint32_t step;                /* optimizer steps taken since build or reset (Adam's t)   */
    float *grad_first;            /* dL/d(first layer's output) of the last backward, or NULL */
    const struct cnn_net *weights_owner;  /* the network whose parameters this one reads
                                     (cnn_build_opts.shared_weights), NULL: its own        */
    int threads;                  /* slots of every parallel step (1: none)                  */
    void *pool;                   /* cnn.h's worker threads (in the arena), or NULL          */
    cnn_parallel_for_fn parallel_for;   /* the caller's pool, or NULL                        */
    void *parallel_pool;
    float *grad_parts;            /* partial parameter gradients of batch parts 1..3         */
    size_t buffer_floats;         /* state that is not trained (batch norm's running
                                     statistics), at params + param_floats: kept, saved and
                                     shared with the parameters, never given to the optimizer */
    int block_images;             /* evaluation on threads: the most images a slot carries
                                     through every layer at once (0: layer by layer)         */
    float *block_regions;         /* inference builds: each slot's activations for a block   */
    size_t block_region_floats;   /* of one slot                                             */
} cnn_net;

/* Starts an empty network for input images of opts->channels x height x width. Fails with
   CNN_ERR_INVALID_ARGUMENT, writing nothing, when the caller was compiled with another
   CNN_MAX_LAYERS (or another cnn.h) than the implementation: their cnn_net sizes differ. */
CNNDEF cnn_status cnn_net_init(cnn_net *net, const cnn_net_opts *opts);
CNNDEF cnn_status cnn__net_init_sized(cnn_net *net, const cnn_net_opts *opts, size_t caller_net_bytes);
#define cnn_net_init(net, ...) cnn__net_init_sized((net), (__VA_ARGS__), sizeof(cnn_net))   /* ... : a compound literal's commas */
/* Add layers. Each infers its output shape and checks it; on failure the network is marked
   invalid and cnn_net_build refuses it. Dense after a 3-D shape flattens it implicitly
   (C, H, W order), as cnn_add_flatten does. */
CNNDEF cnn_status cnn_add_conv(cnn_net *net, const cnn_conv_opts *opts);
CNNDEF cnn_status cnn_add_conv_transpose(cnn_net *net, const cnn_conv_transpose_opts *opts);
CNNDEF cnn_status cnn_add_pool(cnn_net *net, const cnn_pool_opts *opts);
CNNDEF cnn_status cnn_add_global_avgpool(cnn_net *net);
CNNDEF cnn_status cnn_add_global_maxpool(cnn_net *net);
CNNDEF cnn_status cnn_add_upsample(cnn_net *net, const cnn_upsample_opts *opts);
CNNDEF cnn_status cnn_add_dense(cnn_net *net, const cnn_dense_opts *opts);
CNNDEF cnn_status cnn_add_activation_ex(cnn_net *net, const cnn_activation_opts *opts);
CNNDEF cnn_status cnn_add_dropout_ex(cnn_net *net, const cnn_dropout_opts *opts);
CNNDEF cnn_status cnn_add_flatten(cnn_net *net);
CNNDEF cnn_status cnn_add_batchnorm(cnn_net *net, const cnn_batchnorm_opts *opts);
/* The earlier forms, kept for older code: plain arguments (an alpha of 0 means 0.01 here too),
   and the global pooling layer's earlier name. */
CNNDEF cnn_status cnn_add_activation(cnn_net *net, cnn_activation act, float alpha);
CNNDEF cnn_status cnn_add_dropout(cnn_net *net, float rate);
#define cnn_add_global_avg_pool cnn_add_global_avgpool

/* What one layer is, as cnn_add_* inferred it (cnn_layer_describe fills it). */
typedef struct cnn_layer_info {
    cnn_layer_kind kind;
    cnn_activation activation;    /* fused (conv, dense), or an activation layer's own        */
    int in_c, in_h, in_w;         /* per-image input; a vector of v values is v x 1 x 1       */
    int out_c, out_h, out_w;      /* per-image output                                         */
    int flat;                     /* 1: the output is a vector (dense, flatten, global pool) */
    size_t weight_count, bias_count;
    int kernel_h, kernel_w;       /* conv: the kernel; pool: the window; else 0             */
} cnn_layer_info;
/* Layers so far (0 for NULL). Layers count from 0, in the order they were added. */
CNNDEF int        cnn_net_layer_count(const cnn_net *net);
CNNDEF cnn_status cnn_layer_describe(const cnn_net *net, int layer, cnn_layer_info *info);
/* A built layer's parameters and their gradients, in the arena: count receives how many
   floats (may be NULL). Weights are KCRS for conv (filters, in channels, rows, columns) and
   (out, in) for dense; biases one per output. The values may be read and written (set known
   weights, perturb one for a numerical check); the pointer stays valid until cnn_net_free.
   NULL with a count of 0 (and cnn_last_error saying why) for a layer without them (pooling,
   no bias), a layer out of range, a network not built, or, for gradients, one built
   inference_only. Gradients hold what the last backward pass computed. */
CNNDEF float *cnn_layer_weights(cnn_net *net, int layer, size_t *count);
CNNDEF float *cnn_layer_bias(cnn_net *net, int layer, size_t *count);
CNNDEF float *cnn_layer_weight_grads(cnn_net *net, int layer, size_t *count);
CNNDEF float *cnn_layer_bias_grads(cnn_net *net, int layer, size_t *count);
/* A batch norm layer's running mean and variance (one per channel), as cnn_layer_weights. */
CNNDEF float *cnn_layer_running_mean(cnn_net *net, int layer, size_t *count);
CNNDEF float *cnn_layer_running_var(cnn_net *net, int layer, size_t *count);

/* Trainable parameters (weights and biases), known before building. */
CNNDEF size_t cnn_net_param_count(const cnn_net *net);
/* Number of outputs per image of the last layer (classes for a classifier). */
CNNDEF int    cnn_net_output_size(const cnn_net *net);

typedef struct cnn_build_opts {
    int max_batch;                /* largest batch forward will see, default 32              */
    int inference_only;           /* set to leave out gradients and optimizer state          */
    void *buffer;                 /* caller memory for the arena; NULL: allocate it          */
    size_t buffer_size;
    void *alloc_ctx;              /* passed to CNN_MALLOC / CNN_FREE                         */
    cnn_init init;                /* weight initialisation, default Glorot uniform           */
    uint64_t seed;                /* initialisation and dropout (fit shuffles with its own)  */
    size_t max_arena_bytes;       /* the largest arena to allocate (checked before asking the
                                     allocator): default CNN_DEFAULT_MAX_ARENA_BYTES, 1 GiB;
                                     CNN_NO_ARENA_LIMIT lifts it. A caller's buffer is bounded
                                     by its own size instead. Guards cnn_load against files
                                     that describe enormous networks.                         */
    /* Added in 0.2; later fields go after these (the rule in docs/design.md). */
    int reinit_weights;           /* rebuilding a built network: draw new weights (default:
                                     keep its weights and biases)                             */
    int with_momentum;            /* training: keep SGD velocity, which momentum > 0 needs   */
    int with_early_stopping;      /* training: keep the best epoch's weights, which cnn_fit's
                                     early stopping (patience > 0) restores                   */
    const struct cnn_net *shared_weights;  /* read this built network's parameters instead of
                                     holding a copy: same architecture, inference_only
                                     required. It must outlive this network, and not be
                                     rebuilt, freed or trained while this one runs.          */
    int threads;                  /* threads the network's passes use, the caller's included:
                                     0 or 1 one (unless CNN_THREADS is set in the environment,
                                     read when threads is 0), at most CNN_MAX_THREADS. More
                                     than the cores is allowed. Results do not depend on it. */
    cnn_parallel_for_fn parallel_for;  /* your pool instead of cnn.h's: cnn.h then starts no
                                     thread and calls parallel_for(parallel_pool, task, ctx,
                                     threads) for each parallel step (threads >= 2)          */
    void *parallel_pool;
    int with_adam;                /* training: keep Adam's moments m and v (two floats per
                                     parameter), which CNN_OPTIM_ADAM and _ADAMW need        */
} cnn_build_opts;

#define CNN_DEFAULT_MAX_ARENA_BYTES ((size_t)1 << 30)
#define CNN_NO_ARENA_LIMIT ((size_t)-1)

/* Bytes of arena cnn_net_build needs for these options (0 and an error if it cannot):
     inference_only: the parameters (none with shared_weights), Winograd's transformed
       filters, one activation region of max_batch x the largest sum of two adjacent outputs
       (each output is written at the opposite end of the region from its input), and the
       convolutions' forward workspace. Nothing else: no per-layer outputs, no max-pool
       argmax, no dropout masks, no batch buffers.
     training: the parameters and their gradients, velocity (with_momentum), Adam's two
       moments (with_adam), the best epoch's weights (with_early_stopping), every layer's output for max_batch images,
       dropout masks, max-pool argmax, the batch cnn_fit gathers, two gradient buffers and
       the workspace of all three passes. docs/design.md gives the figures. */
CNNDEF size_t     cnn_net_required_bytes(const cnn_net *net, const cnn_build_opts *opts);
/* Carves every tensor out of one arena. The first build initialises the weights (biases
   zero). Building a built network again (say, a trained one with .inference_only = 1,
   .max_batch = 1 to deploy it) keeps its weights and biases, bit for bit, and starts the
   optimizer state afresh; .reinit_weights = 1 draws new ones instead. A rebuild that fails
   leaves the network as it was; one that succeeds holds both arenas for a moment. */
CNNDEF cnn_status cnn_net_build(cnn_net *net, const cnn_build_opts *opts);
/* Releases the arena if the library allocated it. The description stays; build again. */
CNNDEF void       cnn_net_free(cnn_net *net);
/* For inference: a copy of the built network src in which every batch norm that directly
   follows a convolution without a fused activation is folded into that convolution, with
   s = gamma / sqrt(running_var + eps) per filter:
       w' = w * s,   b' = (b - running_mean) * s + beta      (a conv without bias gains one)
   Other layers (and other batch norms) are copied as they are. dst is set up anew, as by
   cnn_net_init (cnn_net_free a built one first), and built with 'build' (NULL: the defaults;
   inference_only = 1 is the usual choice; shared_weights is refused: dst's weights are new).
   dst's outputs in evaluation mode are src's, within float rounding. */
CNNDEF cnn_status cnn_net_fold_batchnorm(const cnn_net *src, cnn_net *dst, const cnn_build_opts *build);
/* Re-draws the weights (zeroes biases, gradients and the optimizer state). Refused on a network that
   reads another's weights (shared_weights). */
CNNDEF cnn_status cnn_net_init_weights(cnn_net *net, cnn_init init, uint64_t seed);

/* A Keras-style summary table (layer, output shape, parameters, total) into buf, always
   NUL-terminated when cap > 0; returns the length the full table needs, like snprintf. */
CNNDEF size_t cnn_net_summary(const cnn_net *net, char *buf, size_t cap);
#ifndef CNN_NO_STDIO
CNNDEF void   cnn_net_print_summary(const cnn_net *net, FILE *out);
#endif

/* Forward pass of n images (n <= max_batch): x is n * C * H * W. 'training' enables dropout.
   The network keeps a pointer to x until the next forward: keep it alive for backward. */
CNNDEF cnn_status   cnn_forward(cnn_net *net, const float *x, int n, int training);
/* The last layer's output of the last forward (n * cnn_net_output_size): logits. */
CNNDEF const float *cnn_output(const cnn_net *net);
/* The generator dropout draws its masks from (seeded from cnn_build_opts.seed at build), or
   NULL without a network. Seed it (cnn_rng_seed) or copy it out and back in (a cnn_rng is a
   plain value) to make training runs repeat: the same weights, the same generator and the
   same batches give the same masks and the same results. */
CNNDEF cnn_rng     *cnn_net_dropout_rng(cnn_net *net);
/* A layer's output of the last forward: shape (may be NULL) receives n, channels, rows,
   columns (a vector of v values: n, v, 1, 1). NULL before a forward pass or for a layer out
   of range. Valid until the next forward. */
CNNDEF const float *cnn_layer_output(const cnn_net *net, int layer, int shape[4]);
/* Backward pass for the last forward: the loss against 'labels' (class indices, n of them;
   with CNN_LOSS_MSE the targets are their one-hot vectors), and every parameter gradient.
   loss may be NULL. */
CNNDEF cnn_status   cnn_backward(cnn_net *net, const int32_t *labels, float *loss);
/* Backward from a gradient of the output you computed yourself (n * output size). */
CNNDEF cnn_status   cnn_backward_from(cnn_net *net, const float *doutput);
/* Regression: backward for the last forward against real-valued targets (n * output size,
   row by row), with the mean squared error; the network must use CNN_LOSS_MSE. */
CNNDEF cnn_status   cnn_backward_targets(cnn_net *net, const float *targets, float *loss);
/* dL/dx, the gradient of the last backward pass's loss with respect to the input images
   (n * C * H * W values into dx), for saliency maps and adversarial examples. The backward
   pass stops at the first layer's parameters (the data needs no gradient to learn); this
   carries it one layer further, on request: call it after cnn_backward (or _from), before
   the next forward. Needs a training build. */
CNNDEF cnn_status   cnn_input_gradient(cnn_net *net, float *dx);

/* ============================================================================================
   10. Training
   ============================================================================================ */

typedef enum cnn_schedule {
    CNN_SCHEDULE_CONSTANT = 0,
    CNN_SCHEDULE_STEP,            /* lr * gamma^(epoch / step_epochs)                        */
    CNN_SCHEDULE_COSINE           /* lr * (1 + cos(pi * epoch / epochs)) / 2                 */
} cnn_schedule;

/* The optimizers (torch.optim's SGD, Adam and AdamW). */
typedef enum cnn_optimizer {
    CNN_OPTIM_SGD = 0,            /* with momentum and Nesterov as asked                     */
    CNN_OPTIM_ADAM,               /* Adam; weight_decay is L2, added to the gradient         */
    CNN_OPTIM_ADAMW,              /* Adam with decoupled weight decay: w *= 1 - lr * wd      */
    CNN_OPTIMIZER_COUNT
} cnn_optimizer;

/* An optimizer and its settings: SGD's (the name it had first) and Adam's. Its size is fixed
   (checked at compile time): cnn_fit_opts holds one by value, so a field added here takes the
   place of reserved entries and no field of cnn_fit_opts moves. */
typedef struct cnn_sgd_opts {
    float learning_rate;          /* default 0.01 for SGD, 0.001 for Adam and AdamW           */
    float momentum;               /* SGD: 0 plain; above 0 the build needs with_momentum.
                                     Adam's counterpart is beta1: must be 0 there            */
    int nesterov;                 /* SGD: Nesterov momentum (Adam: must be 0)                */
    float weight_decay;           /* on weights, not biases; 0: none, for every optimizer
                                     (PyTorch's AdamW defaults to 0.01: ask for it here).
                                     SGD and Adam add weight_decay * w to the gradient,
                                     AdamW shrinks the weights by 1 - lr * weight_decay      */
    cnn_optimizer optimizer;      /* default CNN_OPTIM_SGD; Adam's need with_adam at build   */
    float beta1, beta2;           /* Adam: the moments' decay, defaults 0.9 and 0.999 (-0.0f:
                                     exactly 0, as CNN_ALPHA_ZERO)                           */
    float eps;                    /* Adam: added to the root of the second moment, 1e-8      */
    uint32_t reserved[8];         /* zero: room for other optimizers' settings               */
} cnn_sgd_opts;
/* The same struct under the name of what it now is. */
typedef cnn_sgd_opts cnn_optim_opts;

/* One update from the current gradients with the optimizer opts names (PyTorch's
   formulations; t counts the steps, this one included, since build or reset):
   SGD:    g = dw + weight_decay * w;  v = momentum * v + g;
           w -= lr * v               (classic)   or   w -= lr * (g + momentum * v)   (Nesterov)
   Adam:   g = dw + weight_decay * w   (AdamW: w *= 1 - lr * weight_decay, then g = dw)
           m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
           w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
   A step whose update would make a weight or state NaN or infinite changes nothing
   (CNN_ERR_NUMERIC). cnn_sgd_step is the earlier name: it steps whichever opts names. */
CNNDEF cnn_status cnn_optimizer_step(cnn_net *net, const cnn_optim_opts *opts);
CNNDEF cnn_status cnn_sgd_step(cnn_net *net, const cnn_sgd_opts *opts);
/* Forgets the optimizer's state: zeroes the momentum (velocity), Adam's moments and the step
   count, as at build. For a new run from the current weights (fine-tuning, a new learning
   rate, another optimizer). cnn_load_weights does it; an inference-only build has no state. */
CNNDEF cnn_status cnn_net_reset_optimizer(cnn_net *net);
/* forward (training) + backward + optimizer step on one batch. loss may be NULL. */
CNNDEF cnn_status cnn_train_batch(cnn_net *net, const float *x, const int32_t *labels, int n,
                                  const cnn_sgd_opts *opts, float *loss);

/* An in-memory dataset: count images of the network's input shape, with class labels or, for
   regression, real-valued targets (then labels may be NULL; the loss must be CNN_LOSS_MSE,
   and accuracies are reported as -1: they have no meaning there). */
typedef struct cnn_dataset {
    const float *images;          /* count * C * H * W                                        */
    const int32_t *labels;        /* count                                                    */
    int count;
    const float *targets;         /* count * outputs, row by row; used instead of labels when
                                     not NULL                                                 */
} cnn_dataset;

/* Probabilities (n * classes, may be NULL) and arg-max classes (n, may be NULL) of n images,
   run in evaluation mode in chunks of max_batch. */
CNNDEF cnn_status cnn_predict(cnn_net *net, const float *x, int n, float *probs, int32_t *classes);
/* Mean loss and accuracy (0..1) over a dataset in evaluation mode. Either may be NULL. */
CNNDEF cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *data, float *loss, float *accuracy);

typedef struct cnn_progress {
    int epoch, epochs;            /* epoch counts from 1                                     */
    int batch, batches;           /* batches done in this epoch, of batches                  */
    int epoch_done;               /* 1 once the epoch (and its validation) is finished       */
    float loss, accuracy;         /* running means over this epoch's training batches (the
                                     accuracy -1 for regression targets)                      */
    float val_loss, val_accuracy; /* at epoch end, when there is a validation set (else -1)  */
    float learning_rate;
    double seconds;               /* since the epoch started                                 */
    double images_per_second;
    int improved;                 /* epoch end: the validation loss is the best so far       */
} cnn_progress;

/* Called after every batch and at every epoch end. Return nonzero to stop training. */
typedef int (*cnn_progress_fn)(const cnn_progress *progress, void *user);
#ifndef CNN_NO_STDIO
/* The progress bar cnn_fit draws on stderr when opts->progress is NULL, as a cnn_progress_fn
   to reuse: call it from your own callback to keep the bar and add to it (logging, a stop
   rule). While an epoch runs it redraws one line about 40 times (bar, batches done, running
   loss and accuracy, images per second, the seconds left at that rate); at the epoch's end it
   ends the line with the epoch's figures (validation, time, rate). user is not used (NULL).
   Returns 0 (never stops training). */
CNNDEF int cnn_progress_bar(const cnn_progress *progress, void *user);
#endif

typedef struct cnn_fit_opts {
    int epochs;                   /* default 10                                              */
    int batch_size;               /* default and at most the network's max_batch             */
    cnn_sgd_opts sgd;             /* the optimizer (.optimizer: SGD, Adam, AdamW) and its
                                     settings; its learning rate is the schedule's base      */
    cnn_schedule schedule;
    float gamma;                  /* step schedule factor, default 0.1                       */
    int step_epochs;              /* step schedule period, default 10                        */
    float validation_fraction;    /* held out from the training set (ignored if validation) */
    const cnn_dataset *validation;
    int patience;                 /* early stopping after this many epochs without a better
                                     validation loss; restores the best weights (the build
                                     needs with_early_stopping). 0: off                      */
    uint64_t seed;                /* shuffling                                               */
    int quiet;                    /* no progress bar                                         */
    cnn_progress_fn progress;     /* replaces the progress bar                               */
    void *user;
} cnn_fit_opts;

typedef struct cnn_fit_result {
    int epochs_run;
    int best_epoch;               /* epoch of the best validation loss (0: no validation)   */
    float loss, accuracy;         /* last epoch's training figures                           */
    float val_loss, val_accuracy; /* last epoch's; with patience, the best epoch's (whose
                                     weights are restored). -1 without validation           */
    int stopped_early;
} cnn_fit_result;

/* Trains with mini-batch SGD, Adam or AdamW (opts->sgd). The training data is shuffled every epoch (seeded); the
   validation fraction is taken from a seeded permutation once. Allocates one index array
   (CNN_MALLOC) at its start; the steps allocate nothing. result may be NULL. */
CNNDEF cnn_status cnn_fit(cnn_net *net, const cnn_dataset *train, const cnn_fit_opts *opts,
                          cnn_fit_result *result);
/* The learning rate a schedule gives at an epoch (from 0). */
CNNDEF float cnn_schedule_lr(const cnn_fit_opts *opts, int epoch);

/* ============================================================================================
   11. Save and load (see docs/design.md for the file format)
   ============================================================================================ */

#define CNN_FILE_VERSION 2        /* written; versions 1 and 2 are read */

/* A model goes to and comes from a file (below), a buffer in memory, or the caller's own
   reader or writer (a socket, a compressed stream, flash memory): all three run the same code
   and make the same checks, so a CNN_NO_STDIO build (no files) still saves and loads models.

   A writer is called with the next 'size' bytes in order; it returns 0 when it took them all,
   nonzero for a failure (the save stops with CNN_ERR_IO). */
typedef int (*cnn_write_fn)(void *user, const void *data, size_t size);
/* A reader fills data with the next bytes and returns how many: 'size', or fewer only where
   the data ends (0 at the end), or CNN_READ_ERROR when reading failed (CNN_ERR_IO). */
typedef size_t (*cnn_read_fn)(void *user, void *data, size_t size);
#define CNN_READ_ERROR ((size_t)-1)

/* Saves into buf: *size receives the model's size in bytes. With buf NULL and cap 0 that is
   all it does (the size query, CNN_OK); a buffer smaller than the model is
   CNN_ERR_OUT_OF_MEMORY and nothing is written to it. Refuses NaN or infinite parameters
   (CNN_ERR_NUMERIC), which cnn_load would refuse. */
CNNDEF cnn_status cnn_save_to_memory(const cnn_net *net, void *buf, size_t cap, size_t *size);
/* Saves through write(user, ...), from the first byte to the last, in pieces. */
CNNDEF cnn_status cnn_save_to_callback(const cnn_net *net, cnn_write_fn write, void *user);
/* cnn_load from the size bytes at data (which must hold one model, nothing after it), or from
   a reader. A buffer is checked whole before the network is built; a reader is read once, into
   the network as it is built, which is freed if the rest fails. Either way 'net' is written
   only on success. */
CNNDEF cnn_status cnn_load_from_memory(cnn_net *net, const void *data, size_t size, const cnn_build_opts *build);
CNNDEF cnn_status cnn_load_from_callback(cnn_net *net, cnn_read_fn read, void *user, const cnn_build_opts *build);
/* The loaders write a whole cnn_net into the caller's: like cnn_net_init they are macros that
   pass the caller's sizeof(cnn_net), and a caller compiled with another CNN_MAX_LAYERS is
   refused (CNN_ERR_INVALID_ARGUMENT) before anything is written. (In parentheses, (cnn_load)
   is the function, which trusts the caller's size.) */
CNNDEF cnn_status cnn__load_from_memory_sized(cnn_net *net, const void *data, size_t size, size_t caller_net_bytes, const cnn_build_opts *build);
CNNDEF cnn_status cnn__load_from_callback_sized(cnn_net *net, cnn_read_fn read, void *user, size_t caller_net_bytes, const cnn_build_opts *build);
#define cnn_load_from_memory(net, data, size, ...) cnn__load_from_memory_sized((net), (data), (size), sizeof(cnn_net), __VA_ARGS__)
#define cnn_load_from_callback(net, read, user, ...) cnn__load_from_callback_sized((net), (read), (user), sizeof(cnn_net), __VA_ARGS__)
/* cnn_load_weights from memory or a reader. A reader's weights are read into a copy
   (allocated through CNN_MALLOC for the call) and replace the network's only when all of
   them checked out, so a failure changes no weight there either. */
CNNDEF cnn_status cnn_load_weights_from_memory(cnn_net *net, const void *data, size_t size);
CNNDEF cnn_status cnn_load_weights_from_callback(cnn_net *net, cnn_read_fn read, void *user);

#ifndef CNN_NO_STDIO
/* Writes a temporary file beside path (a fresh name, created exclusively), flushes it to
   disk and renames it over path: a failed save (or a power cut) leaves the old file. Refuses
   NaN or infinite parameters (CNN_ERR_NUMERIC), which cnn_load would refuse. */
CNNDEF cnn_status cnn_save(const cnn_net *net, const char *path);
/* Reads a model: the network described by the file's architecture, built with 'build' (NULL:
   defaults; its max_arena_bytes bounds what a file may make it allocate) and holding the
   file's weights. 'net' is an output only: it is never read (it may be uninitialised) and is
   written only on success; on any failure it is left exactly as it was. To replace a built
   network, load into another cnn_net, then cnn_net_free the old one. */
CNNDEF cnn_status cnn_load(cnn_net *net, const char *path, const cnn_build_opts *build);
CNNDEF cnn_status cnn__load_sized(cnn_net *net, const char *path, size_t caller_net_bytes, const cnn_build_opts *build);
#define cnn_load(net, path, ...) cnn__load_sized((net), (path), sizeof(cnn_net), __VA_ARGS__)   /* see cnn_load_from_memory */
/* Fills the weights of a built net from a file whose architecture must match, and resets
   the optimizer state (cnn_net_reset_optimizer): momentum gathered for other weights would
   push these. A failure changes no weight. */
CNNDEF cnn_status cnn_load_weights(cnn_net *net, const char *path);
#endif

/* NumPy .npy files, one parameter tensor each, in cnn.h's layouts (conv weights KCRS, dense
   weights (out, in), biases (out)): what numpy.load and torch.from_numpy read directly.
   The format (version 1.0 written; 1.0, 2.0 and 3.0 read): the 6 bytes "\x93NUMPY", major and
   minor version bytes, the header length (u16 little-endian; u32 from 2.0), then a Python dict
   literal {'descr': '<f4', 'fortran_order': False, 'shape': (K, C, R, S), } padded with spaces
   and a newline so the values start at a multiple of 64 bytes, then the values as raw
   little-endian float32 in C order. Only that dtype and order are accepted; a reader is told
   the shape it expects and refuses any other. At most CNN_NPY_MAX_DIMS dimensions. */
#define CNN_NPY_MAX_DIMS 8
/* Writes the .npy image of data (ndim dimensions of the given sizes) into buf when cap is
   enough; returns the bytes it needs either way (like snprintf), 0 for bad arguments. */
CNNDEF size_t     cnn_npy_encode(const float *data, int ndim, const int *shape, void *buf, size_t cap);
/* Reads a .npy image that must hold float32 values of exactly this shape. data may be NULL
   to only check the image. Everything is checked before data is written. */
CNNDEF cnn_status cnn_npy_decode(const void *buf, size_t size, int ndim, const int *shape, float *data);
#ifndef CNN_NO_STDIO
/* The same to and from a file (the file is checked completely before data is written). */
CNNDEF cnn_status cnn_npy_save(const char *path, const float *data, int ndim, const int *shape);
CNNDEF cnn_status cnn_npy_load(const char *path, int ndim, const int *shape, float *data);
/* Every parameter tensor of a built network, one file each: <prefix>layer<i>.weight.npy and
   <prefix>layer<i>.bias.npy, i the layer's index (from 0, as in cnn_net_summary), and for a
   batch norm also layer<i>.running_mean.npy and .running_var.npy (PyTorch's names). prefix is
   prepended as given ("dir/" for a directory, which must exist). Loading checks every file
   before it changes any weight, and resets the optimizer state as cnn_load_weights does. */
CNNDEF cnn_status cnn_save_npy(const cnn_net *net, const char *prefix);
CNNDEF cnn_status cnn_load_npy(cnn_net *net, const char *prefix);
#endif

#ifdef __cplusplus
}
#endif
#endif /* CNN_H */

/* ********************************************************************************************
   IMPLEMENTATION
   ******************************************************************************************** */
#ifdef CNN_IMPLEMENTATION
#ifndef CNN_IMPLEMENTATION_INCLUDED
#define CNN_IMPLEMENTATION_INCLUDED

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#if defined(CNN_MALLOC) && !defined(CNN_FREE) || !defined(CNN_MALLOC) && defined(CNN_FREE)
#error "cnn.h: define both CNN_MALLOC and CNN_FREE, or neither"
#endif
#include <stdlib.h>
#ifndef CNN_MALLOC
#define CNN_MALLOC(size, ctx) ((void)(ctx), malloc(size))
#define CNN_FREE(ptr, ctx) ((void)(ctx), free(ptr))
#endif
/* A hint to fetch the cache line at p for reading; nothing where the compiler has none. */
#if defined(__GNUC__) || defined(__clang__)
#define CNN__PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define CNN__PREFETCH(p) ((void)(p))
#endif
/* Internal invariants (true unless cnn.h has a bug) are not checked by default: assert()
   would abort in every build without NDEBUG, and the library promises never to abort.
   Define CNN_ASSERT(x) as assert(x) to check them; the test suite's sanitizer build makes
   them trap. */
#ifndef CNN_ASSERT
#define CNN_ASSERT(x) ((void)0)
#endif

#if !defined(CNN_NO_STDIO)
#if defined(__unix__) || defined(__APPLE__)
#include <sys/time.h>
#define CNN__HAVE_GETTIMEOFDAY 1
#else
#include <time.h>
#endif
/* POSIX systems get the safe save (a temporary file created exclusively, fsync before the
   rename, fsync of the directory), a regular-file check on load, and a progress bar that
   knows whether stderr is a terminal; elsewhere only C's stdio. */
#if defined(__unix__) || defined(__unix) || (defined(__APPLE__) && defined(__MACH__))
#define CNN__POSIX_FILES 1
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif
#endif

/* The thread pool: POSIX threads, or Win32's where _WIN32 (that path is not compiled by the
   test suite, which runs on Linux). Neither with CNN_NO_THREADS, nor on other systems: there
   a network's parts run one after another on the caller's thread. */
#if !defined(CNN_NO_THREADS)
#if defined(_WIN32)
#define CNN__THREADS_WIN32 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#elif defined(__unix__) || defined(__unix) || defined(__APPLE__)
#define CNN__THREADS_POSIX 1
#include <pthread.h>
#include <unistd.h>
#endif
#endif

/* The error message is per thread where the compiler offers thread-local storage. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define CNN__THREAD_LOCAL thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define CNN__THREAD_LOCAL _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define CNN__THREAD_LOCAL __thread
#elif defined(_MSC_VER)
#define CNN__THREAD_LOCAL __declspec(thread)
#else
#define CNN__THREAD_LOCAL
#endif

#define CNN__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CNN__MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef __cplusplus
extern "C" {
#endif

/* ********************************************************************************************
   PART I. THE LECTURE

   Sections 1 to 11, in the order of the declarations above: for every operation its math, its
   scalar reference (the definition, and the oracle the tests hold the fast kernels to) and its
   one dispatch point, the function that picks a fast kernel of Part II or the scalar loop. Read
   alone, this part is the whole library as the scalar path runs it.
   ******************************************************************************************** */

/* ============================================================================================
   1. Configuration and types: errors, random numbers, the kernel paths (and the declarations
      of the fast kernels of Part II that the dispatch points call)
   ============================================================================================ */

/* ---------------------------------------------------------------------------------------------
   Errors and a small formatter.
   The formatter understands %d %i %u %s %c %f %% with '-', width, .precision and the length
   modifiers l, ll, z. It needs no <stdio.h>, so messages and the summary table also work
   under CNN_NO_STDIO.
   --------------------------------------------------------------------------------------------- */

typedef struct cnn__out { char *buf; size_t cap, len; } cnn__out;

static void cnn__putc(cnn__out *o, char c) {
    if (o->len + 1 < o->cap) o->buf[o->len] = c;
    o->len++;
}

static void cnn__put_padded(cnn__out *o, const char *s, size_t n, int width, int left) {
    size_t i;
    int pad = width > (int)n ? width - (int)n : 0;
    if (!left) while (pad-- > 0) cnn__putc(o, ' ');
    for (i = 0; i < n; i++) cnn__putc(o, s[i]);
    if (left) while (pad-- > 0) cnn__putc(o, ' ');
}

static size_t cnn__utoa_reversed(char *tmp, unsigned long long v) {
    size_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    return n;
}

static void cnn__vformat(cnn__out *o, const char *fmt, va_list ap) {
    for (; *fmt; fmt++) {
        char tmp[32], num[72];
        int left = 0, width = 0, prec = -1, lng = 0, size_mod = 0, i;
        size_t n = 0, k;
        if (*fmt != '%') { cnn__putc(o, *fmt); continue; }
        fmt++;
        if (*fmt == '-') { left = 1; fmt++; }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') { prec = 0; fmt++; while (*fmt >= '0' && *fmt <= '9') prec = prec * 10 + (*fmt++ - '0'); }
        while (*fmt == 'l') { lng++; fmt++; }
        if (*fmt == 'z') { size_mod = 1; fmt++; }
        switch (*fmt) {
        case 'd': case 'i': {
            long long v = size_mod ? (long long)va_arg(ap, ptrdiff_t)
                        : lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            k = cnn__utoa_reversed(tmp, mag);
            if (v < 0) num[n++] = '-';
            while (k) num[n++] = tmp[--k];
            cnn__put_padded(o, num, n, width, left);
            break;
        }
        case 'u': {
            unsigned long long v = size_mod ? (unsigned long long)va_arg(ap, size_t)
                        : lng >= 2 ? va_arg(ap, unsigned long long)
                        : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            k = cnn__utoa_reversed(tmp, v);
            while (k) num[n++] = tmp[--k];
            cnn__put_padded(o, num, n, width, left);
            break;
        }
        case 'f': {
            double v = va_arg(ap, double), scale = 1.0;
            unsigned long long whole, frac;
            if (prec < 0) prec = 6;
            if (prec > 9) prec = 9;
            if (v != v) { cnn__put_padded(o, "nan", 3, width, left); break; }
            if (v < 0) { num[n++] = '-'; v = -v; }
            if (v >= 1e18) { memcpy(num + n, "inf", 3); n += 3; cnn__put_padded(o, num, n, width, left); break; }
            for (i = 0; i < prec; i++) scale *= 10.0;
            whole = (unsigned long long)v;
            frac = (unsigned long long)((v - (double)whole) * scale + 0.5);   /* rounded */
            if ((double)frac >= scale) { whole++; frac = 0; }
            k = cnn__utoa_reversed(tmp, whole);
            while (k) num[n++] = tmp[--k];
            if (prec > 0) {
                num[n++] = '.';
                k = cnn__utoa_reversed(tmp, frac);
                for (i = (int)k; i < prec; i++) num[n++] = '0';
                while (k) num[n++] = tmp[--k];
            }
            cnn__put_padded(o, num, n, width, left);
            break;
        }
        case 'g': {                 /* as printf's %g: prec significant digits (default 6),
                                       exponent form outside 1e-4 .. 10^prec, no trailing 0s */
            double v = va_arg(ap, double), scale;
            unsigned long long digits, limit = 1;
            int e, frac_digits, shift = 0;
            if (prec < 0) prec = 6;
            if (prec == 0) prec = 1;
            if (prec > 17) prec = 17;
            if (v != v) { cnn__put_padded(o, "nan", 3, width, left); break; }
            if (v < 0) { num[n++] = '-'; v = -v; }
            if (v > DBL_MAX) { memcpy(num + n, "inf", 3); n += 3; cnn__put_padded(o, num, n, width, left); break; }
            for (i = 0; i < prec; i++) limit *= 10;
            e = v > 0 ? (int)floor(log10(v)) : 0;
            if (prec - 1 - e > 300) { v *= 1e300; shift = 300; }     /* tiny: 10^(>308) overflows */
            scale = pow(10.0, (double)(prec - 1 - e - shift));
            digits = (unsigned long long)(v * scale + 0.5);          /* prec digits, rounded */
            if (digits >= limit) { digits /= 10; e++; }
            else if (v > 0 && digits < limit / 10) { digits = (unsigned long long)(v * scale * 10 + 0.5); e--; }
            k = cnn__utoa_reversed(tmp, digits);                    /* k == prec (or 1 for 0) */
            while (k < (size_t)prec) tmp[k++] = '0';
            for (i = 0; i < prec - 1 && tmp[i] == '0'; i++) {}      /* trailing zeros: skip */
            if (e < -4 || e >= prec) {                               /* d.ddd e+XX */
                num[n++] = tmp[prec - 1];
                if (i < prec - 1) { num[n++] = '.'; for (k = (size_t)prec - 1; k-- > (size_t)i;) num[n++] = tmp[k]; }
                num[n++] = 'e'; num[n++] = e < 0 ? '-' : '+';
                if (e < 0) e = -e;
                if (e < 10) num[n++] = '0';
                k = cnn__utoa_reversed(tmp + 20, (unsigned long long)e);
                while (k) num[n++] = tmp[20 + --k];
            } else {                                                 /* ddd.ddd */
                frac_digits = prec - 1 - e;                          /* digits after the point */
                if (e < 0) { num[n++] = '0'; num[n++] = '.'; for (k = 1; k < (size_t)-e; k++) num[n++] = '0'; }
                for (k = (size_t)prec; k-- > 0;) {
                    if ((int)k < i && (int)k < frac_digits) break;  /* only trailing zeros left */
                    if (e >= 0 && (int)k == frac_digits - 1) num[n++] = '.';
                    num[n++] = tmp[k];
                }
            }
            cnn__put_padded(o, num, n, width, left);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            n = strlen(s);
            if (prec >= 0 && (size_t)prec < n) n = (size_t)prec;
            cnn__put_padded(o, s, n, width, left);
            break;
        }
        case 'c': num[0] = (char)va_arg(ap, int); cnn__put_padded(o, num, 1, width, left); break;
        case '%': cnn__putc(o, '%'); break;
        case '\0': return;
        default: cnn__putc(o, *fmt); break;
        }
    }
}

/* Like snprintf: writes at most cap bytes (always terminated when cap > 0), returns the length
   the whole text needs. */
static size_t cnn__format(char *buf, size_t cap, const char *fmt, ...) {
    cnn__out o;
    va_list ap;
    o.buf = buf; o.cap = cap; o.len = 0;
    va_start(ap, fmt);
    cnn__vformat(&o, fmt, ap);
    va_end(ap);
    if (cap) buf[CNN__MIN(o.len, cap - 1)] = '\0';
    return o.len;
}

static CNN__THREAD_LOCAL char cnn__error_message[512];

/* Records the message of a failure and returns its status:
   `return cnn__fail(CNN_ERR_SHAPE, "...", ...);` */
static cnn_status cnn__fail(cnn_status status, const char *fmt, ...) {
    cnn__out o;
    va_list ap;
    o.buf = cnn__error_message; o.cap = sizeof cnn__error_message; o.len = 0;
    va_start(ap, fmt);
    cnn__vformat(&o, fmt, ap);
    va_end(ap);
    cnn__error_message[CNN__MIN(o.len, o.cap - 1)] = '\0';
    return status;
}

CNNDEF const char *cnn_version(void) { return CNN_VERSION_STRING; }

CNNDEF const char *cnn_last_error(void) { return cnn__error_message; }

CNNDEF const char *cnn_status_name(cnn_status status) {
    static const char *const names[CNN_STATUS_COUNT] = {
        "CNN_OK", "CNN_ERR_INVALID_ARGUMENT", "CNN_ERR_SHAPE", "CNN_ERR_OVERFLOW",
        "CNN_ERR_OUT_OF_MEMORY", "CNN_ERR_STATE", "CNN_ERR_NUMERIC", "CNN_ERR_IO",
        "CNN_ERR_FILE_MAGIC", "CNN_ERR_FILE_VERSION", "CNN_ERR_FILE_TRUNCATED",
        "CNN_ERR_FILE_CORRUPT", "CNN_ERR_FILE_SHAPE", "CNN_ERR_FILE_CHECKSUM"
    };
    return (unsigned)status < CNN_STATUS_COUNT ? names[status] : "CNN_ERR_UNKNOWN";
}

/* a * b into *out; 0 when it overflows size_t. */
static int cnn__mul(size_t a, size_t b, size_t *out) {
    if (b && a > (size_t)-1 / b) return 0;
    *out = a * b;
    return 1;
}

/* The number of floats of a tensor with four dimensions (each >= 1), or 0 when the count or
   its size in bytes would not fit: every index below is then safe in size_t and ptrdiff_t. */
static size_t cnn__count4(int a, int b, int c, int d) {
    size_t n = 1;
    if (a < 1 || b < 1 || c < 1 || d < 1) return 0;
    if (!cnn__mul(n, (size_t)a, &n) || !cnn__mul(n, (size_t)b, &n) ||
        !cnn__mul(n, (size_t)c, &n) || !cnn__mul(n, (size_t)d, &n)) return 0;
    if (n > (size_t)PTRDIFF_MAX / sizeof(float)) return 0;
    return n;
}

/* ---------------------------------------------------------------------------------------------
   Random numbers: PCG32 (O'Neill, 2014). A 64-bit linear congruential state whose output is
   permuted by a xorshift and a data-dependent rotation: small, fast, the same everywhere.
   --------------------------------------------------------------------------------------------- */

CNNDEF uint32_t cnn_rng_u32(cnn_rng *rng) {
    uint64_t old = rng->state;
    uint32_t xorshifted, rot;
    rng->state = old * 6364136223846793005ULL + rng->inc;
    xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((0u - rot) & 31));
}

CNNDEF void cnn_rng_seed(cnn_rng *rng, uint64_t seed) {
    rng->state = 0;
    rng->inc = (0x853c49e6748fea9bULL << 1) | 1u;
    cnn_rng_u32(rng);
    rng->state += seed;
    cnn_rng_u32(rng);
}

CNNDEF float cnn_rng_uniform(cnn_rng *rng) {
    return (float)(cnn_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);   /* 24 random bits */
}

CNNDEF uint32_t cnn_rng_below(cnn_rng *rng, uint32_t n) {
    /* Rejecting the lowest 2^32 mod n values keeps every result equally likely. */
    uint32_t threshold, r;
    if (n <= 1) return 0;
    threshold = (0u - n) % n;
    do r = cnn_rng_u32(rng); while (r < threshold);
    return r % n;
}

CNNDEF float cnn_rng_normal(cnn_rng *rng) {
    /* Box-Muller: two uniforms give one standard normal (the twin is dropped so the state is
       all there is to save). u1 is in (0, 1], so the log is finite. */
    double u1 = 1.0 - (double)cnn_rng_uniform(rng);
    double u2 = (double)cnn_rng_uniform(rng);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---------------------------------------------------------------------------------------------
   Kernel paths and the one dispatch decision.
   On x86-64 the AVX2+FMA and the AVX-512 kernels are compiled with per-function target
   attributes, so a plain -O2 build contains them, and chosen at run time from CPUID and
   XGETBV (read directly: __builtin_cpu_supports has caused link errors in shared libraries).
   XGETBV tells whether the OS saves the YMM registers (and, for AVX-512, the opmask and ZMM
   registers) on a context switch; without that, the instructions are unusable even on a CPU
   that has them. AVX-512 needs a compiler that knows its intrinsics (gcc 7, clang 5); with
   an older one the build simply has no AVX-512 path.
   --------------------------------------------------------------------------------------------- */

#if !defined(CNN_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define CNN__X86_AVX2 1
#include <immintrin.h>
#include <cpuid.h>
#define CNN__AVX2 __attribute__((target("avx2,fma")))
#if !defined(CNN_NO_AVX512) && ((defined(__clang__) && __clang_major__ >= 5) || (!defined(__clang__) && __GNUC__ >= 7))
#define CNN__X86_AVX512 1
/* AVX-512F only: its masked loads and stores, FMA and compares are all the kernels use. */
#define CNN__AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif
#endif
/* AArch64: NEON is part of the base architecture, so it is always there. */
#if !defined(CNN_NO_SIMD) && defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define CNN__ARM_NEON 1
#include <arm_neon.h>
#endif
#if defined(CNN__X86_AVX2) || defined(CNN__ARM_NEON)
#define CNN__SIMD 1
#define CNN__ALIGN32 __attribute__((aligned(32)))
#endif

/* The kernel path is process-wide state that threads read at every kernel call, and the
   first call detects it. Both go through atomic accesses (GCC/clang builtins, MSVC's
   interlocked functions), so two threads that build or run networks at once agree without a
   data race. CNN_NO_THREADS (or a compiler with neither) makes them plain accesses: then the
   first kernel call must not race with another. */
#if !defined(CNN_NO_THREADS) && (defined(__GNUC__) || defined(__clang__))
typedef int cnn__atomic_int;
#define CNN__LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define CNN__LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define CNN__STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Stores desired if *p is 0; returns what *p holds afterwards. */
static int cnn__publish_once(cnn__atomic_int *p, int desired) {
    int expected = 0;
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ? desired : expected;
}
#elif !defined(CNN_NO_THREADS) && defined(_MSC_VER)
#include <intrin.h>
typedef long cnn__atomic_int;
#define CNN__LOAD_ACQUIRE(p) ((int)_InterlockedCompareExchange((p), 0, 0))
#define CNN__LOAD_RELAXED(p) ((int)_InterlockedCompareExchange((p), 0, 0))
#define CNN__STORE_RELAXED(p, v) ((void)_InterlockedExchange((p), (long)(v)))
static int cnn__publish_once(cnn__atomic_int *p, int desired) {
    const long before = _InterlockedCompareExchange(p, (long)desired, 0);
    return before ? (int)before : desired;
}
#else
typedef int cnn__atomic_int;
#define CNN__LOAD_ACQUIRE(p) (*(p))
#define CNN__LOAD_RELAXED(p) (*(p))
#define CNN__STORE_RELAXED(p, v) ((void)(*(p) = (v)))
static int cnn__publish_once(cnn__atomic_int *p, int desired) { if (!*p) *p = desired; return *p; }
#endif

static cnn__atomic_int cnn__simd_forced;   /* 0: auto; else the cnn_simd value forced */
/* What detection found, published once: 0 until then, else CNN__DETECTED with the default
   path in bits 8 and up and the CPU's AVX2 and AVX-512 in bits 1 and 2. */
static cnn__atomic_int cnn__simd_state;
#define CNN__DETECTED 1
#define CNN__HAS_AVX2 2
#define CNN__HAS_AVX512 4

#ifndef CNN__ARM_NEON
/* CNN__HAS_AVX2 and CNN__HAS_AVX512 from CPUID and XGETBV. */
static int cnn__cpu_detect_x86(void) {
    int found = 0;
#ifdef CNN__X86_AVX2
    unsigned a, b, c, d, xcr0_lo, xcr0_hi;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    /* FMA (bit 12), OSXSAVE (27) and AVX (28) in ECX of leaf 1 */
    if ((c & (1u << 12)) == 0 || (c & (1u << 27)) == 0 || (c & (1u << 28)) == 0) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    if ((xcr0_lo & 6u) != 6u) return 0;            /* the OS saves XMM and YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & (1u << 5)) found |= CNN__HAS_AVX2;      /* AVX2 in EBX of leaf 7 */
#ifdef CNN__X86_AVX512
    /* AVX-512F in EBX bit 16 of leaf 7; XCR0 bits 5, 6, 7: the OS saves the opmask
       registers, the upper halves of ZMM0-15 and ZMM16-31 */
    if ((found & CNN__HAS_AVX2) && (b & (1u << 16)) != 0 && (xcr0_lo & 0xe6u) == 0xe6u) found |= CNN__HAS_AVX512;
#endif
#endif
    return found;
}
#endif

/* The best path of this CPU, or a lower one named in the environment variable CNN_SIMD
   ("scalar", "avx2"), as oneDNN's ONEDNN_MAX_CPU_ISA: so a whole program, its tests say, can
   be run on another path without being changed. A name this CPU lacks is ignored. Threads
   that start together may each read CPUID (it has no side effects, and they find the same);
   the first result published is the one every caller uses from then on. */
static int cnn__simd_detect(void) {
    int state = CNN__LOAD_ACQUIRE(&cnn__simd_state);
    if (!state) {
        const char *env = getenv("CNN_SIMD");
#ifdef CNN__ARM_NEON
        const int found = 0;
        cnn_simd best = CNN_SIMD_NEON;
#else
        const int found = cnn__cpu_detect_x86();
        cnn_simd best = (found & CNN__HAS_AVX512) ? CNN_SIMD_AVX512 : (found & CNN__HAS_AVX2) ? CNN_SIMD_AVX2 : CNN_SIMD_SCALAR;
#endif
        if (env && strcmp(env, "scalar") == 0) best = CNN_SIMD_SCALAR;
        if (env && strcmp(env, "avx2") == 0 && (found & CNN__HAS_AVX2)) best = CNN_SIMD_AVX2;
        state = cnn__publish_once(&cnn__simd_state, CNN__DETECTED | found | (int)best << 8);
    }
    return state;
}

static cnn_simd cnn__simd_best(void) { return (cnn_simd)(cnn__simd_detect() >> 8); }

/* The per-core L2 cache, in bytes, the convolution kernels block for (Winograd's chunks of
   tiles and the filter blocks it transforms on the way, the direct kernels' passes over the
   filters, the images of a depth-first block): CNN_L2_BYTES where the program defines it,
   else what the CPU reports, read once as the kernel path is (x86: CPUID leaf 0x80000006,
   the L2 per core in KB in ECX bits 31-16, on AMD and Intel alike; elsewhere the C library's
   sysconf(_SC_LEVEL2_CACHE_SIZE) where it has one), within 256 KB to 4 MB, and 1 MB where
   nothing tells. The kernels were tuned on a 1 MB L2 (Zen 5); on this project's Zen 3
   machines (512 KB) the F(4x4) data gradient of the digit model's second layer (M2) ran
   1.056x faster blocked for 512 KB than for 1 MB (one program alternating the two, medians
   of 61 rounds, twice), the other layers measured (M2's forward, M3, V1-V4, direct M1 and M2)
   within 3% either way. Where results
   could depend on it they do not: a tile's, a filter's and an image's arithmetic is the same
   in any chunk, block or pass. */
#ifdef CNN_L2_BYTES
#define CNN__L2_BYTES ((size_t)(CNN_L2_BYTES))
#else
static cnn__atomic_int cnn__l2_kb;        /* 0 until read */
static size_t cnn__l2_bytes(void) {
    int kb = CNN__LOAD_ACQUIRE(&cnn__l2_kb);
    if (!kb) {
        long found = 0;
#if defined(CNN__X86_AVX2)
        unsigned a, b, c, d;
        if (__get_cpuid(0x80000006u, &a, &b, &c, &d)) found = (long)(c >> 16);   /* 0 past the highest leaf */
#elif defined(_SC_LEVEL2_CACHE_SIZE)
        found = sysconf(_SC_LEVEL2_CACHE_SIZE) / 1024;
#endif
        kb = cnn__publish_once(&cnn__l2_kb, found > 0 ? (int)CNN__MAX(256L, CNN__MIN(4096L, found)) : 1024);
    }
    return (size_t)kb * 1024;
}
#define CNN__L2_BYTES cnn__l2_bytes()
#endif

CNNDEF int cnn_simd_available(cnn_simd path) {
    switch (path) {
    case CNN_SIMD_AUTO: case CNN_SIMD_SCALAR: return 1;
    case CNN_SIMD_AVX2: return (cnn__simd_detect() & CNN__HAS_AVX2) != 0;
    case CNN_SIMD_AVX512: return (cnn__simd_detect() & CNN__HAS_AVX512) != 0;
#ifdef CNN__ARM_NEON
    case CNN_SIMD_NEON: return 1;
#endif
    default: return 0;
    }
}

CNNDEF cnn_simd cnn_simd_active(void) {
    const int forced = CNN__LOAD_RELAXED(&cnn__simd_forced);
    return forced ? (cnn_simd)forced : cnn__simd_best();
}

CNNDEF const char *cnn_simd_name(cnn_simd path) {
    switch (path) {
    case CNN_SIMD_AUTO: return "auto";
    case CNN_SIMD_SCALAR: return "scalar";
    case CNN_SIMD_AVX2: return "avx2";
    case CNN_SIMD_NEON: return "neon";
    case CNN_SIMD_AVX512: return "avx512";
    }
    return "?";
}

CNNDEF cnn_status cnn_simd_force(cnn_simd path) {
    if (!cnn_simd_available(path))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "simd: the %s path is not available on this CPU or build", cnn_simd_name(path));
    CNN__STORE_RELAXED(&cnn__simd_forced, path == CNN_SIMD_AUTO ? 0 : (int)path);
    return CNN_OK;
}

#ifdef CNN__SIMD
/* ---------------------------------------------------------------------------------------------
   The fast kernels, defined in Part II. The dispatch points of sections 4 to 10 call them
   through these declarations, so a section of the lecture holds no vector code; each group
   names the section of Part II that defines it.
   --------------------------------------------------------------------------------------------- */
/* The kernel of the active vector path: cnn__avx512_name on the AVX-512 path, else
   cnn__avx2_name (cnn__neon_name on AArch64). CNN__VCALL_IF takes the AVX-512 kernel only
   where 'wide' holds: for rows too short to fill 16 lanes the AVX2 kernel is faster. */
#if defined(CNN__X86_AVX512)
#define CNN__VCALL_IF(wide, name, args) \
    ((wide) && cnn_simd_active() == CNN_SIMD_AVX512 ? cnn__avx512_##name args : cnn__avx2_##name args)
#elif defined(CNN__X86_AVX2)
#define CNN__VCALL_IF(wide, name, args) cnn__avx2_##name args
#else
#define CNN__VCALL_IF(wide, name, args) cnn__neon_##name args
#endif
#define CNN__VCALL(name, args) CNN__VCALL_IF(1, name, args)

/* Declares a kernel generated for every vector width of this build from one template (F1
   tells how): cnn__avx2_name and cnn__avx512_name on x86-64, cnn__neon_name on AArch64. */
#if defined(CNN__X86_AVX512)
#define CNN__VDECL(ret, name, params) CNN__AVX2 static ret cnn__avx2_##name params; CNN__AVX512 static ret cnn__avx512_##name params
#elif defined(CNN__X86_AVX2)
#define CNN__VDECL(ret, name, params) CNN__AVX2 static ret cnn__avx2_##name params
#else
#define CNN__VDECL(ret, name, params) static ret cnn__neon_##name params
#endif
/* The default width's target attribute (AVX2 on x86-64, none on AArch64), for a kernel written
   once, outside a template. */
#ifdef CNN__X86_AVX2
#define CNN__VDEFAULT CNN__AVX2
#else
#define CNN__VDEFAULT
#endif

/* F4. Convolution. Each direct path returns 0, doing nothing, for a shape or a workspace it
   does not take; the _floats functions give the workspace a path needs, the _pays ones its
   cost model. The _grid ones, forced, skip the cost model (the _direct ones ask it). */
static void   cnn__conv2d_forward_simd(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b, float *y);
static int    cnn__conv2d_backward_data_simd(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx);
static void   cnn__conv2d_backward_weights_simd(const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw);
static void   cnn__padded_size(const cnn_conv2d_shape *s, int *hp, int *wp);
static size_t cnn__forward_direct_floats(const cnn_conv2d_shape *s);
static int    cnn__conv2d_forward_direct(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                         float *y, void *ws, size_t ws_bytes);
static int    cnn__conv2d_forward_grid(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                       float *y, void *ws, size_t ws_bytes, int forced);
static size_t cnn__backward_data_direct_floats(const cnn_conv2d_shape *s);
static int    cnn__conv2d_backward_data_direct(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                               void *ws, size_t ws_bytes);
static int    cnn__conv2d_backward_data_grid(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                             void *ws, size_t ws_bytes, int forced);
static int    cnn__gather_pays(int filters, int taps, int wp, int oh, int ow);
static size_t cnn__forward_gather_floats(const cnn_conv2d_shape *s);
static int    cnn__conv2d_forward_gather(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                         float *y, void *ws, size_t ws_bytes);
static int    cnn__gather_data_pays(const cnn_conv2d_shape *s);
static size_t cnn__backward_data_gather_floats(const cnn_conv2d_shape *s);
static int    cnn__conv2d_backward_data_gather(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                               void *ws, size_t ws_bytes);
static size_t cnn__backward_weights_floats(const cnn_conv2d_shape *s);
static int    cnn__conv2d_backward_weights_gather(const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw,
                                                  float *db, void *ws, size_t ws_bytes);
/* F4. Depthwise convolution forward (one channel per group), every width. */
CNN__VDECL(void, depthwise_forward, (const cnn_conv2d_shape *s, const float *x, const float *w, const float *b, float *y));
CNN__VDECL(void, depthwise_backward_data, (const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx));
CNN__VDECL(void, depthwise_backward_weights, (const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw));
/* F4. Winograd on vectors: the filter transform, the input and output transforms of a chunk's
   tiles (CNN__VL tiles at a time, or a tile row at a time), and the products on the
   micro-kernel. */
struct cnn__wino;
struct cnn__wino_shape;
CNN__VDECL(void, wino_filters, (const struct cnn__wino *wt, int rows, int cols, const float *w, int flipped, int row0,
                                int count, float *u));
CNN__VDECL(void, wino_input_windows, (const struct cnn__wino *wt, const struct cnn__wino_shape *s, const float *x,
                                      long long g0, int tiles, float *v, ptrdiff_t ldv));
CNN__VDECL(void, wino_weight_grads, (const struct cnn__wino *wt, int k, int c, const float *du, float *dw));
CNN__VDECL(void, wino_grad_windows, (const struct cnn__wino *wt, const struct cnn__wino_shape *s, const float *dy,
                                     long long g0, int tiles, float *dm, ptrdiff_t ldm));
CNN__VDECL(void, wino_output_strips, (const struct cnn__wino *wt, const struct cnn__wino_shape *s, long long g0,
                                      int tiles, const float *m_out, ptrdiff_t ldm, const float *bias, cnn_activation act,
                                      float alpha, float *y));
CNN__VDECL(void, wino_input_rows, (const struct cnn__wino *wt, const struct cnn__wino_shape *s, const float *x, long long g0,
                                   int tiles, float *v, ptrdiff_t ldv, float *rows));
CNN__VDECL(void, wino_output_rows, (const struct cnn__wino *wt, const struct cnn__wino_shape *s, long long g0, int tiles,
                                    const float *m_out, ptrdiff_t ldm, const float *bias, cnn_activation act, float alpha,
                                    float *y));
static void cnn__wino_products_simd(int a2, int rows, int kc, int strips, const float *u, const float *v,
                                    ptrdiff_t ldv, const int32_t *v_rows, float *m_out, ptrdiff_t ldm, ptrdiff_t m_step);
static void cnn__wino_peel_simd(const struct cnn__wino_shape *s, const float *x, const float *w, float *y, float *work,
                                int i0, int i1);
static void cnn__wino_weight_products_simd(int a2, int k, int c, int tiles, const float *dm, ptrdiff_t ldm, const float *v,
                                           ptrdiff_t ldv, float *strip, int accumulate, float *du);

/* F5. Activations, every width. */
CNN__VDECL(void, activation_forward, (cnn_activation act, float alpha, size_t count, const float *x, float *y));
CNN__VDECL(void, activation_backward, (cnn_activation act, float alpha, size_t count, const float *y,
                                       const float *dy, float *dx));

/* F6. Pooling: the 2x2 windows at stride 2 that the vector kernels take, and the kernels. */
static int cnn__pool_2x2_stride_2(const cnn_pool2d_shape *s, int oh, int ow);
CNN__VDECL(void, maxpool2d_forward, (const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y, int32_t *argmax));
CNN__VDECL(void, avgpool2d_forward, (const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y));
CNN__VDECL(void, avgpool2d_backward, (const cnn_pool2d_shape *s, int oh, int ow, const float *dy, float *dx));

/* F7. Dense on the matrix-multiply micro-kernel. */
static void cnn__dense_forward_simd(int n, int in, int out, const float *x, const float *w, const float *b, float *y);
static void cnn__dense_backward_data_simd(int n, int in, int out, const float *dy, const float *w, float *dx);
static void cnn__dense_backward_weights_simd(int n, int in, int out, const float *x, const float *dy, float *dw, float *db);

/* F9. The weights' fingerprint (the kept Winograd filters), at the default width. */
CNN__VDEFAULT static size_t cnn__stamp_lanes_simd(uint32_t h[32], const float *w, size_t count);

/* F10. The SGD update, every width, and its finiteness check. */
CNN__VDECL(void, sgd_update, (float *w, const float *dw, float *v, size_t count, const cnn_sgd_opts *o, float decay));
CNN__VDEFAULT static int cnn__sgd_any_nonfinite_simd(const float *w, const float *dw, const float *v, size_t count,
                                                     const cnn_sgd_opts *o, float decay);
/* F10. Adam's update and its finiteness check, every width. */
struct cnn__adam;
CNN__VDECL(void, adam_update, (float *w, const float *dw, float *m, float *v, size_t count, const struct cnn__adam *a,
                               float decay, float shrink));
CNN__VDECL(int, adam_any_nonfinite, (const float *w, const float *dw, const float *m, const float *v, size_t count,
                                     const struct cnn__adam *a, float decay, float shrink));
#endif /* CNN__SIMD */

/* ============================================================================================
   2. The arena
   ============================================================================================ */

static size_t cnn__round16(size_t n) { return (n + 15) & ~(size_t)15; }  /* floats to 64 bytes */
static size_t cnn__align_up(size_t n) { return (n + (CNN_ALIGNMENT - 1)) & ~(size_t)(CNN_ALIGNMENT - 1); }

CNNDEF cnn_status cnn_arena_init(cnn_arena *arena, void *buffer, size_t size) {
    size_t skip;
    if (!arena) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "arena: NULL arena");
    memset(arena, 0, sizeof *arena);
    if (!buffer) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "arena: NULL buffer");
    /* Blocks are aligned relative to the base, so the base moves to the first aligned address
       of the caller's buffer. */
    skip = (size_t)(-(uintptr_t)buffer & (CNN_ALIGNMENT - 1));
    if (size < skip) size = skip;
    arena->base = (unsigned char *)buffer + skip;
    arena->size = size - skip;
    return CNN_OK;
}

CNNDEF cnn_status cnn_arena_create(cnn_arena *arena, size_t size, void *alloc_ctx) {
    void *mem;
    if (!arena) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "arena: NULL arena");
    memset(arena, 0, sizeof *arena);
    if (size > (size_t)-1 - CNN_ALIGNMENT)
        return cnn__fail(CNN_ERR_OVERFLOW, "arena: %zu bytes is too large", size);
    /* CNN_ALIGNMENT extra bytes leave room to move the base to an aligned address. */
    mem = CNN_MALLOC(size + CNN_ALIGNMENT, alloc_ctx);
    if (!mem)
        return cnn__fail(CNN_ERR_OUT_OF_MEMORY, "arena: the allocator refused %zu bytes",
                         size + CNN_ALIGNMENT);
    cnn_arena_init(arena, mem, size + CNN_ALIGNMENT);
    arena->size = size;
    arena->allocation = mem;
    arena->alloc_ctx = alloc_ctx;
    return CNN_OK;
}

CNNDEF void cnn_arena_free(cnn_arena *arena) {
    if (!arena) return;
    if (arena->allocation) CNN_FREE(arena->allocation, arena->alloc_ctx);
    memset(arena, 0, sizeof *arena);
}

/* A measuring arena has no memory: it only adds up what would be pushed, so the exact size of
   a network can be known before anything is allocated (cnn_net_required_bytes). */
static void cnn__arena_measuring(cnn_arena *arena) {
    memset(arena, 0, sizeof *arena);
    arena->size = (size_t)-1;
}

/* The bump rule, for real and measuring arenas alike: the next block starts at the next
   aligned offset. *start receives that offset. */
static cnn_status cnn__arena_bump(cnn_arena *arena, size_t bytes, size_t *start) {
    size_t end;
    *start = cnn__align_up(arena->used);
    if (*start < arena->used || bytes > (size_t)-1 - *start)
        return cnn__fail(CNN_ERR_OVERFLOW, "arena: a block of %zu bytes overflows the address space", bytes);
    end = *start + bytes;
    if (end > arena->size)
        return cnn__fail(CNN_ERR_OUT_OF_MEMORY,
                         "arena: out of memory: a block of %zu bytes needs %zu bytes in all, the arena has %zu (%zu in use)",
                         bytes, end, arena->size, arena->used);
    arena->used = end;
    if (end > arena->high_water) arena->high_water = end;
    return CNN_OK;
}

CNNDEF void *cnn_arena_push(cnn_arena *arena, size_t bytes) {
    size_t start;
    if (!arena) { cnn__fail(CNN_ERR_INVALID_ARGUMENT, "arena: NULL arena"); return NULL; }
    if (!arena->base) { cnn__fail(CNN_ERR_STATE, "arena: no memory (cnn_arena_init or cnn_arena_create first)"); return NULL; }
    if (cnn__arena_bump(arena, bytes, &start)) return NULL;
    return arena->base + start;
}

CNNDEF size_t cnn_arena_mark(const cnn_arena *arena) { return arena ? arena->used : 0; }

CNNDEF void cnn_arena_rewind(cnn_arena *arena, size_t mark) {
    if (arena && mark <= arena->used) arena->used = mark;
}

/* ============================================================================================
   3. Tensors and shapes: padding and output sizes
   ============================================================================================ */

CNNDEF int cnn_conv_output_size(int in, int kernel, int stride, int dilation, int pad_total) {
    long long extent, span;
    if (in < 1 || kernel < 1 || stride < 1 || dilation < 1 || pad_total < 0) return 0;
    extent = (long long)dilation * (kernel - 1) + 1;      /* the dilated kernel's reach */
    span = (long long)in + pad_total - extent;
    if (span < 0) return 0;
    span = span / stride + 1;
    return span > INT_MAX ? 0 : (int)span;
}

CNNDEF void cnn_padding_for(cnn_padding mode, int in, int kernel, int stride, int dilation,
                            int *pad_before, int *pad_after) {
    long long extent = (long long)CNN__MAX(dilation, 1) * (CNN__MAX(kernel, 1) - 1) + 1;
    long long total = 0, out;
    if (stride < 1) stride = 1;
    switch (mode) {
    case CNN_PAD_SAME:
        out = ((long long)in + stride - 1) / stride;               /* ceil(in / stride) */
        total = (out - 1) * stride + extent - in;
        if (total < 0) total = 0;
        break;
    case CNN_PAD_FULL: total = 2 * (extent - 1); break;
    default: total = 0; break;
    }
    if (total > INT_MAX) total = INT_MAX;
    /* The odd row or column of 'same' goes at the end, as TensorFlow does. */
    if (pad_before) *pad_before = (int)(total / 2);
    if (pad_after) *pad_after = (int)(total - total / 2);
}

/* For one axis: the output positions o whose kernel tap at offset 'tap' (= r * dilation)
   reads inside the input, i = o * stride - pad + tap in [0, in). Gives [*lo, *hi), maybe empty.
   Every direct kernel below walks these ranges, so no inner loop tests bounds. */
static void cnn__tap_range(int out, int in, int stride, int pad, int tap, int *lo, int *hi) {
    long long first = (long long)pad - tap;                  /* need o * stride >= first  */
    long long last = (long long)in - 1 + pad - tap;          /* need o * stride <= last   */
    long long l = first <= 0 ? 0 : (first + stride - 1) / stride;
    long long h = last < 0 ? 0 : last / stride + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = (int)l;
    *hi = (int)h;
}

/* ============================================================================================
   4. Convolution

   A convolution layer slides K filters of shape C x KH x KW over the input. Output value
   (k, i, j) is the inner product of filter k with the input patch under it, plus a bias:

       y[n,k,i,j] = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n, c, i*sh - pt + r*dh, j*sw - pl + s*dw]

   (positions outside the input read as zero: that is what padding means). Read it the other
   way round and each kernel tap (c, r, s) adds w[k,c,r,s] times a shifted copy of input plane
   c to output plane k. The direct kernels below are written that way: one tap at a time, over
   the range of outputs where the tap lands inside the input, so no inner loop tests bounds.

   Backward, by the chain rule on the same sum:
       dL/dx[n,c,ii,jj] = sum over (k,r,s) and every output (i,j) that read x[n,c,ii,jj]
                          of w[k,c,r,s] * dy[n,k,i,j]     (the same taps, scattered back)
       dL/dw[k,c,r,s]   = sum_{n,i,j} dy[n,k,i,j] * x[n,c, i*sh-pt+r*dh, j*sw-pl+s*dw]
       dL/db[k]         = sum_{n,i,j} dy[n,k,i,j]

   For 3x3 kernels at stride 1, Winograd's minimal filtering (after the direct scalar code)
   computes the same sums with a quarter of the multiplications; cnn_conv_algo chooses.

   The fast paths (the matrix product on im2col strips, the padded grid, pixels as rows, the
   data gradient gathered from dy, the weight gradient with taps as rows, the Winograd
   transforms on vectors) are in F4; the dispatch points at the end of this section pick one.
   ============================================================================================ */

/* The output size of a shape that passed cnn_conv2d_check. */
static int cnn__conv2d_out_h(const cnn_conv2d_shape *s) {
    return cnn_conv_output_size(s->h, s->kh, s->stride_h, s->dilation_h, s->pad_top + s->pad_bottom);
}
static int cnn__conv2d_out_w(const cnn_conv2d_shape *s) {
    return cnn_conv_output_size(s->w, s->kw, s->stride_w, s->dilation_w, s->pad_left + s->pad_right);
}

/* The group count of a shape (zero: 1). */
static int cnn__conv2d_groups(const cnn_conv2d_shape *s) { return s->groups > 1 ? s->groups : 1; }

/* A caller's shape with its zero fields given their defaults (strides and dilations 1; the
   other defaults are zero already). Every public entry point works on the settled copy, so
   the kernels never see a zero stride. NULL stays NULL. */
static const cnn_conv2d_shape *cnn__conv2d_settle(const cnn_conv2d_shape *s, cnn_conv2d_shape *copy) {
    if (!s) return NULL;
    *copy = *s;
    if (!copy->stride_h) copy->stride_h = 1;
    if (!copy->stride_w) copy->stride_w = 1;
    if (!copy->dilation_h) copy->dilation_h = 1;
    if (!copy->dilation_w) copy->dilation_w = 1;
    if (!copy->groups) copy->groups = 1;
    return copy;
}

/* The scalar references serve groups directly, which is their definition: filter k belongs
   to group k / (k/groups) and sees the input channels c0 .. c0 + c/groups - 1 of that group,
   its weights w[k][c - c0][r][s]. */
static void cnn__conv2d_forward_scalar(const cnn_conv2d_shape *s, const float *x, const float *w,
                                       const float *b, float *y) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int cg = s->c / cnn__conv2d_groups(s), kg = s->k / cnn__conv2d_groups(s);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;
    int n, k, c, r, q, i, j;
    for (n = 0; n < s->n; n++) {
        for (k = 0; k < s->k; k++) {
            const int c0 = k / kg * cg;
            float *yk = y + ((size_t)n * s->k + k) * out_plane;
            float bias = b ? b[k] : 0.0f;
            for (i = 0; i < (int)out_plane; i++) yk[i] = bias;
            for (c = c0; c < c0 + cg; c++) {
                const float *xc = x + ((size_t)n * s->c + c) * in_plane;
                const float *wkc = w + ((size_t)k * cg + c - c0) * s->kh * s->kw;
                for (r = 0; r < s->kh; r++) {
                    int i_lo, i_hi;
                    cnn__tap_range(oh, s->h, s->stride_h, s->pad_top, r * s->dilation_h, &i_lo, &i_hi);
                    for (q = 0; q < s->kw; q++) {
                        const float wv = wkc[r * s->kw + q];
                        int j_lo, j_hi;
                        cnn__tap_range(ow, s->w, s->stride_w, s->pad_left, q * s->dilation_w, &j_lo, &j_hi);
                        for (i = i_lo; i < i_hi; i++) {
                            /* input row of output row i for this tap; output column j
                               reads input column j * stride + col0 (>= 0 inside the range) */
                            const float *xrow = xc + (size_t)(i * s->stride_h - s->pad_top + r * s->dilation_h) * s->w;
                            const ptrdiff_t col0 = (ptrdiff_t)q * s->dilation_w - s->pad_left;
                            float *yrow = yk + (size_t)i * ow;
                            for (j = j_lo; j < j_hi; j++) yrow[j] += wv * xrow[(ptrdiff_t)j * s->stride_w + col0];
                        }
                    }
                }
            }
        }
    }
}

static void cnn__conv2d_backward_data_scalar(const cnn_conv2d_shape *s, const float *dy,
                                             const float *w, float *dx) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int cg = s->c / cnn__conv2d_groups(s), kg = s->k / cnn__conv2d_groups(s);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;
    int n, k, c, r, q, i, j;
    memset(dx, 0, (size_t)s->n * s->c * in_plane * sizeof(float));
    for (n = 0; n < s->n; n++) {
        for (c = 0; c < s->c; c++) {
            const int k0 = c / cg * kg, c0 = c / cg * cg;
            float *dxc = dx + ((size_t)n * s->c + c) * in_plane;
            for (k = k0; k < k0 + kg; k++) {
                const float *dyk = dy + ((size_t)n * s->k + k) * out_plane;
                const float *wkc = w + ((size_t)k * cg + c - c0) * s->kh * s->kw;
                for (r = 0; r < s->kh; r++) {
                    int i_lo, i_hi;
                    cnn__tap_range(oh, s->h, s->stride_h, s->pad_top, r * s->dilation_h, &i_lo, &i_hi);
                    for (q = 0; q < s->kw; q++) {
                        const float wv = wkc[r * s->kw + q];
                        int j_lo, j_hi;
                        cnn__tap_range(ow, s->w, s->stride_w, s->pad_left, q * s->dilation_w, &j_lo, &j_hi);
                        for (i = i_lo; i < i_hi; i++) {
                            float *dxrow = dxc + (size_t)(i * s->stride_h - s->pad_top + r * s->dilation_h) * s->w;
                            const ptrdiff_t col0 = (ptrdiff_t)q * s->dilation_w - s->pad_left;
                            const float *dyrow = dyk + (size_t)i * ow;
                            for (j = j_lo; j < j_hi; j++) dxrow[(ptrdiff_t)j * s->stride_w + col0] += wv * dyrow[j];
                        }
                    }
                }
            }
        }
    }
}

static void cnn__conv2d_backward_weights_scalar(const cnn_conv2d_shape *s, const float *x,
                                                const float *dy, float *dw) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int cg = s->c / cnn__conv2d_groups(s), kg = s->k / cnn__conv2d_groups(s);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;
    int n, k, c, r, q, i, j;
    memset(dw, 0, (size_t)s->k * cg * s->kh * s->kw * sizeof(float));
    for (n = 0; n < s->n; n++) {
        for (k = 0; k < s->k; k++) {
            const int c0 = k / kg * cg;
            const float *dyk = dy + ((size_t)n * s->k + k) * out_plane;
            for (c = c0; c < c0 + cg; c++) {
                const float *xc = x + ((size_t)n * s->c + c) * in_plane;
                float *dwkc = dw + ((size_t)k * cg + c - c0) * s->kh * s->kw;
                for (r = 0; r < s->kh; r++) {
                    int i_lo, i_hi;
                    cnn__tap_range(oh, s->h, s->stride_h, s->pad_top, r * s->dilation_h, &i_lo, &i_hi);
                    for (q = 0; q < s->kw; q++) {
                        float sum = 0.0f;
                        int j_lo, j_hi;
                        cnn__tap_range(ow, s->w, s->stride_w, s->pad_left, q * s->dilation_w, &j_lo, &j_hi);
                        for (i = i_lo; i < i_hi; i++) {
                            const float *xrow = xc + (size_t)(i * s->stride_h - s->pad_top + r * s->dilation_h) * s->w;
                            const ptrdiff_t col0 = (ptrdiff_t)q * s->dilation_w - s->pad_left;
                            const float *dyrow = dyk + (size_t)i * ow;
                            for (j = j_lo; j < j_hi; j++) sum += dyrow[j] * xrow[(ptrdiff_t)j * s->stride_w + col0];
                        }
                        dwkc[r * s->kw + q] += sum;
                    }
                }
            }
        }
    }
}

CNNDEF const char *cnn_conv_algo_name(cnn_conv_algo algo) {
    switch (algo) {
    case CNN_CONV_AUTO: return "auto";
    case CNN_CONV_DIRECT: return "direct";
    case CNN_CONV_WINOGRAD_2X2: return "wino2";
    case CNN_CONV_WINOGRAD_4X4: return "wino4";
    case CNN_CONV_DIRECT_GRID: return "grid";
    case CNN_CONV_DIRECT_ROWS: return "rows";
    case CNN_CONV_DIRECT_LOWERED: return "lowered";
    default: return "?";
    }
}

/* Whether the shape forces one of the direct variants (CNN_CONV_DIRECT_GRID and after). */
static int cnn__direct_variant(const cnn_conv2d_shape *s) {
    return s->algo == CNN_CONV_DIRECT_GRID || s->algo == CNN_CONV_DIRECT_ROWS || s->algo == CNN_CONV_DIRECT_LOWERED;
}

/* Whether Winograd F(m x m, 3 x 3) can compute this convolution at all. */
static int cnn__wino_serves(const cnn_conv2d_shape *s) {
    return s->kh == 3 && s->kw == 3 && s->stride_h == 1 && s->stride_w == 1 && s->dilation_h == 1 && s->dilation_w == 1;
}

CNNDEF cnn_status cnn_conv2d_check(const cnn_conv2d_shape *shape, int *out_h, int *out_w) {
    cnn_conv2d_shape settled;
    const cnn_conv2d_shape *s = cnn__conv2d_settle(shape, &settled);
    int oh, ow;
    if (!s) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: NULL shape");
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: input %dx%dx%dx%d (NCHW) has a size below 1",
                         s->n, s->c, s->h, s->w);
    if (s->k < 1 || s->kh < 1 || s->kw < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: %d filters of %dx%d: sizes must be at least 1",
                         s->k, s->kh, s->kw);
    if (s->stride_h < 1 || s->stride_w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: stride %dx%d: strides must be at least 1",
                         s->stride_h, s->stride_w);
    if (s->dilation_h < 1 || s->dilation_w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: dilation %dx%d: dilations must be at least 1",
                         s->dilation_h, s->dilation_w);
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: padding (top %d, bottom %d, left %d, right %d) is negative",
                         s->pad_top, s->pad_bottom, s->pad_left, s->pad_right);
    if ((unsigned)s->algo >= CNN_CONV_ALGO_COUNT)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: unknown algorithm %d", (int)s->algo);
    if (s->groups < 1 || s->c % s->groups || s->k % s->groups)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: %d groups must divide both the %d input channels and the %d filters",
                         s->groups, s->c, s->k);
    if ((s->algo == CNN_CONV_WINOGRAD_2X2 || s->algo == CNN_CONV_WINOGRAD_4X4) && !cnn__wino_serves(s))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d: %s (Winograd) needs a 3x3 kernel at stride 1 and dilation 1; "
                         "this one is %dx%d at stride %dx%d, dilation %dx%d (use auto or direct)",
                         cnn_conv_algo_name(s->algo), s->kh, s->kw, s->stride_h, s->stride_w, s->dilation_h, s->dilation_w);
    if ((long long)s->pad_top + s->pad_bottom > INT_MAX || (long long)s->pad_left + s->pad_right > INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: padding too large");
    {   /* sizes in 64 bits: the padded input or the dilated kernel may not fit in an int */
        const long long padded_h = (long long)s->h + s->pad_top + s->pad_bottom, padded_w = (long long)s->w + s->pad_left + s->pad_right;
        const long long extent_h = (long long)s->dilation_h * (s->kh - 1) + 1, extent_w = (long long)s->dilation_w * (s->kw - 1) + 1;
        if (extent_h > padded_h || extent_w > padded_w)
            return cnn__fail(CNN_ERR_SHAPE,
                             "conv2d: kernel %dx%d (dilation %dx%d, reach %lldx%lld) is larger than the padded input %lldx%lld (input %dx%d, pads %d+%d, %d+%d)",
                             s->kh, s->kw, s->dilation_h, s->dilation_w, extent_h, extent_w, padded_h, padded_w,
                             s->h, s->w, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right);
        if (padded_h > INT_MAX || padded_w > INT_MAX)
            return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: the padded input %lldx%lld overflows an int", padded_h, padded_w);
    }
    oh = cnn__conv2d_out_h(s);
    ow = cnn__conv2d_out_w(s);
    if (oh < 1 || ow < 1) return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: the output size overflows an int");
    /* The kernels index one image plane, and the filter bank, with int. */
    if ((long long)s->h * s->w > INT_MAX || (long long)oh * ow > INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: an image plane of %dx%d (output %dx%d) overflows an int", s->h, s->w, oh, ow);
    if ((double)s->k * s->c * s->kh * s->kw > (double)INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: %d filters of %dx%dx%d overflow an int", s->k, s->c, s->kh, s->kw);
    if (!cnn__count4(s->n, s->c, s->h, s->w) || !cnn__count4(s->n, s->k, oh, ow) ||
        !cnn__count4(s->k, s->c, s->kh, s->kw))
        return cnn__fail(CNN_ERR_OVERFLOW, "conv2d: tensor sizes overflow (input %dx%dx%dx%d, %d filters %dx%d)",
                         s->n, s->c, s->h, s->w, s->k, s->kh, s->kw);
    if (out_h) *out_h = oh;
    if (out_w) *out_w = ow;
    return CNN_OK;
}

/* ---------------------------------------------------------------------------------------------
   Winograd convolution, F(2x2, 3x3) and F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for
   Convolutional Neural Networks", 2016): 3x3 kernels at stride 1 and dilation 1.

   One dimension first. m outputs of a 3-tap correlation, y[i] = sum_{r<3} g[r] d[i+r], read
   a = m + 2 inputs and take 3m multiplications. Winograd's minimal filtering takes a. The
   idea is polynomial: the convolution of g (3 terms) with an m-term sequence h is the product
   g(x) h(x), of degree m + 1, so its a coefficients are fixed by its values at a points.
   Evaluate g and h at the points (linear maps, no products of data), multiply the a values
   pointwise (the only a multiplications) and interpolate. Correlation is the transpose of that
   convolution (seen as a linear map, g fixed), and transposing the recipe gives
        y = A^T [ (G g) .* (B^T d) ]
   G (a x 3) evaluates g at the points, A^T (m x a) is the transposed evaluation of h (row j
   holds the points' j-th powers), B^T (a x a) the transposed interpolation. The point
   "infinity" stands for the leading coefficient, hence the rows (0 0 1) and (0 .. 0 1).
   Nesting the 1-D algorithm in itself gives the 2-D one, tile by tile:
        Y (m x m) = A^T [ U .* V ] A,     U = G g G^T,   V = B^T d B     (a x a each)
   and, the transforms being linear, the sum over input channels moves inside:
        Y[k] = A^T [ sum_c U[k][c] .* V[c] ] A
   For each of the a*a elements e that sum is a matrix product over all the tiles,
        M_e[k][tile] = sum_c U_e[k][c] * V_e[c][tile]
   where the time goes, on the micro-kernel direct convolution uses. An output then costs
   a^2 / m^2 products of length C instead of 9: 36/16 = 2.25 for F(4x4) (4x fewer), 16/4 = 4
   for F(2x2) (2.25x fewer). The transforms cost O(a^2) per tile and channel: the overhead
   that few channels do not pay back.

   The points. F(2x2) uses 0, 1, -1, infinity; F(4x4) 0, 1, -1, 2, -2, infinity: the smallest
   magnitudes there are. In float32 each transform rounds, and the products' rounding errors
   come out multiplied by the matrices' entries: A^T holds the points' powers (up to 2^3 = 8
   in F(4x4)), G the inverses of products of point differences (1/4, 1/6, 1/24), B^T the
   interpolation (entries up to 5). With +-3 as points A^T would hold 27 and the error would
   grow with it; the next points worth taking (for F(6x6), which needs two more) are +-1/2,
   whose powers are exact in binary and small. Measured against a double-precision direct
   convolution as max|got - ref| / max|ref|, F(2x2) stays under 1e-6 and F(4x4) under 2e-5
   (tests/test_winograd.c holds them to 1e-5 and 5e-5, up to 512 channels).

   Borders: the output is cut in m x m tiles from its top left; tile (ti, tj) reads the a x a
   input window at (ti*m - pad_top, tj*m - pad_left), zero outside the image (the padding, and
   the overreach of the last, partial tiles), and writes only its outputs inside the output.
   An image smaller than one tile is one partial tile. Any padding works, even negative (the
   data gradient's, 2 - pad, when pad > 2).

   Layout. The tiles of all images are numbered in one sequence and taken in chunks that keep
   a chunk's V and M in L2; the micro-kernel takes a chunk 32 tiles at a time on AVX-512 (its
   wide tile), 16 elsewhere:
        U[k][e][c]          transformed filters: A of element e's product (K x C)
        V[e][c][tile]       transformed input: B (C x tiles), rows ldv apart, elements
                            cnn__wino_step(C, ldv) apart
        M[e][k][tile]       the products, rows ldm apart, elements cnn__wino_step(K, ldm) apart
   The scalar transforms work on 16 tiles (or filters) at once, one per lane, gathered from
   anywhere in the input, so the one routine Y = L X L^T serves all three. The vector twins
   are in F4, one body per transform on the element-wise vocabulary: CNN__VL filters or
   tiles in the lanes, loaded and transposed into registers, or a tile row at a time with its
   consecutive tiles in the lanes (cnn__wino_by_rows says when).
   --------------------------------------------------------------------------------------------- */
#define CNN__WL 16   /* tiles (or filters) transformed together */

typedef struct cnn__wino {
    int m, a;                    /* m x m outputs from an a x a input tile, a = m + 2 */
    const float *bt, *g, *at;    /* B^T (a x a), G (a x 3), A^T (m x a), row-major    */
} cnn__wino;

/* F(2x2, 3x3): points 0, 1, -1, infinity. */
static const float cnn__wino2_bt[16] = { 1,  0, -1,  0,
                                         0,  1,  1,  0,
                                         0, -1,  1,  0,
                                         0,  1,  0, -1 };
static const float cnn__wino2_g[12] = { 1.0f,  0.0f, 0.0f,
                                        0.5f,  0.5f, 0.5f,
                                        0.5f, -0.5f, 0.5f,
                                        0.0f,  0.0f, 1.0f };
static const float cnn__wino2_at[8] = { 1, 1,  1,  0,
                                        0, 1, -1, -1 };
/* F(4x4, 3x3): points 0, 1, -1, 2, -2, infinity. */
static const float cnn__wino4_bt[36] = { 4,  0, -5,  0, 1, 0,
                                         0, -4, -4,  1, 1, 0,
                                         0,  4, -4, -1, 1, 0,
                                         0, -2, -1,  2, 1, 0,
                                         0,  2, -1, -2, 1, 0,
                                         0,  4,  0, -5, 0, 1 };
static const float cnn__wino4_g[18] = {  1.0f / 4,   0.0f,       0.0f,
                                        -1.0f / 6,  -1.0f / 6,  -1.0f / 6,
                                        -1.0f / 6,   1.0f / 6,  -1.0f / 6,
                                         1.0f / 24,  1.0f / 12,  1.0f / 6,
                                         1.0f / 24, -1.0f / 12,  1.0f / 6,
                                         0.0f,       0.0f,       1.0f };
static const float cnn__wino4_at[24] = { 1, 1,  1, 1,  1, 0,
                                         0, 1, -1, 2, -2, 0,
                                         0, 1,  1, 4,  4, 0,
                                         0, 1, -1, 8, -8, 1 };
static const cnn__wino cnn__wino_f2 = { 2, 4, cnn__wino2_bt, cnn__wino2_g, cnn__wino2_at };
static const cnn__wino cnn__wino_f4 = { 4, 6, cnn__wino4_bt, cnn__wino4_g, cnn__wino4_at };

/* Y = L X L^T for CNN__WL lanes at once. L is p x q, X is q x q, Y is p x p (p, q <= 6), and
   element (r, s) of X is the CNN__WL floats at X + (r*q + s) * x_step (of Y, y_step). Zeros
   of L are skipped: they are a third to a half of the entries. */
static void cnn__wino_sandwich_scalar(int p, int q, const float *L, const float *X, ptrdiff_t x_step,
                                      float *Y, ptrdiff_t y_step) {
    float lx[6 * 6 * CNN__WL];   /* L X, p x q */
    int i, j, r, t;
    for (i = 0; i < p; i++)
        for (j = 0; j < q; j++) {
            float *out = lx + (i * q + j) * CNN__WL;
            for (t = 0; t < CNN__WL; t++) out[t] = 0.0f;
            for (r = 0; r < q; r++) {
                const float l = L[i * q + r], *in = X + (r * q + j) * x_step;
                if (l != 0.0f)
                    for (t = 0; t < CNN__WL; t++) out[t] += l * in[t];
            }
        }
    for (i = 0; i < p; i++)
        for (j = 0; j < p; j++) {
            float *out = Y + (i * p + j) * y_step;
            for (t = 0; t < CNN__WL; t++) out[t] = 0.0f;
            for (r = 0; r < q; r++) {
                const float l = L[j * q + r], *in = lx + (i * q + r) * CNN__WL;
                if (l != 0.0f)
                    for (t = 0; t < CNN__WL; t++) out[t] += l * in[t];
            }
        }
}

/* From one element's matrix to the next in V (rows C, ldv apart) or M (rows K, ldm apart):
   rows x ld floats, or one 64-byte line more, so that it is an odd number of lines. The
   transforms write (input) and read (output) a tile's a^2 elements one such step apart; at a
   multiple of 4 KB, which 64 channels of one strip of 16 tiles make exactly, all 36 addresses
   share their low 12 bits: they fall in one set of the L1 cache, and a load waits for every
   store in flight whose address looks the same (4K aliasing). The input transform of V1 alone
   ran 1.6-1.9x faster on AVX2 and 1.4x on AVX-512 with the extra line, the whole F(4x4)
   layer 1.2x (AVX2) and 1.1x (AVX-512) on V1 and V4 (medians of 4 interleaved runs). */
static ptrdiff_t cnn__wino_step(int rows, ptrdiff_t ld) {
    const ptrdiff_t step = (ptrdiff_t)rows * ld;      /* a whole number of lines: ld is */
    return step / CNN__WL % 2 ? step : step + CNN__WL;
}

/* M_e[k][t] = sum_c U_e[k][c] * V_e[c][t] for every element e and strip of 16 tiles: plain
   loops. u is U[rows][a2][kc]; v is V[a2][kc][ldv]; m_out is M[a2][rows][ldm] (elements
   m_step apart: cnn__wino_step of all of M's rows, of which these may be a block). */
static void cnn__wino_products_scalar(int a2, int rows, int kc, int strips, const float *u, const float *v, ptrdiff_t ldv,
                                      float *m_out, ptrdiff_t ldm, ptrdiff_t m_step) {
    int e, j, k, c, t;
    for (e = 0; e < a2; e++)
        for (j = 0; j < strips; j++)
            for (k = 0; k < rows; k++) {
                const float *uk = u + ((size_t)k * a2 + e) * kc;
                const float *vj = v + e * cnn__wino_step(kc, ldv) + j * CNN__WL;
                float *out = m_out + e * m_step + k * ldm + j * CNN__WL;
                for (t = 0; t < CNN__WL; t++) out[t] = 0.0f;
                for (c = 0; c < kc; c++)
                    for (t = 0; t < CNN__WL; t++) out[t] += uk[c] * vj[c * ldv + t];
            }
}


/* Section 5's, for the activation fused into the output transform. */
static void cnn__activation_forward(cnn_activation act, float alpha, size_t count, const float *x, float *y);

/* The filter transform, U[row][e][col] = (G g G^T)[e] for the rows [row0, row0 + count) of
   rows x cols filters g (row row0 at u), 16 of a row at a time. Forward: row k, column c, g = w[k][c]. For the data gradient (flipped), row c,
   column k, and g[r][s] = w[k][c][2-r][2-s]: the filters flipped and transposed. (Row-major
   by filter, so a row's a^2 transformed elements are written to one place; the products
   read U_e[row][col] at row * a^2 * cols + e * cols + col.) The vector twins (F4) load each
   tap of CNN__VL filters with one gather, not by the scalar copy into x below, whose 16-lane
   loads each waited for 16 scalar stores: the transform runs 1.9-2.3x faster so on AVX-512,
   1.6-1.7x on AVX2 (64 x 64 and 256 x 256 filters, one core, medians of 41), and V3's
   Winograd pass (65,536 filters for 16 tiles) 1.3x. */
static void cnn__wino_filters(const cnn__wino *wt, int rows, int cols, const float *w, int flipped, int row0, int count,
                              float *u) {
    float x[9 * CNN__WL], y[36 * CNN__WL];
    const int a2 = wt->a * wt->a;
    int row, c0, t, r, e;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR && (long long)rows * 9 * CNN__WL <= INT32_MAX) {  /* gather offsets */
        CNN__VCALL(wino_filters, (wt, rows, cols, w, flipped, row0, count, u));
        return;
    }
#endif
    for (row = row0; row < row0 + count; row++)
        for (c0 = 0; c0 < cols; c0 += CNN__WL) {
            const int lanes = CNN__MIN(CNN__WL, cols - c0);
            float *out = u + ((size_t)(row - row0) * a2) * cols + c0;
            for (t = 0; t < CNN__WL; t++) {
                const int col = c0 + t;
                const float *g = flipped ? w + ((size_t)col * rows + row) * 9 : w + ((size_t)row * cols + col) * 9;
                if (t >= lanes) for (r = 0; r < 9; r++) x[r * CNN__WL + t] = 0.0f;
                else if (flipped) for (r = 0; r < 9; r++) x[r * CNN__WL + t] = g[8 - r];
                else for (r = 0; r < 9; r++) x[r * CNN__WL + t] = g[r];
            }
            if (lanes == CNN__WL) {
                cnn__wino_sandwich_scalar(wt->a, 3, wt->g, x, CNN__WL, out, cols);
                continue;
            }
            cnn__wino_sandwich_scalar(wt->a, 3, wt->g, x, CNN__WL, y, CNN__WL);
            for (e = 0; e < a2; e++) memcpy(out + (size_t)e * cols, y + e * CNN__WL, (size_t)lanes * sizeof(float));
        }
}

/* The workspace, which may have any alignment, as 64-byte aligned floats; whether it holds
   'floats' of them. Every path with a workspace uses these. */
static float *cnn__workspace_floats(void *ws) {
    return (float *)(void *)((unsigned char *)ws + (-(uintptr_t)ws & (CNN_ALIGNMENT - 1)));
}
static int cnn__workspace_fits(size_t ws_bytes, size_t floats) { return floats * sizeof(float) + CNN_ALIGNMENT <= ws_bytes; }

/* One Winograd problem: an ordinary stride-1 3x3 convolution, but with pads that may be
   negative (the data gradient's), so it carries its output size. The tiles cover out_h x
   out_w; the output planes are y_h x y_w, one row or column more where the last one is
   peeled off and computed apart (cnn__wino_peel). */
typedef struct cnn__wino_shape {
    int n, c, h, w;              /* input: images, channels, rows, columns */
    int k;                       /* output channels */
    int pad_top, pad_left;
    int out_h, out_w;            /* the outputs the tiles compute */
    int y_h, y_w;                /* the output planes */
} cnn__wino_shape;

/* The tiles of m x m outputs of an image, ceil(out_h/m) rows of ceil(out_w/m), and of a batch. */
static long long cnn__wino_image_tiles(int m, const cnn__wino_shape *s) {
    return (long long)((s->out_h + m - 1) / m) * ((s->out_w + m - 1) / m);
}
static long long cnn__wino_tile_count(int m, const cnn__wino_shape *s) { return s->n * cnn__wino_image_tiles(m, s); }

/* Tiles per chunk: V and M of a chunk, a^2 (c + k) floats a tile, fill about half of L2;
   a multiple of 16 (one strip of the products), or, for F(4x4) on the AVX-512 path (wide),
   whole tile rows where a row has 8 tiles or more. There the products take 32 tiles at a time
   (cnn__simd_gemm_wide), and a chunk of whole rows has no run of a few tiles that costs the
   row transforms as much as a whole row: V1's forward and data gradient, 14 tiles a row, ran
   1.3x faster in chunks of 2 rows (28 tiles) than in chunks of 16 tiles (1.02 -> 0.79 ms), V4
   1.17x, V2 (2 rows of 7) the same (min of two alternated runs of medians of 3). F(2x2) (V1:
   28 tiles a row, already two vectors) ran 0-10% slower by whole rows, and AVX2 (16 columns
   to a product) 1.1-1.2x slower on V1 and V4, with 4 lanes of every 32 empty. Otherwise a
   chunk on the AVX-512 path holds 32 tiles or more, even past half of L2: V2 (49 tiles; 14
   fit) ran its forward pass and data gradient 1.06-1.07x faster in chunks of 32 than 16 (the
   products go wide and U, 2.4 MB, is streamed twice instead of 4 times), V1 and V4 the same
   (medians of 6 alternated runs). */
static int cnn__wino_chunk(const cnn__wino *wt, const cnn__wino_shape *s, int wide) {
    const long long tw = (s->out_w + wt->m - 1) / wt->m, tiles = (long long)s->n * ((s->out_h + wt->m - 1) / wt->m) * tw;
    const long long per_tile = (long long)wt->a * wt->a * (s->c + s->k) * (long long)sizeof(float);
    const long long fit = (long long)CNN__L2_BYTES / 2 / per_tile, rows = fit / tw;
    if (wide && wt->m == 4 && tw >= CNN__WL / 2 && rows >= 1) return (int)CNN__MIN(tiles, rows * tw);
    return (int)CNN__MIN(CNN__MAX(fit / CNN__WL * CNN__WL, (long long)CNN__WL * (wide ? 2 : 1)),
                         (tiles + CNN__WL - 1) / CNN__WL * CNN__WL);
}

/* A chunk's rows: M[e][k] holds ldm floats, the strips' 16 lanes each; V[e][c] holds ldv, as
   many or one strip more, so that ldv is an odd number of 64-byte lines. The micro-kernel
   reads a strip of V down C rows ldv apart: at an even number of lines (2 KB apart, say)
   those rows fall on a few cache sets only and evict each other. With one strip, V's rows
   are consecutive, as a packed strip. */
static ptrdiff_t cnn__wino_ldm(int tiles) { return (ptrdiff_t)(tiles + CNN__WL - 1) / CNN__WL * CNN__WL; }
static ptrdiff_t cnn__wino_ldv(int tiles) {
    const ptrdiff_t ldm = cnn__wino_ldm(tiles);
    return ldm / CNN__WL % 2 ? ldm : ldm + CNN__WL;
}

/* Floats of the vector input transform's rows (one tile row's a rows of B^T d, section F4). */
static size_t cnn__wino_rows_floats(const cnn__wino *wt, const cnn__wino_shape *s) {
    const size_t tw = (size_t)(s->out_w + wt->m - 1) / wt->m;
    return (size_t)wt->a * wt->m * cnn__round16(tw + CNN__WL + 1);
}

/* The workspace (cnn__wino_floats): U (unless the caller keeps it), then V and M of one chunk
   (M with 16 floats of slack: the vector output transform reads whole vectors), the vector
   transform's rows and the row offsets of V for the micro-kernel (c of them): those after U
   are cnn__wino_chunk_floats. Then the peel's (cnn__wino_peel_floats). */
static size_t cnn__wino_chunk_floats(const cnn__wino *wt, const cnn__wino_shape *s) {
    const size_t a2 = (size_t)wt->a * wt->a;
    const int chunk = CNN__MAX(cnn__wino_chunk(wt, s, 0), cnn__wino_chunk(wt, s, 1));  /* whichever path runs */
    return a2 * (size_t)cnn__wino_step(s->c, cnn__wino_ldv(chunk)) +
           cnn__round16(a2 * (size_t)cnn__wino_step(s->k, cnn__wino_ldm(chunk)) + CNN__WL) + cnn__wino_rows_floats(wt, s) +
           cnn__round16((size_t)s->c);
}
/* The peel's (cnn__wino_peel_simd): each input channel's line, ld floats (its outputs, the 2
   taps past them and a vector's slack), and the peeled column's outputs, ld of each output
   channel (their products run along it; the column's outputs are ld floats apart in y). */
static ptrdiff_t cnn__wino_peel_ld(const cnn__wino_shape *s) { return (ptrdiff_t)cnn__round16((size_t)CNN__MAX(s->y_h, s->y_w) + 17); }
static size_t cnn__wino_peel_floats(const cnn__wino_shape *s) {
    if (s->out_h == s->y_h && s->out_w == s->y_w) return 0;
    return (size_t)(s->c + s->k) * (size_t)cnn__wino_peel_ld(s);
}
static size_t cnn__wino_floats(const cnn__wino *wt, const cnn__wino_shape *s) {
    return cnn__round16((size_t)wt->a * wt->a * s->k * s->c) + cnn__wino_chunk_floats(wt, s) + cnn__wino_peel_floats(s);
}

/* The weight gradient's chunk: 256 tiles (all of them where there are fewer). Its products sum
   over the chunk's tiles, so a chunk is one run of the micro-kernel's inner loop, and the
   forward's chunks (16 tiles for V1, whose V and M fill half of L2) make it too short: with
   chunks of 256 tiles (V and dM 4.7 MB for V1, past L2), V1's weight gradient ran 1.8x faster
   on AVX2 and V4's 1.7x (medians of 3, one core; 64 and 128 tiles lay between). It depends on
   the tile count only, not on the filters: a filter's sums are then the same in a call on
   some of the filters (a one-image backward pass cut by filters across threads). */
static int cnn__wino_weights_chunk(const cnn__wino *wt, const cnn__wino_shape *s) {
    const long long tiles = cnn__wino_tile_count(wt->m, s);
    return (int)CNN__MIN((tiles + CNN__WL - 1) / CNN__WL * CNN__WL, 256LL);
}

/* The weight gradient's workspace, in floats from its start: dU, the packed strips of V^T
   the vector products read (32 columns of the chunk's tiles), V, dM (as the forward's M) and
   the rows of the vector input transform; at[] receives where each of those five begins, and
   the total is returned (the workspace query and the pass both take it from here). */
static size_t cnn__wino_weights_layout(const cnn__wino *wt, const cnn__wino_shape *s, size_t at[5]) {
    const size_t a2 = (size_t)wt->a * wt->a;
    const int chunk = cnn__wino_weights_chunk(wt, s);
    at[0] = 0;
    at[1] = at[0] + cnn__round16(a2 * s->k * s->c);
    at[2] = at[1] + cnn__round16((size_t)32 * cnn__wino_ldm(chunk));
    at[3] = at[2] + a2 * (size_t)cnn__wino_step(s->c, cnn__wino_ldv(chunk));
    at[4] = at[3] + cnn__round16(a2 * (size_t)cnn__wino_step(s->k, cnn__wino_ldm(chunk)) + CNN__WL);
    return at[4] + cnn__wino_rows_floats(wt, s);
}

/* Lane t of the input transform's X: the a x a window at (row0, col0) of one plane, zero
   outside it. */
static void cnn__wino_gather(const float *plane, int h, int w, int row0, int col0, int a, float *x, int t) {
    const int r_lo = CNN__MAX(0, -row0), r_hi = CNN__MIN(a, h - row0), q_lo = CNN__MAX(0, -col0), q_hi = CNN__MIN(a, w - col0);
    int r, q;
    float *xt = x + t;
    if (a == 6 && r_lo == 0 && q_lo == 0 && r_hi == 6 && q_hi == 6) {   /* inside, the common case */
        for (r = 0; r < 6; r++, xt += 6 * CNN__WL) {
            const float *src = plane + (size_t)(row0 + r) * w + col0;
            xt[0] = src[0]; xt[CNN__WL] = src[1]; xt[2 * CNN__WL] = src[2];
            xt[3 * CNN__WL] = src[3]; xt[4 * CNN__WL] = src[4]; xt[5 * CNN__WL] = src[5];
        }
        return;
    }
    for (r = 0; r < a; r++, xt += a * CNN__WL) {     /* the part inside the image, zeros around */
        if (r < r_lo || r >= r_hi) {
            for (q = 0; q < a; q++) xt[q * CNN__WL] = 0.0f;
        } else {
            const float *row = plane + (size_t)(row0 + r) * w;
            for (q = 0; q < a; q++) xt[q * CNN__WL] = q >= q_lo && q < q_hi ? row[col0 + q] : 0.0f;
        }
    }
}

/* Tile g of the sequence: its image, and the top-left output (input: minus the pads). */
static void cnn__wino_where(const cnn__wino *wt, const cnn__wino_shape *s, long long g, int *img, int *row0, int *col0) {
    const int tw = (s->out_w + wt->m - 1) / wt->m;
    const long long per_image = cnn__wino_image_tiles(wt->m, s);
    *img = (int)(g / per_image);
    *row0 = (int)(g % per_image / tw) * wt->m;
    *col0 = (int)(g % per_image % tw) * wt->m;
}

/* V = B^T d B for the chunk's tiles g0 .. g0 + tiles - 1, element e of tile g0 + t, channel c
   at v[e * cnn__wino_step(C, ldv) + c * ldv + t]: 16 tiles of one channel at a time, gathered into the lanes of
   the transform's X. Lanes past the chunk's last tile are zeros. The scalar reference; the
   vector paths' twin for short tile rows is F4's input_windows (window rows loaded whole and
   transposed into the lanes: gathers of one value at a time, the version before, already ran
   M2's forward pass 1.10-1.15x faster and its data gradient 1.5-1.6x than this copy and a
   vector sandwich). One body, as there: cnn__wino_windows maps each tile's win x win window of
   'channels' planes of h x w (pads subtracted) by Y = L X L^T, L a x win; the weight
   gradient's dM = A dY A^T is the same with L = A and win = m (cnn__wino_output_grad_tiles). */
static void cnn__wino_windows(const cnn__wino *wt, const cnn__wino_shape *s, const float *x, int channels, int h, int w,
                              int pad_top, int pad_left, int win, const float *L, long long g0, int tiles, float *v,
                              ptrdiff_t ldv) {
    const int a = wt->a;
    const size_t in_plane = (size_t)h * w;
    float x_lanes[36 * CNN__WL];
    int img[CNN__WL], row0[CNN__WL], col0[CNN__WL];
    int j, t, c, i, lanes;
    for (j = 0; j * CNN__WL < tiles; j++) {
        lanes = CNN__MIN(CNN__WL, tiles - j * CNN__WL);
        for (t = 0; t < lanes; t++) cnn__wino_where(wt, s, g0 + (long long)j * CNN__WL + t, img + t, row0 + t, col0 + t);
        for (c = 0; c < channels; c++) {
            for (t = 0; t < CNN__WL; t++) {
                if (t < lanes) cnn__wino_gather(x + ((size_t)img[t] * channels + c) * in_plane, h, w,
                                                row0[t] - pad_top, col0[t] - pad_left, win, x_lanes, t);
                else for (i = 0; i < win * win; i++) x_lanes[i * CNN__WL + t] = 0.0f;
            }
            cnn__wino_sandwich_scalar(a, win, L, x_lanes, CNN__WL, v + (size_t)c * ldv + j * CNN__WL, cnn__wino_step(channels, ldv));
        }
    }
}
static void cnn__wino_input_tiles(const cnn__wino *wt, const cnn__wino_shape *s, const float *x, long long g0,
                                  int tiles, float *v, ptrdiff_t ldv) {
    cnn__wino_windows(wt, s, x, s->c, s->h, s->w, s->pad_top, s->pad_left, wt->a, wt->bt, g0, tiles, v, ldv);
}

/* Y = A^T M A + bias, through the activation, into the outputs of the chunk's tiles, with
   M_e[k][t] at m_out[e * cnn__wino_step(K, ldm) + k * ldm + t]. Column 1 of A^T (the point 1) is all ones, so b
   added to element (1, 1) of M comes out added to every output: 16 additions instead of 256.
   The scalar reference; the vector paths' twin for short tile rows is F4's output_strips
   (a tile row of 16 or 8 tiles at a time copied whole: M2's forward pass 1.07-1.10x faster). */
static void cnn__wino_output_tiles(const cnn__wino *wt, const cnn__wino_shape *s, long long g0, int tiles,
                                   float *m_out, ptrdiff_t ldm, const float *bias, cnn_activation act, float alpha, float *y) {
    const int m = wt->m, a = wt->a;
    const size_t out_plane = (size_t)s->y_h * s->y_w;
    const ptrdiff_t m_step = cnn__wino_step(s->k, ldm);
    float y_lanes[16 * CNN__WL];
    int img[CNN__WL], row0[CNN__WL], col0[CNN__WL];
    int j, t, k, i, q, lanes;
    for (j = 0; j * CNN__WL < tiles; j++) {
        lanes = CNN__MIN(CNN__WL, tiles - j * CNN__WL);
        for (t = 0; t < lanes; t++) cnn__wino_where(wt, s, g0 + (long long)j * CNN__WL + t, img + t, row0 + t, col0 + t);
        for (k = 0; k < s->k; k++) {
            float *mk = m_out + k * ldm + j * CNN__WL;
            if (bias)
                for (t = 0; t < CNN__WL; t++) mk[(a + 1) * m_step + t] += bias[k];
            cnn__wino_sandwich_scalar(m, a, wt->at, mk, m_step, y_lanes, CNN__WL);
            if (act != CNN_ACT_NONE) cnn__activation_forward(act, alpha, (size_t)m * m * CNN__WL, y_lanes, y_lanes);
            for (t = 0; t < lanes; t++) {
                float *out = y + ((size_t)img[t] * s->k + k) * out_plane + (size_t)row0[t] * s->y_w + col0[t];
                const float *yt = y_lanes + t;
                const int rows = CNN__MIN(m, s->out_h - row0[t]), cols = CNN__MIN(m, s->out_w - col0[t]);
                if (m == 4 && rows == 4 && cols == 4)          /* a whole tile, the common case */
                    for (i = 0; i < 4; i++, out += s->y_w, yt += 4 * CNN__WL) {
                        out[0] = yt[0]; out[1] = yt[CNN__WL]; out[2] = yt[2 * CNN__WL]; out[3] = yt[3 * CNN__WL];
                    }
                else
                    for (i = 0; i < rows; i++)
                        for (q = 0; q < cols; q++) out[(size_t)i * s->y_w + q] = yt[(i * m + q) * CNN__WL];
            }
        }
    }
}

#ifdef CNN__SIMD
/* Whether the vector path transforms a tile row at a time (F4) rather than a tile at a time:
   when the tile rows fill at least 3/4 of the lanes they take (VL of them at a time), except
   F(4x4) on AVX2. The rows' transforms load and store whole vectors where the tiles' gather
   and scatter one float at a time, but a row of 3 tiles leaves 13 of AVX-512's 16 lanes idle.
   Measured on the benchmark layers against the tile-at-a-time code (min of two runs of
   medians of 3, one core, Zen 5): by rows, F(2x2) runs V1, V2, V4 and M1 1.2-2.0x faster on
   both widths and M2 1.3x on AVX2 (6 tiles a row of 8 lanes); F(4x4) on AVX-512 runs V1 (14
   tiles a row) 1.08x faster, while V3 (4 tiles a row) ran up to 1.3x slower by rows than by
   tiles. F(4x4) on AVX2 ran V1 1.15-1.2x slower by rows: its transforms' 36 values do not fit in
   16 registers, and the compiler's spills (some stored in halves and reloaded whole) cost
   more than the gather. */
static int cnn__wino_by_rows(const cnn__wino *wt, const cnn__wino_shape *s) {
    const int tw = (s->out_w + wt->m - 1) / wt->m;
    const int vl = cnn_simd_active() == CNN_SIMD_AVX512 ? 16 : cnn_simd_active() == CNN_SIMD_NEON ? 4 : 8;
    if (wt->m == 4 && vl == 8) return 0;
    return 4 * tw >= 3 * ((tw + vl - 1) / vl * vl);
}
#endif

/* Filter rows a block of the products takes when it transforms them on the way
   (cnn__wino_products): a multiple of the micro-kernel's 12 rows whose U fills at most a
   quarter of L2, and 12 at least (442 KB of U at 256 channels). */
static int cnn__wino_block_rows(const cnn__wino *wt, int c) {
    const long long fit = (long long)CNN__L2_BYTES / 4 / ((long long)wt->a * wt->a * c * (long long)sizeof(float));
    return (int)CNN__MAX(12, fit / 12 * 12);
}

/* M = U V for a chunk's tiles: every element, all K rows of U (ldm and the element step of M
   for those rows). With u NULL, the filters are transformed on the way, a block of rows at
   a time into u_block (cnn__wino_filters, from w, flipped or not), each block's products
   right after it: U then never leaves L2. The whole of U of a 256 x 256 layer is 9.4 MB, and
   written out and read back once per call it made V3's Winograd pass up to 1.4x slower than
   direct whenever the machine's memory was busy, 1.2x faster when it was not. A row's
   products do not depend on the block it falls in. */
static void cnn__wino_products(const cnn__wino *wt, const cnn__wino_shape *s, const float *u, const float *w, int flipped,
                               float *u_block, const float *v, ptrdiff_t ldv, const int32_t *v_rows, float *prod,
                               ptrdiff_t ldm) {
    const int a2 = wt->a * wt->a, strips = (int)(ldm / CNN__WL), block = u ? s->k : cnn__wino_block_rows(wt, s->c);
    const ptrdiff_t m_step = cnn__wino_step(s->k, ldm);
    int k0;
    for (k0 = 0; k0 < s->k; k0 += block) {
        const int rows = CNN__MIN(block, s->k - k0);
        const float *uk = u ? u : u_block;
        if (!u) cnn__wino_filters(wt, s->k, s->c, w, flipped, k0, rows, u_block);
#ifdef CNN__SIMD
        if (cnn_simd_active() != CNN_SIMD_SCALAR) {
            cnn__wino_products_simd(a2, rows, s->c, strips, uk, v, ldv, v_rows, prod + k0 * ldm, ldm, m_step);
            continue;
        }
#endif
        (void)v_rows;
        cnn__wino_products_scalar(a2, rows, s->c, strips, uk, v, ldv, prod + k0 * ldm, ldm, m_step);
    }
}

/* y = act(conv(x, filters) + bias) through Winograd, with u the transformed filters
   (cnn__wino_filters), or NULL to transform them from w (flipped or not) a block at a time
   into u_block, and work the chunk's V and M and the rest of the workspace after U
   (cnn__wino_floats). Chunk by chunk: the input transform, the products, the output
   transform; on vectors (F4) unless the scalar path is active. Only the tiles [first, last)
   of the batch (image by image, row by row) are computed: a thread's share of one image.
   A tile's arithmetic does not depend on the chunk it falls in. */
static void cnn__wino_conv(const cnn__wino *wt, const cnn__wino_shape *s, const float *x, const float *u,
                           const float *w, int flipped, float *u_block, const float *bias, cnn_activation act,
                           float alpha, float *y, float *work, long long first, long long last) {
    const int a2 = wt->a * wt->a, chunk = cnn__wino_chunk(wt, s, cnn_simd_active() == CNN_SIMD_AVX512);
    const long long total = CNN__MIN(last, cnn__wino_tile_count(wt->m, s));
    float *v = work, *prod = v + (size_t)a2 * cnn__wino_step(s->c, cnn__wino_ldv(chunk));
    float *rows = prod + cnn__round16((size_t)a2 * cnn__wino_step(s->k, cnn__wino_ldm(chunk)) + CNN__WL);
    int32_t *v_rows = (int32_t *)(void *)(rows + cnn__wino_rows_floats(wt, s));
    ptrdiff_t ldv_rows = 0;              /* the ldv v_rows holds (only the last chunk may differ) */
    long long g0;
#ifdef CNN__SIMD
    const int simd = cnn_simd_active() != CNN_SIMD_SCALAR, by_rows = simd && cnn__wino_by_rows(wt, s);
#endif
    for (g0 = first; g0 < total; g0 += chunk) {
        const int tiles = (int)CNN__MIN((long long)chunk, total - g0);
        const ptrdiff_t ldv = cnn__wino_ldv(tiles), ldm = cnn__wino_ldm(tiles);
        int c;
        if (ldv != ldv_rows) {
            for (c = 0; c < s->c; c++) v_rows[c] = (int32_t)(c * ldv);
            ldv_rows = ldv;
        }
#ifdef CNN__SIMD
        if (simd) {
            if (by_rows) CNN__VCALL(wino_input_rows, (wt, s, x, g0, tiles, v, ldv, rows));
            else CNN__VCALL(wino_input_windows, (wt, s, x, g0, tiles, v, ldv));
            cnn__wino_products(wt, s, u, w, flipped, u_block, v, ldv, v_rows, prod, ldm);
            if (by_rows) CNN__VCALL(wino_output_rows, (wt, s, g0, tiles, prod, ldm, bias, act, alpha, y));
            else CNN__VCALL(wino_output_strips, (wt, s, g0, tiles, prod, ldm, bias, act, alpha, y));
            continue;
        }
#endif
        cnn__wino_input_tiles(wt, s, x, g0, tiles, v, ldv);
        cnn__wino_products(wt, s, u, w, flipped, u_block, v, ldv, v_rows, prod, ldm);
        cnn__wino_output_tiles(wt, s, g0, tiles, prod, ldm, bias, act, alpha, y);
    }
}

/* The Winograd tile (2 or 4) pass 'pass' of s runs (0 forward, 1 data gradient, 2 weight gradient), 0 for
   direct. Explicit requests are honoured (cnn_conv2d_check refused those Winograd cannot
   serve); auto follows the rule measured on the benchmark layers (docs/design.md). */
static int cnn__wino_tile_on(const cnn_conv2d_shape *s, int pass, int any_path) {
    int in_c, out_c, oh, ow, kept;
    long long tiles;
    /* A grouped shape never runs Winograd whole: the dispatch points give each group its own
       (an explicit request), and auto takes direct for groups > 1 */
    if (pass > 2 || !cnn__wino_serves(s) || s->algo == CNN_CONV_DIRECT || cnn__direct_variant(s) || cnn__conv2d_groups(s) > 1) return 0;
    if (s->algo == CNN_CONV_WINOGRAD_2X2) return 2;
    if (s->algo == CNN_CONV_WINOGRAD_4X4) return 4;
    if (pass == 2) {
        /* The weight gradient: F(4x4) with 32 channels or more in and out (as above) and 16
           tiles or more in the call. Its products sum over the tiles and cost a^2 per tile,
           channel and filter against direct's 9 per output, so kept outputs matter less than
           in the other passes (M3's 3 x 3 outputs keep 56% and gain 1.4x at 64 tiles); but
           the filter-gradient transform and dU (a^2 K C) are paid once per call, and below
           16 tiles they are not paid back. AVX2 on Zen 3, medians of 11-41 alternated calls,
           since whole micro-kernel tiles store without masks: M3 0.95-1.06x at 16 tiles,
           1.3-1.4x slower at 8; V3 (16 tiles of 256 x 256 channels) 1.4x faster; M2 1.2x at
           18 tiles, 1.7-1.8x at 144. (Before, the products' masked stores set the bar at 32: M3 1.0x
           and V3 1.05x at 16 tiles.) */
        tiles = (long long)s->n * ((cnn__conv2d_out_h(s) + 3) / 4) * ((cnn__conv2d_out_w(s) + 3) / 4);
        return s->c >= 32 && s->k >= 32 && tiles >= 16 ? 4 : 0;
    }
    in_c = pass == 0 ? s->c : s->k;
    out_c = pass == 0 ? s->k : s->c;
    oh = pass == 0 ? cnn__conv2d_out_h(s) : s->h;
    ow = pass == 0 ? cnn__conv2d_out_w(s) : s->w;
    tiles = (long long)((oh + 3) / 4) * ((ow + 3) / 4);
    /* Auto: F(4x4) where all of these hold, else direct (F(2x2) never won on the benchmark
       layers: where it beats direct, F(4x4) beats it):
       - 32 channels or more in and out: the transforms cost per tile and channel what the
         product costs per tile, channel and filter, so with few channels they are not paid
         back (a 1-channel first layer runs 6x slower);
       - enough of the tiles' outputs are kept: 50% on AVX2, 65% on the other paths. On
         AVX2 (Zen 3, medians of 11-21 alternated calls, after whole micro-kernel tiles
         stopped storing through masks), 3 x 3 outputs (M3's forward, 56% kept) run
         1.1-1.4x faster in F(4x4) than direct and 9 x 9 (56%) 1.5x; 5 x 5 (39%) tie and
         M3's data gradient (5 x 5 in 8 x 8, 39%) runs 1.7x slower. On AVX-512 (Zen 5, not
         measured since) M3's forward ran 1.5x slower than direct before 3dc8467, which sped
         it up 1.1-1.2x: still slower, so it stays direct there. 13 x 13 (M2's data
         gradient) keep 66%: since the input transform loads window rows whole (3dc8467),
         F(4x4) runs it 1.16x faster than direct on AVX-512 and 1.44x on AVX2 (Zen 5),
         1.2-1.4x on AVX2 on Zen 3, and 1.8-1.9x there since its last row and column are
         peeled (cnn__wino_peels; the rule still counts them as tiles); before 3dc8467,
         1.2-2x slower, and the bar was 75%. V3's 14 x 14
         keep 77%: F(4x4) runs its forward pass 1.6x faster than direct on AVX2 and 1.2-1.3x
         on AVX-512, its data gradient 1.3-1.5x and 1.1-1.2x (two runs, medians of 3; in
         minutes when the machine's memory is busy, AVX-512's ties direct, 0.98-1.04x). (The
         bar was 80% on AVX-512 until the filter transform gathered its taps: direct won V3
         there by 1.02-1.38x.)
       - 16 tiles or more in the batch (one strip of the products): U, 4x the weights, is
         written and read once per call; 16 tiles of 256 x 256 channels (V3) still gain
         1.0-1.2x, fewer tiles leave lanes of every product empty. */
    kept = any_path || cnn_simd_active() == CNN_SIMD_AVX2 ? 50 : 65;
    if (in_c < 32 || out_c < 32 || (long long)oh * ow * 100 < tiles * 16 * kept || tiles * s->n < 16) return 0;
    return 4;
}

/* The algorithm pass 'pass' of s runs on the active path, and the one to size memory for: the
   workspace and the network's arena are the same on every path (any_path: Winograd wherever
   some path takes it), so a buffer sized on one machine serves the same program on another. */
static int cnn__wino_tile(const cnn_conv2d_shape *s, int pass) { return cnn__wino_tile_on(s, pass, 0); }
static int cnn__wino_tile_sized(const cnn_conv2d_shape *s, int pass) { return cnn__wino_tile_on(s, pass, 1); }

/* Whether the data gradient peels off its last row (or column) of outputs: where the
   forward pass has no padding after it (pad_after 0, as in a 'valid' convolution) and the
   row would be alone in its tile row (size = m q + 1). dy is then padded by 2 there, so of
   the flipped filter's three rows only the first meets dy: the row is a 1 x 3 convolution of
   dy's last row, 3 products an output, where its tile row would pay a^2 products a tile for
   one useful row of m outputs (9 an output in F(4x4), 8 in F(2x2)), and the transforms of
   those tiles besides. cnn__wino_peel computes it apart. M2's data gradient (13 x 13
   outputs, 16 tiles an image, 9 once peeled) ran 1.32-1.35x faster so in F(4x4) and 1.15x
   in F(2x2), M3's (5 x 5, 4 tiles, then 1) 1.17x in F(4x4), and the digit model's training
   step 1.06-1.07x on one thread, 1.05x on two (AVX2 on Zen 3; old and new code alternated in
   one program, medians of 61). Packing a strip of 16 inputs a tap (the direct
   kernels' im2col) made the peel 18% of M2's pass; its lines read in place, 6%, and 3% more
   in the copies of the lines (memcpy and memset; perf). */
static int cnn__wino_peels(int m, int size, int pad_after) { return pad_after == 0 && size > m && size % m == 1; }

/* The Winograd problem of a pass. The data gradient of a stride-1 3x3 convolution is the
   convolution of dy with the flipped, transposed filters, padded by 2 - pad on each side: its
   output is the input's h x w, less the row and column it peels (cnn__wino_peels). */
static void cnn__wino_problem(const cnn_conv2d_shape *s, int pass, cnn__wino_shape *p) {
    p->n = s->n;
    if (pass != 1) {
        p->c = s->c; p->h = s->h; p->w = s->w; p->k = s->k;
        p->pad_top = s->pad_top; p->pad_left = s->pad_left;
        p->y_h = p->out_h = cnn__conv2d_out_h(s); p->y_w = p->out_w = cnn__conv2d_out_w(s);
    } else {
        p->c = s->k; p->h = cnn__conv2d_out_h(s); p->w = cnn__conv2d_out_w(s); p->k = s->c;
        p->pad_top = 2 - s->pad_top; p->pad_left = 2 - s->pad_left;
        p->y_h = p->out_h = s->h; p->y_w = p->out_w = s->w;
        {   /* the tile the workspace is sized for: the one that runs, whenever one does */
            const int m = cnn__wino_tile_sized(s, pass);
            if (m && cnn__wino_peels(m, s->h, s->pad_bottom)) p->out_h--;
            if (m && cnn__wino_peels(m, s->w, s->pad_right)) p->out_w--;
        }
    }
}

static const cnn__wino *cnn__wino_of(int m) { return m == 2 ? &cnn__wino_f2 : &cnn__wino_f4; }

/* The workspace of a pass through Winograd; without U when the caller keeps it (u_kept). */
static size_t cnn__wino_workspace_floats(const cnn_conv2d_shape *s, int pass, int u_kept) {
    cnn__wino_shape p;
    const int m = cnn__wino_tile_sized(s, pass);
    const size_t a = m ? (size_t)cnn__wino_of(m)->a : 0;
    if (!m) return 0;
    cnn__wino_problem(s, pass, &p);
    if (pass == 2) {
        size_t at[5];
        return cnn__wino_weights_layout(cnn__wino_of(m), &p, at);
    }
    return cnn__wino_floats(cnn__wino_of(m), &p) - (u_kept ? cnn__round16(a * a * p.k * p.c) : 0);
}

/* A peeled line of outputs (cnn__wino_peels; the data gradient, so x is dy and w the forward's
   filters, read flipped and transposed: tap (r, q) of the filter from input channel c to
   output o is w[(c K + o) 9 + 8 - 3 r - q]). Line 0, the last row, if peeled: every column of
   it (the corner too) meets input row h - 1 with the filter's row 0 only, at taps 8 - j.
   Line 1, the last column, if peeled: the rows the tiles compute meet input column w - 1
   with the filter's column 0 only, at taps 8 - 3 j. Output p of the line reads input p - pad
   + j (j = 0, 1, 2) of the input line, zero outside 0 .. length - 1. */
typedef struct cnn__wino_line {
    int count;                   /* outputs (0: the line is not peeled) */
    int pad, length;             /* the input line: its pad before, its length */
    int tap_step;                /* the filter's tap j is 8 - tap_step j */
    ptrdiff_t in_first, in_step; /* input p of the line in a plane */
    ptrdiff_t out_first, out_step; /* output p of the line in a plane */
} cnn__wino_line;
static cnn__wino_line cnn__wino_peeled_line(const cnn__wino_shape *s, int side) {
    cnn__wino_line l;
    if (side == 0) {
        l.count = s->out_h < s->y_h ? s->y_w : 0;
        l.pad = s->pad_left; l.length = s->w; l.tap_step = 1;
        l.in_first = (ptrdiff_t)(s->h - 1) * s->w; l.in_step = 1;
        l.out_first = (ptrdiff_t)(s->y_h - 1) * s->y_w; l.out_step = 1;
    } else {
        l.count = s->out_w < s->y_w ? s->out_h : 0;
        l.pad = s->pad_top; l.length = s->h; l.tap_step = 3;
        l.in_first = s->w - 1; l.in_step = s->w;
        l.out_first = s->y_w - 1; l.out_step = s->y_w;
    }
    return l;
}

/* The peeled outputs of images [i0, i1): both lines, each output a sum over the input
   channels of 3 taps. The vector paths run each line as products of the micro-kernel. */
static void cnn__wino_peel(const cnn__wino_shape *s, const float *x, const float *w, float *y, float *work, int i0, int i1) {
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->y_h * s->y_w;
    int i, side, o, c, j, p;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        cnn__wino_peel_simd(s, x, w, y, work, i0, i1);
        return;
    }
#endif
    (void)work;
    for (i = i0; i < i1; i++)
        for (side = 0; side < 2; side++) {
            const cnn__wino_line l = cnn__wino_peeled_line(s, side);
            for (o = 0; o < s->k; o++)
                for (p = 0; p < l.count; p++) {
                    float sum = 0.0f;
                    for (c = 0; c < s->c; c++) {
                        const float *line = x + ((size_t)i * s->c + c) * in_plane + l.in_first;
                        const float *f = w + ((size_t)c * s->k + o) * 9;
                        for (j = 0; j < 3; j++) {
                            const int at = p - l.pad + j;
                            if (at >= 0 && at < l.length) sum += line[at * l.in_step] * f[8 - l.tap_step * j];
                        }
                    }
                    y[((size_t)i * s->k + o) * out_plane + l.out_first + p * l.out_step] = sum;
                }
        }
}

/* Pass 0 (y = act(conv(x, w) + b)) or 1 (dx from dy, with x = dy, y = dx, no bias) through
   Winograd, if the pass runs it and the workspace holds it; 0, doing nothing, otherwise. u:
   the forward's transformed filters when the caller keeps them (the network), else NULL:
   then they are transformed into the workspace, all at once where the tiles take several
   chunks, else on the way, block by block (cnn__wino_products). Only the output tiles
   [first, last) are computed (cnn__wino_conv): 0 and cnn__wino_tile_count for all of them. */
static int cnn__conv2d_wino_tiles(const cnn_conv2d_shape *s, int pass, const float *x, const float *w, const float *u,
                                  const float *b, cnn_activation act, float alpha, float *y, void *ws, size_t ws_bytes,
                                  long long first, long long last) {
    const int m = cnn__wino_tile(s, pass);
    const cnn__wino *wt = cnn__wino_of(m);
    cnn__wino_shape p;
    float *work, *u_block = NULL;
    if (!m || !ws || !cnn__workspace_fits(ws_bytes, cnn__wino_workspace_floats(s, pass, u != NULL))) return 0;
    cnn__wino_problem(s, pass, &p);
    work = cnn__workspace_floats(ws);
    if (!u) {
        const long long tiles = CNN__MIN(last, cnn__wino_tile_count(m, &p)) - first;
        if (tiles > cnn__wino_chunk(wt, &p, cnn_simd_active() == CNN_SIMD_AVX512)) {
            cnn__wino_filters(wt, p.k, p.c, w, pass == 1, 0, p.k, work);   /* once, for every chunk */
            u = work;
        } else {
            u_block = work;
        }
        work += cnn__round16((size_t)wt->a * wt->a * p.k * p.c);
    }
    cnn__wino_conv(wt, &p, x, u, w, pass == 1, u_block, pass == 0 ? b : NULL, act, alpha, y, work, first, last);
    if (p.out_h < p.y_h || p.out_w < p.y_w) {    /* the peeled outputs of the images whose last tile is here */
        const long long per_image = cnn__wino_image_tiles(m, &p);
        cnn__wino_peel(&p, x, w, y, work + cnn__wino_chunk_floats(wt, &p), (int)(first / per_image),
                       (int)(CNN__MIN(last, p.n * per_image) / per_image));
    }
    return 1;
}

/* The same over every tile. */
static int cnn__conv2d_wino(const cnn_conv2d_shape *s, int pass, const float *x, const float *w, const float *u,
                            const float *b, cnn_activation act, float alpha, float *y, void *ws, size_t ws_bytes) {
    const int m = cnn__wino_tile(s, pass);
    cnn__wino_shape p;
    if (!m) return 0;
    cnn__wino_problem(s, pass, &p);
    return cnn__conv2d_wino_tiles(s, pass, x, w, u, b, act, alpha, y, ws, ws_bytes, 0, cnn__wino_tile_count(m, &p));
}

/* ---- the weight gradient through Winograd ----
   A tile's forward pass is Y[k] = A^T (sum over c of U[k][c] .* V[c]) A, with U = G g G^T and
   V = B^T d B. Every step is linear, so with dY[k] the loss's gradient at the tile's m x m
   outputs (zero where the tile runs past the output) and dM[k] = A dY[k] A^T (the output
   transform run backwards):
       dU[k][c] = sum over the tiles of dM[k] .* V[c]      (element by element)
       dg[k][c] = G^T dU[k][c] G                            (the filter transform run backwards)
   The tiles' outputs do not overlap and the forward is an exact convolution, so this is the
   exact weight gradient; only the rounding differs from direct's. The sum over tiles is a^2
   matrix products with the tiles as the inner dimension, dU_e (K x C) = dM_e (K x T) V_e^T
   (T x C): per filter and channel, F(4x4) multiplies 36 times a tile where direct does 9 times
   each of its 16 outputs, 4x fewer (F(2x2): 2.25x; M2's 11 x 11 outputs in 9 tiles: 3.4x).
   V is the forward's input transform of x, chunk by chunk as there; dM the same layout as the
   forward's M. */

/* dM = A dY A^T for the chunk's tiles g0 .. g0 + tiles - 1 of the gradient dy at the
   problem's outputs: element e of tile g0 + t, filter k at dm[e * cnn__wino_step(K, ldm) +
   k * ldm + t], zeros in the lanes past the last tile. The scalar reference; the vector
   paths' twin is F4's grad_windows (the input transform's window kernel on dy's m x m
   windows: this code took 43% of M2's weight gradient on AVX2, the vector kernel 13%, perf). */
static void cnn__wino_output_grad_tiles(const cnn__wino *wt, const cnn__wino_shape *s, const float *dy, long long g0, int tiles,
                                        float *dm, ptrdiff_t ldm) {
    float a_mat[24];
    int i, j;
    for (i = 0; i < wt->m; i++)              /* A (a x m), the transpose of the output transform's A^T */
        for (j = 0; j < wt->a; j++) a_mat[j * wt->m + i] = wt->at[i * wt->a + j];
    cnn__wino_windows(wt, s, dy, s->k, s->out_h, s->out_w, 0, 0, wt->m, a_mat, g0, tiles, dm, ldm);
}

/* dU_e[k][c] (+)= sum over t < tiles of dM_e[k][t] V_e[c][t], for every element e: plain
   loops, each sum in tile order. du is dU[K][a2][C] (filter-major, as U). */
static void cnn__wino_weight_products_scalar(int a2, int k, int c, int tiles, const float *dm, ptrdiff_t ldm,
                                             const float *v, ptrdiff_t ldv, int accumulate, float *du) {
    const ptrdiff_t m_step = cnn__wino_step(k, ldm), v_step = cnn__wino_step(c, ldv);
    int e, i, j, t;
    for (e = 0; e < a2; e++)
        for (i = 0; i < k; i++)
            for (j = 0; j < c; j++) {
                const float *mi = dm + e * m_step + i * ldm, *vj = v + e * v_step + j * ldv;
                float *out = du + ((size_t)i * a2 + e) * c + j, sum = accumulate ? *out : 0.0f;
                for (t = 0; t < tiles; t++) sum += mi[t] * vj[t];
                *out = sum;
            }
}

/* dw[k][c] = G^T dU[k][c] G for every filter, CNN__WL columns of a row at a time. The scalar
   reference; the vector paths' twin is F4's weight_grads (V3's 65,536 filters took half of
   its Winograd weight gradient in this code). */
static void cnn__wino_weight_grads(const cnn__wino *wt, int k, int c, const float *du, float *dw) {
    const int a = wt->a, a2 = a * a;
    float gt[18], x[36 * CNN__WL], y[9 * CNN__WL];
    int i, j, row, c0, t, e, lanes;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        CNN__VCALL(wino_weight_grads, (wt, k, c, du, dw));
        return;
    }
#endif
    for (i = 0; i < a; i++)                  /* G^T (3 x a) */
        for (j = 0; j < 3; j++) gt[j * a + i] = wt->g[i * 3 + j];
    for (row = 0; row < k; row++)
        for (c0 = 0; c0 < c; c0 += CNN__WL) {
            lanes = CNN__MIN(CNN__WL, c - c0);
            for (e = 0; e < a2; e++) {
                const float *src = du + ((size_t)row * a2 + e) * c + c0;
                for (t = 0; t < CNN__WL; t++) x[e * CNN__WL + t] = t < lanes ? src[t] : 0.0f;
            }
            cnn__wino_sandwich_scalar(3, a, gt, x, CNN__WL, y, CNN__WL);
            for (t = 0; t < lanes; t++)
                for (e = 0; e < 9; e++) dw[((size_t)row * c + c0 + t) * 9 + e] = y[e * CNN__WL + t];
        }
}

/* dw from x and dy (the forward problem s's input and output gradient) through Winograd,
   chunk by chunk of tiles: V (as the forward), dM, and dU summed over the chunks in order;
   then dg from dU. The chunks depend on the shape only, so the sums do too. */
static void cnn__wino_weights(const cnn__wino *wt, const cnn__wino_shape *s, const float *x, const float *dy, float *dw,
                              float *work) {
    const int a2 = wt->a * wt->a, chunk = cnn__wino_weights_chunk(wt, s);
    const long long total = cnn__wino_tile_count(wt->m, s);
    size_t at[5];
    float *du, *strip, *v, *dm, *rows;
    long long g0;
#ifdef CNN__SIMD
    const int simd = cnn_simd_active() != CNN_SIMD_SCALAR, by_rows = simd && cnn__wino_by_rows(wt, s);
#endif
    cnn__wino_weights_layout(wt, s, at);
    du = work + at[0]; strip = work + at[1]; v = work + at[2]; dm = work + at[3]; rows = work + at[4];
    (void)rows; (void)strip;
    for (g0 = 0; g0 < total; g0 += chunk) {
        const int tiles = (int)CNN__MIN((long long)chunk, total - g0);
        const ptrdiff_t ldv = cnn__wino_ldv(tiles), ldm = cnn__wino_ldm(tiles);
#ifdef CNN__SIMD
        if (simd) {
            CNN__VCALL(wino_grad_windows, (wt, s, dy, g0, tiles, dm, ldm));
            if (by_rows) CNN__VCALL(wino_input_rows, (wt, s, x, g0, tiles, v, ldv, rows));
            else CNN__VCALL(wino_input_windows, (wt, s, x, g0, tiles, v, ldv));
            cnn__wino_weight_products_simd(a2, s->k, s->c, tiles, dm, ldm, v, ldv, strip, g0 > 0, du);
            continue;
        }
#endif
        cnn__wino_output_grad_tiles(wt, s, dy, g0, tiles, dm, ldm);
        cnn__wino_input_tiles(wt, s, x, g0, tiles, v, ldv);
        cnn__wino_weight_products_scalar(a2, s->k, s->c, tiles, dm, ldm, v, ldv, g0 > 0, du);
    }
    cnn__wino_weight_grads(wt, s->k, s->c, du, dw);
}

/* dw (not db) of s from x and dy through Winograd, if the weight gradient runs it and the
   workspace holds it; 0, doing nothing, otherwise. */
static int cnn__conv2d_wino_weights(const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw, void *ws,
                                    size_t ws_bytes) {
    const int m = cnn__wino_tile(s, 2);
    cnn__wino_shape p;
    if (!m || !ws || !cnn__workspace_fits(ws_bytes, cnn__wino_workspace_floats(s, 2, 0))) return 0;
    cnn__wino_problem(s, 2, &p);
    cnn__wino_weights(cnn__wino_of(m), &p, x, dy, dw, cnn__workspace_floats(ws));
    return 1;
}

/* The sum of count floats, in eight running sums: one sum is a chain of dependent additions,
   each waiting for the last (3-4 cycles); over M1's 676-pixel planes it once took 40% of the
   vector weight-gradient pass (perf). Eight chains keep the adders busy (and the compiler may
   turn them into one vector). */
static float cnn__sum(const float *v, size_t count) {
    float part[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    size_t i = 0;
    int l;
    for (; i + 8 <= count; i += 8)
        for (l = 0; l < 8; l++) part[l] += v[i + l];
    for (; i < count; i++) part[0] += v[i];
    return ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
}

/* db[k] = sum over n, i, j of dy[n][k][i][j], for the paths that do not sum it on the way
   (the scalar one and the im2col paths; the workspace path sums it in its pack of dy). */
static void cnn__conv2d_bias_gradient(const cnn_conv2d_shape *s, const float *dy, float *db) {
    const size_t pixels = (size_t)cnn__conv2d_out_h(s) * cnn__conv2d_out_w(s);
    int n, k;
    memset(db, 0, (size_t)s->k * sizeof(float));
    for (n = 0; n < s->n; n++)
        for (k = 0; k < s->k; k++) db[k] += cnn__sum(dy + ((size_t)n * s->k + k) * pixels, pixels);
}

/* ---- groups ----
   The fast kernels know one group only: x, w and y are whole images of c, k x c and k
   channels. A grouped convolution is groups independent convolutions of c/groups channels
   into k/groups filters, but in the batch its slices are not laid out as a batch: image n's
   group g starts at x + (n*c + g*c/groups)*h*w, the next image's c*h*w further, not
   (c/groups)*h*w. So the dispatch points run the kernels one image and one group at a time
   (a part: n = 1, c/groups channels, k/groups filters, the group's run of the weights), which
   are contiguous. The data and output of each part are disjoint; the weight gradient of a
   group is summed over the images, part 0 written in place and each further image's into
   scratch at the front of the workspace, then added (a fixed order: images in turn).
   Depthwise convolutions (one input channel per group) are not split: a product of one
   channel fills no vector; the depthwise kernels take them whole. */
static void cnn__conv2d_group_part(const cnn_conv2d_shape *s, cnn_conv2d_shape *part) {
    *part = *s;
    part->n = 1;
    part->groups = 1;
    part->c = s->c / cnn__conv2d_groups(s);
    part->k = s->k / cnn__conv2d_groups(s);
    if (part->algo == CNN_CONV_AUTO) part->algo = CNN_CONV_DIRECT;   /* auto takes direct for groups > 1 */
}

/* Whether a grouped shape is split into parts for the kernels (the rest run the scalar
   reference or the depthwise kernels whole). Forced variants and explicit Winograd are split
   on every path, as they would run ungrouped; the rest on a vector path. */
static int cnn__conv2d_group_split(const cnn_conv2d_shape *s, int any_path) {
    const int groups = cnn__conv2d_groups(s);
    if (groups == 1) return 0;
    if (cnn__direct_variant(s) || s->algo == CNN_CONV_WINOGRAD_2X2 || s->algo == CNN_CONV_WINOGRAD_4X4) return 1;
#ifdef CNN__SIMD
    return s->c / groups > 1 && (any_path || cnn_simd_active() != CNN_SIMD_SCALAR);
#else
    (void)any_path;
    return 0;
#endif
}

/* The floats of one group's weights (the weight gradient's scratch), rounded to 16. */
static size_t cnn__conv2d_group_weights(const cnn_conv2d_shape *s) {
    return cnn__round16((size_t)(s->k / cnn__conv2d_groups(s)) * (s->c / cnn__conv2d_groups(s)) * s->kh * s->kw);
}

/* The workspace, in bytes, of the paths for the passes wanted: the largest any of them takes
   (Winograd's without its filters when the caller keeps them). Zero when no path uses one. */
static size_t cnn__conv2d_workspace(const cnn_conv2d_shape *s, int forward, int backward_data, int backward_weights,
                                    int wino_filters_kept) {
    size_t floats = 0;
    if (!s || cnn_conv2d_check(s, NULL, NULL) != CNN_OK) return 0;
    if (cnn__conv2d_groups(s) > 1) {     /* a part's, and the weight gradient's scratch */
        cnn_conv2d_shape part;
        size_t bytes;
        if (!cnn__conv2d_group_split(s, 1)) return 0;
        cnn__conv2d_group_part(s, &part);
        bytes = cnn__conv2d_workspace(&part, forward, backward_data, backward_weights, 0);
        if (backward_weights && s->n > 1) bytes += cnn__conv2d_group_weights(s) * sizeof(float) + CNN_ALIGNMENT;
        return bytes;
    }
    if (forward) floats = cnn__wino_workspace_floats(s, 0, wino_filters_kept);      /* on every path */
    if (backward_data) floats = CNN__MAX(floats, cnn__wino_workspace_floats(s, 1, 0));
    if (backward_weights) floats = CNN__MAX(floats, cnn__wino_workspace_floats(s, 2, 0));
#ifdef CNN__SIMD
    if (forward) floats = CNN__MAX(floats, CNN__MAX(cnn__forward_direct_floats(s), cnn__forward_gather_floats(s)));
    if (backward_data) floats = CNN__MAX(floats, CNN__MAX(cnn__backward_data_direct_floats(s), cnn__backward_data_gather_floats(s)));
    if (backward_weights) floats = CNN__MAX(floats, cnn__backward_weights_floats(s));
#else
    (void)backward_weights;
#endif
    return floats ? floats * sizeof(float) + CNN_ALIGNMENT : 0;
}

CNNDEF size_t cnn_conv2d_workspace_bytes(const cnn_conv2d_shape *s) {
    cnn_conv2d_shape settled;
    return cnn__conv2d_workspace(cnn__conv2d_settle(s, &settled), 1, 1, 1, 0);
}

CNNDEF cnn_conv_algo cnn_conv2d_algo_chosen(const cnn_conv2d_shape *shape, int pass) {
    cnn_conv2d_shape settled;
    const cnn_conv2d_shape *s = cnn__conv2d_settle(shape, &settled);
    if (!s || cnn_conv2d_check(s, NULL, NULL) != CNN_OK) return CNN_CONV_DIRECT;
    if (cnn__direct_variant(s)) return s->algo;
    if (cnn__conv2d_groups(s) > 1)      /* each group runs explicit Winograd; auto: direct */
        return pass <= 2 && (s->algo == CNN_CONV_WINOGRAD_2X2 || s->algo == CNN_CONV_WINOGRAD_4X4) ? s->algo : CNN_CONV_DIRECT;
    switch (cnn__wino_tile(s, pass)) {
    case 2: return CNN_CONV_WINOGRAD_2X2;
    case 4: return CNN_CONV_WINOGRAD_4X4;
    default: return CNN_CONV_DIRECT;
    }
}

/* The dispatch points: one per kernel. The scalar code above is the reference the SIMD paths
   are tested against, and the fallback for what they do not handle. With a workspace the
   direct paths come first; without one (or for shapes they do not take) the im2col paths.
   Winograd, where chosen and the workspace holds it, comes before all, on every path.
   Grouped shapes go to cnn__conv2d_grouped (after them), which calls them back per part. */
static cnn_status cnn__conv2d_grouped(const cnn_conv2d_shape *s, int pass, const float *in, const float *other,
                                      const float *bias, float *out, float *db, void *ws, size_t ws_bytes);
static void cnn__conv2d_forward(const cnn_conv2d_shape *s, const float *x, const float *w,
                                const float *b, float *y, void *ws, size_t ws_bytes) {
    if (cnn__conv2d_groups(s) > 1) {
        if (cnn__conv2d_group_split(s, 0)) cnn__conv2d_grouped(s, 0, x, w, b, y, NULL, ws, ws_bytes);
#ifdef CNN__SIMD
        /* depthwise: its own kernel, column strides 1 and 2; AVX-512 where a row fills the
           kernel's block of four 16-lane vectors (narrower rows ran slower on it than on
           AVX2: bench conv/DW3, 56 columns) */
        else if (cnn_simd_active() != CNN_SIMD_SCALAR && s->c == s->groups && s->stride_w <= 2)
            CNN__VCALL_IF(cnn__conv2d_out_w(s) >= 64, depthwise_forward, (s, x, w, b, y));
#endif
        else cnn__conv2d_forward_scalar(s, x, w, b, y);
        return;
    }
    if (cnn__conv2d_wino(s, 0, x, w, NULL, b, CNN_ACT_NONE, 0.0f, y, ws, ws_bytes)) return;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        int hp, wp, gather_first;
        cnn__padded_size(s, &hp, &wp);
        gather_first = s->stride_h != 1 || s->stride_w != 1 || cnn__gather_pays(s->k, s->c * s->kh * s->kw, wp, cnn__conv2d_out_h(s), cnn__conv2d_out_w(s));
        if (gather_first && cnn__conv2d_forward_gather(s, x, w, b, y, ws, ws_bytes)) return;
        if (cnn__conv2d_forward_direct(s, x, w, b, y, ws, ws_bytes)) return;
        cnn__conv2d_forward_simd(s, x, w, b, y);
        return;
    }
#endif
    (void)ws; (void)ws_bytes;
    cnn__conv2d_forward_scalar(s, x, w, b, y);
}
static void cnn__conv2d_backward_data(const cnn_conv2d_shape *s, const float *dy, const float *w,
                                      float *dx, void *ws, size_t ws_bytes) {
    if (cnn__conv2d_groups(s) > 1) {
        if (cnn__conv2d_group_split(s, 0)) cnn__conv2d_grouped(s, 1, dy, w, NULL, dx, NULL, ws, ws_bytes);
#ifdef CNN__SIMD
        else if (cnn_simd_active() != CNN_SIMD_SCALAR && s->c == s->groups && s->stride_w == 1)   /* depthwise */
            CNN__VCALL_IF(s->w >= 64, depthwise_backward_data, (s, dy, w, dx));   /* as the forward */
#endif
        else cnn__conv2d_backward_data_scalar(s, dy, w, dx);
        return;
    }
    if (cnn__conv2d_wino(s, 1, dy, w, NULL, NULL, CNN_ACT_NONE, 0.0f, dx, ws, ws_bytes)) return;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        if (cnn__gather_data_pays(s) && cnn__conv2d_backward_data_gather(s, dy, w, dx, ws, ws_bytes)) return;
        if (cnn__conv2d_backward_data_direct(s, dy, w, dx, ws, ws_bytes)) return;
        /* With fewer than 6 input channels the transposed im2col product fills less than one
           6-row tile and the scalar loop is faster (measured: 1.5 against 5.6 GFLOP/s for 1
           channel). */
        if (s->c >= 6 && cnn__conv2d_backward_data_simd(s, dy, w, dx)) return;
    }
#endif
    (void)ws; (void)ws_bytes;
    cnn__conv2d_backward_data_scalar(s, dy, w, dx);
}
static void cnn__conv2d_backward_weights(const cnn_conv2d_shape *s, const float *x,
                                         const float *dy, float *dw, float *db, void *ws, size_t ws_bytes) {
    if (cnn__conv2d_groups(s) > 1) {
        /* split when the images' sums have their scratch (or there is one image): a call
           that succeeds leaves no error message behind */
        if (cnn__conv2d_group_split(s, 0) && (s->n == 1 || (ws && cnn__workspace_fits(ws_bytes, cnn__conv2d_group_weights(s)))) &&
            cnn__conv2d_grouped(s, 2, x, dy, NULL, dw, db, ws, ws_bytes) == CNN_OK)
            return;
        if (db) cnn__conv2d_bias_gradient(s, dy, db);
#ifdef CNN__SIMD
        if (cnn_simd_active() != CNN_SIMD_SCALAR && s->c == s->groups && s->stride_w <= 2 && !cnn__direct_variant(s)) {
            /* depthwise; at column stride 2 (no block of four) AVX-512 pays from 16 columns */
            CNN__VCALL_IF(cnn__conv2d_out_w(s) >= (s->stride_w == 1 ? 64 : 16), depthwise_backward_weights, (s, x, dy, dw));
            return;
        }
#endif
        cnn__conv2d_backward_weights_scalar(s, x, dy, dw);
        return;
    }
    if (cnn__conv2d_wino_weights(s, x, dy, dw, ws, ws_bytes)) {
        if (db) cnn__conv2d_bias_gradient(s, dy, db);
        return;
    }
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        if (cnn__conv2d_backward_weights_gather(s, x, dy, dw, db, ws, ws_bytes)) return;
        if (db) cnn__conv2d_bias_gradient(s, dy, db);
        cnn__conv2d_backward_weights_simd(s, x, dy, dw);
        return;
    }
#endif
    (void)ws; (void)ws_bytes;
    if (db) cnn__conv2d_bias_gradient(s, dy, db);
    cnn__conv2d_backward_weights_scalar(s, x, dy, dw);
}

/* A direct variant forced by the shape's algo (benchmarks, tests): pass 0 y = conv(x, w) + b
   from (in, other, bias) = (x, w, b); 1 dx from (dy, w); 2 dw and db from (x, dy). Runs the
   variant named, with no cost model asked, or fails, doing nothing, where it cannot serve. */
static cnn_status cnn__conv2d_forced(const cnn_conv2d_shape *s, int pass, const float *in, const float *other,
                                     const float *bias, float *out, float *db, void *ws, size_t ws_bytes) {
    static const char *const pass_names[3] = {"forward", "backward_data", "backward_weights"};
    int done = 0;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        if (s->algo == CNN_CONV_DIRECT_GRID && pass == 0) done = cnn__conv2d_forward_grid(s, in, other, bias, out, ws, ws_bytes, 1);
        if (s->algo == CNN_CONV_DIRECT_GRID && pass == 1) done = cnn__conv2d_backward_data_grid(s, in, other, out, ws, ws_bytes, 1);
        if (s->algo == CNN_CONV_DIRECT_ROWS && pass == 0) done = cnn__conv2d_forward_gather(s, in, other, bias, out, ws, ws_bytes);
        if (s->algo == CNN_CONV_DIRECT_ROWS && pass == 1) done = cnn__conv2d_backward_data_gather(s, in, other, out, ws, ws_bytes);
        if (s->algo == CNN_CONV_DIRECT_ROWS && pass == 2) done = cnn__conv2d_backward_weights_gather(s, in, other, out, db, ws, ws_bytes);
        if (s->algo == CNN_CONV_DIRECT_LOWERED && pass == 0) { cnn__conv2d_forward_simd(s, in, other, bias, out); done = 1; }
        if (s->algo == CNN_CONV_DIRECT_LOWERED && pass == 1) done = cnn__conv2d_backward_data_simd(s, in, other, out);
        if (s->algo == CNN_CONV_DIRECT_LOWERED && pass == 2) {
            if (db) cnn__conv2d_bias_gradient(s, other, db);
            cnn__conv2d_backward_weights_simd(s, in, other, out);
            done = 1;
        }
    }
#else
    (void)in; (void)other; (void)bias; (void)out; (void)db;
#endif
    if (done) return CNN_OK;
    return cnn__fail(CNN_ERR_INVALID_ARGUMENT,
                     "conv2d %s: the %s variant cannot serve input %dx%dx%dx%d, %d filters %dx%d, stride %dx%d, "
                     "dilation %dx%d, pads %d,%d,%d,%d with a workspace of %zu bytes (cnn_conv2d_workspace_bytes: %zu) "
                     "on the %s path (grid: forward at stride 1 and data gradient, with the workspace; rows: every pass, "
                     "with the workspace; lowered: forward, weight gradient and the data gradient at stride 1; "
                     "all on a vector path)",
                     pass_names[pass], cnn_conv_algo_name(s->algo), s->n, s->c, s->h, s->w, s->k, s->kh, s->kw,
                     s->stride_h, s->stride_w, s->dilation_h, s->dilation_w, s->pad_top, s->pad_bottom, s->pad_left,
                     s->pad_right, ws ? ws_bytes : 0, cnn_conv2d_workspace_bytes(s), cnn_simd_name(cnn_simd_active()));
}

/* The parts of a grouped pass (see "groups" above): pass 0 y from (x, w, b), 1 dx from
   (dy, w), 2 dw and db from (x, dy), as cnn__conv2d_forced takes them. Each part runs the
   forced variant the shape names, or the dispatch point. Fails, having done nothing, when a
   weight gradient over several images has no room for its scratch (the dispatch point then
   runs the scalar reference), or with the forced variant's failure. */
static cnn_status cnn__conv2d_grouped(const cnn_conv2d_shape *s, int pass, const float *in, const float *other,
                                      const float *bias, float *out, float *db, void *ws, size_t ws_bytes) {
    const int groups = cnn__conv2d_groups(s);
    const size_t out_plane = (size_t)cnn__conv2d_out_h(s) * cnn__conv2d_out_w(s), in_plane = (size_t)s->h * s->w;
    cnn_conv2d_shape part;
    size_t x_group, y_group, w_group, sum_floats = cnn__conv2d_group_weights(s);
    float *sum = NULL;
    int g, n;
    cnn__conv2d_group_part(s, &part);
    x_group = (size_t)part.c * in_plane;
    y_group = (size_t)part.k * out_plane;
    w_group = (size_t)part.k * part.c * s->kh * s->kw;
    if (pass == 2 && s->n > 1) {
        if (!ws || !cnn__workspace_fits(ws_bytes, sum_floats))
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d backward_weights: %d groups over %d images need the workspace "
                             "(%zu bytes given, cnn_conv2d_workspace_bytes: %zu)", groups, s->n, ws ? ws_bytes : 0,
                             cnn__conv2d_workspace(s, 0, 0, 1, 0));
        sum = cnn__workspace_floats(ws);
        ws_bytes -= (size_t)((unsigned char *)(sum + sum_floats) - (unsigned char *)ws);
        ws = sum + sum_floats;
    }
    if (pass == 2 && db) cnn__conv2d_bias_gradient(s, other, db);
    for (g = 0; g < groups; g++)
        for (n = 0; n < s->n; n++) {
            const size_t xo = (size_t)n * s->c * in_plane + g * x_group, yo = (size_t)n * s->k * out_plane + g * y_group;
            const float *a = pass == 1 ? in + yo : in + xo, *o = pass == 2 ? other + yo : other + g * w_group;
            float *dst = pass == 0 ? out + yo : pass == 1 ? out + xo : n == 0 ? out + g * w_group : sum;
            cnn_status st = CNN_OK;
            if (cnn__direct_variant(&part)) st = cnn__conv2d_forced(&part, pass, a, o, bias ? bias + g * part.k : NULL, dst, NULL, ws, ws_bytes);
            else if (pass == 0) cnn__conv2d_forward(&part, a, o, bias ? bias + g * part.k : NULL, dst, ws, ws_bytes);
            else if (pass == 1) cnn__conv2d_backward_data(&part, a, o, dst, ws, ws_bytes);
            else cnn__conv2d_backward_weights(&part, a, o, dst, NULL, ws, ws_bytes);
            if (st) return st;
            if (pass == 2 && n > 0) {
                float *acc = out + g * w_group;
                size_t j;
                for (j = 0; j < w_group; j++) acc[j] += sum[j];
            }
        }
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv2d_forward_ws(const cnn_conv2d_shape *shape, const float *x, const float *w,
                                        const float *b, float *y, void *workspace, size_t workspace_bytes) {
    cnn_conv2d_shape settled;
    const cnn_conv2d_shape *s = cnn__conv2d_settle(shape, &settled);
    cnn_status st = cnn_conv2d_check(s, NULL, NULL);
    if (st) return st;
    if (!x || !w || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d forward: NULL x, w or y");
    if (cnn__direct_variant(s)) return cnn__conv2d_groups(s) > 1 ? cnn__conv2d_grouped(s, 0, x, w, b, y, NULL, workspace, workspace_bytes)
                                                                  : cnn__conv2d_forced(s, 0, x, w, b, y, NULL, workspace, workspace_bytes);
    cnn__conv2d_forward(s, x, w, b, y, workspace, workspace ? workspace_bytes : 0);
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv2d_backward_data_ws(const cnn_conv2d_shape *shape, const float *dy, const float *w,
                                              float *dx, void *workspace, size_t workspace_bytes) {
    cnn_conv2d_shape settled;
    const cnn_conv2d_shape *s = cnn__conv2d_settle(shape, &settled);
    cnn_status st = cnn_conv2d_check(s, NULL, NULL);
    if (st) return st;
    if (!dy || !w || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d backward_data: NULL dy, w or dx");
    if (cnn__direct_variant(s)) return cnn__conv2d_groups(s) > 1 ? cnn__conv2d_grouped(s, 1, dy, w, NULL, dx, NULL, workspace, workspace_bytes)
                                                                  : cnn__conv2d_forced(s, 1, dy, w, NULL, dx, NULL, workspace, workspace_bytes);
    cnn__conv2d_backward_data(s, dy, w, dx, workspace, workspace ? workspace_bytes : 0);
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv2d_backward_weights_ws(const cnn_conv2d_shape *shape, const float *x, const float *dy,
                                                 float *dw, float *db, void *workspace, size_t workspace_bytes) {
    cnn_conv2d_shape settled;
    const cnn_conv2d_shape *s = cnn__conv2d_settle(shape, &settled);
    cnn_status st = cnn_conv2d_check(s, NULL, NULL);
    if (st) return st;
    if (!x || !dy || !dw) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv2d backward_weights: NULL x, dy or dw");
    if (cnn__direct_variant(s)) return cnn__conv2d_groups(s) > 1 ? cnn__conv2d_grouped(s, 2, x, dy, NULL, dw, db, workspace, workspace_bytes)
                                                                  : cnn__conv2d_forced(s, 2, x, dy, NULL, dw, db, workspace, workspace_bytes);
    cnn__conv2d_backward_weights(s, x, dy, dw, db, workspace, workspace ? workspace_bytes : 0);
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv2d_forward(const cnn_conv2d_shape *s, const float *x, const float *w,
                                     const float *b, float *y) {
    return cnn_conv2d_forward_ws(s, x, w, b, y, NULL, 0);
}

CNNDEF cnn_status cnn_conv2d_backward_data(const cnn_conv2d_shape *s, const float *dy,
                                           const float *w, float *dx) {
    return cnn_conv2d_backward_data_ws(s, dy, w, dx, NULL, 0);
}

CNNDEF cnn_status cnn_conv2d_backward_weights(const cnn_conv2d_shape *s, const float *x,
                                              const float *dy, float *dw, float *db) {
    return cnn_conv2d_backward_weights_ws(s, x, dy, dw, db, NULL, 0);
}

/* ---------------------------------------------------------------------------------------------
   Transposed convolution

   Write a convolution C (k channels of H x W in, c channels of h x w out, stride s, pad p,
   dilation d) as a matrix: y = M x. Its data gradient is dx = M^T dy: every output value
   scatters back, through the same taps, into the inputs that made it. A transposed
   convolution is that map M^T used forward, from c channels of h x w up to k channels of
   H x W. Per axis the sizes are C's turned around: C maps H to h = floor((H + 2p - e)/s) + 1
   (e = d (kernel - 1) + 1), so
       H = (h - 1) s - 2p + e + output_pad,       0 <= output_pad < s (or < d)
   where output_pad picks one of the s sizes C maps to the same h, as PyTorch's
   ConvTranspose2d does. Its weights are C's, w[c][k/groups][r][s]: PyTorch's layout, and the
   convolution's (filters c, channels k/groups). Then by the chain rule on y = M^T x:
       forward            y  = M^T x          C's data gradient, with x in the place of dy
       data gradient      dx = M dy           C's forward, on dy
       weight gradient    dw = C's, with C's input (the transposed output's dy) and C's
                          output gradient (the transposed input x) in their places
       bias gradient      db[k] = sum over n, i, j of dy[n][k][i][j]
   so the three passes run on the convolution's dispatch points and every kernel they pick
   (Winograd at stride 1 included), and the scalar reference of C is the transposed one's.
   Rows of y that no input reaches (output_pad > p) get the bias only.
   --------------------------------------------------------------------------------------------- */

/* The convolution C whose data gradient s is (its n, its algorithm). C's bottom (right) pad
   is p, which maps H back to h when output_pad < stride; PyTorch also allows output_pad up to
   the dilation, and then C takes p - output_pad + stride - 1 (any pad in
   [p - output_pad, p - output_pad + stride - 1] gives h; pads change only the size). */
static void cnn__convt_as_conv(const cnn_conv_transpose2d_shape *s, int out_h, int out_w, cnn_conv2d_shape *c) {
    memset(c, 0, sizeof *c);
    c->n = s->n; c->c = s->k; c->h = out_h; c->w = out_w;
    c->k = s->c; c->kh = s->kh; c->kw = s->kw;
    c->stride_h = s->stride_h ? s->stride_h : 1; c->stride_w = s->stride_w ? s->stride_w : 1;
    c->dilation_h = s->dilation_h ? s->dilation_h : 1; c->dilation_w = s->dilation_w ? s->dilation_w : 1;
    c->pad_top = s->pad_h;
    c->pad_left = s->pad_w;
    c->pad_bottom = s->output_pad_h < c->stride_h ? s->pad_h : s->pad_h - s->output_pad_h + c->stride_h - 1;
    c->pad_right = s->output_pad_w < c->stride_w ? s->pad_w : s->pad_w - s->output_pad_w + c->stride_w - 1;
    c->groups = s->groups ? s->groups : 1;
    c->algo = s->algo;
}

CNNDEF cnn_status cnn_conv_transpose2d_check(const cnn_conv_transpose2d_shape *s, int *out_h, int *out_w) {
    cnn_conv2d_shape c;
    long long oh, ow;
    int sh, sw, dh, dw, ch, cw;
    cnn_status st;
    if (!s) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d: NULL shape");
    sh = s->stride_h ? s->stride_h : 1; sw = s->stride_w ? s->stride_w : 1;
    dh = s->dilation_h ? s->dilation_h : 1; dw = s->dilation_w ? s->dilation_w : 1;
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1 || s->k < 1 || s->kh < 1 || s->kw < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d: input %dx%dx%dx%d (NCHW), %d output channels, kernel %dx%d: "
                         "sizes must be at least 1", s->n, s->c, s->h, s->w, s->k, s->kh, s->kw);
    if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || s->pad_h < 0 || s->pad_w < 0)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d: stride %dx%d, dilation %dx%d, padding %dx%d: none may be negative",
                         s->stride_h, s->stride_w, s->dilation_h, s->dilation_w, s->pad_h, s->pad_w);
    /* PyTorch's rule: output_padding below the stride or below the dilation */
    if (s->output_pad_h < 0 || s->output_pad_w < 0 || (s->output_pad_h >= sh && s->output_pad_h >= dh) ||
        (s->output_pad_w >= sw && s->output_pad_w >= dw))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d: output padding %dx%d must be smaller than the stride %dx%d "
                         "or the dilation %dx%d", s->output_pad_h, s->output_pad_w, sh, sw, dh, dw);
    if (sh > INT_MAX / 2 || sw > INT_MAX / 2 || dh > INT_MAX / 2 || dw > INT_MAX / 2)
        return cnn__fail(CNN_ERR_OVERFLOW, "conv_transpose2d: stride %dx%d or dilation %dx%d too large", sh, sw, dh, dw);
    oh = (long long)(s->h - 1) * sh - 2LL * s->pad_h + (long long)dh * (s->kh - 1) + s->output_pad_h + 1;
    ow = (long long)(s->w - 1) * sw - 2LL * s->pad_w + (long long)dw * (s->kw - 1) + s->output_pad_w + 1;
    if (oh < 1 || ow < 1)
        return cnn__fail(CNN_ERR_SHAPE, "conv_transpose2d: input %dx%d, kernel %dx%d, stride %dx%d, dilation %dx%d, padding %dx%d, "
                         "output padding %dx%d give an output of %lldx%lld", s->h, s->w, s->kh, s->kw, sh, sw, dh, dw,
                         s->pad_h, s->pad_w, s->output_pad_h, s->output_pad_w, oh, ow);
    if (oh > INT_MAX || ow > INT_MAX) return cnn__fail(CNN_ERR_OVERFLOW, "conv_transpose2d: the output %lldx%lld overflows an int", oh, ow);
    cnn__convt_as_conv(s, (int)oh, (int)ow, &c);
    if (c.pad_bottom < 0 || c.pad_right < 0)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d: output padding %dx%d, past the stride %dx%d by more than "
                         "the padding %dx%d, is not supported", s->output_pad_h, s->output_pad_w, sh, sw, s->pad_h, s->pad_w);
    if ((st = cnn_conv2d_check(&c, &ch, &cw))) return st;      /* groups, sizes, algorithm */
    if (ch != s->h || cw != s->w)        /* cannot happen with output_pad < stride: a guard */
        return cnn__fail(CNN_ERR_SHAPE, "conv_transpose2d: the output %lldx%lld does not map back to the input %dx%d", oh, ow, s->h, s->w);
    if (out_h) *out_h = (int)oh;
    if (out_w) *out_w = (int)ow;
    return CNN_OK;
}

/* The checked shape's convolution; 0 on failure (the check's error set). */
static cnn_status cnn__convt_settle(const cnn_conv_transpose2d_shape *s, cnn_conv2d_shape *c) {
    int oh, ow;
    cnn_status st = cnn_conv_transpose2d_check(s, &oh, &ow);
    if (!st) cnn__convt_as_conv(s, oh, ow, c);
    return st;
}

/* db[k] = sum of dy over the batch and the pixels: C's input channels are the output's. */
static void cnn__convt_bias_gradient(const cnn_conv2d_shape *c, const float *dy, float *db) {
    const size_t plane = (size_t)c->h * c->w;
    int n, k;
    memset(db, 0, (size_t)c->c * sizeof(float));
    for (n = 0; n < c->n; n++)
        for (k = 0; k < c->c; k++) db[k] += cnn__sum(dy + ((size_t)n * c->c + k) * plane, plane);
}

/* y += b per output channel (C's input channels). */
static void cnn__convt_add_bias(const cnn_conv2d_shape *c, const float *b, float *y) {
    const size_t plane = (size_t)c->h * c->w;
    size_t i;
    int n, k;
    for (n = 0; n < c->n; n++)
        for (k = 0; k < c->c; k++) {
            float *yk = y + ((size_t)n * c->c + k) * plane;
            for (i = 0; i < plane; i++) yk[i] += b[k];
        }
}

CNNDEF size_t cnn_conv_transpose2d_workspace_bytes(const cnn_conv_transpose2d_shape *s) {
    cnn_conv2d_shape c;
    if (!s || cnn__convt_settle(s, &c)) return 0;
    return cnn__conv2d_workspace(&c, 1, 1, 1, 0);
}

CNNDEF cnn_status cnn_conv_transpose2d_forward_ws(const cnn_conv_transpose2d_shape *s, const float *x, const float *w,
                                                  const float *b, float *y, void *workspace, size_t workspace_bytes) {
    cnn_conv2d_shape c;
    cnn_status st = cnn__convt_settle(s, &c);
    if (st) return st;
    if (!x || !w || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d forward: NULL x, w or y");
    if ((st = cnn_conv2d_backward_data_ws(&c, x, w, y, workspace, workspace_bytes))) return st;   /* y = M^T x */
    if (b) cnn__convt_add_bias(&c, b, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv_transpose2d_backward_data_ws(const cnn_conv_transpose2d_shape *s, const float *dy,
                                                        const float *w, float *dx, void *workspace, size_t workspace_bytes) {
    cnn_conv2d_shape c;
    cnn_status st = cnn__convt_settle(s, &c);
    if (st) return st;
    if (!dy || !w || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d backward_data: NULL dy, w or dx");
    return cnn_conv2d_forward_ws(&c, dy, w, NULL, dx, workspace, workspace_bytes);                /* dx = M dy */
}

CNNDEF cnn_status cnn_conv_transpose2d_backward_weights_ws(const cnn_conv_transpose2d_shape *s, const float *x,
                                                           const float *dy, float *dw, float *db, void *workspace,
                                                           size_t workspace_bytes) {
    cnn_conv2d_shape c;
    cnn_status st = cnn__convt_settle(s, &c);
    if (st) return st;
    if (!x || !dy || !dw) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "conv_transpose2d backward_weights: NULL x, dy or dw");
    if ((st = cnn_conv2d_backward_weights_ws(&c, dy, x, dw, NULL, workspace, workspace_bytes))) return st;  /* x, dy swapped */
    if (db) cnn__convt_bias_gradient(&c, dy, db);
    return CNN_OK;
}

CNNDEF cnn_status cnn_conv_transpose2d_forward(const cnn_conv_transpose2d_shape *s, const float *x, const float *w,
                                               const float *b, float *y) {
    return cnn_conv_transpose2d_forward_ws(s, x, w, b, y, NULL, 0);
}
CNNDEF cnn_status cnn_conv_transpose2d_backward_data(const cnn_conv_transpose2d_shape *s, const float *dy,
                                                     const float *w, float *dx) {
    return cnn_conv_transpose2d_backward_data_ws(s, dy, w, dx, NULL, 0);
}
CNNDEF cnn_status cnn_conv_transpose2d_backward_weights(const cnn_conv_transpose2d_shape *s, const float *x,
                                                        const float *dy, float *dw, float *db) {
    return cnn_conv_transpose2d_backward_weights_ws(s, x, dy, dw, db, NULL, 0);
}

/* ============================================================================================
   5. Activations, softmax, dropout

   An activation bends each value on its own. The derivative is written in terms of the
   output y = f(x), which the network keeps anyway:
       ReLU       y = max(0, x)          f' = 1 if y > 0, else 0   (0 at the kink)
       leaky ReLU y = x or alpha*x       f' = 1 if y > 0, else alpha (alpha >= 0)
       sigmoid    y = 1 / (1 + e^-x)     f' = y (1 - y)
       tanh       y = tanh x             f' = 1 - y^2
   ============================================================================================ */

static float cnn__sigmoid(float x) {
    /* Two forms so e^(something) never overflows. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    else { float e = expf(x); return e / (1.0f + e); }
}

static void cnn__activation_forward_scalar(cnn_activation act, float alpha, size_t count, const float *x, float *y) {
    size_t i;
    switch (act) {
    /* Written so a NaN passes through (NaN < 0 is false): a diverging network must show it. */
    case CNN_ACT_RELU:       for (i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i]; break;
    case CNN_ACT_LEAKY_RELU: for (i = 0; i < count; i++) y[i] = x[i] < 0.0f ? alpha * x[i] : x[i]; break;
    case CNN_ACT_SIGMOID:    for (i = 0; i < count; i++) y[i] = cnn__sigmoid(x[i]); break;
    case CNN_ACT_TANH:       for (i = 0; i < count; i++) y[i] = tanhf(x[i]); break;
    default:                 if (y != x) memmove(y, x, count * sizeof(float)); break;
    }
}

static void cnn__activation_backward_scalar(cnn_activation act, float alpha, size_t count, const float *y,
                                            const float *dy, float *dx) {
    size_t i;
    switch (act) {
    case CNN_ACT_RELU:       for (i = 0; i < count; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; break;
    case CNN_ACT_LEAKY_RELU: for (i = 0; i < count; i++) dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i]; break;
    case CNN_ACT_SIGMOID:    for (i = 0; i < count; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
    case CNN_ACT_TANH:       for (i = 0; i < count; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
    default:                 if (dx != dy) memmove(dx, dy, count * sizeof(float)); break;
    }
}

static void cnn__activation_forward(cnn_activation act, float alpha, size_t count, const float *x, float *y) {
#ifdef CNN__SIMD
    if (act != CNN_ACT_NONE && cnn_simd_active() != CNN_SIMD_SCALAR) {
        CNN__VCALL(activation_forward, (act, alpha, count, x, y));
        return;
    }
#endif
    cnn__activation_forward_scalar(act, alpha, count, x, y);
}

static void cnn__activation_backward(cnn_activation act, float alpha, size_t count, const float *y,
                                     const float *dy, float *dx) {
#ifdef CNN__SIMD
    if (act != CNN_ACT_NONE && cnn_simd_active() != CNN_SIMD_SCALAR) {
        CNN__VCALL(activation_backward, (act, alpha, count, y, dy, dx));
        return;
    }
#endif
    cnn__activation_backward_scalar(act, alpha, count, y, dy, dx);
}

static cnn_status cnn__check_activation(const char *who, cnn_activation act, float alpha) {
    if ((unsigned)act >= CNN_ACTIVATION_COUNT)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", who, (int)act);
    if (act == CNN_ACT_LEAKY_RELU && !(alpha >= 0.0f && alpha < 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: leaky-ReLU slope %f must be in [0, 1)", who, (double)alpha);
    return CNN_OK;
}

CNNDEF cnn_status cnn_activation_forward(cnn_activation act, float alpha, size_t count,
                                         const float *x, float *y) {
    cnn_status st = cnn__check_activation("activation forward", act, alpha);
    if (st) return st;
    if (count && (!x || !y)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "activation forward: NULL x or y");
    cnn__activation_forward(act, alpha, count, x, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_activation_backward(cnn_activation act, float alpha, size_t count,
                                          const float *y, const float *dy, float *dx) {
    cnn_status st = cnn__check_activation("activation backward", act, alpha);
    if (st) return st;
    if (count && (!y || !dy || !dx)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "activation backward: NULL y, dy or dx");
    cnn__activation_backward(act, alpha, count, y, dy, dx);
    return CNN_OK;
}

/* Softmax turns scores into probabilities: p_i = e^(z_i) / sum_j e^(z_j). Subtracting the
   largest score first changes nothing mathematically and keeps every e^() in [0, 1]. */
/* Infinities as the limits say: softmax(z + t * e_k) -> e_k as t -> +inf, so the +inf
   logits share the probability equally and every other class gets 0; a -inf logit gets 0;
   when all are -inf they are equal, and equal logits give equal probabilities. A NaN logit
   makes the row NaN. */
static void cnn__softmax_row(int classes, const float *z, float *p) {
    float m = z[0], sum = 0.0f;
    int i, nan = 0, top = 0;
    for (i = 0; i < classes; i++) { m = z[i] > m ? z[i] : m; nan |= z[i] != z[i]; }
    if (nan || m == (float)HUGE_VAL || m == -(float)HUGE_VAL) {
        for (i = 0; i < classes; i++) top += z[i] == m;
        for (i = 0; i < classes; i++) p[i] = nan ? (float)NAN : z[i] == m ? 1.0f / (float)top : 0.0f;
        return;
    }
    for (i = 0; i < classes; i++) { p[i] = expf(z[i] - m); sum += p[i]; }
    for (i = 0; i < classes; i++) p[i] /= sum;
}

CNNDEF cnn_status cnn_softmax(int n, int classes, const float *logits, float *probs) {
    int i;
    if (n < 1 || classes < 1) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "softmax: %d rows of %d classes", n, classes);
    if (!cnn__count4(n, classes, 1, 1)) return cnn__fail(CNN_ERR_OVERFLOW, "softmax: %d rows of %d classes overflow", n, classes);
    if (!logits || !probs) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "softmax: NULL logits or probs");
    for (i = 0; i < n; i++) cnn__softmax_row(classes, logits + (size_t)i * classes, probs + (size_t)i * classes);
    return CNN_OK;
}

/* Dropout: during training each value is kept with probability 1 - rate and then scaled by
   1 / (1 - rate), so the expected value is unchanged and evaluation is the plain identity. */
CNNDEF cnn_status cnn_dropout_forward(size_t count, float rate, int training, cnn_rng *rng,
                                      const float *x, float *y, float *mask) {
    size_t i;
    if (!(rate >= 0.0f && rate < 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dropout: rate %f must be in [0, 1)", (double)rate);
    if (count && (!x || !y)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dropout: NULL x or y");
    if (training && rate > 0.0f) {
        const float keep_scale = 1.0f / (1.0f - rate);
        if (!rng || !mask) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dropout: training needs an rng and a mask");
        for (i = 0; i < count; i++) {
            mask[i] = cnn_rng_uniform(rng) < rate ? 0.0f : keep_scale;
            y[i] = x[i] * mask[i];
        }
    } else {
        if (y != x) memmove(y, x, count * sizeof(float));
        if (mask) for (i = 0; i < count; i++) mask[i] = 1.0f;
    }
    return CNN_OK;
}

CNNDEF cnn_status cnn_dropout_backward(size_t count, const float *dy, const float *mask, float *dx) {
    size_t i;
    if (count && (!dy || !mask || !dx)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dropout backward: NULL dy, mask or dx");
    for (i = 0; i < count; i++) dx[i] = dy[i] * mask[i];
    return CNN_OK;
}

/* ============================================================================================
   5b. Batch normalization

   Each channel is normalised over the batch. With the m = n * hw values x_i of a channel:
       mean = 1/m sum x_i,   var = 1/m sum (x_i - mean)^2    (biased: what PyTorch divides by)
       xhat_i = (x_i - mean) * invstd,   invstd = 1 / sqrt(var + eps)
       y_i = gamma * xhat_i + beta
   The running statistics follow the batches with the unbiased variance, m / (m - 1) * var,
   as PyTorch keeps them: running = (1 - momentum) * running + momentum * batch.
   Backward, with g_i = dL/dy_i. Every x_i of the channel moves mean and var, so
       dbeta  = sum g_i,   dgamma = sum g_i xhat_i
       dx_i   = gamma * invstd / m * (m g_i - dbeta - xhat_i dgamma)
   (from dL/dxhat_i = gamma g_i, dL/dvar = -1/2 invstd^3 sum gamma g_i (x_i - mean) and
   dL/dmean = -invstd sum gamma g_i; the term of dL/dvar through the mean sums to 0). In
   evaluation the statistics are constants: dx_i = gamma * invstd * g_i.
   Sums are in double, image after image, value after value: the network splits the work by
   channel, and a channel's arithmetic is the same whatever thread takes it.
   ============================================================================================ */

static cnn_status cnn__batchnorm_check(const char *who, int n, int c, int hw, float eps, float momentum) {
    if (n < 1 || c < 1 || hw < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: n %d, c %d, hw %d: each must be at least 1", who, n, c, hw);
    if (!cnn__count4(n, c, hw, 1)) return cnn__fail(CNN_ERR_OVERFLOW, "%s: %d x %d x %d values overflow", who, n, c, hw);
    if (!(eps > 0.0f) || !isfinite(eps))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: eps %f must be a finite number above 0 (PyTorch's default is 1e-5)", who, (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: momentum %f must be in [0, 1] (PyTorch's default is 0.1)", who, (double)momentum);
    return CNN_OK;
}

/* Training forward of channels [c0, c1) (arrays indexed by channel, as in the whole). */
static void cnn__batchnorm_train_range(int n, int c, int hw, int c0, int c1, float eps, float momentum,
                                       const float *x, const float *gamma, const float *beta, float *running_mean,
                                       float *running_var, float *y, float *save_mean, float *save_invstd) {
    const size_t image = (size_t)c * hw;
    const double m = (double)n * hw;
    int k, i, j;
    for (k = c0; k < c1; k++) {
        double sum = 0.0, squares = 0.0, mean, var;
        float mean_f, invstd, scale, shift;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw;
            for (j = 0; j < hw; j++) sum += p[j];
        }
        mean = sum / m;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw;
            for (j = 0; j < hw; j++) { const double d = p[j] - mean; squares += d * d; }
        }
        var = squares / m;
        mean_f = (float)mean;
        invstd = (float)(1.0 / sqrt(var + eps));
        scale = (gamma ? gamma[k] : 1.0f) * invstd;
        shift = beta ? beta[k] : 0.0f;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw;
            float *q = y + i * image + (size_t)k * hw;
            for (j = 0; j < hw; j++) q[j] = (p[j] - mean_f) * scale + shift;
        }
        if (save_mean) save_mean[k] = mean_f;
        if (save_invstd) save_invstd[k] = invstd;
        if (running_mean) running_mean[k] = (float)((1.0 - momentum) * running_mean[k] + (double)momentum * mean);
        if (running_var) running_var[k] = (float)((1.0 - momentum) * running_var[k] + (double)momentum * var * m / (m - 1.0));
    }
}

/* Evaluation forward of channels [c0, c1). */
static void cnn__batchnorm_eval_range(int n, int c, int hw, int c0, int c1, float eps, const float *x, const float *gamma,
                                      const float *beta, const float *running_mean, const float *running_var, float *y) {
    const size_t image = (size_t)c * hw;
    int k, i, j;
    for (k = c0; k < c1; k++) {
        const float invstd = (float)(1.0 / sqrt((double)running_var[k] + eps));
        const float mean = running_mean[k], scale = (gamma ? gamma[k] : 1.0f) * invstd, shift = beta ? beta[k] : 0.0f;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw;
            float *q = y + i * image + (size_t)k * hw;
            for (j = 0; j < hw; j++) q[j] = (p[j] - mean) * scale + shift;
        }
    }
}

/* Backward of channels [c0, c1). */
static void cnn__batchnorm_backward_range(int n, int c, int hw, int c0, int c1, int batch_stats, const float *x,
                                          const float *dy, const float *gamma, const float *mean, const float *invstd,
                                          float *dx, float *dgamma, float *dbeta) {
    const size_t image = (size_t)c * hw;
    const double m = (double)n * hw;
    int k, i, j;
    for (k = c0; k < c1; k++) {
        const float mu = mean[k], inv = invstd[k], g = gamma ? gamma[k] : 1.0f;
        double sum_g = 0.0, sum_gx = 0.0;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw, *d = dy + i * image + (size_t)k * hw;
            for (j = 0; j < hw; j++) { sum_g += d[j]; sum_gx += (double)d[j] * ((p[j] - mu) * inv); }
        }
        if (dgamma) dgamma[k] = (float)sum_gx;
        if (dbeta) dbeta[k] = (float)sum_g;
        if (!dx) continue;
        for (i = 0; i < n; i++) {
            const float *p = x + i * image + (size_t)k * hw, *d = dy + i * image + (size_t)k * hw;
            float *q = dx + i * image + (size_t)k * hw;
            if (batch_stats) {
                const double a = (double)g * inv / m;
                for (j = 0; j < hw; j++) q[j] = (float)(a * (m * d[j] - sum_g - (double)((p[j] - mu) * inv) * sum_gx));
            } else {
                const float a = g * inv;
                for (j = 0; j < hw; j++) q[j] = d[j] * a;
            }
        }
    }
}

CNNDEF cnn_status cnn_batchnorm_forward_train(int n, int c, int hw, float eps, float momentum,
                                              const float *x, const float *gamma, const float *beta,
                                              float *running_mean, float *running_var,
                                              float *y, float *save_mean, float *save_invstd) {
    cnn_status st = cnn__batchnorm_check("batchnorm forward", n, c, hw, eps, momentum);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "batchnorm forward: NULL x or y");
    if ((size_t)n * hw < 2)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "batchnorm forward: training normalises each channel over its n x hw = %zu value(s) in the batch; "
                         "one value has no variance (PyTorch refuses it too): train with more images or larger maps, or use evaluation", (size_t)n * hw);
    cnn__batchnorm_train_range(n, c, hw, 0, c, eps, momentum, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd);
    return CNN_OK;
}

CNNDEF cnn_status cnn_batchnorm_forward_eval(int n, int c, int hw, float eps, const float *x,
                                             const float *gamma, const float *beta,
                                             const float *running_mean, const float *running_var,
                                             float *y) {
    cnn_status st = cnn__batchnorm_check("batchnorm forward", n, c, hw, eps, 0.0f);
    if (st) return st;
    if (!x || !y || !running_mean || !running_var)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "batchnorm forward: evaluation needs x, y, the running mean and the running variance (one is NULL)");
    cnn__batchnorm_eval_range(n, c, hw, 0, c, eps, x, gamma, beta, running_mean, running_var, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_batchnorm_backward(int n, int c, int hw, int batch_stats, const float *x,
                                         const float *dy, const float *gamma, const float *mean,
                                         const float *invstd, float *dx, float *dgamma, float *dbeta) {
    cnn_status st = cnn__batchnorm_check("batchnorm backward", n, c, hw, 1.0f, 0.0f);
    if (st) return st;
    if (!x || !dy || !mean || !invstd)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "batchnorm backward: NULL x, dy, mean or invstd");
    if (batch_stats && (size_t)n * hw < 2)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "batchnorm backward: batch statistics of n x hw = %zu value(s): training needs at least 2", (size_t)n * hw);
    cnn__batchnorm_backward_range(n, c, hw, 0, c, batch_stats != 0, x, dy, gamma, mean, invstd, dx, dgamma, dbeta);
    return CNN_OK;
}

/* ============================================================================================
   6. Pooling

   Pooling summarises each window of a feature map by one number: its maximum (max pooling)
   or its mean (average pooling). Channels are pooled independently; there are no weights.
   Backward, max pooling routes each output gradient to the one input that was the maximum
   (the others did not influence the output); average pooling spreads it evenly over the
   window: dx += dy / divisor for every input of the window.
   ============================================================================================ */

static int cnn__pool_output_size(int in, int k, int stride, int pad_before, int pad_after, int ceil_mode) {
    long long span = (long long)in + pad_before + pad_after - k, out;
    if (span < 0) return 0;
    out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* In ceil mode the last window must start inside the input or the leading padding;
       one that would start in the trailing padding only is dropped (PyTorch's rule). */
    if (ceil_mode && (out - 1) * stride >= (long long)in + pad_before) out--;
    return out > INT_MAX ? 0 : (int)out;
}

CNNDEF cnn_status cnn_pool2d_check(const cnn_pool2d_shape *s, int *out_h, int *out_w) {
    int oh, ow;
    if (!s) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "pool2d: NULL shape");
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "pool2d: input %dx%dx%dx%d (NCHW) has a size below 1", s->n, s->c, s->h, s->w);
    if (s->kh < 1 || s->kw < 1 || s->stride_h < 1 || s->stride_w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "pool2d: window %dx%d, stride %dx%d: each must be at least 1",
                         s->kh, s->kw, s->stride_h, s->stride_w);
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0 ||
        s->pad_top > s->kh / 2 || s->pad_bottom > s->kh / 2 || s->pad_left > s->kw / 2 || s->pad_right > s->kw / 2)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT,
                         "pool2d: padding (top %d, bottom %d, left %d, right %d) must be between 0 and half the %dx%d window",
                         s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, s->kh, s->kw);
    {
        const long long padded_h = (long long)s->h + s->pad_top + s->pad_bottom, padded_w = (long long)s->w + s->pad_left + s->pad_right;
        if (s->kh > padded_h || s->kw > padded_w)
            return cnn__fail(CNN_ERR_SHAPE, "pool2d: window %dx%d is larger than the padded input %lldx%lld",
                             s->kh, s->kw, padded_h, padded_w);
        if (padded_h > INT_MAX || padded_w > INT_MAX)
            return cnn__fail(CNN_ERR_OVERFLOW, "pool2d: the padded input %lldx%lld overflows an int", padded_h, padded_w);
    }
    oh = cnn__pool_output_size(s->h, s->kh, s->stride_h, s->pad_top, s->pad_bottom, s->ceil_mode);
    ow = cnn__pool_output_size(s->w, s->kw, s->stride_w, s->pad_left, s->pad_right, s->ceil_mode);
    if (oh < 1 || ow < 1) return cnn__fail(CNN_ERR_OVERFLOW, "pool2d: the output size overflows an int");
    if ((long long)s->h * s->w > INT_MAX || (long long)oh * ow > INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "pool2d: an image plane of %dx%d (output %dx%d) overflows an int", s->h, s->w, oh, ow);
    if (!cnn__count4(s->n, s->c, s->h, s->w) || !cnn__count4(s->n, s->c, oh, ow))
        return cnn__fail(CNN_ERR_OVERFLOW, "pool2d: tensor sizes overflow");
    if (out_h) *out_h = oh;
    if (out_w) *out_w = ow;
    return CNN_OK;
}

/* The window of output (i, j), clipped to the input: rows [*r0, *r1), columns [*c0, *c1). */
static void cnn__pool_window(const cnn_pool2d_shape *s, int i, int j, int *r0, int *r1, int *c0, int *c1) {
    /* in 64 bits: top + kh may pass INT_MAX when the window is about as large as a tall input */
    const long long top = (long long)i * s->stride_h - s->pad_top, left = (long long)j * s->stride_w - s->pad_left;
    *r0 = (int)CNN__MAX(top, 0);  *r1 = (int)CNN__MIN(top + s->kh, (long long)s->h);
    *c0 = (int)CNN__MAX(left, 0); *c1 = (int)CNN__MIN(left + s->kw, (long long)s->w);
}

/* The maximum of the 2x2 window at p (its rows w apart) and where it is, as an offset from p:
   the first maximum in row-major order, or the first NaN, which is then the result. */
static float cnn__max2x2(const float *p, int w, int *at) {
    const float a = p[0], b = p[1], c = p[w], d = p[w + 1];
    const int ab = b > a, cd = d > c;
    const float top = ab ? b : a, bottom = cd ? d : c;
    *at = bottom > top ? w + cd : ab;
    if (a != a || b != b || c != c || d != d) *at = a != a ? 0 : b != b ? 1 : c != c ? w : w + 1;
    return p[*at];
}

static void cnn__maxpool2d_forward_scalar(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y, int32_t *argmax) {
    size_t plane, planes = (size_t)s->n * s->c;
    int i, j, r, c;
    for (plane = 0; plane < planes; plane++) {
        const float *xp = x + plane * s->h * s->w;
        float *yp = y + plane * oh * ow;
        for (i = 0; i < oh; i++) {
            for (j = 0; j < ow; j++) {
                int r0, r1, c0, c1, best_at, nan_at = -1;
                float best;
                cnn__pool_window(s, i, j, &r0, &r1, &c0, &c1);
                best_at = r0 * s->w + c0;           /* windows always hold one real input */
                if (r1 - r0 == 2 && c1 - c0 == 2) { /* the common 2x2 window, without loops */
                    int at;
                    best = cnn__max2x2(xp + best_at, s->w, &at);
                    best_at += at;
                    yp[i * ow + j] = best;
                    if (argmax) argmax[plane * oh * ow + i * ow + j] = best_at;
                    continue;
                }
                best = xp[best_at];
                for (r = r0; r < r1; r++)
                    for (c = c0; c < c1; c++) {
                        const float v = xp[r * s->w + c];
                        if (v > best) { best = v; best_at = r * s->w + c; }
                        else if (v != v) nan_at = r * s->w + c;
                    }
                /* A NaN in the window is the result: a diverging network must show it. (Kept
                   out of the comparison above, which it would slow down.) */
                if (nan_at >= 0 || best != best) { best_at = nan_at >= 0 ? nan_at : best_at; best = xp[best_at]; }
                yp[i * ow + j] = best;
                if (argmax) argmax[plane * oh * ow + i * ow + j] = best_at;
            }
        }
    }
}

static void cnn__maxpool2d_backward(const cnn_pool2d_shape *s, int oh, int ow, const float *dy, const int32_t *argmax, float *dx) {
    size_t plane, planes = (size_t)s->n * s->c, in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow, o;
    memset(dx, 0, planes * in_plane * sizeof(float));
    for (plane = 0; plane < planes; plane++)
        for (o = 0; o < out_plane; o++)
            dx[plane * in_plane + argmax[plane * out_plane + o]] += dy[plane * out_plane + o];
}

/* The divisor of average pooling for output (i, j): the window clipped to the padded input
   when padding counts, else the number of real inputs in it. */
static long long cnn__avgpool_divisor(const cnn_pool2d_shape *s, int i, int j) {
    int r0, r1, c0, c1;
    if (s->count_pad) {
        const long long top = (long long)i * s->stride_h - s->pad_top, left = (long long)j * s->stride_w - s->pad_left;
        const long long bottom = CNN__MIN(top + s->kh, (long long)s->h + s->pad_bottom);
        const long long right = CNN__MIN(left + s->kw, (long long)s->w + s->pad_right);
        return (bottom - top) * (right - left);
    }
    cnn__pool_window(s, i, j, &r0, &r1, &c0, &c1);
    return (r1 - r0) * (c1 - c0);
}

static void cnn__avgpool2d_forward_scalar(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y) {
    size_t plane, planes = (size_t)s->n * s->c;
    int i, j, r, c;
    for (plane = 0; plane < planes; plane++) {
        const float *xp = x + plane * s->h * s->w;
        float *yp = y + plane * oh * ow;
        for (i = 0; i < oh; i++) {
            for (j = 0; j < ow; j++) {
                int r0, r1, c0, c1;
                float sum = 0.0f;
                cnn__pool_window(s, i, j, &r0, &r1, &c0, &c1);
                for (r = r0; r < r1; r++)
                    for (c = c0; c < c1; c++) sum += xp[r * s->w + c];
                yp[i * ow + j] = sum / (float)cnn__avgpool_divisor(s, i, j);
            }
        }
    }
}

static void cnn__avgpool2d_backward_scalar(const cnn_pool2d_shape *s, int oh, int ow, const float *dy, float *dx) {
    size_t plane, planes = (size_t)s->n * s->c;
    int i, j, r, c;
    memset(dx, 0, planes * s->h * s->w * sizeof(float));
    for (plane = 0; plane < planes; plane++) {
        float *dxp = dx + plane * s->h * s->w;
        const float *dyp = dy + plane * oh * ow;
        for (i = 0; i < oh; i++) {
            for (j = 0; j < ow; j++) {
                int r0, r1, c0, c1;
                float share = dyp[i * ow + j] / (float)cnn__avgpool_divisor(s, i, j);
                cnn__pool_window(s, i, j, &r0, &r1, &c0, &c1);
                for (r = r0; r < r1; r++)
                    for (c = c0; c < c1; c++) dxp[r * s->w + c] += share;
            }
        }
    }
}

/* The dispatch points of pooling. Output rows of 8 or fewer take the AVX2 kernel on the
   AVX-512 path: a 16-lane vector would be half empty (measured on 64x11x11 maps, 5 outputs a
   row: AVX-512 154 -> 180 us forward; on 26x26 maps, 13 a row, 357 -> 245 us). */
static void cnn__maxpool2d_forward(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y, int32_t *argmax) {
#ifdef CNN__SIMD
    if (cnn__pool_2x2_stride_2(s, oh, ow) && cnn_simd_active() != CNN_SIMD_SCALAR) { CNN__VCALL_IF(ow > 8, maxpool2d_forward, (s, oh, ow, x, y, argmax)); return; }
#endif
    cnn__maxpool2d_forward_scalar(s, oh, ow, x, y, argmax);
}
static void cnn__avgpool2d_forward(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y) {
#ifdef CNN__SIMD
    if (cnn__pool_2x2_stride_2(s, oh, ow) && cnn_simd_active() != CNN_SIMD_SCALAR) { CNN__VCALL_IF(ow > 8, avgpool2d_forward, (s, oh, ow, x, y)); return; }
#endif
    cnn__avgpool2d_forward_scalar(s, oh, ow, x, y);
}
static void cnn__avgpool2d_backward(const cnn_pool2d_shape *s, int oh, int ow, const float *dy, float *dx) {
#ifdef CNN__SIMD
    if (cnn__pool_2x2_stride_2(s, oh, ow) && cnn_simd_active() != CNN_SIMD_SCALAR) { CNN__VCALL_IF(ow > 8, avgpool2d_backward, (s, oh, ow, dy, dx)); return; }
#endif
    cnn__avgpool2d_backward_scalar(s, oh, ow, dy, dx);
}

CNNDEF cnn_status cnn_maxpool2d_forward(const cnn_pool2d_shape *s, const float *x, float *y, int32_t *argmax) {
    int oh, ow;
    cnn_status st = cnn_pool2d_check(s, &oh, &ow);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "maxpool2d forward: NULL x or y");
    cnn__maxpool2d_forward(s, oh, ow, x, y, argmax);
    return CNN_OK;
}

CNNDEF cnn_status cnn_maxpool2d_backward(const cnn_pool2d_shape *s, const float *dy, const int32_t *argmax, float *dx) {
    int oh, ow;
    cnn_status st = cnn_pool2d_check(s, &oh, &ow);
    if (st) return st;
    if (!dy || !argmax || !dx)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "maxpool2d backward: NULL dy, argmax or dx (the forward pass must record argmax)");
    cnn__maxpool2d_backward(s, oh, ow, dy, argmax, dx);
    return CNN_OK;
}

CNNDEF cnn_status cnn_avgpool2d_forward(const cnn_pool2d_shape *s, const float *x, float *y) {
    int oh, ow;
    cnn_status st = cnn_pool2d_check(s, &oh, &ow);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "avgpool2d forward: NULL x or y");
    cnn__avgpool2d_forward(s, oh, ow, x, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_avgpool2d_backward(const cnn_pool2d_shape *s, const float *dy, float *dx) {
    int oh, ow;
    cnn_status st = cnn_pool2d_check(s, &oh, &ow);
    if (st) return st;
    if (!dy || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "avgpool2d backward: NULL dy or dx");
    cnn__avgpool2d_backward(s, oh, ow, dy, dx);
    return CNN_OK;
}

static cnn_status cnn__check_planes(const char *who, int n, int c, int hw) {
    if (n < 1 || c < 1 || hw < 1) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: n %d, c %d, hw %d must be at least 1", who, n, c, hw);
    if (!cnn__count4(n, c, hw, 1)) return cnn__fail(CNN_ERR_OVERFLOW, "%s: %d x %d x %d overflows", who, n, c, hw);
    return CNN_OK;
}

CNNDEF cnn_status cnn_global_avgpool_forward(int n, int c, int hw, const float *x, float *y) {
    size_t p, planes;
    int i;
    cnn_status st = cnn__check_planes("global_avgpool forward", n, c, hw);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "global_avgpool forward: NULL x or y");
    planes = (size_t)n * c;
    for (p = 0; p < planes; p++) {
        float sum = 0.0f;
        for (i = 0; i < hw; i++) sum += x[p * hw + i];
        y[p] = sum / (float)hw;
    }
    return CNN_OK;
}

CNNDEF cnn_status cnn_global_avgpool_backward(int n, int c, int hw, const float *dy, float *dx) {
    size_t p, planes;
    int i;
    cnn_status st = cnn__check_planes("global_avgpool backward", n, c, hw);
    if (st) return st;
    if (!dy || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "global_avgpool backward: NULL dy or dx");
    planes = (size_t)n * c;
    for (p = 0; p < planes; p++) {
        float share = dy[p] / (float)hw;
        for (i = 0; i < hw; i++) dx[p * hw + i] = share;
    }
    return CNN_OK;
}

CNNDEF cnn_status cnn_global_maxpool_forward(int n, int c, int hw, const float *x, float *y, int32_t *argmax) {
    size_t p, planes;
    int i;
    cnn_status st = cnn__check_planes("global_maxpool forward", n, c, hw);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "global_maxpool forward: NULL x or y");
    planes = (size_t)n * c;
    for (p = 0; p < planes; p++) {
        const float *xp = x + p * hw;
        int best_at = 0;
        for (i = 1; i < hw && xp[best_at] == xp[best_at]; i++)   /* stops at the first NaN */
            if (xp[i] > xp[best_at] || xp[i] != xp[i]) best_at = i;
        y[p] = xp[best_at];
        if (argmax) argmax[p] = best_at;
    }
    return CNN_OK;
}

CNNDEF cnn_status cnn_global_maxpool_backward(int n, int c, int hw, const float *dy, const int32_t *argmax, float *dx) {
    size_t p, planes;
    cnn_status st = cnn__check_planes("global_maxpool backward", n, c, hw);
    if (st) return st;
    if (!dy || !argmax || !dx)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "global_maxpool backward: NULL dy, argmax or dx (the forward pass must record argmax)");
    planes = (size_t)n * c;
    memset(dx, 0, planes * hw * sizeof(float));
    for (p = 0; p < planes; p++) dx[p * hw + argmax[p]] = dy[p];
    return CNN_OK;
}

/* --------------------------------------------------------------------------------------------
   6b. Upsampling

   The decoder's way back up: each plane resized to a larger one, with no weights, as
   PyTorch's nn.Upsample (F.interpolate). An output pixel i looks up the source position
   src(i) along each axis, in input pixels:
       nearest:                    floor(i * in / out)            (PyTorch's 'nearest')
       bilinear, align_corners 0:  max(0, (i + 0.5) * in / out - 0.5)
       bilinear, align_corners 1:  i * (in - 1) / (out - 1)       (0 when out is 1)
   Align_corners 0 treats pixels as unit squares whose centres map onto each other; 1 maps
   the first and last pixel centres exactly onto each other. Bilinear reads the inputs i0 =
   floor(src) and i1 = min(i0 + 1, in - 1) with the weights 1 - f and f, f = src - i0, in both
   axes: y = sum over the 2 x 2 of wr * wc * x. The ratios are computed in float as PyTorch's
   CPU kernels do, so that the positions, and hence the outputs, agree with it.
   Backward: the forward pass is linear in x, y = A x, and dx = A^T dy: every dy is added to
   the inputs it was read from, with the same weights (nearest: each input sums the dy of
   the outputs that copied it).
   -------------------------------------------------------------------------------------------- */

CNNDEF cnn_status cnn_upsample2d_check(const cnn_upsample2d_shape *s) {
    if (!s) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d: NULL shape");
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1 || s->out_h < 1 || s->out_w < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d: input %dx%dx%dx%d (NCHW), output %dx%d: each size must be at least 1",
                         s->n, s->c, s->h, s->w, s->out_h, s->out_w);
    if ((unsigned)s->mode >= (unsigned)CNN_UPSAMPLE_MODE_COUNT)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d: unknown mode %d (CNN_UPSAMPLE_NEAREST 0, CNN_UPSAMPLE_BILINEAR 1)", (int)s->mode);
    if (s->align_corners && s->mode != CNN_UPSAMPLE_BILINEAR)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d: align_corners %d is for bilinear upsampling only (nearest has no corners to align, PyTorch refuses it too)",
                         s->align_corners);
    if ((long long)s->h * s->w > INT_MAX || (long long)s->out_h * s->out_w > INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "upsample2d: a plane of %dx%d (output %dx%d) overflows an int", s->h, s->w, s->out_h, s->out_w);
    if (!cnn__count4(s->n, s->c, s->h, s->w) || !cnn__count4(s->n, s->c, s->out_h, s->out_w))
        return cnn__fail(CNN_ERR_OVERFLOW, "upsample2d: tensor sizes overflow");
    return CNN_OK;
}

/* Output pixel i along an axis of in -> out pixels: the two inputs *i0, *i1 it reads and the
   weight *f of i1 (1 - f of i0). Nearest reads one input: i1 = i0, f = 0. */
static void cnn__upsample_source(const cnn_upsample2d_shape *s, int in, int out, int i, int *i0, int *i1, float *f) {
    if (s->mode == CNN_UPSAMPLE_NEAREST) {
        const float scale = (float)in / (float)out;
        *i0 = *i1 = CNN__MIN((int)floorf((float)i * scale), in - 1);
        *f = 0.0f;
    } else {
        float src;
        if (s->align_corners) src = out > 1 ? (float)i * ((float)(in - 1) / (float)(out - 1)) : 0.0f;
        else src = CNN__MAX(((float)i + 0.5f) * ((float)in / (float)out) - 0.5f, 0.0f);
        *i0 = CNN__MIN((int)src, in - 1);
        *i1 = CNN__MIN(*i0 + 1, in - 1);
        *f = src - (float)*i0;   /* past the last input (i1 = i0) both weights fall on it, as in PyTorch */
    }
}

/* Both passes walk the output in strips of columns whose sources are looked up once for
   the whole batch (a table on the stack: nothing allocated), then every plane and row. */
#define CNN__UPSAMPLE_STRIP 64

static void cnn__upsample2d_forward(const cnn_upsample2d_shape *s, const float *x, float *y) {
    const size_t planes = (size_t)s->n * s->c, in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    int c0[CNN__UPSAMPLE_STRIP], c1[CNN__UPSAMPLE_STRIP], j0, k, i;
    float fc[CNN__UPSAMPLE_STRIP];
    size_t p;
    for (j0 = 0; j0 < s->out_w; j0 += CNN__UPSAMPLE_STRIP) {
        const int strip = CNN__MIN(CNN__UPSAMPLE_STRIP, s->out_w - j0);
        for (k = 0; k < strip; k++) cnn__upsample_source(s, s->w, s->out_w, j0 + k, &c0[k], &c1[k], &fc[k]);
        for (p = 0; p < planes; p++) {
            for (i = 0; i < s->out_h; i++) {
                int r0, r1;
                float fr;
                const float *top, *bottom;
                float *yr = y + p * out_plane + (size_t)i * s->out_w + j0;
                cnn__upsample_source(s, s->h, s->out_h, i, &r0, &r1, &fr);
                top = x + p * in_plane + (size_t)r0 * s->w;
                bottom = x + p * in_plane + (size_t)r1 * s->w;
                if (s->mode == CNN_UPSAMPLE_NEAREST) {   /* a copy: exact, infinities too */
                    for (k = 0; k < strip; k++) yr[k] = top[c0[k]];
                    continue;
                }
                for (k = 0; k < strip; k++)
                    yr[k] = (1.0f - fr) * ((1.0f - fc[k]) * top[c0[k]] + fc[k] * top[c1[k]]) +
                            fr * ((1.0f - fc[k]) * bottom[c0[k]] + fc[k] * bottom[c1[k]]);
            }
        }
    }
}

static void cnn__upsample2d_backward(const cnn_upsample2d_shape *s, const float *dy, float *dx) {
    const size_t planes = (size_t)s->n * s->c, in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    int c0[CNN__UPSAMPLE_STRIP], c1[CNN__UPSAMPLE_STRIP], j0, k, i;
    float fc[CNN__UPSAMPLE_STRIP];
    size_t p;
    memset(dx, 0, planes * in_plane * sizeof(float));
    for (j0 = 0; j0 < s->out_w; j0 += CNN__UPSAMPLE_STRIP) {
        const int strip = CNN__MIN(CNN__UPSAMPLE_STRIP, s->out_w - j0);
        for (k = 0; k < strip; k++) cnn__upsample_source(s, s->w, s->out_w, j0 + k, &c0[k], &c1[k], &fc[k]);
        for (p = 0; p < planes; p++) {
            for (i = 0; i < s->out_h; i++) {
                int r0, r1;
                float fr;
                float *top, *bottom;
                const float *g = dy + p * out_plane + (size_t)i * s->out_w + j0;
                cnn__upsample_source(s, s->h, s->out_h, i, &r0, &r1, &fr);
                top = dx + p * in_plane + (size_t)r0 * s->w;
                bottom = dx + p * in_plane + (size_t)r1 * s->w;
                if (s->mode == CNN_UPSAMPLE_NEAREST) {
                    for (k = 0; k < strip; k++) top[c0[k]] += g[k];
                    continue;
                }
                for (k = 0; k < strip; k++) {
                    top[c0[k]] += (1.0f - fr) * (1.0f - fc[k]) * g[k];
                    top[c1[k]] += (1.0f - fr) * fc[k] * g[k];
                    bottom[c0[k]] += fr * (1.0f - fc[k]) * g[k];
                    bottom[c1[k]] += fr * fc[k] * g[k];
                }
            }
        }
    }
}

CNNDEF cnn_status cnn_upsample2d_forward(const cnn_upsample2d_shape *s, const float *x, float *y) {
    cnn_status st = cnn_upsample2d_check(s);
    if (st) return st;
    if (!x || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d forward: NULL x or y");
    cnn__upsample2d_forward(s, x, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_upsample2d_backward(const cnn_upsample2d_shape *s, const float *dy, float *dx) {
    cnn_status st = cnn_upsample2d_check(s);
    if (st) return st;
    if (!dy || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "upsample2d backward: NULL dy or dx");
    cnn__upsample2d_backward(s, dy, dx);
    return CNN_OK;
}

/* ============================================================================================
   7. Dense (fully connected) layers

   Every output is a weighted sum of every input: y = W x + b, for each image of the batch.
   With X the batch as rows (n x in) and W (out x in):   Y = X W^T + b
   Backward:   dX = dY W       dW = dY^T X       db = column sums of dY
   ============================================================================================ */

static void cnn__dense_forward_scalar(int n, int in, int out, const float *x, const float *w, const float *b, float *y) {
    int i, o, k;
    for (i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        for (o = 0; o < out; o++) {
            const float *wo = w + (size_t)o * in;
            float sum = b ? b[o] : 0.0f;
            for (k = 0; k < in; k++) sum += wo[k] * xi[k];
            y[(size_t)i * out + o] = sum;
        }
    }
}

static void cnn__dense_backward_data_scalar(int n, int in, int out, const float *dy, const float *w, float *dx) {
    int i, o, k;
    memset(dx, 0, (size_t)n * in * sizeof(float));
    for (i = 0; i < n; i++) {
        float *dxi = dx + (size_t)i * in;
        for (o = 0; o < out; o++) {
            const float g = dy[(size_t)i * out + o];
            const float *wo = w + (size_t)o * in;
            for (k = 0; k < in; k++) dxi[k] += g * wo[k];
        }
    }
}

static void cnn__dense_backward_weights_scalar(int n, int in, int out, const float *x, const float *dy, float *dw, float *db) {
    int i, o, k;
    memset(dw, 0, (size_t)out * in * sizeof(float));
    if (db) memset(db, 0, (size_t)out * sizeof(float));
    for (i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        for (o = 0; o < out; o++) {
            const float g = dy[(size_t)i * out + o];
            float *dwo = dw + (size_t)o * in;
            if (db) db[o] += g;
            for (k = 0; k < in; k++) dwo[k] += g * xi[k];
        }
    }
}

static void cnn__dense_forward(int n, int in, int out, const float *x, const float *w, const float *b, float *y) {
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) { cnn__dense_forward_simd(n, in, out, x, w, b, y); return; }
#endif
    cnn__dense_forward_scalar(n, in, out, x, w, b, y);
}
static void cnn__dense_backward_data(int n, int in, int out, const float *dy, const float *w, float *dx) {
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) { cnn__dense_backward_data_simd(n, in, out, dy, w, dx); return; }
#endif
    cnn__dense_backward_data_scalar(n, in, out, dy, w, dx);
}
static void cnn__dense_backward_weights(int n, int in, int out, const float *x, const float *dy, float *dw, float *db) {
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) { cnn__dense_backward_weights_simd(n, in, out, x, dy, dw, db); return; }
#endif
    cnn__dense_backward_weights_scalar(n, in, out, x, dy, dw, db);
}

static cnn_status cnn__check_dense(const char *who, int n, int in, int out) {
    if (n < 1 || in < 1 || out < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: batch %d, %d inputs, %d outputs: each must be at least 1", who, n, in, out);
    if (!cnn__count4(n, in, 1, 1) || !cnn__count4(n, out, 1, 1) || !cnn__count4(out, in, 1, 1))
        return cnn__fail(CNN_ERR_OVERFLOW, "%s: batch %d x %d -> %d overflows", who, n, in, out);
    return CNN_OK;
}

CNNDEF cnn_status cnn_dense_forward(int n, int in, int out, const float *x, const float *w, const float *b, float *y) {
    cnn_status st = cnn__check_dense("dense forward", n, in, out);
    if (st) return st;
    if (!x || !w || !y) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dense forward: NULL x, w or y");
    cnn__dense_forward(n, in, out, x, w, b, y);
    return CNN_OK;
}

CNNDEF cnn_status cnn_dense_backward_data(int n, int in, int out, const float *dy, const float *w, float *dx) {
    cnn_status st = cnn__check_dense("dense backward_data", n, in, out);
    if (st) return st;
    if (!dy || !w || !dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dense backward_data: NULL dy, w or dx");
    cnn__dense_backward_data(n, in, out, dy, w, dx);
    return CNN_OK;
}

CNNDEF cnn_status cnn_dense_backward_weights(int n, int in, int out, const float *x, const float *dy, float *dw, float *db) {
    cnn_status st = cnn__check_dense("dense backward_weights", n, in, out);
    if (st) return st;
    if (!x || !dy || !dw) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dense backward_weights: NULL x, dy or dw");
    cnn__dense_backward_weights(n, in, out, x, dy, dw, db);
    return CNN_OK;
}

/* ============================================================================================
   8. Loss functions

   Softmax cross-entropy: with p = softmax(z) and the true class t,
       loss = -log p_t = log sum_j e^(z_j) - z_t = (m + log sum_j e^(z_j - m)) - z_t
   for any m (take the largest z: stable for logits of +-1000). Its gradient is simply
       dloss/dz_j = p_j - [j == t]
   and the batch mean divides both by n.
   ============================================================================================ */

/* CNN_ERR_NUMERIC for a NaN or infinite loss: wherever a loss is computed, a diverging network
   is an error, not a number to train on. (The values are written all the same.) */
static int cnn__finite(float v) { return v - v == 0.0f; }
static cnn_status cnn__check_loss(const char *who, float loss) {
    if (cnn__finite(loss)) return CNN_OK;
    return cnn__fail(CNN_ERR_NUMERIC, "%s: the loss is %f (NaN or infinite outputs: a diverging network, or NaN in the data)", who, (double)loss);
}

CNNDEF cnn_status cnn_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels,
                                            float *loss, float *dlogits) {
    double total = 0.0;
    int i, j;
    if (n < 1 || classes < 1) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "softmax cross-entropy: %d rows of %d classes", n, classes);
    if (!cnn__count4(n, classes, 1, 1)) return cnn__fail(CNN_ERR_OVERFLOW, "softmax cross-entropy: %d rows of %d classes overflow", n, classes);
    if (!logits || !labels) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "softmax cross-entropy: NULL logits or labels");
    for (i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "softmax cross-entropy: label %d of image %d is outside [0, %d)",
                             (int)labels[i], i, classes);
    for (i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        float m = z[0];
        double sum = 0.0;
        for (j = 1; j < classes; j++) m = z[j] > m ? z[j] : m;
        for (j = 0; j < classes; j++) sum += exp((double)z[j] - m);
        total += (double)m + log(sum) - z[labels[i]];
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (j = 0; j < classes; j++) d[j] = (float)(exp((double)z[j] - m) / sum) / (float)n;
            d[labels[i]] -= 1.0f / (float)n;
        }
    }
    if (loss) *loss = (float)(total / n);
    return cnn__check_loss("softmax cross-entropy", (float)(total / n));
}

/* Mean squared error: loss = mean (p - t)^2, dloss/dp = 2 (p - t) / count. */
CNNDEF cnn_status cnn_mean_squared_error(int n, int size, const float *pred, const float *target,
                                         float *loss, float *dpred) {
    double total = 0.0;
    size_t i, count;
    if (n < 1 || size < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "mean squared error: %d rows of %d values", n, size);
    if (!(count = cnn__count4(n, size, 1, 1)))
        return cnn__fail(CNN_ERR_OVERFLOW, "mean squared error: %d rows of %d values overflow", n, size);
    if (!pred || !target) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "mean squared error: NULL pred or target");
    for (i = 0; i < count; i++) {
        double d = (double)pred[i] - target[i];
        total += d * d;
        if (dpred) dpred[i] = (float)(2.0 * d / (double)count);
    }
    if (loss) *loss = (float)(total / (double)count);
    return cnn__check_loss("mean squared error", (float)(total / (double)count));
}

/* ============================================================================================
   9. The network

   A sequence of layers, each reading the previous layer's output. Adding a layer infers its
   output shape and checks it, so a network that builds is a network that runs. Building
   carves every tensor out of one arena:

       training:  params | grads | velocity (with_momentum) | best params (with_early_stopping)
                  | Adam's m and v (with_adam)
                  Winograd's transformed filters; per layer: output activations for max_batch
                  images, dropout masks, max-pool argmax; the fit batch (images and labels);
                  the workspace; two gradient buffers for backward
       inference: params (none when shared) | one activation region | the forward workspace

   A training forward keeps each layer's output: backward needs it (the input of the next
   layer, and the output itself for the derivative of a fused activation). An inference
   forward needs only the current layer's input and output, so they take turns at the two
   ends of one region (cnn__inference_region).
   ============================================================================================ */

/* What cnn_net_init records in a network: this code's sizeof(cnn_net) (which CNN_MAX_LAYERS
   and the version of cnn.h decide), mixed so that no small number or zeroed memory matches. */
#define CNN__NET_STAMP ((uint32_t)(sizeof(cnn_net) * 2654435761u) ^ 0x636e6e68u)

/* Every function that takes a network checks it was set up by code of the same layout. */
static cnn_status cnn__check_net(const cnn_net *net, const char *who) {
    if (!net) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL network", who);
    if (net->layout_stamp != CNN__NET_STAMP)
        return cnn__fail(CNN_ERR_STATE,
                         "%s: the network was not set up by cnn_net_init (or cnn_load) of this code: call cnn_net_init first, "
                         "and compile every file that shares a cnn_net with the same CNN_MAX_LAYERS (here %d) and cnn.h",
                         who, CNN_MAX_LAYERS);
    return CNN_OK;
}

/* ---------------------------------------------------------------------------------------------
   Threads: one pool per network, and one parallel-for over its slots.

   A network built with T threads runs each parallel step as T tasks, task t on slot t: slot 0
   is the caller's thread, slots 1..T-1 the pool's workers (or whatever threads the caller's
   parallel_for uses). A task finds its share of the work from (t, T) and uses slot t's part
   of the convolution workspace, so no two tasks share scratch memory. The workers live as
   long as the network: between steps they spin a little (the next layer's step usually comes
   within microseconds), then sleep on a condition variable. Nothing is allocated per step:
   the pool lives in the network's arena.

   Results do not depend on T: a split that no reduction crosses (images, output channels,
   planes, elements) gives every output the same arithmetic whatever the split, and the one
   reduction that crosses images, the parameter gradient, is cut into parts that depend on
   the batch size only and added in a fixed order (cnn__grad_parts).
   --------------------------------------------------------------------------------------------- */

#if defined(CNN__THREADS_POSIX) || defined(CNN__THREADS_WIN32)
#define CNN__HAVE_POOL 1

#if defined(CNN__THREADS_POSIX)
typedef pthread_t cnn__thread;
typedef pthread_mutex_t cnn__mutex;
typedef pthread_cond_t cnn__cond;
#define CNN__THREAD_MAIN(name, arg) static void *name(void *arg)
#define CNN__THREAD_END return NULL
/* Starting a thread; 0 or an error number. The tests replace it to make it fail. */
#ifndef CNN__THREAD_CREATE
#define CNN__THREAD_CREATE(thread, main, arg) pthread_create(thread, NULL, main, arg)
#endif
static int cnn__mutex_init(cnn__mutex *m) { return pthread_mutex_init(m, NULL); }
static void cnn__mutex_destroy(cnn__mutex *m) { pthread_mutex_destroy(m); }
static void cnn__lock(cnn__mutex *m) { pthread_mutex_lock(m); }
static void cnn__unlock(cnn__mutex *m) { pthread_mutex_unlock(m); }
static int cnn__cond_init(cnn__cond *c) { return pthread_cond_init(c, NULL); }
static void cnn__cond_destroy(cnn__cond *c) { pthread_cond_destroy(c); }
static void cnn__cond_wait(cnn__cond *c, cnn__mutex *m) { pthread_cond_wait(c, m); }
static void cnn__cond_broadcast(cnn__cond *c) { pthread_cond_broadcast(c); }
static void cnn__thread_join(cnn__thread t) { pthread_join(t, NULL); }
#else
typedef HANDLE cnn__thread;
typedef SRWLOCK cnn__mutex;
typedef CONDITION_VARIABLE cnn__cond;
#define CNN__THREAD_MAIN(name, arg) static DWORD WINAPI name(LPVOID arg)
#define CNN__THREAD_END return 0
#ifndef CNN__THREAD_CREATE
#define CNN__THREAD_CREATE(thread, main, arg) ((*(thread) = CreateThread(NULL, 0, main, arg, 0, NULL)) ? 0 : (int)GetLastError())
#endif
static int cnn__mutex_init(cnn__mutex *m) { InitializeSRWLock(m); return 0; }
static void cnn__mutex_destroy(cnn__mutex *m) { (void)m; }
static void cnn__lock(cnn__mutex *m) { AcquireSRWLockExclusive(m); }
static void cnn__unlock(cnn__mutex *m) { ReleaseSRWLockExclusive(m); }
static int cnn__cond_init(cnn__cond *c) { InitializeConditionVariable(c); return 0; }
static void cnn__cond_destroy(cnn__cond *c) { (void)c; }
static void cnn__cond_wait(cnn__cond *c, cnn__mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void cnn__cond_broadcast(cnn__cond *c) { WakeAllConditionVariable(c); }
static void cnn__thread_join(cnn__thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
#endif

/* The words threads watch without the lock: atomic loads and stores where the compiler has
   them (GCC, Clang), which also lets a thread spin on them; elsewhere (MSVC) every access
   takes the lock, and nobody spins. */
#if defined(__GNUC__) || defined(__clang__)
#define CNN__LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define CNN__STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#define CNN__DECREMENT(p) __atomic_sub_fetch(p, 1, __ATOMIC_ACQ_REL)
#define CNN__CLAIM(p) __atomic_fetch_add(p, 1, __ATOMIC_ACQ_REL)
#define CNN__SPINS 4000
#if defined(__x86_64__) || defined(__i386__)
#define CNN__PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CNN__PAUSE() __asm__ __volatile__("yield")
#else
#define CNN__PAUSE() ((void)0)
#endif
#else
#define CNN__LOAD(p) (*(p))          /* under the lock, or beside interlocked operations */
#define CNN__STORE(p, v) (*(p) = (v))
#define CNN__DECREMENT(p) InterlockedDecrement((volatile LONG *)(p))
#define CNN__CLAIM(p) (InterlockedIncrement((volatile LONG *)(p)) - 1)
#define CNN__SPINS 0
#define CNN__PAUSE() ((void)0)
#endif

typedef struct cnn__pool cnn__pool;
typedef struct cnn__worker {
    cnn__pool *pool;
    int slot;
    cnn__thread thread;
} cnn__worker;

struct cnn__pool {
    cnn__mutex lock;
    cnn__cond wake;               /* a new step (or stop): generation changed          */
    cnn__cond idle;               /* the last worker finished its task                 */
    unsigned generation;          /* steps started, watched by the workers             */
    int busy;                     /* slots 1..T-1 of the current step not finished      */
    int next;                     /* the next slot to claim                             */
    int slots;                    /* T                                                  */
    int stop;
    int started;                  /* workers running                                   */
    cnn_parallel_task task;       /* the current step                                  */
    void *context;
    cnn__worker *workers;         /* slots 1..T-1 (workers[0] unused)                  */
};

/* Runs slots of the current step until none is left unclaimed. Slots are claimed, not given
   to fixed threads: on a loaded machine a worker may not be scheduled for milliseconds, and
   then the caller runs its slot instead of waiting. (A slot's work and workspace belong to
   the slot, so who runs it changes nothing.) */
static void cnn__pool_claim(cnn__pool *p) {
    int slot;
    while ((slot = CNN__CLAIM(&p->next)) < p->slots) {
        p->task(p->context, (size_t)slot);
        if (CNN__DECREMENT(&p->busy) == 0) {
            cnn__lock(&p->lock);
            cnn__cond_broadcast(&p->idle);
            cnn__unlock(&p->lock);
        }
    }
}

CNN__THREAD_MAIN(cnn__worker_main, arg) {
    cnn__worker *me = (cnn__worker *)arg;
    cnn__pool *p = me->pool;
    unsigned seen = 0, now;
    int spins;
    for (;;) {
        for (spins = 0; spins < CNN__SPINS && (now = CNN__LOAD(&p->generation)) == seen; spins++) CNN__PAUSE();
        cnn__lock(&p->lock);
        while ((now = CNN__LOAD(&p->generation)) == seen) cnn__cond_wait(&p->wake, &p->lock);
        cnn__unlock(&p->lock);
        seen = now;
        if (CNN__LOAD(&p->stop)) break;
        cnn__pool_claim(p);
    }
    CNN__THREAD_END;
}

/* Stops and joins the workers started, and releases the pool's locks. */
static void cnn__pool_stop(cnn__pool *p) {
    int i;
    cnn__lock(&p->lock);
    CNN__STORE(&p->stop, 1);
    CNN__STORE(&p->generation, CNN__LOAD(&p->generation) + 1);
    cnn__cond_broadcast(&p->wake);
    cnn__unlock(&p->lock);
    for (i = 1; i <= p->started; i++) cnn__thread_join(p->workers[i].thread);
    cnn__cond_destroy(&p->idle);
    cnn__cond_destroy(&p->wake);
    cnn__mutex_destroy(&p->lock);
}

/* Starts threads - 1 workers in the pool's memory (from the arena). A thread that cannot be
   started stops those that were, and fails the build with the system's reason. */
static cnn_status cnn__pool_start(cnn__pool *p, cnn__worker *workers, int threads) {
    int i, err;
    memset(p, 0, sizeof *p);
    p->workers = workers;
    p->slots = p->next = threads;     /* nothing to claim until the first step */
    if (cnn__mutex_init(&p->lock)) return cnn__fail(CNN_ERR_STATE, "net build: cannot create the thread pool's mutex");
    if (cnn__cond_init(&p->wake)) {
        cnn__mutex_destroy(&p->lock);
        return cnn__fail(CNN_ERR_STATE, "net build: cannot create the thread pool's condition variable");
    }
    if (cnn__cond_init(&p->idle)) {
        cnn__cond_destroy(&p->wake);
        cnn__mutex_destroy(&p->lock);
        return cnn__fail(CNN_ERR_STATE, "net build: cannot create the thread pool's condition variable");
    }
    for (i = 1; i < threads; i++) {
        workers[i].pool = p;
        workers[i].slot = i;
        if ((err = CNN__THREAD_CREATE(&workers[i].thread, cnn__worker_main, &workers[i])) != 0) {
            cnn__pool_stop(p);
            return cnn__fail(CNN_ERR_STATE, "net build: could not start worker thread %d of %d (error %d from the system); "
                             "build with fewer threads (cnn_build_opts.threads, CNN_THREADS)", i, threads - 1, err);
        }
        p->started = i;
    }
    return CNN_OK;
}

static cnn__pool *cnn__pool_of(const cnn_net *net) { return (cnn__pool *)net->pool; }

/* One step on every slot: the workers take slots 1.., the caller slot 0, then waits for all. */
static void cnn__pool_run(cnn__pool *p, cnn_parallel_task task, void *context) {
    int spins;
    p->task = task;
    p->context = context;
    CNN__STORE(&p->busy, p->slots - 1);
    CNN__STORE(&p->next, 1);      /* publishes the task to a worker that claims early */
    cnn__lock(&p->lock);
    CNN__STORE(&p->generation, CNN__LOAD(&p->generation) + 1);
    cnn__cond_broadcast(&p->wake);
    cnn__unlock(&p->lock);
    task(context, 0);
    cnn__pool_claim(p);
    for (spins = 0; spins < CNN__SPINS && CNN__LOAD(&p->busy) != 0; spins++) CNN__PAUSE();
    cnn__lock(&p->lock);
    while (CNN__LOAD(&p->busy) != 0) cnn__cond_wait(&p->idle, &p->lock);
    cnn__unlock(&p->lock);
}
#endif /* CNN__THREADS_POSIX || CNN__THREADS_WIN32 */

/* The counter the slots of a step claim its pieces from (cnn__claim): an atomic increment
   where the compiler (GCC, Clang) or Windows has one; elsewhere none, and each slot takes its
   fixed share of the pieces. Relaxed: the step's end (the pool's wait) orders the rest. */
#if defined(__GNUC__) || defined(__clang__)
#define CNN__FETCH_INC(p) __atomic_fetch_add(p, 1, __ATOMIC_RELAXED)
#elif defined(CNN__THREADS_WIN32)
#define CNN__FETCH_INC(p) (InterlockedIncrement((volatile LONG *)(p)) - 1)
#endif

CNNDEF int cnn_cpu_count(void) {
#if defined(CNN__THREADS_WIN32)
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return info.dwNumberOfProcessors > 0 ? (int)info.dwNumberOfProcessors : 1;
#elif defined(CNN__THREADS_POSIX) && defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)CNN__MIN(n, (long)CNN_MAX_THREADS) : 1;
#else
    return 1;
#endif
}

/* Runs task on every slot of the network: through the caller's pool, cnn.h's, or (one
   thread, or no pool) one slot after another on this thread. */
static void cnn__parallel(const cnn_net *net, cnn_parallel_task task, void *context) {
    int t;
    if (net->threads <= 1) { task(context, 0); return; }
    if (net->parallel_for) { net->parallel_for(net->parallel_pool, task, context, (size_t)net->threads); return; }
#ifdef CNN__HAVE_POOL
    if (net->pool) { cnn__pool_run((cnn__pool *)net->pool, task, context); return; }
#endif
    for (t = 0; t < net->threads; t++) task(context, (size_t)t);
}

/* Slot t's share [*begin, *end) of items split over T slots, in steps of 'align' items. */
static void cnn__share(size_t items, size_t t, int threads, size_t align, size_t *begin, size_t *end) {
    const size_t units = (items + align - 1) / align;
    *begin = CNN__MIN(items, units * t / (size_t)threads * align);
    *end = CNN__MIN(items, units * (t + 1) / (size_t)threads * align);
}

/* The parameter gradient is summed over the batch in parts of it: part p of P holds the
   images [p*n/P, (p+1)*n/P), computed alone, and the parts are added in the order 0, 1, ..,
   P-1. P depends on n only, never on the threads, so every thread count adds the same
   numbers in the same order. */
#define CNN__GRAD_PARTS 4
static int cnn__grad_parts(int n) { return CNN__MIN(n, CNN__GRAD_PARTS); }

static const char *cnn__layer_name(cnn_layer_kind kind) {
    switch (kind) {
    case CNN_LAYER_CONV: return "conv";
    case CNN_LAYER_POOL: return "pool";
    case CNN_LAYER_GLOBAL_AVGPOOL: return "global_avgpool";
    case CNN_LAYER_DENSE: return "dense";
    case CNN_LAYER_ACTIVATION: return "activation";
    case CNN_LAYER_DROPOUT: return "dropout";
    case CNN_LAYER_FLATTEN: return "flatten";
    case CNN_LAYER_CONV_TRANSPOSE: return "conv_transpose";
    case CNN_LAYER_BATCHNORM: return "batchnorm";
    case CNN_LAYER_UPSAMPLE: return "upsample";
    case CNN_LAYER_GLOBAL_MAXPOOL: return "global_maxpool";
    }
    return "?";
}

static const char *cnn__activation_name(cnn_activation act) {
    switch (act) {
    case CNN_ACT_RELU: return "relu";
    case CNN_ACT_LEAKY_RELU: return "leaky_relu";
    case CNN_ACT_SIGMOID: return "sigmoid";
    case CNN_ACT_TANH: return "tanh";
    default: return "linear";
    }
}

static size_t cnn__layer_in_size(const cnn_layer *l) { return (size_t)l->in_c * l->in_h * l->in_w; }
static size_t cnn__layer_out_size(const cnn_layer *l) { return (size_t)l->out_c * l->out_h * l->out_w; }

/* The current end of the network: the shape the next layer receives, and whether it is a
   vector (after dense, flatten or global pooling) rather than a C x H x W map. */
static void cnn__net_tail(const cnn_net *net, int *c, int *h, int *w, int *flat) {
    if (net->layer_count == 0) {
        *c = net->in_c; *h = net->in_h; *w = net->in_w; *flat = 0;
    } else {
        const cnn_layer *l = &net->layers[net->layer_count - 1];
        *c = l->out_c; *h = l->out_h; *w = l->out_w; *flat = l->flat;
    }
}

/* Every layer error names the layer: "layer 3 (conv, input 64x5x5): ...". The network is then
   marked invalid, so a half-described network can never be built and run. */
static cnn_status cnn__layer_fail(cnn_net *net, cnn_layer_kind kind, cnn_status status, const char *what) {
    int c, h, w, flat;
    char why[400];
    cnn__format(why, sizeof why, "%s", what);
    cnn__net_tail(net, &c, &h, &w, &flat);
    net->invalid = 1;
    if (flat) return cnn__fail(status, "layer %d (%s, input vector of %d): %s", net->layer_count, cnn__layer_name(kind), c, why);
    return cnn__fail(status, "layer %d (%s, input %dx%dx%d): %s", net->layer_count, cnn__layer_name(kind), c, h, w, why);
}

/* Checks that a layer may be added and gives the slot it goes into. */
static cnn_status cnn__begin_layer(cnn_net *net, cnn_layer_kind kind, cnn_layer **out) {
    char who[32];
    cnn_status st;
    cnn__format(who, sizeof who, "add %s", cnn__layer_name(kind));
    if ((st = cnn__check_net(net, who))) return st;
    if (net->in_c < 1) return cnn__fail(CNN_ERR_STATE, "add %s: call cnn_net_init first", cnn__layer_name(kind));
    if (net->built) return cnn__fail(CNN_ERR_STATE, "add %s: the network is already built; cnn_net_free it first", cnn__layer_name(kind));
    if (net->invalid) return cnn__fail(CNN_ERR_STATE, "add %s: an earlier layer failed to add; describe the network again", cnn__layer_name(kind));
    if (net->layer_count >= CNN_MAX_LAYERS) {
        net->invalid = 1;
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "add %s: the network already has CNN_MAX_LAYERS = %d layers (define CNN_MAX_LAYERS larger)",
                         cnn__layer_name(kind), CNN_MAX_LAYERS);
    }
    *out = &net->layers[net->layer_count];
    memset(*out, 0, sizeof **out);
    (*out)->kind = kind;
    cnn__net_tail(net, &(*out)->in_c, &(*out)->in_h, &(*out)->in_w, &(*out)->flat);
    return CNN_OK;
}

/* A layer's leaky-ReLU slope from its options: 0 means the default 0.01, since options are
   zero-initialised; the negative zero CNN_ALPHA_ZERO is how a caller asks for exactly 0. It
   is kept as -0.0f (a slope of 0 all the same), so a saved model loads with it again. */
static float cnn__slope(float alpha) { return alpha == 0.0f && !signbit(alpha) ? 0.01f : alpha; }

/* Finishes a layer whose fields are all set: checks the per-image sizes and counts it in. */
static cnn_status cnn__end_layer(cnn_net *net, cnn_layer *l) {
    if (!cnn__count4(l->out_c, l->out_h, l->out_w, 1) || cnn__layer_out_size(l) > INT_MAX)
        return cnn__layer_fail(net, l->kind, CNN_ERR_OVERFLOW, "its output is too large");
    net->layer_count++;
    return CNN_OK;
}

CNNDEF cnn_status (cnn_net_init)(cnn_net *net, const cnn_net_opts *opts) {
    return cnn__net_init_sized(net, opts, sizeof(cnn_net));
}

CNNDEF cnn_status cnn__net_init_sized(cnn_net *net, const cnn_net_opts *opts, size_t caller_net_bytes) {
    if (!net || !opts) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net init: NULL network or options");
    if (caller_net_bytes != sizeof(cnn_net))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT,
                         "net init: the caller's cnn_net is %zu bytes, the implementation's %zu (CNN_MAX_LAYERS %d): compile every file with the same CNN_MAX_LAYERS and cnn.h",
                         caller_net_bytes, sizeof(cnn_net), CNN_MAX_LAYERS);
    memset(net, 0, sizeof *net);
    if (opts->channels < 1 || opts->height < 1 || opts->width < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net init: input %dx%dx%d (channels x height x width): each must be at least 1",
                         opts->channels, opts->height, opts->width);
    if (!cnn__count4(opts->channels, opts->height, opts->width, 1) || (size_t)opts->channels * opts->height * opts->width > INT_MAX)
        return cnn__fail(CNN_ERR_OVERFLOW, "net init: input %dx%dx%d is too large", opts->channels, opts->height, opts->width);
    if (opts->loss != CNN_LOSS_SOFTMAX_CROSS_ENTROPY && opts->loss != CNN_LOSS_MSE)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net init: unknown loss %d", (int)opts->loss);
    net->in_c = opts->channels;
    net->in_h = opts->height;
    net->in_w = opts->width;
    net->loss = opts->loss;
    net->layout_stamp = CNN__NET_STAMP;
    return CNN_OK;
}

/* Zero means default: the first nonzero of the per-axis value, the shared value, the default. */
static int cnn__pick(int specific, int shared, int fallback) { return specific ? specific : shared ? shared : fallback; }

CNNDEF cnn_status cnn_add_conv(cnn_net *net, const cnn_conv_opts *opts) {
    cnn_conv_opts defaults;
    const cnn_conv_opts *o = opts ? opts : (memset(&defaults, 0, sizeof defaults), &defaults);
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_conv2d_shape *s;
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_CONV, &l);
    char why[300];
    int oh, ow;
    if (st) return st;
    if (l->flat)
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_SHAPE, "convolution needs a C x H x W map, not a vector: convolve before flatten/dense");
    if (o->filters < 1) {
        cnn__format(why, sizeof why, "filters is %d; set .filters to the number of output channels (at least 1)", o->filters);
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (o->kernel < 0 || o->kernel_h < 0 || o->kernel_w < 0 || o->stride < 0 || o->stride_h < 0 || o->stride_w < 0 ||
        o->dilation < 0 || o->dilation_h < 0 || o->dilation_w < 0) {
        cnn__format(why, sizeof why, "kernel %d (%dx%d), stride %d (%dx%d), dilation %d (%dx%d): none may be negative",
                    o->kernel, o->kernel_h, o->kernel_w, o->stride, o->stride_h, o->stride_w, o->dilation, o->dilation_h, o->dilation_w);
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (o->groups < 0 || l->in_c % (o->groups ? o->groups : 1) || o->filters % (o->groups ? o->groups : 1)) {
        cnn__format(why, sizeof why, "groups %d must be at least 1 and divide both the %d input channels and the %d filters",
                    o->groups, l->in_c, o->filters);
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_INVALID_ARGUMENT, why);
    }
    st = cnn__check_activation("conv", o->activation, cnn__slope(o->alpha));
    if (st) return cnn__layer_fail(net, CNN_LAYER_CONV, st, cnn_last_error());
    s = &l->conv;
    s->n = 1; s->c = l->in_c; s->h = l->in_h; s->w = l->in_w;
    s->k = o->filters;
    s->kh = cnn__pick(o->kernel_h, o->kernel, 3);
    s->kw = cnn__pick(o->kernel_w, o->kernel, 3);
    s->stride_h = cnn__pick(o->stride_h, o->stride, 1);
    s->stride_w = cnn__pick(o->stride_w, o->stride, 1);
    s->dilation_h = cnn__pick(o->dilation_h, o->dilation, 1);
    s->dilation_w = cnn__pick(o->dilation_w, o->dilation, 1);
    s->algo = o->algo;
    s->groups = o->groups ? o->groups : 1;
    if (cnn__direct_variant(s)) {   /* a layer's passes each pick the variant that serves them */
        cnn__format(why, sizeof why, "algo %s forces one direct variant, for benchmarks and tests of the conv2d functions; "
                    "a layer takes auto, direct, wino2 or wino4", cnn_conv_algo_name(o->algo));
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_INVALID_ARGUMENT, why);
    }
    switch (o->padding) {
    case CNN_PAD_VALID: case CNN_PAD_SAME: case CNN_PAD_FULL:
        cnn_padding_for(o->padding, s->h, s->kh, s->stride_h, s->dilation_h, &s->pad_top, &s->pad_bottom);
        cnn_padding_for(o->padding, s->w, s->kw, s->stride_w, s->dilation_w, &s->pad_left, &s->pad_right);
        break;
    case CNN_PAD_EXPLICIT:
        s->pad_top = o->pad_top; s->pad_bottom = o->pad_bottom; s->pad_left = o->pad_left; s->pad_right = o->pad_right;
        break;
    default:
        cnn__format(why, sizeof why, "unknown padding mode %d", (int)o->padding);
        return cnn__layer_fail(net, CNN_LAYER_CONV, CNN_ERR_INVALID_ARGUMENT, why);
    }
    st = cnn_conv2d_check(s, &oh, &ow);
    if (st) return cnn__layer_fail(net, CNN_LAYER_CONV, st, cnn_last_error());
    l->out_c = s->k; l->out_h = oh; l->out_w = ow;
    l->act = o->activation;
    l->alpha = cnn__slope(o->alpha);
    l->has_bias = !o->no_bias;
    l->weight_count = cnn__count4(s->k, s->c / s->groups, s->kh, s->kw);
    l->bias_count = l->has_bias ? (size_t)s->k : 0;
    l->flat = 0;
    return cnn__end_layer(net, l);
}

/* A transposed convolution is stored as the convolution it transposes (l->conv: from its
   output to its input, see section 4), so the passes, the workspace and the weights' layout
   (in channels x out channels/groups x kh x kw, PyTorch's) are the convolution's. */
CNNDEF cnn_status cnn_add_conv_transpose(cnn_net *net, const cnn_conv_transpose_opts *opts) {
    cnn_conv_transpose_opts defaults;
    const cnn_conv_transpose_opts *o = opts ? opts : (memset(&defaults, 0, sizeof defaults), &defaults);
    const cnn_layer_kind kind = CNN_LAYER_CONV_TRANSPOSE;
    cnn_conv_transpose2d_shape t;
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, kind, &l);
    char why[300];
    int oh, ow;
    if (st) return st;
    if (l->flat)
        return cnn__layer_fail(net, kind, CNN_ERR_SHAPE, "a transposed convolution needs a C x H x W map, not a vector");
    if (o->filters < 1) {
        cnn__format(why, sizeof why, "filters is %d; set .filters to the number of output channels (at least 1)", o->filters);
        return cnn__layer_fail(net, kind, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (o->kernel < 0 || o->kernel_h < 0 || o->kernel_w < 0 || o->stride < 0 || o->stride_h < 0 || o->stride_w < 0 ||
        o->dilation < 0 || o->dilation_h < 0 || o->dilation_w < 0 || o->pad < 0 || o->pad_h < 0 || o->pad_w < 0 ||
        o->output_padding < 0 || o->output_padding_h < 0 || o->output_padding_w < 0 || o->groups < 0) {
        cnn__format(why, sizeof why, "kernel %d (%dx%d), stride %d (%dx%d), dilation %d (%dx%d), pad %d (%dx%d), output_padding %d (%dx%d), "
                    "groups %d: none may be negative", o->kernel, o->kernel_h, o->kernel_w, o->stride, o->stride_h, o->stride_w,
                    o->dilation, o->dilation_h, o->dilation_w, o->pad, o->pad_h, o->pad_w, o->output_padding,
                    o->output_padding_h, o->output_padding_w, o->groups);
        return cnn__layer_fail(net, kind, CNN_ERR_INVALID_ARGUMENT, why);
    }
    memset(&t, 0, sizeof t);
    t.n = 1; t.c = l->in_c; t.h = l->in_h; t.w = l->in_w;
    t.k = o->filters;
    t.kh = cnn__pick(o->kernel_h, o->kernel, 3);
    t.kw = cnn__pick(o->kernel_w, o->kernel, 3);
    t.stride_h = cnn__pick(o->stride_h, o->stride, 1);
    t.stride_w = cnn__pick(o->stride_w, o->stride, 1);
    t.dilation_h = cnn__pick(o->dilation_h, o->dilation, 1);
    t.dilation_w = cnn__pick(o->dilation_w, o->dilation, 1);
    t.pad_h = cnn__pick(o->pad_h, o->pad, 0);
    t.pad_w = cnn__pick(o->pad_w, o->pad, 0);
    t.output_pad_h = cnn__pick(o->output_padding_h, o->output_padding, 0);
    t.output_pad_w = cnn__pick(o->output_padding_w, o->output_padding, 0);
    t.groups = o->groups ? o->groups : 1;
    t.algo = o->algo;
    if ((t.output_pad_h >= t.stride_h && t.output_pad_h >= t.dilation_h) || (t.output_pad_w >= t.stride_w && t.output_pad_w >= t.dilation_w)) {
        cnn__format(why, sizeof why, "output_padding %dx%d must be smaller than the stride %dx%d or the dilation %dx%d (PyTorch's rule)",
                    t.output_pad_h, t.output_pad_w, t.stride_h, t.stride_w, t.dilation_h, t.dilation_w);
        return cnn__layer_fail(net, kind, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (t.groups > 1 && (t.c % t.groups || t.k % t.groups)) {
        cnn__format(why, sizeof why, "groups %d must divide both the %d input channels and the %d filters", t.groups, t.c, t.k);
        return cnn__layer_fail(net, kind, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if ((unsigned)t.algo >= CNN_CONV_ALGO_COUNT || (t.algo >= CNN_CONV_DIRECT_GRID)) {
        cnn__format(why, sizeof why, "algo %d: a layer takes auto, direct, wino2 or wino4", (int)t.algo);
        return cnn__layer_fail(net, kind, CNN_ERR_INVALID_ARGUMENT, why);
    }
    st = cnn__check_activation("conv_transpose", o->activation, cnn__slope(o->alpha));
    if (st) return cnn__layer_fail(net, kind, st, cnn_last_error());
    st = cnn_conv_transpose2d_check(&t, &oh, &ow);
    if (st) return cnn__layer_fail(net, kind, st, cnn_last_error());
    cnn__convt_as_conv(&t, oh, ow, &l->conv);
    l->out_pad_h = t.output_pad_h; l->out_pad_w = t.output_pad_w;
    l->out_c = t.k; l->out_h = oh; l->out_w = ow;
    l->act = o->activation;
    l->alpha = cnn__slope(o->alpha);
    l->has_bias = !o->no_bias;
    l->weight_count = cnn__count4(t.c, t.k / t.groups, t.kh, t.kw);
    l->bias_count = l->has_bias ? (size_t)t.k : 0;
    l->flat = 0;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_pool(cnn_net *net, const cnn_pool_opts *opts) {
    cnn_pool_opts defaults;
    const cnn_pool_opts *o = opts ? opts : (memset(&defaults, 0, sizeof defaults), &defaults);
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_pool2d_shape *s;
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_POOL, &l);
    char why[300];
    int oh, ow;
    if (st) return st;
    if (l->flat) return cnn__layer_fail(net, CNN_LAYER_POOL, CNN_ERR_SHAPE, "pooling needs a C x H x W map, not a vector");
    if (o->kind != CNN_POOL_MAX && o->kind != CNN_POOL_AVG) {
        cnn__format(why, sizeof why, "unknown pooling kind %d", (int)o->kind);
        return cnn__layer_fail(net, CNN_LAYER_POOL, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (o->size < 0 || o->size_h < 0 || o->size_w < 0 || o->stride < 0 || o->stride_h < 0 || o->stride_w < 0) {
        cnn__format(why, sizeof why, "window %d (%dx%d) and stride %d (%dx%d) may not be negative",
                    o->size, o->size_h, o->size_w, o->stride, o->stride_h, o->stride_w);
        return cnn__layer_fail(net, CNN_LAYER_POOL, CNN_ERR_INVALID_ARGUMENT, why);
    }
    s = &l->pool;
    s->n = 1; s->c = l->in_c; s->h = l->in_h; s->w = l->in_w;
    s->kh = cnn__pick(o->size_h, o->size, 2);
    s->kw = cnn__pick(o->size_w, o->size, 2);
    s->stride_h = cnn__pick(o->stride_h, o->stride, s->kh);
    s->stride_w = cnn__pick(o->stride_w, o->stride, s->kw);
    if (o->pad_top || o->pad_bottom || o->pad_left || o->pad_right) {
        s->pad_top = o->pad_top; s->pad_bottom = o->pad_bottom; s->pad_left = o->pad_left; s->pad_right = o->pad_right;
    } else {
        s->pad_top = s->pad_bottom = s->pad_left = s->pad_right = o->pad;
    }
    s->ceil_mode = o->ceil_mode != 0;
    s->count_pad = o->count_pad != 0;
    st = cnn_pool2d_check(s, &oh, &ow);
    if (st) return cnn__layer_fail(net, CNN_LAYER_POOL, st, cnn_last_error());
    l->pool_kind = o->kind;
    l->out_c = l->in_c; l->out_h = oh; l->out_w = ow;
    l->flat = 0;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_global_avgpool(cnn_net *net) {
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_GLOBAL_AVGPOOL, &l);
    if (st) return st;
    if (l->flat) return cnn__layer_fail(net, CNN_LAYER_GLOBAL_AVGPOOL, CNN_ERR_SHAPE, "global pooling needs a C x H x W map, not a vector");
    l->out_c = l->in_c; l->out_h = 1; l->out_w = 1;
    l->flat = 1;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_global_maxpool(cnn_net *net) {
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_GLOBAL_MAXPOOL, &l);
    if (st) return st;
    if (l->flat) return cnn__layer_fail(net, CNN_LAYER_GLOBAL_MAXPOOL, CNN_ERR_SHAPE, "global pooling needs a C x H x W map, not a vector");
    l->out_c = l->in_c; l->out_h = 1; l->out_w = 1;
    l->flat = 1;
    return cnn__end_layer(net, l);
}

/* A scale or an output size, as PyTorch's nn.Upsample takes one or the other. */
CNNDEF cnn_status cnn_add_upsample(cnn_net *net, const cnn_upsample_opts *opts) {
    cnn_upsample_opts defaults;
    const cnn_upsample_opts *o = opts ? opts : (memset(&defaults, 0, sizeof defaults), &defaults);
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_upsample2d_shape *s;
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_UPSAMPLE, &l);
    char why[300];
    const int scale_h = cnn__pick(o->scale_h, o->scale, 0), scale_w = cnn__pick(o->scale_w, o->scale, 0);
    const int sized = o->out_h || o->out_w, scaled = o->scale || o->scale_h || o->scale_w;
    if (st) return st;
    if (l->flat) return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_SHAPE, "upsampling needs a C x H x W map, not a vector");
    if ((unsigned)o->mode >= (unsigned)CNN_UPSAMPLE_MODE_COUNT) {
        cnn__format(why, sizeof why, "unknown mode %d (CNN_UPSAMPLE_NEAREST 0, CNN_UPSAMPLE_BILINEAR 1)", (int)o->mode);
        return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (o->align_corners && o->mode != CNN_UPSAMPLE_BILINEAR) {
        cnn__format(why, sizeof why, "align_corners %d is for bilinear upsampling only", o->align_corners);
        return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (sized && scaled) {
        cnn__format(why, sizeof why, "both a scale (%d, %dx%d) and an output size (%dx%d): give one or the other",
                    o->scale, o->scale_h, o->scale_w, o->out_h, o->out_w);
        return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (sized ? o->out_h < 1 || o->out_w < 1 : scale_h < 1 || scale_w < 1) {
        if (sized) cnn__format(why, sizeof why, "output size %dx%d: both must be at least 1", o->out_h, o->out_w);
        else cnn__format(why, sizeof why, "scale %dx%d: set .scale (or .scale_h and .scale_w) to at least 1, or give .out_h and .out_w", scale_h, scale_w);
        return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (!sized && ((long long)l->in_h * scale_h > INT_MAX || (long long)l->in_w * scale_w > INT_MAX))
        return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, CNN_ERR_OVERFLOW, "the scaled output overflows an int");
    s = &l->up;
    s->n = 1; s->c = l->in_c; s->h = l->in_h; s->w = l->in_w;
    s->out_h = sized ? o->out_h : l->in_h * scale_h;
    s->out_w = sized ? o->out_w : l->in_w * scale_w;
    s->mode = o->mode;
    s->align_corners = o->align_corners != 0;
    st = cnn_upsample2d_check(s);
    if (st) return cnn__layer_fail(net, CNN_LAYER_UPSAMPLE, st, cnn_last_error());
    l->up_scale_h = sized ? 0 : scale_h;
    l->up_scale_w = sized ? 0 : scale_w;
    l->out_c = l->in_c; l->out_h = s->out_h; l->out_w = s->out_w;
    l->flat = 0;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_dense(cnn_net *net, const cnn_dense_opts *opts) {
    cnn_dense_opts defaults;
    const cnn_dense_opts *o = opts ? opts : (memset(&defaults, 0, sizeof defaults), &defaults);
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_DENSE, &l);
    char why[300];
    size_t in;
    if (st) return st;
    if (o->units < 1) {
        cnn__format(why, sizeof why, "units is %d; set .units to the number of outputs (at least 1)", o->units);
        return cnn__layer_fail(net, CNN_LAYER_DENSE, CNN_ERR_INVALID_ARGUMENT, why);
    }
    st = cnn__check_activation("dense", o->activation, cnn__slope(o->alpha));
    if (st) return cnn__layer_fail(net, CNN_LAYER_DENSE, st, cnn_last_error());
    in = cnn__layer_in_size(l);         /* a map is flattened in C, H, W order */
    l->out_c = o->units; l->out_h = 1; l->out_w = 1;
    l->act = o->activation;
    l->alpha = cnn__slope(o->alpha);
    l->has_bias = !o->no_bias;
    l->weight_count = cnn__count4(o->units, (int)in, 1, 1);
    if (!l->weight_count) return cnn__layer_fail(net, CNN_LAYER_DENSE, CNN_ERR_OVERFLOW, "its weight matrix is too large");
    l->bias_count = l->has_bias ? (size_t)o->units : 0;
    l->flat = 1;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_activation_ex(cnn_net *net, const cnn_activation_opts *opts) {
    cnn_activation act = opts ? opts->activation : CNN_ACT_NONE;
    float alpha = cnn__slope(opts ? opts->alpha : 0.0f);
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_ACTIVATION, &l);
    if (st) return st;
    st = cnn__check_activation("activation", act, alpha);
    if (st) return cnn__layer_fail(net, CNN_LAYER_ACTIVATION, st, cnn_last_error());
    l->act = act;
    l->alpha = alpha;
    l->out_c = l->in_c; l->out_h = l->in_h; l->out_w = l->in_w;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_dropout_ex(cnn_net *net, const cnn_dropout_opts *opts) {
    float rate = opts ? opts->rate : 0.0f;
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_DROPOUT, &l);
    char why[100];
    if (st) return st;
    if (!(rate >= 0.0f && rate < 1.0f)) {
        cnn__format(why, sizeof why, "rate %f must be in [0, 1)", (double)rate);
        return cnn__layer_fail(net, CNN_LAYER_DROPOUT, CNN_ERR_INVALID_ARGUMENT, why);
    }
    l->rate = rate;
    l->out_c = l->in_c; l->out_h = l->in_h; l->out_w = l->in_w;
    return cnn__end_layer(net, l);
}

CNNDEF cnn_status cnn_add_activation(cnn_net *net, cnn_activation act, float alpha) {
    cnn_activation_opts o;
    o.activation = act;
    o.alpha = alpha;
    return cnn_add_activation_ex(net, &o);
}

CNNDEF cnn_status cnn_add_dropout(cnn_net *net, float rate) {
    cnn_dropout_opts o;
    o.rate = rate;
    return cnn_add_dropout_ex(net, &o);
}

CNNDEF cnn_status cnn_add_flatten(cnn_net *net) {
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_FLATTEN, &l);
    if (st) return st;
    /* NCHW already stores each image as C, H, W in order: flattening moves no data. */
    l->out_c = (int)CNN__MIN(cnn__layer_in_size(l), (size_t)INT_MAX);
    l->out_h = 1; l->out_w = 1;
    l->flat = 1;
    return cnn__end_layer(net, l);
}

/* Per channel of a map, or per feature of a vector (its c features are c channels of 1 x 1):
   one code serves BatchNorm2d and BatchNorm1d. */
CNNDEF cnn_status cnn_add_batchnorm(cnn_net *net, const cnn_batchnorm_opts *opts) {
    float eps = opts ? opts->eps : 0.0f, momentum = opts ? opts->momentum : 0.0f;
    cnn_layer *l = NULL;            /* set by cnn__begin_layer (gcc -O3 cannot tell) */
    cnn_status st = cnn__begin_layer(net, CNN_LAYER_BATCHNORM, &l);
    char why[160];
    if (st) return st;
    if (eps == 0.0f) eps = 1e-5f;
    if (momentum == 0.0f && !signbit(momentum)) momentum = 0.1f;
    if (!(eps > 0.0f) || !isfinite(eps)) {
        cnn__format(why, sizeof why, "eps %f must be a finite number above 0 (0: the default 1e-5)", (double)eps);
        return cnn__layer_fail(net, CNN_LAYER_BATCHNORM, CNN_ERR_INVALID_ARGUMENT, why);
    }
    if (!(momentum >= 0.0f && momentum <= 1.0f)) {
        cnn__format(why, sizeof why, "momentum %f must be in [0, 1] (0: the default 0.1; CNN_BATCHNORM_MOMENTUM_ZERO: 0)", (double)momentum);
        return cnn__layer_fail(net, CNN_LAYER_BATCHNORM, CNN_ERR_INVALID_ARGUMENT, why);
    }
    l->eps = eps;
    l->momentum = momentum;
    l->out_c = l->in_c; l->out_h = l->in_h; l->out_w = l->in_w;
    l->has_bias = 1;
    l->weight_count = l->bias_count = (size_t)l->in_c;
    return cnn__end_layer(net, l);
}

CNNDEF size_t cnn_net_param_count(const cnn_net *net) {
    size_t total = 0;
    int i;
    if (!net || net->layout_stamp != CNN__NET_STAMP) return 0;
    for (i = 0; i < net->layer_count; i++) total += net->layers[i].weight_count + net->layers[i].bias_count;
    return total;
}

CNNDEF int cnn_net_output_size(const cnn_net *net) {
    if (!net || net->layout_stamp != CNN__NET_STAMP) return 0;
    if (net->layer_count == 0) return net->in_c * net->in_h * net->in_w;
    return (int)cnn__layer_out_size(&net->layers[net->layer_count - 1]);
}

/* ---- building: one layout function serves both measuring and carving ---- */

/* Pushes count elements of elem_size bytes. In a measuring arena (no memory) it only counts. */
static cnn_status cnn__take(cnn_arena *a, size_t count, size_t elem_size, void **out) {
    size_t bytes, start;
    cnn_status st;
    if (!cnn__mul(count, elem_size, &bytes))
        return cnn__fail(CNN_ERR_OVERFLOW, "net build: a tensor of %zu elements overflows the address space", count);
    if ((st = cnn__arena_bump(a, bytes, &start))) return st;   /* the arena wrote the message */
    *out = a->base ? a->base + start : NULL;
    return CNN_OK;
}

/* The build options settled: defaults filled in, every choice checked. */
typedef struct cnn__build_plan {
    int max_batch, training;
    int momentum, early_stopping;   /* training builds: keep velocity, keep the best weights */
    int adam;                       /* training builds: keep Adam's moments                 */
    int threads, own_pool;          /* slots of a parallel step; 1: cnn.h's pool, 0: the caller's */
    const cnn_net *shared;          /* the network whose parameters this one reads, or NULL */
} cnn__build_plan;

/* In an inference build, whether a layer's output is its input itself: flatten and dropout
   (the identity outside training) pass it on, and an activation layer works in place, as does
   batch norm (value by value in evaluation), except on the caller's images, which the network
   never writes. */
static int cnn__inference_view(const cnn_layer *l, int input_is_callers) {
    return l->kind == CNN_LAYER_FLATTEN || l->kind == CNN_LAYER_DROPOUT ||
           ((l->kind == CNN_LAYER_ACTIVATION || l->kind == CNN_LAYER_BATCHNORM) && !input_is_callers);
}

/* The activations of an inference build. Nothing goes back, so while a layer runs only its
   input and its output are alive: one region holds all, each layer writing its output at
   the opposite end from its input (the first at the start), and its size is the largest sum
   of two adjacent outputs, B = max_batch, views (above) not counted as outputs:
       floats = max over layers i of  round16(B * out_{i-1}) + round16(B * out_i)
   with out_{-1} = 0 (the caller's images). Returns that size; with a region of that size it
   also points the layers' outputs into it. */
static size_t cnn__inference_region(cnn_net *net, size_t batch, float *region, size_t floats) {
    size_t need = 0, held = 0;      /* held: floats of the output the next layer reads, 0: the caller's */
    float *cur = NULL;
    int at_end = 1, i;              /* where 'held' lies, so that the first output goes to the start */
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        size_t out;
        if (cnn__inference_view(l, held == 0)) {
            if (region) l->out = cur;   /* flatten and dropout: forward points them at their input */
            continue;
        }
        out = cnn__round16(batch * cnn__layer_out_size(l));
        need = CNN__MAX(need, held + out);
        at_end = !at_end;
        held = out;
        if (region) cur = l->out = at_end ? region + floats - out : region;
    }
    return need;
}

/* Evaluation on T threads runs depth first (cnn__forward_blocks): each slot carries a block
   of images through every layer before it takes the next block. Layer by layer, every layer
   ends with all threads waiting for the slowest, and each layer's output for the batch goes
   out of the caches before the next layer reads it (the digit model's first conv layer
   writes 5.5 MB for 64 images). Blocks must not be too small either: a block streams all the
   weights (and Winograd's transformed filters) through the cache, and the Winograd products
   run 16 tiles at a time, which a layer with one tile per image (the digit model's third)
   fills with 16 images. So a block holds up to 16 images, fewer where two adjacent layers'
   outputs for them would pass four times the L2. Measured on the digit model (inference, 64
   images, two threads, one process alternating; medians of 100): layer by layer 1,548 us,
   blocks of 16 1,357, of 11 1,439, of 32 1,393; one thread 2,671 (Zen 5, 1 MB of L2). On
   Zen 3 (512 KB) blocks of 16 (1.7 MB of adjacent outputs) still beat the 9 that twice the
   L2 allows by 5-8% (medians of 61, three runs). */
#define CNN__BLOCK_MOST 16
static int cnn__block_images(cnn_net *net, int max_batch) {
    const size_t pair = cnn__inference_region(net, 1, NULL, 0) * sizeof(float);
    const size_t fit = pair ? CNN__L2_BYTES * 4 / pair : (size_t)CNN__BLOCK_MOST;
    return (int)CNN__MAX(1, CNN__MIN(fit, (size_t)CNN__MIN(CNN__BLOCK_MOST, max_batch)));
}

/* Whether a layer keeps its Winograd filters (l->wino_u): a conv layer whose forward pass
   runs Winograd at the largest batch. */
static int cnn__keeps_wino_filters(const cnn_layer *l, int max_batch) {
    cnn_conv2d_shape cs = l->conv;
    cs.n = max_batch;
    return l->kind == CNN_LAYER_CONV && cnn__wino_tile_sized(&cs, 0) != 0;
}

static cnn_status cnn__net_layout(cnn_net *net, cnn_arena *a, const cnn__build_plan *plan) {
    const int max_batch = plan->max_batch, training = plan->training, threads = plan->threads, own_pool = plan->own_pool;
    size_t offset = 0, largest = 0, floats, buffers = 0;
    void *p;
    cnn_status st;
    int i;
    net->params = net->grads = net->velocity = net->best_params = net->adam_m = net->adam_v = NULL;
    net->input = net->grad_a = net->grad_b = NULL;
    net->labels = NULL;
    net->scratch = NULL;
    net->scratch_bytes = 0;
    for (i = 0; i < net->layer_count; i++)
        offset += cnn__round16(net->layers[i].weight_count) + cnn__round16(net->layers[i].bias_count);
    net->param_floats = offset;
    net->buffer_floats = 0;          /* the buffers follow the parameters, in one block */
    for (i = 0; i < net->layer_count; i++)
        if (net->layers[i].kind == CNN_LAYER_BATCHNORM) net->buffer_floats += 2 * cnn__round16((size_t)net->layers[i].out_c);
    if (plan->shared) {
        /* Read only: every function that writes parameters refuses a network whose
           weights_owner is set, and an inference build has no optimizer to write them. */
        net->params = plan->shared->params;
    } else {
        if ((st = cnn__take(a, offset + net->buffer_floats, sizeof(float), &p))) return st;
        net->params = (float *)p;
    }
    if (training) {
        if ((st = cnn__take(a, offset, sizeof(float), &p))) return st;
        net->grads = (float *)p;
        if (plan->momentum) {
            if ((st = cnn__take(a, offset, sizeof(float), &p))) return st;
            net->velocity = (float *)p;
        }
        if (plan->early_stopping) {   /* the best epoch's buffers too: they belong to its weights */
            if ((st = cnn__take(a, offset + net->buffer_floats, sizeof(float), &p))) return st;
            net->best_params = (float *)p;
        }
        if (plan->adam) {
            if ((st = cnn__take(a, offset, 2 * sizeof(float), &p))) return st;
            net->adam_m = (float *)p;
            net->adam_v = p ? net->adam_m + offset : NULL;     /* (a measuring arena has no memory) */
        }
    }
    offset = 0;
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        size_t per_image = cnn__layer_out_size(l);
        l->w = l->b = l->dw = l->db = l->out = l->mask = l->wino_u = NULL;
        l->running_mean = l->running_var = l->bn_mean = l->bn_invstd = NULL;
        l->argmax = NULL;
        l->wino_stamp = 0;
        /* Winograd's transformed filters, kept between forward passes if a batch may run it,
           in inference builds too: transformed at every pass, they took 12% of the digit
           model's inference of 2 images (perf, one thread, AVX-512), and with T threads each
           slot transformed them again. U (4x the layer's weights for F(4x4)) comes out of the
           workspace, which then need not hold it, once for every thread. */
        if (cnn__keeps_wino_filters(l, max_batch)) {
            cnn_conv2d_shape cs = l->conv;
            size_t tile_in;
            cs.n = max_batch;
            tile_in = (size_t)cnn__wino_of(cnn__wino_tile_sized(&cs, 0))->a;
            if ((st = cnn__take(a, tile_in * tile_in * l->conv.k * l->conv.c, sizeof(float), &p))) return st;
            l->wino_u = (float *)p;
        }
        if (l->weight_count) {
            if (net->params) {
                l->w = net->params + offset;
                l->b = l->bias_count ? l->w + cnn__round16(l->weight_count) : NULL;
            }
            if (net->grads) {
                l->dw = net->grads + offset;
                l->db = l->bias_count ? l->dw + cnn__round16(l->weight_count) : NULL;
            }
            offset += cnn__round16(l->weight_count) + cnn__round16(l->bias_count);
        }
        if (l->kind == CNN_LAYER_BATCHNORM && net->params) {
            l->running_mean = net->params + net->param_floats + buffers;
            l->running_var = l->running_mean + cnn__round16((size_t)l->out_c);
        }
        if (l->kind == CNN_LAYER_BATCHNORM) buffers += 2 * cnn__round16((size_t)l->out_c);
        /* (a quarter of the address space at most: sums of two such sizes, in bytes, fit) */
        if (!cnn__mul(per_image, (size_t)max_batch, &floats) || floats > (size_t)-1 / 16)
            return cnn__fail(CNN_ERR_OVERFLOW, "net build: layer %d: %d images of %zu values overflow", i, max_batch, per_image);
        largest = CNN__MAX(largest, CNN__MAX(per_image, cnn__layer_in_size(l)));
    }
    if (training) {   /* backward needs every layer's output, the max-pool positions, the masks */
        for (i = 0; i < net->layer_count; i++) {
            cnn_layer *l = &net->layers[i];
            floats = (size_t)max_batch * cnn__layer_out_size(l);
            if (l->kind == CNN_LAYER_FLATTEN) continue;   /* a view of its input, set by forward */
            if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
            l->out = (float *)p;
            if (l->kind == CNN_LAYER_DROPOUT) {
                if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
                l->mask = (float *)p;
            }
            if (l->kind == CNN_LAYER_BATCHNORM) {   /* the mean and 1/std backward goes through */
                if ((st = cnn__take(a, 2 * cnn__round16((size_t)l->out_c), sizeof(float), &p))) return st;
                l->bn_mean = (float *)p;
                if (p) l->bn_invstd = l->bn_mean + cnn__round16((size_t)l->out_c);
            }
            if ((l->kind == CNN_LAYER_POOL && l->pool_kind == CNN_POOL_MAX) || l->kind == CNN_LAYER_GLOBAL_MAXPOOL) {
                if ((st = cnn__take(a, floats, sizeof(int32_t), &p))) return st;
                l->argmax = (int32_t *)p;
            }
        }
        if (!cnn__mul((size_t)net->in_c * net->in_h * net->in_w, (size_t)max_batch, &floats))
            return cnn__fail(CNN_ERR_OVERFLOW, "net build: %d input images overflow", max_batch);
        if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
        net->input = (float *)p;
        if ((st = cnn__take(a, (size_t)max_batch, sizeof(int32_t), &p))) return st;
        net->labels = (int32_t *)p;
    } else {
        floats = cnn__inference_region(net, (size_t)max_batch, NULL, 0);
        if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
        if (p) cnn__inference_region(net, (size_t)max_batch, (float *)p, floats);
    }
    for (i = 0; i < net->layer_count; i++) {       /* one workspace, shared by every conv layer */
        cnn_conv2d_shape cs = net->layers[i].conv;
        cs.n = max_batch;                                   /* Winograd's chunks span images */
        if (net->layers[i].kind == CNN_LAYER_CONV) {   /* the first layer needs no data gradient */
            net->scratch_bytes = CNN__MAX(net->scratch_bytes, cnn__conv2d_workspace(&cs, 1, training && i > 0, 0,
                                                                                    cnn__keeps_wino_filters(&net->layers[i], max_batch)));
            /* the weight gradient runs on parts of the batch (cnn__grad_parts), the largest a
               quarter of it rounded up: Winograd's chunks of tiles are sized for that */
            cs.n = (max_batch + cnn__grad_parts(max_batch) - 1) / cnn__grad_parts(max_batch);
            if (training) net->scratch_bytes = CNN__MAX(net->scratch_bytes, cnn__conv2d_workspace(&cs, 0, 0, 1, 0));
        }
        if (net->layers[i].kind == CNN_LAYER_CONV_TRANSPOSE)   /* forward: cs's data gradient; and back */
            net->scratch_bytes = CNN__MAX(net->scratch_bytes, cnn__conv2d_workspace(&cs, training && i > 0, 1, training, 0));
    }
    net->threads = threads;                       /* a workspace for each thread */
    net->scratch_bytes = (net->scratch_bytes + CNN_ALIGNMENT - 1) / CNN_ALIGNMENT * CNN_ALIGNMENT;
    if (net->scratch_bytes) {
        if ((st = cnn__take(a, net->scratch_bytes, (size_t)threads, &p))) return st;
        net->scratch = p;
    }
    net->block_images = 0;                        /* depth-first evaluation on threads */
    net->block_regions = NULL;
    net->block_region_floats = 0;
    if (threads > 1 && max_batch > 1) {
        net->block_images = cnn__block_images(net, max_batch);
        if (!training) {  /* a training build writes blocks into its layers' own outputs */
            net->block_region_floats = cnn__inference_region(net, (size_t)net->block_images, NULL, 0);
            if ((st = cnn__take(a, net->block_region_floats, (size_t)threads * sizeof(float), &p))) return st;
            net->block_regions = (float *)p;
        }
    }
    net->grad_parts = NULL;                       /* the batch parts of a parameter gradient */
    if (training && max_batch > 1) {
        if ((st = cnn__take(a, net->param_floats, (size_t)(cnn__grad_parts(max_batch) - 1) * sizeof(float), &p))) return st;
        net->grad_parts = (float *)p;
    }
    net->pool = NULL;
#ifdef CNN__HAVE_POOL
    if (own_pool && threads > 1) {
        if ((st = cnn__take(a, sizeof(cnn__pool) + CNN_ALIGNMENT + (size_t)threads * sizeof(cnn__worker), 1, &p))) return st;
        net->pool = p;
    }
#else
    (void)own_pool;
#endif
    if (training) {
        if (!cnn__mul(largest, (size_t)max_batch, &floats))
            return cnn__fail(CNN_ERR_OVERFLOW, "net build: gradient buffers overflow");
        if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
        net->grad_a = (float *)p;
        if ((st = cnn__take(a, floats, sizeof(float), &p))) return st;
        net->grad_b = (float *)p;
    }
    return CNN_OK;
}

static void cnn__describe_layer(const cnn_layer *l, int batch, char *buf, size_t cap);

/* Whether two layers have the same parameters and compute the same function of them (the
   convolution algorithm may differ: it changes how, not what). */
static int cnn__same_layer(const cnn_layer *a, const cnn_layer *b) {
    const cnn_conv2d_shape *ca = &a->conv, *cb = &b->conv;
    const cnn_pool2d_shape *pa = &a->pool, *pb = &b->pool;
    return a->kind == b->kind && a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w &&
           a->out_c == b->out_c && a->out_h == b->out_h && a->out_w == b->out_w && a->flat == b->flat &&
           a->weight_count == b->weight_count && a->bias_count == b->bias_count && a->has_bias == b->has_bias &&
           a->act == b->act && a->alpha == b->alpha && a->rate == b->rate && a->pool_kind == b->pool_kind &&
           a->eps == b->eps && a->momentum == b->momentum &&
           ca->c == cb->c && ca->h == cb->h && ca->w == cb->w && ca->k == cb->k && ca->kh == cb->kh && ca->kw == cb->kw &&
           ca->stride_h == cb->stride_h && ca->stride_w == cb->stride_w && ca->dilation_h == cb->dilation_h &&
           ca->dilation_w == cb->dilation_w && ca->pad_top == cb->pad_top && ca->pad_bottom == cb->pad_bottom &&
           ca->pad_left == cb->pad_left && ca->pad_right == cb->pad_right &&
           pa->c == pb->c && pa->h == pb->h && pa->w == pb->w && pa->kh == pb->kh && pa->kw == pb->kw &&
           pa->stride_h == pb->stride_h && pa->stride_w == pb->stride_w && pa->pad_top == pb->pad_top &&
           pa->pad_bottom == pb->pad_bottom && pa->pad_left == pb->pad_left && pa->pad_right == pb->pad_right &&
           pa->ceil_mode == pb->ceil_mode && pa->count_pad == pb->count_pad &&
           cnn__conv2d_groups(ca) == cnn__conv2d_groups(cb) && a->out_pad_h == b->out_pad_h && a->out_pad_w == b->out_pad_w &&
           a->up.out_h == b->up.out_h && a->up.out_w == b->up.out_w && a->up.mode == b->up.mode &&
           a->up.align_corners == b->up.align_corners && a->up_scale_h == b->up_scale_h && a->up_scale_w == b->up_scale_w;
}

/* A network may read another's parameters when it is an inference build (nothing of it
   writes them) of the same architecture. */
static cnn_status cnn__check_shared(const cnn_net *net, const cnn_net *src, int training) {
    int i;
    cnn_status st = cnn__check_net(src, "net build: shared_weights");
    if (st) return st;
    if (src == net) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: shared_weights is the network being built itself");
    if (!src->built) return cnn__fail(CNN_ERR_STATE, "net build: shared_weights: that network is not built, so it has no weights yet");
    if (src->weights_owner == net)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: shared_weights: that network reads this one's weights, which rebuilding this one would free");
    if (training)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: shared_weights needs inference_only = 1: a training build would write weights another network owns");
    if (src->in_c != net->in_c || src->in_h != net->in_h || src->in_w != net->in_w)
        return cnn__fail(CNN_ERR_SHAPE, "net build: shared_weights: the input is %dx%dx%d here, %dx%dx%d in the network shared",
                         net->in_c, net->in_h, net->in_w, src->in_c, src->in_h, src->in_w);
    if (src->layer_count != net->layer_count)
        return cnn__fail(CNN_ERR_SHAPE, "net build: shared_weights: %d layers here, %d in the network shared", net->layer_count, src->layer_count);
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *a = &net->layers[i], *b = &src->layers[i];
        char here[64], there[64];
        if (cnn__same_layer(a, b)) continue;
        cnn__describe_layer(a, 0, here, sizeof here);
        cnn__describe_layer(b, 0, there, sizeof there);
        return cnn__fail(CNN_ERR_SHAPE, "net build: shared_weights: layer %d is %s (%dx%dx%d to %dx%dx%d) here, %s (%dx%dx%d to %dx%dx%d) in the network shared",
                         i, here, a->in_c, a->in_h, a->in_w, a->out_c, a->out_h, a->out_w,
                         there, b->in_c, b->in_h, b->in_w, b->out_c, b->out_h, b->out_w);
    }
    return CNN_OK;
}

/* The thread count: the options', else CNN_THREADS from the environment, else one. */
static cnn_status cnn__thread_count(const cnn_build_opts *opts, int *threads) {
    const char *env = opts && opts->threads ? NULL : getenv("CNN_THREADS");
    *threads = opts && opts->threads ? opts->threads : 1;
    if (env && *env) {
        const char *c = env;
        long v = 0;
        for (; *c >= '0' && *c <= '9' && v <= CNN_MAX_THREADS; c++) v = v * 10 + (*c - '0');
        if (*c || v < 1 || v > CNN_MAX_THREADS)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: CNN_THREADS=\"%s\" in the environment is not a thread count from 1 to %d",
                             env, CNN_MAX_THREADS);
        *threads = (int)v;
    }
    if (*threads < 0 || *threads > CNN_MAX_THREADS)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: threads %d must be from 0 (one) to %d", *threads, CNN_MAX_THREADS);
    *threads = CNN__MAX(*threads, 1);
    return CNN_OK;
}

static cnn_status cnn__build_settings(const cnn_net *net, const cnn_build_opts *opts, cnn__build_plan *plan) {
    cnn_status st = cnn__check_net(net, "net build");
    if (st) return st;
    if (net->invalid) return cnn__fail(CNN_ERR_STATE, "net build: a layer failed to add, so the network is incomplete");
    if (net->layer_count < 1) return cnn__fail(CNN_ERR_STATE, "net build: the network has no layers");
    memset(plan, 0, sizeof *plan);
    plan->max_batch = opts && opts->max_batch ? opts->max_batch : 32;
    plan->training = !(opts && opts->inference_only);
    if (plan->max_batch < 1) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: max_batch %d must be at least 1", plan->max_batch);
    if ((st = cnn__thread_count(opts, &plan->threads))) return st;
    plan->own_pool = !(opts && opts->parallel_for);
    if (!opts) return CNN_OK;
    if (opts->init != CNN_INIT_GLOROT_UNIFORM && opts->init != CNN_INIT_HE_NORMAL)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "net build: unknown initialisation %d", (int)opts->init);
    plan->momentum = plan->training && opts->with_momentum;
    plan->early_stopping = plan->training && opts->with_early_stopping;
    plan->adam = plan->training && opts->with_adam;
    if (opts->shared_weights) {
        if ((st = cnn__check_shared(net, opts->shared_weights, plan->training))) return st;
        plan->shared = opts->shared_weights;
    }
    return CNN_OK;
}

/* The arena bytes of a plan: the layout run on a copy against an arena that only counts. */
static cnn_status cnn__measure(const cnn_net *net, const cnn__build_plan *plan, size_t *need) {
    cnn_net probe = *net;               /* the layout writes pointers: measure on a copy */
    cnn_arena measure;
    cnn_status st;
    cnn__arena_measuring(&measure);
    if ((st = cnn__net_layout(&probe, &measure, plan))) return st;
    if (measure.used > (size_t)-1 - CNN_ALIGNMENT) return cnn__fail(CNN_ERR_OVERFLOW, "net build: size overflows");
    *need = measure.used + CNN_ALIGNMENT;  /* room to align a caller's buffer */
    return CNN_OK;
}

CNNDEF size_t cnn_net_required_bytes(const cnn_net *net, const cnn_build_opts *opts) {
    cnn__build_plan plan;
    size_t need;
    if (cnn__build_settings(net, opts, &plan) || cnn__measure(net, &plan, &need)) return 0;
    return need;
}

CNNDEF void cnn_net_free(cnn_net *net) {
    int i;
    if (!net || net->layout_stamp != CNN__NET_STAMP) return;   /* not a network this code set up */
#ifdef CNN__HAVE_POOL
    if (net->pool) cnn__pool_stop(cnn__pool_of(net));   /* its threads use the arena */
#endif
    net->pool = NULL;
    cnn_arena_free(&net->arena);
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        l->w = l->b = l->dw = l->db = l->out = l->mask = l->wino_u = NULL;
        l->running_mean = l->running_var = l->bn_mean = l->bn_invstd = NULL;
        l->argmax = NULL;
        l->wino_stamp = 0;
    }
    net->params = net->grads = net->velocity = net->best_params = net->adam_m = net->adam_v = NULL;
    net->input = net->grad_a = net->grad_b = net->grad_parts = NULL;
    net->labels = NULL;
    net->x = NULL;
    net->grad_first = NULL;
    net->weights_owner = NULL;
    net->built = net->training = net->max_batch = net->batch = 0;
    net->threads = 1;
    net->parallel_for = NULL;
    net->parallel_pool = NULL;
}

/* Initialisation keeps the signal's variance steady from layer to layer:
     Glorot uniform: w ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out))     (Keras's default)
     He normal:      w ~ N(0, 2 / fan_in)                             (for ReLU networks)
   fan_in = inputs per output (C*KH*KW for a conv), fan_out = K*KH*KW for a conv. */
CNNDEF cnn_status cnn_net_init_weights(cnn_net *net, cnn_init init, uint64_t seed) {
    cnn_rng rng;
    int i;
    size_t j;
    cnn_status st = cnn__check_net(net, "init weights");
    if (st) return st;
    if (!net->built) return cnn__fail(CNN_ERR_STATE, "init weights: the network is not built");
    if (net->weights_owner)
        return cnn__fail(CNN_ERR_STATE, "init weights: this network reads another network's weights (shared_weights); initialise that one");
    if (init != CNN_INIT_GLOROT_UNIFORM && init != CNN_INIT_HE_NORMAL)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "init weights: unknown initialisation %d", (int)init);
    cnn_rng_seed(&rng, seed);
    memset(net->params, 0, (net->param_floats + net->buffer_floats) * sizeof(float));
    if (net->grads) memset(net->grads, 0, net->param_floats * sizeof(float));
    if (net->velocity) memset(net->velocity, 0, net->param_floats * sizeof(float));
    if (net->adam_m) memset(net->adam_m, 0, 2 * net->param_floats * sizeof(float));
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        double fan_in, fan_out;
        if (!l->weight_count) continue;
        if (l->kind == CNN_LAYER_BATCHNORM) {   /* the identity: gamma 1, beta 0, mean 0, variance 1 */
            for (j = 0; j < l->weight_count; j++) l->w[j] = l->running_var[j] = 1.0f;
            continue;
        }
        if (l->kind == CNN_LAYER_CONV) {
            /* a filter sees c/groups channels (PyTorch's fans: the weight's dims 1 and 0) */
            fan_in = (double)(l->conv.c / cnn__conv2d_groups(&l->conv)) * l->conv.kh * l->conv.kw;
            fan_out = (double)l->conv.k * l->conv.kh * l->conv.kw;
        } else if (l->kind == CNN_LAYER_CONV_TRANSPOSE) {
            /* the weight is in x out/groups x kh x kw; PyTorch's fans read dims 1 and 0 */
            fan_in = (double)(l->conv.c / cnn__conv2d_groups(&l->conv)) * l->conv.kh * l->conv.kw;
            fan_out = (double)l->conv.k * l->conv.kh * l->conv.kw;
        } else {
            fan_in = (double)cnn__layer_in_size(l);
            fan_out = (double)l->out_c;
        }
        if (init == CNN_INIT_HE_NORMAL) {
            float std = (float)sqrt(2.0 / fan_in);
            for (j = 0; j < l->weight_count; j++) l->w[j] = std * cnn_rng_normal(&rng);
        } else {
            float limit = (float)sqrt(6.0 / (fan_in + fan_out));
            for (j = 0; j < l->weight_count; j++) l->w[j] = limit * (2.0f * cnn_rng_uniform(&rng) - 1.0f);
        }
    }
    if (net->best_params) memcpy(net->best_params, net->params, (net->param_floats + net->buffer_floats) * sizeof(float));
    net->step = 0;
    net->state_kind = 0;
    return CNN_OK;
}

/* Zeroes the arena's bytes in use, except the count floats at keep (NULL: all of them). */
static void cnn__zero_arena_except(cnn_arena *a, const float *keep, size_t count) {
    unsigned char *base = a->base, *end = a->base + a->used;
    if (!keep) { memset(base, 0, a->used); return; }
    memset(base, 0, (size_t)((const unsigned char *)keep - base));
    memset((unsigned char *)(uintptr_t)(keep + count), 0, (size_t)(end - (const unsigned char *)(keep + count)));
}

CNNDEF cnn_status cnn_net_build(cnn_net *net, const cnn_build_opts *opts) {
    cnn__build_plan plan;
    cnn_net next;
    const float *kept;
    size_t need = 0;
    cnn_status st = cnn__build_settings(net, opts, &plan);
    if (st) return st;
    if ((st = cnn__measure(net, &plan, &need))) return st;
    /* The new build is made beside the old one, so a failure leaves the network as it was
       and a rebuild can carry the parameters over. */
    next = *net;
    memset(&next.arena, 0, sizeof next.arena);
    if (opts && opts->buffer) {
        if (opts->buffer_size < need)
            return cnn__fail(CNN_ERR_OUT_OF_MEMORY,
                             "net build: the buffer has %zu bytes, the network needs %zu (max_batch %d, %s; see cnn_net_required_bytes)",
                             opts->buffer_size, need, plan.max_batch, plan.training ? "training" : "inference only");
        st = cnn_arena_init(&next.arena, opts->buffer, opts->buffer_size);
        next.arena.alloc_ctx = opts->alloc_ctx;     /* for what fit allocates */
    } else {
        const size_t limit = opts && opts->max_arena_bytes ? opts->max_arena_bytes : CNN_DEFAULT_MAX_ARENA_BYTES;
        if (need - CNN_ALIGNMENT > limit)
            return cnn__fail(CNN_ERR_OUT_OF_MEMORY,
                             "net build: the network needs %zu bytes of arena, more than the %zu allowed (max_batch %d, %s; raise cnn_build_opts.max_arena_bytes, or CNN_NO_ARENA_LIMIT)",
                             need - CNN_ALIGNMENT, limit, plan.max_batch, plan.training ? "training" : "inference only");
        st = cnn_arena_create(&next.arena, need - CNN_ALIGNMENT, opts ? opts->alloc_ctx : NULL);
    }
    if (st) return st;
#ifdef CNN__HAVE_POOL
    /* The old pool's threads wait inside the old arena, which the new build may reuse: stop
       them first (a failed rebuild starts them again). */
    if (net->built && net->pool) cnn__pool_stop(cnn__pool_of(net));
#endif
    st = cnn__net_layout(&next, &next.arena, &plan);
    if (st) {
        if (net->arena.base != next.arena.base) cnn_arena_free(&next.arena);
#ifdef CNN__HAVE_POOL
        if (net->built && net->pool && cnn__pool_start(cnn__pool_of(net), (cnn__worker *)(void *)(cnn__pool_of(net) + 1), net->threads))
            net->pool = NULL;           /* no threads: its steps run one after another */
#endif
        return st;
    }
    CNN_ASSERT(next.arena.used + CNN_ALIGNMENT <= need);   /* the measuring pass was exact */
    /* A rebuild keeps the parameters (its own, or those it read from another network). The
       new buffer may be the old one: memmove, before anything else is written into it. */
    kept = net->built && !plan.shared && !(opts && opts->reinit_weights) ? net->params : NULL;
    if (kept) memmove(next.params, kept, (next.param_floats + next.buffer_floats) * sizeof(float));
    cnn__zero_arena_except(&next.arena, kept ? next.params : NULL, next.param_floats + next.buffer_floats);
    if (net->built && net->arena.base != next.arena.base) cnn_arena_free(&net->arena);
    *net = next;
    net->weights_owner = plan.shared ? (plan.shared->weights_owner ? plan.shared->weights_owner : plan.shared) : NULL;
    net->parallel_for = opts ? opts->parallel_for : NULL;
    net->parallel_pool = opts ? opts->parallel_pool : NULL;
#ifdef CNN__HAVE_POOL
    if (net->pool) {
        cnn__pool *pool = cnn__pool_of(net);
        if ((st = cnn__pool_start(pool, (cnn__worker *)(void *)(pool + 1), net->threads))) {
            net->pool = NULL;           /* stopped already */
            cnn_net_free(net);
            return st;
        }
    }
#endif
    net->built = 1;
    net->training = plan.training;
    net->max_batch = plan.max_batch;
    net->batch = 0;
    net->x = NULL;
    cnn_rng_seed(&net->rng, (opts ? opts->seed : 0) ^ 0x9e3779b97f4a7c15ULL);
    if (kept || plan.shared) {   /* the optimizer state starts afresh (zeroed above) */
        if (net->best_params) memcpy(net->best_params, net->params, (net->param_floats + net->buffer_floats) * sizeof(float));
        net->step = 0;
        net->state_kind = 0;
        return CNN_OK;
    }
    return cnn_net_init_weights(net, opts ? opts->init : CNN_INIT_GLOROT_UNIFORM, opts ? opts->seed : 0);
}

/* ---- folding batch norm into the convolution before it ---- */

/* Whether layer i of net is a batch norm that cnn_net_fold_batchnorm folds away. */
static int cnn__bn_folds(const cnn_net *net, int i) {
    return i > 0 && net->layers[i].kind == CNN_LAYER_BATCHNORM && net->layers[i - 1].kind == CNN_LAYER_CONV &&
           net->layers[i - 1].act == CNN_ACT_NONE;
}

CNNDEF cnn_status cnn_net_fold_batchnorm(const cnn_net *src, cnn_net *dst, const cnn_build_opts *build) {
    cnn_net_opts in;
    int i, j;
    size_t f, q;
    cnn_status st = cnn__check_net(src, "fold batchnorm");
    if (st) return st;
    if (!src->built) return cnn__fail(CNN_ERR_STATE, "fold batchnorm: the source network is not built, so it has no weights yet");
    if (!dst || dst == src) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fold batchnorm: dst must be another network than src (and not NULL)");
    if (build && build->shared_weights)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fold batchnorm: build->shared_weights: the folded network holds weights of its own");
    memset(&in, 0, sizeof in);
    in.channels = src->in_c; in.height = src->in_h; in.width = src->in_w; in.loss = src->loss;
    if ((st = cnn__net_init_sized(dst, &in, sizeof(cnn_net)))) return st;
    for (i = j = 0; i < src->layer_count; i++) {
        cnn_layer *d;
        if (cnn__bn_folds(src, i)) {             /* the conv before it takes a bias instead */
            d = &dst->layers[j - 1];
            d->has_bias = 1;
            d->bias_count = (size_t)d->conv.k;
            continue;
        }
        d = &dst->layers[j++];
        *d = src->layers[i];
        d->w = d->b = d->dw = d->db = d->out = d->mask = d->wino_u = NULL;
        d->running_mean = d->running_var = d->bn_mean = d->bn_invstd = NULL;
        d->argmax = NULL;
        d->wino_stamp = 0;
    }
    dst->layer_count = j;
    if ((st = cnn_net_build(dst, build))) return st;
    for (i = j = 0; i < src->layer_count; i++) {
        const cnn_layer *l = &src->layers[i];
        cnn_layer *d = &dst->layers[j];
        if (cnn__bn_folds(src, i)) continue;
        j++;
        if (l->weight_count) memcpy(d->w, l->w, l->weight_count * sizeof(float));
        if (l->bias_count) memcpy(d->b, l->b, l->bias_count * sizeof(float));
        if (l->kind == CNN_LAYER_BATCHNORM) {
            memcpy(d->running_mean, l->running_mean, (size_t)l->out_c * sizeof(float));
            memcpy(d->running_var, l->running_var, (size_t)l->out_c * sizeof(float));
        }
        if (i + 1 < src->layer_count && cnn__bn_folds(src, i + 1)) {
            const cnn_layer *bn = &src->layers[i + 1];
            const size_t taps = l->weight_count / (size_t)l->conv.k;
            for (f = 0; f < (size_t)l->conv.k; f++) {
                const double scale = bn->w[f] / sqrt((double)bn->running_var[f] + bn->eps);
                for (q = 0; q < taps; q++) d->w[f * taps + q] = (float)(l->w[f * taps + q] * scale);
                d->b[f] = (float)(((l->b ? (double)l->b[f] : 0.0) - bn->running_mean[f]) * scale + bn->b[f]);
            }
        }
    }
    if (dst->best_params) memcpy(dst->best_params, dst->params, (dst->param_floats + dst->buffer_floats) * sizeof(float));
    return CNN_OK;
}

/* ---- the summary table ---- */

static void cnn__thousands(char *buf, size_t cap, size_t v) {
    char digits[32];
    size_t n = cnn__utoa_reversed(digits, v), i, o = 0;
    for (i = n; i-- > 0;) {
        if (o + 2 >= cap) break;
        buf[o++] = digits[i];
        if (i && i % 3 == 0) buf[o++] = ',';
    }
    buf[o] = '\0';
}

static void cnn__describe_layer(const cnn_layer *l, int batch, char *buf, size_t cap) {
    cnn_conv2d_shape cs = l->conv;
    char act[32] = "", groups[24] = "";
    cs.n = CNN__MAX(batch, 1);
    if (l->act) cnn__format(act, sizeof act, ", %s", cnn__activation_name(l->act));
    if (cnn__conv2d_groups(&l->conv) > 1 && l->conv.groups == l->conv.c) cnn__format(groups, sizeof groups, " dw");
    else if (cnn__conv2d_groups(&l->conv) > 1) cnn__format(groups, sizeof groups, " g%d", l->conv.groups);
    switch (l->kind) {
    case CNN_LAYER_CONV:   /* with the algorithm its forward pass runs on a batch of 'batch' (if > 0) */
        cnn__format(buf, cap, "conv %dx%d, %d%s%s%s%s%s%s", l->conv.kh, l->conv.kw, l->conv.k,
                    l->conv.stride_h > 1 || l->conv.stride_w > 1 ? " /s" : "",
                    l->conv.dilation_h > 1 || l->conv.dilation_w > 1 ? " dil" : "", groups, act, batch > 0 ? ", " : "",
                    batch > 0 ? cnn_conv_algo_name(cnn_conv2d_algo_chosen(&cs, 0)) : "");
        break;
    case CNN_LAYER_CONV_TRANSPOSE:   /* its forward runs the convolution's data gradient */
        if (cnn__conv2d_groups(&l->conv) > 1) cnn__format(groups, sizeof groups, " g%d", l->conv.groups);
        cnn__format(buf, cap, "convT %dx%d, %d%s%s%s%s%s%s", l->conv.kh, l->conv.kw, l->out_c,
                    l->conv.stride_h > 1 || l->conv.stride_w > 1 ? " /s" : "",
                    l->conv.dilation_h > 1 || l->conv.dilation_w > 1 ? " dil" : "", groups, act, batch > 0 ? ", " : "",
                    batch > 0 ? cnn_conv_algo_name(cnn_conv2d_algo_chosen(&cs, 1)) : "");
        break;
    case CNN_LAYER_POOL:
        cnn__format(buf, cap, "%s %dx%d /%d%s", l->pool_kind == CNN_POOL_MAX ? "maxpool" : "avgpool",
                    l->pool.kh, l->pool.kw, l->pool.stride_h, l->pool.ceil_mode ? " ceil" : "");
        break;
    case CNN_LAYER_DENSE: cnn__format(buf, cap, "dense %d%s", l->out_c, act); break;
    case CNN_LAYER_ACTIVATION: cnn__format(buf, cap, "%s", cnn__activation_name(l->act)); break;
    case CNN_LAYER_DROPOUT: cnn__format(buf, cap, "dropout %.2f", (double)l->rate); break;
    case CNN_LAYER_UPSAMPLE:   /* "upsample x2 nearest", "upsample 7x9 bilinear ac" */
        if (l->up_scale_h == l->up_scale_w && l->up_scale_h) cnn__format(buf, cap, "upsample x%d", l->up_scale_h);
        else if (l->up_scale_h) cnn__format(buf, cap, "upsample x%dx%d", l->up_scale_h, l->up_scale_w);
        else cnn__format(buf, cap, "upsample %dx%d", l->up.out_h, l->up.out_w);
        cnn__format(buf + strlen(buf), cap - strlen(buf), " %s%s", l->up.mode == CNN_UPSAMPLE_BILINEAR ? "bilinear" : "nearest",
                    l->up.align_corners ? " ac" : "");
        break;
    default: cnn__format(buf, cap, "%s", cnn__layer_name(l->kind)); break;
    }
}

CNNDEF size_t cnn_net_summary(const cnn_net *net, char *buf, size_t cap) {
    static const char rule[] = "------------------------------------------------------------";
    cnn__out o;
    char desc[64], shape[48], count[32], line[160];
    size_t n;
    int i;
    o.buf = buf; o.cap = buf ? cap : 0; o.len = 0;
#define CNN__APPEND(text) do { const char *t_ = (text); while (*t_) cnn__putc(&o, *t_++); } while (0)
    if (!net || net->layout_stamp != CNN__NET_STAMP) { CNN__APPEND("(no network)\n"); goto done; }
    cnn__format(line, sizeof line, "%-28s%-20s%12s\n%s\n", "Layer", "Output shape", "Params", rule);
    CNN__APPEND(line);
    cnn__format(shape, sizeof shape, "%d x %d x %d", net->in_c, net->in_h, net->in_w);
    cnn__format(line, sizeof line, "%-28s%-20s%12s\n", "input", shape, "0");
    CNN__APPEND(line);
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        cnn__describe_layer(l, net->built ? net->max_batch : 1, desc, sizeof desc);
        if (l->flat) cnn__format(shape, sizeof shape, "%d", l->out_c);
        else cnn__format(shape, sizeof shape, "%d x %d x %d", l->out_c, l->out_h, l->out_w);
        cnn__thousands(count, sizeof count, l->weight_count + l->bias_count);
        cnn__format(line, sizeof line, "%-28s%-20s%12s\n", desc, shape, count);
        CNN__APPEND(line);
    }
    cnn__thousands(count, sizeof count, cnn_net_param_count(net));
    cnn__format(line, sizeof line, "%s\nTotal params: %s\n", rule, count);
    CNN__APPEND(line);
#undef CNN__APPEND
done:
    n = o.len;
    if (buf && cap) buf[CNN__MIN(n, cap - 1)] = '\0';
    return n;
}

#ifndef CNN_NO_STDIO
CNNDEF void cnn_net_print_summary(const cnn_net *net, FILE *out) {
    char buf[8192];
    size_t need = cnn_net_summary(net, buf, sizeof buf);
    if (!out) out = stdout;
    fputs(buf, out);
    if (need >= sizeof buf) fputs("...\n", out);
}
#endif

/* ---- forward and backward ---- */

/* need: 0 to read the network, 1 to train it (gradients), 2 to write its parameters. */
static cnn_status cnn__check_ready(const cnn_net *net, const char *who, int need) {
    cnn_status st = cnn__check_net(net, who);
    if (st) return st;
    if (!net->built) return cnn__fail(CNN_ERR_STATE, "%s: the network is not built (cnn_net_build)", who);
    if (need == 1 && !net->training)
        return cnn__fail(CNN_ERR_STATE, "%s: the network was built with inference_only: it has no gradients", who);
    if (need == 2 && net->weights_owner)
        return cnn__fail(CNN_ERR_STATE, "%s: the network reads another network's weights (cnn_build_opts.shared_weights): write that one's", who);
    return CNN_OK;
}

/* A fingerprint of a layer's weights, to see whether they changed since the kept Winograd
   filters were computed from them (cnn__conv_layer_wino). Float i's 32 bits go into lane
   i mod 32 of 32 lanes of 32 bits:
       h = (h ^ bits) * 0x9E3779B1,   then   h = h ^ (h >> 16)
   The multiplier is odd, so the product is invertible modulo 2^32 and one changed float always
   changes its lane; the shift brings what the multiply carried into the high half back down,
   so that two changes, even of the sign bit alone, cancel only by chance (without it, a 32-bit
   lane would miss two sign flips: 2^31 (P^i + P^j) = 0 modulo 2^32, as P^i + P^j is even). The
   lanes are folded into 64 bits after the count; the top bit is set: 0 means no filters yet.
   32 lanes, whatever the vector width, so the vector twin (cnn__stamp_lanes_simd: 32 floats as
   32 / CNN__VL vectors, the same lanes) computes what this code does: 25 GB/s on AVX2 against
   9.4 GB/s for the earlier hash (64-bit h = h * P + bits in 4 chains, on scalars), which took
   0.25 ms of V3's 1.4 ms forward pass of one image. */
#define CNN__STAMP_MUL 0x9E3779B1u
static void cnn__stamp_lanes_scalar(uint32_t h[32], const float *w, size_t count) {
    size_t i;
    for (i = 0; i < count; i++) {
        uint32_t bits, x;
        memcpy(&bits, w + i, sizeof bits);
        x = (h[i % 32] ^ bits) * CNN__STAMP_MUL;
        h[i % 32] = x ^ (x >> 16);
    }
}

/* One step of folding 64-bit values into a fingerprint, in order (the lanes, then the pieces:
   cnn__conv_layer_wino). */
static uint64_t cnn__stamp_fold(uint64_t f, uint64_t x) {
    f = (f ^ x) * 0x9E3779B97F4A7C15ull;
    return f ^ (f >> 29);
}

static uint64_t cnn__fingerprint(const float *w, size_t count) {
    uint32_t h[32];
    uint64_t f = count;
    size_t done = 0;
    int j;
    for (j = 0; j < 32; j++) h[j] = (uint32_t)j + 1;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) done = cnn__stamp_lanes_simd(h, w, count);   /* whole groups of 32 */
#endif
    cnn__stamp_lanes_scalar(h, w + done, count - done);
    for (j = 0; j < 32; j++) f = cnn__stamp_fold(f, h[j]);
    return f | (uint64_t)1 << 63;
}

/* ---- the layers' passes as parallel steps ----
   Each pass is one or more steps (cnn__parallel); a step's task, on slot t of T, does its
   share. The shapes a task gives the kernels are parts of the layer's (fewer images, fewer
   filters), with the algorithm the whole pass would have chosen written in: the automatic
   choice depends on the batch and the filters, and each output must get the same arithmetic
   whatever part it falls in. */
#define CNN__STAMP_PIECES 64      /* the most pieces a fingerprint is cut into (cnn__stamp_piece) */
typedef struct cnn__step {
    cnn_net *net;
    cnn_layer *l;
    cnn_conv2d_shape conv;        /* this batch's shape, the forward's algorithm written in */
    cnn_conv2d_shape conv_dx;     /* the same with the data gradient's algorithm           */
    const float *in;              /* the layer's input                                     */
    float *g, *spare;             /* backward: dL/d(output), and dL/d(input) to write      */
    int n;
    int by_filter;                /* forward: tasks take filters or units (few images)     */
    int wino;                     /* forward through the layer's kept Winograd filters     */
    long long by_tile;            /* forward on Winograd, few images: its tiles, to split  */
    int need_dx;
    int pooled_activation;        /* max pool backward: apply the layer before's f' first  */
    size_t count;                 /* element-wise steps: values                            */
    const cnn_sgd_opts *sgd;
    const struct cnn__adam *adam; /* Adam's step: its coefficients (section 10)            */
    int bad[CNN_MAX_THREADS];     /* optimizers: slot t found an update that is not finite */
    int claimed;                  /* pieces of the step claimed so far (cnn__claim)        */
    int blocks;                   /* depth-first evaluation: blocks of the batch           */
    int last_owner;               /* its last layer with an output of its own              */
    int stamp_pieces;             /* the weights' fingerprint: its pieces and theirs       */
    uint64_t stamps[CNN__STAMP_PIECES];
} cnn__step;

/* Runs a step on every slot of the network, its pieces all unclaimed. */
static void cnn__run_step(cnn__step *st, cnn_parallel_task task) {
    st->claimed = 0;
    cnn__parallel(st->net, task, st);
}

/* Pieces: the heavy steps (convolutions, dense layers) cut their work into CNN__PIECES
   pieces per thread, and each slot claims the next unclaimed piece until none is left,
   instead of doing a fixed 1/T of it. Threads do not run at the same speed: a core is shared
   with another program, or with the other hyperthread, a worker wakes late, and with fixed
   shares the step waits for the slowest. A piece's outputs get the same arithmetic whoever
   computes it, so the results still do not depend on T or on who was fast. Fewer pieces than
   that waste lanes: Winograd's products run 16 tiles at a time, and a piece of 8 digit
   images (72 tiles of 4x4) leaves half a strip empty. One thread takes one piece: the whole.
   Splits by filters take one piece per thread: every piece packs the whole input again
   (the digit model's inference of one image ran 1.25x slower in pieces of 16 filters than
   in halves). So do splits by Winograd tiles: each piece streams all of U (590 KB on V1)
   through its chunks, and V1's forward on two threads ran 0.76-0.79 ms in 3 pieces a thread,
   0.49-0.57 ms in one (conv_net/V1/fwd/avx512/t2, medians of 3). Returns the number of pieces of items, cut in steps of align items. */
#define CNN__PIECES 3
static int cnn__pieces(const cnn_net *net, size_t items, size_t align, int per_thread) {
    const size_t units = (items + align - 1) / align;
    return net->threads <= 1 ? 1 : (int)CNN__MIN(units, (size_t)per_thread * net->threads);
}

/* The next of a step's count pieces for slot t, or -1 when none is left. round counts the
   slot's calls: without an atomic counter, slot t takes its fixed share of the pieces. */
static int cnn__claim(cnn__step *st, size_t t, int *round, int count) {
    size_t b, e;
#ifdef CNN__FETCH_INC
    if (st->net->threads > 1) {
        const int p = CNN__FETCH_INC(&st->claimed);
        return p < count ? p : -1;
    }
#endif
    cnn__share((size_t)count, t, st->net->threads, 1, &b, &e);
    return b + (size_t)*round < e ? (int)b + (*round)++ : -1;
}

/* Piece p of pieces of items: [*begin, *end), in steps of align. */
static void cnn__piece(size_t items, int p, int pieces, size_t align, size_t *begin, size_t *end) {
    cnn__share(items, (size_t)p, pieces, align, begin, end);
}

static void *cnn__slot_scratch(const cnn_net *net, size_t t) {
    return net->scratch ? (unsigned char *)net->scratch + t * net->scratch_bytes : NULL;
}

/* The fingerprint of a layer's weights, in pieces that the threads share: piece p of the
   weights is p * piece .. (p + 1) * piece - 1, its fingerprint goes to stamps[p], and the
   stamp folds those in order. The pieces depend on the weight count alone (at most
   CNN__STAMP_PIECES, of 65,536 floats or more), so every thread count gets the same stamp.
   Returns the floats of a piece; *pieces, how many there are. */
static size_t cnn__stamp_piece(size_t count, int *pieces) {
    const size_t even = (count + CNN__STAMP_PIECES - 1) / CNN__STAMP_PIECES;
    const size_t piece = CNN__MAX((size_t)65536, (even + 31) / 32 * 32);
    if (pieces) *pieces = (int)((count + piece - 1) / piece);
    return piece;
}

static void cnn__stamp_task(void *context, size_t t) {
    cnn__step *st = (cnn__step *)context;
    const cnn_layer *l = st->l;
    const size_t piece = cnn__stamp_piece(l->weight_count, NULL);
    int p, round = 0;
    while ((p = cnn__claim(st, t, &round, st->stamp_pieces)) >= 0) {
        const size_t b = (size_t)p * piece;
        st->stamps[p] = cnn__fingerprint(l->w + b, CNN__MIN(piece, l->weight_count - b));
    }
}

/* The kept Winograd filters U of the filters [b, e) (cnn__wino_filters; a filter's transform
   does not depend on the others in its piece). */
static void cnn__kept_filters_task(void *context, size_t t) {
    cnn__step *st = (cnn__step *)context;
    const cnn_layer *l = st->l;
    const cnn__wino *wt = cnn__wino_of(st->wino);
    const int k = st->conv.k, c = st->conv.c, pieces = cnn__pieces(st->net, (size_t)k, 1, CNN__PIECES);
    size_t b, e;
    int p, round = 0;
    while ((p = cnn__claim(st, t, &round, pieces)) >= 0) {
        cnn__piece((size_t)k, p, pieces, 1, &b, &e);
        cnn__wino_filters(wt, k, c, l->w, 0, (int)b, (int)(e - b), l->wino_u + b * (size_t)wt->a * wt->a * c);
    }
}

/* A conv layer's Winograd filters, if its forward pass runs Winograd through them: they are
   kept in the arena and computed again only when the weights changed since. That takes one
   pass over the weights to see (the fingerprint), because the library is not the only writer:
   SGD steps, loading and initialising write them, and so may the caller (layers[i].w). Both
   the pass and the transform are shared by the threads: run by the caller alone before the
   layer's step, they kept V3's forward of one image from gaining more than 1.36x on two.
   Returns the tile (0: the layer's forward pass does not use kept filters). Bias and
   activation are then applied in the output transform. */
static int cnn__conv_layer_wino(cnn_net *net, cnn_layer *l, const cnn_conv2d_shape *s) {
    const int m = cnn__wino_tile(s, 0);
    uint64_t stamp = 0;
    cnn__step st;
    int p;
    if (!m || !l->wino_u) return 0;
    memset(&st, 0, sizeof st);
    st.net = net;
    st.l = l;
    st.conv = *s;
    st.wino = m;
    cnn__stamp_piece(l->weight_count, &st.stamp_pieces);
    cnn__run_step(&st, cnn__stamp_task);
    for (p = 0; p < st.stamp_pieces; p++) stamp = cnn__stamp_fold(stamp, st.stamps[p]);
    stamp |= (uint64_t)1 << 63;
    if (stamp != l->wino_stamp) {
        cnn__run_step(&st, cnn__kept_filters_task);
        l->wino_stamp = stamp;
    }
    return m;
}

/* Images a piece of a Winograd pass (0 forward, 1 data gradient) split by images takes at a
   time: where an image has fewer tiles than a strip of the products (16), so many that the
   piece's tiles fill whole strips, as long as that leaves 2 pieces a thread; 1 otherwise.
   Pieces of any size give the same results. The digit model's third convolution (one tile
   an image) ran its forward pass only 1.16x faster on two threads than on one, in 6 pieces
   of 10-11 tiles: 6 strips of 16 where one thread runs 4. In 4 pieces of 16 images it ran
   1.24-1.33x faster than before on two threads (three runs of 200 training steps, a timer
   around each step), and the training step 1.04-1.05x (old and new code alternated in one
   program, medians of 61; 1.02x on one thread, where nothing changed: the method's floor). */
static size_t cnn__wino_image_align(const cnn_net *net, const cnn_conv2d_shape *s, int pass) {
    const int m = cnn__wino_tile(s, pass);
    cnn__wino_shape p;
    long long per_image;
    size_t align;
    if (!m || net->threads <= 1 || s->n < 1) return 1;
    cnn__wino_problem(s, pass, &p);
    per_image = cnn__wino_image_tiles(m, &p);
    if (per_image >= CNN__WL) return 1;
    align = (size_t)CNN__WL / (size_t)CNN__MIN((long long)CNN__WL, per_image & -per_image);   /* 16 / gcd(16, per_image) */
    while (align > 1 && ((size_t)s->n + align - 1) / align < 2 * (size_t)net->threads) align /= 2;
    return align;
}

/* Filters (dense: units) are split when there are fewer images than threads and they come
   in 16s, the vector kernels' width, so that every part is laid out as in the whole. */
static int cnn__split_filters(int n, int filters, int threads) {
    return n < threads && filters >= 32 && filters % 16 == 0;
}

/* Where part p of a batch of n begins (cnn__grad_parts) */
static int cnn__part_start(int n, int parts, int p) { return (int)((long long)n * p / parts); }

/* Where part p of a layer's parameter gradient is written: its own dw for part 0, else a
   copy of the gradients' layout in net->grad_parts. */
static float *cnn__part_dw(const cnn_net *net, const cnn_layer *l, int p) {
    if (p == 0) return l->dw;
    return net->grad_parts + (size_t)(p - 1) * net->param_floats + (size_t)(l->dw - net->grads);
}

/* y = act(conv(x, w) + b) for a part (s: its shape; w, b, u start at its first filter),
   through the kept Winograd filters u when wino is set. */
static void cnn__conv_forward_part(const cnn_net *net, const cnn_layer *l, int wino, const cnn_conv2d_shape *s,
                                   const float *x, const float *w, const float *b, const float *u, float *y, void *ws) {
    if (wino && cnn__conv2d_wino(s, 0, x, w, u, b, l->act, l->alpha, y, ws, net->scratch_bytes)) return;
    cnn__conv2d_forward(s, x, w, b, y, ws, net->scratch_bytes);
    cnn__activation_forward(l->act, l->alpha, (size_t)s->n * s->k * cnn__conv2d_out_h(s) * cnn__conv2d_out_w(s), y, y);
}

static void cnn__conv_forward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    cnn_conv2d_shape s = st->conv;
    const size_t in_image = (size_t)s.c * s.h * s.w, plane = (size_t)l->out_h * l->out_w, taps = (size_t)s.c * s.kh * s.kw;
    const size_t u_row = st->wino ? (size_t)cnn__wino_of(st->wino)->a * cnn__wino_of(st->wino)->a * s.c : 0;  /* U: by filter */
    const size_t items = st->by_tile ? (size_t)st->by_tile : st->by_filter ? (size_t)l->out_c : (size_t)st->n;
    const size_t align = st->by_tile || st->by_filter ? 16 : st->wino ? cnn__wino_image_align(st->net, &s, 0) : 1;
    const int pieces = cnn__pieces(st->net, items, align, st->by_filter || st->by_tile ? 1 : CNN__PIECES);
    void *ws = cnn__slot_scratch(st->net, t);
    size_t b, e;
    int i, p, round = 0;
    while ((p = cnn__claim((cnn__step *)context, t, &round, pieces)) >= 0) {
        cnn__piece(items, p, pieces, align, &b, &e);
        if (st->by_tile) {               /* the tiles [b, e) of the batch, all filters */
            cnn__conv2d_wino_tiles(&s, 0, st->in, l->w, l->wino_u, l->b, l->act, l->alpha, l->out, ws, st->net->scratch_bytes,
                                   (long long)b, (long long)e);
            continue;
        }
        if (!st->by_filter) {
            s.n = (int)(e - b);
            cnn__conv_forward_part(st->net, l, st->wino, &s, st->in + b * in_image, l->w, l->b, l->wino_u, l->out + b * s.k * plane, ws);
            continue;
        }
        s.n = 1;
        s.k = (int)(e - b);
        for (i = 0; i < st->n; i++)
            cnn__conv_forward_part(st->net, l, st->wino, &s, st->in + i * in_image, l->w + b * taps, l->b ? l->b + b : NULL,
                                   l->wino_u ? l->wino_u + b * u_row : NULL, l->out + ((size_t)i * l->out_c + b) * plane, ws);
    }
}

/* The tiles of a Winograd pass (0 forward, through the layer's kept filters; 1 data
   gradient) to split among the threads, or 0 to split it otherwise: with fewer images than
   threads, where the pass runs Winograd and the workspace holds it, a split by images would
   leave every thread but one idle, and one by filters makes every thread transform the whole
   input. The data gradient needs 64 tiles or more a thread: each of its pieces transforms
   the filters again, which fewer tiles do not pay back. Measured on two threads, backward of
   one image (one thread's time over two's; medians of 60, alternated): V1 (196 tiles of
   64 x 64 channels) went from 1.44x to 1.67x, V2 (49 tiles of 128 x 128) from 1.32x down to
   1.24x. The forward pass has its filters transformed already: V2's ran 1.12-1.54x by tiles,
   0.89-1.44x by filters. It needs a strip of 16 tiles a thread (pieces are whole strips):
   V3's 16 tiles made one piece, so one thread ran the whole pass while the other waited (two
   threads 0.96x one's); by filters it ran 1.59x faster on two threads than by tiles (medians
   of 5 alternated runs). */
static long long cnn__wino_split_tiles(const cnn_net *net, const cnn_conv2d_shape *s, int pass) {
    const int m = cnn__wino_tile(s, pass);
    long long tiles;
    cnn__wino_shape p;
    if (!m || s->n >= net->threads || !cnn__workspace_fits(net->scratch_bytes, cnn__wino_workspace_floats(s, pass, pass == 0)))
        return 0;
    cnn__wino_problem(s, pass, &p);
    tiles = cnn__wino_tile_count(m, &p);
    return tiles >= (pass == 0 ? (long long)CNN__WL : 64LL) * net->threads ? tiles : 0;
}

/* Pieces of two kinds, claimed from one counter: the weight gradient's parts (into
   cnn__part_dw), then the data gradient's pieces of the batch (or of its tiles). */
static void cnn__conv_backward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_net *net = st->net;
    const cnn_layer *l = st->l;
    const int parts = cnn__grad_parts(st->n);
    /* One image and more threads: its weight gradient is cut by filters instead, in 16s as the
       forward pass's (a filter's sums over the positions run as in the whole); at one image,
       dy and dw are contiguous per filter. (Through Winograd too: its chunks of tiles do not
       depend on the filter count, cnn__wino_weights_chunk.) */
    const int by_filter = parts == 1 && cnn__conv2d_groups(&st->conv) == 1 && cnn__split_filters(st->n, st->conv.k, net->threads);
    const int weight_pieces = by_filter ? cnn__pieces(net, (size_t)st->conv.k, 16, 1) : parts;
    const long long dx_tiles = st->need_dx ? cnn__wino_split_tiles(net, &st->conv_dx, 1) : 0;
    const size_t dx_align = st->need_dx && !dx_tiles ? cnn__wino_image_align(net, &st->conv_dx, 1) : 1;
    const int data_pieces = !st->need_dx ? 0 : dx_tiles ? cnn__pieces(net, (size_t)dx_tiles, 16, 1)
                                                        : cnn__pieces(net, (size_t)st->n, dx_align, CNN__PIECES);
    const size_t in_image = (size_t)st->conv.c * st->conv.h * st->conv.w, out_image = cnn__layer_out_size(l);
    const size_t taps = (size_t)st->conv.c * st->conv.kh * st->conv.kw, plane = (size_t)l->out_h * l->out_w;
    void *ws = cnn__slot_scratch(net, t);
    size_t b, e;
    int p, q, round = 0;
    cnn_conv2d_shape s;
    /* The data gradient's pieces are claimed first: at one image it is a single piece (V3's,
       16 tiles, is not cut), and started last it left the other thread idle while it ran. */
    while ((q = cnn__claim((cnn__step *)context, t, &round, weight_pieces + data_pieces)) >= 0) {
        p = q < data_pieces ? weight_pieces + q : q - data_pieces;   /* p < weight_pieces: a weight piece */
        if (p >= weight_pieces && dx_tiles) {        /* tiles [b, e) of the data gradient */
            cnn__piece((size_t)dx_tiles, p - weight_pieces, data_pieces, 16, &b, &e);
            cnn__conv2d_wino_tiles(&st->conv_dx, 1, st->g, l->w, NULL, NULL, CNN_ACT_NONE, 0.0f, st->spare, ws, net->scratch_bytes,
                                   (long long)b, (long long)e);
        } else if (p >= weight_pieces) {
            cnn__piece((size_t)st->n, p - weight_pieces, data_pieces, dx_align, &b, &e);
            s = st->conv_dx;
            s.n = (int)(e - b);
            cnn__conv2d_backward_data(&s, st->g + b * out_image, l->w, st->spare + b * in_image, ws, net->scratch_bytes);
        } else if (by_filter) {
            cnn__piece((size_t)st->conv.k, p, weight_pieces, 16, &b, &e);
            s = st->conv;
            s.k = (int)(e - b);
            cnn__conv2d_backward_weights(&s, st->in, st->g + b * plane, l->dw + b * taps,
                                         l->db ? l->dw + cnn__round16(l->weight_count) + b : NULL, ws, net->scratch_bytes);
        } else {
            const int i0 = cnn__part_start(st->n, parts, p), i1 = cnn__part_start(st->n, parts, p + 1);
            float *dw = cnn__part_dw(net, l, p);
            s = st->conv;
            s.n = i1 - i0;
            cnn__conv2d_backward_weights(&s, st->in + i0 * in_image, st->g + i0 * out_image, dw,
                                         l->db ? dw + cnn__round16(l->weight_count) : NULL, ws, net->scratch_bytes);
        }
    }
}

/* A transposed convolution's forward of s->n images x into y: l->conv's data gradient, then
   the bias and the activation. */
static void cnn__convt_forward_images(const cnn_net *net, const cnn_layer *l, const cnn_conv2d_shape *s, const float *x,
                                      float *y, void *ws) {
    cnn__conv2d_backward_data(s, x, l->w, y, ws, net->scratch_bytes);
    if (l->b) cnn__convt_add_bias(s, l->b, y);
    cnn__activation_forward(l->act, l->alpha, (size_t)s->n * cnn__layer_out_size(l), y, y);
}

/* A dense layer's forward of count images x into y, its activation fused. */
static void cnn__dense_forward_images(const cnn_layer *l, size_t count, const float *x, float *y) {
    cnn__dense_forward((int)count, (int)cnn__layer_in_size(l), l->out_c, x, l->w, l->b, y);
    cnn__activation_forward(l->act, l->alpha, count * l->out_c, y, y);
}

/* A transposed convolution's passes, by images (and batch parts for the weight gradient):
   its forward is l->conv's data gradient, its data gradient l->conv's forward, its weight
   gradient l->conv's with the roles of x and dy swapped (section 4). */
static void cnn__convt_forward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const size_t in_image = cnn__layer_in_size(l), out_image = cnn__layer_out_size(l);
    const int pieces = cnn__pieces(st->net, (size_t)st->n, 1, CNN__PIECES);
    cnn_conv2d_shape s = st->conv;
    size_t b, e;
    int p, round = 0;
    while ((p = cnn__claim((cnn__step *)context, t, &round, pieces)) >= 0) {
        cnn__piece((size_t)st->n, p, pieces, 1, &b, &e);
        s.n = (int)(e - b);
        cnn__convt_forward_images(st->net, l, &s, st->in + b * in_image, l->out + b * out_image, cnn__slot_scratch(st->net, t));
    }
}

static void cnn__convt_backward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_net *net = st->net;
    const cnn_layer *l = st->l;
    const int parts = cnn__grad_parts(st->n), data_pieces = st->need_dx ? cnn__pieces(net, (size_t)st->n, 1, CNN__PIECES) : 0;
    const size_t in_image = cnn__layer_in_size(l), out_image = cnn__layer_out_size(l);
    void *ws = cnn__slot_scratch(net, t);
    size_t b, e;
    int p, round = 0;
    cnn_conv2d_shape s;
    while ((p = cnn__claim((cnn__step *)context, t, &round, parts + data_pieces)) >= 0) {
        if (p >= parts) {                /* the data gradient of a piece of the batch */
            cnn__piece((size_t)st->n, p - parts, data_pieces, 1, &b, &e);
            s = st->conv_dx;
            s.n = (int)(e - b);
            cnn__conv2d_forward(&s, st->g + b * out_image, l->w, NULL, st->spare + b * in_image, ws, net->scratch_bytes);
        } else {                         /* the weight gradient of part p */
            const int i0 = cnn__part_start(st->n, parts, p), i1 = cnn__part_start(st->n, parts, p + 1);
            float *dw = cnn__part_dw(net, l, p);
            s = st->conv;
            s.n = i1 - i0;
            cnn__conv2d_backward_weights(&s, st->g + i0 * out_image, st->in + i0 * in_image, dw, NULL, ws, net->scratch_bytes);
            if (l->db) cnn__convt_bias_gradient(&s, st->g + i0 * out_image, dw + cnn__round16(l->weight_count));
        }
    }
}

static void cnn__dense_forward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const int in = (int)cnn__layer_in_size(l), out = l->out_c;
    const size_t items = st->by_filter ? (size_t)out : (size_t)st->n, align = st->by_filter ? 16 : 1;
    const int pieces = cnn__pieces(st->net, items, align, st->by_filter ? 1 : CNN__PIECES);
    size_t b, e;
    int i, p, round = 0;
    while ((p = cnn__claim((cnn__step *)context, t, &round, pieces)) >= 0) {
        cnn__piece(items, p, pieces, align, &b, &e);
        if (!st->by_filter) {
            cnn__dense_forward_images(l, e - b, st->in + b * in, l->out + b * out);
            continue;
        }
        for (i = 0; i < st->n; i++) {
            float *y = l->out + (size_t)i * out + b;
            cnn__dense_forward(1, in, (int)(e - b), st->in + (size_t)i * in, l->w + b * in, l->b ? l->b + b : NULL, y);
            cnn__activation_forward(l->act, l->alpha, e - b, y, y);
        }
    }
}

static void cnn__dense_backward_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_net *net = st->net;
    const cnn_layer *l = st->l;
    const int parts = cnn__grad_parts(st->n), in = (int)cnn__layer_in_size(l), out = l->out_c;
    const int data_pieces = st->need_dx ? cnn__pieces(net, (size_t)st->n, 1, CNN__PIECES) : 0;
    size_t b, e;
    int p, round = 0;
    while ((p = cnn__claim((cnn__step *)context, t, &round, parts + data_pieces)) >= 0) {
        if (p >= parts) {                /* the data gradient of a piece of the batch */
            cnn__piece((size_t)st->n, p - parts, data_pieces, 1, &b, &e);
            cnn__dense_backward_data((int)(e - b), in, out, st->g + b * out, l->w, st->spare + b * in);
        } else {                         /* the weight gradient of part p */
            const int i0 = cnn__part_start(st->n, parts, p), i1 = cnn__part_start(st->n, parts, p + 1);
            float *dw = cnn__part_dw(net, l, p);
            cnn__dense_backward_weights(i1 - i0, in, out, st->in + (size_t)i0 * in, st->g + (size_t)i0 * out, dw,
                                        l->db ? dw + cnn__round16(l->weight_count) : NULL);
        }
    }
}

/* dw = ((part 0 + part 1) + part 2) + part 3, element by element: the fixed order. */
static void cnn__grad_sum_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const int parts = cnn__grad_parts(st->n);
    size_t b, e, j;
    int p;
    cnn__share(cnn__round16(l->weight_count) + cnn__round16(l->bias_count), t, st->net->threads, 16, &b, &e);
    for (p = 1; p < parts; p++) {
        const float *part = cnn__part_dw(st->net, l, p);
        for (j = b; j < e; j++) l->dw[j] += part[j];
    }
}

/* Pooling works plane by plane: the n*c planes of a batch are one image of n*c channels.
   The forward of planes of x into y, and their argmax (none in an inference build). */
static void cnn__pool_forward_planes(const cnn_layer *l, size_t planes, const float *x, float *y, int32_t *argmax) {
    const int in_plane = l->in_h * l->in_w;
    cnn_pool2d_shape s = l->pool;
    s.n = 1;
    s.c = (int)planes;
    if (l->kind == CNN_LAYER_GLOBAL_AVGPOOL) cnn_global_avgpool_forward(1, s.c, in_plane, x, y);
    else if (l->kind == CNN_LAYER_GLOBAL_MAXPOOL) cnn_global_maxpool_forward(1, s.c, in_plane, x, y, argmax);
    else if (l->pool_kind == CNN_POOL_MAX) cnn__maxpool2d_forward(&s, l->out_h, l->out_w, x, y, argmax);
    else cnn__avgpool2d_forward(&s, l->out_h, l->out_w, x, y);
}

/* Whether layer i is a max pool whose predecessor's activation (ReLU or leaky ReLU) can be
   differentiated at the pool's outputs rather than at its own, 4x fewer of them under a 2x2
   pool. The pool routes each output's gradient to the input its maximum came from (argmax)
   and gives every other input 0; there the activation's derivative keeps 0 (0 or alpha x 0),
   and at the argmax the input is the pool's output itself, so f'(y) is the same number.
   Masking dy at the pool's outputs first and skipping the predecessor's pass over its own
   gradient gives the same floats (no sum is reordered: a pool adds dy to 0). The digit
   model's training step spent 4% of its time in that pass (perf, AVX2). */
static int cnn__pool_takes_activation(const cnn_net *net, int i) {
    const cnn_layer *l = &net->layers[i], *prev = i > 0 ? &net->layers[i - 1] : NULL;
    if (!prev || !((l->kind == CNN_LAYER_POOL && l->pool_kind == CNN_POOL_MAX) || l->kind == CNN_LAYER_GLOBAL_MAXPOOL))
        return 0;
    if (prev->kind != CNN_LAYER_CONV && prev->kind != CNN_LAYER_CONV_TRANSPOSE && prev->kind != CNN_LAYER_DENSE) return 0;
    return prev->act == CNN_ACT_RELU || prev->act == CNN_ACT_LEAKY_RELU;
}

static void cnn__pool_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const size_t in_plane = (size_t)l->in_h * l->in_w, out_plane = (size_t)l->out_h * l->out_w;
    cnn_pool2d_shape s = l->pool;
    size_t b, e;
    cnn__share((size_t)st->n * l->in_c, t, st->net->threads, 1, &b, &e);
    if (b == e) return;
    s.n = 1;
    s.c = (int)(e - b);
    if (!st->g) {                        /* (global pooling: out_plane is 1) */
        cnn__pool_forward_planes(l, e - b, st->in + b * in_plane, l->out + b * out_plane, l->argmax ? l->argmax + b * out_plane : NULL);
    } else if (l->kind == CNN_LAYER_GLOBAL_AVGPOOL) {
        cnn_global_avgpool_backward(1, s.c, (int)in_plane, st->g + b, st->spare + b * in_plane);
    } else if (l->kind == CNN_LAYER_GLOBAL_MAXPOOL) {
        if (st->pooled_activation) cnn__activation_backward(l[-1].act, l[-1].alpha, e - b, l->out + b, st->g + b, st->g + b);
        cnn_global_maxpool_backward(1, s.c, (int)in_plane, st->g + b, l->argmax + b, st->spare + b * in_plane);
    } else {
        if (st->pooled_activation)           /* dy = f'(y) dy, f the layer before's */
            cnn__activation_backward(l[-1].act, l[-1].alpha, (e - b) * out_plane, l->out + b * out_plane, st->g + b * out_plane,
                                     st->g + b * out_plane);
        if (l->pool_kind == CNN_POOL_MAX) cnn__maxpool2d_backward(&s, l->out_h, l->out_w, st->g + b * out_plane, l->argmax + b * out_plane, st->spare + b * in_plane);
        else cnn__avgpool2d_backward(&s, l->out_h, l->out_w, st->g + b * out_plane, st->spare + b * in_plane);
    }
}

/* Upsampling works plane by plane too (forward, or backward when g is set). */
static void cnn__upsample_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const size_t in_plane = (size_t)l->in_h * l->in_w, out_plane = (size_t)l->out_h * l->out_w;
    cnn_upsample2d_shape s = l->up;
    size_t b, e;
    cnn__share((size_t)st->n * l->in_c, t, st->net->threads, 1, &b, &e);
    if (b == e) return;
    s.n = 1;
    s.c = (int)(e - b);
    if (!st->g) cnn__upsample2d_forward(&s, st->in + b * in_plane, l->out + b * out_plane);
    else cnn__upsample2d_backward(&s, st->g + b * out_plane, st->spare + b * in_plane);
}

/* Element-wise: forward, the activation of the layer's input into its output (or in place
   for a conv or dense layer's fused one); backward (g set), g = g * f'(out), or the dropout
   mask's product. */
static void cnn__elementwise_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    size_t b, e;
    cnn__share(st->count, t, st->net->threads, 16, &b, &e);
    if (b == e) return;
    if (!st->g) cnn__activation_forward(l->act, l->alpha, e - b, st->in + b, l->out + b);
    else if (l->kind == CNN_LAYER_DROPOUT) cnn_dropout_backward(e - b, st->g + b, l->mask + b, st->g + b);
    else cnn__activation_backward(l->act, l->alpha, e - b, l->out + b, st->g + b, st->g + b);
}

/* Batch norm, channel by channel: a channel's statistics, and its dgamma and dbeta, are one
   slot's. Forward with the batch's statistics (l->bn_batch_stats) or the running ones; a
   training build keeps the ones used for backward. Backward (g set) writes dx into spare. */
/* The constants an evaluation's backward pass scales channels [c0, c1) by (training builds):
   the running statistics the forward pass normalised with. */
static void cnn__batchnorm_eval_constants(const cnn_layer *l, size_t c0, size_t c1) {
    size_t k;
    for (k = c0; l->bn_mean && k < c1; k++) {
        l->bn_mean[k] = l->running_mean[k];
        l->bn_invstd[k] = (float)(1.0 / sqrt((double)l->running_var[k] + l->eps));
    }
}

static void cnn__batchnorm_task(void *context, size_t t) {
    const cnn__step *st = (const cnn__step *)context;
    const cnn_layer *l = st->l;
    const int c = l->out_c, hw = l->out_h * l->out_w;
    size_t b, e;
    cnn__share((size_t)c, t, st->net->threads, 1, &b, &e);
    if (b == e) return;
    if (st->g) {
        cnn__batchnorm_backward_range(st->n, c, hw, (int)b, (int)e, l->bn_batch_stats, st->in, st->g, l->w, l->bn_mean,
                                      l->bn_invstd, st->spare, l->dw, l->db);
    } else if (l->bn_batch_stats) {
        cnn__batchnorm_train_range(st->n, c, hw, (int)b, (int)e, l->eps, l->momentum, st->in, l->w, l->b, l->running_mean,
                                   l->running_var, l->out, l->bn_mean, l->bn_invstd);
    } else {
        cnn__batchnorm_eval_range(st->n, c, hw, (int)b, (int)e, l->eps, st->in, l->w, l->b, l->running_mean, l->running_var, l->out);
        cnn__batchnorm_eval_constants(l, b, e);
    }
}

/* ---- evaluation, depth first ----
   On T threads an evaluation forward (training = 0) of T images or more is one parallel step,
   not one per layer: each slot claims a block of images (at most net->block_images) and runs
   it through every layer, then claims the next. Every layer treats images apart in
   evaluation (batch norm uses its running statistics, dropout is the identity), so a block's
   outputs get the arithmetic the whole batch would: the algorithm of each conv layer is the
   one chosen for the whole batch (l->run_algo), and the results do not depend on T. Where a
   block's activations go: a training build has every layer's output for the batch, and a
   block writes its images' part of each; an inference build has two buffers for the batch,
   which blocks could not share (a layer's output for images 8-11 may lie where a slower
   slot still has to read its input for images 0-3), so each slot has its own two, laid out
   as cnn__inference_region lays out the batch's, and only the last layer that has an output
   of its own writes into the batch's. */

/* One layer's evaluation forward for images first.. first+count-1, on the calling thread:
   x and y are where that block's input and output lie (y == x for layers that work in place). */
static void cnn__layer_forward_block(const cnn_net *net, const cnn_layer *l, size_t first, size_t count, const float *x,
                                     float *y, void *ws) {
    const size_t size = cnn__layer_out_size(l), planes = count * (size_t)l->in_c;
    cnn_conv2d_shape s = l->conv;
    s.n = (int)count;
    s.algo = l->run_algo;
    switch (l->kind) {
    case CNN_LAYER_CONV:
        cnn__conv_forward_part(net, l, l->wino_u ? cnn__wino_tile(&s, 0) : 0, &s, x, l->w, l->b, l->wino_u, y, ws);
        break;
    case CNN_LAYER_CONV_TRANSPOSE:
        cnn__convt_forward_images(net, l, &s, x, y, ws);
        break;
    case CNN_LAYER_POOL:
    case CNN_LAYER_GLOBAL_AVGPOOL:
    case CNN_LAYER_GLOBAL_MAXPOOL:
        cnn__pool_forward_planes(l, planes, x, y, l->argmax ? l->argmax + first * size : NULL);
        break;
    case CNN_LAYER_UPSAMPLE: {
        cnn_upsample2d_shape u = l->up;
        u.n = 1;
        u.c = (int)planes;
        cnn__upsample2d_forward(&u, x, y);
        break;
    }
    case CNN_LAYER_DENSE:
        cnn__dense_forward_images(l, count, x, y);
        break;
    case CNN_LAYER_ACTIVATION:
        cnn__activation_forward(l->act, l->alpha, count * size, x, y);
        break;
    case CNN_LAYER_DROPOUT:                  /* the identity: a copy, or nothing in place */
        cnn_dropout_forward(count * size, l->rate, 0, NULL, x, y, l->mask ? l->mask + first * size : NULL);
        break;
    case CNN_LAYER_BATCHNORM:
        cnn__batchnorm_eval_range((int)count, l->out_c, l->out_h * l->out_w, 0, l->out_c, l->eps, x, l->w, l->b,
                                  l->running_mean, l->running_var, y);
        break;
    case CNN_LAYER_FLATTEN: break;           /* a view */
    }
}

/* Images [first, end) through every layer (blocks: see above). region: the slot's two
   buffers in an inference build. */
static void cnn__forward_block(const cnn__step *st, size_t first, size_t end, float *region, void *ws) {
    const cnn_net *net = st->net;
    const size_t count = end - first, floats = net->block_region_floats;
    const float *cur = st->in + first * net->in_c * net->in_h * net->in_w;
    int i, callers = 1, at_end = 1;          /* as cnn__inference_region: the first output at the start */
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        const size_t size = cnn__layer_out_size(l);
        float *out;
        if (net->training) {
            out = l->kind == CNN_LAYER_FLATTEN ? (float *)(uintptr_t)cur : l->out + first * size;
        } else if (cnn__inference_view(l, callers)) {
            out = (float *)(uintptr_t)cur;
        } else {
            at_end = !at_end;
            callers = 0;
            out = i == st->last_owner ? l->out + first * size : at_end ? region + floats - cnn__round16(count * size) : region;
        }
        cnn__layer_forward_block(net, l, first, count, cur, out, ws);
        cur = out;
    }
}

static void cnn__forward_blocks_task(void *context, size_t t) {
    cnn__step *st = (cnn__step *)context;
    const cnn_net *net = st->net;
    float *region = net->block_regions ? net->block_regions + t * net->block_region_floats : NULL;
    size_t b, e;
    int p, round = 0;
    while ((p = cnn__claim(st, t, &round, st->blocks)) >= 0) {
        cnn__piece((size_t)st->n, p, st->blocks, 1, &b, &e);
        cnn__forward_block(st, b, e, region, cnn__slot_scratch(net, t));
    }
}

/* The evaluation forward of n images (net->threads <= n), depth first. What every block
   shares is set here, once: the conv layers' algorithms and kept Winograd filters, the
   constants an evaluation's batch-norm backward scales by, and the views' outputs. */
static void cnn__forward_blocks(cnn_net *net, const float *x, int n) {
    const float *cur = x;
    int i, callers = 1;
    cnn__step step;
    memset(&step, 0, sizeof step);
    step.net = net;
    step.n = n;
    step.in = x;
    step.last_owner = -1;
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->kind == CNN_LAYER_CONV || l->kind == CNN_LAYER_CONV_TRANSPOSE) {
            cnn_conv2d_shape s = l->conv;
            s.n = n;
            s.algo = l->run_algo = cnn_conv2d_algo_chosen(&s, l->kind == CNN_LAYER_CONV_TRANSPOSE);
            if (l->kind == CNN_LAYER_CONV) cnn__conv_layer_wino(net, l, &s);    /* the kept filters, up to date */
        }
        if (l->kind == CNN_LAYER_BATCHNORM) {
            l->bn_batch_stats = 0;
            cnn__batchnorm_eval_constants(l, 0, (size_t)l->out_c);
        }
        if (net->training ? l->kind == CNN_LAYER_FLATTEN : cnn__inference_view(l, callers)) {
            l->out = (float *)(uintptr_t)cur;
        } else {
            step.last_owner = i;
            callers = 0;
        }
        cur = l->out;
    }
    /* Blocks of at most block_images, at least two per thread (a worker that wakes late, or
       runs slower, leaves the other thread more to take: at 4 images, blocks of 1 ran 1.23x
       faster than blocks of 2), and a multiple of the threads where there are enough images. */
    {
        const size_t threads = (size_t)net->threads;
        size_t blocks = CNN__MAX(2 * threads, ((size_t)n + net->block_images - 1) / net->block_images);
        blocks = (blocks + threads - 1) / threads * threads;
        step.blocks = (int)CNN__MIN((size_t)n, blocks);
    }
    cnn__run_step(&step, cnn__forward_blocks_task);
}

CNNDEF cnn_status cnn_forward(cnn_net *net, const float *x, int n, int training) {
    const float *cur = x;
    int i;
    cnn__step step;
    cnn_status st = cnn__check_ready(net, "forward", 0);
    if (st) return st;
    if (!x) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "forward: NULL input");
    if (n < 1 || n > net->max_batch)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "forward: a batch of %d images; the network was built for 1 to %d (cnn_build_opts.max_batch)",
                         n, net->max_batch);
    for (i = 0; training && !net->training && i < net->layer_count; i++)
        if (net->layers[i].kind == CNN_LAYER_DROPOUT && net->layers[i].rate > 0.0f)
            return cnn__fail(CNN_ERR_STATE, "forward: training mode: layer %d (dropout) needs masks, which an inference_only build does not hold; pass training = 0",
                             i);
    for (i = 0; training && i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        if (l->kind != CNN_LAYER_BATCHNORM) continue;
        if (!net->training)
            return cnn__fail(CNN_ERR_STATE, "forward: training mode: layer %d (batchnorm) updates its running statistics, which an inference_only build "
                             "only reads (they may be another network's); pass training = 0", i);
        if ((size_t)n * l->out_h * l->out_w < 2)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "forward: training mode: layer %d (batchnorm, input %dx%dx%d) normalises each channel over the batch's "
                             "%d image(s) x %dx%d values; one value has no variance (PyTorch refuses it too): train with batches of 2 or more, or pass training = 0",
                             i, l->in_c, l->in_h, l->in_w, n, l->out_h, l->out_w);
    }
    if (!training && net->block_images && n >= net->threads) {
        cnn__forward_blocks(net, x, n);
        net->x = x;
        net->batch = n;
        net->grad_first = NULL;
        return CNN_OK;
    }
    memset(&step, 0, sizeof step);
    step.net = net;
    step.n = n;
    for (i = 0; i < net->layer_count; i++) {
        cnn_layer *l = &net->layers[i];
        step.l = l;
        step.in = cur;
        step.g = NULL;
        switch (l->kind) {
        case CNN_LAYER_CONV:
            step.conv = l->conv;
            step.conv.n = n;
            step.conv.algo = cnn_conv2d_algo_chosen(&step.conv, 0);
            step.wino = cnn__conv_layer_wino(net, l, &step.conv);
            /* a part of a grouped layer's filters would need its groups' channels: by image */
            step.by_filter = cnn__conv2d_groups(&l->conv) == 1 && cnn__split_filters(n, l->conv.k, net->threads);
            step.by_tile = step.wino ? cnn__wino_split_tiles(net, &step.conv, 0) : 0;   /* few images */
            cnn__run_step(&step, cnn__conv_forward_task);
            break;
        case CNN_LAYER_CONV_TRANSPOSE:
            step.conv = l->conv;
            step.conv.n = n;
            step.conv.algo = cnn_conv2d_algo_chosen(&step.conv, 1);
            cnn__run_step(&step, cnn__convt_forward_task);
            break;
        case CNN_LAYER_POOL:
        case CNN_LAYER_GLOBAL_AVGPOOL:
        case CNN_LAYER_GLOBAL_MAXPOOL:
            cnn__parallel(net, cnn__pool_task, &step);
            break;
        case CNN_LAYER_UPSAMPLE:
            cnn__parallel(net, cnn__upsample_task, &step);
            break;
        case CNN_LAYER_DENSE:
            step.by_filter = cnn__split_filters(n, l->out_c, net->threads);
            cnn__run_step(&step, cnn__dense_forward_task);
            break;
        case CNN_LAYER_ACTIVATION:
            step.count = (size_t)n * cnn__layer_out_size(l);
            cnn__parallel(net, cnn__elementwise_task, &step);
            break;
        case CNN_LAYER_DROPOUT:      /* one thread: the mask is drawn from one random sequence */
            if (!net->training) { l->out = (float *)(uintptr_t)cur; break; }   /* the identity: a view */
            cnn_dropout_forward((size_t)n * cnn__layer_out_size(l), l->rate, training, &net->rng, cur, l->out, l->mask);
            break;
        case CNN_LAYER_FLATTEN:
            l->out = (float *)(uintptr_t)cur;   /* a view: the network never writes through it */
            break;
        case CNN_LAYER_BATCHNORM:
            l->bn_batch_stats = training != 0;
            cnn__parallel(net, cnn__batchnorm_task, &step);
            break;
        }
        cur = l->out;
    }
    net->x = x;
    net->batch = n;
    net->grad_first = NULL;              /* a backward pass belongs to its forward */
    return CNN_OK;
}

CNNDEF const float *cnn_output(const cnn_net *net) {
    if (!net || net->layout_stamp != CNN__NET_STAMP || !net->built || !net->batch) return NULL;
    return net->layers[net->layer_count - 1].out;
}

/* ---- reaching into layers ---- */

CNNDEF int cnn_net_layer_count(const cnn_net *net) { return net ? net->layer_count : 0; }

/* The layer 'layer' of net, or NULL (and a message naming who asked) when there is none. */
static const cnn_layer *cnn__layer_at(const cnn_net *net, int layer, const char *who) {
    if (!net) { cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL network", who); return NULL; }
    if (layer < 0 || layer >= net->layer_count) {
        cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: layer %d: the network has layers 0 to %d", who, layer, net->layer_count - 1);
        return NULL;
    }
    return &net->layers[layer];
}

CNNDEF cnn_status cnn_layer_describe(const cnn_net *net, int layer, cnn_layer_info *info) {
    const cnn_layer *l = cnn__layer_at(net, layer, "layer describe");
    if (!l) return CNN_ERR_INVALID_ARGUMENT;
    if (!info) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "layer describe: NULL info");
    memset(info, 0, sizeof *info);
    info->kind = l->kind;
    info->activation = l->act;
    info->in_c = l->in_c; info->in_h = l->in_h; info->in_w = l->in_w;
    info->out_c = l->out_c; info->out_h = l->out_h; info->out_w = l->out_w;
    info->flat = l->flat;
    info->weight_count = l->weight_count;
    info->bias_count = l->bias_count;
    if (l->kind == CNN_LAYER_CONV || l->kind == CNN_LAYER_CONV_TRANSPOSE) { info->kernel_h = l->conv.kh; info->kernel_w = l->conv.kw; }
    if (l->kind == CNN_LAYER_POOL) { info->kernel_h = l->pool.kh; info->kernel_w = l->pool.kw; }
    return CNN_OK;
}

/* One of a layer's four parameter arrays: which 0 weights, 1 bias; grads 1 for gradients. */
static float *cnn__layer_array(cnn_net *net, int layer, int which, int grads, size_t *count) {
    static const char *const who[2][2] = { { "layer weights", "layer bias" }, { "layer weight grads", "layer bias grads" } };
    const cnn_layer *l = cnn__layer_at(net, layer, who[grads][which]);
    size_t n;
    if (count) *count = 0;
    if (!l) return NULL;
    if (!net->built) { cnn__fail(CNN_ERR_STATE, "%s: the network is not built (cnn_net_build)", who[grads][which]); return NULL; }
    if (grads && !net->training) {
        cnn__fail(CNN_ERR_STATE, "%s: the network was built with inference_only: it has no gradients", who[grads][which]);
        return NULL;
    }
    n = which ? l->bias_count : l->weight_count;
    if (!n) {
        cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: layer %d (%s) has no %s", who[grads][which], layer, cnn__layer_name(l->kind), which ? "bias" : "weights");
        return NULL;
    }
    if (count) *count = n;
    return grads ? (which ? l->db : l->dw) : (which ? l->b : l->w);
}

CNNDEF float *cnn_layer_weights(cnn_net *net, int layer, size_t *count) { return cnn__layer_array(net, layer, 0, 0, count); }
CNNDEF float *cnn_layer_bias(cnn_net *net, int layer, size_t *count) { return cnn__layer_array(net, layer, 1, 0, count); }
CNNDEF float *cnn_layer_weight_grads(cnn_net *net, int layer, size_t *count) { return cnn__layer_array(net, layer, 0, 1, count); }
CNNDEF float *cnn_layer_bias_grads(cnn_net *net, int layer, size_t *count) { return cnn__layer_array(net, layer, 1, 1, count); }

/* A batch norm layer's running statistics: which 0 the mean, 1 the variance. */
static float *cnn__layer_running(cnn_net *net, int layer, int which, size_t *count) {
    const char *who = which ? "layer running var" : "layer running mean";
    const cnn_layer *l = cnn__layer_at(net, layer, who);
    if (count) *count = 0;
    if (!l) return NULL;
    if (!net->built) { cnn__fail(CNN_ERR_STATE, "%s: the network is not built (cnn_net_build)", who); return NULL; }
    if (l->kind != CNN_LAYER_BATCHNORM) {
        cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: layer %d is %s, not batchnorm: only batch norm keeps running statistics", who, layer, cnn__layer_name(l->kind));
        return NULL;
    }
    if (count) *count = (size_t)l->out_c;
    return which ? l->running_var : l->running_mean;
}

CNNDEF float *cnn_layer_running_mean(cnn_net *net, int layer, size_t *count) { return cnn__layer_running(net, layer, 0, count); }
CNNDEF float *cnn_layer_running_var(cnn_net *net, int layer, size_t *count) { return cnn__layer_running(net, layer, 1, count); }

CNNDEF const float *cnn_layer_output(const cnn_net *net, int layer, int shape[4]) {
    const cnn_layer *l = cnn__layer_at(net, layer, "layer output");
    if (!l) return NULL;
    if (!net->built || !net->batch) { cnn__fail(CNN_ERR_STATE, "layer output: no forward pass yet"); return NULL; }
    /* An inference-only build runs every layer through two buffers in turn, so only the last
       output (and views of it) survives the forward pass. */
    if (!net->training && l->out != net->layers[net->layer_count - 1].out) {
        cnn__fail(CNN_ERR_STATE, "layer output: layer %d (%s): an inference_only build keeps only the last layer's output "
                  "(the others share two buffers); build for training to read it", layer, cnn__layer_name(l->kind));
        return NULL;
    }
    if (shape) { shape[0] = net->batch; shape[1] = l->out_c; shape[2] = l->out_h; shape[3] = l->out_w; }
    return l->out;
}

CNNDEF cnn_rng *cnn_net_dropout_rng(cnn_net *net) {
    if (!net) { cnn__fail(CNN_ERR_INVALID_ARGUMENT, "dropout rng: NULL network"); return NULL; }
    return &net->rng;
}

/* The backward pass proper: net->grad_a holds dL/d(output of the last layer). Walking the
   layers from last to first, each turns dL/d(its output) into its parameter gradients and
   dL/d(its input), which is the previous layer's dL/d(output). The first layer's input is
   the data: nobody needs its gradient, so it is not computed. */
static void cnn__backward(cnn_net *net) {
    float *g = net->grad_a, *spare = net->grad_b, *t;
    int n = net->batch, i, activation_done = 0;
    cnn__step step;
    CNN_ASSERT(net->training && g && spare && n >= 1 && n <= net->max_batch);
    memset(&step, 0, sizeof step);
    step.net = net;
    step.n = n;
    for (i = net->layer_count - 1; i >= 0; i--) {
        cnn_layer *l = &net->layers[i];
        int wrote_spare = 0;
        step.l = l;
        step.pooled_activation = 0;
        step.in = i ? net->layers[i - 1].out : net->x;
        step.g = g;
        step.spare = spare;
        step.need_dx = i > 0;
        step.count = (size_t)n * cnn__layer_out_size(l);
        switch (l->kind) {
        case CNN_LAYER_CONV:
        case CNN_LAYER_CONV_TRANSPOSE:
        case CNN_LAYER_DENSE:
            if (l->act != CNN_ACT_NONE && !activation_done) cnn__parallel(net, cnn__elementwise_task, &step);
            if (l->kind == CNN_LAYER_CONV) {
                step.conv = step.conv_dx = l->conv;
                step.conv.n = step.conv_dx.n = n;
                {   /* the weight gradient's algorithm, for the smallest part of the batch: every part runs it */
                    cnn_conv2d_shape part = step.conv;
                    part.n = n / cnn__grad_parts(n);
                    step.conv.algo = cnn_conv2d_algo_chosen(&part, 2);
                }
                step.conv_dx.algo = cnn_conv2d_algo_chosen(&step.conv_dx, 1);
                cnn__run_step(&step, cnn__conv_backward_task);
            } else if (l->kind == CNN_LAYER_CONV_TRANSPOSE) {   /* its data gradient: l->conv's forward */
                step.conv = step.conv_dx = l->conv;
                step.conv.n = step.conv_dx.n = n;
                step.conv_dx.algo = cnn_conv2d_algo_chosen(&step.conv_dx, 0);
                cnn__run_step(&step, cnn__convt_backward_task);
            } else {
                cnn__run_step(&step, cnn__dense_backward_task);
            }
            if (cnn__grad_parts(n) > 1) cnn__parallel(net, cnn__grad_sum_task, &step);
            wrote_spare = step.need_dx;
            break;
        case CNN_LAYER_POOL:
        case CNN_LAYER_GLOBAL_AVGPOOL:
        case CNN_LAYER_GLOBAL_MAXPOOL:
            if (step.need_dx) {
                step.pooled_activation = cnn__pool_takes_activation(net, i);   /* cnn__pool_task applies it */
                cnn__parallel(net, cnn__pool_task, &step);
                wrote_spare = 1;
            }
            break;
        case CNN_LAYER_UPSAMPLE:
            if (step.need_dx) { cnn__parallel(net, cnn__upsample_task, &step); wrote_spare = 1; }
            break;
        case CNN_LAYER_ACTIVATION:
        case CNN_LAYER_DROPOUT:
            cnn__parallel(net, cnn__elementwise_task, &step);
            break;
        case CNN_LAYER_FLATTEN:
            break;                          /* same numbers, same order */
        case CNN_LAYER_BATCHNORM:           /* dx even for the first layer: it comes with dgamma */
            cnn__parallel(net, cnn__batchnorm_task, &step);
            wrote_spare = 1;
            break;
        }
        if (wrote_spare) { t = g; g = spare; spare = t; }
        activation_done = step.pooled_activation;
    }
    net->grad_first = g;                 /* what cnn_input_gradient starts from */
}

static cnn_status cnn__check_labels(const char *who, const int32_t *labels, int n, int classes) {
    int i;
    if (!labels) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL labels", who);
    for (i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: label %d of image %d is outside [0, %d)", who, (int)labels[i], i, classes);
    return CNN_OK;
}

/* The loss of a batch of outputs against class labels. With MSE the targets are one-hot. */
static cnn_status cnn__batch_loss(const cnn_net *net, const float *out, const int32_t *labels, int n, float *loss, float *dout) {
    int classes = cnn_net_output_size(net), i, j;
    double total = 0.0;
    cnn_status st;
    if (net->loss == CNN_LOSS_SOFTMAX_CROSS_ENTROPY) return cnn_softmax_cross_entropy(n, classes, out, labels, loss, dout);
    if ((st = cnn__check_labels("mse loss", labels, n, classes))) return st;
    for (i = 0; i < n; i++) {
        for (j = 0; j < classes; j++) {
            size_t at = (size_t)i * classes + j;
            double d = (double)out[at] - (labels[i] == j ? 1.0 : 0.0);
            total += d * d;
            if (dout) dout[at] = (float)(2.0 * d / ((double)n * classes));
        }
    }
    *loss = (float)(total / ((double)n * classes));
    return cnn__check_loss("mse loss", *loss);
}

/* The mean squared error of n outputs against real-valued targets: row k of the targets is
   targets[index[k]] (index NULL: row k), so fit can read a shuffled batch in place. */
static cnn_status cnn__target_loss(const cnn_net *net, const float *out, const float *targets, const int *index, int n,
                                   float *loss, float *dout) {
    const int size = cnn_net_output_size(net);
    double total = 0.0;
    int i, j;
    if (net->loss != CNN_LOSS_MSE)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "regression targets: the network's loss is softmax cross-entropy; real-valued targets need CNN_LOSS_MSE (cnn_net_opts.loss)");
    if (!targets) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "mse loss: NULL targets");
    for (i = 0; i < n; i++) {
        const float *t = targets + (size_t)(index ? index[i] : i) * size;
        for (j = 0; j < size; j++) {
            const size_t at = (size_t)i * size + j;
            const double d = (double)out[at] - (double)t[j];
            total += d * d;
            if (dout) dout[at] = (float)(2.0 * d / ((double)n * size));
        }
    }
    *loss = (float)(total / ((double)n * size));
    return cnn__check_loss("mse loss", *loss);
}

/* Backward against labels or, when targets is not NULL, real-valued targets. */
static cnn_status cnn__backward_loss(cnn_net *net, const int32_t *labels, const float *targets, float *loss) {
    float value = 0.0f;
    cnn_status st = cnn__check_ready(net, "backward", 1);
    if (st) return st;
    if (!net->batch) return cnn__fail(CNN_ERR_STATE, "backward: no forward pass to go back through");
    net->grad_first = NULL;
    if (targets) st = cnn__target_loss(net, cnn_output(net), targets, NULL, net->batch, &value, net->grad_a);
    else st = cnn__batch_loss(net, cnn_output(net), labels, net->batch, &value, net->grad_a);
    if (loss && (st == CNN_OK || st == CNN_ERR_NUMERIC)) *loss = value;
    if (st == CNN_ERR_NUMERIC) {   /* no gradients from a NaN loss; the old ones must not be stepped on */
        size_t i;
        for (i = 0; i < net->param_floats; i++) net->grads[i] = (float)NAN;
    }
    if (st) return st;
    cnn__backward(net);
    return CNN_OK;
}

CNNDEF cnn_status cnn_backward(cnn_net *net, const int32_t *labels, float *loss) {
    return cnn__backward_loss(net, labels, NULL, loss);
}

CNNDEF cnn_status cnn_backward_targets(cnn_net *net, const float *targets, float *loss) {
    if (!targets) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "backward: NULL targets");
    return cnn__backward_loss(net, NULL, targets, loss);
}

CNNDEF cnn_status cnn_backward_from(cnn_net *net, const float *doutput) {
    cnn_status st = cnn__check_ready(net, "backward", 1);
    if (st) return st;
    if (!net->batch) return cnn__fail(CNN_ERR_STATE, "backward: no forward pass to go back through");
    if (!doutput) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "backward: NULL output gradient");
    memmove(net->grad_a, doutput, (size_t)net->batch * cnn_net_output_size(net) * sizeof(float));
    cnn__backward(net);
    return CNN_OK;
}

/* The first layer's data gradient, the step cnn__backward leaves out: from dL/d(its output),
   already through its fused activation's derivative (backward did that in place), to dL/dx.
   Layers that worked in place (activation, dropout, flatten) left dL/dx itself, and so did
   batch norm, whose backward computes dx with its parameter gradients. */
CNNDEF cnn_status cnn_input_gradient(cnn_net *net, float *dx) {
    const cnn_layer *l;
    const float *g;
    size_t in_count;
    int n;
    cnn_status st = cnn__check_ready(net, "input gradient", 1);
    if (st) return st;
    if (!dx) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "input gradient: NULL dx");
    if (!net->grad_first || !net->batch)
        return cnn__fail(CNN_ERR_STATE, "input gradient: no backward pass since the last forward (call cnn_backward first)");
    l = &net->layers[0];
    g = net->grad_first;
    n = net->batch;
    in_count = (size_t)n * cnn__layer_in_size(l);
    switch (l->kind) {
    case CNN_LAYER_CONV: {
        cnn_conv2d_shape s = l->conv;
        s.n = n;           /* (the workspace was sized without this pass: a smaller one is fine) */
        cnn__conv2d_backward_data(&s, g, l->w, dx, net->scratch, net->scratch_bytes);
        break;
    }
    case CNN_LAYER_CONV_TRANSPOSE: {     /* the transposed one's data gradient: the forward */
        cnn_conv2d_shape s = l->conv;
        s.n = n;
        cnn__conv2d_forward(&s, g, l->w, NULL, dx, net->scratch, net->scratch_bytes);
        break;
    }
    case CNN_LAYER_DENSE:
        cnn__dense_backward_data(n, (int)cnn__layer_in_size(l), l->out_c, g, l->w, dx);
        break;
    case CNN_LAYER_POOL: {
        cnn_pool2d_shape s = l->pool;
        s.n = n;
        if (l->pool_kind == CNN_POOL_MAX) cnn__maxpool2d_backward(&s, l->out_h, l->out_w, g, l->argmax, dx);
        else cnn__avgpool2d_backward(&s, l->out_h, l->out_w, g, dx);
        break;
    }
    case CNN_LAYER_GLOBAL_AVGPOOL:
        cnn_global_avgpool_backward(n, l->in_c, l->in_h * l->in_w, g, dx);
        break;
    case CNN_LAYER_GLOBAL_MAXPOOL:
        cnn_global_maxpool_backward(n, l->in_c, l->in_h * l->in_w, g, l->argmax, dx);
        break;
    case CNN_LAYER_UPSAMPLE: {
        cnn_upsample2d_shape s = l->up;
        s.n = n;
        cnn__upsample2d_backward(&s, g, dx);
        break;
    }
    default:
        memmove(dx, g, in_count * sizeof(float));
        break;
    }
    return CNN_OK;
}

/* ============================================================================================
   10. Training

   Mini-batch stochastic gradient descent: for each batch, forward, backward, then move every
   parameter a small step against its gradient. Momentum keeps a running sum of past steps
   (velocity), which damps zig-zags and speeds travel along shallow valleys. Weight decay adds
   lambda * w to the gradient of each weight: the gradient of (lambda/2) * |w|^2, which keeps
   weights small. Biases are not decayed.

   Adam (Kingma and Ba, 2015) gives every parameter its own step size. It keeps two running
   means per parameter, of the gradient (m, the first moment) and of its square (v, the
   second), and moves each weight by about lr in the direction of m / sqrt(v): a parameter
   whose gradient is steady moves at lr whatever its scale, one whose gradient keeps changing
   sign moves less. Both means start at zero, so early on they are too small by the factor
   1 - beta^t; dividing by it (bias correction) makes the first steps full-sized. AdamW
   (Loshchilov and Hutter, 2019) takes weight decay out of the gradient, where Adam's scaling
   would weaken it for parameters with large gradients, and shrinks the weights directly.
   ============================================================================================ */

/* cnn_fit_opts holds a cnn_sgd_opts by value: its size must not change (see its comment). */
typedef char cnn__sgd_opts_size_is_fixed[sizeof(cnn_sgd_opts) == 64 ? 1 : -1];

/* The state an optimizer keeps is held only when the build was asked for it: momentum needs
   the velocity buffer (with_momentum), Adam its two moments (with_adam). */
static cnn_status cnn__check_optimizer(const cnn_net *net, const cnn_sgd_opts *o, const char *who) {
    if (o->optimizer != CNN_OPTIM_SGD && !net->adam_m)
        return cnn__fail(CNN_ERR_STATE, "%s: %s keeps two moments per parameter, which this network was built without: build it with cnn_build_opts.with_adam = 1",
                         who, o->optimizer == CNN_OPTIM_ADAM ? "Adam" : "AdamW");
    if (o->momentum > 0.0f && !net->velocity)
        return cnn__fail(CNN_ERR_STATE, "%s: momentum %.3f needs SGD velocity, which this network was built without: build it with cnn_build_opts.with_momentum = 1",
                         who, (double)o->momentum);
    return CNN_OK;
}

/* A zero setting means its default d; a negative zero means exactly 0 (as CNN_ALPHA_ZERO). */
static float cnn__setting(float v, float d) { return v != 0.0f ? v : signbit(v) ? 0.0f : d; }

/* The options settled: defaults filled in (Adam's too), every value checked. */
static cnn_status cnn__sgd_settings(const cnn_sgd_opts *opts, cnn_sgd_opts *out) {
    int adam;
    if (opts) *out = *opts;
    else memset(out, 0, sizeof *out);
    if ((unsigned)out->optimizer >= (unsigned)CNN_OPTIMIZER_COUNT)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "optimizer: unknown optimizer %d (CNN_OPTIM_SGD, _ADAM or _ADAMW)", (int)out->optimizer);
    adam = out->optimizer != CNN_OPTIM_SGD;
    if (out->learning_rate == 0.0f) out->learning_rate = adam ? 0.001f : 0.01f;
    if (!(out->learning_rate > 0.0f) || out->learning_rate > 1e6f)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "sgd: learning rate %f must be positive and finite", (double)out->learning_rate);
    if (!(out->momentum >= 0.0f && out->momentum < 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "sgd: momentum %f must be in [0, 1)", (double)out->momentum);
    if (!(out->weight_decay >= 0.0f && out->weight_decay < 1e6f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "sgd: weight decay %f must be zero or positive", (double)out->weight_decay);
    if (!adam) {
        if (out->beta1 != 0.0f || out->beta2 != 0.0f || out->eps != 0.0f)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "sgd: beta1 %.4f, beta2 %.4f and eps %.9f are Adam's settings: set optimizer to CNN_OPTIM_ADAM or _ADAMW, or leave them 0",
                             (double)out->beta1, (double)out->beta2, (double)out->eps);
        return CNN_OK;
    }
    if (out->momentum != 0.0f || out->nesterov)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "adam: momentum %.4f and nesterov %d are SGD's settings; Adam's momentum is beta1: leave them 0",
                         (double)out->momentum, out->nesterov);
    out->beta1 = cnn__setting(out->beta1, 0.9f);
    out->beta2 = cnn__setting(out->beta2, 0.999f);
    out->eps = cnn__setting(out->eps, 1e-8f);
    if (!(out->beta1 >= 0.0f && out->beta1 < 1.0f) || !(out->beta2 >= 0.0f && out->beta2 < 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "adam: beta1 %.4f and beta2 %.4f must be in [0, 1) (0: the defaults 0.9 and 0.999)",
                         (double)out->beta1, (double)out->beta2);
    if (!(out->eps >= 0.0f && out->eps < 1e6f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "adam: eps %.9f must be zero (-0.0f) or positive and finite (0: the default 1e-8)", (double)out->eps);
    if (out->optimizer == CNN_OPTIM_ADAMW && !((double)out->learning_rate * out->weight_decay <= 1.0))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "adamw: learning rate %g times weight decay %g is above 1: the weights would be scaled by a negative factor",
                         (double)out->learning_rate, (double)out->weight_decay);
    return CNN_OK;
}

static void cnn__sgd_update_scalar(float *w, const float *dw, float *v, size_t count, const cnn_sgd_opts *o, float decay) {
    const float lr = o->learning_rate, mu = o->momentum;
    size_t i;
    if (mu == 0.0f) {
        for (i = 0; i < count; i++) w[i] -= lr * (dw[i] + decay * w[i]);
    } else if (o->nesterov) {
        for (i = 0; i < count; i++) {
            float g = dw[i] + decay * w[i];
            v[i] = mu * v[i] + g;
            w[i] -= lr * (g + mu * v[i]);
        }
    } else {
        for (i = 0; i < count; i++) {
            v[i] = mu * v[i] + dw[i] + decay * w[i];
            w[i] -= lr * v[i];
        }
    }
}

static void cnn__sgd_update(float *w, const float *dw, float *v, size_t count, const cnn_sgd_opts *o, float decay) {
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) { CNN__VCALL(sgd_update, (w, dw, v, count, o, decay)); return; }
#endif
    cnn__sgd_update_scalar(w, dw, v, count, o, decay);
}

/* Whether the update of parameter i (a new weight or velocity) would be NaN or infinite: a NaN
   gradient, or a finite one that a large learning rate carries past FLT_MAX. The scalar
   update's operations in its order, which the vector update repeats, so it predicts both. */
static int cnn__sgd_update_nonfinite(const float *w, const float *dw, const float *v, size_t i,
                                     const cnn_sgd_opts *o, float decay) {
    const float lr = o->learning_rate, mu = o->momentum, g = dw[i] + decay * w[i];
    const float vi = mu == 0.0f ? g : o->nesterov ? mu * v[i] + g : mu * v[i] + dw[i] + decay * w[i];
    const float wi = mu == 0.0f ? w[i] - lr * g : o->nesterov ? w[i] - lr * (g + mu * vi) : w[i] - lr * vi;
    return !cnn__finite(wi) || !cnn__finite(vi);
}

/* The same on the scalar path: one mode per loop, no branch per parameter, and flags rather
   than a floating-point sum, whose chain of dependent additions took three times the update. */
static int cnn__sgd_any_nonfinite_scalar(const float *w, const float *dw, const float *v, size_t count,
                                         const cnn_sgd_opts *o, float decay) {
    const float lr = o->learning_rate, mu = o->momentum;
    int bad = 0;                         /* x - x != 0: x is NaN or infinite */
    size_t i;
    if (mu == 0.0f) {
        for (i = 0; i < count; i++) {
            const float g = dw[i] + decay * w[i], wn = w[i] - lr * g;
            bad |= (wn - wn != 0.0f) | (g - g != 0.0f);
        }
    } else if (o->nesterov) {
        for (i = 0; i < count; i++) {
            const float g = dw[i] + decay * w[i], vi = mu * v[i] + g, wn = w[i] - lr * (g + mu * vi);
            bad |= (wn - wn != 0.0f) | (vi - vi != 0.0f);
        }
    } else {
        for (i = 0; i < count; i++) {
            const float vi = mu * v[i] + dw[i] + decay * w[i], wn = w[i] - lr * vi;
            bad |= (wn - wn != 0.0f) | (vi - vi != 0.0f);
        }
    }
    return bad;
}

/* The first parameter whose update would not be finite, or count: one pass that only
   answers whether there is one (the step's usual case: none), then a search. */
static size_t cnn__sgd_first_nonfinite(const float *w, const float *dw, const float *v, size_t count,
                                       const cnn_sgd_opts *o, float decay) {
    size_t i;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) {
        if (!cnn__sgd_any_nonfinite_simd(w, dw, v, count, o, decay)) return count;
    } else
#endif
    if (!cnn__sgd_any_nonfinite_scalar(w, dw, v, count, o, decay)) return count;
    for (i = 0; i < count; i++)
        if (cnn__sgd_update_nonfinite(w, dw, v, i, o, decay)) return i;
    return count;
}

/* Slot t's share of every parameter tensor: check (st->bad[t]) or update (update set). The
   updates are element by element, so any split gives the same weights. */
static void cnn__sgd_share(cnn__step *st, size_t t, int update) {
    const cnn_net *net = st->net;
    const cnn_sgd_opts *o = st->sgd;
    int i, k;
    st->bad[t] = 0;
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        for (k = 0; k < 2; k++) {
            float *w = k ? l->b : l->w;
            const float *dw = k ? l->db : l->dw;
            const float decay = k ? 0.0f : o->weight_decay;
            size_t b, e;
            cnn__share(k ? l->bias_count : l->weight_count, t, net->threads, 16, &b, &e);
            if (b == e) continue;
            float *v = net->velocity ? net->velocity + (w - net->params) + b : NULL;     /* NULL: no momentum */
            if (update) cnn__sgd_update(w + b, dw + b, v, e - b, o, decay);
            else st->bad[t] |= cnn__sgd_first_nonfinite(w + b, dw + b, v, e - b, o, decay) < e - b;
        }
    }
}
static void cnn__sgd_check_task(void *context, size_t t) { cnn__sgd_share((cnn__step *)context, t, 0); }
static void cnn__sgd_update_task(void *context, size_t t) { cnn__sgd_share((cnn__step *)context, t, 1); }

/* The step for settled options (cnn__sgd_settings). Every update is checked before any weight
   changes: a step that would make one NaN or infinite is refused whole, so the network keeps
   the weights of its last good step. */
static cnn_status cnn__sgd_step(cnn_net *net, const cnn_sgd_opts *o) {
    cnn__step step;
    int i, t, bad = 0;
    step.net = net;
    step.sgd = o;
    cnn__parallel(net, cnn__sgd_check_task, &step);
    for (t = 0; t < net->threads; t++) bad |= step.bad[t];
    for (i = 0; bad && i < net->layer_count; i++) {      /* which one, for the message */
        const cnn_layer *l = &net->layers[i];
        for (t = 0; t < 2; t++) {
            const float *w = t ? l->b : l->w, *dw = t ? l->db : l->dw;
            const size_t count = t ? l->bias_count : l->weight_count;
            size_t at;
            if (!count) continue;
            at = cnn__sgd_first_nonfinite(w, dw, net->velocity ? net->velocity + (w - net->params) : NULL, count, o, t ? 0.0f : o->weight_decay);
            if (at < count)
                return cnn__fail(CNN_ERR_NUMERIC,
                                 "sgd step: layer %d (%s) %s[%zu]: gradient %g, learning rate %g: the update would be NaN or infinite; no weight was changed",
                                 i, cnn__layer_name(l->kind), t ? "bias" : "weights", at, (double)dw[at], (double)o->learning_rate);
        }
    }
    cnn__parallel(net, cnn__sgd_update_task, &step);
    net->step++;
    net->state_kind = o->momentum > 0.0f ? 1 : 0;
    return CNN_OK;
}

/* ---- Adam and AdamW ---- */

/* One step's coefficients, the same for every parameter. The bias corrections are computed
   in double, as PyTorch computes them (Python floats), then rounded once. */
typedef struct cnn__adam {
    float b1, one_b1, b2, one_b2;   /* beta1, 1 - beta1, beta2, 1 - beta2                      */
    float step;                     /* lr / (1 - beta1^t)                                      */
    float root2;                    /* sqrt(1 - beta2^t)                                       */
    float eps;
    float decay, shrink;            /* for weights (biases: 0 and 1): Adam's L2 coefficient,
                                       AdamW's factor 1 - lr * weight_decay                    */
} cnn__adam;

static void cnn__adam_coefficients(const cnn_sgd_opts *o, uint32_t t, cnn__adam *a) {
    const int decoupled = o->optimizer == CNN_OPTIM_ADAMW;
    a->b1 = o->beta1; a->one_b1 = 1.0f - o->beta1;
    a->b2 = o->beta2; a->one_b2 = 1.0f - o->beta2;
    a->step = (float)((double)o->learning_rate / (1.0 - pow((double)o->beta1, (double)t)));
    a->root2 = (float)sqrt(1.0 - pow((double)o->beta2, (double)t));
    a->eps = o->eps;
    a->decay = decoupled ? 0.0f : o->weight_decay;
    a->shrink = decoupled ? (float)(1.0 - (double)o->learning_rate * o->weight_decay) : 1.0f;
}

/* The scalar reference, the formula above with decay and shrink for the tensor: weights
   (a->decay, a->shrink) or biases (0, 1). Multiplying by 1 and adding 0 * w change no finite
   value, so one loop serves Adam, AdamW and the biases. */
static void cnn__adam_update_scalar(float *w, const float *dw, float *m, float *v, size_t count, const cnn__adam *a,
                                    float decay, float shrink) {
    size_t i;
    for (i = 0; i < count; i++) {
        const float wi = w[i] * shrink, g = dw[i] + decay * wi;
        m[i] = a->b1 * m[i] + a->one_b1 * g;
        v[i] = a->b2 * v[i] + a->one_b2 * g * g;
        w[i] = wi - a->step * (m[i] / (sqrtf(v[i]) / a->root2 + a->eps));
    }
}

static void cnn__adam_update(float *w, const float *dw, float *m, float *v, size_t count, const cnn__adam *a,
                             float decay, float shrink) {
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) { CNN__VCALL(adam_update, (w, dw, m, v, count, a, decay, shrink)); return; }
#endif
    cnn__adam_update_scalar(w, dw, m, v, count, a, decay, shrink);
}

/* Whether the update of parameter i would make its weight or a moment NaN or infinite (a NaN
   gradient, or one whose square overflows), the update's operations in its order. */
static int cnn__adam_update_nonfinite(const float *w, const float *dw, const float *m, const float *v, size_t i,
                                      const cnn__adam *a, float decay, float shrink) {
    const float wi = w[i] * shrink, g = dw[i] + decay * wi;
    const float mi = a->b1 * m[i] + a->one_b1 * g, vi = a->b2 * v[i] + a->one_b2 * g * g;
    const float wn = wi - a->step * (mi / (sqrtf(vi) / a->root2 + a->eps));
    return !cnn__finite(wn) || !cnn__finite(mi) || !cnn__finite(vi);
}

static int cnn__adam_any_nonfinite(const float *w, const float *dw, const float *m, const float *v, size_t count,
                                   const cnn__adam *a, float decay, float shrink) {
    int bad = 0;
    size_t i;
#ifdef CNN__SIMD
    if (cnn_simd_active() != CNN_SIMD_SCALAR) return CNN__VCALL(adam_any_nonfinite, (w, dw, m, v, count, a, decay, shrink));
#endif
    for (i = 0; i < count; i++) bad |= cnn__adam_update_nonfinite(w, dw, m, v, i, a, decay, shrink);
    return bad;
}

/* Slot t's share of every parameter tensor, as cnn__sgd_share: check or update. */
static void cnn__adam_share(cnn__step *st, size_t t, int update) {
    const cnn_net *net = st->net;
    const cnn__adam *a = st->adam;
    int i, k;
    st->bad[t] = 0;
    for (i = 0; i < net->layer_count; i++) {
        const cnn_layer *l = &net->layers[i];
        for (k = 0; k < 2; k++) {
            float *w = k ? l->b : l->w;
            const float *dw = k ? l->db : l->dw;
            const float decay = k ? 0.0f : a->decay, shrink = k ? 1.0f : a->shrink;
            size_t b, e, at;
            cnn__share(k ? l->bias_count : l->weight_count, t, net->threads, 16, &b, &e);
            if (b == e) continue;
            at = (size_t)(w - net->params) + b;
            if (update) cnn__adam_update(w + b, dw + b, net->adam_m + at, net->adam_v + at, e - b, a, decay, shrink);
            else st->bad[t] |= cnn__adam_any_nonfinite(w + b, dw + b, net->adam_m + at, net->adam_v + at, e - b, a, decay, shrink);
        }
    }
}
static void cnn__adam_check_task(void *context, size_t t) { cnn__adam_share((cnn__step *)context, t, 0); }
static void cnn__adam_update_task(void *context, size_t t) { cnn__adam_share((cnn__step *)context, t, 1); }

/* Adam's step for settled options, checked whole before any weight changes (as SGD's). */
static cnn_status cnn__adam_step(cnn_net *net, const cnn_sgd_opts *o) {
    cnn__step step;
    cnn__adam a;
    int i, t, bad = 0;
    if (!((double)o->learning_rate * o->weight_decay <= 1.0) && o->optimizer == CNN_OPTIM_ADAMW)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "adamw step: learning rate %g times weight decay %g is above 1: the weights would be scaled by a negative factor",
                         (double)o->learning_rate, (double)o->weight_decay);
    cnn__adam_coefficients(o, net->step + 1, &a);
    step.net = net;
    step.adam = &a;
    cnn__parallel(net, cnn__adam_check_task, &step);
    for (t = 0; t < net->threads; t++) bad |= step.bad[t];
    for (i = 0; bad && i < net->layer_count; i++) {      /* which one, for the message */
        const cnn_layer *l = &net->layers[i];
        for (t = 0; t < 2; t++) {
            const float *w = t ? l->b : l->w, *dw = t ? l->db : l->dw;
            const size_t count = t ? l->bias_count : l->weight_count, off = count ? (size_t)(w - net->params) : 0;
            size_t at;
            for (at = 0; at < count; at++)
                if (cnn__adam_update_nonfinite(w, dw, net->adam_m + off, net->adam_v + off, at, &a, t ? 0.0f : a.decay, t ? 1.0f : a.shrink))
                    return cnn__fail(CNN_ERR_NUMERIC,
                                     "%s step: layer %d (%s) %s[%zu]: gradient %g, learning rate %g: the update would be NaN or infinite; no weight was changed",
                                     o->optimizer == CNN_OPTIM_ADAM ? "adam" : "adamw", i, cnn__layer_name(l->kind), t ? "bias" : "weights",
                                     at, (double)dw[at], (double)o->learning_rate);
        }
    }
    cnn__parallel(net, cnn__adam_update_task, &step);
    net->step++;
    net->state_kind = 2;
    return CNN_OK;
}

/* The step of the optimizer settled options name. */
static cnn_status cnn__optimizer_step(cnn_net *net, const cnn_sgd_opts *o) {
    return o->optimizer == CNN_OPTIM_SGD ? cnn__sgd_step(net, o) : cnn__adam_step(net, o);
}

CNNDEF cnn_status cnn_optimizer_step(cnn_net *net, const cnn_optim_opts *opts) {
    cnn_sgd_opts o;
    cnn_status st = cnn__check_ready(net, "optimizer step", 1);
    if (st) return st;
    if ((st = cnn__sgd_settings(opts, &o)) || (st = cnn__check_optimizer(net, &o, "optimizer step"))) return st;
    return cnn__optimizer_step(net, &o);
}

CNNDEF cnn_status cnn_sgd_step(cnn_net *net, const cnn_sgd_opts *opts) {
    cnn_sgd_opts o;
    cnn_status st = cnn__check_ready(net, "sgd step", 1);
    if (st) return st;
    if ((st = cnn__sgd_settings(opts, &o)) || (st = cnn__check_optimizer(net, &o, "sgd step"))) return st;
    return cnn__optimizer_step(net, &o);
}

CNNDEF cnn_status cnn_net_reset_optimizer(cnn_net *net) {
    cnn_status st = cnn__check_ready(net, "reset optimizer", 0);
    if (st) return st;
    if (net->velocity) memset(net->velocity, 0, net->param_floats * sizeof(float));
    if (net->adam_m) memset(net->adam_m, 0, 2 * net->param_floats * sizeof(float));
    net->step = 0;
    net->state_kind = 0;
    return CNN_OK;
}

CNNDEF cnn_status cnn_train_batch(cnn_net *net, const float *x, const int32_t *labels, int n,
                                  const cnn_sgd_opts *opts, float *loss) {
    cnn_sgd_opts o;
    cnn_status st = cnn__check_ready(net, "train batch", 1);
    if (st) return st;
    if ((st = cnn__sgd_settings(opts, &o)) || (st = cnn__check_optimizer(net, &o, "train batch"))) return st;
    if ((st = cnn_forward(net, x, n, 1))) return st;
    if ((st = cnn_backward(net, labels, loss))) return st;
    return cnn__optimizer_step(net, &o);
}

static int cnn__argmax(const float *v, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return best;
}

/* The first of n rows of 'out' values holding a NaN, or -1: a class cannot be read from it. */
static int cnn__nan_row(const float *v, int n, int out) {
    size_t i;
    for (i = 0; i < (size_t)n * out; i++) if (v[i] != v[i]) return (int)(i / (size_t)out);
    return -1;
}

/* Copies the images listed in index[0..b) and their labels (if any) into the network's batch
   buffers. (Regression targets are read in place through the index.) */
static void cnn__gather_batch(cnn_net *net, const float *images, const int32_t *labels, const int *index, int b) {
    const size_t in_size = (size_t)net->in_c * net->in_h * net->in_w;
    int k;
    for (k = 0; k < b; k++) {
        memcpy(net->input + (size_t)k * in_size, images + (size_t)index[k] * in_size, in_size * sizeof(float));
        if (labels) net->labels[k] = labels[index[k]];
    }
}

CNNDEF cnn_status cnn_predict(cnn_net *net, const float *x, int n, float *probs, int32_t *classes) {
    size_t in_size;
    int start, k, out;
    cnn_status st = cnn__check_ready(net, "predict", 0);
    if (st) return st;
    if (!x || n < 1) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "predict: NULL input or %d images", n);
    in_size = (size_t)net->in_c * net->in_h * net->in_w;
    out = cnn_net_output_size(net);
    for (start = 0; start < n; start += net->max_batch) {
        int b = CNN__MIN(net->max_batch, n - start);
        const float *logits;
        if ((st = cnn_forward(net, x + (size_t)start * in_size, b, 0))) return st;
        logits = cnn_output(net);
        if ((k = cnn__nan_row(logits, b, out)) >= 0)
            return cnn__fail(CNN_ERR_NUMERIC, "predict: image %d: the network's outputs are NaN (NaN in the image or the weights)", start + k);
        if (probs) {
            if (net->loss == CNN_LOSS_SOFTMAX_CROSS_ENTROPY) cnn_softmax(b, out, logits, probs + (size_t)start * out);
            else memcpy(probs + (size_t)start * out, logits, (size_t)b * out * sizeof(float));
        }
        if (classes) for (k = 0; k < b; k++) classes[start + k] = cnn__argmax(logits + (size_t)k * out, out);
    }
    return CNN_OK;
}

/* Loss and accuracy over 'count' images of a dataset, either consecutive (index NULL) or those
   listed in index (gathered into the network's batch buffer). With targets, the loss is their
   mean squared error and the accuracy -1. */
static cnn_status cnn__evaluate(cnn_net *net, const cnn_dataset *data, const int *index, int count, float *loss, float *accuracy) {
    size_t in_size = (size_t)net->in_c * net->in_h * net->in_w;
    int out = cnn_net_output_size(net), start, k, correct = 0;
    double total = 0.0;
    cnn_status st;
    for (start = 0; start < count; start += net->max_batch) {
        int b = CNN__MIN(net->max_batch, count - start);
        const float *x = data->images + (size_t)start * in_size;
        const int32_t *y = data->labels ? data->labels + start : NULL;
        const float *logits;
        float batch_loss;
        if (index) {
            cnn__gather_batch(net, data->images, data->labels, index + start, b);
            x = net->input;
            y = net->labels;
        }
        if ((st = cnn_forward(net, x, b, 0))) return st;
        logits = cnn_output(net);
        if (data->targets) {
            st = index ? cnn__target_loss(net, logits, data->targets, index + start, b, &batch_loss, NULL)
                       : cnn__target_loss(net, logits, data->targets + (size_t)start * out, NULL, b, &batch_loss, NULL);
        } else {
            st = cnn__batch_loss(net, logits, y, b, &batch_loss, NULL);
        }
        if (st) {
            char why[400];
            if (st != CNN_ERR_NUMERIC) return st;
            cnn__format(why, sizeof why, "%s", cnn_last_error());
            return cnn__fail(st, "evaluate: images %d to %d: %s", start, start + b - 1, why);
        }
        total += (double)batch_loss * b;
        if (!data->targets)
            for (k = 0; k < b; k++) correct += cnn__argmax(logits + (size_t)k * out, out) == y[k];
    }
    if (loss) *loss = (float)(total / count);
    if (accuracy) *accuracy = data->targets ? -1.0f : (float)correct / (float)count;
    return CNN_OK;
}

static cnn_status cnn__check_dataset(const char *who, const cnn_dataset *d) {
    if (!d) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL dataset", who);
    if (!d->images || (!d->labels && !d->targets) || d->count < 1)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: the dataset needs images, labels (or targets) and a count >= 1 (count %d)", who, d->count);
    return CNN_OK;
}

CNNDEF cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *data, float *loss, float *accuracy) {
    cnn_status st = cnn__check_ready(net, "evaluate", 0);
    if (st) return st;
    if ((st = cnn__check_dataset("evaluate", data))) return st;
    return cnn__evaluate(net, data, NULL, data->count, loss, accuracy);
}

/* Seconds from some fixed point: wall-clock where the platform has it, else CPU time. */
static double cnn__seconds(void) {
#if defined(CNN__HAVE_GETTIMEOFDAY)
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
#elif !defined(CNN_NO_STDIO)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    return 0.0;
#endif
}

CNNDEF float cnn_schedule_lr(const cnn_fit_opts *opts, int epoch) {
    const float base = opts && opts->sgd.optimizer != CNN_OPTIM_SGD ? 0.001f : 0.01f;
    float lr = opts && opts->sgd.learning_rate > 0.0f ? opts->sgd.learning_rate : base;
    if (!opts) return lr;
    switch (opts->schedule) {
    case CNN_SCHEDULE_STEP: {
        float gamma = opts->gamma != 0.0f ? opts->gamma : 0.1f;   /* NaN stays NaN: cnn_fit refuses it */
        int period = opts->step_epochs > 0 ? opts->step_epochs : 10;
        return lr * (float)pow((double)gamma, (double)(epoch / period));
    }
    case CNN_SCHEDULE_COSINE: {
        int epochs = opts->epochs > 0 ? opts->epochs : 10;
        return lr * 0.5f * (float)(1.0 + cos(3.141592653589793 * (double)epoch / (double)epochs));
    }
    default: return lr;
    }
}

#ifndef CNN_NO_STDIO
/* The default progress display: one line per epoch on stderr, redrawn as batches finish. */
CNNDEF int cnn_progress_bar(const cnn_progress *p, void *user) {
    enum { WIDTH = 24 };
    char bar[WIDTH + 1], acc[32], val_acc[32];
    int filled = p->batches ? (int)((long long)WIDTH * p->batch / p->batches) : WIDTH, i;
    const char *cr = "\r";
    (void)user;
#ifdef CNN__POSIX_FILES
    /* Carriage-return redraws only on a terminal; a log file gets one line per epoch. */
    if (!isatty(STDERR_FILENO)) {
        if (!p->epoch_done) return 0;
        cr = "";
    }
#endif
    if (!p->epoch_done) {
        /* Redraw about 40 times an epoch, not after every batch. */
        int every = p->batches / 40 + 1;
        if (p->batch != 1 && p->batch != p->batches && p->batch % every) return 0;
    }
    for (i = 0; i < WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = '\0';
    acc[0] = val_acc[0] = '\0';           /* regression reports no accuracy (-1) */
    if (p->accuracy >= 0.0f) cnn__format(acc, sizeof acc, "  acc %.2f%%", 100.0 * p->accuracy);
    if (p->val_accuracy >= 0.0f) cnn__format(val_acc, sizeof val_acc, "  val_acc %.2f%%", 100.0 * p->val_accuracy);
    if (!p->epoch_done) {
        double left = p->images_per_second > 0 && p->batch ? p->seconds * (p->batches - p->batch) / p->batch : 0.0;
        fprintf(stderr, "\repoch %d/%d [%s] %d/%d  loss %.4f%s  %.0f img/s  %.0fs left   ",
                p->epoch, p->epochs, bar, p->batch, p->batches, (double)p->loss, acc,
                p->images_per_second, left);
    } else if (p->val_loss >= 0.0f) {
        fprintf(stderr, "%sepoch %d/%d [%s] loss %.4f%s  val_loss %.4f%s  %.1fs  %.0f img/s%s\n",
                cr, p->epoch, p->epochs, bar, (double)p->loss, acc, (double)p->val_loss,
                val_acc, p->seconds, p->images_per_second, p->improved ? "  *" : "");
    } else {
        fprintf(stderr, "%sepoch %d/%d [%s] loss %.4f%s  %.1fs  %.0f img/s\n",
                cr, p->epoch, p->epochs, bar, (double)p->loss, acc, p->seconds, p->images_per_second);
    }
    fflush(stderr);
    return 0;
}
#endif

static int cnn__report(const cnn_fit_opts *o, const cnn_progress *p) {
    if (o->progress) return o->progress(p, o->user);
#ifndef CNN_NO_STDIO
    if (!o->quiet) return cnn_progress_bar(p, NULL);
#endif
    return 0;
}

CNNDEF cnn_status cnn_fit(cnn_net *net, const cnn_dataset *train, const cnn_fit_opts *opts, cnn_fit_result *result) {
    cnn_fit_opts o;
    cnn_fit_result res;
    cnn_progress p;
    cnn_rng shuffle;
    int *index = NULL, n_train, n_val = 0, batch, epoch, since_best = 0, stop = 0, has_val, k, min_batch = 1;
    float best_val = FLT_MAX;
    cnn_status st = cnn__check_ready(net, "fit", 1);
    if (st) return st;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    if ((st = cnn__check_dataset("fit", train))) return st;
    if (o.validation && (st = cnn__check_dataset("fit (validation set)", o.validation))) return st;
    if ((train->targets || (o.validation && o.validation->targets)) && net->loss != CNN_LOSS_MSE)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: the dataset has regression targets, the network's loss is softmax cross-entropy; real-valued targets need CNN_LOSS_MSE (cnn_net_opts.loss)");
    if ((st = cnn__sgd_settings(&o.sgd, &o.sgd)) || (st = cnn__check_optimizer(net, &o.sgd, "fit"))) return st;
    if (o.epochs == 0) o.epochs = 10;
    batch = o.batch_size ? o.batch_size : net->max_batch;
    if (o.epochs < 0) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: %d epochs: must be at least 1 (0: the default 10)", o.epochs);
    if (batch < 1 || batch > net->max_batch)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: batch_size %d: must be 1 to the network's max_batch %d", batch, net->max_batch);
    if (o.schedule != CNN_SCHEDULE_CONSTANT && o.schedule != CNN_SCHEDULE_STEP && o.schedule != CNN_SCHEDULE_COSINE)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: unknown schedule %d", (int)o.schedule);
    if (!(o.gamma >= 0.0f && o.gamma < FLT_MAX) || o.step_epochs < 0)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: schedule gamma %f and step_epochs %d must be positive and finite (0: the defaults 0.1 and 10)",
                         (double)o.gamma, o.step_epochs);
    {   /* the step schedule's rates run monotonically from the first epoch to the last */
        const float first = cnn_schedule_lr(&o, 0), last = cnn_schedule_lr(&o, o.epochs - 1);
        if (!(first > 0.0f && first <= 1e6f && last > 0.0f && last <= 1e6f))
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT,
                             "fit: the schedule takes the learning rate from %g (epoch 1) to %g (epoch %d): it must stay in (0, 1e6]; lower gamma (%g) or step_epochs (%d)",
                             (double)first, (double)last, o.epochs, (double)(o.gamma ? o.gamma : 0.1f), o.step_epochs ? o.step_epochs : 10);
    }
    if (!(o.validation_fraction >= 0.0f && o.validation_fraction < 1.0f))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: validation_fraction %f must be in [0, 1)", (double)o.validation_fraction);
    if (!o.validation && o.validation_fraction > 0.0f) {
        n_val = (int)((double)train->count * o.validation_fraction + 0.5);
        if (n_val < 1) n_val = 1;
        if (n_val >= train->count)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: validation_fraction %f of %d images leaves none to train on",
                             (double)o.validation_fraction, train->count);
    }
    has_val = o.validation != NULL || n_val > 0;
    if (o.patience < 0 || (o.patience > 0 && !has_val))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: early stopping (patience %d) needs a validation set or validation_fraction", o.patience);
    if (o.patience > 0 && !net->best_params)
        return cnn__fail(CNN_ERR_STATE, "fit: early stopping (patience %d) keeps the best epoch's weights, which this network was built without: build it with cnn_build_opts.with_early_stopping = 1",
                         o.patience);
    n_train = train->count - n_val;
    for (k = 0; k < net->layer_count; k++) {   /* batch norm of 1 x 1 maps (or vectors) needs 2 images */
        const cnn_layer *l = &net->layers[k];
        if (l->kind != CNN_LAYER_BATCHNORM || l->out_h * l->out_w > 1) continue;
        min_batch = 2;
        if (CNN__MIN(batch, n_train) < 2)
            return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "fit: layer %d (batchnorm, %d features) normalises each over the batch: it needs batches of 2 or more "
                             "(batch_size %d, %d training images)", k, l->out_c, batch, n_train);
    }

    index = (int *)CNN_MALLOC((size_t)train->count * sizeof(int), net->arena.alloc_ctx);
    if (!index) return cnn__fail(CNN_ERR_OUT_OF_MEMORY, "fit: cannot allocate the index of %d images", train->count);
    for (k = 0; k < train->count; k++) index[k] = k;
    cnn_rng_seed(&shuffle, o.seed);
    if (n_val) {   /* one seeded permutation; its tail is the validation set for every epoch */
        for (k = train->count - 1; k > 0; k--) {
            int j = (int)cnn_rng_below(&shuffle, (uint32_t)k + 1), t = index[k];
            index[k] = index[j]; index[j] = t;
        }
    }
    memset(&res, 0, sizeof res);
    res.val_loss = res.val_accuracy = -1.0f;

    for (epoch = 0; epoch < o.epochs && !stop; epoch++) {
        cnn_sgd_opts sgd = o.sgd;      /* settled above; only the rate changes, checked above */
        double t0 = cnn__seconds(), loss_sum = 0.0;
        int correct = 0, seen = 0, b, batches = (n_train + batch - 1) / batch;
        sgd.learning_rate = cnn_schedule_lr(&o, epoch);
        for (k = n_train - 1; k > 0; k--) {       /* Fisher-Yates over the training part */
            int j = (int)cnn_rng_below(&shuffle, (uint32_t)k + 1), t = index[k];
            index[k] = index[j]; index[j] = t;
        }
        memset(&p, 0, sizeof p);
        p.epoch = epoch + 1; p.epochs = o.epochs; p.batches = batches; p.learning_rate = sgd.learning_rate;
        p.val_loss = p.val_accuracy = -1.0f;
        for (b = 0; b < batches; b++) {
            int start = b * batch, size = CNN__MIN(batch, n_train - start), out = cnn_net_output_size(net);
            float loss;
            const float *logits;
            if (size < min_batch) continue;   /* a last lone image: PyTorch's drop_last */
            cnn__gather_batch(net, train->images, train->labels, index + start, size);
            if ((st = cnn_forward(net, net->input, size, 1))) goto done;
            logits = cnn_output(net);
            if (train->targets) {      /* regression: the targets of the batch, read through the index */
                net->grad_first = NULL;
                st = cnn__target_loss(net, logits, train->targets, index + start, size, &loss, net->grad_a);
                if (st == CNN_OK) cnn__backward(net);
            } else {
                for (k = 0; k < size; k++) correct += cnn__argmax(logits + (size_t)k * out, out) == net->labels[k];
                st = cnn_backward(net, net->labels, &loss);
            }
            if (st == CNN_OK) st = cnn__optimizer_step(net, &sgd);
            if (st == CNN_ERR_NUMERIC) {   /* the weights are those of the last good step */
                char why[400];
                cnn__format(why, sizeof why, "%s", cnn_last_error());
                st = cnn__fail(CNN_ERR_NUMERIC, "fit: epoch %d, batch %d: %s; lower the learning rate (now %g) or check the data",
                               epoch + 1, b + 1, why, (double)sgd.learning_rate);
            }
            if (st) goto done;
            loss_sum += (double)loss * size;
            seen += size;
            p.batch = b + 1;
            p.loss = (float)(loss_sum / seen);
            p.accuracy = train->targets ? -1.0f : (float)correct / (float)seen;
            p.seconds = cnn__seconds() - t0;
            p.images_per_second = p.seconds > 0 ? seen / p.seconds : 0.0;
            if (cnn__report(&o, &p)) { stop = 1; break; }
        }
        if (has_val) {
            if (o.validation) st = cnn__evaluate(net, o.validation, NULL, o.validation->count, &p.val_loss, &p.val_accuracy);
            else st = cnn__evaluate(net, train, index + n_train, n_val, &p.val_loss, &p.val_accuracy);
            if (st) goto done;
            p.improved = p.val_loss < best_val;
            if (p.improved) {
                best_val = p.val_loss;
                res.best_epoch = epoch + 1;
                since_best = 0;
                if (net->best_params) memcpy(net->best_params, net->params, (net->param_floats + net->buffer_floats) * sizeof(float));
            } else {
                since_best++;
            }
            /* The figures of the weights fit leaves in the network: the best epoch's with
               early stopping (they are restored below), else the last epoch's. */
            if (p.improved || o.patience == 0) {
                res.val_loss = p.val_loss;
                res.val_accuracy = p.val_accuracy;
            }
        }
        p.epoch_done = 1;
        p.seconds = cnn__seconds() - t0;
        p.images_per_second = p.seconds > 0 ? seen / p.seconds : 0.0;
        res.epochs_run = epoch + 1;
        res.loss = p.loss;
        res.accuracy = p.accuracy;
        if (cnn__report(&o, &p)) stop = 1;
        if (o.patience > 0 && since_best >= o.patience) { res.stopped_early = 1; stop = 1; }
    }
    /* With early stopping, keep the weights of the best validation loss, not the last. */
    if (o.patience > 0 && res.best_epoch > 0) memcpy(net->params, net->best_params, (net->param_floats + net->buffer_floats) * sizeof(float));
done:
    CNN_FREE(index, net->arena.alloc_ctx);
    if (result) *result = res;
    return st;
}

/* ============================================================================================
   11. Save and load

   The file, every integer a little-endian uint32 and every float a little-endian IEEE-754
   float32 (see docs/design.md):
       magic        8 bytes "CNNH\r\n\x1a\n" (the \r\n and \x1a catch text-mode mangling)
       version      2 (version 1 is still read: its records have the first 20 fields)
       loss, input channels, height, width, layer count
       per layer    32 fields: kind, activation, alpha (float bits), dropout rate (float
                    bits), has_bias, filters/units, kernel or window h, w, stride h, w,
                    dilation h, w, pad top, bottom, left, right, pool kind, ceil mode,
                    count_pad, groups, then the fields of the later layers (docs/design.md)
       tensor count, then per tensor: ndim, dims[ndim], the floats
                    (conv weights K,C,KH,KW then bias K; dense weights OUT,IN then bias OUT;
                    batch norm gamma, beta, running mean, running variance, C each)
       optimizer    (version 2) the state kind (0 none, 1 SGD velocity, 2 Adam's moments),
                    the step count, then for each trainable tensor (each layer's weights,
                    then its bias) its state tensors, stored as the tensor is: kind 1 its
                    velocity, kind 2 its first moment m, then its second moment v
       CRC-32 (IEEE 802.3, as zlib) of every byte before it
   A version-1 record is a version-2 record cut after its 20th field: the fields added later
   read as 0, which means their default (groups 0 = 1), so an old file describes the same
   network. Fields a layer does not use are 0.
   ============================================================================================ */

#define CNN__RECORD_FIELDS 32           /* in a version-2 file                                */
#define CNN__RECORD_FIELDS_V1 20
static const unsigned char cnn__magic[8] = {'C', 'N', 'N', 'H', '\r', '\n', 0x1a, '\n'};

/* Every load and save goes through one stream: a reader or a writer callback (memory, a file,
   or the caller's), with the running CRC-32 of what passed through it. */
typedef struct cnn__stream {
    cnn_read_fn read;
    cnn_write_fn write;
    void *user;
    int (*rewind)(void *user);  /* back to the first byte (0: done), or NULL: a one-pass reader */
    uint32_t crc;
    uint32_t table[256];
    int failed;                 /* a write failed: the writes after it are skipped */
    uint32_t version;           /* reading: the file's format version */
} cnn__stream;

static void cnn__stream_start(cnn__stream *io, cnn_read_fn read, cnn_write_fn write, void *user, int (*rewind)(void *)) {
    uint32_t i, c;
    int k;
    io->read = read;
    io->write = write;
    io->user = user;
    io->rewind = rewind;
    io->crc = 0xffffffffu;
    io->failed = 0;
    for (i = 0; i < 256; i++) {         /* the reflected CRC-32 polynomial 0xEDB88320 */
        for (c = i, k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        io->table[i] = c;
    }
}

static void cnn__crc_update(cnn__stream *io, const unsigned char *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) io->crc = io->table[(io->crc ^ p[i]) & 0xff] ^ (io->crc >> 8);
}

static void cnn__put_u32_le(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static uint32_t cnn__get_u32_le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t cnn__float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float cnn__bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void cnn__write(cnn__stream *io, const void *p, size_t n) {
    if (io->failed) return;
    cnn__crc_update(io, (const unsigned char *)p, n);
    if (io->write(io->user, p, n) != 0) io->failed = 1;
}
static void cnn__write_u32(cnn__stream *io, uint32_t v) { unsigned char b[4]; cnn__put_u32_le(b, v); cnn__write(io, b, 4); }
static void cnn__write_floats(cnn__stream *io, const float *v, size_t n) {
    unsigned char buf[4096];
    size_t i, k;
    for (i = 0; i < n; i += k) {
        size_t chunk = CNN__MIN(n - i, sizeof buf / 4);
        for (k = 0; k < chunk; k++) cnn__put_u32_le(buf + 4 * k, cnn__float_bits(v[i + k]));
        cnn__write(io, buf, 4 * chunk);
    }
}

/* The memory reader and writer: a buffer, its size and a position. */
typedef struct cnn__memory { unsigned char *out; const unsigned char *in; size_t size, at; } cnn__memory;

static size_t cnn__memory_read(void *user, void *data, size_t size) {
    cnn__memory *m = (cnn__memory *)user;
    const size_t n = CNN__MIN(size, m->size - m->at);
    if (n) memcpy(data, m->in + m->at, n);
    m->at += n;
    return n;
}
static int cnn__memory_rewind(void *user) { ((cnn__memory *)user)->at = 0; return 0; }
static int cnn__memory_write(void *user, const void *data, size_t size) {
    cnn__memory *m = (cnn__memory *)user;
    if (size > m->size - m->at) return 1;
    memcpy(m->out + m->at, data, size);
    m->at += size;
    return 0;
}
/* Counts what would be written: the size of a model before writing it. */
static int cnn__count_write(void *user, const void *data, size_t size) {
    (void)data;
    ((cnn__memory *)user)->at += size;
    return 0;
}

/* A layer as its 20-field record: what the file stores and what architectures compare by. */
static void cnn__layer_record(const cnn_layer *l, uint32_t r[CNN__RECORD_FIELDS]) {
    memset(r, 0, CNN__RECORD_FIELDS * sizeof(uint32_t));
    r[0] = (uint32_t)l->kind;
    r[1] = (uint32_t)l->act;
    r[2] = cnn__float_bits(l->act == CNN_ACT_LEAKY_RELU ? l->alpha : 0.0f);
    r[3] = cnn__float_bits(l->rate);
    r[4] = (uint32_t)l->has_bias;
    if (l->kind == CNN_LAYER_CONV) {
        r[19] = (uint32_t)cnn__conv2d_groups(&l->conv);
        r[5] = (uint32_t)l->conv.k;
        r[6] = (uint32_t)l->conv.kh; r[7] = (uint32_t)l->conv.kw;
        r[8] = (uint32_t)l->conv.stride_h; r[9] = (uint32_t)l->conv.stride_w;
        r[10] = (uint32_t)l->conv.dilation_h; r[11] = (uint32_t)l->conv.dilation_w;
        r[12] = (uint32_t)l->conv.pad_top; r[13] = (uint32_t)l->conv.pad_bottom;
        r[14] = (uint32_t)l->conv.pad_left; r[15] = (uint32_t)l->conv.pad_right;
    } else if (l->kind == CNN_LAYER_CONV_TRANSPOSE) {   /* PyTorch's padding, on both sides */
        r[5] = (uint32_t)l->out_c;
        r[6] = (uint32_t)l->conv.kh; r[7] = (uint32_t)l->conv.kw;
        r[8] = (uint32_t)l->conv.stride_h; r[9] = (uint32_t)l->conv.stride_w;
        r[10] = (uint32_t)l->conv.dilation_h; r[11] = (uint32_t)l->conv.dilation_w;
        r[12] = r[13] = (uint32_t)l->conv.pad_top;
        r[14] = r[15] = (uint32_t)l->conv.pad_left;
        r[19] = (uint32_t)cnn__conv2d_groups(&l->conv);
        r[20] = (uint32_t)l->out_pad_h; r[21] = (uint32_t)l->out_pad_w;
    } else if (l->kind == CNN_LAYER_POOL) {
        r[6] = (uint32_t)l->pool.kh; r[7] = (uint32_t)l->pool.kw;
        r[8] = (uint32_t)l->pool.stride_h; r[9] = (uint32_t)l->pool.stride_w;
        r[12] = (uint32_t)l->pool.pad_top; r[13] = (uint32_t)l->pool.pad_bottom;
        r[14] = (uint32_t)l->pool.pad_left; r[15] = (uint32_t)l->pool.pad_right;
        r[16] = (uint32_t)l->pool_kind; r[17] = (uint32_t)l->pool.ceil_mode; r[18] = (uint32_t)l->pool.count_pad;
    } else if (l->kind == CNN_LAYER_DENSE) {
        r[5] = (uint32_t)l->out_c;
    } else if (l->kind == CNN_LAYER_BATCHNORM) {       /* (momentum -0: CNN_BATCHNORM_MOMENTUM_ZERO) */
        r[28] = cnn__float_bits(l->eps);
        r[29] = cnn__float_bits(l->momentum);
    } else if (l->kind == CNN_LAYER_UPSAMPLE) {   /* the scale as asked (0: a size was), the size as resolved */
        r[22] = (uint32_t)l->up.mode; r[23] = (uint32_t)l->up.align_corners;
        r[24] = (uint32_t)l->up_scale_h; r[25] = (uint32_t)l->up_scale_w;
        r[26] = (uint32_t)l->up.out_h; r[27] = (uint32_t)l->up.out_w;
    }
}

/* Adds the layer a record describes (its own checks reject impossible values). Every
   message names the layer once: the cnn_add_* calls' own ("layer 1 (conv, input ...): ...")
   or, for what is checked here, "layer <index>: ...". */
static cnn_status cnn__add_from_record(cnn_net *net, int index, const uint32_t r[CNN__RECORD_FIELDS]) {
    int i;
    for (i = 5; i < CNN__RECORD_FIELDS; i++)          /* 28 and 29 hold the bits of floats */
        if (i != 28 && i != 29 && r[i] > (uint32_t)INT_MAX) return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: field %d holds %u", index, i, (unsigned)r[i]);
    if (r[1] >= (uint32_t)CNN_ACTIVATION_COUNT || r[4] > 1)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: activation %u or bias flag %u is out of range", index, (unsigned)r[1], (unsigned)r[4]);
    switch (r[0]) {
    case CNN_LAYER_CONV: {
        cnn_conv_opts o;
        memset(&o, 0, sizeof o);
        o.filters = (int)r[5];
        o.kernel_h = (int)r[6]; o.kernel_w = (int)r[7];
        o.stride_h = (int)r[8]; o.stride_w = (int)r[9];
        o.dilation_h = (int)r[10]; o.dilation_w = (int)r[11];
        o.padding = CNN_PAD_EXPLICIT;
        o.pad_top = (int)r[12]; o.pad_bottom = (int)r[13]; o.pad_left = (int)r[14]; o.pad_right = (int)r[15];
        o.no_bias = !r[4];
        o.activation = (cnn_activation)r[1];
        o.alpha = cnn__bits_float(r[2]);
        if (!o.kernel_h || !o.kernel_w || !o.stride_h || !o.stride_w || !o.dilation_h || !o.dilation_w)
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: a conv layer with a zero kernel, stride or dilation", index);
        o.groups = (int)r[19];                           /* 0 in a version-1 file: 1 */
        return cnn_add_conv(net, &o);
    }
    case CNN_LAYER_POOL: {
        cnn_pool_opts o;
        memset(&o, 0, sizeof o);
        if (r[16] > 1 || r[17] > 1 || r[18] > 1) return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: pool flags out of range", index);
        o.kind = (cnn_pool_kind)r[16];
        o.size_h = (int)r[6]; o.size_w = (int)r[7];
        o.stride_h = (int)r[8]; o.stride_w = (int)r[9];
        o.pad_top = (int)r[12]; o.pad_bottom = (int)r[13]; o.pad_left = (int)r[14]; o.pad_right = (int)r[15];
        o.ceil_mode = (int)r[17]; o.count_pad = (int)r[18];
        if (!o.size_h || !o.size_w || !o.stride_h || !o.stride_w)
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: a pool layer with a zero window or stride", index);
        return cnn_add_pool(net, &o);
    }
    case CNN_LAYER_GLOBAL_AVG_POOL: return cnn_add_global_avg_pool(net);
    case CNN_LAYER_GLOBAL_MAXPOOL: return cnn_add_global_maxpool(net);
    case CNN_LAYER_UPSAMPLE: {
        cnn_upsample_opts o;
        cnn_status st;
        memset(&o, 0, sizeof o);
        if (r[22] >= (uint32_t)CNN_UPSAMPLE_MODE_COUNT || r[23] > 1 || !r[26] || !r[27] || !r[24] != !r[25])
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: upsampling mode %u, align_corners %u, scale %ux%u, size %ux%u: out of range",
                             index, (unsigned)r[22], (unsigned)r[23], (unsigned)r[24], (unsigned)r[25], (unsigned)r[26], (unsigned)r[27]);
        o.mode = (cnn_upsample_mode)r[22];
        o.align_corners = (int)r[23];
        if (r[24]) { o.scale_h = (int)r[24]; o.scale_w = (int)r[25]; }
        else { o.out_h = (int)r[26]; o.out_w = (int)r[27]; }
        if ((st = cnn_add_upsample(net, &o))) return st;
        if (net->layers[net->layer_count - 1].out_h != (int)r[26] || net->layers[net->layer_count - 1].out_w != (int)r[27])
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: upsampling by %ux%u gives %dx%d, the file says %ux%u", index, (unsigned)r[24],
                             (unsigned)r[25], net->layers[net->layer_count - 1].out_h, net->layers[net->layer_count - 1].out_w,
                             (unsigned)r[26], (unsigned)r[27]);
        return CNN_OK;
    }
    case CNN_LAYER_DENSE: {
        cnn_dense_opts o;
        memset(&o, 0, sizeof o);
        o.units = (int)r[5];
        o.no_bias = !r[4];
        o.activation = (cnn_activation)r[1];
        o.alpha = cnn__bits_float(r[2]);
        return cnn_add_dense(net, &o);
    }
    case CNN_LAYER_ACTIVATION: return cnn_add_activation(net, (cnn_activation)r[1], cnn__bits_float(r[2]));
    case CNN_LAYER_DROPOUT: return cnn_add_dropout(net, cnn__bits_float(r[3]));
    case CNN_LAYER_FLATTEN: return cnn_add_flatten(net);
    case CNN_LAYER_CONV_TRANSPOSE: {
        cnn_conv_transpose_opts o;
        memset(&o, 0, sizeof o);
        o.filters = (int)r[5];
        o.kernel_h = (int)r[6]; o.kernel_w = (int)r[7];
        o.stride_h = (int)r[8]; o.stride_w = (int)r[9];
        o.dilation_h = (int)r[10]; o.dilation_w = (int)r[11];
        o.pad_h = (int)r[12]; o.pad_w = (int)r[14];
        o.output_padding_h = (int)r[20]; o.output_padding_w = (int)r[21];
        o.groups = (int)r[19];
        o.no_bias = !r[4];
        o.activation = (cnn_activation)r[1];
        o.alpha = cnn__bits_float(r[2]);
        if (!o.kernel_h || !o.kernel_w || !o.stride_h || !o.stride_w || !o.dilation_h || !o.dilation_w)
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: a conv_transpose layer with a zero kernel, stride or dilation", index);
        if (r[12] != r[13] || r[14] != r[15])
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: a conv_transpose layer with padding %u, %u, %u, %u: top and bottom, "
                             "left and right must agree", index, (unsigned)r[12], (unsigned)r[13], (unsigned)r[14], (unsigned)r[15]);
        return cnn_add_conv_transpose(net, &o);
    }
    case CNN_LAYER_BATCHNORM: {
        cnn_batchnorm_opts o;
        if (r[4] != 1) return cnn__fail(CNN_ERR_FILE_CORRUPT, "layer %d: a batchnorm layer without gamma and beta (bias flag 0)", index);
        o.eps = cnn__bits_float(r[28]);
        o.momentum = cnn__bits_float(r[29]);
        return cnn_add_batchnorm(net, &o);
    }
    default:
        /* A kind this build does not have: most likely a newer cnn.h wrote the file, so the
           version error, naming the layer where its name is known. */
        return cnn__fail(CNN_ERR_FILE_VERSION, "layer %d: layer kind %u is not known to this cnn.h (%s); a newer cnn.h may have written the file",
                         index, (unsigned)r[0], CNN_VERSION_STRING);
    }
}

/* The tensors a layer stores, in file order: weights, then the bias if it has one (a later
   layer kind may add more after them). 'name' is how messages call the tensor, 'npy' its part
   of a .npy file name (PyTorch's state_dict names: layer0.weight, layer0.bias). */
#define CNN__MAX_LAYER_TENSORS 4
typedef struct cnn__tensor {
    const char *name, *npy;
    uint32_t ndim, dims[4];
    float *data;
    size_t count;
} cnn__tensor;

static int cnn__layer_tensors(const cnn_layer *l, cnn__tensor t[CNN__MAX_LAYER_TENSORS]) {
    int n = 0;
    if (!l->weight_count) return 0;
    t[0].name = "weights"; t[0].npy = "weight";
    if (l->kind == CNN_LAYER_BATCHNORM) {    /* gamma, beta, running mean, running variance: C each */
        static const char *const names[4][2] = { { "gamma", "weight" }, { "beta", "bias" },
                                                 { "running mean", "running_mean" }, { "running variance", "running_var" } };
        float *const data[4] = { l->w, l->b, l->running_mean, l->running_var };
        for (n = 0; n < 4; n++) {
            t[n].name = names[n][0]; t[n].npy = names[n][1];
            t[n].ndim = 1; t[n].dims[0] = (uint32_t)l->out_c;
            t[n].data = data[n]; t[n].count = (size_t)l->out_c;
        }
        return 4;
    }
    if (l->kind == CNN_LAYER_CONV || l->kind == CNN_LAYER_CONV_TRANSPOSE) {   /* transposed: c x k/groups x kh x kw */
        t[0].ndim = 4;
        t[0].dims[0] = (uint32_t)l->conv.k; t[0].dims[1] = (uint32_t)(l->conv.c / cnn__conv2d_groups(&l->conv));
        t[0].dims[2] = (uint32_t)l->conv.kh; t[0].dims[3] = (uint32_t)l->conv.kw;
    } else {
        t[0].ndim = 2;
        t[0].dims[0] = (uint32_t)l->out_c; t[0].dims[1] = (uint32_t)cnn__layer_in_size(l);
    }
    t[0].data = l->w; t[0].count = l->weight_count; n = 1;
    if (l->bias_count) {
        t[1].name = "bias"; t[1].npy = "bias";
        t[1].ndim = 1; t[1].dims[0] = (uint32_t)l->bias_count; t[1].data = l->b; t[1].count = l->bias_count;
        n = 2;
    }
    return n;
}

/* The tensors an optimizer steps, of those a layer stores: its weights and its bias, the
   first ones. Returns how many. */
static int cnn__trainable_tensors(const cnn_layer *l, cnn__tensor t[CNN__MAX_LAYER_TENSORS]) {
    const int n = cnn__layer_tensors(l, t), trainable = (l->weight_count != 0) + (l->bias_count != 0);
    return CNN__MIN(n, trainable);
}

/* Where the state of kind 1 (velocity) or 2 (moment 'which': 0 m, 1 v) of a parameter tensor
   lies: at the tensor's offset in params. */
static float *cnn__state_of(const cnn_net *net, uint32_t kind, int which, const float *param) {
    float *base = kind == 1 ? net->velocity : which ? net->adam_v : net->adam_m;
    return base + (param - net->params);
}

/* The optimizer section: the state the last step moved (kind 0 when the network holds none,
   or no step has moved any since build or reset), so that training resumes where it was. */
static void cnn__save_state(const cnn_net *net, cnn__stream *io) {
    const uint32_t kind = (net->state_kind == 1 && net->velocity) ? 1 : (net->state_kind == 2 && net->adam_m) ? 2 : 0;
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS];
    int i, t, d, n, s;
    cnn__write_u32(io, kind);
    cnn__write_u32(io, net->step);
    for (i = 0; kind && i < net->layer_count; i++) {
        n = cnn__trainable_tensors(&net->layers[i], ts);
        for (t = 0; t < n; t++)
            for (s = 0; s < (int)kind; s++) {
                cnn__write_u32(io, ts[t].ndim);
                for (d = 0; d < (int)ts[t].ndim; d++) cnn__write_u32(io, ts[t].dims[d]);
                cnn__write_floats(io, cnn__state_of(net, kind, s, ts[t].data), ts[t].count);
            }
    }
}

static cnn_status cnn__save_to(const cnn_net *net, cnn__stream *io) {
    uint32_t r[CNN__RECORD_FIELDS], tensors = 0;
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS];
    int i, t, d, n;
    unsigned char crc[4];
    cnn__write(io, cnn__magic, sizeof cnn__magic);
    cnn__write_u32(io, CNN_FILE_VERSION);
    cnn__write_u32(io, (uint32_t)net->loss);
    cnn__write_u32(io, (uint32_t)net->in_c);
    cnn__write_u32(io, (uint32_t)net->in_h);
    cnn__write_u32(io, (uint32_t)net->in_w);
    cnn__write_u32(io, (uint32_t)net->layer_count);
    for (i = 0; i < net->layer_count; i++) {
        cnn__layer_record(&net->layers[i], r);
        for (t = 0; t < CNN__RECORD_FIELDS; t++) cnn__write_u32(io, r[t]);
        tensors += (uint32_t)cnn__layer_tensors(&net->layers[i], ts);
    }
    cnn__write_u32(io, tensors);
    for (i = 0; i < net->layer_count; i++) {
        n = cnn__layer_tensors(&net->layers[i], ts);
        for (t = 0; t < n; t++) {
            cnn__write_u32(io, ts[t].ndim);
            for (d = 0; d < (int)ts[t].ndim; d++) cnn__write_u32(io, ts[t].dims[d]);
            cnn__write_floats(io, ts[t].data, ts[t].count);
        }
    }
    cnn__save_state(net, io);
    cnn__put_u32_le(crc, io->crc ^ 0xffffffffu);
    cnn__write(io, crc, 4);              /* (the CRC it adds to is not used again) */
    return io->failed ? CNN_ERR_IO : CNN_OK;
}

/* The first parameter that is NaN or infinite: its layer (-1 if none) and its index there.
   cnn_load refuses such a file, so cnn_save refuses to write one. */
static int cnn__nonfinite_parameter(const cnn_net *net, const char **which, size_t *at) {
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS];
    int i, t, n;
    size_t j;
    for (i = 0; i < net->layer_count; i++) {
        n = cnn__layer_tensors(&net->layers[i], ts);
        for (t = 0; t < n; t++)
            for (j = 0; j < ts[t].count; j++)
                if (!(ts[t].data[j] - ts[t].data[j] == 0.0f)) { *which = ts[t].name; *at = j; return i; }
    }
    return -1;
}

/* What every save checks first: a built network whose parameters are all finite. 'where'
   names the destination in the message. */
static cnn_status cnn__check_savable(const cnn_net *net, const char *who, const char *where) {
    const char *which = "";
    size_t at = 0;
    int layer;
    if (!net) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL network", who);
    if (!net->built) return cnn__fail(CNN_ERR_STATE, "%s: the network is not built, so it has no weights", who);
    if ((layer = cnn__nonfinite_parameter(net, &which, &at)) >= 0)
        return cnn__fail(CNN_ERR_NUMERIC, "%s: layer %d (%s) %s[%zu] is NaN or infinite; cnn_load would refuse the model, so %s is not written",
                         who, layer, cnn__layer_name(net->layers[layer].kind), which, at, where);
    return CNN_OK;
}

CNNDEF cnn_status cnn_save_to_memory(const cnn_net *net, void *buf, size_t cap, size_t *size) {
    cnn__stream io;
    cnn__memory m;
    cnn_status st;
    if (!size) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "save to memory: NULL size");
    if ((st = cnn__check_savable(net, "save to memory", "the buffer"))) return st;
    memset(&m, 0, sizeof m);                         /* first the size: the format is fixed */
    cnn__stream_start(&io, NULL, cnn__count_write, &m, NULL);
    cnn__save_to(net, &io);
    *size = m.at;
    if (!buf && cap == 0) return CNN_OK;             /* the size query */
    if (!buf) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "save to memory: NULL buffer of %zu bytes", cap);
    if (cap < m.at)
        return cnn__fail(CNN_ERR_OUT_OF_MEMORY, "save to memory: the model needs %zu bytes, the buffer holds %zu; nothing was written", m.at, cap);
    m.out = (unsigned char *)buf; m.size = cap; m.at = 0;
    cnn__stream_start(&io, NULL, cnn__memory_write, &m, NULL);
    return cnn__save_to(net, &io);
}

CNNDEF cnn_status cnn_save_to_callback(const cnn_net *net, cnn_write_fn write, void *user) {
    cnn__stream io;
    cnn_status st;
    if (!write) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "save to callback: NULL write function");
    if ((st = cnn__check_savable(net, "save to callback", "the model"))) return st;
    cnn__stream_start(&io, NULL, write, user, NULL);
    if (cnn__save_to(net, &io)) return cnn__fail(CNN_ERR_IO, "save to callback: the write function reported a failure");
    return CNN_OK;
}

/* ---- reading ---- */

/* Reads exactly n bytes into p (and the checksum), or fails as a truncated file. */
static cnn_status cnn__read(cnn__stream *io, void *p, size_t n, const char *what) {
    const size_t got = io->read(io->user, p, n);
    if (got == CNN_READ_ERROR) return cnn__fail(CNN_ERR_IO, "load: reading failed in the middle of %s", what);
    if (got != n) return cnn__fail(CNN_ERR_FILE_TRUNCATED, "load: the file ends in the middle of %s", what);
    cnn__crc_update(io, (const unsigned char *)p, n);
    return CNN_OK;
}
static cnn_status cnn__read_u32(cnn__stream *io, uint32_t *v, const char *what) {
    unsigned char b[4];
    cnn_status st = cnn__read(io, b, 4, what);
    if (!st) *v = cnn__get_u32_le(b);
    return st;
}

/* The first part of a model file: magic, version, header and layer records. desc receives
   the described (unbuilt) network. */
static cnn_status cnn__parse_architecture(cnn__stream *io, cnn_net *desc) {
    unsigned char magic[8];
    uint32_t version, header[5], r[CNN__RECORD_FIELDS];
    cnn_net_opts nopts;
    cnn_status st;
    int i, t, fields;
    char msg[400];
    size_t got;
    io->crc = 0xffffffffu;
    got = io->read(io->user, magic, 8);
    if (got == CNN_READ_ERROR)          /* a directory opens on some systems, then fails to read */
        return cnn__fail(CNN_ERR_IO, "load: the file cannot be read: not a regular file?");
    if (got == 0) return cnn__fail(CNN_ERR_FILE_MAGIC, "load: the file is empty, not a cnn.h model file");
    if (got != 8 || memcmp(magic, cnn__magic, 8) != 0)
        return cnn__fail(CNN_ERR_FILE_MAGIC, "load: not a cnn.h model file (wrong magic bytes)");
    cnn__crc_update(io, magic, 8);
    if ((st = cnn__read_u32(io, &version, "the header"))) return st;
    io->version = version;
    if (version < 1 || version > CNN_FILE_VERSION)
        return cnn__fail(CNN_ERR_FILE_VERSION, "load: file format version %u, this cnn.h (%s) reads versions 1 to %d",
                         (unsigned)version, CNN_VERSION_STRING, CNN_FILE_VERSION);
    fields = version == 1 ? CNN__RECORD_FIELDS_V1 : CNN__RECORD_FIELDS;
    for (i = 0; i < 5; i++) if ((st = cnn__read_u32(io, &header[i], "the header"))) return st;
    if (header[0] > 1 || header[1] > (uint32_t)INT_MAX || header[2] > (uint32_t)INT_MAX || header[3] > (uint32_t)INT_MAX ||
        header[4] < 1 || header[4] > (uint32_t)CNN_MAX_LAYERS)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "load: impossible header (loss %u, input %ux%ux%u, %u layers; at most CNN_MAX_LAYERS = %d)",
                         (unsigned)header[0], (unsigned)header[1], (unsigned)header[2], (unsigned)header[3], (unsigned)header[4], CNN_MAX_LAYERS);
    memset(&nopts, 0, sizeof nopts);
    nopts.loss = (cnn_loss)header[0];
    nopts.channels = (int)header[1]; nopts.height = (int)header[2]; nopts.width = (int)header[3];
    if (cnn_net_init(desc, &nopts)) {
        cnn__format(msg, sizeof msg, "%s", cnn_last_error());
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "load: %s", msg);
    }
    for (i = 0; i < (int)header[4]; i++) {
        memset(r, 0, sizeof r);                    /* a version-1 record's later fields */
        for (t = 0; t < fields; t++) if ((st = cnn__read_u32(io, &r[t], "a layer record"))) return st;
        if ((st = cnn__add_from_record(desc, i, r))) {
            cnn__format(msg, sizeof msg, "%s", cnn_last_error());
            return cnn__fail(st == CNN_ERR_FILE_VERSION ? st : CNN_ERR_FILE_CORRUPT, "load: %s", msg);
        }
    }
    return CNN_OK;
}

/* One stored tensor of layer i, which must have the header (ndim, dims) of 'expect': its
   values are checked (finite) and stored at into when not NULL. 'state' prefixes the
   tensor's name in messages ("" for a parameter). */
static cnn_status cnn__read_tensor(cnn__stream *io, const cnn_net *desc, int i, const cnn__tensor *expect, const char *state, float *into) {
    unsigned char buf[4096];
    uint32_t ndim, dim;
    size_t done, k;
    cnn_status st;
    int d;
    if ((st = cnn__read_u32(io, &ndim, "a tensor header"))) return st;
    if (ndim != expect->ndim)
        return cnn__fail(CNN_ERR_FILE_SHAPE, "load: layer %d (%s) %s%s has %u dimensions, expected %u",
                         i, cnn__layer_name(desc->layers[i].kind), state, expect->name, (unsigned)ndim, (unsigned)expect->ndim);
    for (d = 0; d < (int)ndim; d++) {
        if ((st = cnn__read_u32(io, &dim, "a tensor header"))) return st;
        if (dim != expect->dims[d])
            return cnn__fail(CNN_ERR_FILE_SHAPE, "load: layer %d (%s) %s%s dimension %d is %u, expected %u",
                             i, cnn__layer_name(desc->layers[i].kind), state, expect->name, d, (unsigned)dim, (unsigned)expect->dims[d]);
    }
    for (done = 0; done < expect->count; done += k) {
        size_t chunk = CNN__MIN(expect->count - done, sizeof buf / 4);
        if ((st = cnn__read(io, buf, 4 * chunk, "a tensor's values"))) return st;
        for (k = 0; k < chunk; k++) {
            float v = cnn__bits_float(cnn__get_u32_le(buf + 4 * k));
            if (!(v > -FLT_MAX && v < FLT_MAX) && !(v == FLT_MAX || v == -FLT_MAX))
                return cnn__fail(CNN_ERR_FILE_CORRUPT, "load: layer %d holds a NaN or infinite %s", i, *state ? "optimizer state" : "parameter");
            if (into) into[done + k] = v;
        }
    }
    return CNN_OK;
}

/* The optimizer section (version 2). Its state goes into target when that is a training
   build holding the state of the file's kind (velocity: with_momentum; Adam's moments:
   with_adam), with the step count; otherwise it is only checked, and the target's
   optimizer starts afresh. */
static cnn_status cnn__parse_state(cnn__stream *io, const cnn_net *desc, cnn_net *target) {
    static const char *const names[3][2] = {{"", ""}, {"velocity of ", ""}, {"first moment of ", "second moment of "}};
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS], into[CNN__MAX_LAYER_TENSORS];
    uint32_t kind, step;
    cnn_status st;
    int i, t, n, s, keep;
    if ((st = cnn__read_u32(io, &kind, "the optimizer state")) || (st = cnn__read_u32(io, &step, "the optimizer state"))) return st;
    if (kind > 2) return cnn__fail(CNN_ERR_FILE_CORRUPT, "load: optimizer state of kind %u (0 none, 1 SGD velocity, 2 Adam's moments)", (unsigned)kind);
    keep = target && target->training && (kind == 0 || (kind == 1 && target->velocity) || (kind == 2 && target->adam_m));
    for (i = 0; kind && i < desc->layer_count; i++) {
        n = cnn__trainable_tensors(&desc->layers[i], ts);
        if (keep) cnn__trainable_tensors(&target->layers[i], into);
        for (t = 0; t < n; t++)
            for (s = 0; s < (int)kind; s++)
                if ((st = cnn__read_tensor(io, desc, i, &ts[t], names[kind][s], keep ? cnn__state_of(target, kind, s, into[t].data) : NULL)))
                    return st;
    }
    if (keep) {
        target->step = step;
        target->state_kind = (int)kind;
    }
    return CNN_OK;
}

/* The rest: the tensors, the optimizer state, the checksum, the end. When target is not NULL
   (a built network with desc's architecture), the weights are stored into it, and with
   with_state the optimizer state (cnn__parse_state); otherwise they are only checked. Every
   count is checked against the architecture before anything is read into memory, so no file
   can make the reader go out of bounds. */
static cnn_status cnn__parse_tensors(cnn__stream *io, const cnn_net *desc, cnn_net *target, int with_state) {
    unsigned char buf[4];
    uint32_t tensors, expect_tensors = 0, stored_crc, computed;
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS], into[CNN__MAX_LAYER_TENSORS];
    size_t got;
    cnn_status st;
    int i, t, n;
    for (i = 0; i < desc->layer_count; i++) expect_tensors += (uint32_t)cnn__layer_tensors(&desc->layers[i], ts);
    if ((st = cnn__read_u32(io, &tensors, "the tensor count"))) return st;
    if (tensors != expect_tensors)
        return cnn__fail(CNN_ERR_FILE_SHAPE, "load: the file has %u tensors, its architecture needs %u", (unsigned)tensors, (unsigned)expect_tensors);
    for (i = 0; i < desc->layer_count; i++) {
        n = cnn__layer_tensors(&desc->layers[i], ts);
        if (target) cnn__layer_tensors(&target->layers[i], into);
        for (t = 0; t < n; t++)
            if ((st = cnn__read_tensor(io, desc, i, &ts[t], "", target ? into[t].data : NULL))) return st;
    }
    if (io->version >= 2 && (st = cnn__parse_state(io, desc, with_state ? target : NULL))) return st;
    computed = io->crc ^ 0xffffffffu;
    got = io->read(io->user, buf, 4);
    if (got == CNN_READ_ERROR) return cnn__fail(CNN_ERR_IO, "load: reading failed before the checksum");
    if (got != 4) return cnn__fail(CNN_ERR_FILE_TRUNCATED, "load: the file ends before its checksum");
    stored_crc = cnn__get_u32_le(buf);
    if (stored_crc != computed)
        return cnn__fail(CNN_ERR_FILE_CHECKSUM, "load: checksum mismatch (stored %u, computed %u): the file is damaged",
                         (unsigned)stored_crc, (unsigned)computed);
    got = io->read(io->user, buf, 1);
    if (got == CNN_READ_ERROR) return cnn__fail(CNN_ERR_IO, "load: reading failed after the checksum");
    if (got != 0) return cnn__fail(CNN_ERR_FILE_CORRUPT, "load: unexpected bytes after the checksum");
    return CNN_OK;
}

static cnn_status cnn__rewind(cnn__stream *io) {
    if (io->rewind(io->user) != 0) return cnn__fail(CNN_ERR_IO, "load: cannot go back to the start");
    return CNN_OK;
}

/* The network is parsed, built and filled in a local cnn_net and copied out only when all
   of it worked (a cnn_net holds no pointer into itself, so the copy is the network): the
   caller's 'net' is never read, and a failure at any step leaves it as it was. A stream that
   can go back is checked whole before the build (a damaged file allocates nothing); a
   one-pass stream is read into the built network, which is freed if the rest fails. */
static cnn_status cnn__load_stream(cnn_net *net, cnn__stream *io, const cnn_build_opts *build) {
    cnn_net loaded, scratch;
    cnn_status st = cnn__parse_architecture(io, &loaded);
    if (!st && io->rewind) {
        if (!(st = cnn__parse_tensors(io, &loaded, NULL, 0)) && !(st = cnn_net_build(&loaded, build))) {
            if ((st = cnn__rewind(io)) || (st = cnn__parse_architecture(io, &scratch)) || (st = cnn__parse_tensors(io, &scratch, &loaded, 1)))
                cnn_net_free(&loaded);
        }
    } else if (!st && !(st = cnn_net_build(&loaded, build))) {
        if ((st = cnn__parse_tensors(io, &loaded, &loaded, 1))) cnn_net_free(&loaded);
    }
    if (!st) *net = loaded;
    return st;
}

/* A loader's caller compiled with another CNN_MAX_LAYERS has a cnn_net of another size: the
   loaded network would not fit (or be misread), so nothing is written. */
static cnn_status cnn__check_caller_net(size_t caller_net_bytes, const char *who) {
    if (caller_net_bytes != sizeof(cnn_net))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT,
                         "%s: the caller's cnn_net is %zu bytes, the implementation's %zu (CNN_MAX_LAYERS %d): compile every file with the same CNN_MAX_LAYERS and cnn.h",
                         who, caller_net_bytes, sizeof(cnn_net), CNN_MAX_LAYERS);
    return CNN_OK;
}

CNNDEF cnn_status (cnn_load_from_memory)(cnn_net *net, const void *data, size_t size, const cnn_build_opts *build) {
    return cnn__load_from_memory_sized(net, data, size, sizeof(cnn_net), build);
}

CNNDEF cnn_status cnn__load_from_memory_sized(cnn_net *net, const void *data, size_t size, size_t caller_net_bytes, const cnn_build_opts *build) {
    cnn__stream io;
    cnn__memory m;
    if (!net) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load from memory: NULL network");
    if (cnn__check_caller_net(caller_net_bytes, "load from memory")) return CNN_ERR_INVALID_ARGUMENT;
    if (!data && size) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load from memory: NULL data of %zu bytes", size);
    memset(&m, 0, sizeof m);
    m.in = (const unsigned char *)data; m.size = data ? size : 0;
    cnn__stream_start(&io, cnn__memory_read, NULL, &m, cnn__memory_rewind);
    return cnn__load_stream(net, &io, build);
}

CNNDEF cnn_status (cnn_load_from_callback)(cnn_net *net, cnn_read_fn read, void *user, const cnn_build_opts *build) {
    return cnn__load_from_callback_sized(net, read, user, sizeof(cnn_net), build);
}

CNNDEF cnn_status cnn__load_from_callback_sized(cnn_net *net, cnn_read_fn read, void *user, size_t caller_net_bytes, const cnn_build_opts *build) {
    cnn__stream io;
    if (!net || !read) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load from callback: NULL network or read function");
    if (cnn__check_caller_net(caller_net_bytes, "load from callback")) return CNN_ERR_INVALID_ARGUMENT;
    cnn__stream_start(&io, read, NULL, user, NULL);
    return cnn__load_stream(net, &io, build);
}

/* Weights into a built network whose architecture must be the file's. A stream that can go
   back is checked whole, then read again into the weights; a one-pass stream is read into a
   copy of the parameters (allocated here, CNN_MALLOC) that replaces them only once all of
   it checked out. Either way a failure changes no weight. The optimizer state is reset:
   momentum gathered for other weights would push the loaded ones. */
static cnn_status cnn__load_weights_stream(cnn_net *net, cnn__stream *io) {
    cnn_net desc;
    uint32_t a[CNN__RECORD_FIELDS], b[CNN__RECORD_FIELDS];
    int i;
    cnn_status st = cnn__parse_architecture(io, &desc);
    if (!st && (desc.in_c != net->in_c || desc.in_h != net->in_h || desc.in_w != net->in_w || desc.layer_count != net->layer_count))
        st = cnn__fail(CNN_ERR_FILE_SHAPE, "load weights: the file's network takes %dx%dx%d with %d layers, this one %dx%dx%d with %d layers",
                       desc.in_c, desc.in_h, desc.in_w, desc.layer_count, net->in_c, net->in_h, net->in_w, net->layer_count);
    for (i = 0; !st && i < desc.layer_count; i++) {
        cnn__layer_record(&desc.layers[i], a);
        cnn__layer_record(&net->layers[i], b);
        if (memcmp(a, b, sizeof a) != 0) {
            char fd[64], nd[64];
            cnn__describe_layer(&desc.layers[i], 0, fd, sizeof fd);   /* files hold no algorithm */
            cnn__describe_layer(&net->layers[i], 0, nd, sizeof nd);
            st = cnn__fail(CNN_ERR_FILE_SHAPE, "load weights: layer %d differs: the file has '%s', this network '%s'", i, fd, nd);
        }
    }
    if (st) return st;
    if (io->rewind) {
        if ((st = cnn__parse_tensors(io, &desc, NULL, 0))) return st;
        if ((st = cnn__rewind(io)) || (st = cnn__parse_architecture(io, &desc)) || (st = cnn__parse_tensors(io, &desc, net, 0))) return st;
    } else {
        cnn_net *stage = (cnn_net *)CNN_MALLOC(sizeof(cnn_net), net->arena.alloc_ctx);
        const size_t floats = net->param_floats + net->buffer_floats;   /* batch norm's statistics too */
        float *copy = stage ? (float *)CNN_MALLOC(floats * sizeof(float) + 1, net->arena.alloc_ctx) : NULL;
        if (!copy) {
            if (stage) CNN_FREE(stage, net->arena.alloc_ctx);
            return cnn__fail(CNN_ERR_OUT_OF_MEMORY, "load weights: cannot allocate a copy of the %zu parameters to read into", net->param_floats);
        }
        memcpy(copy, net->params, floats * sizeof(float));   /* the padding between tensors stays 0 */
        *stage = *net;            /* the same layers, their weights pointing into the copy */
        for (i = 0; i < stage->layer_count; i++) {
            cnn_layer *l = &stage->layers[i];
            if (l->w) l->w = copy + (net->layers[i].w - net->params);
            if (l->b) l->b = copy + (net->layers[i].b - net->params);
            if (l->running_mean) l->running_mean = copy + (net->layers[i].running_mean - net->params);
            if (l->running_var) l->running_var = copy + (net->layers[i].running_var - net->params);
        }
        st = cnn__parse_tensors(io, &desc, stage, 0);
        if (!st) memcpy(net->params, copy, floats * sizeof(float));
        CNN_FREE(copy, net->arena.alloc_ctx);
        CNN_FREE(stage, net->arena.alloc_ctx);
        if (st) return st;
    }
    return cnn_net_reset_optimizer(net);
}

CNNDEF cnn_status cnn_load_weights_from_memory(cnn_net *net, const void *data, size_t size) {
    cnn__stream io;
    cnn__memory m;
    cnn_status st = cnn__check_ready(net, "load weights", 2);
    if (st) return st;
    if (!data && size) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load weights from memory: NULL data of %zu bytes", size);
    memset(&m, 0, sizeof m);
    m.in = (const unsigned char *)data; m.size = data ? size : 0;
    cnn__stream_start(&io, cnn__memory_read, NULL, &m, cnn__memory_rewind);
    return cnn__load_weights_stream(net, &io);
}

CNNDEF cnn_status cnn_load_weights_from_callback(cnn_net *net, cnn_read_fn read, void *user) {
    cnn__stream io;
    cnn_status st = cnn__check_ready(net, "load weights", 2);
    if (st) return st;
    if (!read) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load weights from callback: NULL read function");
    cnn__stream_start(&io, read, NULL, user, NULL);
    return cnn__load_weights_stream(net, &io);
}

/* ---- files: thin wrappers over the streams ---- */

#ifndef CNN_NO_STDIO
#include <errno.h>

/* The writer of a temporary file: on POSIX a descriptor (fsync needs one) behind a buffer,
   elsewhere a FILE. */
typedef struct cnn__file_writer {
    FILE *f;
    int fd;                     /* -1 where there is no POSIX */
    int failed;
    size_t buffered;            /* bytes waiting in out[] (fd mode) */
    unsigned char out[4096];
} cnn__file_writer;

/* Writes what is buffered to the descriptor, retrying short writes. */
static void cnn__flush(cnn__file_writer *w) {
#ifdef CNN__POSIX_FILES
    size_t done = 0;
    while (!w->failed && done < w->buffered) {
        const ssize_t k = write(w->fd, w->out + done, w->buffered - done);
        if (k > 0) done += (size_t)k;
        else if (k < 0 && errno == EINTR) continue;
        else w->failed = 1;
    }
#endif
    w->buffered = 0;
}

static int cnn__file_write(void *user, const void *p, size_t n) {
    cnn__file_writer *w = (cnn__file_writer *)user;
    if (w->fd < 0) return fwrite(p, 1, n, w->f) != n;
    while (n && !w->failed) {
        const size_t k = CNN__MIN(n, sizeof w->out - w->buffered);
        memcpy(w->out + w->buffered, p, k);
        w->buffered += k;
        p = (const unsigned char *)p + k;
        n -= k;
        if (w->buffered == sizeof w->out) cnn__flush(w);
    }
    return w->failed;
}

static size_t cnn__file_read(void *user, void *p, size_t n) {
    FILE *f = (FILE *)user;
    const size_t got = fread(p, 1, n, f);
    return got < n && ferror(f) ? CNN_READ_ERROR : got;
}
static int cnn__file_rewind(void *user) { return fseek((FILE *)user, 0, SEEK_SET); }

/* Creates the temporary file beside 'path' (same directory, so the rename cannot cross file
   systems), under a name nobody else uses: path.tmp- and eight random hex digits. On POSIX
   it is created with O_CREAT | O_EXCL, which fails on any existing name, a planted symlink
   included (never followed), so no other file can be overwritten through it and two saves
   to one path never share it; on a name collision it tries another. Elsewhere C99 has no
   exclusive creation: the name is checked free first (a race remains, said in the docs). */
static cnn_status cnn__create_temp(const char *path, size_t len, char *tmp, cnn__file_writer *w) {
    static unsigned long counter;
    cnn_rng rng;
    int attempt, k;
    int err = 0;
    cnn_rng_seed(&rng, (uint64_t)(uintptr_t)tmp ^ (uint64_t)(cnn__seconds() * 1e6) ^ ((uint64_t)++counter << 40)
#ifdef CNN__POSIX_FILES
                           ^ ((uint64_t)getpid() << 20)
#endif
    );
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp-", 5);
    w->f = NULL; w->fd = -1; w->failed = 0; w->buffered = 0;
    for (attempt = 0; attempt < 100; attempt++) {
        uint32_t bits = cnn_rng_u32(&rng);
        for (k = 0; k < 8; k++) tmp[len + 5 + k] = "0123456789abcdef"[(bits >> (4 * k)) & 15];
        tmp[len + 13] = '\0';
#ifdef CNN__POSIX_FILES
        {
            const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);   /* 0666 & ~umask, as fopen */
            if (fd >= 0) { w->fd = fd; return CNN_OK; }
            err = errno;
            if (err != EEXIST && err != EINTR) break;
        }
#else
        {
            FILE *probe = fopen(tmp, "rb");
            if (probe) { fclose(probe); continue; }
            if ((w->f = fopen(tmp, "wb")) != NULL) return CNN_OK;
            err = errno;
            break;
        }
#endif
    }
    return cnn__fail(CNN_ERR_IO, "save: cannot create a temporary file '%s' beside '%s': %s", tmp, path,
                     err ? strerror(err) : "every name tried exists");
}

/* After the rename: the directory entry itself must reach the disk for the new file to
   survive a power cut (POSIX; elsewhere nothing to do). Best effort: the file is in place. */
static void cnn__sync_directory(const char *path, size_t len, char *dir) {
#ifdef CNN__POSIX_FILES
    size_t cut = len;
    int fd;
    while (cut > 0 && path[cut - 1] != '/') cut--;
    if (cut == 0) { dir[0] = '.'; dir[1] = '\0'; }
    else { memcpy(dir, path, cut); dir[cut] = '\0'; }
    fd = open(dir, O_RDONLY);
    if (fd >= 0) { (void)fsync(fd); (void)close(fd); }
#else
    (void)path; (void)len; (void)dir;
#endif
}

CNNDEF cnn_status cnn_save(const cnn_net *net, const char *path) {
    char tmp[4096], where[4200];
    cnn__file_writer w;
    cnn__stream io;
    size_t len;
    int err = 0;
    cnn_status st;
    if (!net || !path) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "save: NULL network or path");
    len = strlen(path);
    if (len == 0 || len + 14 > sizeof tmp) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "save: the path is empty or longer than %d bytes", (int)sizeof tmp - 14);
    cnn__format(where, sizeof where, "'%s'", path);
    if ((st = cnn__check_savable(net, "save", where))) return st;
    /* Write a temporary file beside the target, make it durable, and rename it over the
       target only then: whatever fails, and whenever the power goes, the path holds the old
       model or the new one, never neither and never half of one. */
    if ((st = cnn__create_temp(path, len, tmp, &w))) return st;
    cnn__stream_start(&io, NULL, cnn__file_write, &w, NULL);
    st = cnn__save_to(net, &io);
    if (!st && w.fd >= 0) { cnn__flush(&w); if (w.failed) st = CNN_ERR_IO; }
    if (st) err = errno;
#ifdef CNN__POSIX_FILES
    if (!st && fsync(w.fd) != 0) { st = CNN_ERR_IO; err = errno; }
    if (close(w.fd) != 0 && !st) { st = CNN_ERR_IO; err = errno; }
#else
    if (!st && fflush(w.f) != 0) { st = CNN_ERR_IO; err = errno; }
    if (fclose(w.f) != 0 && !st) { st = CNN_ERR_IO; err = errno; }
#endif
    if (st) {
        remove(tmp);
        return cnn__fail(CNN_ERR_IO, "save: writing '%s' failed (%s); '%s' is unchanged", tmp, strerror(err), path);
    }
    if (rename(tmp, path) != 0) {
#ifdef _WIN32
        /* Windows' rename does not replace an existing file. */
        if (remove(path) == 0 && rename(tmp, path) == 0) return CNN_OK;
#endif
        err = errno;
        remove(tmp);
        return cnn__fail(CNN_ERR_IO, "save: cannot rename '%s' to '%s': %s", tmp, path, strerror(err));
    }
    cnn__sync_directory(path, len, tmp);
    return CNN_OK;
}

static FILE *cnn__open_model(const char *path, cnn_status *st) {
    FILE *f;
#ifdef CNN__POSIX_FILES
    struct stat info;
#endif
    if (!path) { *st = cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load: NULL path"); return NULL; }
#ifdef CNN__POSIX_FILES
    if (stat(path, &info) == 0 && !S_ISREG(info.st_mode)) {
        *st = cnn__fail(CNN_ERR_IO, "load: '%s' is %s, not a model file", path, S_ISDIR(info.st_mode) ? "a directory" : "not a regular file");
        return NULL;
    }
#endif
    f = fopen(path, "rb");
    if (!f) *st = cnn__fail(CNN_ERR_IO, "load: cannot open '%s': %s", path, strerror(errno));
    return f;
}

CNNDEF cnn_status (cnn_load)(cnn_net *net, const char *path, const cnn_build_opts *build) {
    return cnn__load_sized(net, path, sizeof(cnn_net), build);
}

CNNDEF cnn_status cnn__load_sized(cnn_net *net, const char *path, size_t caller_net_bytes, const cnn_build_opts *build) {
    cnn__stream io;
    cnn_status st = CNN_OK;
    FILE *f;
    if (!net) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "load: NULL network");
    if (cnn__check_caller_net(caller_net_bytes, "load")) return CNN_ERR_INVALID_ARGUMENT;
    if (!(f = cnn__open_model(path, &st))) return st;
    cnn__stream_start(&io, cnn__file_read, NULL, f, cnn__file_rewind);
    st = cnn__load_stream(net, &io, build);
    fclose(f);
    return st;
}

CNNDEF cnn_status cnn_load_weights(cnn_net *net, const char *path) {
    cnn__stream io;
    cnn_status st = cnn__check_ready(net, "load weights", 2);
    FILE *f;
    if (st) return st;
    if (!(f = cnn__open_model(path, &st))) return st;
    cnn__stream_start(&io, cnn__file_read, NULL, f, cnn__file_rewind);
    st = cnn__load_weights_stream(net, &io);
    fclose(f);
    return st;
}
#endif /* CNN_NO_STDIO */

/* --------------------------------------------------------------------------------------------
   11b. NumPy .npy files

   The header is a Python dict literal; this parser reads the three keys numpy writes, in any
   order, with either quote character, and refuses anything else by name. The checks follow
   cnn_load's: the magic, the version, the dtype (only '<f4'), the order (only C order), the
   shape against the expected one, the length of the values (a short file is truncated, a long
   one corrupt), and every value finite.
   -------------------------------------------------------------------------------------------- */

static const unsigned char cnn__npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
/* numpy itself refuses headers past 10,000 bytes (max_header_size); these are never near. */
#define CNN__NPY_MAX_HEADER 4096

static cnn_status cnn__npy_check_shape(const char *who, int ndim, const int *shape, size_t *count) {
    int d;
    if (ndim < 0 || ndim > CNN_NPY_MAX_DIMS || (ndim && !shape))
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: %d dimensions (0 to CNN_NPY_MAX_DIMS = %d, with a shape array)", who, ndim, CNN_NPY_MAX_DIMS);
    *count = 1;
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 0) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: dimension %d is %d", who, d, shape[d]);
        if (!cnn__mul(*count, (size_t)shape[d], count) || *count > ((size_t)-1 - CNN__NPY_MAX_HEADER) / 4)
            return cnn__fail(CNN_ERR_OVERFLOW, "%s: the shape's values do not fit in memory sizes", who);
    }
    return CNN_OK;
}

/* "(3, 4)", "(5,)", "()": Python's spelling of a shape tuple. */
static void cnn__npy_shape_text(char *buf, size_t cap, int ndim, const long long *dims) {
    size_t n = cnn__format(buf, cap, "(");
    int d;
    for (d = 0; d < ndim && n < cap; d++) n += cnn__format(buf + n, cap - n, d ? ", %lld" : "%lld", dims[d]);
    if (n < cap) cnn__format(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

/* The header dict padded so that the values start at a multiple of 64 (numpy's alignment):
   writes the 10-byte prefix and the text into out (at least 10 + 256 bytes), returns the
   offset of the values. */
static size_t cnn__npy_header(unsigned char *out, int ndim, const int *shape) {
    long long dims[CNN_NPY_MAX_DIMS];
    char tuple[160];
    size_t len, total;
    int d;
    for (d = 0; d < ndim; d++) dims[d] = shape[d];
    cnn__npy_shape_text(tuple, sizeof tuple, ndim, dims);
    len = cnn__format((char *)out + 10, 256, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", tuple);
    total = (10 + len + 1 + 63) / 64 * 64;       /* + the newline, rounded up to 64 */
    memset(out + 10 + len, ' ', total - 10 - len - 1);
    out[total - 1] = '\n';
    memcpy(out, cnn__npy_magic, 6);
    out[6] = 1; out[7] = 0;
    out[8] = (unsigned char)((total - 10) & 0xff); out[9] = (unsigned char)((total - 10) >> 8);
    return total;
}

/* n floats as little-endian bytes, whatever the machine's byte order. */
static void cnn__npy_put_floats(unsigned char *out, const float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++, out += 4) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        out[0] = (unsigned char)u; out[1] = (unsigned char)(u >> 8); out[2] = (unsigned char)(u >> 16); out[3] = (unsigned char)(u >> 24);
    }
}

CNNDEF size_t cnn_npy_encode(const float *data, int ndim, const int *shape, void *buf, size_t cap) {
    unsigned char header[10 + 256], *out = (unsigned char *)buf;
    size_t count = 0, at;
    if (cnn__npy_check_shape("npy encode", ndim, shape, &count)) return 0;
    if (count && !data) { cnn__fail(CNN_ERR_INVALID_ARGUMENT, "npy encode: NULL data"); return 0; }
    at = cnn__npy_header(header, ndim, shape);
    if (!buf || cap < at + 4 * count) return at + 4 * count;
    memcpy(out, header, at);
    cnn__npy_put_floats(out + at, data, count);
    return at + 4 * count;
}

typedef struct cnn__npy_lex { const char *p, *end, *who; } cnn__npy_lex;

static void cnn__npy_space(cnn__npy_lex *l) { while (l->p < l->end && (*l->p == ' ' || *l->p == '\t')) l->p++; }
static int cnn__npy_eat(cnn__npy_lex *l, char c) {
    cnn__npy_space(l);
    if (l->p < l->end && *l->p == c) { l->p++; return 1; }
    return 0;
}
/* A quoted Python string (no escapes: dtype strings and keys have none) into buf. */
static int cnn__npy_string(cnn__npy_lex *l, char *buf, size_t cap) {
    char q;
    size_t n = 0;
    cnn__npy_space(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return 0;
    q = *l->p++;
    while (l->p < l->end && *l->p != q) { if (n + 1 < cap) buf[n++] = *l->p; l->p++; }
    buf[n] = '\0';
    if (l->p >= l->end) return 0;
    l->p++;
    return 1;
}

/* Parses the header dict and compares it with the expected shape. */
static cnn_status cnn__npy_parse(const char *text, size_t len, const char *who, int ndim, const int *shape) {
    cnn__npy_lex l;
    char key[32], descr[32], got[200], want[200];
    long long dims[CNN_NPY_MAX_DIMS + 1], expect[CNN_NPY_MAX_DIMS];
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, n = 0, d;
    l.p = text; l.end = text + len; l.who = who;
    if (!cnn__npy_eat(&l, '{')) return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: the header is not a Python dict", who);
    while (!cnn__npy_eat(&l, '}')) {
        if (!cnn__npy_string(&l, key, sizeof key) || !cnn__npy_eat(&l, ':'))
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: the header dict cannot be parsed", who);
        cnn__npy_space(&l);
        if (!strcmp(key, "descr")) {
            if (!cnn__npy_string(&l, descr, sizeof descr)) return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: 'descr' is not a string", who);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if ((size_t)(l.end - l.p) >= 4 && !memcmp(l.p, "True", 4)) { fortran = 1; l.p += 4; }
            else if ((size_t)(l.end - l.p) >= 5 && !memcmp(l.p, "False", 5)) { fortran = 0; l.p += 5; }
            else return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: 'fortran_order' is neither True nor False", who);
            have_order = 1;
        } else if (!strcmp(key, "shape")) {
            if (!cnn__npy_eat(&l, '(')) return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: 'shape' is not a tuple", who);
            while (!cnn__npy_eat(&l, ')')) {
                long long v = 0;
                cnn__npy_space(&l);
                if (l.p >= l.end || *l.p < '0' || *l.p > '9' || n > CNN_NPY_MAX_DIMS)
                    return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: 'shape' is not a tuple of at most %d sizes", who, CNN_NPY_MAX_DIMS);
                while (l.p < l.end && *l.p >= '0' && *l.p <= '9') {
                    if (v > (LLONG_MAX - 9) / 10) return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: a size in 'shape' is too large", who);
                    v = v * 10 + (*l.p++ - '0');
                }
                dims[n++] = v;
                if (!cnn__npy_eat(&l, ',') && (cnn__npy_space(&l), l.p >= l.end || *l.p != ')'))
                    return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: 'shape' is not a tuple", who);
            }
            have_shape = 1;
        } else {
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: unknown key '%s' in the header", who, key);
        }
        if (!cnn__npy_eat(&l, ',') && (cnn__npy_space(&l), l.p >= l.end || *l.p != '}'))
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: the header dict cannot be parsed", who);
    }
    if (!have_descr || !have_order || !have_shape)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: the header lacks %s", who, !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
    if (strcmp(descr, "<f4") != 0)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: dtype '%s', expected '<f4' (little-endian float32; numpy: a.astype('<f4'))", who, descr);
    if (fortran)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: the values are in Fortran order, expected C order (numpy: np.ascontiguousarray)", who);
    for (d = 0; d < ndim; d++) expect[d] = shape[d];
    for (d = 0; d < ndim && n == ndim; d++) if (dims[d] != expect[d]) break;
    if (n != ndim || d < ndim) {
        cnn__npy_shape_text(got, sizeof got, n, dims);
        cnn__npy_shape_text(want, sizeof want, ndim, expect);
        return cnn__fail(CNN_ERR_FILE_SHAPE, "%s: shape %s, expected %s", who, got, want);
    }
    return CNN_OK;
}

/* The prefix: magic, version, header length. *at is where the header text starts. */
static cnn_status cnn__npy_prefix(const unsigned char *p, size_t size, const char *who, size_t *at, size_t *header_len) {
    if (size < 6 || memcmp(p, cnn__npy_magic, 6) != 0)
        return cnn__fail(CNN_ERR_FILE_MAGIC, "%s: not a .npy file (wrong magic bytes)", who);
    if (size < 10) return cnn__fail(CNN_ERR_FILE_TRUNCATED, "%s: the file ends in its prefix", who);
    if (p[6] < 1 || p[6] > 3)
        return cnn__fail(CNN_ERR_FILE_VERSION, "%s: .npy format version %u.%u, this cnn.h reads 1.0 to 3.0", who, (unsigned)p[6], (unsigned)p[7]);
    if (p[6] == 1) { *at = 10; *header_len = (size_t)p[8] | (size_t)p[9] << 8; return CNN_OK; }
    if (size < 12) return cnn__fail(CNN_ERR_FILE_TRUNCATED, "%s: the file ends in its prefix", who);
    *at = 12;
    *header_len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    return CNN_OK;
}

/* Converts count little-endian values, refusing NaN and infinity (as cnn_load does); stores
   them when out is not NULL. */
static cnn_status cnn__npy_values(const unsigned char *p, size_t count, const char *who, size_t first, float *out) {
    size_t i;
    for (i = 0; i < count; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float v;
        memcpy(&v, &u, 4);
        if (!(v >= -FLT_MAX && v <= FLT_MAX))
            return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: value %zu is NaN or infinite", who, first + i);
        if (out) out[i] = v;
    }
    return CNN_OK;
}

CNNDEF cnn_status cnn_npy_decode(const void *buf, size_t size, int ndim, const int *shape, float *data) {
    const unsigned char *p = (const unsigned char *)buf;
    const char *who = "npy decode";
    size_t count = 0, at = 0, header_len = 0;   /* set by the prefix check (gcc cannot tell) */
    cnn_status st;
    if ((st = cnn__npy_check_shape(who, ndim, shape, &count))) return st;
    if (!buf) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL buffer", who);
    if ((st = cnn__npy_prefix(p, size, who, &at, &header_len))) return st;
    if (header_len > size - at) return cnn__fail(CNN_ERR_FILE_TRUNCATED, "%s: the data ends in its header", who);
    if ((st = cnn__npy_parse((const char *)p + at, header_len, who, ndim, shape))) return st;
    at += header_len;
    if (size - at < 4 * count)
        return cnn__fail(CNN_ERR_FILE_TRUNCATED, "%s: %zu bytes of values, the shape needs %zu", who, size - at, 4 * count);
    if (size - at > 4 * count)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: %zu bytes after the %zu values", who, size - at - 4 * count, count);
    if ((st = cnn__npy_values(p + at, count, who, 0, NULL))) return st;
    if (data) cnn__npy_values(p + at, count, who, 0, data);
    return CNN_OK;
}

#ifndef CNN_NO_STDIO
CNNDEF cnn_status cnn_npy_save(const char *path, const float *data, int ndim, const int *shape) {
    unsigned char header[10 + 256], buf[4096];
    size_t count = 0, at, i, k;
    cnn_status st;
    FILE *f;
    int failed;
    if ((st = cnn__npy_check_shape("npy save", ndim, shape, &count))) return st;
    if (!path || (count && !data)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "npy save: NULL path or data");
    if (!(f = fopen(path, "wb"))) return cnn__fail(CNN_ERR_IO, "npy save: cannot create '%s': %s", path, strerror(errno));
    at = cnn__npy_header(header, ndim, shape);
    failed = fwrite(header, 1, at, f) != at;
    for (i = 0; i < count && !failed; i += k) {
        k = CNN__MIN(count - i, sizeof buf / 4);
        cnn__npy_put_floats(buf, data + i, k);
        failed = fwrite(buf, 1, 4 * k, f) != 4 * k;
    }
    if (fclose(f) != 0) failed = 1;
    if (failed) {
        int err = errno;
        remove(path);
        return cnn__fail(CNN_ERR_IO, "npy save: writing '%s' failed: %s", path, strerror(err));
    }
    return CNN_OK;
}

/* One pass over a .npy file: everything checked; the values stored when data is not NULL. */
static cnn_status cnn__npy_read(FILE *f, const char *who, int ndim, const int *shape, size_t count, float *data) {
    unsigned char buf[CNN__NPY_MAX_HEADER];
    size_t got, at, header_len = 0, done, k;
    cnn_status st;
    got = fread(buf, 1, 10, f);
    if (got == 10 && buf[6] >= 2 && buf[6] <= 3) got += fread(buf + 10, 1, 2, f);
    if ((st = cnn__npy_prefix(buf, got, who, &at, &header_len))) return st;
    if (header_len > sizeof buf)
        return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: a header of %zu bytes (at most %d read)", who, header_len, CNN__NPY_MAX_HEADER);
    if (fread(buf, 1, header_len, f) != header_len)
        return cnn__fail(ferror(f) ? CNN_ERR_IO : CNN_ERR_FILE_TRUNCATED, "%s: the file ends in its header", who);
    if ((st = cnn__npy_parse((const char *)buf, header_len, who, ndim, shape))) return st;
    for (done = 0; done < count; done += k) {
        k = CNN__MIN(count - done, sizeof buf / 4);
        got = fread(buf, 1, 4 * k, f);
        if (got != 4 * k)
            return cnn__fail(ferror(f) ? CNN_ERR_IO : CNN_ERR_FILE_TRUNCATED, "%s: the file ends after %zu of its %zu values", who, done + got / 4, count);
        if ((st = cnn__npy_values(buf, k, who, done, data ? data + done : NULL))) return st;
    }
    if (fgetc(f) != EOF) return cnn__fail(CNN_ERR_FILE_CORRUPT, "%s: unexpected bytes after the %zu values", who, count);
    return CNN_OK;
}

CNNDEF cnn_status cnn_npy_load(const char *path, int ndim, const int *shape, float *data) {
    char who[300];
    size_t count = 0;
    cnn_status st;
    FILE *f;
    if ((st = cnn__npy_check_shape("npy load", ndim, shape, &count))) return st;
    if (!path || (count && !data)) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "npy load: NULL path or data");
    if (!(f = fopen(path, "rb"))) return cnn__fail(CNN_ERR_IO, "npy load: cannot open '%s': %s", path, strerror(errno));
    cnn__format(who, sizeof who, "npy load '%s'", path);
    /* A first pass checks the whole file, the second stores: a bad file leaves data as it was. */
    st = cnn__npy_read(f, who, ndim, shape, count, NULL);
    if (!st && fseek(f, 0, SEEK_SET) != 0) st = cnn__fail(CNN_ERR_IO, "%s: cannot seek back to the start", who);
    if (!st) st = cnn__npy_read(f, who, ndim, shape, count, data);
    fclose(f);
    return st;
}

/* The path of tensor t (0 weights, 1 bias) of layer i. */
static cnn_status cnn__npy_path(char *buf, size_t cap, const char *who, const char *prefix, int layer, const char *tensor) {
    if (!prefix) return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: NULL prefix", who);
    if (cnn__format(buf, cap, "%slayer%d.%s.npy", prefix, layer, tensor) >= cap)
        return cnn__fail(CNN_ERR_INVALID_ARGUMENT, "%s: the prefix is longer than %zu bytes", who, cap - 32);
    return CNN_OK;
}

CNNDEF cnn_status cnn_save_npy(const cnn_net *net, const char *prefix) {
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS];
    char path[4096];
    int i, t, d, n, shape[4];
    cnn_status st = cnn__check_ready(net, "save npy", 0);
    for (i = 0; !st && i < net->layer_count; i++) {
        n = cnn__layer_tensors(&net->layers[i], ts);
        for (t = 0; !st && t < n; t++) {
            for (d = 0; d < (int)ts[t].ndim; d++) shape[d] = (int)ts[t].dims[d];
            if (!(st = cnn__npy_path(path, sizeof path, "save npy", prefix, i, ts[t].npy)))
                st = cnn_npy_save(path, ts[t].data, (int)ts[t].ndim, shape);
        }
    }
    return st;
}

CNNDEF cnn_status cnn_load_npy(cnn_net *net, const char *prefix) {
    cnn__tensor ts[CNN__MAX_LAYER_TENSORS];
    char path[4096];
    int i, t, d, n, pass, shape[4];
    cnn_status st = cnn__check_ready(net, "load npy", 2);
    /* Pass 0 checks every file, pass 1 stores: a bad file changes no weight. */
    for (pass = 0; !st && pass < 2; pass++) {
        for (i = 0; !st && i < net->layer_count; i++) {
            n = cnn__layer_tensors(&net->layers[i], ts);
            for (t = 0; !st && t < n; t++) {
                FILE *f;
                char who[4200];
                for (d = 0; d < (int)ts[t].ndim; d++) shape[d] = (int)ts[t].dims[d];
                if ((st = cnn__npy_path(path, sizeof path, "load npy", prefix, i, ts[t].npy))) break;
                if (!(f = fopen(path, "rb"))) {
                    st = cnn__fail(CNN_ERR_IO, "load npy: layer %d (%s) %s: cannot open '%s': %s", i,
                                   cnn__layer_name(net->layers[i].kind), ts[t].name, path, strerror(errno));
                    break;
                }
                cnn__format(who, sizeof who, "load npy: layer %d (%s) %s '%s'", i, cnn__layer_name(net->layers[i].kind), ts[t].name, path);
                st = cnn__npy_read(f, who, (int)ts[t].ndim, shape, ts[t].count, pass ? ts[t].data : NULL);
                fclose(f);
            }
        }
    }
    return st ? st : cnn_net_reset_optimizer(net);      /* new weights: as cnn_load_weights */
}
#endif /* CNN_NO_STDIO */

/* ********************************************************************************************
   PART II. THE FAST KERNELS

   The vector twins of Part I's scalar code, in the order of the lecture, each numbered after
   the section it serves (F4 serves 4). Each is tested against its scalar reference (tests/).
   F1 holds what they share: the matrix-multiply micro-kernel, written once as a template and
   generated for AVX2 and AVX-512 (and NEON), the packing of its operands, and the element-wise
   vector vocabulary the other twins are written in, once for every width.
   ******************************************************************************************** */

/* ============================================================================================
   F1. Shared vector kernels: the matrix-multiply micro-kernel, packing, the element-wise
       vocabulary
   ============================================================================================ */

#ifdef CNN__SIMD
/* The most rows of any path's micro-kernel tile: the size of the drivers' row tables. */
#define CNN__TILE_MAX 12

/* How many rows of a product the micro-kernel tile starting at row m0 takes on a path whose
   tiles have up to max rows: the rows are split into as few tiles as max rows allow, of
   sizes differing by at most one. With max = 6, 32 rows run as 6,6,5,5,5,5 rather than
   6,6,6,6,6,2: on AVX2 a 2-row tile has only four chains of FMAs, each waiting on the last. */
static int cnn__tile_rows(int rows, int m0, int max) {
    const int tiles = (rows + max - 1) / max, small = rows / tiles, big_tiles = rows % tiles;
    return m0 < big_tiles * (small + 1) ? small + 1 : small;
}

/* The most rows of the active path's tile (see the micro-kernel): the drivers that choose
   rows themselves (pixels or taps as rows) take this many at a time. */
static int cnn__simd_tile_max(void) {
#ifdef CNN__X86_AVX512
    if (cnn_simd_active() == CNN_SIMD_AVX512) return CNN__TILE_MAX;
#endif
    return 6;
}
#endif

#ifdef CNN__X86_AVX2
/* ---------------------------------------------------------------------------------------------
   The x86 matrix-multiply micro-kernel, shared by every convolution pass and the dense layer,
   written once and generated for both widths, AVX2 (8 floats) and AVX-512 (16 floats).

   It computes one tile of C (up to MR rows by 16 columns) of C += A * B over an inner
   dimension of kc:
       C[m][0..15] += sum_q A[m][q] * B[q][0..15]
   keeping the tile in registers for the whole loop: each step loads one row of B (two YMM
   or one ZMM), broadcasts MR values of A and issues 12 independent FMAs, enough to keep both
   FMA pipes busy (an FMA has 4 cycles of latency; two pipes need at least 8 independent
   chains). On AVX2 that is 6 rows x 2 vectors (12 of the 16 YMM registers); on AVX-512 a row
   of 16 is one vector, so the tile is 12 rows x 1 (12 of 32 ZMM). But then every FMA needs a
   broadcast of its own: a step loads 1 + 12 values for 12 FMAs, and it stays well below
   the peak (12 x 16 in L1: 173-179 GFLOP/s of a 216 peak, Zen 5). So the drivers that
   can hand over 32 columns at once (cnn__simd_gemm_wide: the direct grid, the Winograd
   products, the pixel-row and weight-gradient products, dense) get, on AVX-512, a tile of
   12 rows x 2 ZMM (24 of 32 registers): 2 + 12 loads for 24 FMAs, 214-222 GFLOP/s in L1.
   8 to 14 rows measured within noise of one another for both shapes. Both AVX-512 tiles
   come from the one template (NV vectors a row: KIND tile with 1, wide with 2).
   B is a packed strip, kc rows of 16 floats, or, when an offset table b_off is given, row q
   is the 16 floats at b + b_off[q], read in place (the direct convolution reads its input
   that way, without packing it); a wide tile's columns 16..31 are b_next floats after its
   columns 0..15 (the next packed strip, or the next 16 floats of a row read in place).
   A is read in place too, at
       A[m][q] = a[row(m) + col(q)],  row(m) = a_rows ? a_rows[m] : m * a_row,
                                      col(q) = a_off ? a_off[q] : q * a_col,
   so with offset tables a row of the product need not be a row of any array: the data
   gradient reads the filters flipped and transposed (a_off), the weight gradient has kernel
   taps as rows and small-plane convolutions have output pixels as rows (a_rows and a_off).
   Columns past nc are neither loaded from nor stored to C.

   One template, two widths. The kernels below are macros over a prefix P (cnn__avx2 or
   cnn__avx512) naming a small vocabulary, defined for each width:
       P##_vec         VL floats                 P##_tailmask  which lanes are real
       P##_tail(n)     the first n lanes (n clamped to 0..VL): a YMM mask on AVX2, an
                       AVX-512 opmask (__mmask16) there
       P##_loadm, P##_storem   masked: lanes outside the mask are neither read nor written
       P##_loadu, P##_storeu, P##_bcast (*p in every lane), P##_set1, P##_zero,
       P##_fma(a, b, c) = a * b + c, P##_add
   and each kernel is instantiated for both, with the width's target attribute, so the
   functions cnn__avx2_... and cnn__avx512_... differ only in the vocabulary.
   --------------------------------------------------------------------------------------------- */

static const int32_t cnn__mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* The first n lanes (0..8) of a vector. */
CNN__AVX2 static __m256i cnn__avx2_mask(int n) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(cnn__mask_table + 8 - CNN__MAX(0, CNN__MIN(n, 8))));
}

typedef __m256 cnn__avx2_vec;
typedef __m256i cnn__avx2_tailmask;
CNN__AVX2 static __m256i cnn__avx2_tail(int n) { return cnn__avx2_mask(n); }
CNN__AVX2 static __m256 cnn__avx2_loadm(const float *p, __m256i m) { return _mm256_maskload_ps(p, m); }
CNN__AVX2 static void cnn__avx2_storem(float *p, __m256i m, __m256 v) { _mm256_maskstore_ps(p, m, v); }
CNN__AVX2 static __m256 cnn__avx2_loadu(const float *p) { return _mm256_loadu_ps(p); }
CNN__AVX2 static void cnn__avx2_storeu(float *p, __m256 v) { _mm256_storeu_ps(p, v); }
CNN__AVX2 static __m256 cnn__avx2_bcast(const float *p) { return _mm256_broadcast_ss(p); }
CNN__AVX2 static __m256 cnn__avx2_set1(float f) { return _mm256_set1_ps(f); }
CNN__AVX2 static __m256 cnn__avx2_zero(void) { return _mm256_setzero_ps(); }
CNN__AVX2 static __m256 cnn__avx2_fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
CNN__AVX2 static __m256 cnn__avx2_add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }

#ifdef CNN__X86_AVX512
typedef __m512 cnn__avx512_vec;
typedef __mmask16 cnn__avx512_tailmask;
CNN__AVX512 static __mmask16 cnn__avx512_tail(int n) { return (__mmask16)((1u << CNN__MAX(0, CNN__MIN(n, 16))) - 1u); }
CNN__AVX512 static __m512 cnn__avx512_loadm(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
CNN__AVX512 static void cnn__avx512_storem(float *p, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(p, m, v); }
CNN__AVX512 static __m512 cnn__avx512_loadu(const float *p) { return _mm512_loadu_ps(p); }
CNN__AVX512 static void cnn__avx512_storeu(float *p, __m512 v) { _mm512_storeu_ps(p, v); }
CNN__AVX512 static __m512 cnn__avx512_bcast(const float *p) { return _mm512_set1_ps(*p); }
CNN__AVX512 static __m512 cnn__avx512_set1(float f) { return _mm512_set1_ps(f); }
CNN__AVX512 static __m512 cnn__avx512_zero(void) { return _mm512_setzero_ps(); }
CNN__AVX512 static __m512 cnn__avx512_fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
CNN__AVX512 static __m512 cnn__avx512_add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
#endif

/* A tile's kernel, and the table of a width's kernels by rows (entry MR - 1). */
typedef void (*cnn__tile_fn)(int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col, const int32_t *a_rows,
                             const int32_t *a_off, const float *b, const int32_t *b_off, ptrdiff_t b_next, float *c,
                             ptrdiff_t c_row, int nc, int accumulate, const float *row_bias);

/* The rows are spelled out (CNN__ROWS) rather than looped over, so that even at -O2 every
   accumulator is its own register: a loop over an accumulator array left un-unrolled keeps
   them in memory and runs several times slower. Rows past MR, and on AVX-512 the second
   vector of a row (nv == 1), are compiled away. */
#define CNN__ROWS(X, P) X(P, 0) X(P, 1) X(P, 2) X(P, 3) X(P, 4) X(P, 5) X(P, 6) X(P, 7) X(P, 8) X(P, 9) X(P, 10) X(P, 11)
/* row(m) of A, read only for the tile's own rows */
#define CNN__TILE_ROW(P, m) const ptrdiff_t r##m = tile_rows > m && a_rows ? a_rows[m] : 0;
#define CNN__TILE_INIT(P, m) if (tile_rows > m) {                                                        \
        if (accumulate && full) {                                                                         \
            c0_##m = P##_loadu(c + m * c_row);                                                            \
            if (nv > 1) c1_##m = P##_loadu(c + m * c_row + vl);                                           \
        } else if (accumulate) {                                                                          \
            c0_##m = P##_loadm(c + m * c_row, m0);                                                        \
            if (nv > 1) c1_##m = P##_loadm(c + m * c_row + vl, m1);                                       \
        } else {                                                                                          \
            c0_##m = c1_##m = row_bias ? P##_set1(row_bias[m]) : P##_zero();                              \
        } }
#define CNN__TILE_FMA(P, m) if (tile_rows > m) {                                                         \
        const P##_vec av = P##_bcast(aq + r##m);                                                          \
        c0_##m = P##_fma(av, b0, c0_##m);                                                                 \
        if (nv > 1) c1_##m = P##_fma(av, b1, c1_##m); }
#define CNN__TILE_FMA_STRIDED(P, m) if (tile_rows > m) {                                                 \
        const P##_vec av = P##_bcast(aq + m * a_row);                                                     \
        c0_##m = P##_fma(av, b0, c0_##m);                                                                 \
        if (nv > 1) c1_##m = P##_fma(av, b1, c1_##m); }
#define CNN__TILE_STORE(P, m) if (tile_rows > m) {                                                       \
        if (full) {                                                                                       \
            P##_storeu(c + m * c_row, c0_##m);                                                            \
            if (nv > 1) P##_storeu(c + m * c_row + vl, c1_##m);                                           \
        } else {                                                                                          \
            P##_storem(c + m * c_row, m0, c0_##m);                                                        \
            if (nv > 1) P##_storem(c + m * c_row + vl, m1, c1_##m);                                       \
        } }
/* The four loops over q, by whether B rows (b_off) and A columns (a_off) come from tables;
   FMA is the step of one row, read through a_rows (CNN__TILE_FMA) or m * a_row away
   (CNN__TILE_FMA_STRIDED: no register per row, which leaves the 12-row tile room). */
#define CNN__TILE_LOOPS(P, FMA)                                                                           \
    if (a_off && b_off) {                                                                                 \
        for (q = 0; q < kc; q++) {                                                                        \
            const float *bq = b + b_off[q];                                                               \
            const P##_vec b0 = P##_loadu(bq), b1 = nv > 1 ? P##_loadu(bq + b_half) : b0;                  \
            const float *aq = a + a_off[q];                                                               \
            CNN__ROWS(FMA, P)                                                                             \
        }                                                                                                 \
    } else if (a_off) {                                                                                   \
        for (q = 0; q < kc; q++) {                                                                        \
            const float *bq = b + (ptrdiff_t)16 * q;                                                      \
            const P##_vec b0 = P##_loadu(bq), b1 = nv > 1 ? P##_loadu(bq + b_half) : b0;                  \
            const float *aq = a + a_off[q];                                                               \
            CNN__ROWS(FMA, P)                                                                             \
        }                                                                                                 \
    } else if (b_off) {                                                                                   \
        for (q = 0; q < kc; q++) {                                                                        \
            const float *bq = b + b_off[q];                                                               \
            const P##_vec b0 = P##_loadu(bq), b1 = nv > 1 ? P##_loadu(bq + b_half) : b0;                  \
            const float *aq = a + q * a_col;                                                              \
            CNN__ROWS(FMA, P)                                                                             \
        }                                                                                                 \
    } else {                                                                                              \
        for (q = 0; q < kc; q++) {                                                                        \
            const float *bq = b + (ptrdiff_t)16 * q;                                                      \
            const P##_vec b0 = P##_loadu(bq), b1 = nv > 1 ? P##_loadu(bq + b_half) : b0;                  \
            const float *aq = a + q * a_col;                                                              \
            CNN__ROWS(FMA, P)                                                                             \
        }                                                                                                 \
    }
#define CNN__X86_TILE(P, ATTR, VL, NV, KIND, MR)                                                          \
ATTR static void P##_##KIND##_##MR(int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,              \
                                   const int32_t *a_rows, const int32_t *a_off, const float *b,           \
                                   const int32_t *b_off, ptrdiff_t b_next, float *c, ptrdiff_t c_row,     \
                                   int nc, int accumulate, const float *row_bias) {                       \
    enum { tile_rows = MR, vl = VL, nv = NV };                                                            \
    /* a 16-column tile's second vector is the rest of the row; a 32-column one's is b_next on */         \
    const ptrdiff_t b_half = nv * vl == 16 ? (ptrdiff_t)vl : b_next;                                      \
    P##_vec c0_0, c1_0, c0_1, c1_1, c0_2, c1_2, c0_3, c1_3, c0_4, c1_4, c0_5, c1_5;                       \
    P##_vec c0_6, c1_6, c0_7, c1_7, c0_8, c1_8, c0_9, c1_9, c0_10, c1_10, c0_11, c1_11;                   \
    const P##_tailmask m0 = P##_tail(nc), m1 = P##_tail(nc - vl);                                         \
    /* whole tiles load and store C plainly: AMD runs AVX2's masked store (vmaskmovps) as      */         \
    /* microcode, and twelve of them cost the 16 x 32 Winograd products of M2 a third of their */         \
    /* time (Zen 3: 51 -> 79 GFLOP/s with plain stores); only a tail tile needs the masks      */         \
    const int full = nc >= nv * vl;                                                                       \
    CNN__ROWS(CNN__TILE_ROW, P)                                                                           \
    int q;                                                                                                \
    c0_0 = c1_0 = c0_1 = c1_1 = c0_2 = c1_2 = c0_3 = c1_3 = c0_4 = c1_4 = c0_5 = c1_5 = P##_zero();       \
    c0_6 = c1_6 = c0_7 = c1_7 = c0_8 = c1_8 = c0_9 = c1_9 = c0_10 = c1_10 = c0_11 = c1_11 = P##_zero();   \
    CNN__ROWS(CNN__TILE_INIT, P)                                                                          \
    if (a_rows) {                                                                                         \
        CNN__TILE_LOOPS(P, CNN__TILE_FMA)                                                                 \
    } else {                                                                                              \
        CNN__TILE_LOOPS(P, CNN__TILE_FMA_STRIDED)                                                         \
    }                                                                                                     \
    CNN__ROWS(CNN__TILE_STORE, P)                                                                         \
}

/* C (rows x nc, nc <= 16) (+)= A (rows x kc) * B (kc x 16): up to MR_MAX rows at a time,
   each tile by the kernel of its row count from the width's table P##_tiles. */
#define CNN__X86_GEMM(P, ATTR, NAME, KIND, MR_MAX)                                                           \
ATTR static void P##_gemm_##NAME(int rows, int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,      \
                                 const int32_t *a_rows, const int32_t *a_off, const float *b,             \
                                 const int32_t *b_off, ptrdiff_t b_next, float *c, ptrdiff_t c_row,       \
                                 int nc, int accumulate, const float *row_bias) {                         \
    int m0, mr;                                                                                           \
    for (m0 = 0; m0 < rows; m0 += mr) {                                                                   \
        const float *am = a_rows ? a : a + m0 * a_row, *bias = row_bias ? row_bias + m0 : NULL;           \
        const int32_t *rm = a_rows ? a_rows + m0 : NULL;                                                  \
        mr = cnn__tile_rows(rows, m0, MR_MAX);                                                            \
        P##_##KIND##s[mr - 1](kc, am, a_row, a_col, rm, a_off, b, b_off, b_next, c + m0 * c_row, c_row, nc,   \
                              accumulate, bias);                                                          \
    }                                                                                                     \
}

/* One row of C, 64 columns wide: c[0..63] (+)= sum_q A[q] * B[q][0..63], with
   A[q] = a[a_off ? a_off[q] : q * a_col] and row q of B the 64 floats at b + b_off[q]. A
   product with one row (a one-channel data gradient) gives the tile only one or two chains
   of FMAs, each waiting 4 cycles for the last; eight accumulators here keep both pipes busy.
   On AVX2 a row of 64 is eight vectors; on AVX-512 it is four, so two steps of q run side by
   side (accumulators 4-7 take the odd steps) and are added at the end. */
#define CNN__ROW_A(j) (a + (a_off ? a_off[q + (j) / nv] : (q + (j) / nv) * a_col))
#define CNN__ROW_INIT(P, j) c##j = (j) >= nv ? P##_zero() : accumulate ? P##_loadu(c + (j) * vl) : P##_set1(bias);
#define CNN__ROW_FMA(P, j) c##j = P##_fma(P##_bcast(CNN__ROW_A(j)), P##_loadu(b + b_off[q + (j) / nv] + (j) % nv * vl), c##j);
#define CNN__ROW_LAST(P, j) if ((j) < nv) c##j = P##_fma(P##_bcast(CNN__ROW_A(0)), P##_loadu(b + b_off[q] + (j) * vl), c##j);
#define CNN__ROW_STORE(P, j) if ((j) < nv) P##_storeu(c + (j) * vl, c##j);
#define CNN__EIGHT(X, P) X(P, 0) X(P, 1) X(P, 2) X(P, 3) X(P, 4) X(P, 5) X(P, 6) X(P, 7)
#define CNN__X86_GEMM_ROW(P, ATTR, VL)                                                                    \
ATTR static void P##_gemm_row(int kc, const float *a, ptrdiff_t a_col, const int32_t *a_off,              \
                              const float *b, const int32_t *b_off, float *c, int accumulate, float bias) { \
    enum { vl = VL, nv = 64 / VL, steps = 8 / nv };                                                       \
    P##_vec c0, c1, c2, c3, c4, c5, c6, c7;                                                               \
    int q;                                                                                                \
    CNN__EIGHT(CNN__ROW_INIT, P)                                                                          \
    for (q = 0; q + steps <= kc; q += steps) { CNN__EIGHT(CNN__ROW_FMA, P) }                              \
    for (; q < kc; q++) { CNN__EIGHT(CNN__ROW_LAST, P) }                                                  \
    if (nv == 4) { c0 = P##_add(c0, c4); c1 = P##_add(c1, c5); c2 = P##_add(c2, c6); c3 = P##_add(c3, c7); } \
    CNN__EIGHT(CNN__ROW_STORE, P)                                                                         \
}

/* The twelve row counts of a KIND of tile and their table, P##_##KIND##s (AVX-512's two). */
#define CNN__X86_TILES_12(P, ATTR, VL, NV, KIND)                                                          \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 1) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 2)                           \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 3) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 4)                           \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 5) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 6)                           \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 7) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 8)                           \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 9) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 10)                          \
CNN__X86_TILE(P, ATTR, VL, NV, KIND, 11) CNN__X86_TILE(P, ATTR, VL, NV, KIND, 12)                         \
static const cnn__tile_fn P##_##KIND##s[12] = {                                                           \
    P##_##KIND##_1, P##_##KIND##_2, P##_##KIND##_3, P##_##KIND##_4, P##_##KIND##_5, P##_##KIND##_6,       \
    P##_##KIND##_7, P##_##KIND##_8, P##_##KIND##_9, P##_##KIND##_10, P##_##KIND##_11, P##_##KIND##_12     \
};

CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 1)
CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 2)
CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 3)
CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 4)
CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 5)
CNN__X86_TILE(cnn__avx2, CNN__AVX2, 8, 2, tile, 6)
static const cnn__tile_fn cnn__avx2_tiles[6] = {
    cnn__avx2_tile_1, cnn__avx2_tile_2, cnn__avx2_tile_3, cnn__avx2_tile_4, cnn__avx2_tile_5, cnn__avx2_tile_6
};
CNN__X86_GEMM(cnn__avx2, CNN__AVX2, strip, tile, 6)
CNN__X86_GEMM_ROW(cnn__avx2, CNN__AVX2, 8)

#ifdef CNN__X86_AVX512
CNN__X86_TILES_12(cnn__avx512, CNN__AVX512, 16, 1, tile)
CNN__X86_GEMM(cnn__avx512, CNN__AVX512, strip, tile, CNN__TILE_MAX)
CNN__X86_TILES_12(cnn__avx512, CNN__AVX512, 16, 2, wide)
CNN__X86_GEMM(cnn__avx512, CNN__AVX512, wide, wide, CNN__TILE_MAX)
CNN__X86_GEMM_ROW(cnn__avx512, CNN__AVX512, 16)
#endif

#undef CNN__X86_TILE
#undef CNN__X86_TILES_12
#undef CNN__TILE_LOOPS
#undef CNN__TILE_FMA_STRIDED
#undef CNN__X86_GEMM
#undef CNN__X86_GEMM_ROW
#undef CNN__TILE_INIT
#undef CNN__TILE_FMA
#undef CNN__TILE_STORE
#undef CNN__TILE_ROW
#undef CNN__ROWS
#undef CNN__ROW_A
#undef CNN__ROW_INIT
#undef CNN__ROW_FMA
#undef CNN__ROW_LAST
#undef CNN__ROW_STORE
#undef CNN__EIGHT
#endif /* CNN__X86_AVX2 */

#ifdef CNN__ARM_NEON
/* The same 6 x 16 tile on NEON: 24 accumulators of 4 floats (AArch64 has 32 vector
   registers), vfmaq_n_f32 multiplying by the scalar A value directly. NEON has no masked
   loads, so a partial tile (nc < 16) is computed in a small buffer and copied. */
#define CNN__ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
/* row(m) of A, read only for the tile's own rows */
#define CNN__TILE_ROW(m) const ptrdiff_t r##m = tile_rows > m ? (a_rows ? a_rows[m] : m * a_row) : 0;
#define CNN__TILE_INIT(m) if (tile_rows > m) {                                                            \
        if (accumulate) {                                                                                 \
            c0_##m = vld1q_f32(c + m * c_row); c1_##m = vld1q_f32(c + m * c_row + 4);                     \
            c2_##m = vld1q_f32(c + m * c_row + 8); c3_##m = vld1q_f32(c + m * c_row + 12);                \
        } else {                                                                                          \
            c0_##m = c1_##m = c2_##m = c3_##m = vdupq_n_f32(row_bias ? row_bias[m] : 0.0f);               \
        } }
#define CNN__TILE_FMA(m) if (tile_rows > m) {                                                             \
        const float av = aq[r##m];                                                                        \
        c0_##m = vfmaq_n_f32(c0_##m, b0, av); c1_##m = vfmaq_n_f32(c1_##m, b1, av);                       \
        c2_##m = vfmaq_n_f32(c2_##m, b2, av); c3_##m = vfmaq_n_f32(c3_##m, b3, av); }
#define CNN__TILE_STORE(m) if (tile_rows > m) {                                                           \
        vst1q_f32(c + m * c_row, c0_##m); vst1q_f32(c + m * c_row + 4, c1_##m);                           \
        vst1q_f32(c + m * c_row + 8, c2_##m); vst1q_f32(c + m * c_row + 12, c3_##m); }
#define CNN__NEON_TILE(MR)                                                                                \
static void cnn__neon_tile_##MR(int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,                 \
                                const int32_t *a_rows, const int32_t *a_off, const float *b,              \
                                const int32_t *b_off, float *c, ptrdiff_t c_row, int accumulate,          \
                                const float *row_bias) {                                                  \
    float32x4_t c0_0, c1_0, c2_0, c3_0, c0_1, c1_1, c2_1, c3_1, c0_2, c1_2, c2_2, c3_2;                   \
    float32x4_t c0_3, c1_3, c2_3, c3_3, c0_4, c1_4, c2_4, c3_4, c0_5, c1_5, c2_5, c3_5;                   \
    enum { tile_rows = MR };                                                                              \
    CNN__ROWS(CNN__TILE_ROW)                                                                              \
    int q;                                                                                                \
    c0_0 = c1_0 = c2_0 = c3_0 = c0_1 = c1_1 = c2_1 = c3_1 = c0_2 = c1_2 = c2_2 = c3_2 = vdupq_n_f32(0.0f); \
    c0_3 = c1_3 = c2_3 = c3_3 = c0_4 = c1_4 = c2_4 = c3_4 = c0_5 = c1_5 = c2_5 = c3_5 = vdupq_n_f32(0.0f); \
    CNN__ROWS(CNN__TILE_INIT)                                                                             \
    for (q = 0; q < kc; q++) {                                                                            \
        const float *bq = b_off ? b + b_off[q] : b + 16 * q;                                              \
        const float32x4_t b0 = vld1q_f32(bq), b1 = vld1q_f32(bq + 4);                                     \
        const float32x4_t b2 = vld1q_f32(bq + 8), b3 = vld1q_f32(bq + 12);                                \
        const float *aq = a + (a_off ? a_off[q] : q * a_col);                                             \
        CNN__ROWS(CNN__TILE_FMA)                                                                          \
    }                                                                                                     \
    CNN__ROWS(CNN__TILE_STORE)                                                                            \
}
CNN__NEON_TILE(1)
CNN__NEON_TILE(2)
CNN__NEON_TILE(3)
CNN__NEON_TILE(4)
CNN__NEON_TILE(5)
CNN__NEON_TILE(6)

#undef CNN__NEON_TILE
#undef CNN__TILE_INIT
#undef CNN__TILE_FMA
#undef CNN__TILE_STORE
#undef CNN__TILE_ROW
#undef CNN__ROWS

static void cnn__neon_gemm_strip(int rows, int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const int32_t *a_rows, const int32_t *a_off, const float *b, const int32_t *b_off,
                                 float *c, ptrdiff_t c_row, int nc, int accumulate, const float *row_bias) {
    float partial[6 * 16];
    int m0, m, t, mr;
    for (m0 = 0; m0 < rows; m0 += mr) {
        const float *am = a_rows ? a : a + m0 * a_row, *bias = row_bias ? row_bias + m0 : NULL;
        const int32_t *rm = a_rows ? a_rows + m0 : NULL;
        float *cm = c + m0 * c_row, *dst = cm;
        ptrdiff_t dst_row = c_row;
        mr = cnn__tile_rows(rows, m0, 6);
        if (nc < 16) {                      /* work on a full 16-wide copy of the tile */
            for (m = 0; m < mr; m++)
                for (t = 0; t < 16; t++) partial[m * 16 + t] = accumulate && t < nc ? cm[m * c_row + t] : 0.0f;
            dst = partial;
            dst_row = 16;
        }
        switch (mr) {
        case 6: cnn__neon_tile_6(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        case 5: cnn__neon_tile_5(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        case 4: cnn__neon_tile_4(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        case 3: cnn__neon_tile_3(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        case 2: cnn__neon_tile_2(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        default: cnn__neon_tile_1(kc, am, a_row, a_col, rm, a_off, b, b_off, dst, dst_row, accumulate, bias); break;
        }
        if (nc < 16)
            for (m = 0; m < mr; m++)
                for (t = 0; t < nc; t++) cm[m * c_row + t] = partial[m * 16 + t];
    }
}

/* One row of C, 64 columns wide, as on AVX2: sixteen 4-float accumulators. */
static void cnn__neon_gemm_row(int kc, const float *a, ptrdiff_t a_col, const int32_t *a_off, const float *b,
                               const int32_t *b_off, float *c, int accumulate, float bias) {
    float32x4_t acc[16];
    int q, v;
    for (v = 0; v < 16; v++) acc[v] = accumulate ? vld1q_f32(c + 4 * v) : vdupq_n_f32(bias);
    for (q = 0; q < kc; q++) {
        const float av = a[a_off ? a_off[q] : q * a_col];
        const float *bq = b + b_off[q];
        for (v = 0; v < 16; v++) acc[v] = vfmaq_n_f32(acc[v], vld1q_f32(bq + 4 * v), av);
    }
    for (v = 0; v < 16; v++) vst1q_f32(c + 4 * v, acc[v]);
}
#endif /* CNN__ARM_NEON */

#ifdef CNN__SIMD
/* The one entry the convolution and dense drivers call: the widest path active. */
static void cnn__simd_gemm_strip(int rows, int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const int32_t *a_rows, const int32_t *a_off, const float *b, const int32_t *b_off,
                                 float *c, ptrdiff_t c_row, int nc, int accumulate, const float *row_bias) {
#ifdef CNN__X86_AVX2
#ifdef CNN__X86_AVX512
    if (cnn_simd_active() == CNN_SIMD_AVX512) {
        cnn__avx512_gemm_strip(rows, kc, a, a_row, a_col, a_rows, a_off, b, b_off, 0, c, c_row, nc, accumulate, row_bias);
        return;
    }
#endif
    cnn__avx2_gemm_strip(rows, kc, a, a_row, a_col, a_rows, a_off, b, b_off, 0, c, c_row, nc, accumulate, row_bias);
#else
    cnn__neon_gemm_strip(rows, kc, a, a_row, a_col, a_rows, a_off, b, b_off, c, c_row, nc, accumulate, row_bias);
#endif
}

/* The same product over up to 32 columns (nc <= 32): columns 16..31 of B's row q are the 16
   floats b_next after its columns 0..15 (16 on for a row read in place, one packed strip on
   for packed strips), and those of C are at c + 16. AVX-512 runs such a pair of strips as
   one tile of two ZMM a row: each broadcast value of A then feeds two FMAs instead of one,
   and the step loads 2 + MR values for 2 * MR FMAs (1 + MR for MR), which is what kept the
   16-column tile below the AVX-512 peak. Measured on Zen 5, one core, A and B in L1: 12 x 16
   tiles 173-179 GFLOP/s, 12 x 32 tiles 214-222, of a 216 peak; in V1's pattern (B read in
   place from the padded input, A 64 x 256 of 576-tap rows) 158-159 against 211-213. Other
   paths run the two strips one after the other. */
static void cnn__simd_gemm_wide(int rows, int kc, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,
                                const int32_t *a_rows, const int32_t *a_off, const float *b, const int32_t *b_off,
                                ptrdiff_t b_next, float *c, ptrdiff_t c_row, int nc, int accumulate, const float *row_bias) {
#ifdef CNN__X86_AVX512
    if (cnn_simd_active() == CNN_SIMD_AVX512 && nc > 16) {
        cnn__avx512_gemm_wide(rows, kc, a, a_row, a_col, a_rows, a_off, b, b_off, b_next, c, c_row, nc, accumulate, row_bias);
        return;
    }
#endif
    cnn__simd_gemm_strip(rows, kc, a, a_row, a_col, a_rows, a_off, b, b_off, c, c_row, CNN__MIN(nc, 16), accumulate, row_bias);
    if (nc > 16)
        cnn__simd_gemm_strip(rows, kc, a, a_row, a_col, a_rows, a_off, b + b_next, b_off, c + 16, c_row, nc - 16, accumulate,
                             row_bias);
}

static void cnn__simd_gemm_row(int kc, const float *a, ptrdiff_t a_col, const int32_t *a_off, const float *b,
                               const int32_t *b_off, float *c, int accumulate, float bias) {
#ifdef CNN__X86_AVX2
#ifdef CNN__X86_AVX512
    if (cnn_simd_active() == CNN_SIMD_AVX512) {
        cnn__avx512_gemm_row(kc, a, a_col, a_off, b, b_off, c, accumulate, bias);
        return;
    }
#endif
    cnn__avx2_gemm_row(kc, a, a_col, a_off, b, b_off, c, accumulate, bias);
#else
    cnn__neon_gemm_row(kc, a, a_col, a_off, b, b_off, c, accumulate, bias);
#endif
}

/* One row over n >= 64 columns, 64 at a time. The last window overlaps the one before it,
   so it is computed aside and only its new columns are kept: none is summed twice. */
static void cnn__simd_gemm_row_run(int kc, const float *a, ptrdiff_t a_col, const int32_t *a_off, const float *b,
                                   const int32_t *b_off, float *c, int n, int accumulate, float bias) {
    float last[64];
    int p0;
    for (p0 = 0; p0 + 64 <= n; p0 += 64) cnn__simd_gemm_row(kc, a, a_col, a_off, b + p0, b_off, c + p0, accumulate, bias);
    if (p0 < n) {
        const int start = n - 64;
        if (accumulate) memcpy(last, c + start, sizeof last);
        cnn__simd_gemm_row(kc, a, a_col, a_off, b + start, b_off, last, accumulate, bias);
        memcpy(c + p0, last + (p0 - start), (size_t)(n - p0) * sizeof(float));
    }
}
#endif

#ifdef CNN__SIMD
/* ---------------------------------------------------------------------------------------------
   Packing B transposed: the micro-kernel wants B as rows of 16 floats, but where B is the
   transpose of a stored matrix (the dense weights W^T, say) its 16 columns are 16 rows of
   the source, src_row apart:
       strip[t * 16 + r] = src[r * src_row + t]   (r < rows <= 16, t < len),   0 for r >= rows
   One element at a time, this is a gather from 16 distant rows, as slow as the product it
   feeds for short inner dimensions. The vector paths transpose square blocks in registers
   (8 x 8 on AVX2, 4 x 4 on NEON): each row is read a vector at a time, and the columns past
   the last whole block are left to the scalar loop, which is also the definition.

   When sums is given, each row's sum is added to it as the row goes by, sums[r] += sum over
   t of src[r * src_row + t]: the weight gradient's bias sum then costs no second read of dy.
   In registers this is free: the transposed block's columns are summed, and lane r of that
   sum is row r's.
   --------------------------------------------------------------------------------------------- */
static void cnn__pack_transposed_scalar(const float *src, ptrdiff_t src_row, int rows, int len, float *strip, float *sums) {
    int t, r;
    for (t = 0; t < len; t++)
        for (r = 0; r < 16; r++) strip[t * 16 + r] = r < rows ? src[r * src_row + t] : 0.0f;
    if (sums)
        for (r = 0; r < rows; r++)
            for (t = 0; t < len; t++) sums[r] += src[r * src_row + t];
}

#ifdef CNN__X86_AVX2
/* dst[i * 16 + r] = src[r * src_row + i] for an 8 x 8 block; rows past 'rows' read as zero.
   Three rounds of shuffles, each interleaving twice as many rows as the last: pairs of rows
   (unpack), then fours (shuffle), then the two 128-bit halves (permute2f128). Returns the
   sum of the 8 columns: lane r is the sum of row r. */
CNN__AVX2 static __m256 cnn__avx2_transpose_8x8(const float *src, ptrdiff_t src_row, int rows, float *dst) {
    const __m256 z = _mm256_setzero_ps();
    const __m256 a = _mm256_loadu_ps(src), b = rows > 1 ? _mm256_loadu_ps(src + src_row) : z;
    const __m256 c = rows > 2 ? _mm256_loadu_ps(src + 2 * src_row) : z, d = rows > 3 ? _mm256_loadu_ps(src + 3 * src_row) : z;
    const __m256 e = rows > 4 ? _mm256_loadu_ps(src + 4 * src_row) : z, f = rows > 5 ? _mm256_loadu_ps(src + 5 * src_row) : z;
    const __m256 g = rows > 6 ? _mm256_loadu_ps(src + 6 * src_row) : z, h = rows > 7 ? _mm256_loadu_ps(src + 7 * src_row) : z;
    /* ab0 = a0 b0 a1 b1 | a4 b4 a5 b5,  ab2 = a2 b2 a3 b3 | a6 b6 a7 b7, ... */
    const __m256 ab0 = _mm256_unpacklo_ps(a, b), ab2 = _mm256_unpackhi_ps(a, b);
    const __m256 cd0 = _mm256_unpacklo_ps(c, d), cd2 = _mm256_unpackhi_ps(c, d);
    const __m256 ef0 = _mm256_unpacklo_ps(e, f), ef2 = _mm256_unpackhi_ps(e, f);
    const __m256 gh0 = _mm256_unpacklo_ps(g, h), gh2 = _mm256_unpackhi_ps(g, h);
    /* ad0 = a0 b0 c0 d0 | a4 b4 c4 d4,  ad1 = a1 b1 c1 d1 | a5 b5 c5 d5, ... */
    const __m256 ad0 = _mm256_shuffle_ps(ab0, cd0, 0x44), ad1 = _mm256_shuffle_ps(ab0, cd0, 0xEE);
    const __m256 ad2 = _mm256_shuffle_ps(ab2, cd2, 0x44), ad3 = _mm256_shuffle_ps(ab2, cd2, 0xEE);
    const __m256 eh0 = _mm256_shuffle_ps(ef0, gh0, 0x44), eh1 = _mm256_shuffle_ps(ef0, gh0, 0xEE);
    const __m256 eh2 = _mm256_shuffle_ps(ef2, gh2, 0x44), eh3 = _mm256_shuffle_ps(ef2, gh2, 0xEE);
    /* column i = the low halves (i < 4) or the high halves (i >= 4) of ad and eh */
    const __m256 c0 = _mm256_permute2f128_ps(ad0, eh0, 0x20), c1 = _mm256_permute2f128_ps(ad1, eh1, 0x20);
    const __m256 c2 = _mm256_permute2f128_ps(ad2, eh2, 0x20), c3 = _mm256_permute2f128_ps(ad3, eh3, 0x20);
    const __m256 c4 = _mm256_permute2f128_ps(ad0, eh0, 0x31), c5 = _mm256_permute2f128_ps(ad1, eh1, 0x31);
    const __m256 c6 = _mm256_permute2f128_ps(ad2, eh2, 0x31), c7 = _mm256_permute2f128_ps(ad3, eh3, 0x31);
    _mm256_store_ps(dst + 0 * 16, c0);
    _mm256_store_ps(dst + 1 * 16, c1);
    _mm256_store_ps(dst + 2 * 16, c2);
    _mm256_store_ps(dst + 3 * 16, c3);
    _mm256_store_ps(dst + 4 * 16, c4);
    _mm256_store_ps(dst + 5 * 16, c5);
    _mm256_store_ps(dst + 6 * 16, c6);
    _mm256_store_ps(dst + 7 * 16, c7);
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                         _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
}

/* Rows 0..7, then rows 8..15: each source row is read front to back, a cache line at a time. */
CNN__AVX2 static void cnn__avx2_pack_transposed(const float *src, ptrdiff_t src_row, int rows, int len, float *strip, float *sums) {
    const int whole = len - len % 8;
    float part[8];
    int g, t, i;
    for (g = 0; g < 16; g += 8) {
        __m256 sum = _mm256_setzero_ps();
        for (t = 0; t < whole; t += 8) {
            if (rows > g) sum = _mm256_add_ps(sum, cnn__avx2_transpose_8x8(src + g * src_row + t, src_row, rows - g, strip + t * 16 + g));
            else for (i = 0; i < 8; i++) _mm256_store_ps(strip + (t + i) * 16 + g, _mm256_setzero_ps());
        }
        if (sums && whole)
            for (_mm256_storeu_ps(part, sum), i = 0; i < CNN__MIN(8, rows - g); i++) sums[g + i] += part[i];
    }
    cnn__pack_transposed_scalar(src + whole, src_row, rows, len - whole, strip + whole * 16, sums);
}
#else
/* dst[i * 16 + r] = src[r * src_row + i] for a 4 x 4 block; rows past 'rows' read as zero.
   vtrnq transposes the 2 x 2 blocks of two rows; the 64-bit halves then swap places. Returns
   the sum of the 4 columns: lane r is the sum of row r. */
static float32x4_t cnn__neon_transpose_4x4(const float *src, ptrdiff_t src_row, int rows, float *dst) {
    const float32x4_t z = vdupq_n_f32(0.0f);
    const float32x4_t a = vld1q_f32(src), b = rows > 1 ? vld1q_f32(src + src_row) : z;
    const float32x4_t c = rows > 2 ? vld1q_f32(src + 2 * src_row) : z, d = rows > 3 ? vld1q_f32(src + 3 * src_row) : z;
    const float32x4x2_t ab = vtrnq_f32(a, b), cd = vtrnq_f32(c, d);   /* a0 b0 a2 b2, a1 b1 a3 b3 */
    const float32x4_t c0 = vcombine_f32(vget_low_f32(ab.val[0]), vget_low_f32(cd.val[0]));
    const float32x4_t c1 = vcombine_f32(vget_low_f32(ab.val[1]), vget_low_f32(cd.val[1]));
    const float32x4_t c2 = vcombine_f32(vget_high_f32(ab.val[0]), vget_high_f32(cd.val[0]));
    const float32x4_t c3 = vcombine_f32(vget_high_f32(ab.val[1]), vget_high_f32(cd.val[1]));
    vst1q_f32(dst + 0 * 16, c0);
    vst1q_f32(dst + 1 * 16, c1);
    vst1q_f32(dst + 2 * 16, c2);
    vst1q_f32(dst + 3 * 16, c3);
    return vaddq_f32(vaddq_f32(c0, c1), vaddq_f32(c2, c3));
}

static void cnn__neon_pack_transposed(const float *src, ptrdiff_t src_row, int rows, int len, float *strip, float *sums) {
    const int whole = len - len % 4;
    float part[4];
    int g, t, i;
    for (g = 0; g < 16; g += 4) {
        float32x4_t sum = vdupq_n_f32(0.0f);
        for (t = 0; t < whole; t += 4) {
            if (rows > g) sum = vaddq_f32(sum, cnn__neon_transpose_4x4(src + g * src_row + t, src_row, rows - g, strip + t * 16 + g));
            else for (i = 0; i < 4; i++) vst1q_f32(strip + (t + i) * 16 + g, vdupq_n_f32(0.0f));
        }
        if (sums && whole)
            for (vst1q_f32(part, sum), i = 0; i < CNN__MIN(4, rows - g); i++) sums[g + i] += part[i];
    }
    cnn__pack_transposed_scalar(src + whole, src_row, rows, len - whole, strip + whole * 16, sums);
}
#endif

/* strip[t * 16 + r] = src[r * src_row + t] for r < rows (rows <= 16) and t < len; strip[t * 16 + r] = 0 for rows <= r < 16;
   and, when sums is not NULL, sums[r] += the sum of row r's len values. strip is 32-byte aligned.
   The AVX-512 path uses the AVX2 transpose: a strip row is 16 floats, one 8 x 8 block's
   two halves, and the pack costs a few percent of the products it feeds. A 16 x 16 transpose
   in ZMM (row loads, two in-lane rounds, two rounds of 128-bit quarter shuffles) measured
   slower: dense 576x64 and 9216x128 forward 0.84x, the digit model's training step 0.95x
   (medians of 5 alternated runs, pinned). */
static void cnn__pack_transposed(const float *src, ptrdiff_t src_row, int rows, int len, float *strip, float *sums) {
#ifdef CNN__X86_AVX2
    cnn__avx2_pack_transposed(src, src_row, rows, len, strip, sums);
#else
    cnn__neon_pack_transposed(src, src_row, rows, len, strip, sums);
#endif
}
#endif /* CNN__SIMD */

#ifdef CNN__SIMD
/* ---------------------------------------------------------------------------------------------
   The element-wise vector vocabulary. The SIMD twins of the activations, of 2x2 pooling and of
   the SGD update are written once against these few operations, which each ISA defines:
       cnn__vec    CNN__VL floats (AVX2: 8, AVX-512: 16, NEON: 4)   cnn__veci   CNN__VL int32s
       cnn__vmask  CNN__VL lanes, each on or off (the result of a comparison: all-ones lanes
                   on AVX2 and NEON, an opmask on AVX-512)
   Loads and stores take how many lanes are real (1..CNN__VL), so a row's tail needs no scalar
   loop: AVX-512 masks the other lanes out, AVX2 masks its loads and stores a tail through a
   small buffer (its masked store is microcode on AMD), NEON goes through a small buffer.
   load_strided(p, stride, n) reads lanes t < n from p[t * stride] (a gather on x86),
   load_at(row, x0, w) lanes j from row[x0 + j] where that is inside 0 .. w - 1 (zeros
   outside); load_taps the 9 taps of CNN__VL 3x3 filters a stride apart where a width has a
   faster way than 9 strided loads. cnn__v8 holds 8 floats (a window row of the Winograd
   window transforms), v8_load_cols loads one into the lanes v8_columns(lo, n) names (zeros
   in the others), and transpose8 turns CNN__VL of them into vectors: lane t of out[q] is
   row t's float q.
   On cnn__veci, besides the element-wise ones, loadi, loadbits (a float vector's bits),
   xori, mullo (the low 32 bits of the product) and shr16 (logical) serve the default width's
   fingerprint of the weights (F9).
   Comparisons are the scalar code's (ordered: false when a NaN is involved), select(m, a, b)
   is m ? a : b, and no multiply-add is fused: each kernel rounds exactly as its scalar twin
   does when that is compiled without FMA contraction (the default for ISO C).

   One source, every width. Each name above (cnn__v_load, cnn__vec, CNN__VL, and CNN__VEC,
   the target attribute) is a macro that pastes the current width's prefix CNN__W onto it:
   cnn__v_load is cnn__avx2_v_load while CNN__W is cnn__avx2_ (the default on x86-64), and
   cnn__neon_v_load on AArch64. A kernel written as a macro body (CNN__ACTIVATION_KERNELS,
   CNN__POOL_KERNELS, CNN__SGD_KERNELS) is expanded once with the default width and, on x86,
   once more with CNN__W set to cnn__avx512_; its functions are named CNN__WN(name), so the
   two expansions give cnn__avx2_name and cnn__avx512_name, and CNN__VCALL(name, args) calls
   the one of the active path. Code written outside such a macro with these names (a plain
   function) gets the default width: AVX2 or NEON.
   --------------------------------------------------------------------------------------------- */
#define CNN__WN(f) CNN__WCAT(CNN__W, f)
#define CNN__WCAT(w, f) CNN__WCAT_(w, f)
#define CNN__WCAT_(w, f) w##f
#ifdef CNN__X86_AVX2
#define CNN__W cnn__avx2_
#else
#define CNN__W cnn__neon_
#endif
#define CNN__VL CNN__WN(VL)
#define CNN__VEC CNN__WN(ATTR)
#define cnn__vec CNN__WN(vec)
#define cnn__veci CNN__WN(veci)
#define cnn__vmask CNN__WN(vmask)
#define cnn__v_load CNN__WN(v_load)
#define cnn__v_store CNN__WN(v_store)
#define cnn__v_storei CNN__WN(v_storei)
#define cnn__v_load2 CNN__WN(v_load2)
#define cnn__v_store2 CNN__WN(v_store2)
#define cnn__v_load4 CNN__WN(v_load4)
#define cnn__v_load_at CNN__WN(v_load_at)
#define cnn__v_load_strided CNN__WN(v_load_strided)
#define cnn__v_load_taps CNN__WN(v_load_taps)
#define cnn__v8 CNN__WN(v8)
#define cnn__v8_cols CNN__WN(v8_cols)
#define cnn__v8_columns CNN__WN(v8_columns)
#define cnn__v8_load_cols CNN__WN(v8_load_cols)
#define cnn__v_transpose8 CNN__WN(v_transpose8)
#define cnn__v_store4 CNN__WN(v_store4)
#define cnn__v_set CNN__WN(v_set)
#define cnn__v_add CNN__WN(v_add)
#define cnn__v_sub CNN__WN(v_sub)
#define cnn__v_mul CNN__WN(v_mul)
#define cnn__v_lt CNN__WN(v_lt)
#define cnn__v_gt CNN__WN(v_gt)
#define cnn__v_unordered CNN__WN(v_unordered)
#define cnn__v_or CNN__WN(v_or)
#define cnn__v_any CNN__WN(v_any)
#define cnn__v_select CNN__WN(v_select)
#define cnn__v_seti CNN__WN(v_seti)
#define cnn__v_lanes CNN__WN(v_lanes)
#define cnn__v_addi CNN__WN(v_addi)
#define cnn__v_selecti CNN__WN(v_selecti)
#define cnn__v_loadi CNN__WN(v_loadi)
#define cnn__v_loadbits CNN__WN(v_loadbits)
#define cnn__v_xori CNN__WN(v_xori)
#define cnn__v_mullo CNN__WN(v_mullo)
#define cnn__v_shr16 CNN__WN(v_shr16)
#define cnn__v_div CNN__WN(v_div)
#define cnn__v_sqrt CNN__WN(v_sqrt)
#define cnn__v_min CNN__WN(v_min)
#define cnn__v_max CNN__WN(v_max)
#define cnn__v_abs CNN__WN(v_abs)
#define cnn__v_round CNN__WN(v_round)
#define cnn__v_pow2 CNN__WN(v_pow2)
#define cnn__v_left CNN__WN(v_left)
#define cnn__v_exp CNN__WN(v_exp)
#define cnn__v_sigmoid CNN__WN(v_sigmoid)
#define cnn__v_tanh CNN__WN(v_tanh)

#ifdef CNN__X86_AVX2
#define cnn__avx2_VL 8
#define cnn__avx2_ATTR CNN__AVX2
/* cnn__avx2_vec (__m256) is the micro-kernel's */
typedef __m256i cnn__veci;
typedef __m256 cnn__vmask;
CNN__AVX2 static cnn__vec cnn__v_load(const float *p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, cnn__avx2_mask(n));
}
/* A tail is stored through a copy on the stack: AMD runs vmaskmovps's store as microcode, and
   a 2x2 max-pooling of 11 x 11 maps (5 outputs a row, every store a tail) ran 1.16x faster
   without it (Zen 3, 364 -> 314 us at batch 64). */
CNN__AVX2 static void cnn__v_store(float *p, int n, cnn__vec v) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else if (n > 0) {
        float lanes[8];
        int i;
        _mm256_storeu_ps(lanes, v);
        for (i = 0; i < n; i++) p[i] = lanes[i];
    }
}
CNN__AVX2 static void cnn__v_storei(int32_t *p, int n, cnn__veci v) {
    if (n >= 8) _mm256_storeu_si256((__m256i *)(void *)p, v);
    else if (n > 0) {
        int32_t lanes[8];
        int i;
        _mm256_storeu_si256((__m256i *)(void *)lanes, v);
        for (i = 0; i < n; i++) p[i] = lanes[i];
    }
}
/* n pairs p[2t], p[2t + 1] into even[t] and odd[t]; and back, storing m floats (up to 16). */
CNN__AVX2 static inline __attribute__((always_inline)) void cnn__v_load2(const float *p, int n, cnn__vec *even, cnn__vec *odd) {
    const __m256 lo = cnn__v_load(p, 2 * n), hi = n > 4 ? cnn__v_load(p + 8, 2 * n - 8) : _mm256_setzero_ps();
    /* the shuffles stay within 128-bit halves; the permutes put the 64-bit pieces in order */
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
}
CNN__AVX2 static void cnn__v_store2(float *p, int m, cnn__vec even, cnn__vec odd) {
    const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    cnn__v_store(p, m, _mm256_permute2f128_ps(lo, hi, 0x20));
    if (m > 8) cnn__v_store(p + 8, m - 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
/* n quadruples p[4t .. 4t + 3] into q[0][t] .. q[3][t]; and back, storing m floats (up to 32).
   Each 8-float load holds two quadruples: the 128-bit permutes pair the halves so that each
   half of R_i holds a 4 x 4 block of tiles by phase, which the in-lane transpose turns. */
CNN__AVX2 static inline __attribute__((always_inline)) void cnn__v_load4(const float *p, int n, cnn__vec *q) {
    __m256 l[4], r[4], lo01, hi01, lo23, hi23;
    int i;
    for (i = 0; i < 4; i++) l[i] = 4 * n > 8 * i ? cnn__v_load(p + 8 * i, 4 * n - 8 * i) : _mm256_setzero_ps();
    r[0] = _mm256_permute2f128_ps(l[0], l[2], 0x20);    /* tiles 0 | 4 */
    r[1] = _mm256_permute2f128_ps(l[0], l[2], 0x31);    /* tiles 1 | 5 */
    r[2] = _mm256_permute2f128_ps(l[1], l[3], 0x20);    /* tiles 2 | 6 */
    r[3] = _mm256_permute2f128_ps(l[1], l[3], 0x31);    /* tiles 3 | 7 */
    lo01 = _mm256_unpacklo_ps(r[0], r[1]); hi01 = _mm256_unpackhi_ps(r[0], r[1]);
    lo23 = _mm256_unpacklo_ps(r[2], r[3]); hi23 = _mm256_unpackhi_ps(r[2], r[3]);
    q[0] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));
    q[1] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));
    q[2] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));
    q[3] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));
}
CNN__AVX2 static inline __attribute__((always_inline)) void cnn__v_store4(float *p, int m, const cnn__vec *q) {
    const __m256 lo01 = _mm256_unpacklo_ps(q[0], q[1]), hi01 = _mm256_unpackhi_ps(q[0], q[1]);
    const __m256 lo23 = _mm256_unpacklo_ps(q[2], q[3]), hi23 = _mm256_unpackhi_ps(q[2], q[3]);
    const __m256 r0 = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));   /* tiles 0 | 4 */
    const __m256 r1 = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));   /* tiles 1 | 5 */
    const __m256 r2 = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));   /* tiles 2 | 6 */
    const __m256 r3 = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));   /* tiles 3 | 7 */
    const __m256 out[4] = {_mm256_permute2f128_ps(r0, r1, 0x20), _mm256_permute2f128_ps(r2, r3, 0x20),
                           _mm256_permute2f128_ps(r0, r1, 0x31), _mm256_permute2f128_ps(r2, r3, 0x31)};
    int i;
    for (i = 0; i < 4 && m > 8 * i; i++) cnn__v_store(p + 8 * i, m - 8 * i, out[i]);
}
/* Lanes t < n of p[t * stride], zeros elsewhere, by one gather: the lanes past n are not
   read. (Scalar stores into a buffer that one vector load then reads cost more: the load
   waits for every store to reach the cache.) t * stride must fit an int32. */
CNN__AVX2 static cnn__vec cnn__v_load_strided(const float *p, ptrdiff_t stride, int n) {
    const __m256i at = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)stride));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, at, _mm256_castsi256_ps(cnn__avx2_mask(n)), 4);
}
/* Lanes j of row[x0 + j] for 0 <= x0 + j < w, zeros elsewhere (a row's padding on either
   side): the lanes left of the row come from a load at the row's start moved up -x0 lanes. */
CNN__AVX2 static inline __attribute__((always_inline)) cnn__vec cnn__v_load_at(const float *row, int x0, int w) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 v;
    if (x0 >= 0) return x0 + 8 <= w ? _mm256_loadu_ps(row + x0) : x0 >= w ? _mm256_setzero_ps() : cnn__v_load(row + x0, w - x0);
    if (x0 <= -8) return _mm256_setzero_ps();
    v = cnn__v_load(row, CNN__MIN(8 + x0, w));
    v = _mm256_permutevar8x32_ps(v, _mm256_add_epi32(lane, _mm256_set1_epi32(x0)));
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(-x0 - 1))));
}
/* Eight floats, a Winograd window's row (cnn__v_transpose8): one vector here. Which of its
   lanes a load fills: lanes lo .. lo + n - 1 from src[0 .. n - 1], zeros elsewhere
   (cnn__v8_columns, worked out once for many loads): a masked load of n floats, then a
   permute that moves them up lo lanes and brings zeros (the lanes from n up) below. */
typedef __m256 cnn__v8;
typedef struct { __m256i mask, move; int whole; } cnn__v8_cols;
CNN__AVX2 static inline __attribute__((always_inline)) cnn__v8_cols cnn__v8_columns(int lo, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    cnn__v8_cols c;
    c.mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    c.move = _mm256_and_si256(_mm256_sub_epi32(lane, _mm256_set1_epi32(lo)), _mm256_set1_epi32(7));
    c.whole = lo == 0 && n == 8;
    return c;
}
/* A window row wholly inside the image (the most of them) is one plain load. */
CNN__AVX2 static inline __attribute__((always_inline)) cnn__v8 cnn__v8_load_cols(const float *src, const cnn__v8_cols *c) {
    if (c->whole) return _mm256_loadu_ps(src);
    return _mm256_permutevar8x32_ps(_mm256_maskload_ps(src, c->mask), c->move);
}
/* out[q] lane t = rows[t][q] for q < count: the 8 x 8 transpose, in-lane unpacks and
   shuffles, then one swap of 128-bit halves per output. Every loop unrolled whole: gcc -O2
   otherwise keeps t and u on the stack, and the input transform ran 1.3x slower. */
CNN__AVX2 static inline __attribute__((always_inline)) void cnn__v_transpose8(const cnn__v8 *rows, cnn__vec *out, int count) {
    __m256 t[8], u[8];
    int i;
    _Pragma("GCC unroll 8") for (i = 0; i < 4; i++) {   /* t[2i], t[2i+1]: rows 2i and 2i+1 interleaved */
        t[2 * i] = _mm256_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
    }
    _Pragma("GCC unroll 8") for (i = 0; i < 2; i++) {   /* u[4i + q]: columns q and q + 4 of rows 4i .. 4i + 3 */
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    _Pragma("GCC unroll 8") for (i = 0; i < count; i++) /* the low halves: columns 0 .. 3; the high ones: 4 .. 7 */
        out[i] = i < 4 ? _mm256_permute2f128_ps(u[i], u[4 + i], 0x20) : _mm256_permute2f128_ps(u[i - 4], u[i], 0x31);
}
/* The 9 taps of CNN__VL 3x3 filters stride floats apart (taps[i] lane t = g[t stride + i]:
   9 for consecutive filters, a column of them for the data gradient's flipped ones), where a
   width loads them faster than by 9 strided loads (AVX-512's twin, below). Filter t's taps
   0..7 are one unaligned load at g + t stride, so the 8 filters' are an 8 x 8 block that
   cnn__v_transpose8 turns into taps 0..7 across the lanes; tap 8 is one gather. (AVX2 has no
   two-register permute, AVX-512's way.) Against 9 gathers, V3's F(4x4) forward pass (65,536
   filters transformed per call) ran 1.08-1.28x faster, its data gradient 1.06-1.07x (direct
   over Winograd time in alternated calls, medians of 21, one core of a Zen 3, five and three
   pairs of runs). */
CNN__AVX2 static inline __attribute__((always_inline)) int cnn__v_load_taps(const float *g, ptrdiff_t stride, cnn__vec *taps) {
    cnn__v8 rows[8];
    int t;
    _Pragma("GCC unroll 8") for (t = 0; t < 8; t++) rows[t] = _mm256_loadu_ps(g + stride * t);
    cnn__v_transpose8(rows, taps, 8);
    taps[8] = cnn__v_load_strided(g + 8, stride, 8);
    return 1;
}
CNN__AVX2 static cnn__vec cnn__v_set(float f) { return _mm256_set1_ps(f); }
CNN__AVX2 static cnn__vec cnn__v_add(cnn__vec a, cnn__vec b) { return _mm256_add_ps(a, b); }
CNN__AVX2 static cnn__vec cnn__v_sub(cnn__vec a, cnn__vec b) { return _mm256_sub_ps(a, b); }
CNN__AVX2 static cnn__vec cnn__v_mul(cnn__vec a, cnn__vec b) { return _mm256_mul_ps(a, b); }
CNN__AVX2 static cnn__vmask cnn__v_lt(cnn__vec a, cnn__vec b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
CNN__AVX2 static cnn__vmask cnn__v_gt(cnn__vec a, cnn__vec b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
CNN__AVX2 static cnn__vmask cnn__v_unordered(cnn__vec a, cnn__vec b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
CNN__AVX2 static cnn__vmask cnn__v_or(cnn__vmask a, cnn__vmask b) { return _mm256_or_ps(a, b); }
CNN__AVX2 static int cnn__v_any(cnn__vmask m) { return _mm256_movemask_ps(m) != 0; }
CNN__AVX2 static cnn__vec cnn__v_select(cnn__vmask m, cnn__vec a, cnn__vec b) { return _mm256_blendv_ps(b, a, m); }
CNN__AVX2 static cnn__veci cnn__v_seti(int32_t i) { return _mm256_set1_epi32(i); }
CNN__AVX2 static cnn__veci cnn__v_lanes(int32_t step) { return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(step)); }
CNN__AVX2 static cnn__veci cnn__v_addi(cnn__veci a, cnn__veci b) { return _mm256_add_epi32(a, b); }
CNN__AVX2 static cnn__veci cnn__v_selecti(cnn__vmask m, cnn__veci a, cnn__veci b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
}
CNN__AVX2 static cnn__veci cnn__v_loadi(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }
CNN__AVX2 static cnn__veci cnn__v_loadbits(const float *p) { return _mm256_castps_si256(_mm256_loadu_ps(p)); }
CNN__AVX2 static cnn__veci cnn__v_xori(cnn__veci a, cnn__veci b) { return _mm256_xor_si256(a, b); }
CNN__AVX2 static cnn__veci cnn__v_mullo(cnn__veci a, cnn__veci b) { return _mm256_mullo_epi32(a, b); }
CNN__AVX2 static cnn__veci cnn__v_shr16(cnn__veci a) { return _mm256_srli_epi32(a, 16); }
CNN__AVX2 static cnn__vec cnn__v_div(cnn__vec a, cnn__vec b) { return _mm256_div_ps(a, b); }
CNN__AVX2 static cnn__vec cnn__v_sqrt(cnn__vec a) { return _mm256_sqrt_ps(a); }
CNN__AVX2 static cnn__vec cnn__v_min(cnn__vec a, cnn__vec b) { return _mm256_min_ps(a, b); }
CNN__AVX2 static cnn__vec cnn__v_max(cnn__vec a, cnn__vec b) { return _mm256_max_ps(a, b); }
CNN__AVX2 static cnn__vec cnn__v_abs(cnn__vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
CNN__AVX2 static cnn__vec cnn__v_round(cnn__vec a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for whole numbers n in -126..127: n + 127 is the float's exponent field. */
CNN__AVX2 static cnn__vec cnn__v_pow2(cnn__vec n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
CNN__AVX2 static int cnn__v_left(size_t i, size_t count) { return count - i < 8 ? (int)(count - i) : 8; }

#ifdef CNN__X86_AVX512
/* The same vocabulary 16 floats wide. Comparisons give an opmask (a bit per lane), which
   select and the masked loads and stores take directly; load2 and store2 (de)interleave with
   one two-source permute each way instead of AVX2's in-lane shuffles and cross-lane fixes. */
#define cnn__avx512_VL 16
#define cnn__avx512_ATTR CNN__AVX512
typedef __m512i cnn__avx512_veci;
typedef __mmask16 cnn__avx512_vmask;
CNN__AVX512 static __m512 cnn__avx512_v_load(const float *p, int n) {
    return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(cnn__avx512_tail(n), p);
}
CNN__AVX512 static void cnn__avx512_v_store(float *p, int n, __m512 v) {
    if (n >= 16) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, cnn__avx512_tail(n), v);
}
CNN__AVX512 static void cnn__avx512_v_storei(int32_t *p, int n, __m512i v) {
    if (n >= 16) _mm512_storeu_si512((void *)p, v);
    else _mm512_mask_storeu_epi32((void *)p, cnn__avx512_tail(n), v);
}
CNN__AVX512 static inline __attribute__((always_inline)) void cnn__avx512_v_load2(const float *p, int n, __m512 *even, __m512 *odd) {
    const __m512 lo = cnn__avx512_v_load(p, 2 * n), hi = n > 8 ? cnn__avx512_v_load(p + 16, 2 * n - 16) : _mm512_setzero_ps();
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = _mm512_permutex2var_ps(lo, evens, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(evens, _mm512_set1_epi32(1)), hi);
}
CNN__AVX512 static void cnn__avx512_v_store2(float *p, int m, __m512 even, __m512 odd) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    cnn__avx512_v_store(p, m, _mm512_permutex2var_ps(even, first, odd));
    if (m > 16) cnn__avx512_v_store(p + 16, m - 16, _mm512_permutex2var_ps(even, _mm512_add_epi32(first, _mm512_set1_epi32(8)), odd));
}
/* Quadruples: two rounds of pairs, each two-source permute taking even or odd lanes. */
CNN__AVX512 static inline __attribute__((always_inline)) void cnn__avx512_v_load4(const float *p, int n, __m512 *q) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    __m512 l[4], e01, o01, e23, o23;
    int i;
    for (i = 0; i < 4; i++) l[i] = 4 * n > 16 * i ? cnn__avx512_v_load(p + 16 * i, 4 * n - 16 * i) : _mm512_setzero_ps();
    e01 = _mm512_permutex2var_ps(l[0], evens, l[1]); o01 = _mm512_permutex2var_ps(l[0], odds, l[1]);   /* phases 0, 2 | 1, 3 */
    e23 = _mm512_permutex2var_ps(l[2], evens, l[3]); o23 = _mm512_permutex2var_ps(l[2], odds, l[3]);
    q[0] = _mm512_permutex2var_ps(e01, evens, e23); q[2] = _mm512_permutex2var_ps(e01, odds, e23);
    q[1] = _mm512_permutex2var_ps(o01, evens, o23); q[3] = _mm512_permutex2var_ps(o01, odds, o23);
}
CNN__AVX512 static inline __attribute__((always_inline)) void cnn__avx512_v_store4(float *p, int m, const __m512 *q) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    const __m512 e01 = _mm512_permutex2var_ps(q[0], first, q[2]), e23 = _mm512_permutex2var_ps(q[0], second, q[2]);
    const __m512 o01 = _mm512_permutex2var_ps(q[1], first, q[3]), o23 = _mm512_permutex2var_ps(q[1], second, q[3]);
    const __m512 out[4] = {_mm512_permutex2var_ps(e01, first, o01), _mm512_permutex2var_ps(e01, second, o01),
                           _mm512_permutex2var_ps(e23, first, o23), _mm512_permutex2var_ps(e23, second, o23)};
    int i;
    for (i = 0; i < 4 && m > 16 * i; i++) cnn__avx512_v_store(p + 16 * i, m - 16 * i, out[i]);
}
CNN__AVX512 static __m512 cnn__avx512_v_load_strided(const float *p, ptrdiff_t stride, int n) {
    const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)stride));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), cnn__avx512_tail(n), at, p, 4);
}
/* The 9 taps of 16 consecutive 3x3 filters (144 floats from g, 9 vectors): lane t of taps[i]
   is g[9 t + i], which lies in vector (9 t + i) / 16; 1, it did. Nine loads, then for each
   tap one two-vector permute (vpermt2ps: 32 floats by 5 index bits) per pair of vectors, each
   pair's lanes merged in by a mask, and a one-vector permute for the ninth: 5 permutes and 4
   merges a tap instead of a gather, which is micro-coded (16 loads). The filter transform of
   256 x 256 filters ran 1.6-2.0x faster so (4.3-4.5 -> 2.1-2.7 ns a filter, one core, blocks
   of 12 rows as V3 takes them), V3's Winograd forward pass 1.18x. (Filters a column apart,
   the data gradient's, by masked loads of each filter's 9 floats into the 9 vectors: no
   faster than the gathers at 256 x 256, whose time goes to the 16 lines they touch.) */
CNN__AVX512 static inline __attribute__((always_inline)) int cnn__avx512_v_load_taps(const float *g, ptrdiff_t stride,
                                                                                   __m512 *taps) {
    const __m512i lane9 = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(9));
    __m512 v[9];
    int i, p;
    if (stride != 9) return 0;                              /* filters a column apart: gathered */
    _Pragma("GCC unroll 9") for (i = 0; i < 9; i++) v[i] = _mm512_loadu_ps(g + 16 * i);
    _Pragma("GCC unroll 9") for (i = 0; i < 9; i++) {       /* whole: v and taps stay in registers */
        const __m512i at = _mm512_add_epi32(lane9, _mm512_set1_epi32(i));     /* float 9 t + i of the 144 */
        __m512 tap = _mm512_permutex2var_ps(v[0], at, v[1]);
        _Pragma("GCC unroll 3") for (p = 1; p < 4; p++)   /* the lanes whose float lies at 32 p or beyond: pair p */
            tap = _mm512_mask_mov_ps(tap, _mm512_cmpge_epu32_mask(at, _mm512_set1_epi32(32 * p)),
                                     _mm512_permutex2var_ps(v[2 * p], at, v[2 * p + 1]));
        taps[i] = _mm512_mask_permutexvar_ps(tap, _mm512_cmpge_epu32_mask(at, _mm512_set1_epi32(128)), at, v[8]);
    }
    return 1;
}
/* Left of the row, an expanding load puts row[0 ..] into the lanes from -x0 up. */
CNN__AVX512 static inline __attribute__((always_inline)) __m512 cnn__avx512_v_load_at(const float *row, int x0, int w) {
    if (x0 >= 0) return x0 + 16 <= w ? _mm512_loadu_ps(row + x0) : x0 >= w ? _mm512_setzero_ps() : cnn__avx512_v_load(row + x0, w - x0);
    if (x0 <= -16) return _mm512_setzero_ps();
    return _mm512_maskz_expandloadu_ps((__mmask16)(cnn__avx512_tail(CNN__MIN(16 + x0, w)) << -x0), row);
}
typedef __m256 cnn__avx512_v8;              /* eight floats: half a vector, loaded as AVX2 does */
typedef cnn__avx2_v8_cols cnn__avx512_v8_cols;
CNN__AVX512 static inline __attribute__((always_inline)) cnn__avx512_v8_cols cnn__avx512_v8_columns(int lo, int n) {
    return cnn__avx2_v8_columns(lo, n);
}
CNN__AVX512 static inline __attribute__((always_inline)) __m256 cnn__avx512_v8_load_cols(const float *src,
                                                                                       const cnn__avx512_v8_cols *c) {
    return cnn__avx2_v8_load_cols(src, c);
}
/* out[q] lane t = rows[t][q] for q < count, t < 16: rows t and t + 8 side by side in one
   vector, then AVX2's 8 x 8 transpose in both halves at once (the unpacks and shuffles work
   within 128-bit lanes either way), and one two-vector permute per output for the halves'
   swap. */
CNN__AVX512 static inline __attribute__((always_inline)) void cnn__avx512_v_transpose8(const __m256 *rows, __m512 *out,
                                                                                      int count) {
    const __m512i lows = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i highs = _mm512_add_epi32(lows, _mm512_set1_epi32(4));
    const __mmask16 all = 0xFFFF;        /* the zero-masking forms: GCC 12's plain ones read an
                                            undefined vector and warn in C++ (-Wmaybe-uninitialized) */
    __m512 z[8], t[8], u[8];
    int i;
    _Pragma("GCC unroll 8") for (i = 0; i < 8; i++)
        z[i] = _mm512_castpd_ps(_mm512_mask_broadcast_f64x4(_mm512_maskz_broadcast_f64x4(0x0F, _mm256_castps_pd(rows[i])),
                                                            0xF0, _mm256_castps_pd(rows[i + 8])));
    _Pragma("GCC unroll 8") for (i = 0; i < 4; i++) {
        t[2 * i] = _mm512_maskz_unpacklo_ps(all, z[2 * i], z[2 * i + 1]);
        t[2 * i + 1] = _mm512_maskz_unpackhi_ps(all, z[2 * i], z[2 * i + 1]);
    }
    _Pragma("GCC unroll 8") for (i = 0; i < 2; i++) {
        u[4 * i] = _mm512_maskz_shuffle_ps(all, t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_maskz_shuffle_ps(all, t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_maskz_shuffle_ps(all, t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_maskz_shuffle_ps(all, t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    _Pragma("GCC unroll 8") for (i = 0; i < count; i++) out[i] = _mm512_permutex2var_ps(u[i & 3], i < 4 ? lows : highs, u[4 + (i & 3)]);
}
CNN__AVX512 static __m512 cnn__avx512_v_set(float f) { return _mm512_set1_ps(f); }
/* a + b with a as the first source: of two NaNs, a's comes out, as in the scalar code. The
   compilers swap the operands of an addition intrinsic at will (clang does here), which
   changes which NaN an average-pooling window returns; the instruction keeps the order. */
CNN__AVX512 static __m512 cnn__avx512_v_add(__m512 a, __m512 b) {
    __m512 r;
    __asm__("vaddps %2, %1, %0" : "=v"(r) : "v"(a), "v"(b));
    return r;
}
CNN__AVX512 static __m512 cnn__avx512_v_sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
CNN__AVX512 static __m512 cnn__avx512_v_mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
CNN__AVX512 static __mmask16 cnn__avx512_v_lt(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
CNN__AVX512 static __mmask16 cnn__avx512_v_gt(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
CNN__AVX512 static __mmask16 cnn__avx512_v_unordered(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
CNN__AVX512 static __mmask16 cnn__avx512_v_or(__mmask16 a, __mmask16 b) { return (__mmask16)(a | b); }
CNN__AVX512 static int cnn__avx512_v_any(__mmask16 m) { return m != 0; }
CNN__AVX512 static __m512 cnn__avx512_v_select(__mmask16 m, __m512 a, __m512 b) { return _mm512_mask_blend_ps(m, b, a); }
CNN__AVX512 static __m512i cnn__avx512_v_seti(int32_t i) { return _mm512_set1_epi32(i); }
CNN__AVX512 static __m512i cnn__avx512_v_lanes(int32_t step) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(step));
}
CNN__AVX512 static __m512i cnn__avx512_v_addi(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
CNN__AVX512 static __m512i cnn__avx512_v_selecti(__mmask16 m, __m512i a, __m512i b) { return _mm512_mask_blend_epi32(m, b, a); }
CNN__AVX512 static __m512 cnn__avx512_v_div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
CNN__AVX512 static __m512 cnn__avx512_v_sqrt(__m512 a) { return _mm512_maskz_sqrt_ps(0xffff, a); }
CNN__AVX512 static __m512 cnn__avx512_v_min(__m512 a, __m512 b) { return _mm512_maskz_min_ps(0xffff, a, b); }
CNN__AVX512 static __m512 cnn__avx512_v_max(__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xffff, a, b); }
CNN__AVX512 static __m512 cnn__avx512_v_abs(__m512 a) { return _mm512_abs_ps(a); }
CNN__AVX512 static __m512 cnn__avx512_v_round(__m512 a) { return _mm512_maskz_roundscale_ps(0xffff, a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
CNN__AVX512 static __m512 cnn__avx512_v_pow2(__m512 n) {
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, _mm512_add_epi32(_mm512_maskz_cvtps_epi32(0xffff, n), _mm512_set1_epi32(127)), 23));
}
CNN__AVX512 static int cnn__avx512_v_left(size_t i, size_t count) { return count - i < 16 ? (int)(count - i) : 16; }
#endif /* CNN__X86_AVX512 */
#else /* CNN__ARM_NEON */
#define cnn__neon_VL 4
#define cnn__neon_ATTR
typedef float32x4_t cnn__vec;
typedef int32x4_t cnn__veci;
typedef uint32x4_t cnn__vmask;
static cnn__vec cnn__v_load(const float *p, int n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (n >= 4) return vld1q_f32(p);
    memcpy(t, p, (size_t)n * sizeof(float));
    return vld1q_f32(t);
}
static void cnn__v_store(float *p, int n, cnn__vec v) {
    float t[4];
    if (n >= 4) { vst1q_f32(p, v); return; }
    vst1q_f32(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
static void cnn__v_storei(int32_t *p, int n, cnn__veci v) {
    int32_t t[4];
    if (n >= 4) { vst1q_s32(p, v); return; }
    vst1q_s32(t, v);
    memcpy(p, t, (size_t)n * sizeof(int32_t));
}
static void cnn__v_load2(const float *p, int n, cnn__vec *even, cnn__vec *odd) {
    float t[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    float32x4x2_t v;
    if (n < 4) memcpy(t, p, (size_t)(2 * n) * sizeof(float));
    v = vld2q_f32(n >= 4 ? p : t);
    *even = v.val[0];
    *odd = v.val[1];
}
static void cnn__v_store2(float *p, int m, cnn__vec even, cnn__vec odd) {
    float t[8];
    float32x4x2_t v;
    v.val[0] = even;
    v.val[1] = odd;
    vst2q_f32(m >= 8 ? p : t, v);
    if (m < 8) memcpy(p, t, (size_t)m * sizeof(float));
}
static void cnn__v_load4(const float *p, int n, cnn__vec *q) {
    float t[16] = {0.0f};
    float32x4x4_t v;
    if (n < 4) memcpy(t, p, (size_t)(4 * n) * sizeof(float));
    v = vld4q_f32(n >= 4 ? p : t);
    q[0] = v.val[0]; q[1] = v.val[1]; q[2] = v.val[2]; q[3] = v.val[3];
}
static void cnn__v_store4(float *p, int m, const cnn__vec *q) {
    float t[16];
    float32x4x4_t v;
    v.val[0] = q[0]; v.val[1] = q[1]; v.val[2] = q[2]; v.val[3] = q[3];
    vst4q_f32(m >= 16 ? p : t, v);
    if (m < 16) memcpy(p, t, (size_t)m * sizeof(float));
}
static cnn__vec cnn__v_load_strided(const float *p, ptrdiff_t stride, int n) {
    cnn__vec v = vdupq_n_f32(0.0f);             /* lane by lane into the register */
    if (n > 0) v = vsetq_lane_f32(p[0], v, 0);
    if (n > 1) v = vsetq_lane_f32(p[stride], v, 1);
    if (n > 2) v = vsetq_lane_f32(p[2 * stride], v, 2);
    if (n > 3) v = vsetq_lane_f32(p[3 * stride], v, 3);
    return v;
}
/* AVX2's 8 x 8 transpose would be two 4 x 4 transposes a tap here, each after 4 loads of
   two vectors: not tried; the taps are loaded a tap at a time. */
static int cnn__v_load_taps(const float *g, ptrdiff_t stride, cnn__vec *taps) { (void)g; (void)stride; (void)taps; return 0; }
static cnn__vec cnn__v_load_at(const float *row, int x0, int w) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int j;
    if (x0 >= 0 && x0 + 4 <= w) return vld1q_f32(row + x0);
    for (j = 0; j < 4; j++)
        if (x0 + j >= 0 && x0 + j < w) t[j] = row[x0 + j];
    return vld1q_f32(t);
}
typedef float32x4x2_t cnn__v8;               /* eight floats: two vectors */
typedef struct { int lo, n; } cnn__v8_cols;
static cnn__v8_cols cnn__v8_columns(int lo, int n) {
    cnn__v8_cols c;
    c.lo = lo; c.n = n;
    return c;
}
static cnn__v8 cnn__v8_load_cols(const float *src, const cnn__v8_cols *c) {
    float t[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    cnn__v8 r;
    int j;
    for (j = 0; j < c->n; j++) t[c->lo + j] = src[j];
    r.val[0] = vld1q_f32(t);
    r.val[1] = vld1q_f32(t + 4);
    return r;
}
/* out[q] lane t = rows[t][q] for q < count, t < 4: two 4 x 4 transposes. */
static void cnn__v_transpose8(const cnn__v8 *rows, cnn__vec *out, int count) {
    int h;
    for (h = 0; 4 * h < count; h++) {
        const float32x4x2_t p01 = vtrnq_f32(rows[0].val[h], rows[1].val[h]), p23 = vtrnq_f32(rows[2].val[h], rows[3].val[h]);
        out[4 * h] = vcombine_f32(vget_low_f32(p01.val[0]), vget_low_f32(p23.val[0]));
        out[4 * h + 1] = vcombine_f32(vget_low_f32(p01.val[1]), vget_low_f32(p23.val[1]));
        if (4 * h + 2 < count) out[4 * h + 2] = vcombine_f32(vget_high_f32(p01.val[0]), vget_high_f32(p23.val[0]));
        if (4 * h + 3 < count) out[4 * h + 3] = vcombine_f32(vget_high_f32(p01.val[1]), vget_high_f32(p23.val[1]));
    }
}
static cnn__vec cnn__v_set(float f) { return vdupq_n_f32(f); }
static cnn__vec cnn__v_add(cnn__vec a, cnn__vec b) { return vaddq_f32(a, b); }
static cnn__vec cnn__v_sub(cnn__vec a, cnn__vec b) { return vsubq_f32(a, b); }
static cnn__vec cnn__v_mul(cnn__vec a, cnn__vec b) { return vmulq_f32(a, b); }
static cnn__vmask cnn__v_lt(cnn__vec a, cnn__vec b) { return vcltq_f32(a, b); }
static cnn__vmask cnn__v_gt(cnn__vec a, cnn__vec b) { return vcgtq_f32(a, b); }
static cnn__vmask cnn__v_unordered(cnn__vec a, cnn__vec b) { return vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b))); }
static cnn__vmask cnn__v_or(cnn__vmask a, cnn__vmask b) { return vorrq_u32(a, b); }
static int cnn__v_any(cnn__vmask m) { return vmaxvq_u32(m) != 0; }
static cnn__vec cnn__v_select(cnn__vmask m, cnn__vec a, cnn__vec b) { return vbslq_f32(m, a, b); }
static cnn__veci cnn__v_seti(int32_t i) { return vdupq_n_s32(i); }
static cnn__veci cnn__v_lanes(int32_t step) { const int32_t t[4] = {0, step, 2 * step, 3 * step}; return vld1q_s32(t); }
static cnn__veci cnn__v_addi(cnn__veci a, cnn__veci b) { return vaddq_s32(a, b); }
static cnn__veci cnn__v_selecti(cnn__vmask m, cnn__veci a, cnn__veci b) { return vbslq_s32(m, a, b); }
static cnn__veci cnn__v_loadi(const int32_t *p) { return vld1q_s32(p); }
static cnn__veci cnn__v_loadbits(const float *p) { return vreinterpretq_s32_f32(vld1q_f32(p)); }
static cnn__veci cnn__v_xori(cnn__veci a, cnn__veci b) { return veorq_s32(a, b); }
static cnn__veci cnn__v_mullo(cnn__veci a, cnn__veci b) { return vmulq_s32(a, b); }
static cnn__veci cnn__v_shr16(cnn__veci a) { return vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), 16)); }
static cnn__vec cnn__v_div(cnn__vec a, cnn__vec b) { return vdivq_f32(a, b); }
static cnn__vec cnn__v_sqrt(cnn__vec a) { return vsqrtq_f32(a); }
static cnn__vec cnn__v_min(cnn__vec a, cnn__vec b) { return vminq_f32(a, b); }
static cnn__vec cnn__v_max(cnn__vec a, cnn__vec b) { return vmaxq_f32(a, b); }
static cnn__vec cnn__v_abs(cnn__vec a) { return vabsq_f32(a); }
static cnn__vec cnn__v_round(cnn__vec a) { return vrndnq_f32(a); }
static cnn__vec cnn__v_pow2(cnn__vec n) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23)); }
/* The lanes left from i to count, at most CNN__VL. */
static int cnn__v_left(size_t i, size_t count) { return count - i < 4 ? (int)(count - i) : 4; }
#endif
#endif /* CNN__SIMD */

/* ============================================================================================
   F4. Convolution: the fast paths
   ============================================================================================ */

/* ---------------------------------------------------------------------------------------------
   Convolution on the vector micro-kernel: the direct convolution as a matrix product

       Y[k][p] = b[k] + sum_q W[k][q] * X[q][p]       q = (c, r, s) taps, p = output pixels

   where X[q][p] (im2col) is never built whole: strips of 16 pixels by up to CNN__QC taps are
   packed as the kernel needs them (16 KB, in L1) and each strip serves every filter. Weights
   are read in place. Backward-data of a stride-1 convolution is itself a convolution (of dy
   with the flipped, transposed kernel, padded by extent-1-pad): the same code, reading the
   weights through an offset table. Backward-weights is dW = dY * X^T: the same micro-kernel
   with dY as A and a strip of X^T (pixels by 16 taps) as B.
   --------------------------------------------------------------------------------------------- */
#ifdef CNN__SIMD
#define CNN__QC 256

/* strip[(q - q0) * 16 + t] = im2col value of tap q for pixel p0 + t of one image (zero in the
   padding and for t >= np). The 16 pixels fall into at most a few runs along output rows; in
   each run, a tap reads a row of input at a constant stride, so the in-bounds part of the run
   is found with two divisions and copied, and only the ends are zero-filled. */
static void cnn__pack_im2col(const cnn_conv2d_shape *s, int ow, const float *xn, int p0, int np, int q0, int q1, float *strip) {
    int run_t[16], run_len[16], run_row[16], run_col[16], runs = 0, t, q, c, r, sc, k;
    for (t = 0; t < np;) {                      /* split the strip into runs within one row */
        const int i = (p0 + t) / ow, j = (p0 + t) % ow, len = CNN__MIN(np - t, ow - j);
        run_t[runs] = t; run_len[runs] = len;
        run_row[runs] = i * s->stride_h - s->pad_top;
        run_col[runs] = j * s->stride_w - s->pad_left;
        runs++;
        t += len;
    }
    c = q0 / (s->kh * s->kw); r = (q0 / s->kw) % s->kh; sc = q0 % s->kw;
    for (q = q0; q < q1; q++) {
        const float *xc = xn + (size_t)c * s->h * s->w;
        float *dst = strip + (size_t)(q - q0) * 16;
        for (k = 0; k < runs; k++) {
            const int iy = run_row[k] + r * s->dilation_h, ix0 = run_col[k] + sc * s->dilation_w, sw = s->stride_w;
            float *d = dst + run_t[k];
            int lo = 0, hi = 0, u;
            if (iy >= 0 && iy < s->h) {
                /* columns ix0 + u * sw inside [0, w): u in [lo, hi) */
                lo = ix0 >= 0 ? 0 : (int)(((ptrdiff_t)sw - 1 - ix0) / sw);   /* sw - 1 - ix0 may pass INT_MAX */
                hi = ix0 >= s->w ? 0 : (s->w - 1 - ix0) / sw + 1;
                lo = CNN__MIN(lo, run_len[k]);
                hi = CNN__MAX(lo, CNN__MIN(hi, run_len[k]));
            }
            for (u = 0; u < lo; u++) d[u] = 0.0f;
            if (hi > lo) {
                const float *src = xc + (size_t)iy * s->w + ix0;    /* ix0 + lo * sw >= 0 */
                if (sw == 1) memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
                else for (u = lo; u < hi; u++) d[u] = src[(ptrdiff_t)u * sw];
            }
            for (u = hi; u < run_len[k]; u++) d[u] = 0.0f;
        }
        for (t = np; t < 16; t++) dst[t] = 0.0f;
        if (++sc == s->kw) { sc = 0; if (++r == s->kh) { r = 0; c++; } }
    }
}

/* strip[(p - p0) * 16 + t] = im2col value of tap q0 + t for pixel p (t < nq, else zero).
   Pixels whose whole window lies inside the input (most of them) need no bounds checks. */
static void cnn__pack_im2col_transposed(const cnn_conv2d_shape *s, int ow, const float *xn, int p0, int np, int q0, int nq, float *strip) {
    ptrdiff_t tap_off[16];
    int tap_dy[16], tap_dx[16], t, p;
    const int reach_h = s->dilation_h * (s->kh - 1), reach_w = s->dilation_w * (s->kw - 1);
    for (t = 0; t < nq; t++) {
        const int q = q0 + t;
        tap_dy[t] = ((q / s->kw) % s->kh) * s->dilation_h;
        tap_dx[t] = (q % s->kw) * s->dilation_w;
        tap_off[t] = (ptrdiff_t)(q / (s->kh * s->kw)) * s->h * s->w + (ptrdiff_t)tap_dy[t] * s->w + tap_dx[t];
    }
    for (p = 0; p < np; p++) {
        const int y0 = ((p0 + p) / ow) * s->stride_h - s->pad_top, x0 = ((p0 + p) % ow) * s->stride_w - s->pad_left;
        float *dst = strip + (size_t)p * 16;
        if (y0 >= 0 && y0 + reach_h < s->h && x0 >= 0 && x0 + reach_w < s->w) {
            const float *base = xn + (size_t)y0 * s->w + x0;
            for (t = 0; t < nq; t++) dst[t] = base[tap_off[t]];
        } else {
            for (t = 0; t < nq; t++) {
                const int yy = y0 + tap_dy[t], xx = x0 + tap_dx[t];
                dst[t] = yy >= 0 && yy < s->h && xx >= 0 && xx < s->w ? xn[tap_off[t] + (ptrdiff_t)y0 * s->w + x0] : 0.0f;
            }
        }
        for (t = nq; t < 16; t++) dst[t] = 0.0f;
    }
}

static void cnn__conv2d_forward_simd(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b, float *y) {
    float strip[CNN__QC * 16] CNN__ALIGN32;
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int pixels = oh * ow, taps = s->c * s->kh * s->kw;
    int n, p0, q0;
    for (n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->c * s->h * s->w;
        float *yn = y + (size_t)n * s->k * pixels;
        for (p0 = 0; p0 < pixels; p0 += 16) {
            const int np = CNN__MIN(16, pixels - p0);
            for (q0 = 0; q0 < taps; q0 += CNN__QC) {
                const int q1 = CNN__MIN(taps, q0 + CNN__QC);
                cnn__pack_im2col(s, ow, xn, p0, np, q0, q1, strip);
                cnn__simd_gemm_strip(s->k, q1 - q0, w + q0, taps, 1, NULL, NULL, strip, NULL, yn + p0, pixels, np, q0 > 0, q0 == 0 ? b : NULL);
            }
        }
    }
}

/* Returns 0 (and does nothing) for shapes it does not handle: strides above 1. */
/* The data gradient reads the forward's filters w[k][c][r][s] flipped and transposed, as the
   filters of a convolution of dy: row c of its A, tap q = (k, r, s), is w[k][c][kh-1-r][kw-1-s],
   which is a[c * area + out[q - q0]] for taps q0..q1-1 (chans = the forward's input channels). */
static void cnn__flipped_offsets(int q0, int q1, int area, int chans, int32_t *out) {
    int q;
    for (q = q0; q < q1; q++) out[q - q0] = (int32_t)((size_t)(q / area) * chans * area + (area - 1 - q % area));
}

static int cnn__conv2d_backward_data_simd(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx) {
    float strip[CNN__QC * 16] CNN__ALIGN32;
    int32_t offsets[CNN__QC];
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int area = s->kh * s->kw, pixels = s->h * s->w, taps = s->k * area;
    cnn_conv2d_shape t;          /* dx = conv(dy, flipped transposed w): a stride-1 forward shape */
    int n, p0, q0;
    if (s->stride_h != 1 || s->stride_w != 1) return 0;
    t.n = s->n; t.c = s->k; t.h = oh; t.w = ow;
    t.k = s->c; t.kh = s->kh; t.kw = s->kw;
    t.stride_h = t.stride_w = 1;
    t.dilation_h = s->dilation_h; t.dilation_w = s->dilation_w;
    t.pad_top = s->dilation_h * (s->kh - 1) - s->pad_top;
    t.pad_bottom = s->dilation_h * (s->kh - 1) - s->pad_bottom;
    t.pad_left = s->dilation_w * (s->kw - 1) - s->pad_left;
    t.pad_right = s->dilation_w * (s->kw - 1) - s->pad_right;
    if (t.pad_top < 0 || t.pad_bottom < 0 || t.pad_left < 0 || t.pad_right < 0) return 0;
    for (q0 = 0; q0 < taps; q0 += CNN__QC) {
        const int q1 = CNN__MIN(taps, q0 + CNN__QC);
        cnn__flipped_offsets(q0, q1, area, s->c, offsets);
        for (n = 0; n < s->n; n++) {
            const float *dyn = dy + (size_t)n * s->k * oh * ow;
            float *dxn = dx + (size_t)n * s->c * pixels;
            for (p0 = 0; p0 < pixels; p0 += 16) {
                const int np = CNN__MIN(16, pixels - p0);
                cnn__pack_im2col(&t, s->w, dyn, p0, np, q0, q1, strip);
                cnn__simd_gemm_strip(s->c, q1 - q0, w, area, 0, NULL, offsets, strip, NULL, dxn + p0, pixels, np, q0 > 0, NULL);
            }
        }
    }
    return 1;
}

/* cnn__wino_peel on the vector paths: each peeled line is a product of the micro-kernel, the
   filters as A read in place through tap offsets (as the data gradient above reads them),
   and B read in place too: each input channel's line is first copied into lines[],
   zero-padded on both sides, so that the 16 inputs under tap (c, j) of outputs p0 .. p0 + 15
   are the 16 floats at line c + p0 + j. The taps come in blocks of whole channels (the
   offsets are computed once per block); the row's products go straight into the output row,
   the column's into column[], then down the output column. */
static void cnn__wino_peel_simd(const cnn__wino_shape *s, const float *x, const float *w, float *y, float *work,
                                int i0, int i1) {
    int32_t a_off[CNN__QC], b_off[CNN__QC];
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->y_h * s->y_w;
    const ptrdiff_t ld = cnn__wino_peel_ld(s);
    const int block = CNN__QC / 3;                  /* input channels a block of taps takes */
    float *lines = work, *column = work + (size_t)s->c * ld;
    int i, side, p0, c0, c, j, p, o;
    for (i = i0; i < i1; i++) {
        const float *xi = x + (size_t)i * s->c * in_plane;
        float *yi = y + (size_t)i * s->k * out_plane;
        for (side = 0; side < 2; side++) {
            const cnn__wino_line l = cnn__wino_peeled_line(s, side);
            float *out = side == 0 ? yi + l.out_first : column;
            if (!l.count) continue;
            for (c = 0; c < s->c; c++) {            /* line c at j: input j - pad of the line, 0 outside */
                const float *src = xi + (size_t)c * in_plane + l.in_first;
                float *line = lines + c * ld;
                const int j0 = (int)CNN__MIN(ld, CNN__MAX(0, l.pad)), j1 = (int)CNN__MIN(ld, CNN__MAX(j0, l.pad + l.length));
                memset(line, 0, (size_t)j0 * sizeof(float));
                if (l.in_step == 1) memcpy(line + j0, src + (j0 - l.pad), (size_t)(j1 - j0) * sizeof(float));
                else for (p = j0; p < j1; p++) line[p] = src[(ptrdiff_t)(p - l.pad) * l.in_step];
                memset(line + j1, 0, (size_t)(ld - j1) * sizeof(float));
            }
            for (c0 = 0; c0 < s->c; c0 += block) {
                const int c1 = CNN__MIN(s->c, c0 + block);
                for (c = c0; c < c1; c++)               /* tap 3 (c - c0) + j: channel c, filter row or column j */
                    for (j = 0; j < 3; j++) {
                        a_off[3 * (c - c0) + j] = (int32_t)((size_t)c * s->k * 9 + 8 - l.tap_step * j);
                        b_off[3 * (c - c0) + j] = (int32_t)(c * ld + j);
                    }
                for (p0 = 0; p0 < l.count; p0 += 16)
                    cnn__simd_gemm_strip(s->k, 3 * (c1 - c0), w, 9, 0, NULL, a_off, lines + p0, b_off, out + p0,
                                         side == 0 ? (ptrdiff_t)out_plane : ld, CNN__MIN(16, l.count - p0), c0 > 0, NULL);
            }
            if (side == 1)
                for (o = 0; o < s->k; o++)
                    for (p = 0; p < l.count; p++) yi[o * out_plane + l.out_first + (size_t)p * l.out_step] = column[o * ld + p];
        }
    }
}

static void cnn__conv2d_backward_weights_simd(const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw) {
    float strip[CNN__QC * 16] CNN__ALIGN32;
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int pixels = oh * ow, taps = s->c * s->kh * s->kw;
    int n, p0, q0;
    memset(dw, 0, (size_t)s->k * taps * sizeof(float));
    for (n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->c * s->h * s->w;
        const float *dyn = dy + (size_t)n * s->k * pixels;
        for (q0 = 0; q0 < taps; q0 += 16) {
            const int nq = CNN__MIN(16, taps - q0);
            for (p0 = 0; p0 < pixels; p0 += CNN__QC) {
                const int np = CNN__MIN(CNN__QC, pixels - p0);
                cnn__pack_im2col_transposed(s, ow, xn, p0, np, q0, nq, strip);
                cnn__simd_gemm_strip(s->k, np, dyn + p0, pixels, 1, NULL, NULL, strip, NULL, dw + q0, taps, nq, 1, NULL);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
   Direct convolution on a padded copy: stride 1, with a workspace, and no im2col packing.

   At stride 1, output (i, j) of a convolution over a zero-padded input P (planes of hp x wp)
   reads P[c][i + r*dh][j + s*dw]. Number the outputs with P's row length, p = i*wp + j: then
   tap (c, r, s) reads P at p + off(c, r, s), off = c*hp*wp + r*dh*wp + s*dw, so 16 consecutive
   positions read 16 consecutive floats for every tap, and the micro-kernel takes its B rows
   straight from P through the offset table. The price: the positions with j >= ow (the last
   wp - ow of each row, which wrap into the padding) are computed and dropped, so a row of
   56 outputs padded to 58 wastes 2 lanes in 58. The 16 floats after the last plane are zero,
   for the last strip's overreach.
   --------------------------------------------------------------------------------------------- */

/* Pieces every path with a workspace shares (and cnn__workspace_floats, _fits above). */
static int cnn__has_padding(const cnn_conv2d_shape *s) { return s->pad_top || s->pad_bottom || s->pad_left || s->pad_right; }

/* The planes the forward pass and the weight gradient read: the input inside its padding. */
static void cnn__padded_size(const cnn_conv2d_shape *s, int *hp, int *wp) {
    *hp = s->h + s->pad_top + s->pad_bottom;
    *wp = s->w + s->pad_left + s->pad_right;
}
/* The planes the data gradient reads: dy spread out by the stride, inside the kernel's reach.
   Returns 0 (sizes 0) when they do not fit in an int: the reach alone may be near INT_MAX. */
static int cnn__spread_size(const cnn_conv2d_shape *s, int *hp, int *wp) {
    const long long h = s->h + (long long)(s->kh - 1) * s->dilation_h, w = s->w + (long long)(s->kw - 1) * s->dilation_w;
    const int fits = h <= INT_MAX && w <= INT_MAX;
    *hp = fits ? (int)h : 0;
    *wp = fits ? (int)w : 0;
    return fits;
}

/* out[q - q0] for taps q0..q1-1 = (c, r, s) in planes of hp x wp: c*hp*wp + r*dh*wp + s*dw. */
static void cnn__tap_offsets(int q0, int q1, int kh, int kw, int dh, int dw, int hp, int wp, int32_t *out) {
    int q, c = q0 / (kh * kw), r = q0 / kw % kh, s = q0 % kw;  /* tap q = (c, r, s), walked on without dividing */
    for (q = q0; q < q1; q++) {
        out[q - q0] = (int32_t)(((size_t)c * hp + (size_t)r * dh) * wp + (size_t)s * dw);
        if (++s == kw && (s = 0, ++r == kh)) { r = 0; c++; }
    }
}

/* Copies one image (chans planes of h x w) into planes of hp x wp at (top, left). The padding
   around it is not touched: the callers clear the buffer once per call, and every image
   writes the same cells. */
static void cnn__copy_into_padding(const float *xn, int chans, int h, int w, int top, int left, int hp, int wp, float *pin) {
    int c, i;
    for (c = 0; c < chans; c++)
        for (i = 0; i < h; i++)
            memcpy(pin + ((size_t)c * hp + top + i) * wp + left, xn + ((size_t)c * h + i) * w, (size_t)w * sizeof(float));
}

/* The data gradient's input for one image: dy[k][i][j] at P[k][i*sh + (kh-1)*dh - pt][j*sw +
   (kw-1)*dw - pl] in planes of cnn__spread_size, zeros between (cleared by the caller, as
   above). Values that land outside belong to outputs whose windows lie wholly in the padding:
   they reach no input and are dropped. */
static void cnn__spread_gradient(const cnn_conv2d_shape *s, const float *dyn, float *pin) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int top = (s->kh - 1) * s->dilation_h - s->pad_top, left = (s->kw - 1) * s->dilation_w - s->pad_left;
    int hp, wp, k, i, j, lo, hi;
    cnn__spread_size(s, &hp, &wp);
    cnn__tap_range(ow, wp, s->stride_w, -left, 0, &lo, &hi);    /* columns j with 0 <= j*sw + left < wp */
    if (hi <= lo) return;
    for (k = 0; k < s->k; k++)
        for (i = 0; i < oh; i++) {
            const int row = i * s->stride_h + top;
            const float *src = dyn + ((size_t)k * oh + i) * ow + lo;
            float *dst;
            if (row < 0 || row >= hp) continue;
            dst = pin + ((size_t)k * hp + row) * wp + (lo * s->stride_w + left);
            if (s->stride_w == 1) memcpy(dst, src, (size_t)(hi - lo) * sizeof(float));
            else for (j = 0; j < hi - lo; j++) dst[(ptrdiff_t)j * s->stride_w] = src[j];
        }
}

/* The direct grid's strips: positions (oh - 1) * wp + ow, 16 to a strip. */
static long long cnn__grid_strips(int oh, int ow, int wp) { return (((long long)oh - 1) * wp + ow + 15) / 16; }

/* The workspace in floats: P (chans planes of hp x wp, plus 16) and the wide output. */
static size_t cnn__direct_floats(int chans, int hp, int wp, int rows, int oh) {
    return cnn__round16((size_t)chans * hp * wp + 16) + cnn__round16((size_t)rows * oh * wp);
}

/* Whether the direct grid is worth it: it computes (oh - 1) * wp + ow positions where im2col
   computes oh * ow, but packs nothing; packing costs about a quarter (measured on V1), so
   the direct path wins unless its grid is more than a quarter larger, and the offsets must
   fit in 32 bits. */
static int cnn__grid_fits(int chans, int hp, int wp) { return (long long)chans * hp * wp + 16 <= INT32_MAX; }
static int cnn__direct_pays(int chans, int hp, int wp, int oh, int ow) {
    if (!cnn__grid_fits(chans, hp, wp)) return 0;
    return cnn__grid_strips(oh, ow, wp) * 4 <= ((long long)oh * ow + 15) / 16 * 5;
}

/* out[m][i][j] = bias[m] + sum_q A[m][q] * P[i*wp + j + off(q)] for m < rows, where P is set
   up as above, wide (rows x oh x wp) is scratch, and A is a (rows x chans*kh*kw), or, when
   flipped, the forward's filters read as the data gradient's: a holds chans x rows filters
   of kh x kw and A[m][(c, r, s)] = a[c][m][kh-1-r][kw-1-s]. */
static void cnn__direct_conv(int rows, const float *a, int flipped, const float *bias, const float *pin, int chans,
                             int hp, int wp, int kh, int kw, int dh, int dw, float *wide, float *out) {
    int32_t offsets[CNN__QC], a_offsets[CNN__QC];
    const int taps = chans * kh * kw, area = kh * kw, oh = hp - (kh - 1) * dh, ow = wp - (kw - 1) * dw;
    const int positions = (oh - 1) * wp + ow;
    int q0, p0, m, i;
    /* Tap chunks outside, strips inside: the chunk of A (rows x 256) stays in L2 while every
       strip of P streams past it. */
    for (q0 = 0; q0 < taps; q0 += CNN__QC) {
        const int q1 = CNN__MIN(taps, q0 + CNN__QC);
        const float *a0 = flipped ? a : a + q0;
        const ptrdiff_t a_row = flipped ? area : taps;
        cnn__tap_offsets(q0, q1, kh, kw, dh, dw, hp, wp, offsets);
        if (flipped) cnn__flipped_offsets(q0, q1, area, rows, a_offsets);
        if (rows <= 2 && positions >= 64)  /* one or two rows (a one-channel data gradient): 64 wide */
            for (m = 0; m < rows; m++)
                cnn__simd_gemm_row_run(q1 - q0, a0 + m * a_row, 1, flipped ? a_offsets : NULL, pin, offsets,
                                       wide + (size_t)m * oh * wp, positions, q0 > 0, q0 == 0 && bias ? bias[m] : 0.0f);
        else
            for (p0 = 0; p0 < positions; p0 += 32)
                cnn__simd_gemm_wide(rows, q1 - q0, a0, a_row, 1, NULL, flipped ? a_offsets : NULL, pin + p0, offsets, 16,
                                    wide + p0, (ptrdiff_t)oh * wp, CNN__MIN(32, positions - p0), q0 > 0, q0 == 0 ? bias : NULL);
    }
    for (m = 0; m < rows; m++)           /* drop the wrapped columns */
        for (i = 0; i < oh; i++)
            memcpy(out + ((size_t)m * oh + i) * ow, wide + ((size_t)m * oh + i) * wp, (size_t)ow * sizeof(float));
}

static size_t cnn__forward_direct_floats(const cnn_conv2d_shape *s) {
    int hp, wp;
    if (s->stride_h != 1 || s->stride_w != 1) return 0;
    cnn__padded_size(s, &hp, &wp);
    return cnn__direct_floats(s->c, hp, wp, s->k, cnn__conv2d_out_h(s));
}

/* The forward pass on the direct grid. Returns 0 (doing nothing) when it does not apply, or,
   unless forced, does not pay. */
static int cnn__conv2d_forward_grid(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                    float *y, void *ws, size_t ws_bytes, int forced) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    float *pin, *wide;
    int hp, wp, n;
    cnn__padded_size(s, &hp, &wp);
    if (s->stride_h != 1 || s->stride_w != 1 || !ws) return 0;
    if (forced ? !cnn__grid_fits(s->c, hp, wp) : !cnn__direct_pays(s->c, hp, wp, oh, ow)) return 0;
    if (!cnn__workspace_fits(ws_bytes, cnn__forward_direct_floats(s))) return 0;
    pin = cnn__workspace_floats(ws);
    wide = pin + cnn__round16((size_t)s->c * hp * wp + 16);
    memset(pin, 0, ((size_t)s->c * hp * wp + 16) * sizeof(float));
    for (n = 0; n < s->n; n++) {
        cnn__copy_into_padding(x + (size_t)n * s->c * s->h * s->w, s->c, s->h, s->w, s->pad_top, s->pad_left, hp, wp, pin);
        cnn__direct_conv(s->k, w, 0, b, pin, s->c, hp, wp, s->kh, s->kw, s->dilation_h, s->dilation_w, wide,
                         y + (size_t)n * s->k * oh * ow);
    }
    return 1;
}

/* The dispatcher's entry: the grid where its cost model says it pays. */
static int cnn__conv2d_forward_direct(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                      float *y, void *ws, size_t ws_bytes) {
    return cnn__conv2d_forward_grid(s, x, w, b, y, ws, ws_bytes, 0);
}

static size_t cnn__backward_data_direct_floats(const cnn_conv2d_shape *s) {
    int hp, wp;
    if (!cnn__spread_size(s, &hp, &wp)) return 0;
    return cnn__direct_floats(s->k, hp, wp, s->c, s->h);
}

/* The data gradient on the direct grid, for every stride: dx is the correlation of the
   spread-out dy (cnn__spread_gradient) with the filters flipped and transposed,
   wt[c][k][r][s] = w[k][c][kh-1-r][kw-1-s], which the micro-kernel reads in place. At stride 2
   three quarters of the spread dy are zeros that get multiplied. */
static int cnn__conv2d_backward_data_grid(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                          void *ws, size_t ws_bytes, int forced) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    float *pin, *wide;
    int hp, wp, n;
    if (!cnn__spread_size(s, &hp, &wp) || !ws) return 0;
    if (forced ? !cnn__grid_fits(s->k, hp, wp) : !cnn__direct_pays(s->k, hp, wp, s->h, s->w)) return 0;
    if (!cnn__workspace_fits(ws_bytes, cnn__backward_data_direct_floats(s))) return 0;
    pin = cnn__workspace_floats(ws);
    wide = pin + cnn__round16((size_t)s->k * hp * wp + 16);
    memset(pin, 0, ((size_t)s->k * hp * wp + 16) * sizeof(float));
    for (n = 0; n < s->n; n++) {
        cnn__spread_gradient(s, dy + (size_t)n * s->k * oh * ow, pin);
        cnn__direct_conv(s->c, w, 1, NULL, pin, s->k, hp, wp, s->kh, s->kw, s->dilation_h, s->dilation_w, wide,
                         dx + (size_t)n * s->c * s->h * s->w);
    }
    return 1;
}

static int cnn__conv2d_backward_data_direct(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                            void *ws, size_t ws_bytes) {
    return cnn__conv2d_backward_data_grid(s, dy, w, dx, ws, ws_bytes, 0);
}

/* ---------------------------------------------------------------------------------------------
   Convolution with pixels as rows (with a workspace): strided forward passes, and stride 1
   where the grid's rows fill few lanes (see cnn__gather_pays).

   The direct grid puts pixels in the vector lanes: a 3 x 3 output fills 9 lanes of 16. Turned
   round, y^T = X^T W^T: rows are a tile of output pixels (6, 12 on AVX-512; any images), read in place at
   P + pix(o) + off(q) by the micro-kernel's offset tables; lanes are 16 filters of W^T,
   packed once per call; the steps run over all the taps, so each tile is finished in
   registers and scattered to the NCHW output with its bias. Every lane is a filter and every
   row a pixel.
   --------------------------------------------------------------------------------------------- */

/* One tile of a pixel-row product: for mr pixels (rows) and channels c_lo..c_hi-1, 16 at a time,
       out[dst[m] + ch * plane] = bias[ch] + sum_q A[m][q] * B[q][ch],   A[m][q] = a[rows[m] + a_off[q]]
   with B packed 16 channels wide, bt[c0 * block + q * 16 + l] for channel c0 + l (read through
   b_off when given). The tile is finished in registers and scattered to NCHW. */
static void cnn__gather_tile(int mr, int steps, const float *a, const int32_t *rows, const int32_t *a_off,
                             const float *bt, size_t block, const int32_t *b_off, const float *bias, int c_lo,
                             int c_hi, const size_t *dst, size_t plane, float *out) {
    float tile[CNN__TILE_MAX * 32] CNN__ALIGN32;
    int c0, m, l, strided = mr > 1;
    /* Pixels evenly spaced (in one output row, most tiles of a wide image) are read m * step
       from the first: the micro-kernel then needs no register per row (measured on AVX-512). */
    for (m = 2; m < mr; m++) strided &= rows[m] - rows[m - 1] == rows[1] - rows[0];
    for (c0 = c_lo; c0 < c_hi; c0 += 32) {      /* two blocks of B at a time (c_lo is a multiple of 16) */
        const int nc = CNN__MIN(32, c_hi - c0);
        if (strided)
            cnn__simd_gemm_wide(mr, steps, a + rows[0], rows[1] - rows[0], 0, NULL, a_off, bt + (size_t)c0 / 16 * block, b_off,
                                (ptrdiff_t)block, tile, 32, nc, 0, NULL);
        else
            cnn__simd_gemm_wide(mr, steps, a, 0, 0, rows, a_off, bt + (size_t)c0 / 16 * block, b_off, (ptrdiff_t)block, tile, 32,
                                nc, 0, NULL);
        /* channel by channel: a channel's pixels of the tile are near one another in out */
        for (l = 0; l < nc; l++) {
            float *o = out + (size_t)(c0 + l) * plane;
            const float add = bias ? bias[c0 + l] : 0.0f;
            for (m = 0; m < mr; m++) o[dst[m]] = tile[m * 32 + l] + add;
        }
    }
}

/* Channels per pass over the pixels: as many pairs of 16-channel blocks of B (block floats
   each) as fit in CNN__PASS_BYTES, at least one pair. A tile reads every block of its pass, so
   when B is larger than L2, passes keep it from being read from L3 once per tile (measured,
   forward and data gradient of a stride-2 256 -> 512 layer on 28 x 28, W 4.7 MB: best of 30
   8.1-8.2 ms, 8.6-10.9 ms in one pass); when B fits, one pass keeps each tile's A values in L1
   across all the channels. Pairs, because the tiles take 32 channels at a time on AVX-512: V3's
   passes of 3 blocks left a third of its products on the 16-column tile. */
#define CNN__PASS_BYTES (CNN__L2_BYTES / 2)
static int cnn__channels_per_pass(size_t block, int chans) {
    const size_t blocks = CNN__PASS_BYTES / (block * sizeof(float));
    return blocks >= (size_t)(chans + 15) / 16 ? chans : 32 * (int)CNN__MAX(1, blocks / 2);
}

/* out[img][k][o] = bias[k] + sum_q W[k][q] * pin[img * image + pix(o) + tap_off[q]] for
   'images' images of oh x ow outputs, pix(o) = i * row_step + j * col_step. bt is W^T packed
   16 filters wide: bt[k0 * taps + q * 16 + l] = W[k0 + l][q]. */
static void cnn__gather_conv(int filters, int taps, const float *bt, const float *bias, const float *pin,
                             const int32_t *tap_off, int images, int image, int oh, int ow, ptrdiff_t row_step,
                             ptrdiff_t col_step, float *out) {
    int32_t pix[CNN__TILE_MAX];
    size_t dst[CNN__TILE_MAX];            /* where pixel m of the tile goes in out, for filter 0 */
    const int pixels = oh * ow, total = images * pixels, per_pass = cnn__channels_per_pass((size_t)taps * 16, filters);
    const int tile = cnn__simd_tile_max();
    int o0, m, k0;
    for (k0 = 0; k0 < filters; k0 += per_pass)
        for (o0 = 0; o0 < total; o0 += tile) {
            const int mr = CNN__MIN(tile, total - o0);
            for (m = 0; m < mr; m++) {
                const int img = (o0 + m) / pixels, p = (o0 + m) % pixels;
                pix[m] = (int32_t)((ptrdiff_t)img * image + (p / ow) * row_step + (p % ow) * col_step);
                dst[m] = (size_t)img * filters * pixels + p;
            }
            cnn__gather_tile(mr, taps, pin, pix, tap_off, bt, (size_t)taps * 16, NULL, bias, k0,
                             CNN__MIN(filters, k0 + per_pass), dst, (size_t)pixels, out);
        }
}


/* The useful share of a pixel-row product's time, for choosing it over the direct grid:
   chans of its (chans rounded up to 16) lanes are real, and scattering a finished 6 x 16
   tile to NCHW costs about as much as 16 of its steps. That constant is fitted to the
   forward pass, where each path's time follows the share it fills: with one input channel
   (9 steps, M1) pixel rows took 2.5x the grid's time (0.96 against 0.39 ms), and with 2304
   steps (V3) 9% less (1.98 against 2.17 ms), the grid filling 14 of 16 lanes there. */
static double cnn__gather_share(int chans, int steps) {
    return (double)chans / ((chans + 15) / 16 * 16) / (1.0 + 16.0 / steps);
}

/* Whether pixels as rows beat the direct grid, which fills the lanes of its strips that are
   real outputs (14 of 16 at V3, 9 of 16 for M3's 3 x 3 output). */
static int cnn__gather_pays(int filters, int taps, int wp, int oh, int ow) {
    const double lanes_direct = (double)oh * ow / (16.0 * (double)cnn__grid_strips(oh, ow, wp));
    return cnn__gather_share(filters, taps) > lanes_direct;
}

/* The forward pass with pixels as rows needs W^T packed, the tap offsets, and a padded copy. */
static size_t cnn__forward_gather_floats(const cnn_conv2d_shape *s) {
    const size_t taps = (size_t)s->c * s->kh * s->kw, k16 = ((size_t)s->k + 15) / 16 * 16;
    int hp, wp;
    cnn__padded_size(s, &hp, &wp);
    return cnn__round16(taps * k16) + cnn__round16(taps) + cnn__round16((cnn__has_padding(s) ? (size_t)s->c * hp * wp : 0) + 16);
}

static int cnn__conv2d_forward_gather(const cnn_conv2d_shape *s, const float *x, const float *w, const float *b,
                                      float *y, void *ws, size_t ws_bytes) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), pixels = oh * ow;
    const int taps = s->c * s->kh * s->kw, k16 = (s->k + 15) / 16 * 16, padded = cnn__has_padding(s);
    float *bt, *pin;
    int32_t *tap_off;
    int hp, wp, n, k0;
    long long image;
    cnn__padded_size(s, &hp, &wp);
    image = (long long)s->c * hp * wp;
    if (!ws || !cnn__workspace_fits(ws_bytes, cnn__forward_gather_floats(s))) return 0;
    if ((padded ? image : image * s->n) + 16 > INT32_MAX) return 0;
    bt = cnn__workspace_floats(ws);
    tap_off = (int32_t *)(void *)(bt + cnn__round16((size_t)taps * k16));
    pin = bt + cnn__round16((size_t)taps * k16) + cnn__round16((size_t)taps);
    for (k0 = 0; k0 < s->k; k0 += 16)     /* W^T, 16 filters wide */
        cnn__pack_transposed(w + (size_t)k0 * taps, taps, CNN__MIN(16, s->k - k0), taps, bt + (size_t)k0 * taps, NULL);
    cnn__tap_offsets(0, taps, s->kh, s->kw, s->dilation_h, s->dilation_w, hp, wp, tap_off);
    if (!padded) {                        /* the whole batch in place */
        cnn__gather_conv(s->k, taps, bt, b, x, tap_off, s->n, (int)image, oh, ow, (ptrdiff_t)s->stride_h * wp, s->stride_w, y);
        return 1;
    }
    memset(pin, 0, (size_t)image * sizeof(float));
    for (n = 0; n < s->n; n++) {
        cnn__copy_into_padding(x + (size_t)n * s->c * s->h * s->w, s->c, s->h, s->w, s->pad_top, s->pad_left, hp, wp, pin);
        cnn__gather_conv(s->k, taps, bt, b, pin, tap_off, 1, 0, oh, ow, (ptrdiff_t)s->stride_h * wp, s->stride_w,
                         y + (size_t)n * s->k * pixels);
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
   The data gradient with pixels as rows (with a workspace), gathered from dy itself.

       dx[n][c][y][x] = sum over the taps (k, r, s) reaching (y, x) of dy[n][k][i][j] * w[k][c][r][s],
       i = (y + pt - r*dh) / sh,   j = (x + pl - s*dw) / sw,

   where kernel row r reaches input row y when y + pt - r*dh is a multiple of sh and i lands in
   0..oh-1 (and likewise for columns). Spreading dy out by the stride and correlating it with
   the flipped filters computes the same sum, but multiplies every zero between and around the
   spread values: two thirds of the products for a 3 x 3 output, three quarters at stride 2.
   Here only the reaching taps are summed.

   The kernel rows reaching y form a run first, first + step, ... of 'count' rows, where
   step = sh / gcd(sh, dh) (the rows whose reach is a multiple of the stride), cut short at the
   edges. So the input rows fall into a few classes by (first, count), and so do the columns;
   away from the edges every pixel is in one class. Within a class (a row class by a column
   class) every pixel reads the same taps, at the same offsets from a base of its own in dy.
   The micro-kernel takes a tile of pixels (6, 12 on AVX-512) of a class (of any images) as rows, through their bases
   (a_rows) and the class's tap offsets (a_off), and 16 input channels as lanes, from W packed
   once per call with channels last, wc[c0][(k, r, s)][16], read through b_off. Each tile sums
   all of its taps in registers, so every value of dx is written once.
   --------------------------------------------------------------------------------------------- */

static int cnn__gcd(int a, int b) {
    while (b) { const int t = a % b; a = b; b = t; }
    return a;
}

/* The kernel rows (or columns) reaching input row y: their count, and the first in *first. */
static int cnn__reaching(int y, int pad, int stride, int dil, int taps, int out, int *first) {
    int r, count = 0;
    for (r = 0, *first = 0; r < taps; r++) {
        const int t = y + pad - r * dil;
        if (t >= 0 && t % stride == 0 && t / stride < out && count++ == 0) *first = r;
    }
    return count;
}

/* The classes of the input rows (or columns): cls[y] = first * taps + count - 1 for the kernel
   rows reaching row y, or -1 where none does. Returns whether any row is reached by none. */
static int cnn__reaching_classes(int len, int pad, int stride, int dil, int taps, int out, int32_t *cls) {
    int y, first, count, holes = 0;
    for (y = 0; y < len; y++) {
        count = cnn__reaching(y, pad, stride, dil, taps, out, &first);
        cls[y] = count ? first * taps + count - 1 : -1;
        holes |= !count;
    }
    return holes;
}

/* Whether gathering beats the direct grid over the spread dy. Of the grid's products, the
   share that are not zeros is (sum over y of the rows reaching y) * (the same for columns) /
   (its positions * kh * kw); gathering's share is cnn__gather_share's, with k times the
   average number of reaching taps as its steps. Measured: gathering wins at V3, where 79% of
   the grid's products count (1.88 against 2.20 ms), and at V2 (1.87 against 2.06 ms), ties
   at V1 and V4, and wins at M2's 58% (2.77 against 5.03 ms) and below. */
static int cnn__gather_data_pays(const cnn_conv2d_shape *s) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    double rows = 0.0, cols = 0.0;
    int hp, wp, y, first;
    if (!cnn__spread_size(s, &hp, &wp)) return 1;   /* no direct grid to compare with */
    for (y = 0; y < s->h; y++) rows += cnn__reaching(y, s->pad_top, s->stride_h, s->dilation_h, s->kh, oh, &first);
    for (y = 0; y < s->w; y++) cols += cnn__reaching(y, s->pad_left, s->stride_w, s->dilation_w, s->kw, ow, &first);
    return cnn__gather_share(s->c, (int)CNN__MAX(1.0, s->k * rows * cols / ((double)s->h * s->w)))
           > rows * cols / (16.0 * (double)cnn__grid_strips(s->h, s->w, wp) * s->kh * s->kw);
}

static size_t cnn__backward_data_gather_floats(const cnn_conv2d_shape *s) {
    const size_t taps = (size_t)s->k * s->kh * s->kw, c16 = ((size_t)s->c + 15) / 16 * 16;
    return cnn__round16(taps * c16) + 2 * cnn__round16(taps) + cnn__round16((size_t)s->h) + cnn__round16((size_t)s->w);
}

/* dx for the pixels of one class, the rows y with rows[y] == rc by the columns x with
   cols[x] == cc, in every image. a_off and b_off are room for the class's tap tables. */
static void cnn__gather_class(const cnn_conv2d_shape *s, const float *dy, const float *wc, const int32_t *rows,
                              const int32_t *cols, int rc, int cc, int32_t *a_off, int32_t *b_off, float *dx) {
    int32_t base[CNN__TILE_MAX];
    size_t dst[CNN__TILE_MAX];
    const int tile = cnn__simd_tile_max(), oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s);
    const int r0 = rc / s->kh, nr = rc % s->kh + 1, s0 = cc / s->kw, ns = cc % s->kw + 1;
    /* from one reaching kernel row to the next: step_r kernel rows, step_i rows of dy back */
    const int g_h = cnn__gcd(s->stride_h, s->dilation_h), g_w = cnn__gcd(s->stride_w, s->dilation_w);
    const int step_r = s->stride_h / g_h, step_i = s->dilation_h / g_h;
    const int step_s = s->stride_w / g_w, step_j = s->dilation_w / g_w;
    const size_t block = (size_t)s->k * s->kh * s->kw * 16;   /* floats per 16 channels of wc */
    const int per_pass = cnn__channels_per_pass(block, s->c);
    int steps = 0, k, tr, ts, n, y, x, m, c0, any_row = 0, any_col = 0, r_last, s_last;
    for (y = 0; y < s->h; y++) any_row |= rows[y] == rc;
    for (x = 0; x < s->w; x++) any_col |= cols[x] == cc;
    if (!any_row || !any_col) return;
    /* (only for a class some pixel is in: for the others, nr * step_r may overflow an int) */
    r_last = r0 + (nr - 1) * step_r;
    s_last = s0 + (ns - 1) * step_s;
    /* A pixel's base is where its last reaching tap reads dy; tap (k, r, s) reads dy at
       base + a_off (earlier kernel rows read later rows of dy) and w at b_off in its block. */
    for (k = 0; k < s->k; k++)
        for (tr = 0; tr < nr; tr++)
            for (ts = 0; ts < ns; ts++, steps++) {
                a_off[steps] = (int32_t)(k * oh * ow + (nr - 1 - tr) * step_i * ow + (ns - 1 - ts) * step_j);
                b_off[steps] = (int32_t)(((k * s->kh + r0 + tr * step_r) * s->kw + s0 + ts * step_s) * 16);
            }
    for (c0 = 0; c0 < s->c; c0 += per_pass) {
        const int c1 = CNN__MIN(s->c, c0 + per_pass);
        m = 0;
        for (n = 0; n < s->n; n++)
            for (y = 0; y < s->h; y++) {
                if (rows[y] != rc) continue;
                for (x = 0; x < s->w; x++) {
                    if (cols[x] != cc) continue;
                    base[m] = (int32_t)((n * s->k * oh + (y + s->pad_top - r_last * s->dilation_h) / s->stride_h) * ow
                                        + (x + s->pad_left - s_last * s->dilation_w) / s->stride_w);
                    dst[m] = ((size_t)n * s->c * s->h + y) * s->w + x;
                    if (++m == tile) {
                        cnn__gather_tile(tile, steps, dy, base, a_off, wc, block, b_off, NULL, c0, c1, dst, (size_t)s->h * s->w, dx);
                        m = 0;
                    }
                }
            }
        if (m) cnn__gather_tile(m, steps, dy, base, a_off, wc, block, b_off, NULL, c0, c1, dst, (size_t)s->h * s->w, dx);
    }
}

static int cnn__conv2d_backward_data_gather(const cnn_conv2d_shape *s, const float *dy, const float *w, float *dx,
                                            void *ws, size_t ws_bytes) {
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), area = s->kh * s->kw;
    const int taps = s->k * area, c16 = (s->c + 15) / 16 * 16;
    float *wc;
    int32_t *a_off, *b_off, *rows, *cols;
    int c0, k, rc, cc, holes, n, c, y, x;
    if (!ws || !cnn__workspace_fits(ws_bytes, cnn__backward_data_gather_floats(s))) return 0;
    if ((long long)s->n * s->k * oh * ow > INT32_MAX || (long long)taps * c16 > INT32_MAX) return 0;
    wc = cnn__workspace_floats(ws);
    a_off = (int32_t *)(void *)(wc + cnn__round16((size_t)taps * c16));
    b_off = a_off + cnn__round16((size_t)taps);
    rows = b_off + cnn__round16((size_t)taps);
    cols = rows + cnn__round16((size_t)s->h);
    /* tap q = (k, r, s): wc[c0 * taps + q * 16 + l] = w[k][c0 + l][r][s], zero past the last channel */
    for (c0 = 0; c0 < s->c; c0 += 16)
        for (k = 0; k < s->k; k++)
            cnn__pack_transposed(w + ((size_t)k * s->c + c0) * area, area, CNN__MIN(16, s->c - c0), area,
                                 wc + (size_t)c0 * taps + (size_t)k * area * 16, NULL);
    holes = cnn__reaching_classes(s->h, s->pad_top, s->stride_h, s->dilation_h, s->kh, oh, rows);
    holes |= cnn__reaching_classes(s->w, s->pad_left, s->stride_w, s->dilation_w, s->kw, ow, cols);
    /* Every pair of a row class and a column class that some pixel is in, each once. Walking
       all kh^2 by kw^2 candidate pairs instead took seconds for a 15 x 255 kernel (fuzzing
       found it); there are at most h row and w column classes. A class done is marked
       -2 - class (holes stay -1), and the marks are undone for the next row class and at the end. */
    for (y = 0; y < s->h; y++) {
        if ((rc = rows[y]) < 0) continue;                 /* a hole, or a row class done */
        for (x = 0; x < s->w; x++) {
            if ((cc = cols[x]) < 0) continue;
            cnn__gather_class(s, dy, wc, rows, cols, rc, cc, a_off, b_off, dx);
            for (c = x; c < s->w; c++) if (cols[c] == cc) cols[c] = -2 - cc;
        }
        for (x = 0; x < s->w; x++) if (cols[x] <= -2) cols[x] = -2 - cols[x];
        for (c = y; c < s->h; c++) if (rows[c] == rc) rows[c] = -2 - rc;
    }
    for (y = 0; y < s->h; y++) if (rows[y] <= -2) rows[y] = -2 - rows[y];
    if (holes)                            /* pixels no tap reaches (a stride past the kernel's reach) */
        for (n = 0; n < s->n; n++)
            for (c = 0; c < s->c; c++)
                for (y = 0; y < s->h; y++)
                    for (x = 0; x < s->w; x++)
                        if (rows[y] < 0 || cols[x] < 0) dx[(((size_t)n * s->c + c) * s->h + y) * s->w + x] = 0.0f;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
   The weight gradient with taps as rows (with a workspace, every shape).

       dw[k][q] = sum over outputs o = (n, i, j) of dy[n][k][i][j] * X(q, o),
       X(q, o) = P[off(q) + pix(o)],   off(q) = c*hp*wp + r*dh*wp + s*dw,
                                       pix(o) = n*S + i*sh*wp + j*sw

   where P is the input, zero-padded (a copy per image, S = 0) or, without padding, x itself
   (S = c*h*w, so a chunk of steps may run across images). The product is computed
   transposed, dw^T (taps x filters): rows are a tile's taps (6, 12 on AVX-512), read in place at P + off(q) + pix(o)
   through the micro-kernel's offset tables; lanes are 16 filters, whose dy values are packed
   per chunk of 256 outputs; the steps run over the outputs. Nothing of X is ever packed, and
   every lane is a real filter whatever the image size. The bias gradient, when wanted, is
   summed by the pack as it reads dy.
   --------------------------------------------------------------------------------------------- */

static size_t cnn__backward_weights_floats(const cnn_conv2d_shape *s) {
    const size_t taps = (size_t)s->c * s->kh * s->kw, k16 = ((size_t)s->k + 15) / 16 * 16;
    int hp, wp;
    cnn__padded_size(s, &hp, &wp);
    return cnn__round16(taps * k16) + cnn__round16(taps) + k16 * CNN__QC + (cnn__has_padding(s) ? cnn__round16((size_t)s->c * hp * wp) : 0);
}

static int cnn__conv2d_backward_weights_gather(const cnn_conv2d_shape *s, const float *x, const float *dy, float *dw,
                                               float *db, void *ws, size_t ws_bytes) {
    int32_t pix[CNN__QC];
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), pixels = oh * ow;
    const int taps = s->c * s->kh * s->kw, k16 = (s->k + 15) / 16 * 16, padded = cnn__has_padding(s);
    const int tile = cnn__simd_tile_max(), area = s->kh * s->kw;
    /* On AVX-512 (12-row tiles) a tile's rows are channels at one kernel tap, a plane apart,
       so the micro-kernel keeps no register per row (best of 60, loaded machine: V1-V3
       5-7% faster, M2 and M3 within 2%); with 6 rows (AVX2) the row offsets fit in registers
       and taps in order keep a tile's reads in fewer cache lines. */
    const int by_channel = tile > 6 && s->c >= tile;
    int c0, rows, rs;
    float *dwt, *pin, *strips;
    int32_t *tap_off;
    int hp, wp, n, n_end, q, k, k0, q0, t, run, len, img, i, j, first = 1;
    long long image;
    cnn__padded_size(s, &hp, &wp);       /* without padding: h x w, and P is x itself */
    image = (long long)s->c * hp * wp;
    if (!ws || !cnn__workspace_fits(ws_bytes, cnn__backward_weights_floats(s))) return 0;
    if ((padded ? image : image * s->n) + 16 > INT32_MAX) return 0;
    dwt = cnn__workspace_floats(ws);
    tap_off = (int32_t *)(void *)(dwt + cnn__round16((size_t)taps * k16));
    strips = dwt + cnn__round16((size_t)taps * k16) + cnn__round16((size_t)taps);
    pin = strips + (size_t)k16 * CNN__QC;
    cnn__tap_offsets(0, taps, s->kh, s->kw, s->dilation_h, s->dilation_w, hp, wp, tap_off);
    if (padded) memset(pin, 0, (size_t)image * sizeof(float));
    if (db) memset(db, 0, (size_t)s->k * sizeof(float));
    for (n = 0; n < s->n; n = n_end) {
        const float *a = x;               /* the whole batch in place ... */
        int next = 0;                     /* the scope's next output, numbered over its images */
        n_end = s->n;
        if (padded) {                     /* ... or one image at a time, copied inside its padding */
            cnn__copy_into_padding(x + (size_t)n * s->c * s->h * s->w, s->c, s->h, s->w, s->pad_top, s->pad_left, hp, wp, pin);
            a = pin;
            n_end = n + 1;
        }
        while (next < (n_end - n) * pixels) {
            len = CNN__MIN(CNN__QC, (n_end - n) * pixels - next);
            /* Where output t of the chunk reads, walking (img, i, j) on from the chunk's first
               output a row at a time: four divisions per output made M1's pass take 1.40-1.61
               ms, 1.25-1.30 without, and a test per output still took 9% of it (perf). */
            img = next / pixels; i = next % pixels / ow; j = next % ow;
            for (t = 0; t < len;) {
                const int32_t row = (int32_t)(img * image + (long long)i * s->stride_h * wp);
                const int end = CNN__MIN(len, t + ow - j);
                for (; t < end; t++, j++) pix[t] = row + j * s->stride_w;
                if (j == ow && (j = 0, ++i == oh)) { i = 0; img++; }
            }
            /* dy of the chunk, 16 filters wide: strips[k0 / 16][t][k - k0], zero past the last
               filter. Within an image the chunk's outputs are consecutive in each plane of dy,
               so the part of the chunk in each image is one transposed pack, which also adds
               each filter's dy to its bias gradient. */
            for (k0 = 0; k0 < s->k; k0 += 16)
                for (t = 0; t < len; t += run) {
                    const int img_t = n + (next + t) / pixels, p = (next + t) % pixels;
                    run = CNN__MIN(len - t, pixels - p);
                    cnn__pack_transposed(dy + ((size_t)img_t * s->k + k0) * pixels + p, pixels, CNN__MIN(16, s->k - k0), run,
                                         strips + (size_t)k0 * len + (size_t)t * 16, db ? db + k0 : NULL);
                }
            /* Taps outside, filters inside: the tile's rows of A (6 taps, 12 on AVX-512) stay in
               L1 across the filter strips, and the tile of dw^T written is one contiguous block
               of tile x k16. The first chunk
               writes dw^T rather than adding to it, so it needs no zeroing pass. */
            if (by_channel)     /* rows: a tile of channels at one kernel tap, a plane apart */
                for (c0 = 0; c0 < s->c; c0 += rows)
                    for (rows = cnn__tile_rows(s->c, c0, tile), rs = 0; rs < area; rs++)
                        for (k0 = 0; k0 < s->k; k0 += 32) {
                            const size_t q = (size_t)c0 * area + rs;
                            cnn__simd_gemm_wide(rows, len, a + tap_off[q], (ptrdiff_t)hp * wp, 0, NULL, pix, strips + (size_t)k0 * len,
                                                NULL, (ptrdiff_t)16 * len, dwt + q * k16 + k0, (ptrdiff_t)area * k16,
                                                CNN__MIN(32, s->k - k0), !first, NULL);
                        }
            else
                for (q0 = 0; q0 < taps; q0 += tile)
                    for (k0 = 0; k0 < s->k; k0 += 32)
                        cnn__simd_gemm_wide(CNN__MIN(tile, taps - q0), len, a, 0, 0, tap_off + q0, pix, strips + (size_t)k0 * len, NULL,
                                            (ptrdiff_t)16 * len, dwt + (size_t)q0 * k16 + k0, k16, CNN__MIN(32, s->k - k0), !first, NULL);
            first = 0;
            next += len;
        }
    }
    for (q0 = 0; q0 < taps; q0 += 16)     /* dw = (dw^T)^T, in 16 x 16 blocks so both sides stay in cache */
        for (k = 0; k < s->k; k++)
            for (q = q0; q < CNN__MIN(taps, q0 + 16); q++) dw[(size_t)k * taps + q] = dwt[(size_t)q * k16 + k];
    return 1;
}

#endif /* CNN__SIMD */

#ifdef CNN__SIMD
/* The vector twins of the transforms, written once on the element-wise vocabulary for every
   width. Each is the scalar sandwich Y = L X L^T applied as two rounds of the 1-D transform
   in registers, with the 1-D transforms written out by hand: the zeros and ones of the
   matrices cost nothing, and rows that share terms share them (B^T's rows 1 and 2 are
   (d4 - 4 d2) +- (d3 - 4 d1), rows 3 and 4 (d4 - d2) +- 2 (d3 - d1)).

   The filter transform has the filters in the lanes, CNN__VL of them, their taps loaded by
   cnn__v_load_taps or gathered. Where tile rows are short, the input and output transforms
   take CNN__VL tiles from anywhere (input_windows, output_strips). Otherwise they work a tile row at a time, with
   the tiles in the lanes:
   - input: the first round runs down the columns of the a input rows under the tile row,
     CNN__VL columns at a time, into a rows of B^T d; the second runs along those rows, where
     tile t's a values start at column m t: with m = 4 they are the four phases of a load4 at
     4 t and the first two of one at 4 t + 4 (m = 2: two load2s). Each element of CNN__VL tiles
     is then one vector store into its row of V.
   - output: the rows of M hold consecutive tiles, so each element of CNN__VL tiles is one
     vector load; after both rounds the m outputs of a tile's row are m phases, which one
     store4 (store2) interleaves into the output row.
   No tile is gathered or scattered a float at a time (that was a quarter of V1's forward
   pass, perf). A tile row of one image is a run of the chunk's tiles; a chunk may start or
   end in the middle of one.

   Every loop over a tile's rows, columns or elements is unrolled whole (CNN__UNROLL): at -O2
   gcc otherwise keeps the small arrays of vectors (d, o, am) on the stack, and each value
   then goes through a store and a reload. Unrolled, the row transforms made V4's F(4x4)
   forward pass and data gradient 1.24x faster on AVX-512 and V1's 1.08x (medians of 3
   alternated runs, pinned). */
#define CNN__V(x) cnn__v_set(x)
#define CNN__INLINE inline __attribute__((always_inline))   /* into the loops below */
#define CNN__PRAGMA(x) _Pragma(#x)
#define CNN__UNROLL(n) CNN__PRAGMA(GCC unroll n)             /* whole: the arrays of vectors stay in registers */
#define cnn__wino2_bt_1d CNN__WN(wino2_bt_1d)
#define cnn__wino2_at_1d CNN__WN(wino2_at_1d)
#define cnn__wino2_g_1d CNN__WN(wino2_g_1d)
#define cnn__wino4_bt_1d CNN__WN(wino4_bt_1d)
#define cnn__wino4_at_1d CNN__WN(wino4_at_1d)
#define cnn__wino2_a_1d CNN__WN(wino2_a_1d)
#define cnn__wino2_gt_1d CNN__WN(wino2_gt_1d)
#define cnn__wino4_gt_1d CNN__WN(wino4_gt_1d)
#define cnn__wino4_a_1d CNN__WN(wino4_a_1d)
#define cnn__wino4_g_1d CNN__WN(wino4_g_1d)
#define cnn__wino_columns CNN__WN(wino_columns)
/* The m phases of m CNN__VL consecutive floats (column m t + q of the block to phase[q][t]). */
#define CNN__WINO4_UNZIP(p, phase) cnn__v_load4(p, CNN__VL, phase)
#define CNN__WINO2_UNZIP(p, phase) cnn__v_load2(p, CNN__VL, phase, phase + 1)
#define CNN__WINO4_STORE(p, count, o) cnn__v_store4(p, count, o)
#define CNN__WINO2_STORE(p, count, o) cnn__v_store2(p, count, o[0], o[1])

/* The filter transform (cnn__wino_filters says what goes where), CNN__VL filters of a row at
   a time, one per lane: the 9 taps of CNN__VL filters of a row by cnn__v_load_taps where the
   width has it (AVX2, consecutive or a column apart; AVX-512, consecutive: their 9 CNN__VL
   floats are contiguous), else each tap by one strided load, a column's 3 at a time (a whole
   column of filters apart when flipped; fewer lanes at a row's end; AVX2 ran 1.3x slower with
   its 9 gathers issued first: 16 registers), G g down the 3 columns, then (G g) G^T along the
   A rows, all in registers; each element is one store into U. */
#define CNN__WINO_FILTERS(M, A, G_1D)                                                                     \
CNN__VEC static void CNN__WN(wino##M##_filters)(int rows, int cols, const float *w, int flipped,        \
                                                int row0, int count, float *u) {                          \
    const ptrdiff_t u_row = (ptrdiff_t)A * A * cols;                 /* from one row's filters on */      \
    const ptrdiff_t lane_step = flipped ? (ptrdiff_t)rows * 9 : 9;  /* from one column's filter on */     \
    int row, c0, i, j;                                                                                    \
    for (row = row0; row < row0 + count; row++)                                                           \
        for (c0 = 0; c0 < cols; c0 += CNN__VL) {                                                          \
            const int lanes = CNN__MIN(CNN__VL, cols - c0);                                               \
            const float *g = w + (flipped ? (size_t)c0 * rows + row : (size_t)row * cols + c0) * 9;       \
            float *out = u + (row - row0) * u_row + c0;                                                   \
            cnn__vec taps[9], in[3], o[A], gg[A * 3];                                                     \
            const int whole = lanes == CNN__VL && cnn__v_load_taps(g, lane_step, taps);                   \
            CNN__UNROLL(3) for (j = 0; j < 3; j++) {           /* down the columns: G g */                \
                CNN__UNROLL(3) for (i = 0; i < 3; i++)                                                    \
                    in[i] = whole ? taps[flipped ? 8 - (i * 3 + j) : i * 3 + j]                           \
                                  : cnn__v_load_strided(g + (flipped ? 8 - (i * 3 + j) : i * 3 + j), lane_step, lanes); \
                G_1D(in, o);                                                                              \
                CNN__UNROLL(6) for (i = 0; i < A; i++) gg[i * 3 + j] = o[i];                              \
            }                                                                                             \
            CNN__UNROLL(6) for (i = 0; i < A; i++) {           /* along the rows: (G g) G^T */            \
                G_1D(gg + i * 3, o);                                                                      \
                CNN__UNROLL(6) for (j = 0; j < A; j++) cnn__v_store(out + (size_t)(i * A + j) * cols, lanes, o[j]); \
            }                                                                                             \
        }                                                                                                 \
}

/* The weight gradient's last step, dw[k][c] = G^T dU[k][c] G (cnn__wino_weight_grads), CNN__VL
   filters of a row at a time: dU is dU[K][a2][C], so the lanes are C's consecutive columns;
   each lane's 9 taps are contiguous in dw, so they go out through a buffer. */
#define CNN__WINO_WEIGHT_GRADS(M, A, GT_1D)                                                               \
CNN__VEC static void CNN__WN(wino##M##_weight_grads)(int k, int c, const float *du, float *dw) {        \
    float taps[9 * CNN__VL];                                                                              \
    int row, c0, i, j, t;                                                                                 \
    for (row = 0; row < k; row++)                                                                         \
        for (c0 = 0; c0 < c; c0 += CNN__VL) {                                                             \
            const int lanes = CNN__MIN(CNN__VL, c - c0);                                                  \
            const float *src = du + (size_t)row * A * A * c + c0;                                         \
            float *out = dw + ((size_t)row * c + c0) * 9;                                                 \
            cnn__vec in[A], o[3], ug[A * 3];                                                              \
            CNN__UNROLL(6) for (i = 0; i < A; i++) {           /* along the rows: dU G */                 \
                CNN__UNROLL(6) for (j = 0; j < A; j++) in[j] = cnn__v_load(src + (size_t)(i * A + j) * c, lanes); \
                GT_1D(in, o);                                                                             \
                CNN__UNROLL(3) for (j = 0; j < 3; j++) ug[i * 3 + j] = o[j];                              \
            }                                                                                             \
            CNN__UNROLL(3) for (j = 0; j < 3; j++) {           /* down the columns: G^T (dU G) */         \
                CNN__UNROLL(6) for (i = 0; i < A; i++) in[i] = ug[i * 3 + j];                             \
                GT_1D(in, o);                                                                             \
                CNN__UNROLL(3) for (i = 0; i < 3; i++) cnn__v_store(taps + (i * 3 + j) * CNN__VL, CNN__VL, o[i]); \
            }                                                                                             \
            for (t = 0; t < lanes; t++)                                                                   \
                for (i = 0; i < 9; i++) out[t * 9 + i] = taps[i * CNN__VL + t];                           \
        }                                                                                                 \
}

/* V of the chunk's tiles g0 .. g0 + tiles - 1, CNN__VL tiles at a time (cnn__wino_input_tiles
   says where each element goes): each row of each tile's a x a window is one load of 8 floats
   (zeros outside the image), and one transpose of those CNN__VL rows gives that window row's
   a values with the tiles in the lanes; (B^T d B) = B^T (d B) then transforms each row first
   (d B) and the columns after. The windows' rows in channel 0 are found once for all
   channels: row_at[r][t], NULL where row r of tile t's window is padding or t is past the
   chunk's last tile (its lanes are zeros up to the strip's end), and which of a window row's
   8 columns are inside the image (cols[t]). This replaced one gather per value (36 per tile
   and channel), and a gather of 16 floats took about 23 cycles on Zen 5 (a micro-benchmark):
   M2's data gradient ran 1.31x faster on AVX-512 and 1.22x on AVX2, its forward pass 1.13x,
   M1's data gradient 1.5-1.66x, M3's passes 1.1-1.2x, and F(4x4) on AVX2, which takes this
   kernel for every layer, 1.06-1.17x on V1, V2 and V4 (3 alternated runs, one core). The
   row kernels below still win where tile rows are long (V4: 1.35x).
   A strip of 16 tiles at a time, each channel's CNN__VL-tile groups of it one after the other:
   element e of channel c for the strip's 16 tiles is one 64-byte line of V, and group by
   group over all the channels (AVX2's 8 tiles, half a line) left each line's first half to
   fall out of L1 before its second was written (M2's data gradient: 64 channels x 36 lines,
   147 KB, between the two). Line by line, that pass ran 1.04x faster (one program
   alternating the two, medians of 61 rounds, twice); the other benchmark layers 0.99-1.02x
   (M1's data gradient read 0.93x once, 0.99x when run again).
   One body, two transforms: NAME maps each tile's WIN x WIN window of 'channels' planes of
   h x w (pads subtracted) to A x A by the 1-D transform T_1D (WIN values to A) along the
   rows, then down the columns. The input's is B^T d B (WIN = A); the weight gradient's
   dM = A dY A^T (cnn__wino_output_grad_tiles) reads the m x m outputs' gradient of each tile
   (WIN = m, no pads), zero past the output. */
#define CNN__WINO_WINDOWS(NAME, WIN, A, T_1D)                                                                \
CNN__VEC static void CNN__WN(NAME)(const cnn__wino *wt, const cnn__wino_shape *s, const float *x, int channels,  \
                                   int h, int w, int pad_top, int pad_left, long long g0, int tiles, float *v,   \
                                   ptrdiff_t ldv) {                                                              \
    const size_t in_plane = (size_t)h * w;                                                                   \
    const ptrdiff_t e_step = cnn__wino_step(channels, ldv);                                                  \
    const int strips_end = (tiles + CNN__WL - 1) / CNN__WL * CNN__WL;                                        \
    const float zeros[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};                                 \
    const float *src_at[WIN * CNN__WL];                                                                      \
    cnn__v8_cols cols[CNN__WL];                                                                              \
    int j0, t, r, c, i, j, q;                                                                                \
    for (j0 = 0; j0 < strips_end; j0 += CNN__WL) {                                                           \
        for (t = 0; t < CNN__WL; t++) {        /* window columns x0 .. x0 + 7 of tile t: lanes lo .. lo + n - 1 */ \
            int img = 0, row0 = 0, col0 = 0;                                                                 \
            if (j0 + t < tiles) cnn__wino_where(wt, s, g0 + j0 + t, &img, &row0, &col0);                     \
            {                                                                                                \
                const int x0 = col0 - pad_left, lo = CNN__MIN(CNN__MAX(-x0, 0), 8), start = x0 + lo;         \
                const int n = j0 + t < tiles ? CNN__MAX(CNN__MIN(8 - lo, w - start), 0) : 0;                 \
                cols[t] = cnn__v8_columns(lo, n);                                                            \
                row0 -= pad_top;                                                                             \
                for (r = 0; r < WIN; r++)                                                                    \
                    src_at[r * CNN__WL + t] = n > 0 && row0 + r >= 0 && row0 + r < h                         \
                        ? x + (size_t)img * channels * in_plane + (size_t)(row0 + r) * w + start : NULL;     \
            }                                                                                                \
        }                                                                                                    \
        for (c = 0; c < channels; c++)                                                                       \
            for (q = 0; q < CNN__WL; q += CNN__VL) {   /* the strip's CNN__VL tiles at a time */             \
                const size_t shift = (size_t)c * in_plane;                                                   \
                float *vc = v + (size_t)c * ldv + j0 + q;                                                    \
                cnn__v8 window_rows[CNN__VL];                                                                \
                cnn__vec d[A], o[A], db[WIN * A];                                                            \
                CNN__UNROLL(6) for (r = 0; r < WIN; r++) {     /* along the rows: d B */                     \
                    CNN__UNROLL(16) for (t = 0; t < CNN__VL; t++) {                                          \
                        const float *src = src_at[r * CNN__WL + q + t];                                      \
                        window_rows[t] = cnn__v8_load_cols(src ? src + shift : zeros, cols + q + t);         \
                    }                                                                                        \
                    cnn__v_transpose8(window_rows, d, WIN);                                                  \
                    T_1D(d, o);                                                                              \
                    CNN__UNROLL(6) for (j = 0; j < A; j++) db[r * A + j] = o[j];                             \
                }                                                                                            \
                CNN__UNROLL(6) for (j = 0; j < A; j++) {       /* down the columns: B^T (d B) */             \
                    CNN__UNROLL(6) for (i = 0; i < WIN; i++) d[i] = db[i * A + j];                           \
                    T_1D(d, o);                                                                              \
                    CNN__UNROLL(6) for (i = 0; i < A; i++) cnn__v_store(vc + (i * A + j) * e_step, CNN__VL, o[i]); \
                }                                                                                            \
            }                                                                                                \
    }                                                                                                        \
}

/* V of the chunk's tiles g0 .. g0 + tiles - 1, a tile row at a time (cnn__wino_input_tiles
   says where each element goes). rows holds the run's B^T d by phase: rows[(i * M + q) * fw + t]
   is row i, column M t + q. */
#define CNN__WINO_INPUT_ROWS(M, A, BT_1D, UNZIP)                                                                       \
CNN__VEC static void CNN__WN(wino##M##_input_rows)(const cnn__wino *wt, const cnn__wino_shape *s, const float *x,      \
                                                   long long g0, int tiles, float *v, ptrdiff_t ldv, float *rows) {    \
    const int tw = (s->out_w + M - 1) / M;                                                                             \
    const size_t in_plane = (size_t)s->h * s->w;                                                                       \
    const ptrdiff_t e_step = cnn__wino_step(s->c, ldv);       /* from one element's rows of V to the next */           \
    const int past_end = -tiles & (CNN__WL - 1);          /* lanes past the last tile, to the strip's end */          \
    float block[A * M * 16];                                                                                           \
    int at, count, c, e, i, j, q, r, t0;                                                                               \
    for (at = 0; at < tiles; at += count) {                                                                            \
        int img, row0, col0, fw, x0, y0;                                                                               \
        cnn__wino_where(wt, s, g0 + at, &img, &row0, &col0);                                                           \
        count = CNN__MIN(tiles - at, tw - col0 / M);                  /* the run's tiles, up to the row's end */       \
        fw = (count + CNN__VL) / CNN__VL * CNN__VL;          /* tiles 0 .. count (the last one's columns M, M + 1) */  \
        x0 = col0 - s->pad_left;                                                                                       \
        y0 = row0 - s->pad_top;                                                                                        \
        for (c = 0; c < s->c; c++) {                                                                                   \
            const float *plane = x + ((size_t)img * s->c + c) * in_plane, *in[A];                                      \
            float *vc = v + (size_t)c * ldv + at;                                                                      \
            for (r = 0; r < A; r++) in[r] = y0 + r >= 0 && y0 + r < s->h ? plane + (size_t)(y0 + r) * s->w : NULL;    \
            /* The next channel's rows, fetched during this one's: U, streamed through L2 by every     \
               chunk's products, evicts the input, and each row is a stream of a few lines, too many      \
               and too short for the hardware prefetcher. V4 (8 images of 56 x 56) ran 1.19x faster on    \
               AVX-512 (forward and data gradient, medians of 5 interleaved runs); V1 and V2 the same. */ \
            if (c + 1 < s->c)                                                                                          \
                for (r = 0; r < A; r++)                                                                                \
                    if (in[r]) {                                                                                       \
                        const char *first = (const char *)(in[r] + in_plane + CNN__MAX(x0, 0));                        \
                        const char *last = (const char *)(in[r] + in_plane + CNN__MIN(x0 + M * count + A - M, s->w) - 1); \
                        for (; first < last; first += 64) CNN__PREFETCH(first);                                        \
                        CNN__PREFETCH(last);                                                                           \
                    }                                                                                                  \
            for (t0 = 0; t0 < fw; t0 += CNN__VL) {        /* down the columns: B^T d, M CNN__VL columns at a time */   \
                CNN__UNROLL(4) for (q = 0; q < M; q++) {                                                               \
                    cnn__vec d[A], o[A];                                                                               \
                    CNN__UNROLL(6) for (r = 0; r < A; r++) d[r] = cnn__wino_columns(in[r], x0 + M * t0 + q * CNN__VL, s->w); \
                    BT_1D(d, o);                                                                                       \
                    CNN__UNROLL(6) for (i = 0; i < A; i++) cnn__v_store(block + (i * M + q) * CNN__VL, CNN__VL, o[i]); \
                }                                                                                                      \
                CNN__UNROLL(6) for (i = 0; i < A; i++) {  /* ... split by phase */                                     \
                    cnn__vec phase[M];                                                                                 \
                    UNZIP(block + i * M * CNN__VL, phase);                                                             \
                    CNN__UNROLL(4) for (q = 0; q < M; q++) cnn__v_store(rows + (i * M + q) * fw + t0, CNN__VL, phase[q]); \
                }                                                                                                      \
            }                                                                                                          \
            for (t0 = 0; t0 < count; t0 += CNN__VL)       /* along the rows: V = (B^T d) B */                          \
                CNN__UNROLL(6) for (i = 0; i < A; i++) {                                                               \
                    const int lanes = CNN__MIN(CNN__VL, count - t0);                                                   \
                    const float *row = rows + i * M * fw + t0;                                                         \
                    cnn__vec d[A], o[A];                                                                               \
                    CNN__UNROLL(4) for (q = 0; q < M; q++) d[q] = cnn__v_load(row + q * fw, CNN__VL);                  \
                    d[M] = cnn__v_load(row + 1, CNN__VL);           /* columns M and M + 1: the next tile's 0 and 1 */ \
                    d[M + 1] = cnn__v_load(row + fw + 1, CNN__VL);                                                     \
                    BT_1D(d, o);                                                                                       \
                    CNN__UNROLL(6) for (j = 0; j < A; j++) cnn__v_store(vc + (i * A + j) * e_step + t0, lanes, o[j]);  \
                }                                                                                                      \
        }                                                                                                              \
    }                                                                                                                  \
    /* Lanes past the chunk's last tile, for the last strip: vector stores (as a loop of floats,    \
       gcc made it a call to memset per row: 4% of V4's forward pass, perf). */                        \
    for (e = 0; e < A * A; e++)                                                                                        \
        for (c = 0; c < s->c; c++)                                                                                     \
            for (j = 0; j < past_end; j += CNN__VL)                                                                    \
                cnn__v_store(v + e * e_step + (ptrdiff_t)c * ldv + tiles + j, CNN__MIN(CNN__VL, past_end - j), CNN__V(0.0f)); \
}

/* The output transform's first round for CNN__VL tiles of one filter (lanes of them real),
   shared by the two kernels below: am = A^T M down the A columns, element j of column q at
   m[(q * A + j) * e_step], and bias (when given) added to element (1, 1). */
#define CNN__WINO_OUTPUT_COLUMNS(M, A, AT_1D)                                                                 \
CNN__VEC static CNN__INLINE void CNN__WN(wino##M##_output_columns)(const float *m, ptrdiff_t e_step, int lanes, \
                                                                   const float *bias, cnn__vec *am) {         \
    cnn__vec d[A], o[M];                                                                                     \
    int i, j;                                                                                                \
    CNN__UNROLL(6) for (j = 0; j < A; j++) {                                                                 \
        CNN__UNROLL(6) for (i = 0; i < A; i++) d[i] = cnn__v_load(m + (i * A + j) * e_step, lanes);          \
        if (bias && j == 1) d[1] = cnn__v_add(d[1], cnn__v_set(*bias));                                      \
        AT_1D(d, o);                                                                                         \
        CNN__UNROLL(4) for (i = 0; i < M; i++) am[i * A + j] = o[i];                                         \
    }                                                                                                        \
}

/* Y = A^T M A + bias through the activation, into the outputs of the chunk's tiles, CNN__VL
   tiles at a time (the bias added to element (1, 1), as in cnn__wino_output_tiles), for tile
   rows too short for the row-wise transform below: both rounds in registers, then each output
   row i of the CNN__VL tiles interleaved by one store4 (store2) into out, where tile t's M
   values of the row are consecutive, and copied to the output a row of a tile at a time (the
   scalar reference copies a float at a time). */
#define CNN__WINO_OUTPUT_STRIPS(M, A, AT_1D, STORE)                                                           \
CNN__VEC static void CNN__WN(wino##M##_output_strips)(const cnn__wino *wt, const cnn__wino_shape *s,        \
                                                      long long g0, int tiles, const float *m_out,          \
                                                      ptrdiff_t ldm, const float *bias, cnn_activation act, \
                                                      float alpha, float *y) {                              \
    const size_t out_plane = (size_t)s->y_h * s->y_w;                                                   \
    const ptrdiff_t e_step = cnn__wino_step(s->k, ldm);                                                     \
    float out[M * M * CNN__VL];                                                                             \
    int img[CNN__VL], row0[CNN__VL], col0[CNN__VL];                                                         \
    int j0, n, t, k, i, j;                                                                                  \
    for (j0 = 0; j0 < tiles; j0 += CNN__VL) {                                                               \
        n = CNN__MIN(CNN__VL, tiles - j0);                                                                  \
        for (t = 0; t < n; t++) cnn__wino_where(wt, s, g0 + j0 + t, img + t, row0 + t, col0 + t);           \
        for (k = 0; k < s->k; k++) {                                                                        \
            cnn__vec o[M], am[M * A];                                                                       \
            CNN__WN(wino##M##_output_columns)(m_out + (size_t)k * ldm + j0, e_step, CNN__VL, bias ? bias + k : NULL, am); \
            CNN__UNROLL(4) for (i = 0; i < M; i++) {           /* along the rows: (A^T M) A */              \
                AT_1D(am + i * A, o);                                                                       \
                STORE(out + i * M * CNN__VL, M * CNN__VL, o);                                               \
            }                                                                                               \
            if (act != CNN_ACT_NONE) cnn__activation_forward(act, alpha, (size_t)M * M * CNN__VL, out, out); \
            for (t = 0; t < n; t++) {                                                                       \
                float *yt = y + ((size_t)img[t] * s->k + k) * out_plane + (size_t)row0[t] * s->y_w + col0[t]; \
                const int rows_in = CNN__MIN(M, s->out_h - row0[t]), cols_in = CNN__MIN(M, s->out_w - col0[t]); \
                if (cols_in == M)                              /* a whole row of the tile: M floats */      \
                    for (i = 0; i < rows_in; i++) memcpy(yt + (size_t)i * s->y_w, out + i * M * CNN__VL + M * t, M * sizeof(float)); \
                else                                                                                        \
                    for (i = 0; i < rows_in; i++)                                                           \
                        for (j = 0; j < cols_in; j++) yt[(size_t)i * s->y_w + j] = out[i * M * CNN__VL + M * t + j]; \
            }                                                                                               \
        }                                                                                                   \
    }                                                                                                       \
}

/* Y = A^T M A + bias through the activation, into the outputs of the chunk's tiles, a tile
   row at a time (the bias added to element (1, 1), as in cnn__wino_output_tiles). */
#define CNN__WINO_OUTPUT_ROWS(M, A, AT_1D, STORE)                                                                      \
CNN__VEC static void CNN__WN(wino##M##_output_rows)(const cnn__wino *wt, const cnn__wino_shape *s, long long g0,       \
                                                    int tiles, const float *m_out, ptrdiff_t ldm, const float *bias,   \
                                                    cnn_activation act, float alpha, float *y) {                       \
    const int tw = (s->out_w + M - 1) / M;                                                                             \
    const size_t out_plane = (size_t)s->y_h * s->y_w;                                                              \
    const ptrdiff_t e_step = cnn__wino_step(s->k, ldm);                                                                \
    int at, count, k, i, t0;                                                                                           \
    for (at = 0; at < tiles; at += count) {                                                                            \
        int img, row0, col0, rows_in, cols_in;                                                                         \
        cnn__wino_where(wt, s, g0 + at, &img, &row0, &col0);                                                           \
        count = CNN__MIN(tiles - at, tw - col0 / M);                                                                   \
        rows_in = CNN__MIN(M, s->out_h - row0);              /* the output rows and columns inside the output */       \
        cols_in = CNN__MIN(M * count, s->out_w - col0);                                                                \
        for (k = 0; k < s->k; k++) {                                                                                   \
            const float *mk = m_out + (size_t)k * ldm + at;                                                            \
            float *yk = y + ((size_t)img * s->k + k) * out_plane + (size_t)row0 * s->y_w + col0;                     \
            for (t0 = 0; t0 < count; t0 += CNN__VL) {                                                                  \
                const int lanes = CNN__MIN(CNN__VL, count - t0);                                                       \
                cnn__vec o[M], am[M * A];                                                                              \
                CNN__WN(wino##M##_output_columns)(mk + t0, e_step, lanes, bias ? bias + k : NULL, am);                 \
                CNN__UNROLL(4) for (i = 0; i < M; i++)         /* along the rows: (A^T M) A, into output row i */      \
                    if (i < rows_in) {                                                                                 \
                        AT_1D(am + i * A, o);                                                                          \
                        STORE(yk + (size_t)i * s->y_w + M * t0, CNN__MIN(M * lanes, cols_in - M * t0), o);           \
                    }                                                                                                  \
            }                                                                                                          \
            if (act != CNN_ACT_NONE)                                                                                   \
                for (i = 0; i < rows_in; i++)                                                                          \
                    cnn__activation_forward(act, alpha, (size_t)cols_in, yk + (size_t)i * s->y_w, yk + (size_t)i * s->y_w); \
        }                                                                                                              \
    }                                                                                                                  \
}

#define CNN__WINO_KERNELS                                                                                             \
CNN__VEC static CNN__INLINE void cnn__wino2_bt_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    o[0] = cnn__v_sub(d[0], d[2]);                                                                                    \
    o[1] = cnn__v_add(d[1], d[2]);                                                                                    \
    o[2] = cnn__v_sub(d[2], d[1]);                                                                                    \
    o[3] = cnn__v_sub(d[1], d[3]);                                                                                    \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino2_at_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    o[0] = cnn__v_add(cnn__v_add(d[0], d[1]), d[2]);                                                                  \
    o[1] = cnn__v_sub(cnn__v_sub(d[1], d[2]), d[3]);                                                                  \
}                                                                                                                     \
/* A d (the transpose of A^T): the weight gradient's output transform run backwards */                              \
CNN__VEC static CNN__INLINE void cnn__wino2_a_1d(const cnn__vec *d, cnn__vec *o) {                                     \
    o[0] = d[0];                                                                                                      \
    o[1] = cnn__v_add(d[0], d[1]);                                                                                    \
    o[2] = cnn__v_sub(d[0], d[1]);                                                                                    \
    o[3] = cnn__v_sub(CNN__V(0.0f), d[1]);                                                                            \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino2_g_1d(const cnn__vec *g, cnn__vec *o) {                                     \
    const cnn__vec half = CNN__V(0.5f), g02 = cnn__v_add(g[0], g[2]);                                                 \
    o[0] = g[0];                                                                                                      \
    o[1] = cnn__v_mul(half, cnn__v_add(g02, g[1]));                                                                   \
    o[2] = cnn__v_mul(half, cnn__v_sub(g02, g[1]));                                                                   \
    o[3] = g[2];                                                                                                      \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino4_bt_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    const cnn__vec four = CNN__V(4.0f), five = CNN__V(5.0f);                                                          \
    const cnn__vec t1 = cnn__v_sub(d[4], cnn__v_mul(four, d[2])), t2 = cnn__v_sub(d[3], cnn__v_mul(four, d[1]));      \
    const cnn__vec t3 = cnn__v_sub(d[4], d[2]), t4 = cnn__v_mul(CNN__V(2.0f), cnn__v_sub(d[3], d[1]));                \
    o[0] = cnn__v_add(cnn__v_sub(cnn__v_mul(four, d[0]), cnn__v_mul(five, d[2])), d[4]);                              \
    o[1] = cnn__v_add(t1, t2);                                                                                        \
    o[2] = cnn__v_sub(t1, t2);                                                                                        \
    o[3] = cnn__v_add(t3, t4);                                                                                        \
    o[4] = cnn__v_sub(t3, t4);                                                                                        \
    o[5] = cnn__v_add(cnn__v_sub(cnn__v_mul(four, d[1]), cnn__v_mul(five, d[3])), d[5]);                              \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino4_at_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    const cnn__vec s12 = cnn__v_add(d[1], d[2]), d12 = cnn__v_sub(d[1], d[2]);                                        \
    const cnn__vec s34 = cnn__v_add(d[3], d[4]), d34 = cnn__v_sub(d[3], d[4]);                                        \
    o[0] = cnn__v_add(cnn__v_add(d[0], s12), s34);                                                                    \
    o[1] = cnn__v_add(d12, cnn__v_mul(CNN__V(2.0f), d34));                                                            \
    o[2] = cnn__v_add(s12, cnn__v_mul(CNN__V(4.0f), s34));                                                            \
    o[3] = cnn__v_add(cnn__v_add(d12, cnn__v_mul(CNN__V(8.0f), d34)), d[5]);                                          \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino4_a_1d(const cnn__vec *d, cnn__vec *o) {                                     \
    const cnn__vec s02 = cnn__v_add(d[0], d[2]), s13 = cnn__v_add(d[1], d[3]);                                        \
    const cnn__vec t02 = cnn__v_add(d[0], cnn__v_mul(CNN__V(4.0f), d[2]));                                            \
    const cnn__vec t13 = cnn__v_add(cnn__v_mul(CNN__V(2.0f), d[1]), cnn__v_mul(CNN__V(8.0f), d[3]));                  \
    o[0] = d[0];                                                                                                      \
    o[1] = cnn__v_add(s02, s13);                                                                                      \
    o[2] = cnn__v_sub(s02, s13);                                                                                      \
    o[3] = cnn__v_add(t02, t13);                                                                                      \
    o[4] = cnn__v_sub(t02, t13);                                                                                      \
    o[5] = d[3];                                                                                                      \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino4_g_1d(const cnn__vec *g, cnn__vec *o) {                                     \
    const cnn__vec g02 = cnn__v_add(g[0], g[2]);                                                                      \
    const cnn__vec a = cnn__v_add(cnn__v_mul(CNN__V(1.0f / 24), g[0]), cnn__v_mul(CNN__V(1.0f / 6), g[2]));           \
    const cnn__vec b = cnn__v_mul(CNN__V(1.0f / 12), g[1]);                                                           \
    o[0] = cnn__v_mul(CNN__V(1.0f / 4), g[0]);                                                                        \
    o[1] = cnn__v_mul(CNN__V(-1.0f / 6), cnn__v_add(g02, g[1]));                                                      \
    o[2] = cnn__v_mul(CNN__V(-1.0f / 6), cnn__v_sub(g02, g[1]));                                                      \
    o[3] = cnn__v_add(a, b);                                                                                          \
    o[4] = cnn__v_sub(a, b);                                                                                          \
    o[5] = g[2];                                                                                                      \
}                                                                                                                     \
/* G^T d: the filter transform run backwards (the weight gradient's) */                                               \
CNN__VEC static CNN__INLINE void cnn__wino2_gt_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    const cnn__vec half = CNN__V(0.5f);                                                                               \
    const cnn__vec s12 = cnn__v_mul(half, cnn__v_add(d[1], d[2]));                                                    \
    o[0] = cnn__v_add(d[0], s12);                                                                                     \
    o[1] = cnn__v_mul(half, cnn__v_sub(d[1], d[2]));                                                                  \
    o[2] = cnn__v_add(s12, d[3]);                                                                                     \
}                                                                                                                     \
CNN__VEC static CNN__INLINE void cnn__wino4_gt_1d(const cnn__vec *d, cnn__vec *o) {                                    \
    const cnn__vec s12 = cnn__v_add(d[1], d[2]), d12 = cnn__v_sub(d[1], d[2]);                                        \
    const cnn__vec s34 = cnn__v_add(d[3], d[4]), d34 = cnn__v_sub(d[3], d[4]);                                        \
    const cnn__vec sixth = CNN__V(1.0f / 6);                                                                          \
    o[0] = cnn__v_add(cnn__v_sub(cnn__v_mul(CNN__V(0.25f), d[0]), cnn__v_mul(sixth, s12)), cnn__v_mul(CNN__V(1.0f / 24), s34)); \
    o[1] = cnn__v_sub(cnn__v_mul(CNN__V(1.0f / 12), d34), cnn__v_mul(sixth, d12));                                   \
    o[2] = cnn__v_add(cnn__v_mul(sixth, cnn__v_sub(s34, s12)), d[5]);                                                 \
}                                                                                                                     \
                                                                                                                      \
/* CNN__VL columns from x0 of an input row (NULL: a row of the padding), zero outside 0 .. w - 1 */                   \
CNN__VEC static CNN__INLINE cnn__vec cnn__wino_columns(const float *row, int x0, int w) {                              \
    return row ? cnn__v_load_at(row, x0, w) : CNN__V(0.0f);                                                           \
}                                                                                                                     \
CNN__WINO_FILTERS(2, 4, cnn__wino2_g_1d)                                                                              \
CNN__WINO_FILTERS(4, 6, cnn__wino4_g_1d)                                                                              \
CNN__VEC static void CNN__WN(wino_filters)(const cnn__wino *wt, int rows, int cols, const float *w, int flipped,       \
                                           int row0, int count, float *u) {                                           \
    if (wt->m == 4) CNN__WN(wino4_filters)(rows, cols, w, flipped, row0, count, u);                                   \
    else CNN__WN(wino2_filters)(rows, cols, w, flipped, row0, count, u);                                              \
}                                                                                                                     \
CNN__WINO_WEIGHT_GRADS(2, 4, cnn__wino2_gt_1d)                                                                        \
CNN__WINO_WEIGHT_GRADS(4, 6, cnn__wino4_gt_1d)                                                                        \
CNN__VEC static void CNN__WN(wino_weight_grads)(const cnn__wino *wt, int k, int c, const float *du, float *dw) {       \
    if (wt->m == 4) CNN__WN(wino4_weight_grads)(k, c, du, dw);                                                        \
    else CNN__WN(wino2_weight_grads)(k, c, du, dw);                                                                   \
}                                                                                                                     \
CNN__WINO_WINDOWS(wino2_input_windows, 4, 4, cnn__wino2_bt_1d)                                                       \
CNN__WINO_WINDOWS(wino4_input_windows, 6, 6, cnn__wino4_bt_1d)                                                       \
CNN__VEC static void CNN__WN(wino_input_windows)(const cnn__wino *wt, const cnn__wino_shape *s, const float *x,       \
                                                 long long g0, int tiles, float *v, ptrdiff_t ldv) {                  \
    if (wt->m == 4) CNN__WN(wino4_input_windows)(wt, s, x, s->c, s->h, s->w, s->pad_top, s->pad_left, g0, tiles, v, ldv); \
    else CNN__WN(wino2_input_windows)(wt, s, x, s->c, s->h, s->w, s->pad_top, s->pad_left, g0, tiles, v, ldv);        \
}                                                                                                                     \
CNN__WINO_WINDOWS(wino2_grad_windows, 2, 4, cnn__wino2_a_1d)                                                         \
CNN__WINO_WINDOWS(wino4_grad_windows, 4, 6, cnn__wino4_a_1d)                                                         \
CNN__VEC static void CNN__WN(wino_grad_windows)(const cnn__wino *wt, const cnn__wino_shape *s, const float *dy,       \
                                                long long g0, int tiles, float *dm, ptrdiff_t ldm) {                  \
    if (wt->m == 4) CNN__WN(wino4_grad_windows)(wt, s, dy, s->k, s->out_h, s->out_w, 0, 0, g0, tiles, dm, ldm);       \
    else CNN__WN(wino2_grad_windows)(wt, s, dy, s->k, s->out_h, s->out_w, 0, 0, g0, tiles, dm, ldm);                  \
}                                                                                                                     \
CNN__WINO_INPUT_ROWS(2, 4, cnn__wino2_bt_1d, CNN__WINO2_UNZIP)                                                       \
CNN__WINO_INPUT_ROWS(4, 6, cnn__wino4_bt_1d, CNN__WINO4_UNZIP)                                                       \
CNN__WINO_OUTPUT_COLUMNS(2, 4, cnn__wino2_at_1d)                                                                     \
CNN__WINO_OUTPUT_COLUMNS(4, 6, cnn__wino4_at_1d)                                                                     \
CNN__WINO_OUTPUT_ROWS(2, 4, cnn__wino2_at_1d, CNN__WINO2_STORE)                                                       \
CNN__WINO_OUTPUT_ROWS(4, 6, cnn__wino4_at_1d, CNN__WINO4_STORE)                                                       \
CNN__WINO_OUTPUT_STRIPS(2, 4, cnn__wino2_at_1d, CNN__WINO2_STORE)                                                     \
CNN__WINO_OUTPUT_STRIPS(4, 6, cnn__wino4_at_1d, CNN__WINO4_STORE)                                                     \
CNN__VEC static void CNN__WN(wino_output_strips)(const cnn__wino *wt, const cnn__wino_shape *s, long long g0,         \
                                                 int tiles, const float *m_out, ptrdiff_t ldm, const float *bias,     \
                                                 cnn_activation act, float alpha, float *y) {                         \
    if (wt->m == 4) CNN__WN(wino4_output_strips)(wt, s, g0, tiles, m_out, ldm, bias, act, alpha, y);                  \
    else CNN__WN(wino2_output_strips)(wt, s, g0, tiles, m_out, ldm, bias, act, alpha, y);                             \
}                                                                                                                     \
CNN__VEC static void CNN__WN(wino_input_rows)(const cnn__wino *wt, const cnn__wino_shape *s, const float *x,          \
                                              long long g0, int tiles, float *v, ptrdiff_t ldv, float *rows) {        \
    if (wt->m == 4) CNN__WN(wino4_input_rows)(wt, s, x, g0, tiles, v, ldv, rows);                                     \
    else CNN__WN(wino2_input_rows)(wt, s, x, g0, tiles, v, ldv, rows);                                                \
}                                                                                                                     \
CNN__VEC static void CNN__WN(wino_output_rows)(const cnn__wino *wt, const cnn__wino_shape *s, long long g0, int tiles, \
                                               const float *m_out, ptrdiff_t ldm, const float *bias,                  \
                                               cnn_activation act, float alpha, float *y) {                           \
    if (wt->m == 4) CNN__WN(wino4_output_rows)(wt, s, g0, tiles, m_out, ldm, bias, act, alpha, y);                    \
    else CNN__WN(wino2_output_rows)(wt, s, g0, tiles, m_out, ldm, bias, act, alpha, y);                               \
}

CNN__WINO_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__WINO_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#undef CNN__WINO_KERNELS
#undef CNN__WINO_INPUT_ROWS
#undef CNN__WINO_OUTPUT_ROWS
#undef CNN__WINO_OUTPUT_STRIPS
#undef CNN__WINO_OUTPUT_COLUMNS
#undef CNN__WINO_FILTERS
#undef CNN__WINO_WINDOWS
#undef CNN__WINO4_UNZIP
#undef CNN__WINO2_UNZIP
#undef CNN__WINO4_STORE
#undef CNN__WINO2_STORE
#undef cnn__wino2_bt_1d
#undef cnn__wino2_at_1d
#undef cnn__wino2_g_1d
#undef cnn__wino4_bt_1d
#undef cnn__wino4_at_1d
#undef cnn__wino4_g_1d
#undef cnn__wino2_a_1d
#undef cnn__wino4_a_1d
#undef cnn__wino2_gt_1d
#undef cnn__wino4_gt_1d
#undef CNN__WINO_WEIGHT_GRADS
#undef cnn__wino_columns
#undef CNN__INLINE
#undef CNN__UNROLL
#undef CNN__PRAGMA
#undef CNN__V

/* The products on the micro-kernel: for each element e and strips j, j + 1 of 16 tiles,
   M_e[.][strips j, j+1] (K x 32) = U_e (K x C, read in place, rows a^2 C apart) *
   V_e[.][strips j, j+1] (C rows of 32, ldv apart: v_rows[c] = c ldv; strip j + 1 is the 16
   floats after strip j). */
static void cnn__wino_products_simd(int a2, int rows, int kc, int strips, const float *u, const float *v,
                                    ptrdiff_t ldv, const int32_t *v_rows, float *m_out, ptrdiff_t ldm, ptrdiff_t m_step) {
    const int32_t *b_rows = ldv == CNN__WL ? NULL : v_rows;    /* one strip: V_e is a packed strip */
    int e, j;
    for (e = 0; e < a2; e++)
        for (j = 0; j < strips; j += 2)
            cnn__simd_gemm_wide(rows, kc, u + (size_t)e * kc, (ptrdiff_t)a2 * kc, 1, NULL, NULL,
                                v + e * cnn__wino_step(kc, ldv) + j * CNN__WL, b_rows, CNN__WL,
                                m_out + e * m_step + j * CNN__WL, ldm, CNN__WL * CNN__MIN(2, strips - j), 0, NULL);
}

/* The weight gradient's products on the micro-kernel: for each element e and 32 channels at
   a time, dU_e[.][c0 .. c0 + 31] (K x 32, rows a^2 C apart in dU[K][a2][C]) (+)= dM_e (K x
   tiles, read in place) * V_e^T (tiles x 32: V_e's rows of those channels packed transposed
   into two strips). */
static void cnn__wino_weight_products_simd(int a2, int k, int c, int tiles, const float *dm, ptrdiff_t ldm, const float *v,
                                           ptrdiff_t ldv, float *strip, int accumulate, float *du) {
    const ptrdiff_t m_step = cnn__wino_step(k, ldm), v_step = cnn__wino_step(c, ldv);
    int e, c0;
    for (e = 0; e < a2; e++)
        for (c0 = 0; c0 < c; c0 += 32) {
            const int nc = CNN__MIN(32, c - c0);
            const float *ve = v + e * v_step + (size_t)c0 * ldv;
            cnn__pack_transposed(ve, ldv, CNN__MIN(16, nc), tiles, strip, NULL);
            if (nc > 16) cnn__pack_transposed(ve + 16 * ldv, ldv, nc - 16, tiles, strip + (size_t)16 * tiles, NULL);
            cnn__simd_gemm_wide(k, tiles, dm + e * m_step, ldm, 1, NULL, NULL, strip, NULL, (ptrdiff_t)16 * tiles,
                                du + (size_t)e * c + c0, (ptrdiff_t)a2 * c, nc, accumulate, NULL);
        }
}
#endif

/* ---------------------------------------------------------------------------------------------
   Depthwise convolution (one input channel per group, k = c * multiplier), on the
   element-wise vocabulary: a product of one channel leaves the micro-kernel's lanes empty,
   and the work is a few taps per loaded value, so memory bandwidth is its ceiling (bench:
   bandwidth/DW<i>). Each output row is 4 * CNN__VL columns at a time (four independent sums,
   so the adds' latency overlaps; then CNN__VL at a time): for each kernel row inside the
   image, each tap adds w * (CNN__VL input values) to the accumulator, in the scalar
   reference's order (bias, then the taps row by row), multiply then add as it does. At stride 2 the input columns
   2j + offset are the even lanes of a load2. The columns where a tap would fall outside the
   row (the padding; at stride 2 also the last, whose unused odd partner load2 would read)
   are done one by one, in the same order. Column strides 1 and 2, any kernel, row stride and
   dilation.
   The data gradient gathers at column stride 1 (the input column jj reads output columns
   jj + pad - q*dil: contiguous), in the reference's order (filters of the channel, then
   taps); at stride 2 half the columns of each tap are missing, and it stays scalar. The
   weight gradient is one dot product per filter and tap over the output pixels the tap
   reaches, 4 * CNN__VL columns at a time at stride 1 (four partial sums), CNN__VL at a time
   after that and at stride 2 (load2), the partial sums and then the lanes added at the end:
   a different order from the reference's, within rounding, the same for every thread count.
   --------------------------------------------------------------------------------------------- */
#ifdef CNN__SIMD
/* The output columns [lo, hi) whose every tap (and, at stride 2, the value after it) is in
   the input row. */
static void cnn__depthwise_columns(const cnn_conv2d_shape *s, int ow, int *lo, int *hi) {
    int l0, h0, l1, h1;
    cnn__tap_range(ow, s->w, s->stride_w, s->pad_left, 0, &l0, &h0);
    cnn__tap_range(ow, s->w - (s->stride_w - 1), s->stride_w, s->pad_left, (s->kw - 1) * s->dilation_w, &l1, &h1);
    *lo = l0;
    *hi = CNN__MAX(l0, CNN__MIN(h0, h1));
    if (s->w - (s->stride_w - 1) < 1) *hi = l0;
}

/* One output of a depthwise plane, as the scalar reference sums it. */
static float cnn__depthwise_pixel(const cnn_conv2d_shape *s, const float *xc, const float *wk, float bias, int i, int j) {
    float sum = bias;
    int r, q;
    for (r = 0; r < s->kh; r++) {
        const int row = i * s->stride_h - s->pad_top + r * s->dilation_h;
        if (row < 0 || row >= s->h) continue;
        for (q = 0; q < s->kw; q++) {
            const int col = j * s->stride_w - s->pad_left + q * s->dilation_w;
            if (col >= 0 && col < s->w) sum += wk[r * s->kw + q] * xc[(size_t)row * s->w + col];
        }
    }
    return sum;
}

/* One input gradient of a depthwise plane (channel c of image n's dy, dyn), as the scalar
   reference sums it: over the channel's filters, then the taps whose output reads it. */
static float cnn__depthwise_data_pixel(const cnn_conv2d_shape *s, int oh, int ow, const float *dyn, const float *w,
                                       int c, int ii, int jj) {
    const int mult = s->k / s->c, taps = s->kh * s->kw;
    float sum = 0.0f;
    int k, r, q;
    for (k = c * mult; k < (c + 1) * mult; k++)
        for (r = 0; r < s->kh; r++) {
            const int t = ii + s->pad_top - r * s->dilation_h;
            if (t < 0 || t % s->stride_h || t / s->stride_h >= oh) continue;
            for (q = 0; q < s->kw; q++) {
                const int u = jj + s->pad_left - q * s->dilation_w;
                if (u < 0 || u % s->stride_w || u / s->stride_w >= ow) continue;
                sum += w[(size_t)k * taps + r * s->kw + q] * dyn[((size_t)k * oh + t / s->stride_h) * ow + u / s->stride_w];
            }
        }
    return sum;
}

#define cnn__dw_load CNN__WN(dw_load)
#define CNN__DEPTHWISE_KERNELS                                                                                        \
/* 'lanes' input values at column stride 1 or 2: consecutive, or the even ones of twice as many */                    \
CNN__VEC static cnn__vec CNN__WN(dw_load)(const float *p, int stride, int lanes) {                                    \
    cnn__vec even, odd;                                                                                               \
    if (stride == 1) return cnn__v_load(p, lanes);                                                                    \
    cnn__v_load2(p, lanes, &even, &odd);                                                                              \
    return even;                                                                                                      \
}                                                                                                                     \
                                                                                                                      \
CNN__VEC static void CNN__WN(depthwise_forward)(const cnn_conv2d_shape *s, const float *x, const float *w,            \
                                                const float *b, float *y) {                                           \
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), mult = s->k / s->c, taps = s->kh * s->kw;         \
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;                                         \
    const ptrdiff_t step = (ptrdiff_t)CNN__VL * s->stride_w;          /* input columns of one vector */               \
    int n, k, i, j, r, q, lo, hi;                                                                                     \
    cnn__depthwise_columns(s, ow, &lo, &hi);                                                                          \
    for (n = 0; n < s->n; n++)                                                                                        \
        for (k = 0; k < s->k; k++) {                                                                                  \
            const float *xc = x + ((size_t)n * s->c + k / mult) * in_plane, *wk = w + (size_t)k * taps;               \
            const float bias = b ? b[k] : 0.0f;                                                                       \
            for (i = 0; i < oh; i++) {                                                                                \
                float *yrow = y + ((size_t)n * s->k + k) * out_plane + (size_t)i * ow;                                \
                for (j = 0; j < lo; j++) yrow[j] = cnn__depthwise_pixel(s, xc, wk, bias, i, j);   /* the border */    \
                for (j = hi; j < ow; j++) yrow[j] = cnn__depthwise_pixel(s, xc, wk, bias, i, j);                      \
                /* four vectors at a time: four independent sums in flight, not one chain */                          \
                for (j = lo; j + 4 * CNN__VL <= hi; j += 4 * CNN__VL) {                                               \
                    cnn__vec a0 = cnn__v_set(bias), a1 = a0, a2 = a0, a3 = a0;                                        \
                    for (r = 0; r < s->kh; r++) {                                                                     \
                        const int row = i * s->stride_h - s->pad_top + r * s->dilation_h;                             \
                        const float *xr;                                                                              \
                        if (row < 0 || row >= s->h) continue;                                                         \
                        xr = xc + (size_t)row * s->w + (ptrdiff_t)j * s->stride_w - s->pad_left;                      \
                        for (q = 0; q < s->kw; q++) {                                                                 \
                            const cnn__vec wv = cnn__v_set(wk[r * s->kw + q]);                                        \
                            const float *xq = xr + q * s->dilation_w;                                                 \
                            a0 = cnn__v_add(a0, cnn__v_mul(wv, cnn__dw_load(xq, s->stride_w, CNN__VL)));              \
                            a1 = cnn__v_add(a1, cnn__v_mul(wv, cnn__dw_load(xq + step, s->stride_w, CNN__VL)));       \
                            a2 = cnn__v_add(a2, cnn__v_mul(wv, cnn__dw_load(xq + 2 * step, s->stride_w, CNN__VL)));   \
                            a3 = cnn__v_add(a3, cnn__v_mul(wv, cnn__dw_load(xq + 3 * step, s->stride_w, CNN__VL)));   \
                        }                                                                                             \
                    }                                                                                                 \
                    cnn__v_store(yrow + j, CNN__VL, a0);                                                              \
                    cnn__v_store(yrow + j + CNN__VL, CNN__VL, a1);                                                    \
                    cnn__v_store(yrow + j + 2 * CNN__VL, CNN__VL, a2);                                                \
                    cnn__v_store(yrow + j + 3 * CNN__VL, CNN__VL, a3);                                                \
                }                                                                                                     \
                for (; j < hi; j += CNN__VL) {                                                                        \
                    const int lanes = CNN__MIN(CNN__VL, hi - j);                                                      \
                    cnn__vec acc = cnn__v_set(bias);                                                                  \
                    for (r = 0; r < s->kh; r++) {                                                                     \
                        const int row = i * s->stride_h - s->pad_top + r * s->dilation_h;                             \
                        const float *xr;                                                                              \
                        if (row < 0 || row >= s->h) continue;                                                         \
                        xr = xc + (size_t)row * s->w + (ptrdiff_t)j * s->stride_w - s->pad_left;                      \
                        for (q = 0; q < s->kw; q++) {                                                                 \
                            const cnn__vec wv = cnn__v_set(wk[r * s->kw + q]);                                        \
                            acc = cnn__v_add(acc, cnn__v_mul(wv, cnn__dw_load(xr + q * s->dilation_w, s->stride_w, lanes)));\
                        }                                                                                             \
                    }                                                                                                 \
                    cnn__v_store(yrow + j, lanes, acc);                                                               \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
}                                                                                                                     \
                                                                                                                      \
                                                                                                                      \
CNN__VEC static void CNN__WN(depthwise_backward_data)(const cnn_conv2d_shape *s, const float *dy, const float *w,     \
                                                      float *dx) {                                                    \
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), mult = s->k / s->c, taps = s->kh * s->kw;         \
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;                                         \
    const int lo = CNN__MIN(s->w, CNN__MAX(0, (s->kw - 1) * s->dilation_w - s->pad_left));                            \
    const int hi = CNN__MAX(lo, CNN__MIN(s->w, ow - s->pad_left));                                                    \
    int n, c, k, ii, jj, r, q;                                                                                        \
    for (n = 0; n < s->n; n++)                                                                                        \
        for (c = 0; c < s->c; c++) {                                                                                  \
            const float *dyn = dy + (size_t)n * s->k * out_plane;                                                     \
            for (ii = 0; ii < s->h; ii++) {                                                                           \
                float *dxrow = dx + ((size_t)n * s->c + c) * in_plane + (size_t)ii * s->w;                            \
                for (jj = 0; jj < lo; jj++) dxrow[jj] = cnn__depthwise_data_pixel(s, oh, ow, dyn, w, c, ii, jj);      \
                for (jj = hi; jj < s->w; jj++) dxrow[jj] = cnn__depthwise_data_pixel(s, oh, ow, dyn, w, c, ii, jj);   \
                for (jj = lo; jj + 4 * CNN__VL <= hi; jj += 4 * CNN__VL) {          /* four sums in flight */         \
                    cnn__vec a0 = cnn__v_set(0.0f), a1 = a0, a2 = a0, a3 = a0;                                        \
                    for (k = c * mult; k < (c + 1) * mult; k++)                                                       \
                        for (r = 0; r < s->kh; r++) {                                                                 \
                            const int t = ii + s->pad_top - r * s->dilation_h;                                        \
                            const float *dyrow;                                                                       \
                            if (t < 0 || t % s->stride_h || t / s->stride_h >= oh) continue;                          \
                            dyrow = dyn + (size_t)k * out_plane + (size_t)(t / s->stride_h) * ow + jj + s->pad_left;  \
                            for (q = 0; q < s->kw; q++) {                                                             \
                                const cnn__vec wv = cnn__v_set(w[(size_t)k * taps + r * s->kw + q]);                  \
                                const float *dq = dyrow - q * s->dilation_w;                                          \
                                a0 = cnn__v_add(a0, cnn__v_mul(wv, cnn__v_load(dq, CNN__VL)));                        \
                                a1 = cnn__v_add(a1, cnn__v_mul(wv, cnn__v_load(dq + CNN__VL, CNN__VL)));              \
                                a2 = cnn__v_add(a2, cnn__v_mul(wv, cnn__v_load(dq + 2 * CNN__VL, CNN__VL)));          \
                                a3 = cnn__v_add(a3, cnn__v_mul(wv, cnn__v_load(dq + 3 * CNN__VL, CNN__VL)));          \
                            }                                                                                         \
                        }                                                                                             \
                    cnn__v_store(dxrow + jj, CNN__VL, a0);                                                            \
                    cnn__v_store(dxrow + jj + CNN__VL, CNN__VL, a1);                                                  \
                    cnn__v_store(dxrow + jj + 2 * CNN__VL, CNN__VL, a2);                                              \
                    cnn__v_store(dxrow + jj + 3 * CNN__VL, CNN__VL, a3);                                              \
                }                                                                                                     \
                for (; jj < hi; jj += CNN__VL) {                                                                      \
                    const int lanes = CNN__MIN(CNN__VL, hi - jj);                                                     \
                    cnn__vec acc = cnn__v_set(0.0f);                                                                  \
                    for (k = c * mult; k < (c + 1) * mult; k++)                                                       \
                        for (r = 0; r < s->kh; r++) {                                                                 \
                            const int t = ii + s->pad_top - r * s->dilation_h;                                        \
                            const float *dyrow;                                                                       \
                            if (t < 0 || t % s->stride_h || t / s->stride_h >= oh) continue;                          \
                            dyrow = dyn + (size_t)k * out_plane + (size_t)(t / s->stride_h) * ow + jj + s->pad_left;  \
                            for (q = 0; q < s->kw; q++)                                                               \
                                acc = cnn__v_add(acc, cnn__v_mul(cnn__v_set(w[(size_t)k * taps + r * s->kw + q]),     \
                                                                 cnn__v_load(dyrow - q * s->dilation_w, lanes)));     \
                        }                                                                                             \
                    cnn__v_store(dxrow + jj, lanes, acc);                                                             \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
}                                                                                                                     \
                                                                                                                      \
CNN__VEC static void CNN__WN(depthwise_backward_weights)(const cnn_conv2d_shape *s, const float *x, const float *dy,  \
                                                         float *dw) {                                                 \
    const int oh = cnn__conv2d_out_h(s), ow = cnn__conv2d_out_w(s), mult = s->k / s->c, taps = s->kh * s->kw;         \
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;                                         \
    float lanes_out[16];                                                                                              \
    int n, k, r, q, i, j, l, i_lo, i_hi, j_lo, j_hi, j_vhi, unused;                                                   \
    memset(dw, 0, (size_t)s->k * taps * sizeof(float));                                                               \
    for (n = 0; n < s->n; n++)                                                                                        \
        for (k = 0; k < s->k; k++) {                                                                                  \
            const float *xc = x + ((size_t)n * s->c + k / mult) * in_plane, *dyk = dy + ((size_t)n * s->k + k) * out_plane;\
            for (r = 0; r < s->kh; r++) {                                                                             \
                cnn__tap_range(oh, s->h, s->stride_h, s->pad_top, r * s->dilation_h, &i_lo, &i_hi);                   \
                for (q = 0; q < s->kw; q++) {                                                                         \
                    const ptrdiff_t col0 = (ptrdiff_t)q * s->dilation_w - s->pad_left;                                \
                    cnn__vec acc = cnn__v_set(0.0f), a1 = acc, a2 = acc, a3 = acc;                                    \
                    float tail = 0.0f, sum = 0.0f;                                                                    \
                    cnn__tap_range(ow, s->w, s->stride_w, s->pad_left, q * s->dilation_w, &j_lo, &j_hi);              \
                    /* at stride 2 a load2 reads the value after the last: that column scalar */                      \
                    cnn__tap_range(ow, s->w - (s->stride_w - 1), s->stride_w, s->pad_left, q * s->dilation_w, &unused, &j_vhi);\
                    j_vhi = CNN__MAX(j_lo, CNN__MIN(j_vhi, j_hi));                                                    \
                    if (s->w - (s->stride_w - 1) < 1) j_vhi = j_lo;                                                   \
                    for (i = i_lo; i < i_hi; i++) {                                                                   \
                        const float *xrow = xc + (size_t)(i * s->stride_h - s->pad_top + r * s->dilation_h) * s->w;   \
                        const float *dyrow = dyk + (size_t)i * ow;                                                    \
                        for (j = j_lo; s->stride_w == 1 && j + 4 * CNN__VL <= j_vhi; j += 4 * CNN__VL) {              \
                            const float *xj = xrow + j + col0, *dyj = dyrow + j;     /* four sums in flight */        \
                            acc = cnn__v_add(acc, cnn__v_mul(cnn__v_load(dyj, CNN__VL), cnn__v_load(xj, CNN__VL)));   \
                            a1 = cnn__v_add(a1, cnn__v_mul(cnn__v_load(dyj + CNN__VL, CNN__VL), cnn__v_load(xj + CNN__VL, CNN__VL)));\
                            a2 = cnn__v_add(a2, cnn__v_mul(cnn__v_load(dyj + 2 * CNN__VL, CNN__VL), cnn__v_load(xj + 2 * CNN__VL, CNN__VL)));\
                            a3 = cnn__v_add(a3, cnn__v_mul(cnn__v_load(dyj + 3 * CNN__VL, CNN__VL), cnn__v_load(xj + 3 * CNN__VL, CNN__VL)));\
                        }                                                                                             \
                        for (; j < j_vhi; j += CNN__VL) {                                                             \
                            const int lanes = CNN__MIN(CNN__VL, j_vhi - j);                                           \
                            const cnn__vec xv = cnn__dw_load(xrow + (ptrdiff_t)j * s->stride_w + col0, s->stride_w, lanes);\
                            acc = cnn__v_add(acc, cnn__v_mul(cnn__v_load(dyrow + j, lanes), xv));                     \
                        }                                                                                             \
                        for (j = j_vhi; j < j_hi; j++) tail += dyrow[j] * xrow[(ptrdiff_t)j * s->stride_w + col0];    \
                    }                                                                                                 \
                    acc = cnn__v_add(cnn__v_add(acc, a1), cnn__v_add(a2, a3));                                        \
                    cnn__v_store(lanes_out, CNN__VL, acc);                                                            \
                    for (l = 0; l < CNN__VL; l++) sum += lanes_out[l];                                                \
                    dw[(size_t)k * taps + r * s->kw + q] += sum + tail;                                               \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
}

CNN__DEPTHWISE_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__DEPTHWISE_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#undef CNN__DEPTHWISE_KERNELS
#undef cnn__dw_load
#endif /* CNN__SIMD */

/* ============================================================================================
   F5. Activations: the vector twins
   ============================================================================================ */

#ifdef CNN__SIMD
/* ---------------------------------------------------------------------------------------------
   e^x for a vector, for sigmoid and tanh. Split x = n ln 2 + r with n whole and |r| <= ln2 / 2,
   so e^x = 2^n e^r: 2^n is built in the exponent field, and e^r is a degree-7 polynomial,
   1 + r + r^2 (1/2 + r (1/6 + ...)), with the coefficients of Cephes' expf (minimax on that
   interval, within about one unit in the last place). ln 2 is subtracted in two pieces: the
   first has few enough bits that n * ln2_hi is exact. Below -87.33 the result (a subnormal
   float, or zero) is taken as 0; above 88 the input is clamped (e^88 = 1.65e38, under
   FLT_MAX), which sigmoid and tanh only ever need as "large".
   --------------------------------------------------------------------------------------------- */
#define CNN__ACTIVATION_KERNELS                                                                                       \
CNN__VEC static cnn__vec cnn__v_exp(cnn__vec x) {                                                                     \
    const cnn__vec lo = cnn__v_set(-87.33654f);                                                                       \
    const cnn__vec c = cnn__v_min(cnn__v_max(x, lo), cnn__v_set(88.0f));                                              \
    const cnn__vec n = cnn__v_round(cnn__v_mul(c, cnn__v_set(1.44269504f)));          /* log2(e) */                   \
    const cnn__vec r = cnn__v_sub(cnn__v_sub(c, cnn__v_mul(n, cnn__v_set(0.693359375f))), cnn__v_mul(n, cnn__v_set(-2.12194440e-4f))); \
    cnn__vec p = cnn__v_set(1.9875691500e-4f);                                                                        \
    p = cnn__v_add(cnn__v_mul(p, r), cnn__v_set(1.3981999507e-3f));                                                   \
    p = cnn__v_add(cnn__v_mul(p, r), cnn__v_set(8.3334519073e-3f));                                                   \
    p = cnn__v_add(cnn__v_mul(p, r), cnn__v_set(4.1665795894e-2f));                                                   \
    p = cnn__v_add(cnn__v_mul(p, r), cnn__v_set(1.6666665459e-1f));                                                   \
    p = cnn__v_add(cnn__v_mul(p, r), cnn__v_set(5.0000001201e-1f));                                                   \
    p = cnn__v_add(cnn__v_add(cnn__v_mul(cnn__v_mul(p, r), r), r), cnn__v_set(1.0f));                                 \
    return cnn__v_select(cnn__v_lt(x, lo), cnn__v_set(0.0f), cnn__v_mul(p, cnn__v_pow2(n)));                          \
}                                                                                                                     \
                                                                                                                      \
/* sigmoid(x) = 1 / (1 + e^-|x|) for x >= 0, e^-|x| / (1 + e^-|x|) below: as the scalar code,                         \
   e is never large. A NaN passes through. */                                                                         \
CNN__VEC static cnn__vec cnn__v_sigmoid(cnn__vec x) {                                                                 \
    const cnn__vec one = cnn__v_set(1.0f), e = cnn__v_exp(cnn__v_sub(cnn__v_set(0.0f), cnn__v_abs(x)));               \
    const cnn__vec s = cnn__v_div(one, cnn__v_add(one, e));                                                           \
    return cnn__v_select(cnn__v_unordered(x, x), x, cnn__v_select(cnn__v_lt(x, cnn__v_set(0.0f)), cnn__v_mul(e, s), s)); \
}                                                                                                                     \
                                                                                                                      \
/* tanh |x| = 1 - 2 / (e^2|x| + 1), which loses no digits to cancellation once |x| >= 0.625                           \
   (the result is then above 0.55); below, the odd polynomial x + x^3 P(x^2) of Cephes' tanhf.                        \
   The sign is put back last; a NaN passes through. */                                                                \
CNN__VEC static cnn__vec cnn__v_tanh(cnn__vec x) {                                                                    \
    const cnn__vec zero = cnn__v_set(0.0f), one = cnn__v_set(1.0f), a = cnn__v_abs(x), a2 = cnn__v_mul(a, a);         \
    const cnn__vec big = cnn__v_sub(one, cnn__v_div(cnn__v_set(2.0f), cnn__v_add(cnn__v_exp(cnn__v_add(a, a)), one))); \
    cnn__vec p = cnn__v_set(-5.70498872745e-3f), t;                                                                   \
    p = cnn__v_add(cnn__v_mul(p, a2), cnn__v_set(2.06390887954e-2f));                                                 \
    p = cnn__v_add(cnn__v_mul(p, a2), cnn__v_set(-5.37397155531e-2f));                                                \
    p = cnn__v_add(cnn__v_mul(p, a2), cnn__v_set(1.33314422036e-1f));                                                 \
    p = cnn__v_add(cnn__v_mul(p, a2), cnn__v_set(-3.33332819422e-1f));                                                \
    t = cnn__v_select(cnn__v_lt(a, cnn__v_set(0.625f)), cnn__v_add(a, cnn__v_mul(cnn__v_mul(a, a2), p)), big);        \
    return cnn__v_select(cnn__v_unordered(x, x), x, cnn__v_select(cnn__v_lt(x, zero), cnn__v_sub(zero, t), t));       \
}                                                                                                                     \
                                                                                                                      \
/* The activations CNN__VL values at a time. ReLU and leaky ReLU go through the scalar code's                         \
   comparisons: a NaN is not below zero, so it passes through forward; nor above, so backward                         \
   it gets the slope of the negative side, as in the scalar code. Sigmoid and tanh forward use                        \
   the polynomial e^x above (within a few units in the last place of the scalar results, not                          \
   bit for bit); their backward formulas are the scalar code's operations, in its order. */                           \
CNN__VEC static void CNN__WN(activation_forward)(cnn_activation act, float alpha, size_t count, const float *x, float *y) { \
    const cnn__vec zero = cnn__v_set(0.0f), slope = cnn__v_set(alpha);                                                \
    size_t i;                                                                                                         \
    for (i = 0; i < count; i += CNN__VL) {                                                                            \
        const int n = cnn__v_left(i, count);                                                                          \
        const cnn__vec v = cnn__v_load(x + i, n);                                                                     \
        if (act == CNN_ACT_SIGMOID) cnn__v_store(y + i, n, cnn__v_sigmoid(v));                                        \
        else if (act == CNN_ACT_TANH) cnn__v_store(y + i, n, cnn__v_tanh(v));                                         \
        else cnn__v_store(y + i, n, cnn__v_select(cnn__v_lt(v, zero), act == CNN_ACT_RELU ? zero : cnn__v_mul(slope, v), v)); \
    }                                                                                                                 \
}                                                                                                                     \
                                                                                                                      \
CNN__VEC static void CNN__WN(activation_backward)(cnn_activation act, float alpha, size_t count, const float *y,      \
                                             const float *dy, float *dx) {                                            \
    const cnn__vec zero = cnn__v_set(0.0f), one = cnn__v_set(1.0f), slope = cnn__v_set(alpha);                        \
    size_t i;                                                                                                         \
    for (i = 0; i < count; i += CNN__VL) {                                                                            \
        const int n = cnn__v_left(i, count);                                                                          \
        const cnn__vec g = cnn__v_load(dy + i, n), v = cnn__v_load(y + i, n);                                         \
        if (act == CNN_ACT_SIGMOID) cnn__v_store(dx + i, n, cnn__v_mul(cnn__v_mul(g, v), cnn__v_sub(one, v)));        \
        else if (act == CNN_ACT_TANH) cnn__v_store(dx + i, n, cnn__v_mul(g, cnn__v_sub(one, cnn__v_mul(v, v))));      \
        else cnn__v_store(dx + i, n, cnn__v_select(cnn__v_gt(v, zero), g, act == CNN_ACT_RELU ? zero : cnn__v_mul(slope, g))); \
    }                                                                                                                 \
}
CNN__ACTIVATION_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__ACTIVATION_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#endif /* CNN__SIMD */

/* ============================================================================================
   F6. Pooling: the vector twins
   ============================================================================================ */

/* ---------------------------------------------------------------------------------------------
   Pooling with vectors: the 2x2 window at stride 2 without padding (what the networks here
   use; the general case stays scalar). An output row reads two input rows; split into even and
   odd columns, they are the four corners a, b (top) and c, d (bottom) of CNN__VL windows side
   by side, and the scalar rules apply lane by lane, so the results are identical: the same
   maximum, the same argmax on ties, the same NaN. Windows do not overlap, so average-pooling
   backward writes each input gradient once (0 + the share, as the scalar's zero-then-
   accumulate rounds) instead of clearing the map first; the last row and column that floor
   mode drops get zero. Max-pooling backward stays scalar: its clear-and-scatter runs at memory
   speed already (AVX2, 64x32x26x26 maps: 204 us either way; on 11x11 maps the vector version
   was slower, 101 against 61 us).
   --------------------------------------------------------------------------------------------- */
#ifdef CNN__SIMD
static int cnn__pool_2x2_stride_2(const cnn_pool2d_shape *s, int oh, int ow) {
    return s->kh == 2 && s->kw == 2 && s->stride_h == 2 && s->stride_w == 2 && !s->pad_top && !s->pad_bottom &&
           !s->pad_left && !s->pad_right && 2 * oh <= s->h && 2 * ow <= s->w;
}

#define CNN__POOL_KERNELS                                                                                             \
CNN__VEC static void CNN__WN(maxpool2d_forward)(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y, int32_t *argmax) { \
    const int w = s->w;                                                                                               \
    const cnn__veci one = cnn__v_seti(1), zero = cnn__v_seti(0), below = cnn__v_seti(w), pairs = cnn__v_lanes(2);     \
    size_t plane, planes = (size_t)s->n * s->c;                                                                       \
    int i, j;                                                                                                         \
    for (plane = 0; plane < planes; plane++) {                                                                        \
        const float *xp = x + plane * s->h * w;                                                                       \
        for (i = 0; i < oh; i++) {                                                                                    \
            const float *row = xp + (ptrdiff_t)2 * i * w;                                                             \
            float *yr = y + (plane * oh + i) * ow;                                                                    \
            int32_t *ar = argmax ? argmax + (plane * oh + i) * ow : NULL;                                             \
            for (j = 0; j < ow; j += CNN__VL) {                                                                       \
                const int n = CNN__MIN(CNN__VL, ow - j);                                                              \
                const cnn__veci at_a = cnn__v_addi(cnn__v_seti(2 * i * w + 2 * j), pairs);   /* where a is */         \
                cnn__vec a, b, c, d, top, bottom, best;                                                               \
                cnn__vmask ab, cd, down;                                                                              \
                cnn__veci at;                                                                                         \
                cnn__v_load2(row + 2 * j, n, &a, &b);                                                                 \
                cnn__v_load2(row + w + 2 * j, n, &c, &d);                                                             \
                ab = cnn__v_gt(b, a);                                                                                 \
                cd = cnn__v_gt(d, c);                                                                                 \
                top = cnn__v_select(ab, b, a);                                                                        \
                bottom = cnn__v_select(cd, d, c);                                                                     \
                down = cnn__v_gt(bottom, top);                                                                        \
                best = cnn__v_select(down, bottom, top);                                                              \
                at = cnn__v_addi(at_a, cnn__v_selecti(down, cnn__v_addi(below, cnn__v_selecti(cd, one, zero)),        \
                                                       cnn__v_selecti(ab, one, zero)));                               \
                if (cnn__v_any(cnn__v_or(cnn__v_unordered(a, b), cnn__v_unordered(c, d)))) {   /* the first NaN */    \
                    const cnn__vmask na = cnn__v_unordered(a, a), nb = cnn__v_unordered(b, b);                        \
                    const cnn__vmask nc = cnn__v_unordered(c, c), nd = cnn__v_unordered(d, d);                        \
                    best = cnn__v_select(nd, d, best);                                                                \
                    at = cnn__v_selecti(nd, cnn__v_addi(at_a, cnn__v_addi(below, one)), at);                          \
                    best = cnn__v_select(nc, c, best);                                                                \
                    at = cnn__v_selecti(nc, cnn__v_addi(at_a, below), at);                                            \
                    best = cnn__v_select(nb, b, best);                                                                \
                    at = cnn__v_selecti(nb, cnn__v_addi(at_a, one), at);                                              \
                    best = cnn__v_select(na, a, best);                                                                \
                    at = cnn__v_selecti(na, at_a, at);                                                                \
                }                                                                                                     \
                cnn__v_store(yr + j, n, best);                                                                        \
                if (ar) cnn__v_storei(ar + j, n, at);                                                                 \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
                                                                                                                      \
CNN__VEC static void CNN__WN(avgpool2d_forward)(const cnn_pool2d_shape *s, int oh, int ow, const float *x, float *y) { \
    const int w = s->w;                                                                                               \
    const cnn__vec zero = cnn__v_set(0.0f), quarter = cnn__v_set(0.25f);   /* x * 0.25 == x / 4 exactly */            \
    size_t plane, planes = (size_t)s->n * s->c;                                                                       \
    int i, j;                                                                                                         \
    for (plane = 0; plane < planes; plane++) {                                                                        \
        const float *xp = x + plane * s->h * w;                                                                       \
        for (i = 0; i < oh; i++) {                                                                                    \
            const float *row = xp + (ptrdiff_t)2 * i * w;                                                             \
            float *yr = y + (plane * oh + i) * ow;                                                                    \
            for (j = 0; j < ow; j += CNN__VL) {                                                                       \
                const int n = CNN__MIN(CNN__VL, ow - j);                                                              \
                cnn__vec a, b, c, d;                                                                                  \
                cnn__v_load2(row + 2 * j, n, &a, &b);                                                                 \
                cnn__v_load2(row + w + 2 * j, n, &c, &d);                                                             \
                /* summed from zero in the scalar order, so the rounding is the same */                               \
                cnn__v_store(yr + j, n, cnn__v_mul(cnn__v_add(cnn__v_add(cnn__v_add(cnn__v_add(zero, a), b), c), d), quarter)); \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
                                                                                                                      \
CNN__VEC static void CNN__WN(avgpool2d_backward)(const cnn_pool2d_shape *s, int oh, int ow, const float *dy, float *dx) { \
    const int w = s->w;                                                                                               \
    const cnn__vec zero = cnn__v_set(0.0f), quarter = cnn__v_set(0.25f);                                              \
    size_t plane, planes = (size_t)s->n * s->c;                                                                       \
    int i, j, c, done = 0;                                                                                            \
    for (plane = 0; plane < planes; plane++) {                                                                        \
        float *dxp = dx + plane * s->h * w;                                                                           \
        for (i = 0; i < oh; i++) {                                                                                    \
            float *row = dxp + (ptrdiff_t)2 * i * w;                                                                  \
            const float *gr = dy + (plane * oh + i) * ow;                                                             \
            for (j = 0; j < ow; j += CNN__VL) {                                                                       \
                /* the lanes past n hold +0: a last column that floor mode drops is written too */                    \
                const int n = CNN__MIN(CNN__VL, ow - j), m = CNN__MIN(2 * CNN__VL, w - 2 * j);                        \
                const cnn__vec share = cnn__v_add(zero, cnn__v_mul(cnn__v_load(gr + j, n), quarter));                 \
                cnn__v_store2(row + 2 * j, m, share, share);                                                          \
                cnn__v_store2(row + w + 2 * j, m, share, share);                                                      \
                done = 2 * j + m;                                                                                     \
            }                                                                                                         \
            for (c = done; c < w; c++) row[c] = row[w + c] = 0.0f;                                                    \
        }                                                                                                             \
        memset(dxp + (ptrdiff_t)2 * oh * w, 0, (size_t)(s->h - 2 * oh) * w * sizeof(float));                          \
    }                                                                                                                 \
}
CNN__POOL_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__POOL_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#endif /* CNN__SIMD */

/* ============================================================================================
   F7. Dense: on the micro-kernel
   ============================================================================================ */

#ifdef CNN__SIMD
/* Dense on the same micro-kernel: all three products are matrix products, C = A * B, with
   B packed 16 columns at a time: strip[r * 16 + t] = src[r * cols + col0 + t] for t < ncols,
   0 past ncols (src is rows x cols, row-major). */
static void cnn__pack_columns(const float *src, int cols, int rows, int col0, int ncols, float *strip) {
    int r, t;
    for (r = 0; r < rows; r++) {
        const float *row = src + (size_t)r * cols + col0;
        float *dst = strip + (size_t)r * 16;
        if (ncols == 16) {      /* a constant-size copy: compilers emit vector moves, not 16 scalar ones */
            memcpy(dst, row, 16 * sizeof(float));
        } else {
            for (t = 0; t < ncols; t++) dst[t] = row[t];
            for (; t < 16; t++) dst[t] = 0.0f;
        }
        /* The next strip's piece of this row, fetched while this strip is multiplied: each row
           is a stream of its own, more of them than the hardware prefetcher follows. */
        if (col0 + 16 < cols) __builtin_prefetch(row + 16, 0, 2);
    }
}

/* The dense products take 32 columns of B at a time (two packed strips, one after the other,
   for cnn__simd_gemm_wide) and half as many steps per chunk, so the strips still take 16 KB. */
#define CNN__DENSE_QC (CNN__QC / 2)

/* Columns col0 .. col0 + ncols - 1 (ncols <= 32) of src as two strips, the second (columns
   16 .. 31, when there are any) 16 * rows floats after the first. */
static void cnn__pack_column_pair(const float *src, int cols, int rows, int col0, int ncols, float *strip) {
    cnn__pack_columns(src, cols, rows, col0, CNN__MIN(16, ncols), strip);
    if (ncols > 16) cnn__pack_columns(src, cols, rows, col0 + 16, ncols - 16, strip + (size_t)16 * rows);
}

/* Y (n x out) = X (n x in) * W^T + b */
static void cnn__dense_forward_simd(int n, int in, int out, const float *x, const float *w, const float *b, float *y) {
    float strip[CNN__DENSE_QC * 32] CNN__ALIGN32;
    int o0, i0, r;
    for (r = 0; r < n; r++) {
        if (b) memcpy(y + (size_t)r * out, b, (size_t)out * sizeof(float));
        else memset(y + (size_t)r * out, 0, (size_t)out * sizeof(float));
    }
    /* Chunks of the inner dimension outermost: a chunk of X (n x CNN__DENSE_QC) then stays in
       the L2 cache while every strip of W passes over it, where the other order would read
       the whole of X from memory again for every 32 outputs. */
    for (i0 = 0; i0 < in; i0 += CNN__DENSE_QC) {
        const int ni = CNN__MIN(CNN__DENSE_QC, in - i0);
        for (o0 = 0; o0 < out; o0 += 32) {
            const int no = CNN__MIN(32, out - o0);
            /* 16 rows of W, transposed, and the next 16 after them */
            cnn__pack_transposed(w + (size_t)o0 * in + i0, in, CNN__MIN(16, no), ni, strip, NULL);
            if (no > 16) cnn__pack_transposed(w + (size_t)(o0 + 16) * in + i0, in, no - 16, ni, strip + (size_t)16 * ni, NULL);
            cnn__simd_gemm_wide(n, ni, x + i0, in, 1, NULL, NULL, strip, NULL, (ptrdiff_t)16 * ni, y + o0, out, no, 1, NULL);
        }
    }
}

/* dX (n x in) = dY (n x out) * W (out x in) */
static void cnn__dense_backward_data_simd(int n, int in, int out, const float *dy, const float *w, float *dx) {
    float strip[CNN__DENSE_QC * 32] CNN__ALIGN32;
    int i0, o0;
    for (i0 = 0; i0 < in; i0 += 32) {
        const int ni = CNN__MIN(32, in - i0);
        for (o0 = 0; o0 < out; o0 += CNN__DENSE_QC) {
            const int no = CNN__MIN(CNN__DENSE_QC, out - o0);
            cnn__pack_column_pair(w + (size_t)o0 * in, in, no, i0, ni, strip);
            cnn__simd_gemm_wide(n, no, dy + o0, out, 1, NULL, NULL, strip, NULL, (ptrdiff_t)16 * no, dx + i0, in, ni, o0 > 0, NULL);
        }
    }
}

/* dW (out x in) = dY^T (out x n) * X (n x in); db = column sums of dY */
static void cnn__dense_backward_weights_simd(int n, int in, int out, const float *x, const float *dy, float *dw, float *db) {
    float strip[CNN__DENSE_QC * 32] CNN__ALIGN32;
    int i0, n0, o, r;
    for (i0 = 0; i0 < in; i0 += 32) {
        const int ni = CNN__MIN(32, in - i0);
        for (n0 = 0; n0 < n; n0 += CNN__DENSE_QC) {
            const int nn = CNN__MIN(CNN__DENSE_QC, n - n0);
            cnn__pack_column_pair(x + (size_t)n0 * in, in, nn, i0, ni, strip);
            /* A = dY^T: row o is column o of dY, so rows are 1 apart and steps are 'out' apart */
            cnn__simd_gemm_wide(out, nn, dy + (size_t)n0 * out, 1, out, NULL, NULL, strip, NULL, (ptrdiff_t)16 * nn, dw + i0, in, ni,
                                n0 > 0, NULL);
        }
    }
    if (db) {
        for (o = 0; o < out; o++) db[o] = 0.0f;
        for (r = 0; r < n; r++)
            for (o = 0; o < out; o++) db[o] += dy[(size_t)r * out + o];
    }
}
#endif /* CNN__SIMD */

/* ============================================================================================
   F9. The network: the vector twin of the weights' fingerprint
   ============================================================================================ */

#ifdef CNN__SIMD
/* cnn__stamp_lanes_scalar over the whole groups of 32 floats of count, the 32 lanes as
   32 / CNN__VL vectors (lane j of vector q is lane q CNN__VL + j); returns the floats it took.
   Written once, at the default width: it runs as fast as the weights load, so the AVX-512 path
   takes the AVX2 one. */
CNN__VEC static size_t cnn__stamp_lanes_simd(uint32_t h[32], const float *w, size_t count) {
    enum { vectors = 32 / CNN__VL };
    /* the multiplier's bits as an int32 (0x9E3779B1 - 2^32), without an out-of-range cast */
    const cnn__veci mul = cnn__v_seti((int32_t)(CNN__STAMP_MUL - 0x80000000u) - INT32_MAX - 1);
    int32_t *lanes = (int32_t *)h;
    cnn__veci v[vectors];
    size_t i;
    int q;
    _Pragma("GCC unroll 8") for (q = 0; q < vectors; q++) v[q] = cnn__v_loadi(lanes + q * CNN__VL);
    for (i = 0; i + 32 <= count; i += 32)
        _Pragma("GCC unroll 8") for (q = 0; q < vectors; q++) {
            const cnn__veci x = cnn__v_mullo(cnn__v_xori(v[q], cnn__v_loadbits(w + i + q * CNN__VL)), mul);
            v[q] = cnn__v_xori(x, cnn__v_shr16(x));
        }
    _Pragma("GCC unroll 8") for (q = 0; q < vectors; q++) cnn__v_storei(lanes + q * CNN__VL, CNN__VL, v[q]);
    return i;
}
#endif /* CNN__SIMD */

/* ============================================================================================
   F10. Training: the vector SGD and Adam updates
   ============================================================================================ */

#ifdef CNN__SIMD
/* The same three updates, CNN__VL parameters at a time, with the scalar code's operations in
   its order (no fused multiply-add), so the weights come out the same. */
#define CNN__SGD_KERNELS                                                                                              \
CNN__VEC static void CNN__WN(sgd_update)(float *w, const float *dw, float *v, size_t count, const cnn_sgd_opts *o, float decay) { \
    const cnn__vec lr = cnn__v_set(o->learning_rate), mu = cnn__v_set(o->momentum), wd = cnn__v_set(decay);           \
    size_t i;                                                                                                         \
    for (i = 0; i < count; i += CNN__VL) {                                                                            \
        const int n = cnn__v_left(i, count);                                                                          \
        const cnn__vec wi = cnn__v_load(w + i, n), gi = cnn__v_load(dw + i, n);                                       \
        cnn__vec vi, g;                                                                                               \
        if (o->momentum == 0.0f) {                                                                                    \
            cnn__v_store(w + i, n, cnn__v_sub(wi, cnn__v_mul(lr, cnn__v_add(gi, cnn__v_mul(wd, wi)))));               \
        } else if (o->nesterov) {                                                                                     \
            g = cnn__v_add(gi, cnn__v_mul(wd, wi));                                                                   \
            vi = cnn__v_add(cnn__v_mul(mu, cnn__v_load(v + i, n)), g);                                                \
            cnn__v_store(v + i, n, vi);                                                                               \
            cnn__v_store(w + i, n, cnn__v_sub(wi, cnn__v_mul(lr, cnn__v_add(g, cnn__v_mul(mu, vi)))));                \
        } else {                                                                                                      \
            vi = cnn__v_add(cnn__v_add(cnn__v_mul(mu, cnn__v_load(v + i, n)), gi), cnn__v_mul(wd, wi));               \
            cnn__v_store(v + i, n, vi);                                                                               \
            cnn__v_store(w + i, n, cnn__v_sub(wi, cnn__v_mul(lr, vi)));                                               \
        }                                                                                                             \
    }                                                                                                                 \
}
CNN__SGD_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__SGD_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#endif /* CNN__SIMD */

#ifdef CNN__SIMD
/* Whether any update of count parameters would be NaN or infinite, CNN__VL at a time as
   cnn__sgd_update_simd computes them: x - x is 0 for a finite x and NaN otherwise, and a NaN
   stays in a sum. (Parameter by parameter, the check cost ten times the update.) */
CNN__VEC static int cnn__sgd_any_nonfinite_simd(const float *w, const float *dw, const float *v, size_t count,
                                               const cnn_sgd_opts *o, float decay) {
    const cnn__vec lr = cnn__v_set(o->learning_rate), mu = cnn__v_set(o->momentum), wd = cnn__v_set(decay);
    cnn__vec sum = cnn__v_set(0.0f);
    size_t i;
    for (i = 0; i < count; i += CNN__VL) {
        const int n = cnn__v_left(i, count);
        const cnn__vec wi = cnn__v_load(w + i, n), gi = cnn__v_load(dw + i, n);
        cnn__vec vi, wn;
        if (o->momentum == 0.0f) {
            vi = cnn__v_add(gi, cnn__v_mul(wd, wi));
            wn = cnn__v_sub(wi, cnn__v_mul(lr, vi));
        } else if (o->nesterov) {
            const cnn__vec g = cnn__v_add(gi, cnn__v_mul(wd, wi));
            vi = cnn__v_add(cnn__v_mul(mu, cnn__v_load(v + i, n)), g);
            wn = cnn__v_sub(wi, cnn__v_mul(lr, cnn__v_add(g, cnn__v_mul(mu, vi))));
        } else {
            vi = cnn__v_add(cnn__v_add(cnn__v_mul(mu, cnn__v_load(v + i, n)), gi), cnn__v_mul(wd, wi));
            wn = cnn__v_sub(wi, cnn__v_mul(lr, vi));
        }
        sum = cnn__v_add(sum, cnn__v_add(cnn__v_sub(wn, wn), cnn__v_sub(vi, vi)));
    }
    return cnn__v_any(cnn__v_unordered(sum, sum));
}
#endif /* CNN__SIMD */

#ifdef CNN__SIMD
/* Adam's update and its check, with the scalar reference's operations in its order: division
   and square root are correctly rounded in every ISA, as in C, so the weights and moments
   come out the same as the scalar path's. */
#define CNN__ADAM_KERNELS                                                                                             \
CNN__VEC static void CNN__WN(adam_update)(float *w, const float *dw, float *m, float *v, size_t count, const cnn__adam *a, \
                                          float decay, float shrink) {                                               \
    const cnn__vec b1 = cnn__v_set(a->b1), c1 = cnn__v_set(a->one_b1), b2 = cnn__v_set(a->b2), c2 = cnn__v_set(a->one_b2); \
    const cnn__vec step = cnn__v_set(a->step), root2 = cnn__v_set(a->root2), eps = cnn__v_set(a->eps);               \
    const cnn__vec wd = cnn__v_set(decay), keep = cnn__v_set(shrink);                                                 \
    size_t i;                                                                                                         \
    for (i = 0; i < count; i += CNN__VL) {                                                                            \
        const int n = cnn__v_left(i, count);                                                                          \
        const cnn__vec wi = cnn__v_mul(cnn__v_load(w + i, n), keep);                                                  \
        const cnn__vec g = cnn__v_add(cnn__v_load(dw + i, n), cnn__v_mul(wd, wi));                                    \
        const cnn__vec mi = cnn__v_add(cnn__v_mul(b1, cnn__v_load(m + i, n)), cnn__v_mul(c1, g));                     \
        const cnn__vec vi = cnn__v_add(cnn__v_mul(b2, cnn__v_load(v + i, n)), cnn__v_mul(cnn__v_mul(c2, g), g));      \
        const cnn__vec den = cnn__v_add(cnn__v_div(cnn__v_sqrt(vi), root2), eps);                                     \
        cnn__v_store(m + i, n, mi);                                                                                   \
        cnn__v_store(v + i, n, vi);                                                                                   \
        cnn__v_store(w + i, n, cnn__v_sub(wi, cnn__v_mul(step, cnn__v_div(mi, den))));                                \
    }                                                                                                                 \
}                                                                                                                     \
/* x - x is 0 for a finite x and NaN otherwise, and a NaN stays in a sum. */                                          \
CNN__VEC static int CNN__WN(adam_any_nonfinite)(const float *w, const float *dw, const float *m, const float *v,       \
                                                size_t count, const cnn__adam *a, float decay, float shrink) {       \
    const cnn__vec b1 = cnn__v_set(a->b1), c1 = cnn__v_set(a->one_b1), b2 = cnn__v_set(a->b2), c2 = cnn__v_set(a->one_b2); \
    const cnn__vec step = cnn__v_set(a->step), root2 = cnn__v_set(a->root2), eps = cnn__v_set(a->eps);               \
    const cnn__vec wd = cnn__v_set(decay), keep = cnn__v_set(shrink);                                                 \
    cnn__vec sum = cnn__v_set(0.0f);                                                                                  \
    size_t i;                                                                                                         \
    for (i = 0; i < count; i += CNN__VL) {                                                                            \
        const int n = cnn__v_left(i, count);                                                                          \
        const cnn__vec wi = cnn__v_mul(cnn__v_load(w + i, n), keep);                                                  \
        const cnn__vec g = cnn__v_add(cnn__v_load(dw + i, n), cnn__v_mul(wd, wi));                                    \
        const cnn__vec mi = cnn__v_add(cnn__v_mul(b1, cnn__v_load(m + i, n)), cnn__v_mul(c1, g));                     \
        const cnn__vec vi = cnn__v_add(cnn__v_mul(b2, cnn__v_load(v + i, n)), cnn__v_mul(cnn__v_mul(c2, g), g));      \
        const cnn__vec den = cnn__v_add(cnn__v_div(cnn__v_sqrt(vi), root2), eps);                                     \
        const cnn__vec wn = cnn__v_sub(wi, cnn__v_mul(step, cnn__v_div(mi, den)));                                    \
        sum = cnn__v_add(sum, cnn__v_add(cnn__v_sub(wn, wn), cnn__v_add(cnn__v_sub(mi, mi), cnn__v_sub(vi, vi))));    \
    }                                                                                                                 \
    return cnn__v_any(cnn__v_unordered(sum, sum));                                                                    \
}
CNN__ADAM_KERNELS
#ifdef CNN__X86_AVX512
#undef CNN__W
#define CNN__W cnn__avx512_
CNN__ADAM_KERNELS
#undef CNN__W
#define CNN__W cnn__avx2_
#endif
#endif /* CNN__SIMD */

#ifdef __cplusplus
}
#endif
#endif /* CNN_IMPLEMENTATION_INCLUDED */
#endif /* CNN_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the cnn.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication for the benefit of the public at large and to
the detriment of our heirs and successors. We intend this dedication to be an
overt act of relinquishment in perpetuity of all present and future rights to
this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
