#!/usr/bin/env bash
# tests/install_test.sh - `make install` into a temporary prefix, then a small program built
# against it the ways users build: pkg-config, CMake's find_package(cnn) and add_subdirectory
# on the repository. Each check is SKIPPED when its tool (pkg-config, cmake) is missing.
# Prints "N passed, N failed" last, like the test harness.
set -u
cd "$(dirname "$0")/.."
CC=${CC:-cc}
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnn-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -f "$tmp/log" ] && tail -n 20 "$tmp/log"; }
have() { command -v "$1" >/dev/null 2>&1; }
version=$(sed -n 's/^#define CNN_VERSION_STRING "\(.*\)"/\1/p' cnn.h)

# A program that uses the library (and libm, through the sigmoid) and prints the version.
mkdir -p "$tmp/app"
cat > "$tmp/app/app.c" <<'C'
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include <cnn.h>
int main(void) {
    float x[3] = {-1.0f, 0.0f, 2.0f}, y[3];
    if (cnn_activation_forward(CNN_ACT_SIGMOID, 0.0f, 3, x, y)) return 1;
    printf("%s %.4f\n", cnn_version(), (double)y[2]);
    return 0;
}
C
expect="$version 0.8808"

# DESTDIR stages the files under another root; the paths inside them name PREFIX alone.
if make -s install PREFIX=/opt/cnn DESTDIR="$tmp/stage" >"$tmp/log" 2>&1 &&
   [ -f "$tmp/stage/opt/cnn/include/cnn.h" ] && grep -qx 'prefix=/opt/cnn' "$tmp/stage/opt/cnn/share/pkgconfig/cnn.pc" &&
   [ -f "$tmp/stage/opt/cnn/share/cmake/cnn/cnnConfig.cmake" ] && [ ! -e "$tmp/stage/opt/cnn/share/cmake/cnn/cnnConfig.cmake.in" ]; then
    ok "make install DESTDIR=... PREFIX=/opt/cnn stages the files, naming /opt/cnn"
else
    fail "make install DESTDIR=... PREFIX=/opt/cnn"
fi

prefix="$tmp/prefix"
if make -s install PREFIX="$prefix" >"$tmp/log" 2>&1 && cmp -s cnn.h "$prefix/include/cnn.h"; then
    ok "make install PREFIX=<tmp> installs cnn.h"
else
    fail "make install PREFIX=<tmp>"
fi

if have pkg-config; then
    export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
    if [ "$(pkg-config --modversion cnn 2>/dev/null)" = "$version" ] &&
       $CC -std=c99 -O1 $(pkg-config --cflags cnn) "$tmp/app/app.c" -o "$tmp/app_pc" $(pkg-config --libs cnn) >"$tmp/log" 2>&1 &&
       [ "$("$tmp/app_pc")" = "$expect" ]; then
        ok "pkg-config --cflags --libs cnn builds and runs a program ($expect)"
    else
        fail "pkg-config build"
    fi
else
    echo "SKIPPED pkg-config build: pkg-config is not installed"
fi

if have cmake; then
    # find_package against the installed prefix
    mkdir -p "$tmp/fp"
    cat > "$tmp/fp/CMakeLists.txt" <<C
cmake_minimum_required(VERSION 3.10)
project(app C)
find_package(cnn ${version%.*} REQUIRED)
add_executable(app "$tmp/app/app.c")
target_link_libraries(app PRIVATE cnn::cnn)
C
    if cmake -S "$tmp/fp" -B "$tmp/fp/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" >"$tmp/log" 2>&1 &&
       cmake --build "$tmp/fp/build" >>"$tmp/log" 2>&1 && [ "$("$tmp/fp/build/app")" = "$expect" ]; then
        ok "find_package(cnn ${version%.*}) and cnn::cnn build and run a program"
    else
        fail "find_package(cnn) build"
    fi
    # the version file refuses a newer major version
    sed -i "s/find_package(cnn [0-9.]* REQUIRED)/find_package(cnn 99.0 REQUIRED)/" "$tmp/fp/CMakeLists.txt"
    if cmake -S "$tmp/fp" -B "$tmp/fp/build99" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" >"$tmp/log" 2>&1; then
        fail "find_package(cnn 99.0) must not accept version $version"
    elif grep -q "$version" "$tmp/log"; then
        ok "find_package(cnn 99.0) is refused, naming version $version"
    else
        fail "find_package(cnn 99.0): refused without naming the version found"
    fi
    # add_subdirectory on the repository itself
    mkdir -p "$tmp/sub"
    cat > "$tmp/sub/CMakeLists.txt" <<C
cmake_minimum_required(VERSION 3.10)
project(app C)
add_subdirectory("$root" cnn)
add_executable(app "$tmp/app/app.c")
target_link_libraries(app PRIVATE cnn::cnn)
C
    if cmake -S "$tmp/sub" -B "$tmp/sub/build" -DCMAKE_C_COMPILER="$CC" >"$tmp/log" 2>&1 &&
       cmake --build "$tmp/sub/build" >>"$tmp/log" 2>&1 && [ "$("$tmp/sub/build/app")" = "$expect" ]; then
        ok "add_subdirectory(<repository>) and cnn::cnn build and run a program"
    else
        fail "add_subdirectory build"
    fi
    # cmake --install of the repository writes the same package
    if cmake -S "$root" -B "$tmp/self" >"$tmp/log" 2>&1 && cmake --install "$tmp/self" --prefix "$tmp/cmprefix" >>"$tmp/log" 2>&1 &&
       cmp -s cnn.h "$tmp/cmprefix/include/cnn.h" && [ -f "$tmp/cmprefix/share/cmake/cnn/cnnConfigVersion.cmake" ] &&
       grep -q "^Version: $version" "$tmp/cmprefix/share/pkgconfig/cnn.pc"; then
        ok "cmake --install installs cnn.h, the CMake package and cnn.pc"
    else
        fail "cmake --install"
    fi
else
    echo "SKIPPED CMake builds: cmake is not installed"
fi

make -s uninstall PREFIX="$prefix" >/dev/null 2>&1
if [ ! -e "$prefix/include/cnn.h" ] && [ ! -e "$prefix/share/pkgconfig/cnn.pc" ]; then ok "make uninstall removes the files"; else fail "make uninstall"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
