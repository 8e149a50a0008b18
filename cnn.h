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
       dependency than the C standard library. The file reads top to bottom like a lecture:
         1. configuration and types       7. dense (fully connected) layers
         2. the arena allocator           8. loss functions
         3. tensors and shapes            9. the network
         4. convolution                  10. training (SGD, fit)
         5. activations and dropout      11. save and load
         6. pooling
       Every operation is a plain function over raw float pointers (usable alone, for tests and
       benchmarks), its forward pass next to its backward pass.

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
       cnn_net_build(), forward, backward and an SGD step allocate nothing.

   CONFIGURATION (define before including the implementation)
       CNN_STATIC            make every function static (private to the including file)
       CNN_MALLOC(sz,ctx)    \  allocator hooks, define both or neither; ctx is the pointer
       CNN_FREE(p,ctx)       /  given in cnn_build_opts.alloc_ctx (NULL elsewhere)
       CNN_ASSERT(x)         internal invariant checks (default: assert from <assert.h>)
       CNN_NO_STDIO          no <stdio.h>: drops save/load to files and printing
       CNN_NO_SIMD           reserved: forces the portable scalar kernels
       CNN_MAX_LAYERS        layers per network (default 32)

   THREADS
       A cnn_net is used by one thread at a time. Different networks may be used from different
       threads. cnn_last_error() is per thread where the compiler supports thread-local storage.
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

typedef enum cnn_status {
    CNN_OK = 0,
    CNN_ERR_INVALID_ARGUMENT,   /* NULL pointer, zero or negative size, bad option value      */
    CNN_ERR_SHAPE,              /* shapes that do not fit together (kernel larger than input) */
    CNN_ERR_OVERFLOW,           /* sizes whose products do not fit in memory sizes             */
    CNN_ERR_OUT_OF_MEMORY,      /* the arena (or the allocator) has not enough bytes           */
    CNN_ERR_STATE,              /* call out of order: backward before forward, net not built  */
    CNN_ERR_NUMERIC,            /* a NaN or infinite loss                                      */
    CNN_ERR_IO,                 /* the file could not be opened, read, written or renamed      */
    CNN_ERR_FILE_MAGIC,         /* not a cnn.h model file                                      */
    CNN_ERR_FILE_VERSION,       /* a model file of a version this code does not know           */
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

/* Activation functions. Zero means none (identity). */
typedef enum cnn_activation {
    CNN_ACT_NONE = 0,
    CNN_RELU,          /* max(0, x)                                   */
    CNN_LEAKY_RELU,    /* x > 0 ? x : alpha * x   (alpha default 0.01) */
    CNN_SIGMOID,       /* 1 / (1 + e^-x)                              */
    CNN_TANH,          /* tanh(x)                                     */
    CNN_ACTIVATION_COUNT
} cnn_activation;

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
    unsigned char *base;    /* NULL in a measuring arena: it only counts bytes          */
    size_t size;            /* bytes available                                           */
    size_t used;            /* bytes handed out (including alignment padding)           */
    size_t high_water;      /* the largest 'used' ever reached                           */
    int owns_memory;        /* base came from CNN_MALLOC and is freed by cnn_arena_free */
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
   4. Convolution (direct)
   ============================================================================================ */

/* The shape of one 2-D convolution. Every field must be set (strides and dilations >= 1):
   this is a kernel description, not an options struct.
     x: n * c * h * w        w: k * c * kh * kw      b: k (or NULL: no bias)
     y: n * k * out_h * out_w                        */
typedef struct cnn_conv2d_shape {
    int n, c, h, w;                 /* input batch, channels, rows, columns */
    int k, kh, kw;                  /* filters, kernel rows, kernel columns */
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} cnn_conv2d_shape;

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
    CNN_LAYER_GLOBAL_AVG_POOL,
    CNN_LAYER_DENSE,
    CNN_LAYER_ACTIVATION,
    CNN_LAYER_DROPOUT,
    CNN_LAYER_FLATTEN
} cnn_layer_kind;

typedef enum cnn_pool_kind { CNN_POOL_MAX = 0, CNN_POOL_AVG } cnn_pool_kind;
typedef enum cnn_loss { CNN_LOSS_SOFTMAX_CROSS_ENTROPY = 0, CNN_LOSS_MSE } cnn_loss;
typedef enum cnn_init { CNN_INIT_GLOROT_UNIFORM = 0, CNN_INIT_HE_NORMAL } cnn_init;

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
    float alpha;                  /* leaky-ReLU slope, default 0.01                        */
} cnn_conv_opts;

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

typedef struct cnn_dense_opts {
    int units;                    /* outputs (required)                                    */
    int no_bias;
    cnn_activation activation;
    float alpha;
} cnn_dense_opts;

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
    size_t weight_count, bias_count;
    /* Filled in by cnn_net_build: */
    float *w, *b;                     /* parameters                                        */
    float *dw, *db;                   /* their gradients (training builds)                 */
    float *out;                       /* max_batch * out_size activations                  */
    float *mask;                      /* dropout factors                                   */
    int32_t *argmax;                  /* max-pool positions                                */
} cnn_layer;

/* A network. Its fields are readable; change it only through the functions. It may live in
   static memory: nothing in it points to the heap unless the library allocated the arena. */
typedef struct cnn_net {
    int in_c, in_h, in_w;
    cnn_loss loss;
    int layer_count;
    cnn_layer layers[CNN_MAX_LAYERS];
    int invalid;                  /* a layer failed to add: building is refused              */
    /* Filled in by cnn_net_build: */
    int built, training, max_batch;
    cnn_arena arena;
    float *params, *grads, *velocity, *best_params;  /* contiguous: params[param_floats]    */
    size_t param_floats;          /* including the 64-byte alignment padding of each tensor */
    float *input;                 /* max_batch input images (fit gathers batches here)       */
    int32_t *labels;              /* max_batch labels                                        */
    float *grad_a, *grad_b;       /* ping-pong buffers for the backward pass                 */
    const float *x;               /* input of the last forward                               */
    int batch;                    /* its batch size (0: no forward yet)                      */
    int forward_training;
    cnn_rng rng;                  /* dropout masks and fit shuffling                         */
    uint32_t step;                /* SGD steps taken                                         */
} cnn_net;

/* Starts an empty network for input images of opts->channels x height x width. */
CNNDEF cnn_status cnn_net_init(cnn_net *net, const cnn_net_opts *opts);
/* Add layers. Each infers its output shape and checks it; on failure the network is marked
   invalid and cnn_net_build refuses it. Dense after a 3-D shape flattens it implicitly
   (C, H, W order), as cnn_add_flatten does. */
CNNDEF cnn_status cnn_add_conv(cnn_net *net, const cnn_conv_opts *opts);
CNNDEF cnn_status cnn_add_pool(cnn_net *net, const cnn_pool_opts *opts);
CNNDEF cnn_status cnn_add_global_avg_pool(cnn_net *net);
CNNDEF cnn_status cnn_add_dense(cnn_net *net, const cnn_dense_opts *opts);
CNNDEF cnn_status cnn_add_activation(cnn_net *net, cnn_activation act, float alpha);
CNNDEF cnn_status cnn_add_dropout(cnn_net *net, float rate);
CNNDEF cnn_status cnn_add_flatten(cnn_net *net);

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
    uint64_t seed;                /* initialisation, dropout and shuffling                   */
} cnn_build_opts;

/* Bytes of arena cnn_net_build needs for these options (0 and an error if it cannot). */
CNNDEF size_t     cnn_net_required_bytes(const cnn_net *net, const cnn_build_opts *opts);
/* Carves every tensor out of one arena and initialises the weights (biases zero). */
CNNDEF cnn_status cnn_net_build(cnn_net *net, const cnn_build_opts *opts);
/* Releases the arena if the library allocated it. The description stays; build again. */
CNNDEF void       cnn_net_free(cnn_net *net);
/* Re-draws the weights (zeroes biases, gradients and momentum). */
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
/* Backward pass for the last forward: the loss against 'labels' (class indices, n of them;
   with CNN_LOSS_MSE the targets are their one-hot vectors), and every parameter gradient.
   loss may be NULL. */
CNNDEF cnn_status   cnn_backward(cnn_net *net, const int32_t *labels, float *loss);
/* Backward from a gradient of the output you computed yourself (n * output size). */
CNNDEF cnn_status   cnn_backward_from(cnn_net *net, const float *doutput);

/* ============================================================================================
   10. Training
   ============================================================================================ */

typedef enum cnn_schedule {
    CNN_SCHEDULE_CONSTANT = 0,
    CNN_SCHEDULE_STEP,            /* lr * gamma^(epoch / step_epochs)                        */
    CNN_SCHEDULE_COSINE           /* lr * (1 + cos(pi * epoch / epochs)) / 2                 */
} cnn_schedule;

typedef struct cnn_sgd_opts {
    float learning_rate;          /* default 0.01                                            */
    float momentum;               /* 0: plain SGD                                            */
    int nesterov;                 /* Nesterov momentum                                       */
    float weight_decay;           /* L2 on weights (not biases), added to the gradient       */
} cnn_sgd_opts;

/* One SGD update from the current gradients (PyTorch's formulation):
     g = dw + weight_decay * w;  v = momentum * v + g;
     w -= lr * v                 (classic)   or   w -= lr * (g + momentum * v)   (Nesterov) */
CNNDEF cnn_status cnn_sgd_step(cnn_net *net, const cnn_sgd_opts *opts);
/* forward (training) + backward + SGD step on one batch. loss may be NULL. */
CNNDEF cnn_status cnn_train_batch(cnn_net *net, const float *x, const int32_t *labels, int n,
                                  const cnn_sgd_opts *opts, float *loss);

/* An in-memory dataset: count images of the network's input shape, with class labels. */
typedef struct cnn_dataset {
    const float *images;          /* count * C * H * W */
    const int32_t *labels;        /* count             */
    int count;
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
    float loss, accuracy;         /* running means over this epoch's training batches        */
    float val_loss, val_accuracy; /* at epoch end, when there is a validation set (else -1)  */
    float learning_rate;
    double seconds;               /* since the epoch started                                 */
    double images_per_second;
    int improved;                 /* epoch end: the validation loss is the best so far       */
} cnn_progress;

/* Called after every batch and at every epoch end. Return nonzero to stop training. */
typedef int (*cnn_progress_fn)(const cnn_progress *progress, void *user);

typedef struct cnn_fit_opts {
    int epochs;                   /* default 10                                              */
    int batch_size;               /* default and at most the network's max_batch             */
    cnn_sgd_opts sgd;
    cnn_schedule schedule;
    float gamma;                  /* step schedule factor, default 0.1                       */
    int step_epochs;              /* step schedule period, default 10                        */
    float validation_fraction;    /* held out from the training set (ignored if validation) */
    const cnn_dataset *validation;
    int patience;                 /* early stopping after this many epochs without a better
                                     validation loss; restores the best weights. 0: off      */
    uint64_t seed;                /* shuffling                                               */
    int quiet;                    /* no progress bar                                         */
    cnn_progress_fn progress;     /* replaces the progress bar                               */
    void *user;
} cnn_fit_opts;

typedef struct cnn_fit_result {
    int epochs_run;
    int best_epoch;               /* epoch of the best validation loss (0: no validation)   */
    float loss, accuracy;         /* last epoch's training figures                           */
    float val_loss, val_accuracy; /* of the weights kept (the best with early stopping)      */
    int stopped_early;
} cnn_fit_result;

/* Trains with mini-batch SGD. The training data is shuffled every epoch (seeded); the
   validation fraction is taken from a seeded permutation once. Allocates one index array
   (CNN_MALLOC) at its start; the steps allocate nothing. result may be NULL. */
CNNDEF cnn_status cnn_fit(cnn_net *net, const cnn_dataset *train, const cnn_fit_opts *opts,
                          cnn_fit_result *result);
/* The learning rate a schedule gives at an epoch (from 0). */
CNNDEF float cnn_schedule_lr(const cnn_fit_opts *opts, int epoch);

/* ============================================================================================
   11. Save and load (see docs/design.md for the file format)
   ============================================================================================ */

#define CNN_FILE_VERSION 1

#ifndef CNN_NO_STDIO
/* Writes path.tmp, then renames it over path: a failed save leaves the old file. */
CNNDEF cnn_status cnn_save(const cnn_net *net, const char *path);
/* Reads a model: describes 'net' from the file's architecture, builds it with 'build'
   (NULL: defaults) and fills the weights. Everything is validated before net is touched. */
CNNDEF cnn_status cnn_load(cnn_net *net, const char *path, const cnn_build_opts *build);
/* Fills the weights of a built net from a file whose architecture must match. */
CNNDEF cnn_status cnn_load_weights(cnn_net *net, const char *path);
#endif

#ifdef __cplusplus
}
#endif
#endif /* CNN_H */
