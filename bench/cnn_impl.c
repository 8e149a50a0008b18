/* cnn_impl.c - cnn.h's implementation, compiled once for the benchmarks. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
