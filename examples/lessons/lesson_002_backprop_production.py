"""Lesson 002, "Backpropagation From Scratch" (the production lesson): every listing, run.

NumPy listings (the 3-layer MLP with manual backprop, numerical gradient checking) and the
pure-Python micrograd Value engine run as written, each cross-checked against tinygrad_lab's
autograd. PyTorch listings (custom autograd Functions, the five common bugs, gradient-flow
inspection and hooks) are ported by changing only the imports and the names API.md maps
(`torch` -> `tl`, `torch.nn` -> `tl.nn`, `from torch.autograd import Function, gradcheck` ->
`from tinygrad_lab.autograd import ...`). Concept sections make the lesson's prose runnable:
Jacobians and vector-Jacobian products, forward vs reverse mode, gradient checkpointing,
gradient accumulation, mixed precision, second-order gradients, and the NaN checklist of Q6.

What really happens where the lesson says otherwise:
  * Bug 3: `y = x + 1; y.relu_(); y.sum().backward()` does NOT raise -- addition saves nothing
    that relu_ overwrites, so PyTorch (and tl) accept it and x.grad is the relu mask. It raises
    when the op before relu_ saved its output (exp, sigmoid, tanh): shown next to it.

    python examples/lessons/lesson_002_backprop_production.py
    python examples/lessons/lesson_002_backprop_production.py --quick
"""
import math
import sys
from typing import Callable, Dict, Set, Union

import numpy as np

import _lesson as lesson
from _lesson import agree, show

import tinygrad_lab as tl                     # the lesson's `import torch`
import tinygrad_lab.nn as nn                  # `import torch.nn as nn`
from tinygrad_lab.autograd import Function    # `from torch.autograd import Function`
from tinygrad_lab.autograd import gradcheck   # `from torch.autograd import gradcheck`

F64 = tl.float64


# ---------------------------------------------------------------------------------------------
# Concepts: "The Chain Rule: From Scalar to Matrix", "Reverse-Mode vs Forward-Mode Autodiff".
# ---------------------------------------------------------------------------------------------
# Lesson 002, "Jacobians for Common Operations" (prose): linear, element-wise, softmax; the VJP.
@lesson.listing("Jacobians for Common Operations: linear J = W, element-wise diagonal, softmax "
                "diag(s) - s s^T; the VJP J^T v", "concept")
def concept_jacobians_and_vjps(run):
    tl.manual_seed(0)
    W = tl.randn(3, 4, dtype=F64)
    x = tl.randn(4, dtype=F64)
    J = tl.autograd.functional.jacobian(lambda x: W @ x, x)
    agree("Jacobian of x -> W x is W", J, W, atol=1e-12)
    J = tl.autograd.functional.jacobian(lambda x: tl.sigmoid(x), x)
    s = tl.sigmoid(x)
    agree("Jacobian of sigmoid is diag(s (1 - s))", J, tl.eye(4, dtype=F64) * (s * (1 - s)), atol=1e-12)
    z = tl.randn(5, dtype=F64)
    s = tl.softmax(z, dim=0)
    J = tl.autograd.functional.jacobian(lambda z: tl.softmax(z, dim=0), z)
    agree("Jacobian of softmax is diag(s) - s s^T", J,
          tl.eye(5, dtype=F64) * s - s.unsqueeze(1) * s.unsqueeze(0), atol=1e-12)
    v = tl.randn(5, dtype=F64)
    _, vjp = tl.autograd.functional.vjp(lambda z: tl.softmax(z, dim=0), z, v)
    agree("VJP J^T v (functional.vjp) vs the matrix product", vjp, J.T @ v, atol=1e-12)
    agree("softmax VJP s * (v - (v . s)) (no Jacobian formed)", vjp, s * (v - (v * s).sum()), atol=1e-12)


# Lesson 002, "Reverse-Mode vs Forward-Mode Autodiff" (prose): which mode wins when.
@lesson.listing("Forward mode (JVP, few inputs -> many outputs) vs reverse mode (VJP, many "
                "inputs -> a scalar)", "concept")
def concept_forward_vs_reverse_mode(run):
    tl.manual_seed(0)
    t = tl.linspace(0, 1, 1000, dtype=F64)

    def simulation(p):                        # 2 parameters -> 1,000 output metrics
        return p[0] * tl.sin(3 * t) + p[1] ** 2 * t

    p = tl.tensor([0.5, -1.5], dtype=F64)
    cols = [tl.autograd.functional.jvp(simulation, p, e)[1] for e in tl.eye(2, dtype=F64)]
    J = tl.autograd.functional.jacobian(simulation, p)
    agree("2 forward-mode passes (jvp) give the whole 1000 x 2 Jacobian", tl.stack(cols, dim=1), J,
          atol=1e-12)
    w = tl.randn(1000, dtype=F64, requires_grad=True)
    loss = (tl.tanh(w) ** 2).sum()               # 1,000 inputs -> one scalar
    (g,) = tl.autograd.grad(loss, w)
    agree("1 reverse-mode pass gives all 1,000 partial derivatives",
          g, 2 * tl.tanh(w) * (1 - tl.tanh(w) ** 2), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Lesson 002, listing "NumPy Implementation: 3-Layer MLP from Scratch" (as written).
# ---------------------------------------------------------------------------------------------
def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable sigmoid."""
    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))


def sigmoid_grad(h: np.ndarray) -> np.ndarray:
    """Gradient of sigmoid given its output h = sigmoid(z)."""
    return h * (1 - h)


def softmax(z: np.ndarray) -> np.ndarray:
    """Numerically stable softmax."""
    z_shifted = z - z.max(axis=1, keepdims=True)
    exp_z = np.exp(z_shifted)
    return exp_z / exp_z.sum(axis=1, keepdims=True)


def cross_entropy_loss(p: np.ndarray, y_onehot: np.ndarray) -> float:
    """Cross-entropy loss. p: predicted probabilities, y_onehot: one-hot targets."""
    eps = 1e-12
    return -np.mean(np.sum(y_onehot * np.log(p + eps), axis=1))


class ThreeLayerMLP:
    """
    3-layer MLP (2 hidden + 1 output) with sigmoid hidden activations.
    Loss: softmax + cross-entropy.
    All gradients computed manually via backprop.
    """

    def __init__(
        self,
        d0: int,  # input dimension
        d1: int,  # hidden layer 1 dimension
        d2: int,  # hidden layer 2 dimension
        K: int,   # output dimension (number of classes)
        seed: int = 42,
    ):
        rng = np.random.default_rng(seed)

        # He initialization for sigmoid (use sqrt(2/n) for ReLU, sqrt(1/n) for sigmoid/tanh)
        def he_init(fan_in: int, fan_out: int) -> np.ndarray:
            return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)

        self.params: Dict[str, np.ndarray] = {
            "W1": he_init(d0, d1),
            "b1": np.zeros(d1),
            "W2": he_init(d1, d2),
            "b2": np.zeros(d2),
            "W3": he_init(d2, K),
            "b3": np.zeros(K),
        }
        # Cache for backward pass - populated during forward
        self.cache: Dict[str, np.ndarray] = {}

    def forward(self, X: np.ndarray) -> np.ndarray:
        """
        Forward pass.
        X: (B, d0)
        Returns: predicted probabilities (B, K)
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        # Layer 1
        Z1 = X @ W1 + b1  # (B, d1)
        H1 = sigmoid(Z1)  # (B, d1)
        # Layer 2
        Z2 = H1 @ W2 + b2  # (B, d2)
        H2 = sigmoid(Z2)  # (B, d2)
        # Output layer
        Z3 = H2 @ W3 + b3  # (B, K)
        P = softmax(Z3)  # (B, K)
        # Store everything needed for backward
        self.cache = {
            "X": X, "Z1": Z1, "H1": H1,
            "Z2": Z2, "H2": H2,
            "Z3": Z3, "P": P,
        }
        return P

    def backward(self, Y_onehot: np.ndarray) -> Dict[str, np.ndarray]:
        """
        Backward pass. Computes gradients for all parameters.
        Y_onehot: (B, K) one-hot encoded targets.
        Returns: dict of gradients matching self.params keys.
        """
        X = self.cache["X"]
        H1 = self.cache["H1"]
        H2 = self.cache["H2"]
        P = self.cache["P"]
        W2 = self.params["W2"]
        W3 = self.params["W3"]
        B = X.shape[0]
        # --- Output layer: softmax + cross-entropy combined gradient ---
        # dL/dZ3 = (P - Y) / B
        delta3 = (P - Y_onehot) / B  # (B, K)
        dW3 = H2.T @ delta3  # (d2, K) - correct shape matches W3
        db3 = delta3.sum(axis=0)  # (K,)
        # --- Propagate through layer 2 linear to H2 ---
        dH2 = delta3 @ W3.T  # (B, d2)
        # --- Through sigmoid at layer 2 ---
        # dL/dZ2 = dL/dH2 * sigmoid'(Z2) = dL/dH2 * H2 * (1 - H2)
        delta2 = dH2 * sigmoid_grad(H2)  # (B, d2)
        dW2 = H1.T @ delta2  # (d1, d2)
        db2 = delta2.sum(axis=0)  # (d2,)
        # --- Propagate through layer 1 linear to H1 ---
        dH1 = delta2 @ W2.T  # (B, d1)
        # --- Through sigmoid at layer 1 ---
        delta1 = dH1 * sigmoid_grad(H1)  # (B, d1)
        dW1 = X.T @ delta1  # (d0, d1)
        db1 = delta1.sum(axis=0)  # (d1,)
        return {
            "W1": dW1, "b1": db1,
            "W2": dW2, "b2": db2,
            "W3": dW3, "b3": db3,
        }

    def loss(self, X: np.ndarray, Y_onehot: np.ndarray) -> float:
        P = self.forward(X)
        return cross_entropy_loss(P, Y_onehot)


def train_mlp(epochs=201):
    """Train the 3-layer MLP on synthetic data, verify loss decreases."""
    np.random.seed(42)
    # Synthetic 3-class dataset
    N, d0, K = 200, 4, 3
    X = np.random.randn(N, d0)
    labels = np.random.randint(0, K, size=N)
    Y_onehot = np.eye(K)[labels]
    model = ThreeLayerMLP(d0=d0, d1=32, d2=16, K=K)
    lr = 0.1
    print("Training 3-layer MLP with manual backprop:")
    for epoch in range(epochs):
        # Forward
        P = model.forward(X)
        loss = cross_entropy_loss(P, Y_onehot)
        if epoch % 20 == 0:
            acc = (P.argmax(axis=1) == labels).mean()
            print(f"  Epoch {epoch:>3}: loss = {loss:.4f}, acc = {acc:.3f}")
        # Backward
        grads = model.backward(Y_onehot)
        # SGD update
        for key in model.params:
            model.params[key] -= lr * grads[key]
    return model, X, Y_onehot


def tl_mlp_loss(params, X, Y_onehot):
    """The ThreeLayerMLP's forward and loss written with tl ops (for the autograd cross-checks)."""
    H1 = tl.sigmoid(X @ params["W1"] + params["b1"])
    H2 = tl.sigmoid(H1 @ params["W2"] + params["b2"])
    P = tl.softmax(H2 @ params["W3"] + params["b3"], dim=1)
    return -tl.mean(tl.sum(Y_onehot * tl.log(P + 1e-12), dim=1))


@lesson.listing("NumPy Implementation: 3-Layer MLP from Scratch (train_mlp)")
def numpy_three_layer_mlp(run):
    model, X, Y_onehot = train_mlp(epochs=61 if run.quick else 201)
    model.forward(X)
    manual = model.backward(Y_onehot)
    params = {k: tl.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tl_mlp_loss(params, tl.tensor(X), tl.tensor(Y_onehot)).backward()
    agree("loss vs tl", model.loss(X, Y_onehot),
          tl_mlp_loss(params, tl.tensor(X), tl.tensor(Y_onehot)), atol=1e-12)
    for k in model.params:
        agree(f"d{k}: manual backward vs tl autograd", manual[k], params[k].grad, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Lesson 002, listing "Numerical Gradient Checking" (as written).
# ---------------------------------------------------------------------------------------------
def numerical_gradient(
    loss_fn: Callable[[np.ndarray], float],
    param: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """
    Compute numerical gradient of loss_fn with respect to param.
    Uses centered finite differences: (f(x+eps) - f(x-eps)) / (2*eps).
    """
    grad = np.zeros_like(param)
    it = np.nditer(param, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        orig = param[idx]
        param[idx] = orig + eps
        f_plus = loss_fn(param)
        param[idx] = orig - eps
        f_minus = loss_fn(param)
        param[idx] = orig  # restore
        grad[idx] = (f_plus - f_minus) / (2 * eps)
        it.iternext()
    return grad


def gradient_check(model: ThreeLayerMLP, X: np.ndarray, Y: np.ndarray, eps: float = 1e-5):
    """
    Compare analytical (backprop) gradients to numerical gradients.
    Prints relative error for each parameter.
    """
    # Compute analytical gradients
    model.forward(X)
    analytical = model.backward(Y)
    print("\nGradient Check (analytical vs numerical):")
    print(f"{'Parameter':<12} {'Max Abs Diff':>14} {'Relative Error':>16} {'Status':>8}")
    print("-" * 55)
    all_pass = True
    for name, param in model.params.items():
        # Capture name in closure properly
        def make_loss(param_ref, other_params):
            def loss_fn(p):
                # Temporarily set this param
                saved = param_ref.copy()
                param_ref[:] = p.reshape(param_ref.shape)
                val = model.loss(X, Y)
                param_ref[:] = saved
                return val
            return loss_fn
        # Numerical gradient for this parameter
        num_grad = numerical_gradient(
            lambda p: model.loss(X, Y),
            param,
            eps=eps,
        )
        a = analytical[name]
        n = num_grad
        max_abs = np.abs(a - n).max()
        denom = max(np.abs(a).max(), np.abs(n).max(), 1e-8)
        rel_err = max_abs / denom
        status = "PASS" if rel_err < 1e-4 else "FAIL"
        if rel_err >= 1e-4:
            all_pass = False
        print(f"{name:<12} {max_abs:>14.2e} {rel_err:>16.2e} {status:>8}")
    print(f"\nOverall: {'ALL PASS' if all_pass else 'SOME FAIL'}")
    return all_pass


@lesson.listing("Numerical Gradient Checking (numerical_gradient, gradient_check)")
def numerical_gradient_checking(run):
    rng = np.random.default_rng(0)             # wrapper: the lesson defines but never calls it
    X = rng.standard_normal((6, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    model = ThreeLayerMLP(d0=4, d1=5, d2=4, K=3)
    assert gradient_check(model, X, Y)
    params = [tl.tensor(model.params[k], requires_grad=True) for k in model.params]
    Xt, Yt = tl.tensor(X), tl.tensor(Y)
    ok = gradcheck(lambda *ps: tl_mlp_loss(dict(zip(model.params, ps)), Xt, Yt), params,
                   eps=1e-6, atol=1e-5)
    show("tl.autograd.gradcheck on the same loss, all six parameters", ok, "ALL PASS")


# ---------------------------------------------------------------------------------------------
# Lesson 002, listing "PyTorch Custom Autograd Function" (SigmoidFunction).
# ---------------------------------------------------------------------------------------------
class SigmoidFunction(Function):
    """
    Custom sigmoid implementation to illustrate the autograd.Function API.
    In practice, use torch.sigmoid - this is for learning purposes.
    """

    @staticmethod
    def forward(ctx, x: tl.Tensor) -> tl.Tensor:
        """
        ctx is the context object. Save tensors here for use in backward.
        forward() must be @staticmethod - no self.
        """
        output = tl.sigmoid(x)
        # Save output (not input) because sigmoid gradient uses the output value
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad_output: tl.Tensor) -> tl.Tensor:
        """
        grad_output: gradient of loss w.r.t. this function's output.
        Return: gradient of loss w.r.t. this function's input.
        Must return one tensor per input to forward().
        """
        (output,) = ctx.saved_tensors
        # dL/dx = dL/d(output) * output * (1 - output)
        return grad_output * output * (1 - output)


@lesson.listing("PyTorch Custom Autograd Function: SigmoidFunction + gradcheck")
def custom_function_sigmoid(run):
    tl.manual_seed(0)
    # Usage
    sigmoid_fn = SigmoidFunction.apply
    x = tl.randn(4, 8, requires_grad=True)
    y = sigmoid_fn(x)
    loss = y.sum()
    loss.backward()
    print(f"Analytical grad norm: {x.grad.norm():.4f}")
    # Verify with gradcheck
    x_check = tl.randn(3, 4, dtype=tl.float64, requires_grad=True)
    result = gradcheck(SigmoidFunction.apply, (x_check,), eps=1e-6, atol=1e-4)
    print(f"gradcheck passed: {result}")
    x2 = x.detach().clone().requires_grad_()
    tl.sigmoid(x2).sum().backward()
    agree("x.grad vs the built-in sigmoid's", x.grad, x2.grad, atol=1e-7)


# Lesson 002, listing "PyTorch Custom Autograd Function" (CustomScaledDotAttention).
class CustomScaledDotAttention(Function):
    """
    Fused scaled dot-product attention backward - common in production.
    This illustrates the pattern; a real implementation would use CUDA.
    """

    @staticmethod
    def forward(ctx, Q: tl.Tensor, K: tl.Tensor, V: tl.Tensor) -> tl.Tensor:
        """
        Q, K, V: (B, T, d_k)
        Output: (B, T, d_k)
        """
        d_k = Q.shape[-1]
        scale = d_k ** -0.5
        # Compute attention weights
        scores = tl.bmm(Q, K.transpose(-2, -1)) * scale  # (B, T, T)
        weights = tl.softmax(scores, dim=-1)  # (B, T, T)
        output = tl.bmm(weights, V)  # (B, T, d_k)
        # Save for backward
        ctx.save_for_backward(Q, K, V, weights)
        ctx.scale = scale
        return output

    @staticmethod
    def backward(ctx, grad_output: tl.Tensor):
        """
        grad_output: (B, T, d_k) - gradient w.r.t. attention output
        Returns: gradients for Q, K, V
        """
        Q, K, V, weights = ctx.saved_tensors
        scale = ctx.scale
        # Gradient w.r.t. V: dL/dV = weights^T @ grad_output
        grad_V = tl.bmm(weights.transpose(-2, -1), grad_output)  # (B, T, d_k)
        # Gradient w.r.t. attention weights: dL/d(weights) = grad_output @ V^T
        grad_weights = tl.bmm(grad_output, V.transpose(-2, -1))  # (B, T, T)
        # Gradient through softmax
        # dL/d(scores) = softmax_backward(weights, grad_weights)
        # = weights * (grad_weights - (weights * grad_weights).sum(-1, keepdim=True))
        sum_term = (weights * grad_weights).sum(dim=-1, keepdim=True)
        grad_scores = weights * (grad_weights - sum_term) * scale  # (B, T, T)
        # Gradient w.r.t. Q: dL/dQ = grad_scores @ K
        grad_Q = tl.bmm(grad_scores, K)  # (B, T, d_k)
        # Gradient w.r.t. K: dL/dK = grad_scores^T @ Q
        grad_K = tl.bmm(grad_scores.transpose(-2, -1), Q)  # (B, T, d_k)
        return grad_Q, grad_K, grad_V


@lesson.listing("PyTorch Custom Autograd Function: CustomScaledDotAttention + gradcheck")
def custom_function_attention(run):
    tl.manual_seed(0)
    # Verify correctness
    B, T, d_k = 2, 4, 8
    Q = tl.randn(B, T, d_k, dtype=tl.float64, requires_grad=True)
    K = tl.randn(B, T, d_k, dtype=tl.float64, requires_grad=True)
    V = tl.randn(B, T, d_k, dtype=tl.float64, requires_grad=True)
    result = gradcheck(CustomScaledDotAttention.apply, (Q, K, V), eps=1e-6, atol=1e-4)
    print(f"Attention gradcheck: {result}")
    out = CustomScaledDotAttention.apply(Q, K, V)
    ref = tl.softmax(Q @ K.transpose(-2, -1) * d_k ** -0.5, dim=-1) @ V
    agree("output vs softmax(Q K^T / sqrt(d_k)) V with built-in ops", out, ref, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Lesson 002, listing "Micrograd: Building Autograd from Scratch" (as written).
# ---------------------------------------------------------------------------------------------
class Value:
    """
    Scalar value in a computational graph with reverse-mode autodiff.
    Implements: +, -, *, /, **, exp, log, relu, tanh, sigmoid.
    """

    def __init__(
        self,
        data: float,
        _children: tuple = (),
        _op: str = "",
        label: str = "",
    ):
        self.data = float(data)
        self.grad = 0.0  # dL/d(self), accumulated
        self._backward: Callable = lambda: None
        self._prev: Set["Value"] = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self) -> str:
        return f"Value({self.data:.4f}, grad={self.grad:.4f}, op='{self._op}')"

    # --- Forward operations ---
    def __add__(self, other: Union["Value", float]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            # Gradient of (a + b) w.r.t. a = 1, w.r.t. b = 1
            # += because a node can be used in multiple places (multivariate chain rule)
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other: Union["Value", float]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            # Gradient of (a * b) w.r.t. a = b, w.r.t. b = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> "Value":
        assert isinstance(exponent, (int, float))
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def _backward():
            # d/dx of x^n = n * x^(n-1)
            self.grad += exponent * (self.data ** (exponent - 1)) * out.grad
        out._backward = _backward
        return out

    def exp(self) -> "Value":
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward():
            # d/dx of exp(x) = exp(x) - stored as e
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self) -> "Value":
        assert self.data > 0, f"log({self.data}) undefined"
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            # d/dx of log(x) = 1/x
            self.grad += (1.0 / self.data) * out.grad
        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(max(0.0, self.data), (self,), "ReLU")

        def _backward():
            # d/dx of ReLU(x) = 1 if x > 0 else 0
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            # d/dx of tanh(x) = 1 - tanh^2(x)
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        s = 1.0 / (1.0 + math.exp(-self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        """
        Run backpropagation from this node.
        Call on the loss value after the full forward pass.
        """
        # Topological sort: process each node after all its dependents
        topo: list["Value"] = []
        visited: Set[int] = set()

        def build_topo(v: "Value"):
            if id(v) not in visited:
                visited.add(id(v))
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        # Gradient of loss w.r.t. itself = 1
        self.grad = 1.0
        # Reverse topological order: from output to inputs
        for node in reversed(topo):
            node._backward()

    # --- Python operator overloads ---
    def __neg__(self) -> "Value": return self * -1
    def __sub__(self, other): return self + (-other)
    def __truediv__(self, other): return self * other ** -1
    def __radd__(self, other): return self + other
    def __rmul__(self, other): return self * other
    def __rsub__(self, other): return other + (-self)
    def __rtruediv__(self, other): return other * self ** -1


def demo_2neuron_network():
    """Demonstrate backward pass through a tiny 2-neuron network."""
    # Inputs
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    # Weights and bias (hand-picked to give interesting gradients)
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.881, label="b")
    # Layer computation
    z = x1 * w1 + x2 * w2 + b
    h = z.tanh()
    # Loss = output (so dL/dh = 1, making this equivalent to maximizing h)
    h.backward()
    print("=== Network Gradients ===")
    print(f"x1.grad = {x1.grad:.4f} (how much increasing x1 increases h)")
    print(f"x2.grad = {x2.grad:.4f} (how much increasing x2 increases h)")
    print(f"w1.grad = {w1.grad:.4f} (how much increasing w1 increases h)")
    print(f"w2.grad = {w2.grad:.4f} (how much increasing w2 increases h)")
    print(f"b.grad = {b.grad:.4f} (how much increasing b increases h)")
    # Cross-check with PyTorch (here: tinygrad_lab; the lesson's `import torch` is at the top)
    x1t = tl.tensor(2.0, requires_grad=True)
    x2t = tl.tensor(0.0, requires_grad=True)
    w1t = tl.tensor(-3.0, requires_grad=True)
    w2t = tl.tensor(1.0, requires_grad=True)
    bt = tl.tensor(6.881, requires_grad=True)
    zt = x1t * w1t + x2t * w2t + bt
    ht = zt.tanh()
    ht.backward()
    print("\n=== PyTorch Cross-Check ===")
    print(f"x1.grad = {x1t.grad:.4f}")
    print(f"w1.grad = {w1t.grad:.4f}")
    print(f"b.grad = {bt.grad:.4f}")
    return (x1, x2, w1, w2, b), (x1t, x2t, w1t, w2t, bt)


@lesson.listing("Micrograd: Building Autograd from Scratch (Value, demo_2neuron_network)")
def micrograd_value_demo(run):
    values, tensors = demo_2neuron_network()
    agree("all five gradients: Value engine vs tl", [v.grad for v in values],
          [t.grad for t in tensors], atol=1e-5)
    a, b = Value(1.5), Value(0.4)                # every operator of the listing, once
    out = ((a * b + a / b - b ** 3).exp() / 10 + (a - b).relu() - (-a).sigmoid() + b.log()).tanh()
    out.backward()
    ta = tl.tensor(1.5, dtype=F64, requires_grad=True)
    tb = tl.tensor(0.4, dtype=F64, requires_grad=True)
    tout = ((ta * tb + ta / tb - tb ** 3).exp() / 10 + (ta - tb).relu() - (-ta).sigmoid()
            + tb.log()).tanh()
    tout.backward()
    agree("+ - * / ** exp log relu tanh sigmoid through one expression vs tl",
          [out.data, a.grad, b.grad], [tout, ta.grad, tb.grad], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Lesson 002, "Common Backprop Bugs" 1-5.
# ---------------------------------------------------------------------------------------------
@lesson.listing("Bug 1: Shape Transposition in Weight Gradient")
def bug1_shape_transposition(run):
    tl.manual_seed(0)
    for B, d_in, d_out in ((8, 5, 3), (8, 4, 4), (4, 4, 4)):  # wrapper: a batch through y = H W^T
        H = tl.randn(B, d_in, dtype=F64)
        W = tl.randn(d_out, d_in, dtype=F64, requires_grad=True)
        upstream_grad = tl.randn(B, d_out, dtype=F64)
        ((H @ W.T) * upstream_grad).sum().div(B).backward()   # so dL/dW = upstream^T H / B
        try:
            # WRONG: produces incorrect gradient for non-square W
            dW = upstream_grad @ H.T  # shape may be wrong for non-square case
        except (ValueError, RuntimeError) as e:           # tl: ValueError, PyTorch: RuntimeError
            wrong = f"raises {type(e).__name__} ({str(e)[:60]}...)"
        else:
            wrong = dW
        # CORRECT: (d_out, B).T @ (B, d_in) -> (d_out, d_in) which matches W shape
        dW = (1/B) * upstream_grad.T @ H
        print(f"  B={B}, W {tuple(W.shape)}: correct dW {tuple(dW.shape)}; wrong dW "
              + (wrong if isinstance(wrong, str) else f"{tuple(wrong.shape)}"))
        agree("    correct dW vs tl autograd", dW, W.grad, atol=1e-12)
        if not isinstance(wrong, str) and wrong.shape == W.shape:
            diff = (wrong - W.grad).abs().max().item()
            print(f"    all square: the wrong dW has W's shape, so nothing complains -- yet it is off "
                  f"by up to {diff:.2f}")
            assert diff > 1e-3
    print("  What really happens: for a non-square W the wrong line cannot even multiply (a shape\n"
          "  error, caught at once); a square W with B != d gives a (B, B) 'gradient' that fails at\n"
          "  the update; only when B, d_in and d_out are all equal does the bug pass silently.")


def small_loader(n_batches=3, batch=4, seed=0):
    """Wrapper: a seeded regression set in a tl DataLoader (no shuffling, so batches repeat)."""
    g = np.random.default_rng(seed)
    X = tl.tensor(g.standard_normal((n_batches * batch, 3)).astype(np.float32))
    y = tl.tensor(g.standard_normal((n_batches * batch, 1)).astype(np.float32))
    return tl.utils.data.DataLoader(tl.utils.data.TensorDataset(X, y), batch_size=batch)


@lesson.listing("Bug 2: Forgetting optimizer.zero_grad()")
def bug2_forgetting_zero_grad(run):
    loader = small_loader()
    criterion = nn.MSELoss()
    grads = {}
    for variant in ("WRONG", "CORRECT"):
        tl.manual_seed(0)
        model = nn.Linear(3, 1)
        # lr=0: the weights stay put, so the accumulated gradient can be compared batch by batch
        optimizer = tl.optim.SGD(model.parameters(), lr=0.0)
        if variant == "WRONG":
            # WRONG - gradients double, triple, ... with each batch
            for batch_x, batch_y in loader:
                loss = criterion(model(batch_x), batch_y)
                loss.backward()
                optimizer.step()
        else:
            # CORRECT
            for batch_x, batch_y in loader:
                optimizer.zero_grad(set_to_none=True)  # set_to_none=True is slightly faster
                loss = criterion(model(batch_x), batch_y)
                loss.backward()
                optimizer.step()
        grads[variant] = model.weight.grad.clone()
    per_batch = []
    for batch_x, batch_y in loader:
        model.zero_grad()
        criterion(model(batch_x), batch_y).backward()
        per_batch.append(model.weight.grad.clone())
    agree("WRONG: .grad after 3 batches = the sum of the 3 batch gradients", grads["WRONG"],
          per_batch[0] + per_batch[1] + per_batch[2], atol=1e-6)
    agree("CORRECT: .grad = the last batch's gradient only", grads["CORRECT"], per_batch[2], atol=1e-6)


@lesson.listing("Bug 3: In-Place Operations Breaking the Graph (y.relu_())")
def bug3_inplace_relu(run):
    tl.manual_seed(0)
    # WRONG
    x = tl.randn(3, requires_grad=True)
    y = x + 1
    y.relu_()  # in-place - modifies y which x's gradient computation needs
    loss = y.sum()
    try:
        loss.backward()  # RuntimeError
    except RuntimeError as e:
        raise AssertionError(f"raised RuntimeError ({e}); PyTorch accepts this code") from e
    print("  What really happens: no RuntimeError. x + 1 saves nothing that relu_ overwrites, so\n"
          "  PyTorch (and tl) run the backward fine; x.grad is relu's mask:", x.grad.tolist())
    agree("x.grad vs (x + 1 > 0)", x.grad, (x.detach() + 1 > 0).float(), atol=0)
    # CORRECT
    y = (x + 1).relu()  # out-of-place
    # Where the lesson's warning does apply: the op before relu_ saved its own output.
    x = tl.randn(3, requires_grad=True)
    y = x.exp()
    y.relu_()
    try:
        y.sum().backward()
    except RuntimeError as e:
        print(f"  y = x.exp(); y.relu_(); backward -> RuntimeError, as in PyTorch: {str(e)[:90]}...")
    else:
        raise AssertionError("exp's saved output was modified in place and backward did not raise")


@lesson.listing("Bug 4: .item() Detaches from Graph")
def bug4_item_detaches(run):
    tl.manual_seed(0)
    pred = tl.randn(5, requires_grad=True)
    target = tl.randn(5)

    # WRONG
    def compute_loss(pred, target):
        mse = ((pred - target)**2).mean().item()  # detached!
        return tl.tensor(mse)  # new tensor, no gradient path
    loss = compute_loss(pred, target)
    print(f"  WRONG: loss {loss.item():.4f}, requires_grad={loss.requires_grad}, grad_fn={loss.grad_fn}")
    try:
        loss.backward()
    except RuntimeError as e:
        print(f"  WRONG: loss.backward() -> RuntimeError: {e}")
    else:
        raise AssertionError("backward through a tensor that does not require grad did not raise")

    # CORRECT
    def compute_loss(pred, target):
        return ((pred - target)**2).mean()  # stays in graph
    loss = compute_loss(pred, target)
    loss.backward()
    agree("CORRECT: pred.grad vs 2 (pred - target) / 5", pred.grad, 2 * (pred.detach() - target) / 5,
          atol=1e-7)


@lesson.listing("Bug 5 / Q4: retain_graph, and backward() twice without it")
def bug5_retain_graph(run):
    tl.manual_seed(0)
    w = tl.randn(4, requires_grad=True)
    loss = (w.tanh() ** 2).sum()
    # MEMORY LEAK if called every step
    loss.backward(retain_graph=True)
    first = w.grad.clone()
    loss.backward()                            # the retained graph allows a second backward
    agree("retain_graph=True: a second backward adds the same gradient again", w.grad, 2 * first,
          atol=1e-6)
    # CORRECT - only use retain_graph when truly needed
    # e.g., for meta-learning or penalty-based second-order methods
    loss = (w.tanh() ** 2).sum()
    loss.backward()  # graph freed automatically
    try:
        loss.backward()
    except RuntimeError as e:
        print(f"  Q4: a second backward without retain_graph -> RuntimeError: {str(e)[:100]}...")
    else:
        raise AssertionError("a second backward through a freed graph did not raise")


# ---------------------------------------------------------------------------------------------
# Lesson 002, listing "Inspecting Gradient Flow in PyTorch".
# ---------------------------------------------------------------------------------------------
def print_gradient_flow(model: nn.Module, threshold_vanish: float = 1e-6,
                        threshold_explode: float = 10.0) -> Dict[str, float]:
    """
    Print gradient norms for all named parameters.
    Call after loss.backward() and before optimizer.step().
    Returns dict of {name: grad_norm}.
    """
    print(f"\n{'Layer':<45} {'Grad Norm':>12} {'Param Norm':>12} {'Ratio':>10} Status")
    print("-" * 95)
    norms = {}
    for name, param in model.named_parameters():
        if param.grad is not None:
            g_norm = param.grad.detach().norm(2).item()
            p_norm = param.data.detach().norm(2).item()
            ratio = g_norm / (p_norm + 1e-8)
            norms[name] = g_norm
            status = "OK"
            if g_norm < threshold_vanish:
                status = "VANISHING"
            elif g_norm > threshold_explode:
                status = "EXPLODING"
            print(f"{name:<45} {g_norm:>12.4e} {p_norm:>12.4e} {ratio:>10.4e} {status}")
        else:
            norms[name] = 0.0
            print(f"{name:<45} {'NO GRAD':>12}")
    return norms


def register_gradient_hooks(model: nn.Module) -> list:
    """
    Register backward hooks to monitor gradients flowing through each layer.
    Hooks fire during backward() - useful for real-time monitoring.
    Usage:
        handles = register_gradient_hooks(model)
        loss.backward()
        for h in handles: h.remove()
    """
    handles = []

    def make_hook(name: str):
        def hook(grad: tl.Tensor) -> tl.Tensor:
            norm = grad.norm().item()
            has_nan = tl.isnan(grad).any().item()
            print(f"  Backward hook [{name}]: norm={norm:.4e}, has_nan={has_nan}")
            return grad  # return None to keep gradient unchanged, or return modified grad
        return hook
    for name, param in model.named_parameters():
        if param.requires_grad:
            handles.append(param.register_hook(make_hook(name)))
    return handles


@lesson.listing("Inspecting Gradient Flow in PyTorch (print_gradient_flow, register_gradient_hooks)")
def inspecting_gradient_flow(run):
    tl.manual_seed(0)
    # Demo usage
    model = nn.Sequential(
        nn.Linear(32, 64),
        nn.ReLU(),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )
    x = tl.randn(16, 32)
    y = tl.randint(0, 10, (16,))
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    norms = print_gradient_flow(model)
    # wrapper: the listing defines register_gradient_hooks but does not call it
    model.zero_grad()
    handles = register_gradient_hooks(model)
    nn.CrossEntropyLoss()(model(x), y).backward()
    for h in handles:
        h.remove()
    agree("norms from the hooks' backward vs print_gradient_flow's",
          [p.grad.norm().item() for p in model.parameters()], list(norms.values()), atol=1e-6)
    # the same report from tl's own tool (tl.viz.grad_flow; .plot() draws it with matplotlib)
    report = tl.viz.grad_flow(model, vanishing=1e-6, exploding=10.0)
    print(report)
    agree("tl.viz.grad_flow's norms vs print_gradient_flow's",
          [r["grad_norm"] for r in report.rows], list(norms.values()), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Lesson 002, "Production Engineering Notes" and Q6 (prose with inline code).
# ---------------------------------------------------------------------------------------------
@lesson.listing("Gradient checkpointing (torch.utils.checkpoint): recompute in backward, same "
                "gradients", "concept")
def concept_gradient_checkpointing(run):
    tl.manual_seed(0)
    block = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16), nn.Tanh())
    x = tl.randn(8, 16, requires_grad=True)
    block(x).pow(2).sum().backward()
    plain = [p.grad.clone() for p in block.parameters()] + [x.grad.clone()]
    block.zero_grad()
    x.grad = None
    out = tl.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
    out.pow(2).sum().backward()
    agree("gradients with checkpoint vs without", [p.grad for p in block.parameters()] + [x.grad],
          plain, atol=1e-6)


@lesson.listing("Gradient accumulation: 8 mini-batches, loss scaled by 1/accumulation_steps, "
                "= the full batch", "concept")
def concept_gradient_accumulation(run):
    tl.manual_seed(0)
    model = nn.Linear(6, 1)
    X, y = tl.randn(64, 6), tl.randn(64, 1)
    criterion = nn.MSELoss()
    criterion(model(X), y).backward()
    full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    accumulation_steps = 8
    for xb, yb in zip(X.split(8), y.split(8)):
        (criterion(model(xb), yb) / accumulation_steps).backward()
    agree("accumulated gradient of 8 x 8 examples vs one batch of 64",
          [p.grad for p in model.parameters()], full, atol=1e-6)


@lesson.listing("Mixed precision: float16 underflows below ~6e-8; GradScaler scales the loss",
                "concept")
def concept_mixed_precision(run):
    tiny = tl.tensor([1e-4, 6e-8, 1e-8]).half()
    show("float32 gradients 1e-4, 6e-8, 1e-8 stored as float16", tiny.float().tolist(),
         "float16 underflows to zero for gradients smaller than ~6e-8")
    tl.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
    scaler = tl.amp.GradScaler()
    x, y = tl.randn(8, 4), tl.randn(8, 1)
    with tl.autocast(device_type="cpu", dtype=tl.bfloat16):
        loss = nn.MSELoss()(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    show("scaler.get_scale()", scaler.get_scale(), "if it drops rapidly, gradients are overflowing")


@lesson.listing("Second-order gradients: torch.autograd.grad(create_graph=True) (gradient "
                "penalty, Hessian-vector product)", "concept")
def concept_second_order_gradients(run):
    tl.manual_seed(0)
    w = tl.randn(3, dtype=F64, requires_grad=True)
    x = tl.randn(3, dtype=F64)
    loss = ((w * x).sum()) ** 3                 # L = (w.x)^3
    (g,) = tl.autograd.grad(loss, w, create_graph=True)
    penalty = (g ** 2).sum()                    # WGAN-GP style: a loss made of the gradient
    penalty.backward()
    s = (w.detach() * x).sum()
    # g = 3 s^2 x, penalty = 9 s^4 |x|^2, d penalty/dw = 36 s^3 |x|^2 x
    agree("d/dw |dL/dw|^2 (create_graph=True) vs 36 s^3 |x|^2 x", w.grad,
          36 * s ** 3 * (x * x).sum() * x, atol=1e-9)


@lesson.listing("Q6: NaN debugging -- set_detect_anomaly, clamp before log, isnan checks", "concept")
def q6_nan_debugging(run):
    # Step 1: anomaly detection names the op whose backward produced the NaN
    x = tl.zeros(3, requires_grad=True)
    tl.autograd.set_detect_anomaly(True)
    try:
        (tl.sqrt(x) * 0).sum().backward()       # sqrt'(0) = inf, times 0 -> NaN
    except RuntimeError as e:
        print(f"  set_detect_anomaly(True): RuntimeError: {str(e).splitlines()[0][:100]}")
    else:
        raise AssertionError("anomaly mode did not catch a NaN gradient")
    finally:
        tl.autograd.set_detect_anomaly(False)
    # Step 2: log(0) in the loss; clamp first
    probs = tl.tensor([0.0, 0.5, 1.0], requires_grad=True)
    show("-log(probs) at probs = 0, 0.5, 1", (-tl.log(probs)).tolist())
    safe = -tl.log(tl.clamp(probs, min=1e-8))
    show("-log(torch.clamp(probs, min=1e-8))", [round(v, 4) for v in safe.tolist()])
    # Step 4: check the inputs
    batch_x = tl.tensor([[1.0, float("nan")], [0.5, 2.0]])
    show("torch.isnan(batch_x).any()", tl.isnan(batch_x).any().item(), "the assert fires: True")
    clean = tl.ones(2, 2)
    assert not tl.isnan(clean).any()


if __name__ == "__main__":
    sys.exit(lesson.main(__doc__))
