"""Ops whose derivative reads their own output (exp, sigmoid, softmax, ...) hold it weakly.

Saving the output tensor itself would make a reference cycle (out -> out.grad_fn -> saved ->
out): a forward run with grad enabled and never backwarded (evaluation without no_grad) would
keep every such buffer alive until the garbage collector ran -- hundreds of MB in a loop. The
node keeps a weak reference instead and the engine restores the tensor before its backward
(autograd/engine.py, _OUTPUT)."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.viz.graph import saved_tensors as viz_saved

F = tl.nn.functional

# every way an op saves its output: unary ops, softmax family, reductions, pow, the fused
# layers (record-time fusion and nn.Sequential's), in-place activations
OPS = {
    "exp": lambda w, x: w.exp(),
    "sqrt": lambda w, x: (w * w + 1).sqrt(),
    "tanh": lambda w, x: w.tanh(),
    "sigmoid": lambda w, x: w.sigmoid(),
    "softmax": lambda w, x: w.softmax(-1),
    "log_softmax": lambda w, x: w.log_softmax(-1),
    "max": lambda w, x: w.max(),
    "logsumexp": lambda w, x: w.logsumexp(0),
    "pow": lambda w, x: (w * w + 1) ** x,
    "x @ W + b, sigmoid": lambda w, x: (x @ w + x[0]).sigmoid(),
    "F.relu(F.linear)": lambda w, x: F.relu(F.linear(x, w)),
    "sigmoid_": lambda w, x: (w * 1).sigmoid_(),
    "relu_": lambda w, x: (w * 1).relu_(),
}


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _inputs():
    tl.manual_seed(0)
    return tl.randn(3, 3, dtype=tl.float64, requires_grad=True), tl.rand(3, 3, dtype=tl.float64) + 0.5


@pytest.mark.parametrize("name", OPS)
def test_a_forward_only_graph_is_freed_without_the_garbage_collector(name, no_gc):
    w, x = _inputs()
    y = OPS[name](w, x)
    assert y.grad_fn is not None
    ref = weakref.ref(y)
    del y
    assert ref() is None, "the output is still referenced (a cycle through its node?)"
    assert gc.collect() == 0


@pytest.mark.parametrize("name", OPS)
def test_backward_through_the_weakly_held_output_matches_the_formula(name):
    w, x = _inputs()
    y = OPS[name](w, x)
    g = tl.rand(*y.shape, dtype=tl.float64)
    (gw,) = tl.autograd.grad(y, w, g, retain_graph=True)
    # the same gradient through the differentiable formulas (create_graph runs them)
    (gf,) = tl.autograd.grad(y, w, g, create_graph=True)
    np.testing.assert_allclose(gw.numpy(), gf.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "x @ W + b, sigmoid"])
def test_retain_graph_backwards_twice_then_frees_without_a_cycle(name, no_gc):
    w, x = _inputs()
    y = OPS[name](w, x)
    y.sum().backward(retain_graph=True)
    first = w.grad.numpy().copy()
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)
    ref = weakref.ref(y)
    del y
    assert ref() is None and gc.collect() == 0


def test_saved_tensors_shows_the_output_itself():
    w, _ = _inputs()
    y = w.sigmoid()
    assert y.grad_fn.saved_tensors[-1] is y
    assert any(t is y for t in viz_saved(y.grad_fn))


def test_a_node_kept_after_its_output_is_gone_says_so():
    w, _ = _inputs()
    y = w.exp()
    node = y.grad_fn
    del y
    with pytest.raises(RuntimeError, match="output of ExpBackward was freed"):
        node.saved_tensors


def test_changing_the_output_in_place_is_still_caught():
    w, _ = _inputs()
    y = w.sigmoid()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_a_user_function_saving_its_output_holds_it_weakly(no_gc):
    class Exp(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    w, _ = _inputs()
    y = Exp.apply(w)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp(w.detach().numpy()), rtol=1e-12)
    ref = weakref.ref(Exp.apply(w))
    assert ref() is None and gc.collect() == 0


def test_an_eval_loop_without_no_grad_keeps_one_step_of_buffers():
    """The case this is for: each step's graph dies with its output."""
    w = tl.randn(256, 256, requires_grad=True)
    x = tl.randn(256, 256)
    refs = []
    gc.disable()
    try:
        for _ in range(20):
            y = (x @ w).sigmoid().softmax(-1)
            refs.append(weakref.ref(y))
        alive = sum(r() is not None for r in refs)
    finally:
        gc.enable()
    assert alive == 1
