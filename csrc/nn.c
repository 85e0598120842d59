/* nn.c - neural-network kernels: softmax, log_softmax, and the fused losses (cross-entropy,
 * nll, binary cross-entropy on probabilities and on logits).
 *
 * Softmax-like kernels work on the rows of a contiguous (rows, C) matrix: Python moves the
 * softmax dim to the end (permute + contiguous) and back. Each row is max-subtracted before
 * exponentiating, so no logit magnitude overflows. nn.inc holds the loop bodies, instantiated
 * for float and double, portable and AVX2+FMA (picked at run time, as in elementwise.c); its
 * exp_le0_ is a vectorisable exp for the non-positive arguments these kernels need.
 * Backward kernels overwrite their outputs. Losses here are per row / per element; Python does
 * the 'mean' / 'sum' reduction with the reduce ops.
 */
#include <math.h>
#include <string.h>
#include <tgmath.h>
#include "internal.h"

/* Threads for `rows` rows of C elements: one per TL_PAR_MIN elements, at most one per row. */
static int rows_threads(int64_t rows, int64_t C) {
    int64_t nt = rows * (C > 0 ? C : 1) / TL_PAR_MIN;
    if (nt > tl__num_threads) nt = tl__num_threads;
    if (nt > rows) nt = rows;
    return nt < 1 ? 1 : (int)nt;
}

/* Run BODY for each row index VAR in [0, rows), split over threads when the work is large
 * (no OpenMP region at all for serial work: entering one costs ~1 us). */
#define TL_FOR_ROWS(rows, C, VAR, ...)                                                          \
    do {                                                                                        \
        const int _nt = rows_threads(rows, C);                                                  \
        if (_nt == 1) {                                                                         \
            for (int64_t VAR = 0; VAR < (rows); VAR++) __VA_ARGS__                              \
        } else {                                                                                \
            _Pragma("omp parallel for num_threads(_nt) schedule(static)")                      \
            for (int64_t VAR = 0; VAR < (rows); VAR++) __VA_ARGS__                              \
        }                                                                                       \
    } while (0)

/* ---- instantiate: float and double (TL_NN_F64 picks nn.inc's constants), portable and AVX2+FMA */
#define TL_ISA _generic
#define TL_NN_F64 0
#include "nn.inc"
#undef TL_NN_F64
#define TL_NN_F64 1
#include "nn.inc"
#undef TL_NN_F64
#undef TL_ISA

#ifdef TL_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define TL_ISA _avx2
#define TL_NN_F64 0
#include "nn.inc"
#undef TL_NN_F64
#define TL_NN_F64 1
#include "nn.inc"
#undef TL_NN_F64
#undef TL_ISA
#pragma GCC pop_options
#endif


/* Call kernel `name` for float32/float64 (void kernels), TL_EDTYPE for other dtypes. */
#define DISPATCH(dtype, name, ARGS)                                                             \
    switch (dtype) {                                                                            \
        case TL_F32: PICK(name##f32, ARGS); return TL_OK;                                       \
        case TL_F64: PICK(name##f64, ARGS); return TL_OK;                                       \
        default: return TL_EDTYPE;                                                              \
    }

static int check_targets(const int64_t *target, int64_t N, int64_t C) {
    for (int64_t n = 0; n < N; n++)
        if (target[n] < 0 || target[n] >= C) return TL_EINDEX;
    return TL_OK;
}

#define CHECK_SIZES(rows, C) if ((rows) < 0 || (C) < 0) return TL_EINVAL

int tl_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH(dtype, softmax_fwd_, (y, x, rows, C))
}

int tl_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                        int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH(dtype, softmax_bwd_, (gx, g, y, rows, C))
}

int tl_log_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH(dtype, log_softmax_fwd_, (y, x, rows, C))
}

int tl_log_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                            int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH(dtype, log_softmax_bwd_, (gx, g, y, rows, C))
}

int tl_cross_entropy_forward(int dtype, void *loss, void *stats, const void *logits,
                             const int64_t *target, int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, ce_fwd_, (loss, stats, logits, target, N, C))
}

int tl_cross_entropy_backward(int dtype, void *dlogits, const void *g, int64_t g_stride,
                              const void *logits, const void *stats, const int64_t *target,
                              int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, ce_bwd_, (dlogits, g, g_stride, logits, stats, target, N, C))
}

int tl_nll_loss_forward(int dtype, void *loss, const void *logp, const int64_t *target,
                        int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, nll_fwd_, (loss, logp, target, N, C))
}

int tl_nll_loss_backward(int dtype, void *dlogp, const void *g, int64_t g_stride,
                         const int64_t *target, int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, nll_bwd_, (dlogp, g, g_stride, target, N, C))
}

int tl_bce_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, bce_fwd_, (loss, x, t, n))
}

int tl_bce_backward(int dtype, void *gx, void *gt, const void *g, int64_t g_stride,
                    const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, bce_bwd_, (gx, gt, g, g_stride, x, t, n))
}

int tl_bce_logits_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, bce_logits_fwd_, (loss, x, t, n))
}

int tl_bce_logits_backward(int dtype, void *gx, void *gt, const void *g, int64_t g_stride,
                           const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, bce_logits_bwd_, (gx, gt, g, g_stride, x, t, n))
}

int tl_mse_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, mse_fwd_, (loss, x, t, n))
}

int tl_mse_backward(int dtype, void *gx, void *gt, const void *g, int64_t g_stride, const void *x,
                    const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, mse_bwd_, (gx, gt, g, g_stride, x, t, n))
}
