"""The engine's support for DistributedDataParallel: ``Tensor.register_post_accumulate_grad_hook``
(once per backward, after a leaf's last gradient was added, as in PyTorch) and
``tinygrad_lab.autograd.engine.queue_callback`` (run at the end of the backward pass)."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import engine
from tinygrad_lab.autograd.engine import queue_callback


def _identity(bwd):
    """A custom Function computing x * 1 whose backward is ``bwd``."""
    class Identity(tl.autograd.Function):
        backward = staticmethod(bwd)

        @staticmethod
        def forward(ctx, x):
            return x * 1

    return Identity


def _graph(lib, w, b):
    """w used three times, b once."""
    return (w * b).sum() + (w * w).sum() + (w * 3).sum()


def test_post_accumulate_hook_runs_once_after_the_last_gradient():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    b = tl.tensor([3.0, 1.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(("w", t.grad.tolist())))
    b.register_post_accumulate_grad_hook(lambda t: seen.append(("b", t.grad.tolist())))
    _graph(tl, w, b).backward()
    assert sorted(seen) == [("b", [1.0, 2.0]), ("w", [8.0, 8.0])]
    seen.clear()
    _graph(tl, w, b).backward()   # accumulates: the hook sees the sum
    assert sorted(seen) == [("b", [2.0, 4.0]), ("w", [16.0, 16.0])]


def test_post_accumulate_hook_matches_torch():
    torch = pytest.importorskip("torch")
    got, want = [], []
    for lib, log in ((tl, got), (torch, want)):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 1.0], requires_grad=True)
        w.register_hook(lambda g: g * 2)
        w.register_post_accumulate_grad_hook(lambda t: log.append(t.grad.tolist()))
        b.register_post_accumulate_grad_hook(lambda t: log.append(t.grad.tolist()))
        _graph(lib, w, b).backward(retain_graph=True)
        _graph(lib, w, b).backward()
    assert sorted(got) == sorted(want)


def test_post_accumulate_hook_under_create_graph_and_when_a_gradient_is_none():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * w).sum().backward(create_graph=True)
    assert seen == [[2.0, 4.0]]

    NoGrad = _identity(lambda ctx, g: None)
    seen.clear()
    w.grad = None
    (NoGrad.apply(w).sum() + (w * 2).sum()).backward()   # one of two expected gradients comes
    assert seen == [[2.0, 2.0]]


def test_post_accumulate_hook_errors_and_removal():
    w = tl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tl.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    before = engine._n_post_hooks
    h = w.register_post_accumulate_grad_hook(lambda t: t.grad)
    with pytest.raises(RuntimeError, match="cannot return a value"):
        (w * 2).sum().backward()
    h.remove()
    h.remove()
    assert engine._n_post_hooks == before
    (w * 2).sum().backward()


def test_autograd_grad_does_not_run_post_accumulate_hooks():
    w = tl.tensor([1.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(1))
    (g,) = tl.autograd.grad((w * 3).sum(), w)
    assert g.tolist() == [3.0] and seen == [] and w.grad is None


def test_queue_callback_runs_after_every_gradient_is_in():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    b = tl.tensor([3.0], requires_grad=True)
    order = []

    def on_w(t):
        order.append("hook")
        queue_callback(lambda: order.append(("first", w.grad.tolist(), b.grad.tolist())))
        queue_callback(lambda: (order.append("second"), queue_callback(lambda: order.append("third"))))

    w.register_post_accumulate_grad_hook(on_w)
    ((w * b).sum() * 2).backward()
    assert order == ["hook", ("first", [6.0, 6.0], [6.0]), "second", "third"]
    order.clear()
    (w.sum() * 1).backward()   # the queue is per backward: each callback ran once
    assert order == ["hook", ("first", [7.0, 7.0], [6.0]), "second", "third"]


def test_queue_callback_outside_backward_and_after_an_error():
    with pytest.raises(RuntimeError, match="during the backward pass"):
        queue_callback(lambda: None)
    w = tl.tensor([1.0], requires_grad=True)
    ran = []

    def boom(ctx, g):
        queue_callback(lambda: ran.append(1))
        raise ValueError("boom")

    Boom = _identity(boom)
    with pytest.raises(ValueError, match="boom"):
        Boom.apply(w).sum().backward()
    assert ran == []   # a failed backward drops its callbacks
    with pytest.raises(RuntimeError, match="during the backward pass"):
        queue_callback(lambda: None)
    np.testing.assert_array_equal((w * 2).sum().backward() or w.grad.numpy(), [2.0])
