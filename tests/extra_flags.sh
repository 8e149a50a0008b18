# Sourced by tests/valgrind.sh, tests/coverage.sh and tests/fuzz.sh: the libraries and flags a
# test needs beyond libm: zlib for the examples' IDX reader (examples/idx.h), stb's include
# directory for their image code (as tests/run.sh does).
extra_of() {
    local f=""
    grep -q 'examples/idx\.h\|include "idx\.h"' "$1" && f="-lz"
    grep -q 'stb_image\|image_io\.h\|digit_image\.h' "$1" && f="$f $(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)"
    echo "$f"
}
