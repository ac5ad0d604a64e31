#!/bin/sh
# Builds libpenne-libc.so (penne_libc.c) into the linux bundle's classes, under
# native/linux-ARCH/ with ARCH as Java's os.arch names it. Run by Maven in the
# generate-resources phase: build.sh OUTPUT_DIR JAVA_HOME.
#
# The library is optional: without a C compiler, the C library headers or
# jni.h, this says why and succeeds, and penne falls back to FFM (JDK 22+) or
# JNA at run time (penne:features shows which binding is in use). Set
# PENNE_REQUIRE_JNI=1 to make a missing library fail the build instead (CI does).
set -u
out=$1
java_home=$2
src=$(dirname "$0")/penne_libc.c

case $(uname -m) in
    x86_64) arch=amd64 ;;
    *) arch=$(uname -m) ;;
esac

skip() {
    if [ "${PENNE_REQUIRE_JNI:-0}" = 1 ]; then
        echo "penne: cannot build libpenne-libc.so: $1" >&2
        exit 1
    fi
    echo "[WARNING] penne: libpenne-libc.so not built ($1); native calls will go through FFM or JNA, which are slower. Install gcc and libc6-dev for it."
    rm -f "$out/native/linux-$arch/libpenne-libc.so"
    exit 0
}

cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler ($cc)"
[ -f "$java_home/include/jni.h" ] || skip "no jni.h under $java_home/include"
mkdir -p "$out/native/linux-$arch"
"$cc" -O2 -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden \
    -I"$java_home/include" -I"$java_home/include/linux" \
    -o "$out/native/linux-$arch/libpenne-libc.so" "$src" -Wl,-z,relro,-z,now 2>&1 \
    || skip "$cc failed"
