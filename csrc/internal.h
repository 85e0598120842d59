/* internal.h - helpers shared by the kernel files; not part of the public header. */
#ifndef TL_INTERNAL_H
#define TL_INTERNAL_H
#include <stdint.h>
#include <stddef.h>
#include "tinygrad_lab.h"

#if defined(__x86_64__) || defined(__i386__)
#define TL_X86 1
#endif

extern int tl__simd;            /* chosen at load time in dispatch.c */

/* ---- threads (pool.c) ----
 * tl_parallel runs fn(ctx, chunk, slot) for every chunk in [0, nchunks) on up to max_threads
 * threads (at most tl_get_num_threads()), the calling thread included; chunks are claimed one at a
 * time, so the work balances itself and nobody waits for a thread that has not started. `slot`
 * in [0, max_threads) identifies the running thread (0 = the caller), for per-thread scratch.
 * Returns TL_OK or a nonzero status some chunk returned. Nested or concurrent calls run serially.
 * Results must not depend on which thread runs which chunk: partial results are combined in
 * chunk order, never in thread order. */
#define TL_MAX_THREADS 4096
typedef int (*tl_chunk_fn)(void *ctx, int64_t chunk, int slot);
int tl_parallel(int64_t nchunks, int max_threads, tl_chunk_fn fn, void *ctx);

/* Work below which a thread costs more than it saves (~1-2 us to wake a worker), in elements
 * per thread; the smallest chunk worth claiming; chunks per thread, so that a thread that
 * starts late or is preempted leaves work for the others. */
#define TL_PAR_MIN 32768
#define TL_CHUNK_MIN 16384
#define TL_CHUNKS_PER_THREAD 4

/* tl_parallel_span runs fn(ctx, lo, hi, slot) over ranges covering [0, n) once, where one item
 * costs `cost` elements of work (1: an element; C: a row of C): in one call fn(ctx, 0, n, 0) when
 * the work is below two threads' TL_PAR_MIN, else in up to TL_CHUNKS_PER_THREAD ranges per thread
 * of at least TL_CHUNK_MIN elements each (bounds rounded to multiples of 16 items when ranges
 * hold 256 or more, so that neighbouring float32 ranges do not share a cache line). fn must give
 * the same result however [0, n) is cut. */
typedef int (*tl_span_fn)(void *ctx, int64_t lo, int64_t hi, int slot);
int tl_parallel_span_(int64_t n, int64_t cost, tl_span_fn fn, void *ctx);   /* the threaded case */
static inline int tl_parallel_span(int64_t n, int64_t cost, tl_span_fn fn, void *ctx) {
    if ((double)n * (double)(cost > 1 ? cost : 1) < 2 * TL_PAR_MIN)   /* small: inline, no pool */
        return n > 0 ? fn(ctx, 0, n, 0) : TL_OK;
    return tl_parallel_span_(n, cost, fn, ctx);
}

/* ---- strided N-d iteration ----
 * An iterator walks the index space `shape` for up to TL_ITER_OPS operands, each with its own
 * element strides. Dims are coalesced first (size-1 dims dropped, mergeable neighbours merged),
 * so a contiguous operand set becomes one long inner loop. Callers loop:
 *     tl_iter it; tl_iter_init(&it, ...);
 *     if (it.size) do { inner loop of it.inner elements using it.off[k], it.istride[k] }
 *                  while (tl_iter_next(&it));
 */
#define TL_ITER_OPS 5
typedef struct {
    int ndim;                            /* outer dims (the innermost dim is excluded) */
    int nops;
    int64_t size;                        /* total number of elements (0 = nothing to do) */
    int64_t inner;                       /* length of the innermost loop */
    int64_t istride[TL_ITER_OPS];        /* innermost stride of each operand */
    int64_t shape[TL_MAX_DIMS];
    int64_t stride[TL_ITER_OPS][TL_MAX_DIMS];
    int64_t idx[TL_MAX_DIMS];
    int64_t off[TL_ITER_OPS];            /* current element offset of each operand */
} tl_iter;

/* strides[k] == NULL means contiguous. Returns TL_EINVAL on a bad ndim. */
int tl_iter_init(tl_iter *it, int ndim, const int64_t *shape, int nops,
                 const int64_t *const *strides);
/* Jump to the outer position `pos` (0 <= pos < size / inner), for splitting work over threads. */
void tl_iter_seek(tl_iter *it, int64_t pos);
int tl_iter_next(tl_iter *it);

/* ---- ranges of a strided index space ----
 * TL_FOR_RANGES(it, LO, HI, N_OPS, BODY...) runs BODY for every run of consecutive inner-loop
 * elements among the flat elements [LO, HI) of an initialised iterator (for tl_parallel_span to
 * hand out). Inside BODY: `_n` elements, operand k starts at element offset `_o[k]` and steps
 * by `_s[k]`. */
#define TL_FOR_RANGES(it, LO, HI, N_OPS, ...)                                                 \
    do {                                                                                      \
        tl_iter _it = (it);                                                                   \
        const int64_t _inner = _it.inner;                                                     \
        int64_t _lo = (LO), _hi = (HI), _i0 = _lo % _inner;                                   \
        if (_lo != 0) tl_iter_seek(&_it, _lo / _inner);                                       \
        while (_lo < _hi) {                                                                   \
            int64_t _n = _inner - _i0;                                                        \
            if (_n > _hi - _lo) _n = _hi - _lo;                                               \
            int64_t _o[N_OPS], _s[N_OPS];                                                     \
            for (int _k = 0; _k < (N_OPS); _k++) {                                            \
                _s[_k] = _it.istride[_k];                                                     \
                _o[_k] = _it.off[_k] + _i0 * _s[_k];                                          \
            }                                                                                 \
            __VA_ARGS__;                                                                      \
            _lo += _n;                                                                        \
            _i0 = 0;                                                                          \
            tl_iter_next(&_it);                                                               \
        }                                                                                     \
    } while (0)

/* PICK(name, (args)): call the AVX2+FMA build name##_avx2 when the CPU has it (detected at load
 * time in dispatch.c), else the portable name##_generic. Every kernel family dispatches so.
 * PICK_FN(name) is that function itself, for handing to tl_parallel / tl_parallel_span. */
#ifdef TL_X86
#define PICK(name, args) (tl__simd ? name##_avx2 args : name##_generic args)
#define PICK_FN(name) (tl__simd ? name##_avx2 : name##_generic)
#else
#define PICK(name, args) (name##_generic args)
#define PICK_FN(name) (name##_generic)
#endif

/* ---- float16 / bfloat16 (half.c; the scalar conversions are in half.h) ----
 * Contiguous bulk conversions of n elements (vectorised when the CPU allows), for dtype TL_F16
 * or TL_BF16; the _par forms split [0, n) across threads when large. */
void tl__half_to_f32(int dtype, float *dst, const uint16_t *src, int64_t n);
void tl__f32_to_half(int dtype, uint16_t *dst, const float *src, int64_t n);
int tl__half_to_f32_par(int dtype, float *dst, const uint16_t *src, int64_t n);
int tl__f32_to_half_par(int dtype, uint16_t *dst, const float *src, int64_t n);
/* 1 when the 8-lane conversions of half.h (tl_half_load8 / tl_half_store8) may run for dtype:
 * the AVX2 level is on and, for float16, the CPU has F16C. */
int tl__half_simd(int dtype);
/* 1 when the 16-lane AVX-512F loops of half.h may run: tl__half_simd, the CPU has AVX-512F, and
 * tl_set_half_avx512 has not turned them off. */
int tl__half_avx512(void);
/* out = a (op) b for TL_ADD..TL_DIV on n contiguous halves in one vectorised pass; returns 0
 * (doing nothing) when the CPU or the op is not covered (the caller's block path then runs). */
int tl__half_binary(int dtype, int op, uint16_t *out, const uint16_t *a, const uint16_t *b,
                    int64_t n);

/* ---- direct convolution (matmul.c; conv.c's forward) ----
 * tl__conv_tile: 1 and the register tile mr x nr and K block kc for a contraction of length k
 * when dtype (TL_F32 / TL_F64) has a SIMD build, else 0. tl__conv_pack packs A (m x k,
 * row-major) into pa (ceil(m / mr) * mr * k elements); tl__conv_band computes c (m x n, row
 * stride ldc) = A @ B with B[p, q] = b[boff[p] + q], loading whole nr-wide tiles of B's rows
 * (so n rounded up to nr must be readable at every offset). */
int tl__conv_tile(int dtype, int64_t k, int64_t *mr, int64_t *nr, int64_t *kc);
void tl__conv_pack(int dtype, void *pa, const void *a, int64_t m, int64_t k, int64_t kc);
void tl__conv_band(int dtype, void *c, int64_t ldc, const void *pa, const void *b,
                   const int64_t *boff, int64_t m, int64_t n, int64_t k, int64_t kc);
/* tl__conv_wgrad: c (m x n, row stride ldc) = (acc ? c : 0) + A @ B with A[i, q] =
 * a[aoff[i] + q] and B (k x n) packed as nr-column slivers, sliver j at pb + j * k. */
void tl__conv_wgrad(int dtype, void *c, int64_t ldc, const void *a, const int64_t *aoff,
                    const void *pb, int64_t m, int64_t n, int64_t k, int64_t kc, int acc);

/* Token pasting for kernels instantiated per dtype and per instruction set. */
#define TL_CAT_(a, b) a##b
#define TL_CAT(a, b) TL_CAT_(a, b)
#define TL_NAME(base) TL_CAT(TL_CAT(base, TL_SUF), TL_ISA)

#endif
