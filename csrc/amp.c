/* amp.c - tl.amp.GradScaler's device-side steps: unscale a gradient while checking it for
 * Inf/NaN, and update the loss scale from that check.
 *
 * The scale (float32), growth tracker (int64) and found_inf flag (float32) live in 0-d tensors
 * that these kernels read and write, as PyTorch's _amp_foreach_non_finite_check_and_unscale_
 * and _amp_update_scale_ do, so a tl.jit replay carries the whole scaler step without Python
 * reading a value (Python only reads found_inf to skip the optimizer's segment of a replay). */
#include <math.h>
#include "internal.h"

/* found_inf = 1 if g holds a NaN/Inf (left unchanged otherwise), then g *= inv_scale with
 * inv_scale = (float)(1 / (double)scale) -- the scalar multiply of tl_unary_forward's
 * TL_MUL_SCALAR, so the bits are those of g.mul_(inv_scale) for every float dtype. */
int tl_amp_unscale_(int dtype, void *g, const int64_t *g_strides, int ndim, const int64_t *shape,
                    void *found_inf, const void *scale)
{
    if (dtype != TL_F32 && dtype != TL_F64 && dtype != TL_F16 && dtype != TL_BF16)
        return TL_EDTYPE;
    int64_t bad = 0;
    int rc = tl_count_nonfinite(dtype, g, g_strides, ndim, shape, &bad);
    if (rc) return rc;
    if (bad) *(float *)found_inf = 1.0f;
    const double inv = (float)(1.0 / (double)*(const float *)scale);
    return tl_unary_forward(TL_MUL_SCALAR, dtype, g, g_strides, g, g_strides, ndim, shape, inv, 0.0);
}

/* PyTorch's _amp_update_scale_: after a step with found_inf != 0, scale *= backoff_factor and
 * the tracker restarts; otherwise the tracker counts the clean step and, at growth_interval,
 * scale *= growth_factor (kept only if finite) and the tracker restarts. Products are computed
 * in double and rounded to the float32 scale. */
int tl_amp_update_scale_(void *scale, void *growth_tracker, const void *found_inf,
                         double growth_factor, double backoff_factor, int64_t growth_interval)
{
    float *s = scale;
    int64_t *tracker = growth_tracker;
    if (*(const float *)found_inf != 0.0f) {
        *s = (float)(*s * backoff_factor);
        *tracker = 0;
        return TL_OK;
    }
    const int64_t clean = *tracker + 1;
    if (clean == growth_interval) {
        const float grown = (float)(*s * growth_factor);
        if (isfinite(grown)) *s = grown;
        *tracker = 0;
    } else {
        *tracker = clean;
    }
    return TL_OK;
}
