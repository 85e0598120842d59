"""F.conv_transpose2d / conv_transpose1d and nn.ConvTranspose2d / ConvTranspose1d against
PyTorch (forward, every gradient, both conv paths of csrc/conv.c), gradcheck in float64,
PyTorch's errors, parameter shapes, init, repr and forward(output_size=)."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

from . import conv_ref

CASES = [  # (x shape, weight shape, kwargs)
    ((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 3, 3), (2, 2, 3, 3), dict()),
    ((2, 3, 4, 5), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2))),
    ((1, 2, 3, 3), (2, 2, 3, 3), dict(padding=1, output_padding=1, dilation=2)),   # op >= stride
    ((2, 16, 10, 10), (16, 16, 3, 3), dict(padding=1)),                            # the direct path
]


def _run(mod, x, w, b, g, **kw):
    xs = [mod.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = mod.nn.functional.conv_transpose2d(*xs, **kw)
    out.backward(mod.tensor(g))
    return [t.detach().numpy() for t in [out] + [v.grad for v in xs]]


@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("direct", ["0", "1"])
def test_against_torch_both_conv_paths(xs, ws, kw, direct, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TL_CONV_DIRECT", direct)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    g = rng.standard_normal(tuple(ref.shape))
    for got, want in zip(_run(tl, x, w, b, g, **kw), _run(torch, x, w, b, g, **kw)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_matches_the_numpy_reference_in_float32_and_unbatched():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2)
    out = F.conv_transpose2d(tl.tensor(x, dtype=tl.float32), tl.tensor(w, dtype=tl.float32),
                             tl.tensor(b, dtype=tl.float32), stride=2)
    assert out.dtype is tl.float32 and out.shape == (2, 9, 9)
    np.testing.assert_allclose(out.numpy(), conv_ref.conv_transpose2d(x[None], w, b, stride=2)[0],
                               rtol=1e-5, atol=1e-5)


def test_is_the_adjoint_of_conv2d():
    """<conv_transpose2d(y, w), x> = <y, conv2d(x, w)> for conv2d's matching geometry."""
    rng = np.random.default_rng(2)
    x, w = tl.tensor(rng.standard_normal((2, 4, 7, 6))), tl.tensor(rng.standard_normal((6, 2, 3, 3)))
    y = tl.tensor(rng.standard_normal((2, 6, 4, 3)))
    kw = dict(stride=2, padding=1, groups=2)
    lhs = (F.conv_transpose2d(y, w, output_padding=(0, 1), **kw) * x).sum().item()
    rhs = (F.conv2d(x, w, **kw) * y).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(3)
    ins = [tl.tensor(rng.standard_normal(s), requires_grad=True) for s in [(1, 2, 3, 2), (2, 2, 2, 3), (4,)]]
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(0, 1), groups=2,  # noqa: E731
                                            output_padding=(1, 0))
    assert tl.autograd.gradcheck(fn, ins)
    assert tl.autograd.gradgradcheck(fn, ins)


def test_conv_transpose1d_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3)), rng.standard_normal(6)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    got = _run1d(tl, x, w, b, **kw)
    want = _run1d(torch, x, w, b, **kw)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
    un = F.conv_transpose1d(tl.tensor(x[0]), tl.tensor(w), tl.tensor(b), **kw)
    np.testing.assert_allclose(un.numpy(), want[0][0], rtol=1e-10, atol=1e-10)
    assert tl.autograd.gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2),
                                 [tl.tensor(x[:1, :2, :3], requires_grad=True),
                                  tl.tensor(w[:2, :2], requires_grad=True)])


def _run1d(mod, x, w, b, **kw):
    xs = [mod.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = mod.nn.functional.conv_transpose1d(*xs, **kw)
    (out * out).sum().backward()
    return [t.detach().numpy() for t in [out] + [v.grad for v in xs]]


@pytest.mark.parametrize("call,msg", [
    (lambda x, w: F.conv_transpose2d(x, w[:3]), "expected input"),
    (lambda x, w: F.conv_transpose2d(x, w, output_padding=1), "output padding must be smaller"),
    (lambda x, w: F.conv_transpose2d(x, w, groups=3), "divisible by 3"),
    (lambda x, w: F.conv_transpose2d(x, w, tl.zeros(3)), "bias of size"),
    (lambda x, w: F.conv_transpose2d(x, w, padding=3), "Output size is too small"),
    (lambda x, w: F.conv_transpose2d(x[0, 0], w), "Expected 3D"),
    (lambda x, w: F.conv_transpose2d(x, w[0]), "weight must be 4-D"),
])
def test_errors_are_pytorchs(call, msg):
    x, w = tl.zeros(1, 4, 2, 2), tl.zeros(4, 2, 3, 3)
    with pytest.raises(RuntimeError, match=msg):   # tl's ConvShapeError is also a ValueError
        call(x, w)
    with pytest.raises(TypeError):
        F.conv_transpose2d(x.long(), w.long())
    with pytest.raises(RuntimeError, match="same dtype"):
        F.conv_transpose2d(x, w.double())


def test_modules_shapes_init_repr_and_output_size():
    torch = pytest.importorskip("torch")
    m = tl.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    t = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert repr(m) == repr(t)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in t.state_dict().items()}
    bound = 1 / np.sqrt(3 * 9)   # fan_in = out_channels / groups * kH * kW, as PyTorch
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    assert repr(tl.nn.ConvTranspose1d(3, 2, 3, bias=False)) == repr(torch.nn.ConvTranspose1d(3, 2, 3, bias=False))
    m1, t1 = tl.nn.ConvTranspose1d(3, 2, 3, stride=2), torch.nn.ConvTranspose1d(3, 2, 3, stride=2)
    m1.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in t1.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 3, 5)).astype(np.float32)
    for size in ([12], [2, 2, 11], None):
        np.testing.assert_allclose(m1(tl.tensor(x), output_size=size).detach().numpy(),
                                   t1(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m1(tl.tensor(x), output_size=[13])
    with pytest.raises(ValueError, match="padding mode"):
        tl.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    out = tl.nn.ConvTranspose2d(2, 3, 2, stride=2)(tl.randn(1, 2, 4, 4))
    out.sum().backward()
    assert out.shape == (1, 3, 8, 8)


def test_half_inputs_and_empty_batch():
    x, w = tl.randn(2, 4, 3, 3), tl.randn(4, 2, 3, 3)
    for dt in (tl.float16, tl.bfloat16):
        xh, wh = x.to(dt).requires_grad_(), w.to(dt).requires_grad_()
        out = F.conv_transpose2d(xh, wh, stride=2)
        assert out.dtype is dt
        np.testing.assert_allclose(out.float().detach().numpy(),
                                   F.conv_transpose2d(xh.detach().float(), wh.detach().float(),
                                                      stride=2).to(dt).float().numpy())
        out.float().sum().backward()
        assert xh.grad.dtype is dt and wh.grad.dtype is dt
    xe, we, be = tl.zeros(0, 4, 3, 3, requires_grad=True), w.requires_grad_(), tl.zeros(2, requires_grad=True)
    out = F.conv_transpose2d(xe, we, be)
    assert out.shape == (0, 2, 5, 5)
    out.sum().backward()
    assert we.grad.abs().sum().item() == 0 and be.grad.tolist() == [0.0, 0.0]
