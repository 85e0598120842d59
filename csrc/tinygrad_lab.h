/* tinygrad_lab.h - the one public header of the C core.
 *
 * tinygrad_lab/_build.py feeds the block between the "cdef-begin" and "cdef-end" markers to
 * cffi's cdef() verbatim, and set_source() #includes this same file, so the Python declarations
 * and the C definitions cannot drift. That block must stay free of preprocessor lines.
 *
 * Conventions (see ../DESIGN notes in README "Architecture"):
 *  - Buffers are passed as void* plus a dtype code; pointers already include the view's offset.
 *  - Shapes and strides are int64 arrays counted in elements (not bytes). A NULL strides array
 *    means "C-contiguous for this shape". Outputs are written, never allocated.
 *  - Every kernel returns a status code (TL_OK == 0); none prints, exits or aborts.
 *  - Backward (VJP) kernels OVERWRITE their input-gradient buffers; the Python engine does the
 *    accumulation into .grad.
 */
#ifndef TINYGRAD_LAB_H
#define TINYGRAD_LAB_H
#include <stdint.h>

/* cdef-begin */
enum tl_dtype { TL_F32 = 0, TL_F64 = 1, TL_I64 = 2, TL_BOOL = 3 };
enum tl_status { TL_OK = 0, TL_EINVAL = 1, TL_EDTYPE = 2, TL_EINDEX = 3, TL_ENOMEM = 4 };
enum tl_limits { TL_MAX_DIMS = 32 };

/* ---- build and machine information (dispatch.c) ---- */
const char *tl_version(void);
const char *tl_compiler(void);
const char *tl_build_flags(void);
int tl_openmp_enabled(void);
int tl_simd_level(void);               /* 0 = portable C, 1 = AVX2+FMA */
const char *tl_simd_name(void);
int tl_set_simd_level(int level);      /* may only lower the detected level (for tests) */
int tl_set_num_threads(int n);
int tl_get_num_threads(void);

/* ---- storage kernels (copy.c) ---- */
/* dst[i] = (dst dtype) src[i] over an ndim index space `shape`; both sides strided. */
int tl_copy(int dst_dtype, void *dst, const int64_t *dst_strides,
            int src_dtype, const void *src, const int64_t *src_strides,
            int ndim, const int64_t *shape);
/* dst[i] = value (ivalue for int64, value != 0 for bool). */
int tl_fill(int dtype, void *dst, const int64_t *strides, int ndim, const int64_t *shape,
            double value, int64_t ivalue);
/* dst[i] = start + i * step, contiguous, n elements (istart/istep used for int64). */
int tl_arange(int dtype, void *dst, int64_t n, double start, double step,
              int64_t istart, int64_t istep);

/* ---- random numbers (random.c): one global xoshiro256** stream ---- */
void tl_manual_seed(uint64_t seed);
int tl_rand_uniform(int dtype, void *dst, int64_t n, double low, double high);
int tl_rand_normal(int dtype, void *dst, int64_t n, double mean, double std);
int tl_randint(void *dst, int64_t n, int64_t low, int64_t high);   /* int64 in [low, high) */
/* cdef-end */

#endif
