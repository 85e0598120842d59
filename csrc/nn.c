/* nn.c - neural-network kernels: softmax, log_softmax, and the fused losses (cross-entropy,
 * nll, binary cross-entropy on probabilities and on logits).
 *
 * Softmax-like kernels work on the rows of a contiguous (rows, C) matrix: Python moves the
 * softmax dim to the end (permute + contiguous) and back. Each row is max-subtracted before
 * exponentiating, so no logit magnitude overflows. nn.inc holds the loop bodies, instantiated
 * through instantiate_float.h for float and double, portable and AVX2+FMA (picked at run
 * time); its exp_le0_ is a vectorisable exp for the non-positive arguments these kernels need.
 * Large calls are split by rows over the threads (tl_parallel_span).
 * Backward kernels overwrite their outputs. Losses here are per row / per element; Python does
 * the 'mean' / 'sum' reduction with the reduce ops.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>
#include "half.h"

/* One call's arguments for the row kernels of nn.inc (each reads the fields it needs): outputs,
 * inputs, class targets, the element stride gs of an upstream gradient g, and the row length C.
 * Each kernel is a tl_span_fn over rows [lo, hi); rows are independent, so any split of them
 * over threads gives the same result. */
typedef struct {
    void *out[2];
    const void *in[3];
    const int64_t *target;
    int64_t gs, C;
    int mode;       /* the smooth-L1 family: TL_L1_LOSS, TL_SMOOTH_L1_LOSS or TL_HUBER_LOSS */
    double beta;    /* its beta (smooth_l1) or delta (huber) */
} nn_args;

/* ---- instantiate: float and double, portable and AVX2+FMA ---- */
#define TL_TEMPLATE "nn.inc"
#include "instantiate_float.h"

/* ---- float16 / bfloat16 rows (the softmax kernels: one output, nin inputs, all (rows, C)) ----
 * Threads take ranges of rows as for float32; each widens blocks of rows (about 4096 elements,
 * at least one row) into float32 scratch, runs the float32 row kernel on the block and rounds
 * its output back. Rows are independent, so the result is the float32 kernel's on the widened
 * input, rounded once; the scratch is a block, not a float32 copy of the tensor. */
typedef struct {
    tl_span_fn f32;     /* the float32 row kernel */
    const nn_args *a;   /* its arguments, with half buffers */
    int dtype, nin;
} half_rows_args;

static int half_rows_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    const half_rows_args *h = (const half_rows_args *)ctx;
    const int64_t C = h->a->C, blk = C >= 4096 ? 1 : 4096 / C;
    float *buf = (float *)tl_alloc((int64_t)(h->nin + 1) * blk * C * (int64_t)sizeof(float));
    if (!buf) return TL_ENOMEM;
    int rc = TL_OK;
    for (int64_t r = lo; r < hi && !rc; r += blk) {
        const int64_t m = hi - r < blk ? hi - r : blk;
        nn_args b = *h->a;
        b.out[0] = buf;
        for (int k = 0; k < h->nin; k++) {
            float *in = buf + (k + 1) * blk * C;
            tl__half_to_f32(h->dtype, in, (const uint16_t *)h->a->in[k] + r * C, m * C);
            b.in[k] = in;
        }
        rc = h->f32(&b, 0, m, slot);
        tl__f32_to_half(h->dtype, (uint16_t *)h->a->out[0] + r * C, buf, m * C);
    }
    tl_free(buf);
    return rc;
}

static int half_rows(int dtype, tl_span_fn f32, const nn_args *a, int nin, int64_t rows) {
    if (a->C == 0) return TL_OK;
    half_rows_args h = {f32, a, dtype, nin};
    return tl_parallel_span(rows, a->C, half_rows_span, &h);
}

/* Run row kernel `name` (float32/float64) over `rows` rows of `cost` elements each with the
 * arguments nn_args{...}; TL_EDTYPE for other dtypes. */
#define DISPATCH(dtype, name, rows, cost, ...)                                                  \
    do {                                                                                        \
        nn_args a_ = {__VA_ARGS__};                                                             \
        switch (dtype) {                                                                        \
            case TL_F32: return tl_parallel_span(rows, cost, PICK_FN(name##f32), &a_);          \
            case TL_F64: return tl_parallel_span(rows, cost, PICK_FN(name##f64), &a_);          \
            default: return TL_EDTYPE;                                                          \
        }                                                                                       \
    } while (0)

/* DISPATCH for the softmax kernels, which also take float16/bfloat16 (half_rows) */
#define DISPATCH_HALF(dtype, name, nin, rows, cost, ...)                                        \
    do {                                                                                        \
        if (tl_is_half(dtype)) {                                                                \
            nn_args h_ = {__VA_ARGS__};                                                         \
            return half_rows(dtype, PICK_FN(name##f32), &h_, nin, rows);                        \
        }                                                                                       \
        DISPATCH(dtype, name, rows, cost, __VA_ARGS__);                                         \
    } while (0)

static int check_targets(const int64_t *target, int64_t N, int64_t C) {
    for (int64_t n = 0; n < N; n++)
        if (target[n] < 0 || target[n] >= C) return TL_EINDEX;
    return TL_OK;
}

#define CHECK_SIZES(rows, C) if ((rows) < 0 || (C) < 0) return TL_EINVAL

int tl_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH_HALF(dtype, softmax_fwd_, 1, rows, C, .out = {y}, .in = {x}, .C = C);
}

int tl_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                        int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH_HALF(dtype, softmax_bwd_, 2, rows, C, .out = {gx}, .in = {g, y}, .C = C);
}

int tl_log_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH_HALF(dtype, log_softmax_fwd_, 1, rows, C, .out = {y}, .in = {x}, .C = C);
}

int tl_log_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                            int64_t C) {
    CHECK_SIZES(rows, C);
    DISPATCH_HALF(dtype, log_softmax_bwd_, 2, rows, C, .out = {gx}, .in = {g, y}, .C = C);
}

int tl_cross_entropy_forward(int dtype, void *loss, void *stats, const void *logits,
                             const int64_t *target, int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, ce_fwd_, N, C, .out = {loss, stats}, .in = {logits}, .target = target, .C = C);
}

int tl_cross_entropy_backward(int dtype, void *dlogits, const void *g, int64_t g_stride,
                              const void *logits, const void *stats, const int64_t *target,
                              int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, ce_bwd_, N, C, .out = {dlogits}, .in = {g, logits, stats}, .target = target,
             .gs = g_stride, .C = C);
}

int tl_nll_loss_forward(int dtype, void *loss, const void *logp, const int64_t *target,
                        int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, nll_fwd_, N, 1, .out = {loss}, .in = {logp}, .target = target, .C = C);
}

int tl_nll_loss_backward(int dtype, void *dlogp, const void *g, int64_t g_stride,
                         const int64_t *target, int64_t N, int64_t C) {
    CHECK_SIZES(N, C);
    int rc = check_targets(target, N, C);
    if (rc) return rc;
    DISPATCH(dtype, nll_bwd_, N, C, .out = {dlogp}, .in = {g}, .target = target, .gs = g_stride,
             .C = C);
}

/* TL_EINVAL unless every probability is in [0, 1] (NaN is not; PyTorch refuses both). Blocks
 * without an early exit inside, so the comparisons vectorize. */
static int check_probs(int dtype, const void *x, int64_t n) {
    for (int64_t lo = 0; lo < n; lo += 4096) {
        const int64_t hi = n - lo < 4096 ? n : lo + 4096;
        int bad = 0;
        if (dtype == TL_F32) {
            const float *p = x;
            for (int64_t i = lo; i < hi; i++) bad |= !(p[i] >= 0.0f && p[i] <= 1.0f);
        } else {
            const double *p = x;
            for (int64_t i = lo; i < hi; i++) bad |= !(p[i] >= 0.0 && p[i] <= 1.0);
        }
        if (bad) return TL_EINVAL;
    }
    return TL_OK;
}

int tl_binary_cross_entropy_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    int rc = check_probs(dtype, x, n);
    if (!rc) rc = check_probs(dtype, t, n);   /* targets too: PyTorch refuses 2.0 and NaN */
    if (rc) return rc;
    DISPATCH(dtype, binary_cross_entropy_fwd_, n, 1, .out = {loss}, .in = {x, t});
}

int tl_binary_cross_entropy_backward(int dtype, void *gx, void *gt, const void *g,
                                     int64_t g_stride, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, binary_cross_entropy_bwd_, n, 1, .out = {gx, gt}, .in = {g, x, t},
             .gs = g_stride);
}

int tl_binary_cross_entropy_with_logits_forward(int dtype, void *loss, const void *x,
                                                const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, binary_cross_entropy_with_logits_fwd_, n, 1, .out = {loss}, .in = {x, t});
}

int tl_binary_cross_entropy_with_logits_backward(int dtype, void *gx, void *gt, const void *g,
                                                 int64_t g_stride, const void *x, const void *t,
                                                 int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, binary_cross_entropy_with_logits_bwd_, n, 1, .out = {gx, gt}, .in = {g, x, t},
             .gs = g_stride);
}

int tl_mse_loss_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, mse_loss_fwd_, n, 1, .out = {loss}, .in = {x, t});
}

int tl_mse_loss_backward(int dtype, void *gx, void *gt, const void *g, int64_t g_stride,
                         const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    DISPATCH(dtype, mse_loss_bwd_, n, 1, .out = {gx, gt}, .in = {g, x, t}, .gs = g_stride);
}

int tl_mse_loss_mean_forward(int dtype, void *loss, const void *x, const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    const size_t size = dtype == TL_F32 ? sizeof(float) : sizeof(double);
    void *per = n > 0 ? malloc((size_t)n * size) : NULL;
    if (n > 0 && per == NULL) return TL_ENOMEM;
    int rc = tl_mse_loss_forward(dtype, per, x, t, n);
    if (!rc) rc = tl_reduce_flat(TL_SUM, dtype, loss, per, n);
    if (!rc) rc = tl_unary_flat(TL_DIV_SCALAR, dtype, loss, loss, 1, (double)n, 0.0);
    free(per);
    return rc;
}

int tl_mse_loss_mean_backward(int dtype, void *gx, void *gt, const void *g, const void *x,
                              const void *t, int64_t n) {
    CHECK_SIZES(n, 0);
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    double gn[1];   /* g / n, read with stride 0: room for either dtype */
    int rc = tl_unary_flat(TL_DIV_SCALAR, dtype, gn, g, 1, (double)n, 0.0);
    if (!rc) rc = tl_mse_loss_backward(dtype, gx, gt, gn, 0, x, t, n);
    return rc;
}

/* The smooth-L1 family (mode, beta: see tinygrad_lab.h), per element like mse_loss. */
int tl_smooth_l1_loss_forward(int mode, int dtype, void *loss, const void *x, const void *t,
                              int64_t n, double beta) {
    CHECK_SIZES(n, 0);
    if (mode < TL_L1_LOSS || mode > TL_HUBER_LOSS || (mode != TL_L1_LOSS && !(beta > 0))) return TL_EINVAL;
    DISPATCH(dtype, smooth_l1_loss_fwd_, n, 1, .out = {loss}, .in = {x, t}, .mode = mode, .beta = beta);
}

int tl_smooth_l1_loss_backward(int mode, int dtype, void *gx, void *gt, const void *g,
                               int64_t g_stride, const void *x, const void *t, int64_t n,
                               double beta) {
    CHECK_SIZES(n, 0);
    if (mode < TL_L1_LOSS || mode > TL_HUBER_LOSS || (mode != TL_L1_LOSS && !(beta > 0))) return TL_EINVAL;
    DISPATCH(dtype, smooth_l1_loss_bwd_, n, 1, .out = {gx, gt}, .in = {g, x, t}, .gs = g_stride,
             .mode = mode, .beta = beta);
}
