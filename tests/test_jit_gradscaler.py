"""tl.amp.GradScaler inside tl.jit: a replayed float16 step unscales, checks for Inf/NaN and
updates the scale in C (csrc/amp.c), skips the optimizer's segment after an overflow, and gives
the bits of the same steps run eagerly; a capture that overflows (or would take the optimizer's
first step) is abandoned and retried."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab import kernels as K
from tinygrad_lab import nn
from tinygrad_lab.jit import _EAGER, _Recording

BAD = 1e30       # an input that is Inf in float16: the step's gradients are NaN, the step skipped


def _batches(n, bad, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        X = rng.standard_normal((8, 4)).astype(np.float32)
        if i in bad:
            X[0, 0] = BAD
        out.append((X, rng.integers(0, 3, 8)))
    return out


def _trainer(opt_kind, explicit_unscale=False, init_scale=2.0 ** 16, growth_interval=3,
             new_scale=False):
    """A model, optimizer, scaler and float16-autocast step, the same for every call."""
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    if opt_kind == "adam":
        opt = tl.optim.Adam(model.parameters(), lr=0.01)
    else:
        opt = tl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = tl.amp.GradScaler(init_scale=init_scale, growth_factor=4.0,
                               growth_interval=growth_interval)

    def step(X, y, *scale):
        with tl.autocast("cpu", dtype=tl.float16):
            loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        if explicit_unscale:
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update(*scale)
        return loss
    return model, opt, scaler, step


def _state(jitted):
    rec = next(iter(jitted._recordings.values()), None)
    return "replay" if isinstance(rec, _Recording) else rec


def _same(m1, o1, s1, m2, o2, s2):
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        st1, st2 = o1.state.get(a, {}), o2.state.get(b, {})
        assert st1.keys() == st2.keys()
        for k in st1:
            if k == "step":
                assert st1[k] == st2[k]
            else:
                np.testing.assert_array_equal(st1[k].numpy(), st2[k].numpy())
    assert s1.get_scale() == s2.get_scale() and s1.state_dict() == s2.state_dict()


def _run_both(opt_kind, batches, **kw):
    """Train eagerly and through tl.jit side by side, checking the bits after every step; returns
    per call (state of the jitted step before the call, whether the eager scale went down/up)."""
    m1, o1, s1, f1 = _trainer(opt_kind, **kw)
    m2, o2, s2, f2 = _trainer(opt_kind, **kw)
    j = tl.jit(f2)
    trace = []
    for X, y in batches:
        before, scale = _state(j), s1.get_scale()
        l1 = f1(tl.tensor(X), tl.tensor(y)).item()
        l2 = j(tl.tensor(X), tl.tensor(y)).item()
        assert l1 == l2 or (l1 != l1 and l2 != l2)
        _same(m1, o1, s1, m2, o2, s2)
        trace.append((before, _state(j), np.sign(s1.get_scale() - scale)))
    return trace, j


@pytest.mark.parametrize("opt_kind", ["adam", "sgd"])
@pytest.mark.parametrize("explicit_unscale", [False, True])
def test_replayed_float16_training_is_bit_identical_to_eager(opt_kind, explicit_unscale):
    trace, j = _run_both(opt_kind, _batches(30, bad={1, 12, 20}), explicit_unscale=explicit_unscale)
    # call 0 eager; call 1's capture overflowed: abandoned (ran eagerly), retried by call 2
    assert trace[1][:2] == (_EAGER, _EAGER) and trace[2][:2] == (_EAGER, "replay")
    replays = [t for t in trace if t[0] == "replay"]
    assert len(replays) == 27
    assert sum(t[2] < 0 for t in replays) >= 3        # replayed skipped steps (scale backed off)
    assert sum(t[2] > 0 for t in replays) >= 3        # and growth after 3 clean steps
    rec = next(iter(j._recordings.values()))
    conditional = [s for s in rec.segments if s[3] is not None]
    assert len(conditional) == 1                      # the optimizer's kernels, and only them
    first, _, n = conditional[0][:3]
    step_kernel = "tl_adam_step" if opt_kind == "adam" else "tl_sgd_step"
    assert set(rec.names[first:first + n]) == {step_kernel}
    assert step_kernel not in rec.names[:first] + rec.names[first + n:]


def test_adam_bias_correction_after_skips_matches_eager_step_counts():
    m1, o1, s1, f1 = _trainer("adam")
    m2, o2, s2, f2 = _trainer("adam")
    j = tl.jit(f2)
    counts = []
    for i, (X, y) in enumerate(_batches(12, bad={4, 5, 9})):
        f1(tl.tensor(X), tl.tensor(y))
        j(tl.tensor(X), tl.tensor(y))
        p1, p2 = next(iter(m1.parameters())), next(iter(m2.parameters()))
        counts.append(o2.state[p2]["step"])
        assert o1.state[p1]["step"] == o2.state[p2]["step"]
    assert counts == [1, 2, 3, 4, 4, 4, 5, 6, 7, 7, 8, 9]
    _same(m1, o1, s1, m2, o2, s2)


def test_first_optimizer_step_is_not_captured():
    """Call 0 overflows (no optimizer state yet); call 1 is clean, so its capture would make
    Adam's state inside the recording: it is abandoned, runs eagerly, and call 2 captures."""
    trace, _ = _run_both("adam", _batches(6, bad={0}))
    assert [t[1] for t in trace] == [_EAGER, _EAGER, "replay", "replay", "replay", "replay"]


def test_capture_retried_until_a_clean_step():
    """A huge initial scale overflows the first calls: each capture is abandoned and retried;
    the scale backs off until a step is clean, which is then captured."""
    trace, _ = _run_both("sgd", _batches(40, bad=set()), init_scale=2.0 ** 30,
                         growth_interval=1000)
    states = [t[1] for t in trace]
    first = states.index("replay")
    assert first > 3 and states[first:] == ["replay"] * (len(states) - first)
    assert all(t[2] < 0 for t in trace[:first - 1])


def test_plain_recordings_have_no_segments():
    w = tl.ones(3, requires_grad=True)
    opt = tl.optim.SGD([w], lr=0.1)

    @tl.jit
    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()

    for _ in range(3):
        step(tl.ones(3))
    assert next(iter(step._recordings.values())).segments is None


def test_scaler_factors_set_after_capture_apply_to_replays():
    m1, o1, s1, f1 = _trainer("sgd")
    m2, o2, s2, f2 = _trainer("sgd")
    j = tl.jit(f2)
    for i, (X, y) in enumerate(_batches(24, bad={10, 17})):
        if i == 8:
            for s in (s1, s2):
                s.set_growth_factor(8.0)
                s.set_growth_interval(2)
                s.set_backoff_factor(0.25)
        f1(tl.tensor(X), tl.tensor(y))
        j(tl.tensor(X), tl.tensor(y))
        _same(m1, o1, s1, m2, o2, s2)
    assert _state(j) == "replay" and s2.get_scale() != 2.0 ** 16


def test_update_with_a_new_scale_tensor_is_replayed():
    m1, o1, s1, f1 = _trainer("sgd", new_scale=True)
    m2, o2, s2, f2 = _trainer("sgd", new_scale=True)
    j = tl.jit(f2)
    for i, (X, y) in enumerate(_batches(8, bad=set())):
        ns = tl.tensor([2.0 ** (10 + i)], dtype=tl.float64)
        f1(tl.tensor(X), tl.tensor(y), ns)
        j(tl.tensor(X), tl.tensor(y), ns)
        assert s2.get_scale() == 2.0 ** (10 + i)
        _same(m1, o1, s1, m2, o2, s2)
    assert _state(j) == "replay"


def test_two_optimizers_share_one_scaler():
    def build():
        tl.manual_seed(3)
        a, b = nn.Linear(4, 8), nn.Linear(8, 3)
        oa = tl.optim.Adam(a.parameters(), lr=0.01)
        ob = tl.optim.SGD(b.parameters(), lr=0.05, momentum=0.5)
        scaler = tl.amp.GradScaler(init_scale=2.0 ** 10, growth_interval=2)

        def step(X, y):
            with tl.autocast("cpu", dtype=tl.float16):
                loss = F.cross_entropy(b(a(X).relu()), y)
            oa.zero_grad()
            ob.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(oa)
            scaler.step(ob)
            scaler.update()
            return loss
        return (a, b), scaler, step
    (a1, b1), s1, f1 = build()
    (a2, b2), s2, f2 = build()
    j = tl.jit(f2)
    for X, y in _batches(12, bad={7}):
        f1(tl.tensor(X), tl.tensor(y))
        j(tl.tensor(X), tl.tensor(y))
        for p, q in zip(list(a1.parameters()) + list(b1.parameters()),
                        list(a2.parameters()) + list(b2.parameters())):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert s1.state_dict() == s2.state_dict()
    rec = next(iter(j._recordings.values()))
    assert sum(s[3] is not None for s in rec.segments) == 2


@pytest.mark.parametrize("read", ["get_scale", "state_dict"])
def test_reading_the_scale_inside_a_capture_raises(read):
    model, opt, scaler, step = _trainer("sgd")

    def f(X, y):
        loss = step(X, y)
        getattr(scaler, read)()
        return loss
    j = tl.jit(f)
    X, y = _batches(1, bad=set())[0]
    j(tl.tensor(X), tl.tensor(y))
    with pytest.raises(RuntimeError, match="values were read in Python"):
        j(tl.tensor(X), tl.tensor(y))


def test_a_jitted_step_called_after_an_abandoned_capture_does_not_deadlock():
    model, opt, scaler, step = _trainer("sgd", init_scale=2.0 ** 120)
    inner = tl.jit(lambda x: x * 2)

    def outer(X, y):
        loss = step(X, y)                     # overflows: the capture is abandoned here
        return loss, inner(X)                 # the rest runs eagerly; inner may capture itself
    j = tl.jit(outer)
    X, y = _batches(1, bad=set())[0]
    for _ in range(4):
        _, out = j(tl.tensor(X), tl.tensor(y))
        np.testing.assert_array_equal(out.numpy(), X * 2)
    assert isinstance(next(iter(inner._recordings.values())), _Recording)
    assert _state(j) == _EAGER


# ---- the kernels --------------------------------------------------------------------------------

def test_unscale_kernel_on_strided_and_half_gradients():
    """Each gradient is multiplied by float32(1 / scale) in its own dtype, strided or not, and
    found_inf is set by any Inf/NaN (kept set by later clean gradients)."""
    for dtype in (tl.float32, tl.float64, tl.float16, tl.bfloat16):
        arr = np.arange(12, dtype=np.float32).reshape(3, 4) * 1000 - 3000
        base = tl.tensor(arr).to(dtype)
        p = tl.zeros(4, 3, dtype=dtype, requires_grad=True)
        p.grad = base.transpose(0, 1)            # a non-contiguous gradient
        assert not p.grad.is_contiguous()
        opt = tl.optim.SGD([p], lr=0.0)
        s = tl.amp.GradScaler(init_scale=3.0)
        inv = float(np.float32(1 / 3.0))
        want = base.clone().transpose(0, 1).mul_(inv).float().numpy()   # GradScaler's old formula
        s.unscale_(opt)
        np.testing.assert_array_equal(p.grad.float().numpy(), want)
        np.testing.assert_allclose(want, arr.T / 3, rtol=1e-2)
        assert K.flag_value(s._per_optimizer[id(opt)]["found_inf"]) == 0
    found, scale = tl.zeros(()), tl.tensor(4.0)
    for vals, flag in (([1.0, np.inf], 1.0), ([1.0, 2.0], 1.0)):   # stays set
        g = tl.tensor(vals)
        K.check(K.tl_amp_unscale_(g.dtype.code, g._ptr, K.NULL, 1, K.i64((2,)), found._ptr,
                                  scale._ptr), "unscale")
        assert found.item() == flag
    g = tl.tensor([1, 2])
    assert K.tl_amp_unscale_(g.dtype.code, g._ptr, K.NULL, 1, K.i64((2,)), found._ptr,
                             scale._ptr) == K.TL_EDTYPE


def test_update_kernel_matches_torch():
    torch = pytest.importorskip("torch")
    cases = [(65536.0, 0, 1.0, 2.0, 0.5, 3), (65536.0, 2, 0.0, 2.0, 0.5, 3),
             (65536.0, 1, 0.0, 2.0, 0.5, 3), (3.0e38, 4, 0.0, 2.0, 0.5, 5),   # growth overflows
             (1.5, 0, 0.0, 3.3, 0.37, 1), (1e-30, 7, 1.0, 2.0, 0.3, 9)]
    for scale, tracker, found, gf, bf, gi in cases:
        s, t = tl.tensor(scale), tl.tensor(tracker)
        K.check(K.tl_amp_update_scale_(s._ptr, t._ptr, tl.tensor(found)._ptr, gf, bf, gi), "update")
        ts, tt = torch.tensor(scale), torch.tensor(tracker, dtype=torch.int32)
        torch._amp_update_scale_(ts, tt, torch.tensor(found), gf, bf, gi)
        assert (s.item(), t.item()) == (ts.item(), tt.item()), (scale, tracker, found)


def test_unscale_kernel_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for scale in (65536.0, 3.0, 0.7):
        g = (rng.standard_normal(50) * 1e4).astype(np.float32)
        p = tl.zeros(50, requires_grad=True)
        p.grad = tl.tensor(g)
        opt = tl.optim.SGD([p], lr=0.0)
        s = tl.amp.GradScaler(init_scale=scale)
        s.unscale_(opt)
        tg, found = torch.tensor(g), torch.zeros(1)
        torch._amp_foreach_non_finite_check_and_unscale_([tg], found,
                                                        torch.tensor(scale).double().reciprocal().float())
        np.testing.assert_array_equal(p.grad.numpy(), tg.numpy())


def test_conditional_segments_check_their_flag_and_do_not_nest():
    flag, bad = tl.zeros(()), tl.zeros(2)
    with K.only_if_zero(bad):                   # outside a capture: nothing to mark
        pass
    with K.capture() as cap:
        with pytest.raises(TypeError, match="float32 0-d"):
            with K.only_if_zero(bad):
                pass
        with K.only_if_zero(flag):
            (flag + 1).sum()
            with pytest.raises(RuntimeError, match="do not nest"):
                with K.only_if_zero(flag):
                    pass
        assert [c[:2] for c in cap.conditions] == [[0, 2]]
        K.abandon_capture("test")
        assert not K.capturing() and cap.abandoned == "test"
        assert (flag + 1).item() == 1.0            # reads are allowed again
    assert K.tl_copy is K.ENTRY_POINTS["tl_copy"]
