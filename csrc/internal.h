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
extern int tl__num_threads;

/* Elements per thread below which an OpenMP region costs more than it saves (~1 us). */
#define TL_PAR_MIN 32768

/* ---- strided N-d iteration ----
 * An iterator walks the index space `shape` for up to TL_ITER_OPS operands, each with its own
 * element strides. Dims are coalesced first (size-1 dims dropped, mergeable neighbours merged),
 * so a contiguous operand set becomes one long inner loop. Callers loop:
 *     tl_iter it; tl_iter_init(&it, ...);
 *     if (it.size) do { inner loop of it.inner elements using it.off[k], it.istride[k] }
 *                  while (tl_iter_next(&it));
 */
#define TL_ITER_OPS 4
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

/* ---- threads over a strided index space ----
 * TL_FOR_RANGES(it, N_OPS, BODY...) splits the it.size elements of an initialised iterator into one
 * contiguous range per thread (only when the work is large enough) and runs BODY for every run
 * of consecutive inner-loop elements. Inside BODY: `_n` elements, operand k starts at element
 * offset `_o[k]` and steps by `_s[k]`. */
#define TL_FOR_RANGES(it, N_OPS, ...)                                                         \
    do {                                                                                      \
        const int64_t _total = (it).size, _inner = (it).inner;                                \
        int _nt = (int)(_total / TL_PAR_MIN);                                                 \
        if (_nt > tl__num_threads) _nt = tl__num_threads;                                     \
        if (_nt < 1) _nt = 1;                                                                 \
        /* Entering an OpenMP region costs ~1 us even when it runs serially: skip it. */      \
        if (_nt == 1) {                                                                       \
            TL_RANGE_(it, N_OPS, 0, 1, __VA_ARGS__);                                          \
        } else {                                                                              \
            _Pragma("omp parallel for num_threads(_nt) schedule(static)")                    \
            for (int _t = 0; _t < _nt; _t++) TL_RANGE_(it, N_OPS, _t, _nt, __VA_ARGS__);      \
        }                                                                                     \
    } while (0)

/* One thread's share (_t of _nt) of TL_FOR_RANGES. */
#define TL_RANGE_(it, N_OPS, T_, NT_, ...)                                                    \
    do {                                                                                      \
        tl_iter _it = (it);                                                                   \
        int64_t _lo = _total * (T_) / (NT_), _hi = _total * ((T_) + 1) / (NT_);               \
        int64_t _i0 = _lo % _inner;                                                           \
        if ((T_) != 0) tl_iter_seek(&_it, _lo / _inner);                                      \
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
 * time in dispatch.c), else the portable name##_generic. Every kernel family dispatches so. */
#ifdef TL_X86
#define PICK(name, args) (tl__simd ? name##_avx2 args : name##_generic args)
#else
#define PICK(name, args) (name##_generic args)
#endif

/* Token pasting for kernels instantiated per dtype and per instruction set. */
#define TL_CAT_(a, b) a##b
#define TL_CAT(a, b) TL_CAT_(a, b)
#define TL_NAME(base) TL_CAT(TL_CAT(base, TL_SUF), TL_ISA)

#endif
