/* dispatch.c - build/machine information, CPU feature detection, and the strided iterator every
 * kernel family uses. (The thread count and the threads are in pool.c.) */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#ifndef TL_VERSION
#define TL_VERSION "unknown"
#endif
#ifndef TL_BUILD_FLAGS
#define TL_BUILD_FLAGS "unknown"
#endif

int tl__simd = -1;

static int detect_simd(void) {
#if defined(TL_X86) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    /* level 2: AVX-512 F/VL/BW/DQ (Skylake-X and later Xeons, Zen 4): the families that have
     * AVX-512 kernels run them (the GEMM and direct convolution, matmul.c; the float32 column
     * sums, reduce.inc; the vmath transcendentals, vmath.h; the half casts and fused loops,
     * half.c), the others keep their AVX2 kernels (PICK: any level >= 1).
     * tl_set_simd_level(1) runs the AVX2 kernels everywhere (tests compare the two). */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return 2;
    return 1;
#endif
    return 0;
}

/* Runs when the shared object is loaded, before Python can call anything. */
__attribute__((constructor)) static void tl__init(void) {
    tl__simd = detect_simd();
}

const char *tl_version(void) { return TL_VERSION; }

const char *tl_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C compiler";
#endif
}

const char *tl_build_flags(void) { return TL_BUILD_FLAGS; }

int tl_simd_level(void) { return tl__simd; }

const char *tl_simd_name(void) {
    return tl__simd == 2 ? "avx512" : tl__simd == 1 ? "avx2+fma" : "portable C";
}

int tl_set_simd_level(int level) {
    if (level < 0 || level > detect_simd()) return TL_EINVAL;
    tl__simd = level;
    return TL_OK;
}

/* ---- strided iterator ---- */

int tl_iter_init(tl_iter *it, int ndim, const int64_t *shape, int nops,
                 const int64_t *const *strides) {
    if (ndim < 0 || ndim > TL_MAX_DIMS || nops < 1 || nops > TL_ITER_OPS) return TL_EINVAL;
    it->nops = nops;
    if (ndim == 1) {  /* one run, nothing to coalesce: the flat entry points, most small ops */
        it->size = it->inner = shape[0];
        it->ndim = 0;
        for (int k = 0; k < nops; k++) {
            it->istride[k] = strides[k] ? strides[k][0] : 1;
            it->off[k] = 0;
        }
        return TL_OK;
    }
    it->size = 1;
    int64_t sh[TL_MAX_DIMS], st[TL_ITER_OPS][TL_MAX_DIMS];
    for (int d = 0; d < ndim; d++) it->size *= shape[d];
    for (int k = 0; k < nops; k++) {          /* fill in contiguous strides where NULL */
        int64_t s = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            st[k][d] = strides[k] ? strides[k][d] : s;
            s *= shape[d];
        }
    }
    /* coalesce: drop size-1 dims, merge dim d into the next kept one when every operand allows */
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (n > 0) {
            int ok = 1;
            for (int k = 0; k < nops; k++)
                if (st[k][n - 1] != st[k][d] * shape[d]) { ok = 0; break; }
            if (ok) {
                sh[n - 1] *= shape[d];
                for (int k = 0; k < nops; k++) st[k][n - 1] = st[k][d];
                continue;
            }
        }
        sh[n] = shape[d];
        for (int k = 0; k < nops; k++) st[k][n] = st[k][d];
        n++;
    }
    if (n == 0) { sh[0] = 1; for (int k = 0; k < nops; k++) st[k][0] = 0; n = 1; }
    it->inner = sh[n - 1];
    for (int k = 0; k < nops; k++) it->istride[k] = st[k][n - 1];
    it->ndim = n - 1;
    for (int d = 0; d < n - 1; d++) {
        it->shape[d] = sh[d];
        it->idx[d] = 0;   /* (only the outer dims' counters are ever read) */
        for (int k = 0; k < nops; k++) it->stride[k][d] = st[k][d];
    }
    for (int k = 0; k < nops; k++) it->off[k] = 0;
    return TL_OK;
}

void tl_iter_seek(tl_iter *it, int64_t pos) {
    for (int k = 0; k < it->nops; k++) it->off[k] = 0;
    for (int d = it->ndim - 1; d >= 0; d--) {
        int64_t i = pos % it->shape[d];
        pos /= it->shape[d];
        it->idx[d] = i;
        for (int k = 0; k < it->nops; k++) it->off[k] += i * it->stride[k][d];
    }
}

int tl_iter_next(tl_iter *it) {
    for (int d = it->ndim - 1; d >= 0; d--) {
        if (++it->idx[d] < it->shape[d]) {
            for (int k = 0; k < it->nops; k++) it->off[k] += it->stride[k][d];
            return 1;
        }
        for (int k = 0; k < it->nops; k++) it->off[k] -= (it->shape[d] - 1) * it->stride[k][d];
        it->idx[d] = 0;
    }
    return 0;
}
