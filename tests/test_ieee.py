"""PyTorch's IEEE semantics at the edges (issue 13): NaN, +-inf, -0 and ties through the ops'
forwards and both derivatives (``backward()``'s C VJP and the ``create_graph`` formula).

Each case pins PyTorch 2.13's answer as a fixed expectation (so the suite checks it without
torch), and the same cases run against torch itself when it is installed.
"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

from .helpers import simd_level, simd_levels

NAN, INF = float("nan"), float("inf")
X = [NAN, -1.0, 0.0, -0.0, 2.0, INF, -INF]


def _same(got, want):
    """Equal values, NaN where NaN is expected, and the sign of zeros."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got, want)
    ok = np.isclose(got, want, rtol=1e-6, atol=0, equal_nan=True) | (got == want)
    ok &= ~((got == 0) & (want == 0) & (np.signbit(got) != np.signbit(want)))
    assert ok.all(), f"got {got.tolist()}, want {want.tolist()}"


def _run(fn, xs, dtype, create_graph):
    """fn's value at xs and the gradient of its sum (the formulas' path when create_graph)."""
    x = tl.tensor(xs, dtype=dtype, requires_grad=True)
    y = fn(x)
    (g,) = tl.autograd.grad(y.sum(), x, create_graph=create_graph)
    return y.tolist(), g.tolist()


# name -> (fn taking a tensor of the tinygrad_lab or torch module, inputs, value, gradient)
CASES = {
    "relu": (lambda m, x: m.relu(x), X,
             [NAN, 0.0, 0.0, -0.0, 2.0, INF, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]),
    "leaky_relu": (lambda m, x: (F if m is tl else m.nn.functional).leaky_relu(x, 0.1), X,
                   [NAN, -0.1, 0.0, -0.0, 2.0, INF, -INF], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 0.1]),
    "abs": (lambda m, x: m.abs(x), X,
            [NAN, 1.0, 0.0, 0.0, 2.0, INF, INF], [0.0, -1.0, 0.0, 0.0, 1.0, 1.0, -1.0]),
    "clamp": (lambda m, x: x.clamp(-0.5, 1.0), X,
              [NAN, -0.5, 0.0, -0.0, 1.0, 1.0, -0.5], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]),
    "clamp_min": (lambda m, x: x.clamp(min=0.0), X,
                  [NAN, 0.0, 0.0, -0.0, 2.0, INF, 0.0], [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
    # min > max: max wins everywhere, and no gradient flows (PyTorch)
    "clamp_min_above_max": (lambda m, x: x.clamp(min=8, max=2), [0.0, 5.0, 10.0, NAN],
                            [2.0, 2.0, 2.0, NAN], [0.0, 0.0, 0.0, 0.0]),
    # a NaN bound makes every value NaN, with no gradient
    "clamp_nan_bound": (lambda m, x: x.clamp(min=0.0, max=NAN), [1.0, NAN, -1.0],
                        [NAN, NAN, NAN], [0.0, 0.0, 0.0]),
    "clamp_nan_min": (lambda m, x: x.clamp(min=NAN), [1.0, NAN, -1.0],
                      [NAN, NAN, NAN], [0.0, 0.0, 0.0]),
    # NaN maxima take the gradient, split evenly (PyTorch's max() / min())
    "max_nan": (lambda m, x: x.max(), [1.0, NAN, 3.0, NAN], NAN, [0.0, 0.5, 0.0, 0.5]),
    "min_nan": (lambda m, x: x.min(), [1.0, NAN, -3.0, NAN], NAN, [0.0, 0.5, 0.0, 0.5]),
    "max_ties": (lambda m, x: x.max(), [3.0, 1.0, 3.0], 3.0, [0.5, 0.0, 0.5]),
    # a scalar exponent of +-0.5 is sqrt: (-inf) ** 0.5 = nan and (-0) ** 0.5 = -0
    "pow_half": (lambda m, x: x ** 0.5, [0.0, -0.0, -INF, INF, 4.0],
                 [0.0, -0.0, NAN, INF, 2.0], [INF, -INF, NAN, 0.0, 0.25]),
    "pow_minus_half": (lambda m, x: x ** -0.5, [0.0, -0.0, -INF, INF, 4.0],
                       [INF, -INF, NAN, 0.0, 0.5], [-INF, -INF, -0.0, -0.0, -0.0625]),
    "pow_1.5": (lambda m, x: x ** 1.5, [0.0, -0.0, -INF, INF, 4.0],
                [0.0, 0.0, INF, INF, 8.0], [0.0, -0.0, NAN, INF, 3.0]),
}


@pytest.mark.parametrize("dtype", [tl.float64, tl.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "formula"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_special_values_match_pytorch_fixed(name, create_graph, dtype):
    fn, xs, value, grad = CASES[name]
    for level in simd_levels():
        with simd_level(level):
            y, g = _run(lambda x: fn(tl, x), xs, dtype, create_graph)
            _same(y, value)
            _same(g, grad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_special_values_match_pytorch_oracle(name):
    torch = pytest.importorskip("torch")
    fn, xs, value, grad = CASES[name]
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    y = fn(torch, x)
    (g,) = torch.autograd.grad(y.sum(), x)
    _same(y.tolist(), value)      # the pinned expectation is PyTorch's answer
    _same(g.tolist(), grad)


def test_relu_nan_through_fused_linear_and_inplace():
    # nn.Sequential(Linear, ReLU) runs the fused kernel (csrc/linear.c): same NaN rule
    w = tl.tensor([[1.0], [1.0], [-1.0]], dtype=tl.float64, requires_grad=True)
    x = tl.tensor([[NAN], [2.0]], dtype=tl.float64)
    y = F.linear_act(x, w, None, "relu")
    y.sum().backward()
    _same(y.tolist(), [[NAN, NAN, NAN], [2.0, 2.0, 0.0]])
    _same(w.grad.tolist(), [[NAN], [NAN], [NAN]])     # the NaN row's gradient passes
    t = tl.tensor([NAN, -1.0, 3.0])
    tl.relu_(t)
    _same(t.tolist(), [NAN, 0.0, 3.0])


def test_max_min_over_a_dim_send_the_gradient_to_nan():
    x = tl.tensor([[1.0, NAN], [3.0, 2.0]], dtype=tl.float64, requires_grad=True)
    y = x.max(1)
    y.sum().backward()
    _same(y.tolist(), [NAN, 3.0])
    assert x.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_maximum_minimum_nan_and_ties_gradients():
    a = tl.tensor([NAN, 1.0, 2.0, 1.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([1.0, NAN, 2.0, 3.0], dtype=tl.float64, requires_grad=True)
    for op, ga, gb in ((tl.maximum, [1.0, 1.0, 0.5, 0.0], [1.0, 1.0, 0.5, 1.0]),
                       (tl.minimum, [1.0, 1.0, 0.5, 1.0], [1.0, 1.0, 0.5, 0.0])):
        y = op(a, b)
        _same(y.tolist(), [NAN, NAN, 2.0, 1.0 if op is tl.minimum else 3.0])
        for cg in (False, True):
            got = tl.autograd.grad(y.sum(), (a, b), create_graph=cg, retain_graph=True)
            assert [g.tolist() for g in got] == [ga, gb]


def test_integer_clamp_min_above_max():
    assert tl.tensor([0, 5, 10]).clamp(min=8, max=2).tolist() == [2, 2, 2]


BCE_X = [INF, -INF, INF, -INF, INF, -INF, 0.0, 800.0, -800.0]
BCE_T = [0.2, 0.2, 1.0, 0.0, 0.0, 1.0, 0.5, 0.2, 0.2]
BCE_LOSS = [INF, NAN, NAN, NAN, INF, NAN, 0.6931471805599453, 640.0, 160.0]
BCE_GRAD = [0.8, -0.2, 0.0, 0.0, 1.0, -1.0, 0.0, 0.8, -0.2]


def test_bce_with_logits_at_infinity():
    for cg in (False, True):
        x = tl.tensor(BCE_X, dtype=tl.float64, requires_grad=True)
        y = F.binary_cross_entropy_with_logits(x, tl.tensor(BCE_T, dtype=tl.float64),
                                               reduction="none")
        _same(y.tolist(), BCE_LOSS)
        (g,) = tl.autograd.grad(y.sum(), x, create_graph=cg)
        _same(g.tolist(), BCE_GRAD)


def test_bce_with_logits_at_infinity_oracle():
    torch = pytest.importorskip("torch")
    x = torch.tensor(BCE_X, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.binary_cross_entropy_with_logits(
        x, torch.tensor(BCE_T, dtype=torch.float64), reduction="none")
    (g,) = torch.autograd.grad(y.sum(), x)
    _same(y.tolist(), BCE_LOSS)
    _same(g.tolist(), BCE_GRAD)


POW_A = [0.0, 0.0, 0.0, -0.0, 0.0, 2.0, -1.0, -INF, INF]
POW_B = [2.0, 0.0, -1.0, 2.0, NAN, 0.0, 0.5, 0.5, -1.0]
POW_Y = [0.0, 1.0, INF, 0.0, NAN, 1.0, NAN, INF, 0.0]
POW_GA = [0.0, 0.0, -INF, -0.0, NAN, 0.0, NAN, 0.0, -0.0]
POW_GB = [0.0, 0.0, -INF, 0.0, NAN, 0.6931471805599453, NAN, NAN, NAN]


def test_pow_tensor_exponent_special_points():
    # the exponent's gradient at base 0: 0 for b >= 0, y * log(0) = -inf for b < 0, NaN for NaN
    for cg in (False, True):
        a = tl.tensor(POW_A, dtype=tl.float64, requires_grad=True)
        b = tl.tensor(POW_B, dtype=tl.float64, requires_grad=True)
        y = a ** b
        _same(y.tolist(), POW_Y)
        ga, gb = tl.autograd.grad(y.sum(), (a, b), create_graph=cg)
        _same(ga.tolist(), POW_GA)
        _same(gb.tolist(), POW_GB)


def test_pow_tensor_exponent_special_points_oracle():
    torch = pytest.importorskip("torch")
    a = torch.tensor(POW_A, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(POW_B, dtype=torch.float64, requires_grad=True)
    y = a ** b
    ga, gb = torch.autograd.grad(y.sum(), (a, b))
    _same(y.tolist(), POW_Y)
    _same(ga.tolist(), POW_GA)
    _same(gb.tolist(), POW_GB)


# ---- int64 wraps in two's complement, as PyTorch (the C computes it unsigned: no UB) ----------

I64_MAX, I64_MIN = 2**63 - 1, -2**63
INT_CASES = {   # name -> (fn of a module and a tensor, the expected list), pinned from PyTorch
    "add": (lambda m, t: t + 1, [I64_MIN, I64_MIN + 1]),
    "sub": (lambda m, t: t - 1, [I64_MAX - 1, I64_MAX]),
    "mul": (lambda m, t: t * 2, [-2, 0]),
    "neg": (lambda m, t: -t, [I64_MIN + 1, I64_MIN]),
    "abs": (lambda m, t: t.abs(), [I64_MAX, I64_MIN]),
    "sum": (lambda m, t: t.sum().reshape(1), [-1]),
}


@pytest.mark.parametrize("name", sorted(INT_CASES))
def test_int64_overflow_wraps(name):
    fn, want = INT_CASES[name]
    assert fn(tl, tl.tensor([I64_MAX, I64_MIN])).tolist() == want


@pytest.mark.parametrize("name", sorted(INT_CASES))
def test_int64_overflow_wraps_oracle(name):
    torch = pytest.importorskip("torch")
    fn, want = INT_CASES[name]
    assert fn(torch, torch.tensor([I64_MAX, I64_MIN])).tolist() == want


def test_int64_sums_wrap_on_every_path():
    # rows, columns (blocked by 8 rows) and the threaded split all wrap the same way
    x = tl.full((64, 3), 2**62, dtype=tl.int64)
    want = (64 * 2**62 + 2**63) % 2**64 - 2**63
    assert x.sum().item() == want
    assert x.sum(0).tolist() == [want] * 3
    assert x.T.sum(1).tolist() == [want] * 3
    big = tl.full((1 << 17,), 2**62 + 1, dtype=tl.int64)
    assert big.sum().item() == ((1 << 17) * (2**62 + 1) + 2**63) % 2**64 - 2**63


def test_arange_out_of_int64_range_raises():
    assert tl.arange(2**63 - 3, 2**63 - 1).tolist() == [2**63 - 3, 2**63 - 2]
    assert tl.arange(-2**63, -2**63 + 2).tolist() == [-2**63, -2**63 + 1]
    for args in ((2**63 - 3, 2**63 + 3), (0, 2**64), (0, 10, 2**63), (-2**63 - 1, 0)):
        with pytest.raises(RuntimeError, match="int64_t without overflow"):
            tl.arange(*args)


def test_arange_out_of_int64_range_oracle():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="int64_t without overflow"):
        torch.arange(2**63 - 3, 2**63 + 3)
