"""tl.autocast and tl.amp.GradScaler (issue 16) against torch.autocast and torch.amp.GradScaler."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F


def test_autocast_op_lists_match_pytorch_cpu():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(0)
    a, w, t = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (5, 3), (4, 5)))
    tgt = np.array([0, 1, 2, 3])
    table = {torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16,
             torch.float64: tl.float64}

    def run(lib, x, w, t, tgt, f):
        y = f.linear(x, w)
        return {"linear": y, "matmul": x @ w.T, "bmm": lib.bmm(x[None], w.T[None]),
                "softmax": f.softmax(y, 1), "log_softmax": f.log_softmax(y, 1), "sum": y.sum(),
                "mean": y.mean(), "relu": f.relu(y), "exp": y.exp(), "add": y + t,
                "mse_loss": f.mse_loss(y, t), "cross_entropy": f.cross_entropy(y, tgt),
                "nll_loss": f.nll_loss(f.log_softmax(y, 1), tgt),
                "bce_with_logits": f.binary_cross_entropy_with_logits(y, t.sigmoid()),
                "bce": f.binary_cross_entropy(y.sigmoid(), t.sigmoid()),
                "linear_f64": f.linear(x.double(), w.double())}

    for tdt, dt in ((torch.bfloat16, tl.bfloat16), (torch.float16, tl.float16)):
        with torch.autocast("cpu", dtype=tdt):
            ref = run(torch, torch.tensor(a), torch.tensor(w), torch.tensor(t), torch.tensor(tgt), TF)
        with tl.autocast(device_type="cpu", dtype=dt):
            ours = run(tl, tl.tensor(a), tl.tensor(w), tl.tensor(t), tl.tensor(tgt), F)
        for k in ref:
            assert ours[k].dtype is table[ref[k].dtype], (tdt, k, ours[k].dtype, ref[k].dtype)
            np.testing.assert_allclose(ours[k].detach().float().numpy(), ref[k].detach().float().numpy(),
                                       rtol=3e-2, atol=3e-2)


def test_autocast_gradients_in_each_inputs_dtype():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    m = tl.nn.Linear(6, 3)
    tm = torch.nn.Linear(6, 3)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.detach().numpy()))
        tm.bias.copy_(torch.tensor(m.bias.detach().numpy()))
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    xt, txt = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with tl.autocast("cpu", dtype=tl.bfloat16):
        out = m(xt)
        loss = F.cross_entropy(out, tl.tensor([0, 1, 2, 0, 1]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tout = tm(txt)
        tloss = torch.nn.functional.cross_entropy(tout, torch.tensor([0, 1, 2, 0, 1]))
    assert out.dtype is tl.bfloat16 and loss.dtype is tl.float32
    loss.backward()
    tloss.backward()
    for p, tp in ((m.weight, tm.weight), (m.bias, tm.bias), (xt, txt)):
        assert p.grad.dtype is tl.float32
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=3e-2, atol=3e-2)


def test_autocast_context_decorator_nesting_and_errors():
    x, w = tl.randn(2, 3), tl.randn(3, 4)
    assert not tl.amp.is_autocast_enabled()
    with tl.autocast("cpu"):                      # default dtype: bfloat16
        assert tl.amp.is_autocast_enabled() and (x @ w).dtype is tl.bfloat16
        with tl.autocast("cpu", enabled=False):
            assert (x @ w).dtype is tl.float32
        with tl.autocast("cpu", dtype=tl.float16):
            assert (x @ w).dtype is tl.float16
        assert (x @ w).dtype is tl.bfloat16
    assert (x @ w).dtype is tl.float32

    @tl.autocast(device_type="cpu", dtype=tl.bfloat16)
    def f(a, b):
        return a @ b
    assert f(x, w).dtype is tl.bfloat16 and (x @ w).dtype is tl.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        tl.autocast("cuda")
    with pytest.raises(RuntimeError, match="not supported"):
        tl.autocast("cpu", dtype=tl.float64)
    with pytest.raises(ValueError):               # the block's exception propagates, state restored
        with tl.autocast("cpu"):
            raise ValueError
    assert not tl.amp.is_autocast_enabled()


def test_gradscaler_defaults_and_state_dict():
    torch = pytest.importorskip("torch")
    s, ts = tl.amp.GradScaler(), torch.amp.GradScaler("cpu")
    assert s.get_scale() == ts.get_scale() == 65536.0
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()) == \
        (ts.get_growth_factor(), ts.get_backoff_factor(), ts.get_growth_interval())
    assert s.state_dict() == ts.state_dict()
    s2 = tl.amp.GradScaler("cpu", init_scale=8.0)
    assert s2.get_scale() == 8.0 and tl.amp.GradScaler(4.0).get_scale() == 4.0
    s2.load_state_dict(ts.state_dict())
    assert s2.get_scale() == 65536.0 and s2.state_dict() == ts.state_dict()
    off = tl.amp.GradScaler(enabled=False)
    x = tl.ones(2, requires_grad=True)
    assert off.scale(x) is x and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.raises(ValueError):
        tl.amp.GradScaler(growth_factor=0.5)
    with pytest.raises(ValueError):
        tl.amp.GradScaler(backoff_factor=1.5)


def test_gradscaler_trajectory_matches_torch_step_for_step():
    """Both scalers and SGD optimizers fed the same scaled gradients, some with an Inf or NaN:
    scale, growth tracker, skipped steps and parameters agree after every iteration."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(5).astype(np.float32)
    p, tp = tl.tensor(p0, requires_grad=True), torch.tensor(p0, requires_grad=True)
    opt, topt = tl.optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    kw = dict(init_scale=2.0 ** 10, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    s, ts = tl.amp.GradScaler(**kw), torch.amp.GradScaler("cpu", **kw)
    bad = {2: np.inf, 3: np.nan, 9: -np.inf}
    skipped = 0
    for it in range(14):
        s.scale(tl.tensor(1.0))                     # (torch's scaler is made by scale())
        ts.scale(torch.tensor(1.0))
        g = rng.standard_normal(5).astype(np.float32) * np.float32(s.get_scale())
        if it in bad:
            g[it % 5] = bad[it]
        p.grad, tp.grad = tl.tensor(g), torch.tensor(g)
        if it % 2:                                  # explicit unscale_ (then e.g. clipping)
            s.unscale_(opt)
            ts.unscale_(topt)
            np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
        before = p.detach().numpy().copy()
        r, tr = s.step(opt), ts.step(topt)
        assert r == tr
        s.update()
        ts.update()
        skipped += bool(np.array_equal(before, p.detach().numpy()))
        assert s.get_scale() == ts.get_scale(), it
        assert s.state_dict() == ts.state_dict(), it
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert skipped == len(bad)
    s.update(new_scale=4.0)
    ts.update(new_scale=4.0)
    assert s.get_scale() == ts.get_scale() == 4.0


def test_gradscaler_scale_and_misuse():
    torch = pytest.importorskip("torch")
    s, ts = tl.amp.GradScaler(), torch.amp.GradScaler("cpu")
    loss = tl.tensor(1.5, dtype=tl.float16)
    scaled = s.scale(loss)
    tscaled = ts.scale(torch.tensor(1.5, dtype=torch.float16))
    assert scaled.dtype is tl.float32 and tscaled.dtype == torch.float32    # a 0-d half loss widens
    assert scaled.item() == tscaled.item() == 98304.0
    outs = s.scale([tl.ones(2), tl.ones(2, dtype=tl.bfloat16)])
    assert outs[1].dtype is tl.bfloat16 and outs[0].tolist() == [65536.0] * 2
    p = tl.ones(2, requires_grad=True)
    opt = tl.optim.SGD([p], lr=0.1)
    p.grad = tl.ones(2)
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        s.step(opt)
    s.update()
    with pytest.raises(RuntimeError, match="No inf checks"):
        s.update()


def test_float16_underflow_and_loss_scaling():
    """Lesson 002: a small gradient flowing through a float16 computation flushes to zero;
    scaling the loss keeps it, and unscaling the float32 master weights' gradient recovers it."""
    w = tl.tensor([1.0, 1.0], requires_grad=True)        # float32 master weights
    x = tl.tensor([1e-4, 1e-4], dtype=tl.float16)

    def loss_fn():
        return (w.half() * x * 1e-4).float().sum()      # d loss / d w = 1e-8 in float16: 0
    loss_fn().backward()
    assert w.grad.tolist() == [0.0, 0.0]
    w.grad = None
    s = tl.amp.GradScaler(init_scale=2.0 ** 14)        # (2^16 itself overflows float16)
    opt = tl.optim.SGD([w], lr=1.0)
    s.scale(loss_fn()).backward()
    s.unscale_(opt)
    np.testing.assert_allclose(w.grad.numpy(), [1e-8, 1e-8], rtol=1e-2)


# The rest of PyTorch 2.13's CPU autocast lists that tl has: run in the autocast dtype
# (convolutions, prelu, addmm, baddbmm) or in float32 (cdist, trace, prod, the margin and
# divergence losses); "lower" / "fp32" as amp._HALF_OPS names them.
_POLICY_CASES = {
    "conv1d": ("lower", lambda lib, f, T: f.conv1d(T["x3"], T["w1"])),
    "conv2d": ("lower", lambda lib, f, T: f.conv2d(T["x4"], T["w"], T["c4"], padding=1)),
    "conv_transpose1d": ("lower", lambda lib, f, T: f.conv_transpose1d(T["x3"], T["wt1"])),
    "conv_transpose2d": ("lower", lambda lib, f, T: f.conv_transpose2d(T["x4"], T["wt2"], stride=2)),
    "conv3d": ("lower", lambda lib, f, T: f.conv3d(T["x5"], T["w3"], padding=1)),
    "conv_transpose3d": ("lower", lambda lib, f, T: f.conv_transpose3d(T["x5"], T["wt3"])),
    "prelu": ("lower", lambda lib, f, T: f.prelu(T["m"], T["a"])),
    "addmm": ("lower", lambda lib, f, T: lib.addmm(T["sq"], T["sq"], T["sq"])),
    "baddbmm": ("lower", lambda lib, f, T: lib.baddbmm(T["b3"], T["b3"], T["b3"])),
    "cdist": ("fp32", lambda lib, f, T: lib.cdist(T["m"], T["m2"])),
    "trace": ("fp32", lambda lib, f, T: lib.trace(T["sq"])),
    "prod": ("fp32", lambda lib, f, T: T["m"].prod(1)),
    "kl_div": ("fp32", lambda lib, f, T: f.kl_div(T["m"], T["m2"], reduction="batchmean")),
    "cosine_embedding_loss": ("fp32", lambda lib, f, T: f.cosine_embedding_loss(T["m"], T["m2"], T["y5"])),
    "poisson_nll_loss": ("fp32", lambda lib, f, T: f.poisson_nll_loss(T["m"], T["m2"].abs())),
    "margin_ranking_loss": ("fp32", lambda lib, f, T: f.margin_ranking_loss(T["m"][0], T["m2"][0], T["y6"])),
    "triplet_margin_loss": ("fp32", lambda lib, f, T: f.triplet_margin_loss(T["m"], T["m2"], T["m3"])),
    "soft_margin_loss": ("fp32", lambda lib, f, T: f.soft_margin_loss(T["m"], T["m2"])),
    "hinge_embedding_loss": ("fp32", lambda lib, f, T: f.hinge_embedding_loss(T["m"], T["pm"])),
    "multi_margin_loss": ("fp32", lambda lib, f, T: f.multi_margin_loss(T["m"], T["cls"])),
}


def _policy_inputs(lib, dtype):
    r = np.random.default_rng(3)
    arrs = dict(x4=(2, 3, 6, 6), w=(4, 3, 3, 3), c4=(4,), x3=(2, 3, 8), w1=(4, 3, 3), wt1=(3, 4, 3),
                wt2=(3, 2, 3, 3), x5=(1, 3, 4, 4, 4), w3=(2, 3, 3, 3, 3), wt3=(3, 2, 2, 2, 2), m=(5, 6), m2=(5, 6), m3=(5, 6), sq=(6, 6), b3=(2, 4, 4))
    T = {k: lib.tensor(r.standard_normal(s).astype(np.float32)).to(dtype) for k, s in arrs.items()}
    T["a"] = lib.tensor([0.2]).to(dtype)
    T["y5"] = lib.tensor([1.0, -1.0, 1.0, 1.0, -1.0]).to(dtype)
    T["y6"] = lib.tensor([1.0, -1.0] * 3).to(dtype)
    T["pm"] = lib.tensor(np.sign(r.standard_normal((5, 6))).astype(np.float32)).to(dtype)
    T["cls"] = lib.tensor([0, 1, 2, 3, 4])
    return T


@pytest.mark.parametrize("name", sorted(_POLICY_CASES))
def test_autocast_policy_of_each_op(name):
    """Under autocast(bfloat16): "lower" ops give bfloat16 from float32 inputs, "fp32" ops give
    float32 from bfloat16 inputs; both still compute the op (values near float32's)."""
    policy, fn = _POLICY_CASES[name]
    src = tl.float32 if policy == "lower" else tl.bfloat16
    with tl.autocast("cpu", dtype=tl.bfloat16):
        y = fn(tl, F, _policy_inputs(tl, src))
    assert y.dtype is (tl.bfloat16 if policy == "lower" else tl.float32), (name, y.dtype)
    ref = fn(tl, F, _policy_inputs(tl, tl.float32)) if policy == "lower" else \
        fn(tl, F, {k: v.float() if v.dtype.is_floating_point else v
                   for k, v in _policy_inputs(tl, tl.bfloat16).items()})
    np.testing.assert_allclose(y.float().detach().numpy(), ref.detach().numpy(), rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("src", ["float32", "bfloat16"])
@pytest.mark.parametrize("adt", ["bfloat16", "float16"])
def test_autocast_policy_matches_torch(src, adt):
    torch = pytest.importorskip("torch")
    names = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}
    for name, (_, fn) in sorted(_POLICY_CASES.items()):
        with torch.autocast("cpu", dtype=getattr(torch, adt)):
            ref = fn(torch, torch.nn.functional, _policy_inputs(torch, getattr(torch, src)))
        with tl.autocast("cpu", dtype=getattr(tl, adt)):
            ours = fn(tl, F, _policy_inputs(tl, getattr(tl, src)))
        assert ours.dtype.name == names[ref.dtype], (name, ours.dtype, ref.dtype)
        np.testing.assert_allclose(ours.float().detach().numpy(), ref.float().detach().numpy(),
                                   rtol=5e-2, atol=5e-2, err_msg=name)
