# Sourced by tests/run.sh, valgrind.sh, coverage.sh, fuzz.sh and tsan.sh: the libraries and flags a
# test needs beyond libm: zlib for the examples' IDX reader (examples/idx.h), stb's include
# directory for their image code (as tests/run.sh does).
extra_of() {
    local f=""
    grep -q 'examples/idx\.h\|include "idx\.h"' "$1" && f="-lz"
    grep -q 'stb_image\|image_io\.h\|digit_image\.h' "$1" && f="$f $(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)"
    echo "$f"
}

# The kernel paths an instrumented build (sanitizers, ThreadSanitizer, libFuzzer) leaves out:
# -DCNN_NO_AVX512 where this CPU has no AVX-512F (Linux reads it from /proc/cpuinfo), since
# that code never runs there. Instrumented, the AVX-512 kernels are most of the compiler's
# work: cnn.h's implementation took 35 s under gcc's ASan+UBSan with them and 16 s without,
# and 225 s against 77 s as the fuzz build (clang). The normal builds and the header checks
# still compile them, warnings as errors; on a CPU with AVX-512 everything is instrumented.
unrun_isa_flags() {
    case $(uname -m 2>/dev/null) in
        x86_64|amd64) ;;
        *) return 0 ;;
    esac
    if [ -r /proc/cpuinfo ] && ! grep -qw avx512f /proc/cpuinfo; then echo "-DCNN_NO_AVX512"; fi
}
