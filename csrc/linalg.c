/* linalg.c - dense linear algebra on batches of small matrices: LU with partial pivoting
 * (tl_lu_factor), solves with it (tl_lu_solve), determinants from it (tl_lu_det), Cholesky
 * (tl_cholesky), triangular solves (tl_solve_triangular) and the symmetric eigendecomposition
 * (tl_eigh, cyclic Jacobi), QR by Householder reflections (tl_qr). The per-matrix loops are in
 * linalg.inc, instantiated for float and double by instantiate_float.h.
 *
 * Every buffer is contiguous and row-major, batch matrices one after another; factorisations
 * and solves work in place (Python hands them a fresh copy). These kernels have no VJP of their
 * own: the derivatives of inv, det, solve, cholesky... are formulas of tl ops
 * (tinygrad_lab/ops/decomp.py), as PyTorch's are. Singular input is reported through `info`
 * (LAPACK's convention), never as an error status: Python decides whether it raises. */
#include <float.h>
#include <math.h>
#include "internal.h"

#define TL_TEMPLATE "linalg.inc"
#include "instantiate_float.h"

#define LINALG_DISPATCH(dtype, name, args)                                                    \
    do {                                                                                      \
        switch (dtype) {                                                                      \
            case TL_F32: PICK(name##f32, args); return TL_OK;                                 \
            case TL_F64: PICK(name##f64, args); return TL_OK;                                 \
            default: return TL_EDTYPE;                                                        \
        }                                                                                     \
    } while (0)

int tl_lu_factor(int dtype, void *lu, int64_t *piv, int64_t *info, int64_t batch, int64_t n) {
    if (batch < 0 || n < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, lu_factor_, (lu, piv, info, batch, n));
}

int tl_lu_solve(int dtype, void *x, const void *lu, const int64_t *piv, int64_t batch, int64_t n,
                int64_t k, int perturb) {
    if (batch < 0 || n < 0 || k < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, lu_solve_, (x, lu, piv, batch, n, k, perturb));
}

int tl_lu_det(int dtype, void *det, void *sign, void *logabs, const void *lu, const int64_t *piv,
              int64_t batch, int64_t n) {
    if (batch < 0 || n < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, lu_det_, (det, sign, logabs, lu, piv, batch, n));
}

int tl_cholesky(int dtype, void *l, int64_t *info, int64_t batch, int64_t n) {
    if (batch < 0 || n < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, cholesky_, (l, info, batch, n));
}

int tl_solve_triangular(int dtype, void *x, const void *a, int64_t batch, int64_t n, int64_t k,
                        int upper, int unit) {
    if (batch < 0 || n < 0 || k < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, trsolve_, (x, a, batch, n, k, upper, unit));
}

int tl_eigh(int dtype, void *w, void *v, void *a, int64_t batch, int64_t n, int upper) {
    if (batch < 0 || n < 0) return TL_EINVAL;
    LINALG_DISPATCH(dtype, eigh_, (w, v, a, batch, n, upper));
}

int tl_qr(int dtype, void *q, void *r, void *a, int64_t batch, int64_t m, int64_t n, int complete) {
    if (batch < 0 || m < 0 || n < 0) return TL_EINVAL;
    const int64_t k = m < n ? m : n, mq = complete ? m : k;
    LINALG_DISPATCH(dtype, qr_, (q, r, a, batch, m, n, mq, mq));
}
