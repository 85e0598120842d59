"""F.interpolate ('nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area';
3-D to 5-D input), nn.Upsample, pixel_shuffle /
pixel_unshuffle and their modules against PyTorch (values and gradients), PyTorch's index rules
over a sweep of sizes, gradcheck in float64, errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F


def _both(fn_name, x, *args, **kw):
    torch = pytest.importorskip("torch")
    res = []
    for mod in (tl, torch):
        t = mod.tensor(x, requires_grad=True)
        out = getattr(mod.nn.functional, fn_name)(t, *args, **kw)
        g = np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(x.dtype)
        out.backward(mod.tensor(g))
        res.append((out.detach().numpy(), t.grad.numpy()))
    return res


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 5, 4), dict(size=(7, 3))),
    ((2, 3, 5, 4), dict(scale_factor=1.7)),
    ((1, 2, 5, 7), dict(scale_factor=(0.6, 2.3))),
    ((1, 2, 9), dict(size=5)),
    ((1, 2, 3, 7), dict(size=(11, 13), mode="nearest-exact")),
    ((2, 3, 5, 4), dict(size=(7, 3), mode="bilinear")),
    ((2, 3, 5, 4), dict(size=(7, 9), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 4), dict(scale_factor=1.7, mode="bilinear")),
    ((2, 3, 5, 4), dict(scale_factor=0.45, mode="bilinear", recompute_scale_factor=True)),
    ((1, 1, 1, 3), dict(size=(4, 5), mode="bilinear")),
    ((1, 2, 2, 3), dict(scale_factor=(1.3, 1.5), mode="bilinear")),   # H keeps its size: copied
    ((2, 3, 9), dict(size=4, mode="linear")),
    ((2, 3, 9), dict(scale_factor=2.5, mode="linear", align_corners=True)),
    ((2, 3, 4), dict(size=1, mode="linear", align_corners=True)),
    ((2, 3, 5, 4), dict(size=(7, 3), mode="bicubic")),
    ((2, 3, 5, 4), dict(scale_factor=1.7, mode="bicubic")),
    ((1, 2, 6, 7), dict(scale_factor=0.4, mode="bicubic")),              # taps clamped at borders
    ((1, 2, 6, 7), dict(size=(9, 13), mode="bicubic", align_corners=True)),
    ((1, 2, 6, 7), dict(size=(2, 3), mode="bicubic", align_corners=True)),
    ((1, 1, 1, 2), dict(size=(3, 5), mode="bicubic")),
    ((1, 1, 1, 2), dict(size=(1, 1), mode="bicubic", align_corners=True)),
    ((2, 3, 5, 4), dict(scale_factor=(1.5, 1.1), mode="bicubic")),       # W: same size, not copied
    ((2, 3, 5, 4), dict(scale_factor=1.1, mode="bicubic", recompute_scale_factor=True)),
    ((2, 3, 9), dict(size=4, mode="area")),
    ((2, 3, 5, 4), dict(size=(3, 7), mode="area")),
    ((2, 3, 5, 4, 6), dict(size=(3, 7, 4), mode="area")),
    ((2, 3, 5, 4, 6), dict(scale_factor=0.5, mode="area")),
    ((2, 3, 5, 4, 6), dict(size=(3, 7, 4), mode="trilinear")),
    ((2, 3, 5, 4, 6), dict(scale_factor=(1.5, 1, 0.6), mode="trilinear", align_corners=True)),
    ((1, 2, 2, 3, 2), dict(size=(5, 1, 4), mode="trilinear")),
    ((2, 3, 5, 4, 6), dict(scale_factor=1.6)),
    ((2, 3, 5, 4, 6), dict(size=(2, 9, 4), mode="nearest-exact")),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_against_torch(shape, kw, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    (out, gx), (want, want_gx) = _both("interpolate", x, **kw)
    assert out.shape == want.shape and out.dtype == want.dtype
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(gx, want_gx, rtol=tol, atol=tol)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "bicubic", "area"])
def test_index_rules_over_a_sweep_of_sizes(mode):
    torch = pytest.importorskip("torch")
    for n_in in range(1, 8):
        x = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in) * 1.5 + 0.25
        if mode == "bicubic":   # 2-D only: the sweep runs along W (H stays 1, copied by weights 0, 1, 0, 0)
            x = x[:, :, None]
        calls = [dict(size=n_out) for n_out in range(1, 12)]
        calls += [dict(scale_factor=s) for s in (0.3, 0.7, 1.3, 1.5, 2.4, 3.1) if int(n_in * s) > 0]
        if mode in ("linear", "bicubic"):
            calls += [dict(size=n_out, align_corners=True) for n_out in range(1, 12)]
        for kw in calls:
            if mode == "bicubic":
                kw = dict(kw, size=(1, kw["size"])) if "size" in kw else dict(kw, scale_factor=(1, kw["scale_factor"]))
            got = F.interpolate(tl.tensor(x), mode=mode, **kw).numpy()
            want = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kw).numpy()
            # bicubic sums four float32 products in another order than PyTorch: a few ulp apart
            tol = 1e-5 if mode == "bicubic" else 1e-6
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{n_in} {kw}")


def test_gradcheck_and_gradgradcheck():
    x = tl.tensor(np.random.default_rng(1).standard_normal((1, 2, 3, 4)), requires_grad=True)
    for kw in [dict(size=(5, 3)), dict(scale_factor=1.5, mode="bilinear"),
               dict(size=(2, 6), mode="bilinear", align_corners=True)]:
        assert tl.autograd.gradcheck(lambda t: F.interpolate(t, **kw), [x])
        assert tl.autograd.gradgradcheck(lambda t: F.interpolate(t, **kw), [x])
    x1 = tl.tensor(np.random.default_rng(2).standard_normal((2, 1, 5)), requires_grad=True)
    assert tl.autograd.gradcheck(lambda t: F.interpolate(t, size=7, mode="linear"), [x1])
    assert tl.autograd.gradgradcheck(lambda t: F.interpolate(t, size=3, mode="area"), [x1])


@pytest.mark.parametrize("shape,kw", [
    ((1, 2, 3, 4), dict(size=(5, 3), mode="bicubic")),
    ((1, 2, 3, 4), dict(scale_factor=0.7, mode="bicubic", align_corners=True)),
    ((1, 2, 3, 4), dict(scale_factor=1.1, mode="bicubic")),
    ((1, 2, 5, 4), dict(size=(2, 3), mode="area")),
    ((1, 2, 3, 4, 5), dict(size=(2, 3, 3), mode="area")),
    ((1, 2, 3, 2, 4), dict(size=(4, 3, 2), mode="trilinear")),
    ((1, 2, 3, 2, 4), dict(scale_factor=1.5, mode="trilinear", align_corners=True)),
    ((1, 2, 3, 2, 4), dict(size=(4, 3, 2), mode="nearest")),
])
def test_gradcheck_and_gradgradcheck_new_modes(shape, kw):
    x = tl.tensor(np.random.default_rng(9).standard_normal(shape), requires_grad=True)
    assert tl.autograd.gradcheck(lambda t: F.interpolate(t, **kw), [x])
    assert tl.autograd.gradgradcheck(lambda t: F.interpolate(t, **kw), [x])


def test_bicubic_same_size_gradient_is_the_forwards():
    """scale_factor=1.1 on (5, 4) keeps both sizes but still resamples (forward as PyTorch);
    PyTorch's backward then copies g as if nothing moved, which its own gradcheck rejects --
    ours is the adjoint of the forward."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(8).standard_normal((1, 2, 5, 4))
    kw = dict(scale_factor=1.1, mode="bicubic")
    np.testing.assert_allclose(F.interpolate(tl.tensor(x), **kw).numpy(),
                               torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy(),
                               rtol=1e-12, atol=1e-12)
    t = tl.tensor(x, requires_grad=True)
    assert tl.autograd.gradcheck(lambda u: F.interpolate(u, **kw), [t])


def test_pixel_shuffle_and_unshuffle():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 8, 3, 5))
    (out, gx), (want, want_gx) = _both("pixel_shuffle", x, 2)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(gx, want_gx)
    x = np.random.default_rng(4).standard_normal((3, 4, 6))      # unbatched, no channel multiple
    (out, gx), (want, want_gx) = _both("pixel_unshuffle", x, 2)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(gx, want_gx)
    y = tl.randn(1, 2, 3, 4, 6)
    assert F.pixel_shuffle(F.pixel_unshuffle(y, 2), 2).tolist() == y.tolist()
    for ours, theirs in [(tl.nn.PixelShuffle(3), torch.nn.PixelShuffle(3)),
                         (tl.nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2))]:
        assert repr(ours) == repr(theirs)
    assert tl.nn.PixelShuffle(2)(tl.zeros(1, 8, 2, 2)).shape == (1, 2, 4, 4)
    assert tl.nn.PixelUnshuffle(2)(tl.zeros(1, 2, 4, 4)).shape == (1, 8, 2, 2)


def test_upsample_module():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal((1, 2, 3, 4)).astype(np.float32)
    for kw in [dict(scale_factor=2), dict(size=(5, 7), mode="bilinear"),
               dict(scale_factor=(1.5, 2), mode="bilinear", align_corners=True),
               dict(scale_factor=1.5, mode="bicubic"), dict(size=(2, 3), mode="area"),
               dict(size=(4, 6), mode="bicubic", align_corners=True)]:
        ours, theirs = tl.nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tl.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    x5 = np.random.default_rng(7).standard_normal((1, 2, 3, 2, 4)).astype(np.float32)
    for kw in [dict(scale_factor=2, mode="trilinear"), dict(size=(2, 3, 2), mode="area"),
               dict(scale_factor=(1, 2, 0.5))]:
        ours, theirs = tl.nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tl.tensor(x5)).numpy(), theirs(torch.tensor(x5)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    for name, kw in [("UpsamplingNearest2d", dict(scale_factor=3)),
                     ("UpsamplingBilinear2d", dict(size=(5, 6)))]:
        ours, theirs = getattr(tl.nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tl.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, size=2, scale_factor=2), ValueError, "only one of"),
    (lambda x: F.interpolate(x, size=(2,)), ValueError, "same number of spatial dimensions"),
    (lambda x: F.interpolate(x, size=2, align_corners=True), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, size=2, mode="linear"), NotImplementedError, "linear mode needs 3D"),
    (lambda x: F.interpolate(x[0, 0], size=2), NotImplementedError, "got 2D"),
    (lambda x: F.interpolate(x[None, None], size=2), NotImplementedError, "got 6D"),
    (lambda x: F.interpolate(x, size=2, mode="trilinear"), NotImplementedError, "trilinear mode needs 5D"),
    (lambda x: F.interpolate(x[0], size=2, mode="bicubic"), NotImplementedError, "bicubic mode needs 4D"),
    (lambda x: F.interpolate(x, size=2, mode="area", align_corners=False), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, size=2, mode="bicubic", antialias=True), NotImplementedError, "antialias"),
    (lambda x: F.interpolate(x, size=2, antialias=True), ValueError, "Anti-alias option is restricted"),
    (lambda x: F.interpolate(x, size=2, mode="cubic"), ValueError, "mode must be one of"),
    (lambda x: F.interpolate(x.long(), size=2), TypeError, "floating-point"),
    (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, "positive"),
    (lambda x: F.pixel_shuffle(x, 2), RuntimeError, "divisible by the square"),
    (lambda x: F.pixel_shuffle(x[0, 0], 2), RuntimeError, "at least 3 dimensions"),
    (lambda x: F.pixel_unshuffle(x, 3), RuntimeError, "height to be divisible"),
    (lambda x: F.pixel_unshuffle(x, 0), RuntimeError, "positive"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(tl.zeros(1, 2, 4, 4))


def test_half_inputs_run_in_float32_and_round_back():
    x = tl.randn(1, 2, 3, 3)
    for dt in (tl.float16, tl.bfloat16):
        h = x.to(dt).requires_grad_()
        for kw in [dict(scale_factor=2), dict(size=(4, 5), mode="bilinear")]:
            out = F.interpolate(h, **kw)
            assert out.dtype is dt
            np.testing.assert_allclose(out.float().detach().numpy(),
                                       F.interpolate(h.detach().float(), **kw).to(dt).float().numpy())
        out.float().sum().backward()
        assert h.grad.dtype is dt and F.pixel_shuffle(h.detach(), 1).dtype is dt
