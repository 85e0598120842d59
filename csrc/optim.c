/* optim.c - fused, in-place optimizer updates (SGD, Adam/AdamW, RMSprop, Adagrad, Adamax, NAdam,
 * RAdam, Adadelta, Rprop, ASGD).
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

typedef struct {
    void *p, *sum;
    const void *g;
    double clr, eps, weight_decay;
    int maximize;
} adagrad_args;

typedef struct {
    void *p, *m, *u;
    const void *g;
    double clr, beta1, beta2, eps, weight_decay;
    int maximize;
} adamax_args;

/* NAdam and RAdam: Adam's moments, different final steps (c1..c4 as each kernel says). */
typedef struct {
    void *p, *m, *v;
    const void *g;
    double beta1, beta2, eps, weight_decay, decay, c1, c2, c3, c4;
    int decoupled, maximize, rectified;
} nradam_args;

typedef struct {
    void *p, *sq, *acc;
    const void *g;
    double lr, rho, eps, weight_decay;
    int maximize;
} adadelta_args;

typedef struct {
    void *p, *prev, *step_size;
    const void *g;
    double etaminus, etaplus, step_size_min, step_size_max;
    int maximize;
} rprop_args;

typedef struct {
    void *p, *ax;
    const void *g;
    double eta, decay, mu, weight_decay;
    int maximize;
} asgd_args;

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

/* Adagrad. Buffers: p (n,) parameter, updated; g (n,) gradient; sum (n,) running sum of squared
 * gradients, updated (starts at initial_accumulator_value). clr = gamma / (1 + (t - 1) * lr_decay)
 * is computed by the caller for this step t.
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   sum_t = sum_{t-1} + g_t^2
 *   theta_t = theta_{t-1} - clr * g_t / (sqrt(sum_t) + eps)
 */
int tl_adagrad_step(int dtype, void *p, const void *g, void *sum, int64_t n, double clr,
                    double eps, double weight_decay, int maximize) {
    if (n < 0 || (n > 0 && (!p || !g || !sum))) return TL_EINVAL;
    adagrad_args a = {p, sum, g, clr, eps, weight_decay, maximize};
    RUN_RANGES(dtype, adagrad_range_, n, a)
}

/* Adamax. Buffers: p (n,) parameter, updated; g (n,) gradient; m (n,) exp_avg and u (n,) exp_inf
 * (the exponentially weighted infinity norm), updated. bias_correction1 = 1 - beta1^t.
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                     (as lerp, like Adam)
 *   u_t = max(beta2 * u_{t-1}, |g_t| + eps)                       (NaN propagates)
 *   theta_t = theta_{t-1} - (gamma / bias_correction1) * m_t / u_t
 */
int tl_adamax_step(int dtype, void *p, const void *g, void *m, void *u, int64_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay, int maximize,
                   double bias_correction1) {
    if (n < 0 || (n > 0 && (!p || !g || !m || !u))) return TL_EINVAL;
    if (bias_correction1 == 0.0) return TL_EINVAL;
    adamax_args a = {p, m, u, g, lr / bias_correction1, beta1, beta2, eps, weight_decay, maximize};
    RUN_RANGES(dtype, adamax_range_, n, a)
}

/* NAdam. Buffers as Adam's (p, g, m = exp_avg, v = exp_avg_sq). The caller keeps the momentum
 * cache: mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), psi = momentum_decay, and mu_product_t = prod of
 * mu_1..mu_t, and passes bias_correction2 = 1 - beta2^t,
 * grad_coef = gamma (1 - mu_t) / (1 - mu_product_t) and
 * avg_coef = gamma mu_{t+1} / (1 - mu_product_t mu_{t+1}).
 *   g_t = maximize ? -g : g
 *   if decoupled and lambda != 0:  theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)
 *   elif lambda != 0:              g_t = g_t + lambda * theta_{t-1}
 *   m_t = beta1 * m_{t-1} + (1 - beta1) * g_t ;  v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
 *   denom = sqrt(v_t / bias_correction2) + eps
 *   theta_t = theta_{t-1} - grad_coef * g_t / denom - avg_coef * m_t / denom   (in that order)
 */
int tl_nadam_step(int dtype, void *p, const void *g, void *m, void *v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int decoupled,
                  int maximize, double bias_correction2, double grad_coef, double avg_coef) {
    if (n < 0 || (n > 0 && (!p || !g || !m || !v))) return TL_EINVAL;
    if (bias_correction2 == 0.0) return TL_EINVAL;
    nradam_args a = {p, m, v, g, beta1, beta2, eps, weight_decay, 1.0 - lr * weight_decay,
                     bias_correction2, grad_coef, avg_coef, 0.0, decoupled, maximize, 0};
    RUN_RANGES(dtype, nadam_range_, n, a)
}

/* RAdam. Buffers as Adam's. The caller computes, for step t, bias_correction1 = 1 - beta1^t,
 * bias_correction2_sqrt = sqrt(1 - beta2^t) and the variance rectification: rho_inf =
 * 2 / (1 - beta2) - 1, rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t); rectified = rho_t > 5 and
 * then rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
 *   g_t, weight decay, m_t, v_t as NAdam
 *   step = m_t / bias_correction1 * gamma
 *   if rectified:  step = step * (bias_correction2_sqrt / (sqrt(v_t) + eps)) * rect
 *   theta_t = theta_{t-1} - step
 */
int tl_radam_step(int dtype, void *p, const void *g, void *m, void *v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int decoupled,
                  int maximize, double bias_correction1, int rectified,
                  double bias_correction2_sqrt, double rect) {
    if (n < 0 || (n > 0 && (!p || !g || !m || !v))) return TL_EINVAL;
    if (bias_correction1 == 0.0) return TL_EINVAL;
    nradam_args a = {p, m, v, g, beta1, beta2, eps, weight_decay, 1.0 - lr * weight_decay,
                     bias_correction1, lr, bias_correction2_sqrt, rect, decoupled, maximize,
                     rectified != 0};
    RUN_RANGES(dtype, radam_range_, n, a)
}

/* Adadelta. Buffers: p (n,) parameter, updated; g (n,) gradient; sq (n,) square_avg and acc (n,)
 * acc_delta, updated, both starting at zero. rho = the running averages' coefficient.
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   v_t = rho * v_{t-1} + (1 - rho) * g_t^2
 *   delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
 *   u_t = rho * u_{t-1} + (1 - rho) * delta_t^2
 *   theta_t = theta_{t-1} - gamma * delta_t
 */
int tl_adadelta_step(int dtype, void *p, const void *g, void *sq, void *acc, int64_t n,
                     double lr, double rho, double eps, double weight_decay, int maximize) {
    if (n < 0 || (n > 0 && (!p || !g || !sq || !acc))) return TL_EINVAL;
    adadelta_args a = {p, sq, acc, g, lr, rho, eps, weight_decay, maximize};
    RUN_RANGES(dtype, adadelta_range_, n, a)
}

/* Rprop. Buffers: p (n,) parameter, updated; g (n,) gradient; prev (n,) the previous step's
 * (masked) gradient, updated, starting at zero; step_size (n,) per-element step sizes, updated,
 * starting at the learning rate.
 *   g_t = maximize ? -g : g
 *   s = g_t * prev
 *   f = etaplus if s > 0, etaminus if s < 0, else 1 (also for NaN: torch.sign(NaN) = 0)
 *   step_size = clamp(step_size * f, step_size_min, step_size_max)   (NaN propagates)
 *   if f == etaminus:  g_t = 0                  (a sign change: no move this step)
 *   theta_t = theta_{t-1} - sign(g_t) * step_size     (sign(NaN) = 0, as torch.sign)
 *   prev = g_t
 */
int tl_rprop_step(int dtype, void *p, const void *g, void *prev, void *step_size, int64_t n,
                  double etaminus, double etaplus, double step_size_min, double step_size_max,
                  int maximize) {
    if (n < 0 || (n > 0 && (!p || !g || !prev || !step_size))) return TL_EINVAL;
    rprop_args a = {p, prev, step_size, g, etaminus, etaplus, step_size_min, step_size_max,
                    maximize};
    RUN_RANGES(dtype, rprop_range_, n, a)
}

/* ASGD. Buffers: p (n,) parameter, updated; g (n,) gradient; ax (n,) the averaged parameter,
 * updated. The caller keeps the per-parameter scalars eta_t (step size) and mu_t (averaging
 * coefficient) and passes this step's eta, decay = 1 - lambd * eta and mu.
 *   g_t = maximize ? -g : g
 *   if lambda != 0:  g_t = g_t + lambda * theta_{t-1}
 *   theta_t = theta_{t-1} * decay - eta * g_t
 *   ax_t = mu == 1 ? theta_t : ax_{t-1} + (theta_t - ax_{t-1}) * mu
 */
int tl_asgd_step(int dtype, void *p, const void *g, void *ax, int64_t n, double eta,
                 double decay, double mu, double weight_decay, int maximize) {
    if (n < 0 || (n > 0 && (!p || !g || !ax))) return TL_EINVAL;
    asgd_args a = {p, ax, g, eta, decay, mu, weight_decay, maximize};
    RUN_RANGES(dtype, asgd_range_, n, a)
}
