"""F.rms_norm / nn.RMSNorm, the channel and alpha dropouts, rrelu, Softmax2d, bilinear, Fold and
Unfold, channel_shuffle, local_response_norm, lp_pool, gumbel_softmax, multilabel_margin_loss,
ctc_loss and embedding_bag with their modules: values and gradients against PyTorch (parameters
copied in through state_dict), gradcheck and gradgradcheck in float64 for the deterministic
ones, statistics for the random ones (tl's generator, not torch's stream), PyTorch's errors.
(Composites of existing ops, so no op-table lines of their own.)"""
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)


def _t(a, grad=False):
    return tl.tensor(np.asarray(a), requires_grad=grad)


def _close(a, b, tol=1e-9):
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a.detach().numpy(), b, rtol=tol, atol=tol)


def _vs_torch(f_tl, f_torch, arrays, grads=None, tol=1e-9):
    """f_tl(tl tensors) against f_torch(torch tensors): values and every input's gradient."""
    torch = pytest.importorskip("torch")
    grads = grads or [True] * len(arrays)
    xs = [tl.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    y, r = f_tl(*xs), f_torch(*ts)
    assert y.shape == tuple(r.shape)
    _close(y, r, tol)
    g = RNG.standard_normal(tuple(r.shape))
    y.backward(tl.tensor(g))
    r.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            _close(x.grad, t.grad, tol)


def _checks(fn, *arrays):
    """gradcheck and gradgradcheck in float64 of fn over arrays (all requiring grad)."""
    assert gradcheck(fn, tuple(_t(a, True) for a in arrays))
    assert gradgradcheck(fn, tuple(_t(a, True) for a in arrays))


# ---- rms_norm -------------------------------------------------------------------------------------

X = RNG.standard_normal((3, 4, 5))


@pytest.mark.parametrize("shape,w,eps", [((5,), False, None), ((4, 5), True, 1e-3), (5, True, None)])
def test_rms_norm_vs_torch(shape, w, eps):
    torch = pytest.importorskip("torch")
    ns = shape if isinstance(shape, tuple) else (shape,)
    arrays = [X] + ([RNG.standard_normal(ns)] if w else [])
    _vs_torch(lambda x, *wt: F.rms_norm(x, shape, *wt, eps=eps),
              lambda x, *wt: torch.nn.functional.rms_norm(x, ns, *wt, eps=eps), arrays)


def test_rms_norm_default_eps_is_dtype_eps():
    torch = pytest.importorskip("torch")
    x = np.array([[1e-5, -2e-5, 0.0]], dtype=np.float32)      # the eps term dominates
    for dt in (np.float32, np.float64):
        y = F.rms_norm(tl.tensor(x.astype(dt)), (3,))
        r = torch.nn.functional.rms_norm(torch.tensor(x.astype(dt)), (3,))
        np.testing.assert_allclose(y.numpy(), r.numpy(), rtol=1e-5 if dt is np.float32 else 1e-12)
    # NaN and inf rows propagate as PyTorch's
    z = np.array([[np.nan, 1.0, 2.0], [np.inf, 1.0, 2.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(np.isnan(F.rms_norm(tl.tensor(z), 3).numpy()),
                                  np.isnan(torch.nn.functional.rms_norm(torch.tensor(z), [3]).numpy()))


def test_rms_norm_gradcheck():
    _checks(lambda x, w: F.rms_norm(x, (5,), w, 1e-6), X, RNG.standard_normal(5))
    _checks(lambda x: F.rms_norm(x, (4, 5)), X)


def test_rms_norm_module_and_errors():
    torch = pytest.importorskip("torch")
    m, r = nn.RMSNorm([4, 5], eps=1e-4), torch.nn.RMSNorm([4, 5], eps=1e-4)
    r.weight.data.uniform_()
    m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in r.state_dict().items()})
    assert list(m.state_dict()) == list(r.state_dict()) == ["weight"]
    _close(m(tl.tensor(X)), r(torch.tensor(X)), 1e-6)
    assert repr(m) == repr(r)
    assert repr(nn.RMSNorm(3, elementwise_affine=False)) == repr(torch.nn.RMSNorm(3, elementwise_affine=False))
    assert nn.RMSNorm(3, elementwise_affine=False).weight is None
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 6\]"):
        F.rms_norm(tl.tensor(X), (6,))
    with pytest.raises(ValueError, match="weight shape"):
        F.rms_norm(tl.tensor(X), (5,), tl.ones(4))
    with pytest.raises(TypeError, match="floating-point"):
        F.rms_norm(tl.ones(2, 3, dtype=tl.int64), 3)


# ---- dropout family -------------------------------------------------------------------------------

CHANNEL_CASES = [   # (function, input shape, the dims one draw covers)
    (F.dropout1d, (40, 50, 7), (2,)),
    (F.dropout1d, (200, 7), (1,)),              # unbatched (C, L)
    (F.dropout2d, (40, 50, 3, 4), (2, 3)),
    (F.dropout3d, (40, 50, 2, 3, 2), (2, 3, 4)),
    (F.dropout3d, (400, 2, 3, 2), (1, 2, 3)),   # unbatched (C, D, H, W)
]


@pytest.mark.parametrize("fn,shape,within", CHANNEL_CASES)
def test_channel_dropout_statistics_and_gradient(fn, shape, within):
    tl.manual_seed(3)
    p = 0.3
    x = tl.ones(*shape, dtype=tl.float64, requires_grad=True)
    y = fn(x, p)
    v = y.detach().numpy()
    # a whole channel is either dropped or kept (scaled by 1 / (1 - p))
    np.testing.assert_array_equal(v.min(axis=within), v.max(axis=within))
    assert set(np.unique(v)) <= {0.0, 1 / (1 - p)}
    frac = (v.reshape(-1) == 0).mean()
    draws = np.prod([n for d, n in enumerate(shape) if d not in within])
    assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / draws)      # within 5 standard deviations
    g = RNG.standard_normal(shape)
    y.backward(tl.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * v, rtol=1e-12)   # gradient = mask * scale
    # eval mode and p == 0 are the identity; p == 1 zeroes everything
    assert fn(x, p, training=False) is x
    assert fn(x, 0.0) is x
    assert not fn(x, 1.0).detach().numpy().any()


def test_channel_dropout_inplace():
    tl.manual_seed(0)
    x = tl.ones(8, 16, 3, dtype=tl.float64)
    y = F.dropout1d(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy())) == {0.0, 2.0}
    w = tl.ones(8, 16, 3, dtype=tl.float64, requires_grad=True)
    h = w * 1.0
    F.dropout2d(h, 0.5, inplace=True)
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), h.detach().numpy())


def test_channel_dropout_rank_rules():
    x2, x3 = tl.ones(4, 5), tl.ones(4, 5, 6)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D"):
        F.dropout1d(tl.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(x3)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(x2)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(x3)
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout2d(tl.ones(2, 3, 4, 5), 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout3d(-0.1)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(tl.ones(5), 0.5, True)


def test_dropout_modules_train_eval_and_repr():
    torch = pytest.importorskip("torch")
    for cls, shape in (("Dropout1d", (4, 6, 3)), ("Dropout2d", (4, 6, 3, 2)),
                       ("Dropout3d", (4, 6, 3, 2, 2)), ("AlphaDropout", (4, 6)),
                       ("FeatureAlphaDropout", (4, 6, 3))):
        m = getattr(nn, cls)(0.2, inplace=False)
        assert repr(m) == repr(getattr(torch.nn, cls)(0.2))
        x = tl.randn(*shape)
        m.eval()
        assert m(x) is x
        m.train()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert not np.array_equal(m(x).numpy(), x.numpy())


ALPHA = 1.7580993408473766


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_statistics_and_gradient(feature):
    tl.manual_seed(5)
    p = 0.2
    shape = (200, 300, 2) if feature else (300, 400)
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    xn = RNG.standard_normal(shape)
    x = tl.tensor(xn, requires_grad=True)
    y = fn(x, p, training=True)
    a = 1 / np.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    v = y.detach().numpy()
    kept = np.isclose(v, a * xn + ALPHA * a * p, rtol=0, atol=1e-12)
    dropped = np.isclose(v, -ALPHA * a + ALPHA * a * p, rtol=0, atol=1e-12)
    assert (kept | dropped).all()
    assert abs(dropped.mean() - p) < 0.01
    if feature:
        assert (dropped.min(axis=2) == dropped.max(axis=2)).all()
    # zero mean and unit variance are kept (the point of alpha dropout)
    assert abs(v.mean()) < 0.02 and abs(v.std() - 1) < 0.02
    g = RNG.standard_normal(shape)
    y.backward(tl.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * a * kept, rtol=1e-12)
    # training=False is the functional's default
    assert fn(x, p) is x


def test_alpha_dropout_vs_torch_at_p_0_and_1():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 5))
    for p in (0.0, 1.0):
        _close(F.alpha_dropout(tl.tensor(x), p, True), torch.nn.functional.alpha_dropout(torch.tensor(x), p, True))
