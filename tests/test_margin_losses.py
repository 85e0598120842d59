"""F.kl_div, margin_ranking_loss, hinge_embedding_loss, soft_margin_loss, cosine_embedding_loss,
triplet_margin_loss, poisson_nll_loss, gaussian_nll_loss, multilabel_soft_margin_loss,
multi_margin_loss and their nn modules: values and gradients against PyTorch for every reduction
(with NaN, inf and kinks in the inputs), gradcheck in float64, PyTorch's errors. (Composites of
existing ops, so no op-table lines of their own.)"""
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck

RNG = np.random.default_rng(7)
A, B, C = (RNG.standard_normal((4, 5)) for _ in range(3))
SIGN = np.where(RNG.random((4, 5)) < 0.5, -1.0, 1.0)
PROB = np.abs(RNG.standard_normal((4, 5)))
PROB[0, 0] = 0.0                                   # kl_div's xlogy at 0
VAR = np.abs(RNG.standard_normal((4, 5)))
VAR[0, 0] = 1e-9                                   # gaussian_nll_loss's clamp at eps
LABELS = (RNG.random((4, 5)) < 0.5).astype(np.float64)
W = RNG.random(5)
TARGET = np.array([0, 3, 4, 1])


def _special(a):
    """a copy with a NaN, an inf and a value tied with B (kinks of the hinge losses)."""
    a = a.copy()
    a[1, 1], a[2, 2], a[3, 0] = np.nan, np.inf, B[3, 0]
    return a


# (name, tl call, torch call, arrays, which arrays require grad)
CASES = [
    ("kl_div", lambda f, x, t, r: f.kl_div(x, t, reduction=r), [A, PROB], (1, 1)),
    ("kl_div_log_target", lambda f, x, t, r: f.kl_div(x, t, reduction=r, log_target=True), [A, B], (1, 1)),
    ("margin_ranking", lambda f, x, y, t, r: f.margin_ranking_loss(x, y, t, 0.3, reduction=r), [A, B, SIGN], (1, 1, 1)),
    ("hinge_embedding", lambda f, x, t, r: f.hinge_embedding_loss(x, t, 0.5, reduction=r), [A, SIGN], (1, 0)),
    ("soft_margin", lambda f, x, t, r: f.soft_margin_loss(x, t, reduction=r), [A * 10, SIGN], (1, 0)),
    ("cosine_embedding", lambda f, x, y, t, r: f.cosine_embedding_loss(x, y, t, 0.1, reduction=r), [A, B, SIGN[:, 0]], (1, 1, 0)),
    ("cosine_embedding_1d", lambda f, x, y, t, r: f.cosine_embedding_loss(x, y, t, reduction=r), [A[0], B[0], np.array(-1.0)], (1, 1, 0)),
    ("triplet", lambda f, a, p, n, r: f.triplet_margin_loss(a, p, n, reduction=r), [A, B, C], (1, 1, 1)),
    ("triplet_swap_p1", lambda f, a, p, n, r: f.triplet_margin_loss(a, p, n, 2.0, 1, swap=True, reduction=r), [A, B, C], (1, 1, 1)),
    ("poisson", lambda f, x, t, r: f.poisson_nll_loss(x, t, reduction=r), [A, np.floor(PROB * 3)], (1, 1)),
    ("poisson_full", lambda f, x, t, r: f.poisson_nll_loss(x, t, False, True, reduction=r), [PROB + 0.1, np.floor(PROB * 3)], (1, 0)),
    ("gaussian", lambda f, x, t, v, r: f.gaussian_nll_loss(x, t, v, reduction=r), [A, C, VAR], (1, 1, 1)),
    ("gaussian_full_short_var", lambda f, x, t, v, r: f.gaussian_nll_loss(x, t, v, True, reduction=r), [A, C, VAR[:, 0]], (1, 1, 1)),
    ("gaussian_broadcast_var", lambda f, x, t, v, r: f.gaussian_nll_loss(x, t, v, reduction=r), [A, C, VAR[:1]], (1, 1, 1)),
    ("multilabel_soft_margin", lambda f, x, t, w, r: f.multilabel_soft_margin_loss(x, t, w, reduction=r), [A, LABELS, W], (1, 1, 1)),
    ("multi_margin", lambda f, x, t, r: f.multi_margin_loss(x, t, reduction=r), [A, TARGET], (1, 0)),
    ("multi_margin_p2_weight", lambda f, x, t, w, r: f.multi_margin_loss(x, t, 2, 0.5, w, reduction=r), [A, TARGET, W], (1, 0, 0)),
    ("multi_margin_1d", lambda f, x, t, r: f.multi_margin_loss(x, t, reduction=r), [A[0], np.array(2)], (1, 0)),
]


def _compare(call, arrays, grads, reduction):
    torch = pytest.importorskip("torch")
    xs = [tl.tensor(a, requires_grad=bool(g)) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=bool(g)) for a, g in zip(arrays, grads)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # kl_div's 'mean' warning
        y, r = call(F, *xs, reduction), call(torch.nn.functional, *ts, reduction)
    assert y.shape == tuple(r.shape)
    np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = RNG.standard_normal(r.shape)
    y.backward(tl.tensor(g))
    r.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            assert (x.grad is None) == (t.grad is None)
            if t.grad is not None:     # (equal_nan: NaN gradients where PyTorch has them)
                np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,call,arrays,grads", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, call, arrays, grads):
    for reduction in ("mean", "sum", "none"):
        _compare(call, arrays, grads, reduction)
    # NaN, inf and ties in the first input (the gradient of a NaN hinge term, PyTorch's way)
    if arrays[0].shape == A.shape:
        _compare(call, [_special(arrays[0])] + arrays[1:], grads, "sum")


def test_kl_div_batchmean_and_warning():
    torch = pytest.importorskip("torch")
    x, t = tl.tensor(A), tl.tensor(PROB)
    ref = torch.nn.functional.kl_div(torch.tensor(A), torch.tensor(PROB), reduction="batchmean")
    assert F.kl_div(x, t, reduction="batchmean").item() == pytest.approx(ref.item(), rel=1e-12)
    assert tl.nn.KLDivLoss(reduction="batchmean")(x, t).item() == pytest.approx(ref.item(), rel=1e-12)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, t)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.kl_div(x, t, reduction="avg")


def test_gradcheck_float64():
    def t(a):
        return tl.tensor(a, requires_grad=True)
    assert gradcheck(lambda x, y: F.kl_div(x, y, reduction="batchmean"), (t(A), t(PROB + 0.1)))
    assert gradcheck(lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True), (t(A), t(B), t(C)))
    assert gradcheck(lambda x, y: F.cosine_embedding_loss(x, y, tl.tensor(SIGN[:, 0])), (t(A), t(B)))
    assert gradcheck(lambda x, v: F.gaussian_nll_loss(x, tl.tensor(C), v, full=True), (t(A), t(VAR + 0.1)))
    assert gradcheck(lambda x, y: F.multilabel_soft_margin_loss(x, y), (t(A), t(LABELS)))
    assert gradcheck(lambda x: F.multi_margin_loss(x, tl.tensor(TARGET), p=2), (t(A),))
    assert gradcheck(lambda x: F.poisson_nll_loss(x, tl.tensor(PROB), full=True), (t(A),))


def test_modules_match_functional():
    x, y, z = tl.tensor(A), tl.tensor(B), tl.tensor(C)
    s, w = tl.tensor(SIGN), tl.tensor(W)
    pairs = [
        (tl.nn.MarginRankingLoss(0.2, reduction="sum")(x, y, s), F.margin_ranking_loss(x, y, s, 0.2, "sum")),
        (tl.nn.HingeEmbeddingLoss()(x, s), F.hinge_embedding_loss(x, s)),
        (tl.nn.SoftMarginLoss()(x, s), F.soft_margin_loss(x, s)),
        (tl.nn.CosineEmbeddingLoss(0.1)(x, y, s[:, 0]), F.cosine_embedding_loss(x, y, s[:, 0], 0.1)),
        (tl.nn.TripletMarginLoss(2.0, p=1.0, swap=True)(x, y, z), F.triplet_margin_loss(x, y, z, 2.0, 1.0, swap=True)),
        (tl.nn.PoissonNLLLoss(full=True)(x, tl.tensor(PROB)), F.poisson_nll_loss(x, tl.tensor(PROB), full=True)),
        (tl.nn.GaussianNLLLoss(full=True)(x, y, 0.5), F.gaussian_nll_loss(x, y, 0.5, full=True)),
        (tl.nn.MultiLabelSoftMarginLoss(w)(x, tl.tensor(LABELS)), F.multilabel_soft_margin_loss(x, tl.tensor(LABELS), w)),
        (tl.nn.MultiMarginLoss(2, 0.5, w, "none")(x, tl.tensor(TARGET)), F.multi_margin_loss(x, tl.tensor(TARGET), 2, 0.5, w, "none")),
    ]
    for m, f in pairs:
        np.testing.assert_array_equal(m.numpy(), f.numpy())
    assert list(tl.nn.MultiMarginLoss(weight=w).state_dict()) == ["weight"]
    assert list(tl.nn.MultiMarginLoss().state_dict()) == []
    with pytest.raises(ValueError):
        tl.nn.MarginRankingLoss(reduction="avg")
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        tl.nn.MultiMarginLoss(p=3)


def test_errors():
    x, y = tl.tensor(A), tl.tensor(B)
    with pytest.raises(RuntimeError, match="same dimension"):
        F.margin_ranking_loss(x, y, tl.tensor(SIGN[:, 0]))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(x[0], y[0], tl.tensor(SIGN[:, 0]))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cosine_embedding_loss(x, y, tl.tensor(SIGN))
    with pytest.raises(RuntimeError, match=r"anchor 2D, positive 1D, and negative 2D"):
        F.triplet_margin_loss(x, y[0], x)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(x, y, x, margin=0)
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(x, y, tl.tensor(-VAR))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, y, tl.tensor(VAR[:2, :2]))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
        F.soft_margin_loss(x, tl.tensor(SIGN, requires_grad=True))
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, tl.tensor([0, 1, 5, 2]))
    with pytest.raises(IndexError):
        F.multi_margin_loss(x, tl.tensor([0, 1, -1, 2]))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multi_margin_loss(x, tl.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="inconsistent weight size"):
        F.multi_margin_loss(x, tl.tensor(TARGET), weight=tl.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, tl.tensor(TARGET), p=3)
    with pytest.raises(TypeError, match="int64"):
        F.multi_margin_loss(x, tl.tensor(TARGET).float())
    with pytest.raises(ValueError, match="is not valid"):
        F.gaussian_nll_loss(x, y, 1.0, reduction="avg")


def test_float32_and_empty():
    torch = pytest.importorskip("torch")
    x, t = tl.tensor(A, dtype=tl.float32), tl.tensor(SIGN, dtype=tl.float32)
    y = F.soft_margin_loss(x, t)
    assert y.dtype is tl.float32
    ref = torch.nn.functional.soft_margin_loss(torch.tensor(A, dtype=torch.float32), torch.tensor(SIGN, dtype=torch.float32))
    assert y.item() == pytest.approx(ref.item(), rel=1e-5)
    e = tl.zeros(0, 5)
    assert F.multi_margin_loss(e, tl.zeros(0, dtype=tl.int64), reduction="sum").item() == 0
    assert np.isnan(F.multilabel_soft_margin_loss(e, e).item())     # mean of nothing, as PyTorch
