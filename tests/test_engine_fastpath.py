"""The small-backward fast paths of the autograd engine (issue 15): gradients adopted as a leaf's
.grad without a copy only when nothing else can see them, queue_callback without per-thread
state, and backwards that return gradients of the wrong count."""
import threading

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import Function
from tinygrad_lab.autograd.engine import queue_callback

from . import test_autograd as _base

leaf = _base.leaf
copies = _base.copies   # the fixture: one entry per gradient the engine copies into a .grad


def test_add_of_two_leaves_copies_once_and_the_grads_stay_independent(copies):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).tanh().sum().backward()         # add hands one fresh tensor to both its inputs
    assert len(copies) == 1                 # the first input copied it, the second adopted it
    t = np.tanh(np.array([4.0, 6.0]))
    np.testing.assert_allclose(a.grad.numpy(), 1 - t ** 2)
    np.testing.assert_allclose(b.grad.numpy(), 1 - t ** 2)
    with tl.no_grad():
        a.grad.add_(100.0)
    np.testing.assert_allclose(b.grad.numpy(), 1 - t ** 2)
    np.testing.assert_allclose(a.grad.numpy(), 101 - t ** 2)
    (a + b).tanh().sum().backward()         # later gradients accumulate in place
    np.testing.assert_allclose(b.grad.numpy(), 2 * (1 - t ** 2))
    np.testing.assert_allclose(a.grad.numpy(), 102 - 2 * t ** 2)


def test_add_of_a_leaf_and_a_node_never_aliases_the_node_gradient(copies):
    a, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = w * 2.0
    ((a + h) * 3.0).sum().backward()       # the leaf is the first input: it must copy
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])
    a.grad = w.grad = None
    ((h + a) * 3.0).sum().backward()       # the leaf is the second: it may adopt
    with tl.no_grad():
        a.grad.add_(1.0)
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])


def test_the_same_leaf_on_both_sides_of_add():
    x = leaf([1.0, -2.0])
    ((x + x) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    ((x + x) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 12.0])


def test_add_gradient_a_hook_kept_is_copied(copies):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    kept = []
    y = a + b
    y.register_hook(lambda g: kept.append(g))
    (y * 2.0).sum().backward()
    assert len(copies) == 2                 # the hook holds the gradient: neither leaf adopts it
    with tl.no_grad():
        b.grad.add_(1.0)
    np.testing.assert_array_equal(kept[0].numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])


def test_sum_backward_into_a_leaf_is_a_fresh_contiguous_gradient(copies):
    for shape in [(), (3,), (2, 3), (2, 1, 3)]:
        x = tl.ones(shape, dtype=tl.float32, requires_grad=True)
        x.sum().backward()
        assert x.grad.is_contiguous() and x.grad.shape == shape
        np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))
        (x.sum() * 2.0).backward()         # accumulates in place
        np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, 3.0))
    assert copies == []


def test_sum_backward_through_a_node_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(2, 3)
    a, w = leaf(x), leaf(x[::-1].copy())
    (a * w).sum().backward()
    ta, tw = (torch.tensor(v, requires_grad=True) for v in (x, x[::-1].copy()))
    (ta * tw).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_queue_callback_is_per_thread():
    # a backward running in one thread does not accept callbacks queued by another
    w = leaf([1.0])
    started, release, errors, ran = threading.Event(), threading.Event(), [], []

    def hook(g):
        started.set()
        release.wait(10)
        queue_callback(lambda: ran.append("own"))
        return None

    def other():
        started.wait(10)
        try:
            queue_callback(lambda: ran.append("other"))
        except RuntimeError as e:
            errors.append(e)
        finally:
            release.set()

    th = threading.Thread(target=other)
    th.start()
    y = w * 2.0
    y.register_hook(hook)
    y.sum().backward()
    th.join()
    assert ran == ["own"] and len(errors) == 1
    with pytest.raises(RuntimeError, match="during the backward pass"):
        queue_callback(lambda: None)


def test_queue_callback_from_a_nested_backward_goes_to_the_inner_one():
    w = leaf([2.0])
    order = []

    def hook(g):
        x = leaf([1.0])
        with tl.enable_grad():   # (hooks run with grad mode off, as in PyTorch)
            inner = x * 3.0
            loss = inner.sum()
        inner.register_hook(lambda g: queue_callback(lambda: order.append("inner")))
        loss.backward()
        order.append("after inner")
        queue_callback(lambda: order.append("outer"))

    y = w * 1.0
    y.register_hook(hook)
    y.sum().backward()
    assert order == ["inner", "after inner", "outer"]


def _identity(backward):
    class F(Function):
        @staticmethod
        def forward(ctx, x, *rest):
            return x * 1.0
    F.backward = staticmethod(backward)
    F.formula = F.backward
    return F


def test_backward_returning_fewer_or_more_gradients_than_inputs():
    x = leaf([1.0, 2.0])
    Few = _identity(lambda ctx, g: g * 2.0)              # one gradient for (x, 3, "k")
    Few.apply(x, 3, "k").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.grad = None
    Many = _identity(lambda ctx, g: (g * 3.0, None, None))  # more than (x,)
    Many.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_backward_error_leaves_no_pending_gradient_in_a_chain():
    x = leaf([1.0, 2.0])
    Boom = _identity(lambda ctx, g: (_ for _ in ()).throw(ValueError("boom")))
    h = (x * 2.0)
    y = Boom.apply(h) * 3.0
    with pytest.raises(ValueError, match="boom"):
        y.sum().backward(retain_graph=True)
    assert y.grad_fn._g is None and h.grad_fn._g is None
    assert Boom.apply(h).grad_fn._g is None


class _ScaleBySaved(Function):
    """y = x * w; its backward uses Tensor ops on the saved inputs (which require grad)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        _ScaleBySaved.modes.append(tl.is_grad_enabled())
        return g * w, g * x


def test_grad_mode_is_off_in_everything_a_plain_backward_calls_back():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seen = []
    _ScaleBySaved.modes = []
    y = _ScaleBySaved.apply(x, w)
    y.register_hook(lambda g: seen.append(("node", tl.is_grad_enabled())))
    x.register_post_accumulate_grad_hook(lambda t: seen.append(("post", tl.is_grad_enabled())))
    w.register_hook(lambda g: seen.append(("leaf", tl.is_grad_enabled())))
    (y.exp() * 2.0).sum().backward()
    assert sorted(seen) == [("leaf", False), ("node", False), ("post", False)]
    assert _ScaleBySaved.modes == [False]
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    assert w.grad.grad_fn is None and not w.grad.requires_grad
    assert tl.is_grad_enabled()
    # a backward run inside no_grad leaves it off
    z = (x * w).sum()
    with tl.no_grad():
        z.backward()
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()


def test_grad_mode_is_on_under_create_graph_and_restored_after_an_error():
    x = leaf([1.0, 2.0])
    _ScaleBySaved.modes = []
    w = leaf([3.0, 4.0])
    (gx, _) = tl.autograd.grad(_ScaleBySaved.apply(x, w).sum(), (x, w), create_graph=True)
    assert _ScaleBySaved.modes == [True] and gx.requires_grad
    Boom = _identity(lambda ctx, g: (_ for _ in ()).throw(ValueError("boom")))
    with pytest.raises(ValueError):
        Boom.apply(x).sum().backward()
    assert tl.is_grad_enabled()


def test_a_gradient_that_requires_grad_is_not_recorded_without_create_graph():
    torch = pytest.importorskip("torch")
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    b = leaf([0.5, -0.5])
    g = leaf([[1.0, -1.0], [2.0, 0.5]])        # a gradient that itself requires grad
    ((x * 2.0) + b).backward(g)
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    assert b.grad.grad_fn is None and not b.grad.requires_grad
    tx = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    tb = torch.tensor([0.5, -0.5], requires_grad=True)
    ((tx * 2.0) + tb).backward(torch.tensor([[1.0, -1.0], [2.0, 0.5]], requires_grad=True))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())


def test_a_vjp_falling_back_to_tensor_ops_records_nothing_in_a_plain_backward():
    # batched matmul's VJP is its formula (Tensor ops on the saved operands, which require
    # grad): grad mode must be off while it runs, or the gradient a hook sees (and anything
    # downstream) would carry a graph -- PyTorch's hooks see plain gradients here
    p = tl.randn(2, 3, 4, requires_grad=True)
    b = tl.randn(4, 5, requires_grad=True)
    a = p * 2.0
    seen = []
    a.register_hook(lambda g: seen.append((g.requires_grad, g.grad_fn)))
    (a @ b).sum().backward()
    assert seen == [(False, None)]
    assert not p.grad.requires_grad and not b.grad.requires_grad


@pytest.mark.parametrize("changed", [0, 1, 2])
@pytest.mark.parametrize("x_grad", [True, False])
def test_a_node_saving_three_tensors_catches_an_inplace_change_of_any(changed, x_grad):
    # (the backward checks nodes saving two or three tensors inline -- fused layers save x, W and
    # y, with W None when x needs no gradient -- and others through Context._check_saved)
    x = tl.randn(4, 3, dtype=tl.float64, requires_grad=x_grad)
    w = tl.randn(3, 2, dtype=tl.float64, requires_grad=True)
    b = tl.zeros(2, dtype=tl.float64, requires_grad=True)
    y = (x @ w + b).sigmoid()
    assert y.grad_fn._fn.__name__ == "AddmmAct" and len(y.grad_fn._saved) == 3
    assert (y.grad_fn._saved[1] is None) == (not x_grad)
    target = (x, w, y)[changed]
    with tl.no_grad():
        target.mul_(2.0)
    if changed == 1 and not x_grad:      # W is not needed (no gradient for x): nothing to catch
        y.sum().backward()
        return
    with pytest.raises(RuntimeError, match=f"saved tensor {changed} of SigmoidBackward"):
        y.sum().backward()
