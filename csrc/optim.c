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
 * optim.inc holds the loops, instantiated through instantiate_float.h for float and double,
 * portable and AVX2+FMA (picked at run time).
 */
#include <math.h>
#include <tgmath.h>
#include "internal.h"

/* One update's arguments for the range kernels of optim.inc: the buffers (NULL where unused),
 * the scalars as double (each kernel rounds them once to its dtype) and the variant flags. */
typedef struct {
    void *p, *buf;
    const void *g;
    double lr, momentum, one_minus_dampening, weight_decay;
    int nesterov, maximize, first_step;
} sgd_args;

typedef struct {
    void *p, *m, *v, *vmax;
    const void *g;
    double step_size, beta1, beta2, eps, weight_decay, decay, bc2_sqrt;
    int decoupled, maximize;
} adam_args;

typedef struct {
    void *p, *sq, *gavg, *buf;
    const void *g;
    double lr, alpha, eps, weight_decay, momentum;
    int maximize;
} rmsprop_args;

/* Run range kernel `name` (float32/float64) over the n elements, split over threads when large;
 * every element is updated on its own, so any split gives the same result. */
#define RUN_RANGES(dtype, name, n, args)                                                        \
    switch (dtype) {                                                                            \
        case TL_F32: return tl_parallel_span(n, 1, PICK_FN(name##f32), &(args));                \
        case TL_F64: return tl_parallel_span(n, 1, PICK_FN(name##f64), &(args));                \
        default: return TL_EDTYPE;                                                              \
    }

/* float and double, portable and AVX2+FMA */
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
    sgd_args a = {p, buf, g, lr, momentum, 1.0 - dampening, weight_decay, nesterov, maximize,
                  first_step};
    RUN_RANGES(dtype, sgd_range_, n, a)
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
    adam_args a = {p, m, v, vmax, g, step_size, beta1, beta2, eps, weight_decay, decay,
                   bias_correction2_sqrt, decoupled, maximize};
    RUN_RANGES(dtype, adam_range_, n, a)
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
    rmsprop_args a = {p, sq, gavg, buf, g, lr, alpha, eps, weight_decay, momentum, maximize};
    RUN_RANGES(dtype, rmsprop_range_, n, a)
}
