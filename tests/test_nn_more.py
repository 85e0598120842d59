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
    m = nn.RMSNorm([4, 5], eps=1e-4, dtype=tl.float64)
    r = torch.nn.RMSNorm([4, 5], eps=1e-4, dtype=torch.float64)
    r.weight.data.uniform_()
    m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in r.state_dict().items()})
    assert list(m.state_dict()) == list(r.state_dict()) == ["weight"]
    _close(m(tl.tensor(X)), r(torch.tensor(X)))
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
    w = tl.ones(8, 16, 3, 2, dtype=tl.float64, requires_grad=True)
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


# ---- rrelu, Softmax2d, bilinear, Fold/Unfold, channel_shuffle, local_response_norm, lp_pool -------

def test_rrelu_eval_vs_torch_and_gradcheck():
    torch = pytest.importorskip("torch")
    x = X.copy()
    x[0, 0, :3] = [0.0, np.nan, -np.inf]
    _vs_torch(lambda a: F.rrelu(a, 0.1, 0.3), lambda a: torch.nn.functional.rrelu(a, 0.1, 0.3), [x])
    m, r = nn.RReLU(0.2, 0.4, inplace=True).eval(), torch.nn.RReLU(0.2, 0.4, inplace=True).eval()
    assert repr(m) == repr(r) and repr(nn.RReLU()) == repr(torch.nn.RReLU())
    _close(m(tl.tensor(X)), r(torch.tensor(X)))
    _checks(lambda a: F.rrelu(a, 0.1, 0.3), X)
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal"):
        F.rrelu(tl.tensor(X), 0.5, 0.1)


def test_rrelu_training_statistics_and_gradient():
    tl.manual_seed(1)
    lower, upper = 0.1, 0.3
    xn = RNG.standard_normal((200, 300))
    x = tl.tensor(xn, requires_grad=True)
    y = F.rrelu(x, lower, upper, training=True)
    v = y.detach().numpy()
    neg = xn < 0
    np.testing.assert_array_equal(v[~neg], xn[~neg])
    slope = v[neg] / xn[neg]
    assert slope.min() >= lower and slope.max() <= upper
    # U(lower, upper): mean (lower + upper) / 2, variance (upper - lower)^2 / 12
    assert abs(slope.mean() - 0.2) < 0.002 and abs(slope.var() - 0.04 / 12) < 1e-4
    y.backward(tl.ones_like(x))
    expect = np.where(neg, v / np.where(neg, xn, 1.0), 1.0)
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)
    # the module draws in training mode, and each call draws anew
    m = nn.RReLU(lower, upper)
    assert not np.array_equal(m(tl.tensor(xn)).numpy(), m(tl.tensor(xn)).numpy())


def test_softmax2d():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 3, 4, 5))
    _vs_torch(lambda x: nn.Softmax2d()(x), lambda x: torch.nn.Softmax2d()(x), [a])
    _vs_torch(lambda x: nn.Softmax2d()(x), lambda x: torch.nn.Softmax2d()(x), [a[0]])
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        nn.Softmax2d()(tl.ones(3, 4))


def test_bilinear_vs_torch_module_and_gradcheck():
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 5))
    w, bias = RNG.standard_normal((6, 4, 5)), RNG.standard_normal(6)
    _vs_torch(F.bilinear, torch.nn.functional.bilinear, [a, b, w, bias])
    _vs_torch(F.bilinear, torch.nn.functional.bilinear, [a[0, 0], b[0, 0], w])
    _checks(F.bilinear, a[0], b[0], w, bias)
    torch.manual_seed(0)
    r = torch.nn.Bilinear(4, 5, 6, dtype=torch.float64)
    m = nn.Bilinear(4, 5, 6, dtype=tl.float64)
    assert list(m.state_dict()) == list(r.state_dict()) == ["weight", "bias"]
    m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in r.state_dict().items()})
    _close(m(tl.tensor(a), tl.tensor(b)), r(torch.tensor(a), torch.tensor(b)))
    assert repr(m) == repr(r) and repr(nn.Bilinear(2, 3, 4, bias=False)) == repr(torch.nn.Bilinear(2, 3, 4, bias=False))
    assert nn.Bilinear(2, 3, 4, bias=False).bias is None
    # PyTorch's init: U(-1/sqrt(in1), 1/sqrt(in1)) for both
    big = nn.Bilinear(16, 30, 40)
    for p in (big.weight, big.bias):
        v = p.detach().numpy()
        assert v.min() >= -0.25 and v.max() <= 0.25 and v.max() - v.min() > 0.45
    with pytest.raises(RuntimeError, match="input1 size does not match weight size: got 4 but expected 3"):
        F.bilinear(tl.tensor(a), tl.tensor(b), tl.ones(6, 3, 5, dtype=tl.float64))
    with pytest.raises(RuntimeError, match="input batch dimensions do not match"):
        F.bilinear(tl.tensor(a), tl.tensor(b[:1]), tl.tensor(w))
    with pytest.raises(RuntimeError, match="input dimensions do not match"):
        F.bilinear(tl.tensor(a), tl.tensor(b[0]), tl.tensor(w))
    with pytest.raises(RuntimeError, match="bias size does not match"):
        F.bilinear(tl.tensor(a), tl.tensor(b), tl.tensor(w), tl.ones(5, dtype=tl.float64))


def test_fold_unfold_modules():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 3, 6, 5))
    kw = dict(kernel_size=(2, 3), dilation=1, padding=1, stride=2)
    u, ur = nn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(u) == repr(ur)
    _vs_torch(u, ur, [a])
    cols = ur(torch.tensor(a)).detach().numpy()
    f, fr = nn.Fold((6, 5), **kw), torch.nn.Fold((6, 5), **kw)
    assert repr(f) == repr(fr)
    _vs_torch(f, fr, [cols])


def test_channel_shuffle():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 6, 3, 2))
    _vs_torch(lambda x: F.channel_shuffle(x, 3), lambda x: torch.nn.functional.channel_shuffle(x, 3), [a])
    m, r = nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2)
    assert repr(m) == repr(r)
    _close(m(tl.tensor(a[:, :, 0])), r(torch.tensor(a[:, :, 0])))
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 6 channels and 4 groups"):
        F.channel_shuffle(tl.tensor(a), 4)
    with pytest.raises(RuntimeError, match="must be positive"):
        F.channel_shuffle(tl.tensor(a), 0)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.channel_shuffle(tl.ones(2, 6), 2)


@pytest.mark.parametrize("shape,size", [((2, 5, 4), 3), ((2, 6, 3, 4), 4), ((1, 4, 2, 2, 3), 2),
                                        ((2, 3, 4), 1), ((2, 3, 4), 7)])
def test_local_response_norm(shape, size):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(shape)
    _vs_torch(lambda x: F.local_response_norm(x, size, 0.1, 0.6, 1.5),
              lambda x: torch.nn.functional.local_response_norm(x, size, 0.1, 0.6, 1.5), [a])
    m, r = nn.LocalResponseNorm(size), torch.nn.LocalResponseNorm(size)
    assert repr(m) == repr(r)
    _close(m(tl.tensor(a)), r(torch.tensor(a)))


def test_local_response_norm_gradcheck_and_errors():
    _checks(lambda x: F.local_response_norm(x, 3, 0.5, 0.75, 1.0), RNG.standard_normal((2, 4, 3)))
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2 dimensions\)"):
        F.local_response_norm(tl.ones(2, 3), 2)


@pytest.mark.parametrize("p", [2.0, 1.5, 3])
def test_lp_pool(p):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a = np.abs(RNG.standard_normal((2, 3, 7, 6))) + 0.1
    _vs_torch(lambda x: F.lp_pool2d(x, p, 3, 2), lambda x: tf.lp_pool2d(x, p, 3, 2), [a])
    _vs_torch(lambda x: F.lp_pool2d(x, p, (2, 3), ceil_mode=True),
              lambda x: tf.lp_pool2d(x, p, (2, 3), ceil_mode=True), [a])
    _vs_torch(lambda x: F.lp_pool1d(x, p, 3), lambda x: tf.lp_pool1d(x, p, 3), [a[0, :, 0]])
    _vs_torch(lambda x: F.lp_pool1d(x, p, 2, 1, True), lambda x: tf.lp_pool1d(x, p, 2, 1, True), [a[:, :, 0]])
    for cls, arr, args in (("LPPool1d", a[:, :, 0], (p, 3)), ("LPPool2d", a, (p, (2, 2), 1))):
        m, r = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
        assert repr(m) == repr(r)
        _close(m(tl.tensor(arr)), r(torch.tensor(arr)))


def test_lp_pool_signs_and_gradcheck():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a = RNG.standard_normal((1, 2, 6))         # odd p with negative windows: NaN, as PyTorch
    _vs_torch(lambda x: F.lp_pool1d(x, 3, 2), lambda x: tf.lp_pool1d(x, 3, 2), [a])
    _vs_torch(lambda x: F.lp_pool1d(x, 2, 3), lambda x: tf.lp_pool1d(x, 2, 3), [a])
    pos = np.abs(RNG.standard_normal((1, 2, 4, 4))) + 0.5
    _checks(lambda x: F.lp_pool2d(x, 2, 2), pos)
    _checks(lambda x: F.lp_pool1d(x, 3, 2), pos[0])


def test_gumbel_softmax_statistics():
    tl.manual_seed(2)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    x = tl.tensor(np.tile(logits, (20000, 1)), requires_grad=True)
    y = F.gumbel_softmax(x, tau=0.5)
    v = y.detach().numpy()
    np.testing.assert_allclose(v.sum(1), 1.0, rtol=1e-12)
    # the argmax of logits + Gumbel noise is a sample of softmax(logits)
    freq = np.bincount(v.argmax(1), minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    h = F.gumbel_softmax(x, tau=0.5, hard=True, dim=1)
    hv = h.detach().numpy()
    assert set(np.unique(hv)) == {0.0, 1.0} and (hv.sum(1) == 1).all()
    freq = hv.mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    # straight-through: the hard sample's gradient is the soft sample's
    g = tl.tensor(RNG.standard_normal((20000, 4)))
    tl.manual_seed(4)
    soft = F.gumbel_softmax(x, tau=0.5)
    (gs,) = tl.autograd.grad(soft, x, g)
    tl.manual_seed(4)
    hard = F.gumbel_softmax(x, tau=0.5, hard=True)
    (gh,) = tl.autograd.grad(hard, x, g)
    np.testing.assert_allclose(gh.numpy(), gs.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(TypeError, match="floating-point"):
        F.gumbel_softmax(tl.ones(3, dtype=tl.int64))


# ---- multilabel_margin_loss, ctc_loss -------------------------------------------------------------

ML_X = RNG.standard_normal((4, 5))
ML_X[3, 2] = np.nan
ML_Y = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 1, 1, 1], [2, 2, -1, 0, 4]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss_vs_torch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _vs_torch(lambda x, y: F.multilabel_margin_loss(x, y, reduction),
              lambda x, y: tf.multilabel_margin_loss(x, y, reduction=reduction), [ML_X, ML_Y], [True, False])
    _vs_torch(lambda x, y: F.multilabel_margin_loss(x, y, reduction),
              lambda x, y: tf.multilabel_margin_loss(x, y, reduction=reduction), [ML_X[0], ML_Y[0]], [True, False])
    m, r = nn.MultiLabelMarginLoss(reduction=reduction), torch.nn.MultiLabelMarginLoss(reduction=reduction)
    _close(m(tl.tensor(ML_X), tl.tensor(ML_Y)), r(torch.tensor(ML_X), torch.tensor(ML_Y)))


def test_multilabel_margin_loss_gradcheck_and_errors():
    y = tl.tensor(ML_Y[:3])
    _checks(lambda x: F.multilabel_margin_loss(x, y), RNG.standard_normal((3, 5)))
    x = tl.tensor(ML_X)
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[4\] for input of size: \[4, 5\]"):
        F.multilabel_margin_loss(x, tl.tensor(ML_Y[:, 0]))
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multilabel_margin_loss(x, tl.tensor(np.where(ML_Y == 1, 5, ML_Y)))
    with pytest.raises(RuntimeError, match="target out of range"):      # after the -1 too
        F.multilabel_margin_loss(x, tl.tensor(np.where(ML_Y == 4, -2, ML_Y)))
    with pytest.raises(TypeError, match="int64"):
        F.multilabel_margin_loss(x, tl.tensor(ML_Y.astype(np.float64)))
    with pytest.raises(ValueError, match="reduction"):
        F.multilabel_margin_loss(x, tl.tensor(ML_Y), "avg")


def _ctc_case(T=7, N=4, C=5, seed=0):
    r = np.random.default_rng(seed)
    logits = r.standard_normal((T, N, C))
    targets = np.array([[1, 2, 2, 3], [3, 1, 0, 0], [4, 4, 4, 4], [2, 0, 0, 0]])   # repeats need blanks
    return logits, targets, [7, 5, 7, 1], [3, 2, 2, 0]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("concatenated", [False, True])
def test_ctc_loss_vs_torch(reduction, concatenated):
    """Through log_softmax (as CTC is used) and straight at log_probs (PyTorch's gradient
    convention there: see F.ctc_loss), 2-d and concatenated targets, a length-0 target and an
    input shorter than the longest."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    logits, tg, il, tlens = _ctc_case()
    if concatenated:
        tg = np.concatenate([row[:n] for row, n in zip(tg, tlens)])
    lp = tf.log_softmax(torch.tensor(logits), 2).numpy()
    _vs_torch(lambda x: F.ctc_loss(F.log_softmax(x, 2), tl.tensor(tg), il, tlens, reduction=reduction),
              lambda x: tf.ctc_loss(tf.log_softmax(x, 2), torch.tensor(tg), torch.tensor(il),
                                    torch.tensor(tlens), reduction=reduction), [logits])
    _vs_torch(lambda x: F.ctc_loss(x, tl.tensor(tg), tl.tensor(il), tl.tensor(tlens), 0, reduction),
              lambda x: tf.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tlens),
                                    reduction=reduction), [lp])


def test_ctc_loss_blank_unbatched_float32_module():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    logits, tg, il, tlens = _ctc_case()
    tg2 = np.where(tg == 4, 0, tg)                            # blank = 4: 0 is an ordinary label
    lp = tf.log_softmax(torch.tensor(logits), 2).numpy()
    _vs_torch(lambda x: F.ctc_loss(x, tl.tensor(tg2), il, tlens, blank=4),
              lambda x: tf.ctc_loss(x, torch.tensor(tg2), torch.tensor(il), torch.tensor(tlens), blank=4), [lp])
    _vs_torch(lambda x: F.ctc_loss(x, tl.tensor(tg[0, :3]), 7, 3, reduction="none"),
              lambda x: tf.ctc_loss(x, torch.tensor(tg[0, :3]), torch.tensor(7), torch.tensor(3),
                                    reduction="none"), [lp[:, 0]])
    lp32 = lp.astype(np.float32)
    _vs_torch(lambda x: nn.CTCLoss(reduction="sum")(x, tl.tensor(tg), il, tlens),
              lambda x: torch.nn.CTCLoss(reduction="sum")(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tlens)),
              [lp32], tol=2e-5)


def test_ctc_loss_infinite_and_zero_infinity():
    """A target that no alignment fits (longer than the input): inf loss; zero_infinity gives 0
    and a zero gradient for it, as PyTorch. (Without zero_infinity PyTorch's gradient of that
    sample is NaN; here it is 0: see the README.)"""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    logits, tg, _, tlens = _ctc_case()
    il = [2, 5, 7, 1]                                       # sample 0: 3 labels in 2 steps
    lp = tf.log_softmax(torch.tensor(logits), 2).numpy()
    y = F.ctc_loss(tl.tensor(lp), tl.tensor(tg), il, tlens, reduction="none")
    assert np.isinf(y.numpy()[0])
    for reduction in ("mean", "sum", "none"):
        _vs_torch(lambda x: F.ctc_loss(x, tl.tensor(tg), il, tlens, reduction=reduction, zero_infinity=True),
                  lambda x: tf.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tlens),
                                        reduction=reduction, zero_infinity=True), [lp])
    x = tl.tensor(lp, requires_grad=True)
    F.ctc_loss(x, tl.tensor(tg), il, tlens).backward()
    assert np.isfinite(x.grad.numpy()).all() and not x.grad.numpy()[:, 0].any()


def test_ctc_loss_gradcheck():
    logits, tg, il, tlens = _ctc_case(T=4, N=2, C=3)
    tg, il, tlens = np.array([[1, 1], [2, 0]]), [4, 3], [2, 1]
    # through log_softmax the gradient is the derivative (PyTorch's extra exp(log_probs) term
    # is orthogonal to log_softmax's image)
    _checks(lambda x: F.ctc_loss(F.log_softmax(x, 2), tl.tensor(tg), il, tlens), logits[:4, :2, :3])


def test_ctc_loss_errors():
    logits, tg, il, tlens = _ctc_case()
    lp = tl.tensor(logits)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 7, but got value 8"):
        F.ctc_loss(lp, tl.tensor(tg), [8, 1, 1, 1], tlens)
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(lp, tl.tensor(tg), [7, 1], tlens)
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(lp, tl.tensor(tg), il, tlens, blank=5)
    with pytest.raises(RuntimeError, match="targets of shape"):
        F.ctc_loss(lp, tl.tensor(tg[:, :2]), il, tlens)
    with pytest.raises(RuntimeError, match="sum\\(target_lengths\\)"):
        F.ctc_loss(lp, tl.tensor(tg.reshape(-1)), il, tlens)
    with pytest.raises(RuntimeError, match="outside"):
        F.ctc_loss(lp, tl.tensor(tg + 3), il, tlens)
    with pytest.raises(TypeError, match="integer class indices"):
        F.ctc_loss(lp, tl.tensor(tg.astype(np.float64)), il, tlens)
    with pytest.raises(RuntimeError, match=r"\(T, N, C\) or \(T, C\)"):
        F.ctc_loss(tl.ones(3), tl.tensor(tg), il, tlens)


# ---- embedding_bag --------------------------------------------------------------------------------

EB_W = RNG.standard_normal((10, 3))
EB_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9, 4])
EB_OFF = np.array([0, 4, 4, 7])               # bag 1 is empty
EB_PSW = RNG.standard_normal(9)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_vs_torch(mode, padding_idx):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _vs_torch(lambda w: F.embedding_bag(tl.tensor(EB_IDX), w, tl.tensor(EB_OFF), mode=mode, padding_idx=padding_idx),
              lambda w: tf.embedding_bag(torch.tensor(EB_IDX), w, torch.tensor(EB_OFF), mode=mode,
                                         padding_idx=padding_idx), [EB_W])
    idx2 = EB_IDX[:8].reshape(2, 4)           # 2-d input: one bag a row
    _vs_torch(lambda w: F.embedding_bag(tl.tensor(idx2), w, mode=mode, padding_idx=padding_idx),
              lambda w: tf.embedding_bag(torch.tensor(idx2), w, mode=mode, padding_idx=padding_idx), [EB_W])
    off = np.append(EB_OFF, 9)                # include_last_offset: the end of the last bag
    _vs_torch(lambda w: F.embedding_bag(tl.tensor(EB_IDX), w, tl.tensor(off), mode=mode,
                                        include_last_offset=True, padding_idx=padding_idx),
              lambda w: tf.embedding_bag(torch.tensor(EB_IDX), w, torch.tensor(off), mode=mode,
                                         include_last_offset=True, padding_idx=padding_idx), [EB_W])


def test_embedding_bag_per_sample_weights_and_gradcheck():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _vs_torch(lambda w, p: F.embedding_bag(tl.tensor(EB_IDX), w, tl.tensor(EB_OFF), mode="sum", per_sample_weights=p),
              lambda w, p: tf.embedding_bag(torch.tensor(EB_IDX), w, torch.tensor(EB_OFF), mode="sum",
                                            per_sample_weights=p), [EB_W, EB_PSW])
    idx, off = tl.tensor(EB_IDX), tl.tensor(EB_OFF)
    _checks(lambda w, p: F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p), EB_W, EB_PSW)
    _checks(lambda w: F.embedding_bag(idx, w, off, padding_idx=2), EB_W)
    assert gradcheck(lambda w: F.embedding_bag(idx, w, off, mode="max"), (_t(EB_W, True),))


def test_embedding_bag_module_from_pretrained_and_repr():
    torch = pytest.importorskip("torch")
    for kw in ({}, {"mode": "max", "padding_idx": -2}, {"mode": "sum", "include_last_offset": True}):
        r = torch.nn.EmbeddingBag(10, 3, dtype=torch.float64, **kw)
        m = nn.EmbeddingBag(10, 3, dtype=tl.float64, **kw)
        assert repr(m) == repr(r) and list(m.state_dict()) == ["weight"]
        assert m.padding_idx == r.padding_idx
        m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in r.state_dict().items()})
        off = EB_OFF if not kw.get("include_last_offset") else np.append(EB_OFF, 9)
        _close(m(tl.tensor(EB_IDX), tl.tensor(off)), r(torch.tensor(EB_IDX), torch.tensor(off)))
    pad = nn.EmbeddingBag(6, 2, padding_idx=3)
    assert not pad.weight.detach().numpy()[3].any() and pad.weight.detach().numpy()[2].any()
    e = nn.EmbeddingBag.from_pretrained(tl.tensor(EB_W), mode="sum")
    assert not e.weight.requires_grad and np.array_equal(e.weight.detach().numpy(), EB_W)
    assert nn.EmbeddingBag.from_pretrained(tl.tensor(EB_W), freeze=False).weight.requires_grad
    _close(e(tl.tensor(EB_IDX), tl.tensor(EB_OFF)),
           torch.nn.EmbeddingBag.from_pretrained(torch.tensor(EB_W), mode="sum")(torch.tensor(EB_IDX), torch.tensor(EB_OFF)))


def test_embedding_bag_errors():
    w, idx, off = tl.tensor(EB_W), tl.tensor(EB_IDX), tl.tensor(EB_OFF)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(idx, w)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(tl.tensor(EB_IDX[:8].reshape(2, 4)), w, off)
    with pytest.raises(ValueError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(idx, w, tl.tensor(EB_OFF + 1))
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, off, per_sample_weights=tl.tensor(EB_PSW))
    with pytest.raises(ValueError, match="same shape as the input"):
        F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=tl.tensor(EB_PSW[:3]))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(idx, w, off, mode="min")
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding_bag(tl.tensor(EB_IDX + 5), w, off)
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding_bag(idx, w, off, max_norm=1.0)
    with pytest.raises(TypeError, match="int64"):
        F.embedding_bag(tl.tensor(EB_IDX.astype(np.float64)), w, off)


def test_empty_edges_vs_torch():
    """Empty targets, an empty input sequence, an empty index list."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    lp = tf.log_softmax(torch.tensor(RNG.standard_normal((4, 2, 3))), 2)
    _close(F.ctc_loss(tl.tensor(lp.numpy()), tl.tensor(np.zeros((2, 0), np.int64)), [4, 2], [0, 0], reduction="none"),
           tf.ctc_loss(lp, torch.zeros((2, 0), dtype=torch.long), [4, 2], [0, 0], reduction="none"))
    _close(F.ctc_loss(tl.tensor(lp.numpy()), tl.tensor(np.array([[1, 1], [2, 1]])), [4, 0], [2, 0], reduction="none"),
           tf.ctc_loss(lp, torch.tensor([[1, 1], [2, 1]]), [4, 0], [2, 0], reduction="none"))
    empty = np.zeros(0, np.int64)
    _close(F.embedding_bag(tl.tensor(empty), tl.tensor(EB_W), tl.tensor(np.array([0, 0])), mode="max"),
           tf.embedding_bag(torch.tensor(empty), torch.tensor(EB_W), torch.tensor([0, 0]), mode="max"))


def test_gradchecks_of_the_view_like_ones():
    a = RNG.standard_normal((2, 4, 3))
    _checks(lambda x: F.channel_shuffle(x, 2), a)
    _checks(lambda x: nn.Softmax2d()(x), a)
    _checks(lambda x: nn.Unfold(2, padding=1)(x), RNG.standard_normal((1, 2, 3, 3)))
    _checks(lambda x: F.embedding_bag(tl.tensor(EB_IDX), x, tl.tensor(EB_OFF), mode="max"), EB_W)


def test_rrelu_and_alpha_dropout_inplace_training():
    tl.manual_seed(6)
    w = tl.randn(40, 50, dtype=tl.float64, requires_grad=True)
    h = w * 1.0
    assert F.rrelu(h, 0.1, 0.3, training=True, inplace=True) is h
    h.sum().backward()                  # the gradient is each element's slope
    np.testing.assert_allclose(w.grad.numpy(), h.detach().numpy() / w.detach().numpy(), rtol=1e-12)
    x = tl.randn(40, 50, dtype=tl.float64)
    before = x.numpy().copy()
    assert F.alpha_dropout(x, 0.3, True, inplace=True) is x
    assert (x.numpy() != before).mean() > 0.2
