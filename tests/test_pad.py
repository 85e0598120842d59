"""F.pad (constant, reflect, replicate, circular over the last 1-3 dims), the padding layers
(ZeroPad*, ConstantPad*, ReflectionPad*, ReplicationPad*, CircularPad*), nn.ParameterList and
nn.ParameterDict: forward against NumPy's np.pad, tl.testing.check_op (layouts, create_graph,
gradcheck / gradgradcheck in float64, NaN, 0-d / empty variants), values and gradients against
PyTorch when installed, PyTorch's error types. (ConstantPad's SPECS lines in tests/test_ops.py
add the derivative mutation check.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab.testing import check_op

RNG = np.random.default_rng(5)
TOL = {tl.float64: (1e-10, 1e-12), tl.float32: (2e-5, 2e-6)}
NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _a(*shape):
    return RNG.uniform(-2, 2, shape)


def _t(a, grad=False):
    return tl.tensor(np.asarray(a), dtype=tl.float64, requires_grad=grad)


def _np_pad(a, pad, mode, value=0.0):
    """np.pad for non-negative torch-style pads (last dim first)."""
    k = len(pad) // 2
    widths = [(0, 0)] * (a.ndim - k) + [(pad[2 * (k - 1 - j)], pad[2 * (k - 1 - j) + 1]) for j in range(k)]
    if mode == "constant":
        return np.pad(a, widths, constant_values=value)
    return np.pad(a, widths, mode=NP_MODE[mode])


CASES = [((2, 3, 5), (1, 2)), ((2, 3, 5), (4, 0)), ((3, 5), (2, 2)), ((1, 2, 4, 5), (1, 2, 3, 0)),
         ((2, 4, 5), (0, 1, 3, 2)), ((1, 2, 3, 4, 5), (1, 0, 2, 3, 2, 1)), ((2, 3, 4, 5), (2, 1, 1, 3, 0, 2))]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES)
def test_pad_matches_numpy(mode, shape, pad):
    a = _a(*shape)
    if mode == "reflect" and any(p >= n for p, n in zip(pad[::2] + pad[1::2], shape[::-1] * 2)):
        pytest.skip("reflect needs pads smaller than the dim")
    ref = _np_pad(a, pad, mode)
    np.testing.assert_array_equal(F.pad(_t(a), pad, mode).numpy(), ref)
    # a transposed (non-contiguous) input
    at = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    np.testing.assert_array_equal(F.pad(_t(at).transpose(-1, -2), pad, mode=mode).numpy(), ref)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_check_op(mode):
    variants = ("noncontiguous", "transposed", "expanded")
    for shape, pad in [((2, 3, 4), (1, 2)), ((1, 2, 3, 4), (2, 1, 0, 2))]:
        check_op(lambda x: F.pad(x, pad, mode), _t(_a(*shape)), ref=lambda x: _np_pad(x, pad, mode),
                 tolerances=TOL, variants=variants, name=f"pad {mode}")
    check_op(lambda x: F.pad(x, (1, 1, 1, 0, 0, 1), mode), _t(_a(1, 2, 2, 3, 3)),
             ref=lambda x: _np_pad(x, (1, 1, 1, 0, 0, 1), mode), tolerances=TOL, variants=variants,
             name=f"pad3d {mode}")


def test_constant_pad_any_dims_value_dtype_and_negative():
    a = _a(3, 4)
    np.testing.assert_array_equal(F.pad(_t(a), (1, 2), value=3.5).numpy(), _np_pad(a, (1, 2), "constant", 3.5))
    np.testing.assert_array_equal(F.pad(_t(a), (1, 1, 2, 0)).numpy(), _np_pad(a, (1, 1, 2, 0), "constant"))
    np.testing.assert_array_equal(F.pad(_t(_a(5)), (2, 1)).numpy()[[0, 1, 7]], [0, 0, 0])
    np.testing.assert_array_equal(F.pad(_t(a), (1, -2, -1, 1)).numpy(),
                                  np.pad(a[1:, :-2], ((0, 1), (1, 0))))
    np.testing.assert_array_equal(F.pad(_t(a), (-1, -1)).numpy(), a[:, 1:-1])
    np.testing.assert_array_equal(F.pad(_t(a), (-4, 0)).numpy(), a[:, 4:])
    out = F.pad(tl.arange(6).reshape(1, 2, 3), (1, 1), "constant", 2.5)
    assert out.dtype is tl.int64 and out.tolist() == [[[2, 0, 1, 2, 2], [2, 3, 4, 5, 2]]]   # as torch
    assert F.pad(tl.ones(2, dtype=tl.bool), (1, 0)).tolist() == [False, True, True]
    h = F.pad(tl.ones(2, dtype=tl.float16), (1, 1), value=2.0)
    assert h.dtype is tl.float16 and h.tolist() == [2.0, 1.0, 1.0, 2.0]
    assert F.pad(tl.zeros(2, 0), (1, 1)).shape == (2, 2) and F.pad(tl.zeros(0, 3), (1, 1)).shape == (0, 5)
    x = _t(a)
    same = F.pad(x, (0, 0))
    np.testing.assert_array_equal(same.numpy(), a)
    assert same.data_ptr() != x.data_ptr()                          # a new tensor, as torch
    check_op(lambda t: F.pad(t, (1, -2, -1, 1), value=-1.0), _t(_a(3, 4)),
             ref=lambda t: np.pad(t[1:, :-2], ((0, 1), (1, 0)), constant_values=-1.0), tolerances=TOL)


def test_pad_nan_and_gradients_accumulate_at_edges():
    a = np.array([[[1.0, np.nan, 3.0]]])
    out = F.pad(_t(a), (2, 2), "reflect").numpy()[0, 0]
    np.testing.assert_array_equal(out, [3.0, np.nan, 1.0, np.nan, 3.0, np.nan, 1.0])
    x = _t([[[1.0, 2.0, 3.0]]], grad=True)
    F.pad(x, (2, 2), "replicate").sum().backward()
    assert x.grad.tolist() == [[[3.0, 1.0, 3.0]]]
    x.grad = None
    F.pad(x, (2, 1), "reflect").sum().backward()
    assert x.grad.tolist() == [[[1.0, 3.0, 2.0]]]
    x.grad = None
    F.pad(x, (3, 2), "circular").sum().backward()
    assert x.grad.tolist() == [[[3.0, 3.0, 2.0]]]
    x.grad = None
    F.pad(x, (1, 1), value=np.nan).sum().backward()
    assert x.grad.tolist() == [[[1.0, 1.0, 1.0]]]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (1, 2)), ((2, 3, 5), (-1, 3)), ((1, 2, 4, 5), (1, -2, 3, 0)),
                                       ((2, 4, 5), (2, 1, 1, 1)), ((1, 2, 3, 4, 3), (1, 0, -1, 2, 2, 1)),
                                       ((0, 3, 4), (1, 1))])
def test_pad_vs_torch(mode, shape, pad):
    torch = pytest.importorskip("torch")
    a = _a(*shape)
    ta = torch.tensor(a, requires_grad=True)
    try:
        tout = torch.nn.functional.pad(ta, pad, mode)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            F.pad(_t(a), pad, mode)
        return
    x = _t(a, grad=True)
    out = F.pad(x, pad, mode)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    w = RNG.standard_normal(out.shape)
    (g,) = tl.autograd.grad((out * _t(w)).sum(), [x])
    (tg,) = torch.autograd.grad((tout * torch.tensor(w)).sum(), [ta])
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,pad,mode", [
    ((3, 4), (1,), "constant"), ((3, 4), (1, 1, 1, 1, 1, 1), "constant"), ((3, 4), (4, 4), "reflect"),
    ((1, 3, 4), (4, 0), "reflect"), ((3,), (2, 2), "reflect"), ((3, 4), (5, 5), "circular"),
    ((3, 4), (1, 1), "foo"), ((3, 4), (-5, 1), "constant"),
    ((3,), (1, 1), "replicate"), ((3, 4), (1, 1, 1, 1), "reflect"), ((1, 0, 3), (1, 1), "reflect"),
    ((0, 4), (1, 1), "replicate"), ((2, 3, 4, 5, 6), (1, 1), "reflect"), ((3, 4, 5), (1, 1, 1, 1, 1, 1), "circular"),
    ((3, 4), (1, 1, 1), "constant")])
def test_pad_errors_match_torch(shape, pad, mode, value=None):
    torch = pytest.importorskip("torch")
    kw = {} if value is None else {"value": value}
    with pytest.raises(Exception) as te:
        torch.nn.functional.pad(torch.zeros(shape), pad, mode, **kw)
    with pytest.raises(type(te.value)):
        F.pad(tl.zeros(*shape), pad, mode, **kw)
    with pytest.raises(ValueError):                  # and this project's type for bad arguments
        F.pad(tl.zeros(*shape), pad, mode, **kw)


def test_pad_value_with_other_modes():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.zeros(1, 2, 3), (1, 1), "reflect", value=1.0)
    with pytest.raises(ValueError, match="doesn't take in value"):
        F.pad(tl.zeros(1, 2, 3), (1, 1), "reflect", value=1.0)
    assert F.pad(tl.zeros(1, 2, 3), (1, 1), "replicate", value=0).shape == (1, 2, 5)   # as torch


# ---- the padding layers ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls,mode,n", [
    (nn.ZeroPad1d, "constant", 1), (nn.ZeroPad2d, "constant", 2), (nn.ZeroPad3d, "constant", 3),
    (nn.ReflectionPad1d, "reflect", 1), (nn.ReflectionPad2d, "reflect", 2), (nn.ReflectionPad3d, "reflect", 3),
    (nn.ReplicationPad1d, "replicate", 1), (nn.ReplicationPad2d, "replicate", 2),
    (nn.ReplicationPad3d, "replicate", 3), (nn.CircularPad1d, "circular", 1), (nn.CircularPad2d, "circular", 2),
    (nn.CircularPad3d, "circular", 3)])
def test_padding_layers(cls, mode, n):
    a = _a(*(2, 3, 4, 5, 4)[:n + 2])
    pad = (1, 2, 0, 1, 2, 1)[:2 * n]
    np.testing.assert_array_equal(cls(pad)(_t(a)).numpy(), _np_pad(a, pad, mode))
    np.testing.assert_array_equal(cls(1)(_t(a)).numpy(), _np_pad(a, (1,) * (2 * n), mode))
    assert cls(1).padding == (1,) * (2 * n)
    assert repr(cls(pad)) == f"{cls.__name__}({pad})"
    assert list(cls(1).parameters()) == []
    with pytest.raises(ValueError):
        cls((1,) * (2 * n + 1))
    torch = pytest.importorskip("torch")
    assert repr(getattr(torch.nn, cls.__name__)(pad)) == repr(cls(pad))


@pytest.mark.parametrize("cls,n", [(nn.ConstantPad1d, 1), (nn.ConstantPad2d, 2), (nn.ConstantPad3d, 3)])
def test_constant_pad_layers(cls, n):
    a = _a(*(2, 3, 4, 5)[:n + 1])
    pad = (1, 2, 0, 1, 2, 1)[:2 * n]
    m = cls(pad, 3.5)
    np.testing.assert_array_equal(m(_t(a)).numpy(), _np_pad(a, pad, "constant", 3.5))
    assert m.value == 3.5 and cls(2, -1.0).padding == (2,) * (2 * n)
    assert repr(m) == f"{cls.__name__}(padding={pad}, value=3.5)"
    torch = pytest.importorskip("torch")
    assert repr(getattr(torch.nn, cls.__name__)(pad, 3.5)) == repr(m)


def test_padding_layer_in_a_model_trains():
    tl.manual_seed(0)
    model = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 3, 3), nn.ZeroPad2d((1, 0, 0, 1)), nn.Flatten())
    x = tl.randn(4, 2, 5, 5)
    out = model(x)
    assert out.shape == (4, 3 * 6 * 6)
    out.pow(2).mean().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in model.parameters())


# ---- ParameterList / ParameterDict ------------------------------------------------------------------

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.ws = nn.ParameterList([nn.Parameter(tl.ones(2, 3)), tl.zeros(3)])
        self.extra = nn.ParameterDict({"scale": nn.Parameter(tl.full((1,), 2.0)), "shift": tl.zeros(1)})

    def forward(self, x):
        return (x @ self.ws[0] + self.ws[1]) * self.extra["scale"] + self.extra["shift"]


def test_parameter_containers_are_registered():
    net = _Net()
    assert [n for n, _ in net.named_parameters()] == ["ws.0", "ws.1", "extra.scale", "extra.shift"]
    assert list(net.state_dict()) == ["ws.0", "ws.1", "extra.scale", "extra.shift"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    net(tl.ones(4, 2)).sum().backward()
    assert net.ws[0].grad.shape == (2, 3) and net.extra["shift"].grad.item() == 12.0
    opt = tl.optim.SGD(net.parameters(), lr=0.1)
    opt.step()
    assert net.extra["shift"].item() == pytest.approx(-1.2)
    net.to(tl.float64)
    assert all(p.dtype is tl.float64 for p in net.parameters())
    other = _Net()
    other.to(tl.float64)
    other.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(other.extra["shift"].detach().numpy(), net.extra["shift"].detach().numpy())
    text = repr(net)
    assert "(ws): ParameterList(" in text and "(0): Parameter containing: [tl.float64 of size 2x3]" in text
    assert "(scale): Parameter containing: [tl.float64 of size 1]" in text


def test_parameter_list_api():
    pl = nn.ParameterList()
    assert len(pl) == 0 and repr(pl) == "ParameterList()"
    pl.append(tl.zeros(2))
    pl.extend([tl.ones(3), nn.Parameter(tl.ones(1), requires_grad=False)])
    pl += [tl.zeros(4)]
    assert len(pl) == 4 and [p.shape for p in pl] == [(2,), (3,), (1,), (4,)]
    assert pl[-1].shape == (4,) and not pl[2].requires_grad
    assert isinstance(pl[1:3], nn.ParameterList) and len(pl[1:3]) == 2
    p = nn.Parameter(tl.ones(5))
    pl[0] = p
    assert pl[0] is p
    with pytest.raises(IndexError):
        pl[4]
    with pytest.raises(TypeError):
        pl.append(3.0)
    ints = nn.ParameterList([tl.tensor([1, 2])])
    assert not ints[0].requires_grad           # an int tensor: kept, without grad
    torch = pytest.importorskip("torch")
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3, 1))])
    mine = nn.ParameterList([nn.Parameter(tl.zeros(2)), nn.Parameter(tl.zeros(3, 1))])
    assert repr(mine) == repr(tpl).replace("torch.", "tl.")


def test_parameter_dict_api():
    pd = nn.ParameterDict([("a", tl.zeros(2)), ("b", nn.Parameter(tl.ones(1)))])
    assert list(pd) == ["a", "b"] and list(pd.keys()) == ["a", "b"] and "a" in pd and len(pd) == 2
    pd.update({"c": tl.ones(3)})
    assert [p.shape for p in pd.values()] == [(2,), (1,), (3,)]
    assert pd.get("zz") is None and pd.pop("b").shape == (1,) and "b" not in pd
    del pd["a"]
    assert list(pd.items())[0][0] == "c"
    with pytest.raises(TypeError):
        pd[1] = tl.zeros(1)
    with pytest.raises(KeyError):
        pd["x.y"] = tl.zeros(1)
    with pytest.raises(ValueError):
        pd.update([("a", tl.zeros(1), 3)])
    pd.clear()
    assert len(pd) == 0 and repr(pd) == "ParameterDict()"


def test_circular_crop_that_would_wrap_twice_raises():
    # (PyTorch returns uninitialised memory for this one; tl refuses, as for a pad > the size)
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(tl.zeros(1, 1, 4, 5), (5, 5, 4, -4), "circular")
    out = F.pad(_t(np.arange(5.0).reshape(1, 1, 5)), (2, -1), "circular")
    assert out.tolist() == [[[2.0, 3.0, 0.0, 1.0, 2.0, 3.0]]]            # crop, then wrap (torch's)
