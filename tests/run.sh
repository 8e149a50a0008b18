#!/usr/bin/env bash
# Runs the whole test suite: every tests/test_*.c built normally (warnings are errors) and
# under AddressSanitizer + UndefinedBehaviorSanitizer, plus checks that cnn.h compiles cleanly
# as C99 and C++ with every compiler present. The last line is the total: "N passed, N failed";
# the line above it splits it into cnn.h's own tests and those of the examples' code
# (tests/test_*.c that do not include cnn.h, and the example programs' builds).
set -u
cd "$(dirname "$0")/.."

CC=${CC:-cc}
CXX=${CXX:-c++}
BUILD=build/tests
WARN="-Wall -Wextra -Wpedantic -Werror"
mkdir -p "$BUILD"
passed=0
failed=0
skipped=0
failures=()
group=library                   # what the next results count towards: library or examples
examples_passed=0
examples_failed=0

# Adds p passes and f failures to the totals and to the examples' share when they are theirs.
count() {
    passed=$((passed + $1)); failed=$((failed + $2))
    if [ "$group" = examples ]; then examples_passed=$((examples_passed + $1)); examples_failed=$((examples_failed + $2)); fi
}

# The group of a test source: the suites of the examples' code do not include cnn.h.
group_of() { if grep -q 'include "\.\./cnn\.h"' "$1"; then echo library; else echo examples; fi; }

# Adds a suite's "N passed, N failed" line to the totals; a suite that crashes or prints no
# summary counts as one failure.
run_suite() {
    local label=$1; shift
    local out rc
    echo "== $label"
    out=$("$@" 2>&1); rc=$?
    tally_suite "$label" "$rc" "$out"
}
# tally_suite LABEL RC OUTPUT: what run_suite does with a suite's exit code and output.
tally_suite() {
    local label=$1 rc=$2 out=$3 line p f
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
        count "$p" "$f"
        skipped=$((skipped + $(printf '%s\n' "$out" | grep -c '^SKIPPED ')))
        [ "$f" -gt 0 ] && failures+=("$label")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then count 0 1; failures+=("$label (exit $rc)"); fi
    else
        count 0 1; failures+=("$label (no summary, exit $rc)")
    fi
}

# One check that must succeed (a compile, say): one pass or one failure.
check() {
    local label=$1; shift
    local out
    if out=$("$@" 2>&1); then
        count 1 0; echo "ok   $label"
    else
        count 0 1; failures+=("$label"); echo "FAIL $label"; printf '%s\n' "$out" | head -n 20
    fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---- builds and suites in the background --------------------------------------------------
# Compiling cnn.h is most of the run (10-30 s of compiler for a suite that runs in a second or
# two), so every build of the run, and the suite runs that follow them, are started up front by
# one background process, $JOBS at a time (CNN_TEST_JOBS, default: the number of cores); each
# job's output goes to $LOGS/<key>.log and its exit code to <key>.rc. The main process then
# reports them in the order of a serial run (built, ran) and gets the same totals.
JOBS=${CNN_TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
LOGS=$BUILD/logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
builder_pid=
queued=()
pending=()
# queue KEY COMMAND...: one build for start_builds (the command is kept as a quoted string).
# The suite runs queued before it go after it: by the time one of them starts, its own build,
# queued earlier, has most likely finished, and the run does not hold a job slot waiting.
queue() {
    local key=$1; shift
    queued+=("$key $(printf '%q ' "$@")")
    [ ${#pending[@]} -gt 0 ] && queued+=("${pending[@]}")
    pending=()
}
# queue_suite KEY BUILD COMMAND...: a suite run, once the build BUILD has succeeded. The runs of
# one suite (native, scalar path, sanitizers, AArch64, Windows) take turns: they write the
# same files under build/tests/.
queue_suite() {
    local key=$1 build=$2; shift 2
    pending+=("$key $(printf '%q ' suite_job "$build" "${build%%.*}" "$@")")
}
# await KEY: inside a job, waits for the job KEY queued before it; 0 if it succeeded.
await() {
    while [ ! -e "$LOGS/$1.rc" ]; do sleep 0.2; done
    [ "$(cat "$LOGS/$1.rc")" = 0 ]
}
suite_job() {
    local build=$1 lock=$2; shift 2
    await "$build" || { echo "not built: $build"; return 1; }
    flock "$LOGS/$lock.lock" "$@"
}
# ready ENTRY: 0 if the job can start without waiting: the build a suite run needs (or the
# implementation a linked suite needs) has finished, and no run of the same suite is under way.
ready() {
    local _key cmd arg lock other
    read -r _key cmd arg lock _ <<< "$1"
    case $cmd in
        suite_job)
            [ -e "$LOGS/$arg.rc" ] || return 1
            for other in "${running_locks[@]}"; do
                [ "${other#* }" = "$lock" ] && [ ! -e "$LOGS/${other%% *}.rc" ] && return 1
            done ;;
        linked) [ -e "$LOGS/$arg.rc" ] || return 1 ;;
    esac
    return 0
}
# Starts the queued jobs, $JOBS at a time, each as soon as it is ready (in queue order among
# those): a job that waited in its slot for a build (await) kept a core idle, 290 s of the
# pool's 1,630 when they started in queue order regardless.
start_builds() {
    [ ${#pending[@]} -gt 0 ] && queued+=("${pending[@]}")
    pending=()
    (
        todo=("${queued[@]}")
        running_locks=()
        while [ ${#todo[@]} -gt 0 ]; do
            while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
            pick=
            for i in "${!todo[@]}"; do
                if ready "${todo[$i]}"; then pick=$i; break; fi
            done
            if [ -z "$pick" ]; then
                # nothing ready: wait for a running job, or start the first (it waits itself)
                if [ "$(jobs -rp | wc -l)" -gt 0 ]; then wait -n; continue; fi
                for i in "${!todo[@]}"; do pick=$i; break; done
            fi
            entry=${todo[$pick]}
            unset "todo[$pick]"
            key=${entry%% *}
            read -r _ cmd _ lock _ <<< "$entry"
            [ "$cmd" = suite_job ] && running_locks+=("$key $lock")
            ( date +%s > "$LOGS/$key.start"; eval "${entry#* }" > "$LOGS/$key.log" 2>&1; echo $? > "$LOGS/$key.rc.part"; mv "$LOGS/$key.rc.part" "$LOGS/$key.rc" ) &
        done
        wait
    ) &
    builder_pid=$!
}
# Most suites use only the public API with cnn.h's default configuration: those compile
# without the implementation (-DCNN_IMPLEMENTATION_INCLUDED, cnn.h's own guard against a
# second copy, leaves it out) and link one prebuilt copy of it, as a program of several files
# does; the compiler then reads the implementation once per build kind, not once per suite.
# A suite that defines a CNN_ macro (an allocator, CNN_NO_STDIO, ...) or calls a cnn__
# internal compiles its own.
links_prebuilt() {
    [ "$(group_of "$1")" = library ] && ! grep -v '^#define CNN_IMPLEMENTATION' "$1" | grep -q '^#define CNN_\|cnn__[a-z0-9_]*('
}
# linked IMPL SRC OUT LIBS COMPILER FLAGS...: the suite SRC without the implementation, linked
# with the object of the build IMPL ($BUILD/IMPL.o) once that is built.
linked() {
    local impl=$1 src=$2 out=$3 libs=$4; shift 4
    "$@" -DCNN_IMPLEMENTATION_INCLUDED -c "$src" -o "$out.o" || return 1
    await "$impl" || { echo "the implementation ($impl) did not build"; return 1; }
    "$@" "$out.o" "$BUILD/$impl.o" -o "$out" $libs
}
# test_build KIND SRC OUT LIBS COMPILER FLAGS...: queues the build of one suite of that kind.
test_build() {
    local kind=$1 src=$2 out=$3 libs=$4; shift 4
    local key; key=$(basename "$src" .c)$kind
    if links_prebuilt "$src"; then queue "$key" linked "impl$kind" "$src" "$out" "$libs" "$@"
    else queue "$key" "$@" "$src" -o "$out" $libs; fi
}
# finished KEY: in the main process, waits for the job KEY (a job never started, because the
# background process died, counts as failed).
finished() {
    local key=$1
    while [ ! -e "$LOGS/$key.rc" ]; do
        if ! kill -0 "$builder_pid" 2>/dev/null && [ ! -e "$LOGS/$key.rc" ]; then
            echo "not built: $key" > "$LOGS/$key.log"; echo 1 > "$LOGS/$key.rc"; break
        fi
        sleep 0.2
    done
}
# built LABEL KEY: waits for that build; one pass or one failure, as check counts.
built() {
    local label=$1 key=$2
    finished "$key"
    if [ "$(cat "$LOGS/$key.rc")" = 0 ]; then
        count 1 0; echo "ok   $label"
    else
        count 0 1; failures+=("$label"); echo "FAIL $label"; head -n 20 "$LOGS/$key.log"
        return 1
    fi
}
# ran LABEL KEY: waits for that suite run and counts it as run_suite does.
ran() {
    local label=$1 key=$2
    finished "$key"
    echo "== $label"
    tally_suite "$label" "$(cat "$LOGS/$key.rc")" "$(cat "$LOGS/$key.log")"
}

# Libraries a source links with: the examples' IDX reader (examples/idx.h) inflates gzip with
# zlib; every program needs libm.
libs_of() { if grep -q 'examples/idx\.h\|include "idx\.h"' "$1"; then echo "-lm -lz"; else echo "-lm"; fi; }
# The include flags for stb (Debian's libstb-dev puts its headers in /usr/include/stb), which
# the examples' image code (examples/image_io.h, examples/classify.c) uses.
STB_CFLAGS=$(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
have_stb() { printf '#include "stb_image.h"\n#include "stb_image_write.h"\n' | $CC $STB_CFLAGS -E -x c - >/dev/null 2>&1; }
# Says SKIPPED (and counts it) when a source needs stb and its headers are missing.
skip_without_stb() {
    if grep -q 'stb_image\|image_io\.h' "$1" && ! have_stb; then
        echo "SKIPPED $2: needs stb_image.h and stb_image_write.h (apt-get install libstb-dev)"
        skipped=$((skipped + 1))
        return 0
    fi
    return 1
}

native=1
[ "${CNN_ONLY_AARCH64:-0}" = 1 ] && native=0
. tests/extra_flags.sh
# (unrun_isa_flags: on a CPU without AVX-512, the instrumented builds leave those kernels out)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer $(unrun_isa_flags)"
# The sanitizer build also checks cnn.h's internal invariants (off by default: see CNN_ASSERT).
ASSERTS='-DCNN_ASSERT(x)=((x)?(void)0:__builtin_trap())'
WINE=$(command -v wine64 || command -v wine || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || true)
aarch64=0; [ "${CNN_SKIP_AARCH64:-0}" != 1 ] && have aarch64-linux-gnu-gcc && have qemu-aarch64 && aarch64=1
windows=0; [ "$native" = 1 ] && [ "${CNN_SKIP_WINDOWS:-0}" != 1 ] && have x86_64-w64-mingw32-gcc && [ -n "$WINE" ] && windows=1
# zlib for AArch64 is rarely installed (zlib1g-dev:arm64); the examples' reader has no
# per-architecture code, so its suite is skipped there rather than failed.
aarch64_zlib() {
    printf '#include <zlib.h>\nint main(void) { return zlibVersion()[0] == 0; }\n' |
        aarch64-linux-gnu-gcc -x c - -o "$BUILD/zlib_probe.aarch64" -lz >/dev/null 2>&1
}
aarch64_has_zlib=0; [ "$aarch64" = 1 ] && aarch64_zlib && aarch64_has_zlib=1
needs_zlib() { [ "$(libs_of "$1")" != -lm ]; }

# Every build of the run, in the order the results below need them.
CCS=("$CC"); have clang && [ "$CC" != clang ] && CCS+=(clang)
CXXS=("$CXX"); have clang++ && [ "$CXX" != clang++ ] && CXXS+=(clang++)
HEADER_SRCS=(decl_only impl static no_stdio no_simd)
# The implementation alone, for the suites that link it (links_prebuilt).
printf '#define CNN_IMPLEMENTATION\n#include "cnn.h"\n' > "$BUILD/impl_only.c"
if [ "$native" = 1 ]; then
    NATIVE_FLAGS=(-std=c99 -O2 -g $WARN -I. $STB_CFLAGS)
    SAN_FLAGS=(-std=c99 -O1 -g $WARN $SAN "$ASSERTS" -I. $STB_CFLAGS)
    queue impl "$CC" "${NATIVE_FLAGS[@]}" -c "$BUILD/impl_only.c" -o "$BUILD/impl.o"
    queue impl.san "$CC" "${SAN_FLAGS[@]}" -c "$BUILD/impl_only.c" -o "$BUILD/impl.san.o"
    # The ThreadSanitizer and libFuzzer builds (their runs end the run) early: the fuzz build
    # alone takes about two minutes, and queued last it was the only job left running.
    rm -f build/tsan/*.build.rc build/fuzz/*.build.rc
    queue tsan.build env CNN_TSAN_BUILD_ONLY=1 bash tests/tsan.sh
    [ "${CNN_FUZZ_SECONDS:-20}" != 0 ] && queue fuzz.build env CNN_FUZZ_BUILD_ONLY=1 bash tests/fuzz.sh
    printf '#include "cnn.h"\nint main(void) { return cnn_status_name(CNN_OK)[0] != 0 ? 0 : 1; }\n' > "$BUILD/decl_only.c"
    printf '#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/impl.c"
    printf '#define CNN_STATIC\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/static.c"
    printf '#define CNN_NO_STDIO\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/no_stdio.c"
    printf '#define CNN_NO_SIMD\n#define CNN_IMPLEMENTATION\n#include "cnn.h"\nint main(void) { return 0; }\n' > "$BUILD/no_simd.c"
    for cc in "${CCS[@]}"; do
        for src in "${HEADER_SRCS[@]}"; do
            queue "header.$cc.$src" $cc -std=c99 $WARN -I. -c "$BUILD/$src.c" -o "$BUILD/$src.$cc.o"
        done
        # -O3 inlines more, and gcc's maybe-uninitialized warnings come with it: a user's -O3
        # -Werror build must compile too.
        queue "header.$cc.o3" $cc -std=c99 -O3 $WARN -I. -c "$BUILD/impl.c" -o "$BUILD/impl_o3.$cc.o"
    done
    for cxx in "${CXXS[@]}"; do
        for src in decl_only impl static; do
            queue "header.$cxx.$src" $cxx -x c++ -std=c++11 $WARN -I. -c "$BUILD/$src.c" -o "$BUILD/$src.$cxx.o"
        done
    done
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        rm -f "$BUILD/$name" "$BUILD/$name.san"
        grep -q 'stb_image\|image_io\.h' "$src" && ! have_stb && continue
        test_build "" "$src" "$BUILD/$name" "$(libs_of "$src")" "$CC" "${NATIVE_FLAGS[@]}"
        queue_suite "run.$name" "$name" "$BUILD/$name"
    done
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        case $name in test_simd*) continue ;; esac
        [ "$(group_of "$src")" = library ] || continue
        queue_suite "run.$name.scalar" "$name" env CNN_SIMD=scalar "$BUILD/$name"
    done
    queue l2small $CC -std=c99 -O2 -g $WARN -DCNN_L2_BYTES=2048 -I. tests/test_simd.c -o "$BUILD/test_simd.l2small" -lm
    queue_suite run.l2small l2small "$BUILD/test_simd.l2small"
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        grep -q 'stb_image\|image_io\.h' "$src" && ! have_stb && continue
        test_build .san "$src" "$BUILD/$name.san" "$(libs_of "$src")" "$CC" "${SAN_FLAGS[@]}"
        queue_suite "run.$name.san" "$name.san" env ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$BUILD/$name.san"
    done
fi
if [ "$aarch64" = 1 ]; then
    queue impl.aarch64 aarch64-linux-gnu-gcc -std=c99 -O2 $WARN -I. -c "$BUILD/impl_only.c" -o "$BUILD/impl.aarch64.o"
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        needs_zlib "$src" && [ "$aarch64_has_zlib" = 0 ] && continue
        grep -q 'stb_image\|image_io\.h' "$src" && ! have_stb && continue
        test_build .aarch64 "$src" "$BUILD/$name.aarch64" "$(libs_of "$src")" aarch64-linux-gnu-gcc -std=c99 -O2 $WARN -I. $STB_CFLAGS
        queue_suite "run.$name.aarch64" "$name.aarch64" qemu-aarch64 -L /usr/aarch64-linux-gnu "$BUILD/$name.aarch64"
    done
fi
if [ "$windows" = 1 ]; then
    queue impl.windows x86_64-w64-mingw32-gcc -std=c99 -O2 $WARN -I. -c "$BUILD/impl_only.c" -o "$BUILD/impl.windows.o"
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        case $name in test_hardening|test_shared_weights|test_data) continue ;; esac
        [ "$(group_of "$src")" = library ] || continue
        test_build .windows "$src" "$BUILD/$name.exe" -lm x86_64-w64-mingw32-gcc -std=c99 -O2 $WARN -I.
        # one Wine process at a time: they share the prefix, which the first one creates
        queue_suite "run.$name.windows" "$name.windows" env WINEDEBUG=-all WINEPREFIX="$PWD/$BUILD/wineprefix" \
            flock "$LOGS/wine.lock" "$WINE" "$BUILD/$name.exe"
    done
fi
if [ "$native" = 1 ]; then
    for src in examples/*.c; do
        [ -e "$src" ] || continue
        grep -q 'stb_image\|image_io\.h' "$src" && ! have_stb && continue
        queue "example.$(basename "$src" .c)" $CC -std=c99 -O2 $WARN -I. -Iexamples $STB_CFLAGS "$src" -o "$BUILD/example_$(basename "$src" .c)" $(libs_of "$src")
    done
fi
start_builds

if [ "$native" = 1 ]; then
echo "== header: compiles cleanly as C and C++"
for cc in "${CCS[@]}"; do
    for src in "${HEADER_SRCS[@]}"; do built "$cc -std=c99 $src" "header.$cc.$src"; done
    built "$cc -std=c99 -O3 impl" "header.$cc.o3"
done
for cxx in "${CXXS[@]}"; do
    for src in decl_only impl static; do built "$cxx -x c++ $src" "header.$cxx.$src"; done
done

for src in tests/test_*.c; do
    name=$(basename "$src" .c); group=$(group_of "$src")
    skip_without_stb "$src" "$name" && continue
    built "build $name" "$name" && ran "$name" "run.$name"
done
group=library

# The same suites once more on the scalar reference path (CNN_SIMD=scalar), so the fallback
# every CPU without AVX2 takes is tested too. Not the SIMD suites, which force each path
# themselves (scalar as the reference, then every vector path), nor the examples' code,
# which has no kernel paths: that rerun would repeat the same run.
for src in tests/test_*.c; do
    name=$(basename "$src" .c)
    case $name in test_simd*) continue ;; esac
    [ "$(group_of "$src")" = library ] || continue
    [ "$(cat "$LOGS/$name.rc" 2>/dev/null)" = 0 ] && ran "$name (scalar path)" "run.$name.scalar"
done

# The convolution suite with a small L2 (CNN_L2_BYTES): at the default 1 MB no tested shape
# is large enough for the kernels to split their channels into several passes, so this is
# where the multi-pass loops run.
if built "build test_simd (CNN_L2_BYTES=2048)" l2small; then
    ran "test_simd (CNN_L2_BYTES=2048)" run.l2small
fi

[ -n "$(unrun_isa_flags)" ] && echo "== asan+ubsan, tsan and fuzz builds leave out the AVX-512 kernels: this CPU has no AVX-512F ($(unrun_isa_flags))"
for src in tests/test_*.c; do
    name=$(basename "$src" .c); group=$(group_of "$src")
    skip_without_stb "$src" "$name (asan+ubsan)" && continue
    built "build $name (asan+ubsan)" "$name.san" && ran "$name (asan+ubsan)" "run.$name.san"
done
group=library

# The documentation's programs compile, run and print what the docs show.
run_suite "docs snippets" bash docs/check_snippets.sh
# docs/api.md names every public name of cnn.h, and nothing else.
run_suite "docs api names" bash docs/check_api.sh
# The table of contents at the top of cnn.h names its banners, in their order.
run_suite "docs table of contents" bash docs/check_toc.sh

# ---- Interoperability: models to and from PyTorch ----
# tools/cnnh_torch.py converts a cnn.h model file to a torch.nn.Sequential and back; this checks
# that both give the same predictions on the same inputs (within 1e-5 of the largest output).
# Needs a python3 that imports torch and numpy (.ci/run installs Debian's python3-torch);
# without one it says SKIPPED.
run_suite "torch interop" bash tests/torch_interop.sh

# ---- Install and build systems ----
# make install into a temporary prefix (and with DESTDIR), then a program built with
# pkg-config, with CMake's find_package(cnn) and with add_subdirectory on the repository.
# Each part says SKIPPED where pkg-config or cmake is missing (.ci/run installs both).
run_suite "install, pkg-config, cmake" bash tests/install_test.sh

fi   # native

# AArch64: cross-compile the suites and run them under qemu, so the NEON path is tested for
# real. Skipped (and said so) where the cross compiler or qemu is missing; `make test-aarch64`
# runs only this part, and .ci/run installs both.
if [ "${CNN_SKIP_AARCH64:-0}" != 1 ]; then
    if [ "$aarch64" = 1 ]; then
        for src in tests/test_*.c; do
            name=$(basename "$src" .c); group=$(group_of "$src")
            if needs_zlib "$src" && [ "$aarch64_has_zlib" = 0 ]; then
                echo "SKIPPED $name (aarch64): no zlib for aarch64 (dpkg --add-architecture arm64; apt-get install zlib1g-dev:arm64)"
                skipped=$((skipped + 1))
                continue
            fi
            skip_without_stb "$src" "$name (aarch64)" && continue
            if built "build $name (aarch64)" "$name.aarch64"; then
                ran "$name (aarch64, qemu)" "run.$name.aarch64"
            fi
        done
        group=library
    else
        echo "== aarch64: SKIPPED (needs aarch64-linux-gnu-gcc and qemu-aarch64: apt-get install gcc-aarch64-linux-gnu qemu-user)"
    fi
fi

# Windows: cross-compile the library's suites with MinGW-w64 and run them under Wine, so the
# Win32 thread pool (CreateThread, SRW locks, condition variables) and the Windows file code
# are tested for real. Suites that need POSIX (fork and rlimits in test_hardening, pthreads
# called directly in test_shared_weights) or zlib (the examples' test_data) are not built.
# Skipped, and said so, where the cross compiler or Wine is missing; .ci/run installs both.
if [ "$native" = 1 ] && [ "${CNN_SKIP_WINDOWS:-0}" != 1 ]; then
    if [ "$windows" = 1 ]; then
        for src in tests/test_*.c; do
            name=$(basename "$src" .c)
            case $name in test_hardening|test_shared_weights|test_data) continue ;; esac
            [ "$(group_of "$src")" = library ] || continue
            if built "build $name (windows)" "$name.windows"; then
                ran "$name (windows, wine)" "run.$name.windows"
            fi
        done
    else
        echo "== windows: SKIPPED (needs x86_64-w64-mingw32-gcc and wine: apt-get install gcc-mingw-w64-x86-64-win32 wine64)"
    fi
fi

group=examples
[ "$native" = 1 ] && for src in examples/*.c; do
    [ -e "$src" ] || continue
    # Examples that read or write images use stb_image (libstb-dev; .ci/run and make demo
    # install it); without its headers they are skipped, said so.
    skip_without_stb "$src" "example $(basename "$src")" && continue
    built "build example $(basename "$src")" "example.$(basename "$src" .c)"
done
group=library

# ---- threads: ThreadSanitizer --------------------------------------------------------------
# Every tests/tsan_*.c under -fsanitize=thread (tests/tsan.sh): the thread pool races on nothing.
if [ "$native" = 1 ]; then
    finished tsan.build; tsan_prebuilt=1
    source tests/tsan.sh
fi

# ---- hardening: fuzzing ------------------------------------------------------------------
# Every libFuzzer target for 20 s (tests/fuzz.sh, docs/testing.md; 60, then 40, until make test
# neared and then passed its 15-minute budget on a busy machine); CNN_FUZZ_SECONDS
# sets the time per target (0 skips them), `make fuzz` runs only this, for longer.
if [ "$native" = 1 ] && [ "${CNN_FUZZ_SECONDS:-20}" != 0 ]; then
    finished fuzz.build; fuzz_prebuilt=1
    source tests/fuzz.sh
fi
# ---- end of hardening ---------------------------------------------------------------------

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed:"; printf '  %s\n' "${failures[@]}"
fi
[ "$skipped" -gt 0 ] && echo "skipped, not counted: $skipped tests with nothing to check on this machine (SKIPPED above)"
echo "took $((SECONDS / 60)) min $((SECONDS % 60)) s, $JOBS builds at a time (CNN_TEST_JOBS)"
echo "of which cnn.h: $((passed - examples_passed)) passed, $((failed - examples_failed)) failed; the examples' code: $examples_passed passed, $examples_failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
