/* linear.c - the fused Linear layer y = act(x @ W^T + b) and its VJP, each one C call made of
 * the matmul, elementwise and reduce kernels. A small layer's time is mostly per-call overhead
 * (an XOR network's 2x4 layers), so one call instead of three forward and four backward is
 * what this file is for; a large layer's time is its GEMMs either way. */
#include <stdlib.h>
#include "internal.h"

/* forward: y (m, n) = act(x (m, k) @ W^T + b), W (n, k) read through swapped strides as (k, n) */
int tl_linear_forward(int dtype, void *y, const void *x, int64_t xs0, int64_t xs1, const void *w,
                      int64_t ws0, int64_t ws1, const void *b, int64_t bs, int act, int64_t m,
                      int64_t n, int64_t k) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    if (m < 0 || n < 0 || k < 0) return TL_EINVAL;
    const int64_t x_st[2] = {xs0, xs1}, wt_st[2] = {ws1, ws0};
    int rc = tl_matmul_forward(dtype, y, x, x_st, w, wt_st, 0, NULL, m, n, k);
    if (rc || m * n == 0) return rc;
    if (b != NULL) {   /* y += b broadcast over rows, in place */
        const int64_t shape[2] = {m, n}, b_st[2] = {0, bs};
        rc = tl_binary_forward(TL_ADD, dtype, y, NULL, y, NULL, b, b_st, 2, shape);
        if (rc) return rc;
    }
    if (act >= 0) rc = tl_unary_flat(act, dtype, y, y, m * n, 0.0, 0.0);
    return rc;
}

/* backward of y = act(x @ W^T + b) for g (m, n):
 *   gz = act'(y) * g;  gx (m, k) = gz @ W;  gw (n, k) = gz^T @ x (or, gw_kn, its transpose
 *   x^T @ gz for y = act(x @ W + b));  gb (n,) = sum over rows of gz */
int tl_linear_backward(int dtype, int act, void *gx, void *gw, int gw_kn, void *gb,
                       const void *g, int64_t gs0, int64_t gs1, const void *x, int64_t xs0,
                       int64_t xs1, const void *w, int64_t ws0, int64_t ws1, const void *y,
                       int64_t m, int64_t n, int64_t k) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    if (m < 0 || n < 0 || k < 0) return TL_EINVAL;
    const size_t size = dtype == TL_F32 ? sizeof(float) : sizeof(double);
    void *gz = NULL;
    int rc = TL_OK;
    if (act >= 0 && m * n > 0) {   /* the activation's VJP, from y alone (relu: y > 0 iff x > 0) */
        gz = malloc((size_t)(m * n) * size);
        if (gz == NULL) return TL_ENOMEM;
        const int64_t shape[2] = {m, n}, g_st[2] = {gs0, gs1};
        rc = tl_unary_backward(act, dtype, gz, g, g_st, y, NULL, y, NULL, 2, shape, 0.0, 0.0);
        g = gz;
        gs0 = n;
        gs1 = 1;
    }
    const int64_t g_st[2] = {gs0, gs1}, gt_st[2] = {gs1, gs0};
    if (!rc && gx != NULL) {
        const int64_t w_st[2] = {ws0, ws1};
        rc = tl_matmul_forward(dtype, gx, g, g_st, w, w_st, 0, NULL, m, k, n);
    }
    if (!rc && gw != NULL && gw_kn) {   /* x @ W + b: gW (k, n) = x^T @ gz, as Matmul's VJP */
        const int64_t xt_st[2] = {xs1, xs0};
        rc = tl_matmul_forward(dtype, gw, x, xt_st, g, g_st, 0, NULL, k, n, m);
    } else if (!rc && gw != NULL) {
        const int64_t x_st[2] = {xs0, xs1};
        rc = tl_matmul_forward(dtype, gw, g, gt_st, x, x_st, 0, NULL, n, k, m);
    }
    if (!rc && gb != NULL) {   /* g^T (n, m) reduced over its last dim */
        const int64_t shape[2] = {n, m};
        rc = tl_reduce(TL_SUM, dtype, gb, g, gt_st, 2, shape, 1);
    }
    free(gz);
    return rc;
}
