"""gradcheck(fast_mode=True): a random projection v^T J u against the central difference along
u -- it catches what the full check catches with two forward passes per input; the dtype check."""
import os
import sys

import pytest

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import GradcheckError, gradcheck, gradgradcheck

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import gradcheck_mlp  # noqa: E402
import test_my_ops  # noqa: E402


def _mlp_loss(bug):
    """examples/gradcheck_mlp.py's function: the loss of a 4-6-5-3 sigmoid MLP of its
    parameters (``bug``: the middle sigmoid's backward forgets (1 - y)); counts forward calls."""
    tl.manual_seed(0)
    middle = gradcheck_mlp.BuggySigmoidLayer() if bug else nn.Sigmoid()
    model = nn.Sequential(nn.Linear(4, 6, dtype=tl.float64), nn.Sigmoid(),
                          nn.Linear(6, 5, dtype=tl.float64), middle, nn.Linear(5, 3, dtype=tl.float64))
    x = tl.randn(16, 4, dtype=tl.float64)
    target = tl.randint(0, 3, (16,))
    calls = [0]

    def loss(*params):
        calls[0] += 1
        return F.cross_entropy(model(x), target)
    return loss, tuple(model.parameters()), calls


def test_fast_mode_passes_correct_gradients():
    tl.manual_seed(0)
    x = tl.randn(3, 4, dtype=tl.float64, requires_grad=True)
    w = tl.randn(4, 2, dtype=tl.float64, requires_grad=True)
    assert gradcheck(lambda a, b: (a @ b).tanh(), (x, w), fast_mode=True)
    assert gradgradcheck(lambda a, b: (a @ b).tanh(), (x, w), fast_mode=True)
    assert gradcheck(lambda a: (a.sum(), a * 2), (x,), fast_mode=True)      # several outputs
    loss, params, _ = _mlp_loss(bug=False)
    assert gradcheck(loss, params, fast_mode=True)


def test_fast_mode_catches_the_mlp_bug_the_full_check_catches_in_few_forwards():
    loss, params, calls = _mlp_loss(bug=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(loss, params)
    full = calls[0]
    calls[0] = 0
    with pytest.raises(GradcheckError) as info:
        gradcheck(loss, params, fast_mode=True)
    msg = str(info.value)
    assert "fast mode" in msg and "v^T J u analytic" in msg and "fast_mode=False" in msg
    # one forward for the outputs, then two per input checked (it stops at the first mismatch),
    # against two per parameter element for the full check
    assert calls[0] <= 1 + 2 * len(params) and calls[0] * 5 < full, (calls[0], full)
    assert gradcheck(loss, params, fast_mode=True, raise_exception=False) is False


def test_fast_gradgradcheck_catches_a_backward_without_second_derivatives():
    # examples/test_my_ops.py's sigmoid whose backward comes from NumPy: right first
    # derivatives, none of the second
    x = tl.randn(5, dtype=tl.float64, requires_grad=True)
    assert gradcheck(test_my_ops.SigmoidNumpyBackward.apply, (x,), fast_mode=True)
    for fast in (False, True):
        with pytest.raises(GradcheckError):
            gradgradcheck(test_my_ops.SigmoidNumpyBackward.apply, (x,), fast_mode=fast)


def test_fast_mode_checks_gradient_shapes_and_empty_inputs():
    class WrongShape(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g * tl.ones(1, 1, dtype=tl.float64)

    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    with pytest.raises((GradcheckError, RuntimeError, ValueError), match="shape"):
        gradcheck(WrongShape.apply, (x,), fast_mode=True)
    e = tl.zeros(0, 3, dtype=tl.float64, requires_grad=True)
    assert gradcheck(lambda a: a.exp(), (e,), fast_mode=True)


def test_gradcheck_needs_float64_inputs():
    x = tl.randn(3, requires_grad=True)            # float32: checked as a float64 copy
    with pytest.warns(UserWarning, match="gradcheck needs float64 inputs: input 0 is tl.float32"):
        assert gradcheck(lambda a: a.exp(), (x,), fast_mode=True)


def test_gradcheck_refuses_half_precision():
    x = tl.randn(3).to(tl.float16).requires_grad_(True)
    with pytest.raises(TypeError, match="gradcheck needs float64 inputs"):
        gradcheck(lambda a: a * 2, (x,))
