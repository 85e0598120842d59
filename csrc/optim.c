/* optim.c - fused, in-place optimizer updates (SGD, Adam/AdamW, RMSprop).
 *
 * An optimizer step is a handful of elementwise operations over a parameter, its gradient and
 * one to three state buffers. Run as separate tensor ops, each would read and write the whole
 * buffer again; here each kernel makes one pass over memory. Python (tinygrad_lab/optim/) keeps
 * the step counts, computes per-step scalars such as Adam's bias corrections, and passes
 * contiguous buffers of n elements; state buffers are updated in place.
 *
 * Notation (PyTorch's documented algorithms): theta = parameter, g = gradient, gamma = lr,
 * lambda = weight_decay, mu = momentum, tau = dampening, t = step number (starting at 1).
 * Scalars arrive as double and are rounded once to the parameter's dtype.
 */
#include <math.h>
#include <tgmath.h>
#include "internal.h"

/* Split [0, n) into one contiguous chunk per thread when n is large enough for OpenMP to pay
 * off, and run BODY with the chunk's bounds in LO and HI. */
#define TL_FOR_CHUNKS(n, LO, HI, ...)                                                          \
    do {                                                                                        \
        const int64_t _n = (n);                                                                 \
        int _nt = (int)(_n / TL_PAR_MIN);                                                       \
        if (_nt > tl__num_threads) _nt = tl__num_threads;                                       \
        if (_nt < 1) _nt = 1;                                                                   \
        _Pragma("omp parallel for num_threads(_nt) if(_nt > 1) schedule(static)")              \
        for (int _t = 0; _t < _nt; _t++) {                                                      \
            const int64_t LO = _n * _t / _nt, HI = _n * (_t + 1) / _nt;                         \
            __VA_ARGS__;                                                                        \
        }                                                                                       \
    } while (0)

/* float and double, portable and AVX2+FMA; defines PICK */
#define TL_TEMPLATE "optim.inc"
#include "instantiate_float.h"

/* SGD. Buffers: p (n,) parameter, updated; g (n,) gradient; buf (n,) momentum buffer, updated,
 * NULL when momentum == 0 (then momentum/dampening/nesterov/first_step are ignored).
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   if mu != 0:      b_t = g_t                                   (first step: buffer := gradient)
 *                    b_t = mu * b_{t-1} + (1 - tau) * g_t        (later steps)
 *                    g_t = nesterov ? g_t + mu * b_t : b_t
 *   theta_t = theta_{t-1} - gamma * g_t
 */
int tl_sgd_step(int dtype, void *p, const void *g, void *buf, int64_t n, double lr,
                double momentum, double dampening, double weight_decay, int nesterov,
                int maximize, int first_step) {
    if (n < 0 || (n > 0 && (!p || !g))) return TL_EINVAL;
    nesterov = nesterov && buf;
    switch (dtype) {
        case TL_F32:
            TL_FOR_CHUNKS(n, lo, hi, PICK(sgd_range_f32, ((float *)p, (const float *)g,
                (float *)buf, lo, hi, (float)lr, (float)momentum, (float)(1.0 - dampening),
                (float)weight_decay, nesterov, maximize, first_step)));
            return TL_OK;
        case TL_F64:
            TL_FOR_CHUNKS(n, lo, hi, PICK(sgd_range_f64, ((double *)p, (const double *)g,
                (double *)buf, lo, hi, lr, momentum, 1.0 - dampening, weight_decay, nesterov,
                maximize, first_step)));
            return TL_OK;
        default:
            return TL_EDTYPE;
    }
}

/* Adam and AdamW. Buffers: p (n,) parameter, updated; g (n,) gradient; m (n,) first moment
 * (exp_avg) and v (n,) second moment (exp_avg_sq), updated; vmax (n,) running maximum of v
 * (max_exp_avg_sq), updated, NULL unless amsgrad. bias_correction1 = 1 - beta1^t and
 * bias_correction2_sqrt = sqrt(1 - beta2^t) are computed by the caller for this step t.
 *   g_t = maximize ? -g : g
 *   if decoupled (AdamW):  theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)
 *   elif lambda != 0:      g_t = g_t + lambda * theta_{t-1}
 *   m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
 *   v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
 *   vhat_t = amsgrad ? (vmax_t = max(vmax_{t-1}, v_t)) : v_t
 *   denom = sqrt(vhat_t) / bias_correction2_sqrt + eps
 *   theta_t = theta_{t-1} - (gamma / bias_correction1) * m_t / denom
 * (the same as theta - gamma * mhat / (sqrt(vhat / (1 - beta2^t)) + eps), mhat = m / (1 - beta1^t),
 * in the order PyTorch evaluates it).
 */
int tl_adam_step(int dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                 double lr, double beta1, double beta2, double eps, double weight_decay,
                 int decoupled, int maximize, double bias_correction1,
                 double bias_correction2_sqrt) {
    if (n < 0 || (n > 0 && (!p || !g || !m || !v))) return TL_EINVAL;
    if (bias_correction1 == 0.0 || bias_correction2_sqrt == 0.0) return TL_EINVAL;
    const double step_size = lr / bias_correction1, decay = 1.0 - lr * weight_decay;
    switch (dtype) {
        case TL_F32:
            TL_FOR_CHUNKS(n, lo, hi, PICK(adam_range_f32, ((float *)p, (const float *)g,
                (float *)m, (float *)v, (float *)vmax, lo, hi, (float)step_size, (float)beta1,
                (float)beta2, (float)eps, (float)weight_decay, (float)decay, decoupled,
                maximize, (float)bias_correction2_sqrt)));
            return TL_OK;
        case TL_F64:
            TL_FOR_CHUNKS(n, lo, hi, PICK(adam_range_f64, ((double *)p, (const double *)g,
                (double *)m, (double *)v, (double *)vmax, lo, hi, step_size, beta1, beta2, eps,
                weight_decay, decay, decoupled, maximize, bias_correction2_sqrt)));
            return TL_OK;
        default:
            return TL_EDTYPE;
    }
}

/* RMSprop. Buffers: p (n,) parameter, updated; g (n,) gradient; sq (n,) square_avg, updated;
 * gavg (n,) grad_avg, updated, NULL unless centered; buf (n,) momentum_buffer, updated, NULL
 * unless momentum > 0. All state starts at zero.
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
 *   vtilde_t = v_t
 *   if centered:     gave_t = alpha * gave_{t-1} + (1 - alpha) * g_t
 *                    vtilde_t = vtilde_t - gave_t^2
 *   if mu > 0:       b_t = mu * b_{t-1} + g_t / (sqrt(vtilde_t) + eps)
 *                    theta_t = theta_{t-1} - gamma * b_t
 *   else:            theta_t = theta_{t-1} - gamma * g_t / (sqrt(vtilde_t) + eps)
 */
int tl_rmsprop_step(int dtype, void *p, const void *g, void *sq, void *gavg, void *buf,
                    int64_t n, double lr, double alpha, double eps, double weight_decay,
                    double momentum, int maximize) {
    if (n < 0 || (n > 0 && (!p || !g || !sq))) return TL_EINVAL;
    switch (dtype) {
        case TL_F32:
            TL_FOR_CHUNKS(n, lo, hi, PICK(rmsprop_range_f32, ((float *)p, (const float *)g,
                (float *)sq, (float *)gavg, (float *)buf, lo, hi, (float)lr, (float)alpha,
                (float)eps, (float)weight_decay, (float)momentum, maximize)));
            return TL_OK;
        case TL_F64:
            TL_FOR_CHUNKS(n, lo, hi, PICK(rmsprop_range_f64, ((double *)p, (const double *)g,
                (double *)sq, (double *)gavg, (double *)buf, lo, hi, lr, alpha, eps,
                weight_decay, momentum, maximize)));
            return TL_OK;
        default:
            return TL_EDTYPE;
    }
}
