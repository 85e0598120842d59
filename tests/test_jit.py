"""tl.jit (tinygrad_lab/jit.py, csrc/replay.c): replayed steps give the same bits as eager ones,
guards re-capture or raise, reads and host decisions inside a capture raise, reset and threads."""
import gc
import threading

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab import kernels as K
from tinygrad_lab._build import replayable

STEPS = 6


def _np(t):
    return np.array(t.detach().numpy(), copy=True)


def _batches(shape, n=STEPS, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [tl.tensor(rng.standard_normal(shape).astype(dtype)) for _ in range(n)]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=True)


def _train(make, use_jit, inputs, seed=0, extra=None):
    """Build (seed) the model with make() -> (step, state), run step over inputs (jitted or not)
    and return every step's outputs plus the final state, as NumPy arrays."""
    tl.manual_seed(seed)
    step, state = make()
    runner = tl.jit(step) if use_jit else step
    out = []
    for args in inputs:
        r = runner(*args)
        out += [_np(t) for t in (r if isinstance(r, tuple) else (r,))]
        if extra is not None:
            extra()
    return out + [_np(t) for t in state()]


def _opt_step(model, opt, loss_fn):
    """The usual training step: zero_grad, loss_fn(model(x), y), backward, step; returns loss."""
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _check_same(make, inputs, extra=None, seed=0):
    eager = _train(make, False, inputs, seed, extra)
    jitted = _train(make, True, inputs, seed, extra)
    _same(eager, jitted)
    return jitted


# ---- bit-identical to eager --------------------------------------------------------------------

XOR_X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
XOR_Y = [[0.], [1.], [1.], [0.]]


def _xor_raw():
    W1, b1 = tl.randn(2, 4, requires_grad=True), tl.zeros(4, requires_grad=True)
    W2, b2 = tl.randn(4, 1, requires_grad=True), tl.zeros(1, requires_grad=True)
    params = [W1, b1, W2, b2]

    def step(x, y):
        h = (x @ W1 + b1).sigmoid()
        out = (h @ W2 + b2).sigmoid()
        loss = F.mse_loss(out, y)
        for p in params:
            p.grad = None
        loss.backward()
        with tl.no_grad():
            for p in params:
                p -= 0.5 * p.grad
        return loss, out
    return step, lambda: params


def _xor_inputs():
    x, y = tl.tensor(XOR_X), tl.tensor(XOR_Y)
    noisy = _batches((4, 2), seed=3)
    return [(x, y)] * 3 + [(x + n * 0.1, y) for n in noisy]


def test_xor_raw_ops():
    _check_same(_xor_raw, _xor_inputs())


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_xor_sequential_sgd(momentum):
    def make():
        model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        opt = tl.optim.SGD(model.parameters(), lr=0.5, momentum=momentum)

        return _opt_step(model, opt, F.mse_loss), lambda: list(model.parameters())
    _check_same(make, _xor_inputs())


def _mlp(opt_cls, **kw):
    def make():
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        opt = opt_cls(model.parameters(), **kw)

        return _opt_step(model, opt, F.cross_entropy), lambda: list(model.parameters())
    return make


def _mlp_inputs(batch=16):
    rng = np.random.default_rng(1)
    return [(tl.tensor(rng.standard_normal((batch, 784)).astype(np.float32)),
             tl.tensor(rng.integers(0, 10, batch))) for _ in range(STEPS)]


def test_mlp_sgd():
    _check_same(_mlp(tl.optim.SGD, lr=0.05, momentum=0.9), _mlp_inputs())


def test_mlp_raw_ops_relu_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 32), nn.Linear(32, 10)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    def make():
        net = Net()

        def step(x, y):
            loss = F.cross_entropy(net(x), y)
            net.zero_grad()
            loss.backward()
            with tl.no_grad():
                for p in net.parameters():
                    p.sub_(p.grad * 0.1)
            return loss
        return step, lambda: list(net.parameters())
    _check_same(make, _mlp_inputs())


def test_adam_with_scheduler_takes_effect():
    opts = []

    def make():
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        opt = tl.optim.Adam(model.parameters(), lr=0.05)
        sched = tl.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        opts.append((opt, sched))

        return _opt_step(model, opt, F.mse_loss), lambda: [t for p in model.parameters() for t in
                              (p, opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"])]
    inputs = list(zip(_batches((8, 3), n=8, seed=4), _batches((8, 2), n=8, seed=5)))
    _check_same(make, inputs, extra=lambda: opts[-1][1].step())
    (opt_e, _), (opt_j, _) = opts
    for pe, pj in zip(opt_e.param_groups[0]["params"], opt_j.param_groups[0]["params"]):
        assert opt_e.state[pe]["step"] == opt_j.state[pj]["step"] == 8
    assert opt_j.param_groups[0]["lr"] == 0.05 * 0.5 ** 8


def test_half_parameters_adam_with_scheduler():
    # a bfloat16 model's update runs through the float32 copy path (_apply_update_half): its
    # learning rate and bias corrections must be live in the replay too
    scheds = []

    def make():
        model = nn.Linear(3, 2).bfloat16()
        opt = tl.optim.Adam(model.parameters(), lr=0.1)
        scheds.append(tl.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5))
        step = _opt_step(model, opt, lambda out, y: F.mse_loss(out.float(), y))
        return step, lambda: [p.float() for p in model.parameters()]
    xs = [x.bfloat16() for x in _batches((4, 3), n=6, seed=6)]
    inputs = list(zip(xs, _batches((4, 2), n=6, seed=7)))
    _check_same(make, inputs, extra=lambda: scheds[-1].step())


def test_adamw_and_rmsprop_step_counts():
    for opt_cls, kw in [(tl.optim.AdamW, dict(lr=0.01)), (tl.optim.RMSprop, dict(lr=0.01, momentum=0.5))]:
        _check_same(_mlp(opt_cls, **kw), _mlp_inputs(batch=4)[:4])


def test_batchnorm_train_running_stats():
    def make():
        model = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))
        opt = tl.optim.SGD(model.parameters(), lr=0.1)
        bn = model[1]

        return _opt_step(model, opt, F.mse_loss), lambda: list(model.parameters()) + [bn.running_mean, bn.running_var,
                                                         bn.num_batches_tracked]
    out = _check_same(make, list(zip(_batches((8, 3), seed=6), _batches((8, 1), seed=7))))
    assert out[-1] == STEPS        # num_batches_tracked counted by the replayed kernels


def test_dropout_rng_advances():
    def make():
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
        opt = tl.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            h = model(x)
            h.sum().backward()
            opt.step()
            return h
        return step, lambda: list(model.parameters())
    x = tl.ones(32, 4)
    jitted = _check_same(make, [(x,)] * STEPS)
    # the masks differ from step to step (the replay draws new random numbers)
    assert not np.array_equal(jitted[3], jitted[4])


def test_dtype_float64_and_kwargs():
    def make():
        w = tl.randn(3, dtype=tl.float64, requires_grad=True)

        def step(x, *, scale):
            loss = ((x * w).sum() * scale) ** 2
            w.grad = None
            loss.backward()
            with tl.no_grad():
                w.sub_(w.grad * 0.01)
            return loss
        return step, lambda: [w]
    xs = _batches((3,), dtype=np.float64)
    tl.manual_seed(0)
    eager, _ = make()
    tl.manual_seed(0)
    step, state = make()
    jitted = tl.jit(step)
    for x in xs:
        _same([_np(eager(x, scale=2.0))], [_np(jitted(x, scale=2.0))])
    assert jitted(xs[0], scale=2.0).dtype == tl.float64


# ---- what a replay does and does not run -------------------------------------------------------

def test_python_runs_twice_then_replays_returning_the_same_tensors():
    calls = []
    w = tl.ones(3)

    @tl.jit
    def step(x):
        calls.append(1)
        return x * w + 1

    a = step(tl.tensor([1., 2., 3.]))
    b = step(tl.tensor([1., 2., 3.]))
    c = step(tl.tensor([4., 5., 6.]))
    assert len(calls) == 2
    assert c is b and a is not b                     # the recorded output, overwritten
    assert c.tolist() == [5., 6., 7.]
    w.fill_(2.0)                                     # closures are read by pointer, not copied
    assert step(tl.tensor([1., 1., 1.])).tolist() == [3., 3., 3.]


def test_buffers_made_during_capture_stay_alive():
    w = tl.randn(64, 64)

    def f(x):
        return ((x @ w).relu() @ w).sum(0) * 2

    step = tl.jit(f)
    xs = _batches((8, 64), n=4, seed=9)
    want = [_np(f(x)) for x in xs]
    for x in xs[:2]:
        step(x)
    gc.collect()
    junk = [tl.full((8, 64), 7.0) for _ in range(50)] + [tl.full((64,), -1.0) for _ in range(50)]
    for x, wx in zip(xs, want):
        _same([_np(step(x))], [wx])
    del junk


def test_replay_status_error_names_the_kernel():
    w = tl.randn(4, 3)

    @tl.jit
    def step(x, t):
        return F.cross_entropy(x @ w, t)

    x = tl.randn(2, 4)
    for _ in range(3):
        step(x, tl.tensor([0, 2]))
    with pytest.raises(IndexError, match="tl.jit replay of tl_cross_entropy_forward"):
        step(x, tl.tensor([0, 5]))


def test_method_decorator_and_nested_jit():
    class Trainer:
        def __init__(self):
            self.w = tl.ones(2)
            self.runs = 0

        @tl.jit
        def step(self, x):
            self.runs += 1
            return inner(x) * self.w

    inner = tl.jit(lambda x: x + 1)
    t1, t2 = Trainer(), Trainer()
    for _ in range(4):
        assert t1.step(tl.tensor([1., 2.])).tolist() == [2., 3.]
    t2.w.fill_(3.0)
    assert t2.step(tl.tensor([1., 2.])).tolist() == [6., 9.]
    assert t1.runs == 2 and t2.runs == 1


# ---- guards ----------------------------------------------------------------------------------

def test_new_shape_dtype_or_grad_mode_recaptures():
    runs = []

    @tl.jit
    def step(x, k):
        runs.append(k)
        return x * 2 + k

    for _ in range(3):
        assert step(tl.ones(3), 1).tolist() == [3.] * 3
    assert len(runs) == 2
    for _ in range(3):       # another shape: its own eager call and capture, then replays
        assert step(tl.ones(2, 2), 1).tolist() == [[3., 3.]] * 2
    assert len(runs) == 4
    assert step(tl.ones(3, dtype=tl.float64), 1).dtype == tl.float64
    assert step(tl.ones(3), 5).tolist() == [7.] * 3          # a new Python scalar argument
    with tl.no_grad():
        step(tl.ones(3), 1)
    assert len(runs) == 7
    assert step(tl.ones(3), 1).tolist() == [3.] * 3          # the first recording still replays
    assert len(runs) == 7
    assert step(tl.ones(6)[::2], 1).tolist() == [3.] * 3     # other strides: re-captured
    assert len(runs) == 8


def test_recordings_are_bounded():
    @tl.jit
    def step(x):
        return x + 1
    for n in range(1, 13):
        step(tl.ones(n))
    assert len(step._recordings) == 8


def test_argument_requiring_grad_raises():
    step = tl.jit(lambda w: (w * w).sum())
    with pytest.raises(ValueError, match="requires grad"):
        step(tl.ones(3, requires_grad=True))


def test_not_callable():
    with pytest.raises(TypeError, match="callable"):
        tl.jit(3)


# ---- errors inside a capture -------------------------------------------------------------------

@pytest.mark.parametrize("read", [lambda t: t.item(), lambda t: t.numpy(), lambda t: repr(t),
                                  lambda t: bool(t), lambda t: float(t), lambda t: t.tolist(),
                                  lambda t: print(t)])
def test_reading_values_inside_capture_raises(read):
    def f(x):
        s = (x * 2).sum()
        read(s)
        return s

    step = tl.jit(f)
    step(tl.ones(3))                       # eager: fine
    with pytest.raises(RuntimeError, match="tl.jit: a tensor's values were read"):
        step(tl.ones(3))
    # the failed capture left no state behind
    assert (tl.ones(2) * 2).sum().item() == 4.0
    assert K.capturing() is False and K.tl_copy is K.ENTRY_POINTS["tl_copy"]


def test_host_decisions_inside_capture_raise():
    def masked(x):
        return x[x > 0].sum()

    step = tl.jit(masked)
    step(tl.ones(3))
    with pytest.raises(RuntimeError, match="boolean-mask indexing"):
        step(tl.ones(3))

    w = tl.ones(3, requires_grad=True)

    def anomaly(x):
        with tl.autograd.detect_anomaly():
            (x * w).sum().backward()
        return w.grad

    step = tl.jit(anomaly)
    step(tl.ones(3))
    with pytest.raises(RuntimeError, match="NaN/Inf scan"):
        step(tl.ones(3))


def _tiny_step(opt_cls=tl.optim.SGD, then=None, **kw):
    """(jitted step(x) training w = ones(2) on (x * w).sum() with opt_cls, its optimizer);
    ``then(opt)`` runs at the end of each step."""
    w = tl.ones(2, requires_grad=True)
    opt = opt_cls([w], lr=0.1, **kw)

    @tl.jit
    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()
        if then is not None:
            then(opt)
    return step, opt


def test_scheduler_step_inside_capture_raises():
    scheds = []
    step, opt = _tiny_step(then=lambda opt: scheds[0].step())
    scheds.append(tl.optim.lr_scheduler.StepLR(opt, step_size=1))
    step(tl.ones(2))
    with pytest.raises(RuntimeError, match="scheduler.step"):
        step(tl.ones(2))


@pytest.mark.parametrize("opt_cls", [tl.optim.SGD, tl.optim.RMSprop])
def test_momentum_switched_on_after_capture_raises(opt_cls):
    step, opt = _tiny_step(opt_cls)
    for _ in range(3):
        step(tl.ones(2))
    opt.param_groups[0]["momentum"] = 0.9
    with pytest.raises(RuntimeError, match="call reset"):
        step(tl.ones(2))
    step.reset()
    for _ in range(3):
        step(tl.ones(2))


def test_optimizer_state_created_during_capture_raises():
    a, b = tl.ones(2, requires_grad=True), tl.ones(2, requires_grad=True)
    opt = tl.optim.Adam([a, b])
    first = [True]

    @tl.jit
    def step(x):
        opt.zero_grad()
        loss = (x * a).sum() if first[0] else (x * a * b).sum()
        first[0] = False
        loss.backward()
        opt.step()

    step(tl.ones(2))
    with pytest.raises(RuntimeError, match="would be created inside a captured step"):
        step(tl.ones(2))


# ---- reset and threads ---------------------------------------------------------------------

def test_reset_drops_the_recording():
    runs = []
    w = tl.ones(2)

    @tl.jit
    def step(x):
        runs.append(1)
        return x * w

    for _ in range(3):
        step(tl.ones(2))
    step.reset()
    assert step._recordings == {}
    for _ in range(3):
        assert step(tl.tensor([2., 3.])).tolist() == [2., 3.]
    assert len(runs) == 4


def test_two_threads_at_once_raise():
    inside, release = threading.Event(), threading.Event()

    @tl.jit
    def step(x):
        inside.set()
        release.wait(10)
        return x + 1

    t = threading.Thread(target=step, args=(tl.ones(2),))
    t.start()
    assert inside.wait(10)
    try:
        with pytest.raises(RuntimeError, match="one thread at a time"):
            step(tl.ones(2))
        with pytest.raises(RuntimeError, match="one thread at a time"):
            step.reset()
    finally:
        release.set()
        t.join()
    assert step(tl.ones(2)).tolist() == [2., 2.]     # free again


def test_other_threads_are_not_recorded_during_a_capture():
    started, done = threading.Event(), threading.Event()
    results, calls = [], []

    def worker():
        started.wait(10)
        results.append((tl.ones(3) * 3).sum().item())   # eager work, reads allowed
        done.set()

    def f(x):
        calls.append(1)
        if len(calls) == 2:             # the capture
            started.set()
            done.wait(10)
        return x * 2

    t = threading.Thread(target=worker)
    t.start()
    step = tl.jit(f)
    step(tl.ones(2))
    step(tl.ones(2))
    t.join()
    assert results == [9.0]
    assert next(iter(step._recordings.values())).names == ["tl_copy", "tl_unary_flat"]


# ---- the generated trampolines -------------------------------------------------------------

def test_trampolines_cover_the_kernels():
    names = {n for n, _, _ in replayable()}
    assert names == set(K.REPLAYABLE)
    assert {"tl_matmul_forward", "tl_sgd_step", "tl_adam_step", "tl_copy"} <= names
    assert not names & {"tl_alloc", "tl_free", "tl_replay", "tl_set_num_threads"}
    for name, (_, sig) in K.REPLAYABLE.items():
        assert len(K.ffi.typeof(K.ENTRY_POINTS[name]).args) == len(sig)


def test_buffers_made_before_the_capture_are_pinned():
    w = tl.ones(3, requires_grad=True)

    @tl.jit
    def step(x):
        (x * w).sum().backward()       # accumulates into the grad made by the eager call
        return w.grad

    step(tl.ones(3))
    step(tl.ones(3))
    w.grad = None                      # the recording still holds the old grad's buffer
    gc.collect()
    junk = [tl.full((3,), 9.0) for _ in range(100)]
    g = step(tl.tensor([1., 2., 3.]))
    assert g.tolist() == [3., 4., 5.] and w.grad is None
    del junk


# ---- the examples' --jit ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [("xor.py", "--quick"), ("circles.py", "--quick", "--epochs", "2"),
                                  ("two_layer_classifier.py", "--steps", "20"),
                                  ("digits_mlp.py", "--quick")])
def test_examples_jit_print_the_same_numbers(args):
    from .test_examples import run_example
    assert run_example(*args, "--jit") == run_example(*args)


def test_clip_grad_norm_inside_capture_raises():
    w = tl.ones(3, requires_grad=True)

    @tl.jit
    def step(x):
        w.grad = None
        (x * w).sum().backward()
        tl.nn.utils.clip_grad_norm_([w], 1.0)

    step(tl.ones(3))
    with pytest.raises(RuntimeError, match="tl.jit: a tensor's values were read"):
        step(tl.ones(3))


def test_learning_rate_set_by_hand_between_replays_takes_effect():
    lrs = [0.5, 0.5, 0.1, 0.1, 0.02, 0.3]

    def make():
        model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
        opt = tl.optim.SGD(model.parameters(), lr=lrs[0], momentum=0.5, weight_decay=0.01)
        make.opts.append(opt)
        return _opt_step(model, opt, F.mse_loss), lambda: list(model.parameters())
    make.opts = []
    count = [0]

    def next_lr():
        count[0] += 1
        make.opts[-1].param_groups[0]["lr"] = lrs[count[0] % len(lrs)]
    _check_same(make, list(zip(_batches((4, 2), seed=11), _batches((4, 1), seed=12))), extra=next_lr)
    opt = make.opts[-1]
    assert opt.state[opt.param_groups[0]["params"][0]]["momentum_buffer"] is not None


def test_rmsprop_counts_its_steps_on_replay():
    step, opt = _tiny_step(tl.optim.RMSprop, momentum=0.5)
    for _ in range(5):
        step(tl.ones(2))
    assert opt.state[opt.param_groups[0]["params"][0]]["step"] == 5


def test_partial_and_busy_message_names_the_function():
    import functools
    step = tl.jit(functools.partial(lambda x, k: x * k, k=3.0))
    for _ in range(3):
        assert step(tl.ones(2)).tolist() == [3., 3.]
    step._busy.acquire()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            step(tl.ones(2))
    finally:
        step._busy.release()


def test_trampoline_generator_types():
    from tinygrad_lab._build import trampolines
    src = trampolines("int tl_y(float a, uint64_t s, const int64_t *p, int n);\nvoid tl_z(double d);")
    assert "return tl_y((float)a[0].d, (uint64_t)a[1].i, a[2].p, (int)a[3].i);" in src
    assert "tl_z((double)a[0].d); return 0;" in src
    assert 'tl_replay_signatures_[] = {"dupi", "d"}' in src
    with pytest.raises(RuntimeError, match="no tl_arg slot"):
        trampolines("int tl_x(long double v);")


def test_capture_adopts_large_gradients_without_copies():
    """A gradient the engine may adopt as .grad in eager mode is adopted in a capture too: the
    capture's own list of the buffers it made is not a user of them (a copy per large .grad
    cost the replayed MLP step ~5%). Large: >= 256 KiB, buffers with a Storage object."""
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(300, 256), nn.ReLU(), nn.Linear(256, 4))   # 300 KiB weight
    opt = tl.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()   # (grads None: the backward's fresh ones are adopted)
        loss.backward()
        opt.step()
        return loss

    xs, ys = _batches((8, 300)), _batches((8, 4), seed=1)
    j = tl.jit(step)
    for x, y in zip(xs[:3], ys[:3]):
        j(x, y)
    rec = next(iter(j._recordings.values()))
    assert rec.names.count("tl_copy") == 2                    # the two input copies only
    w = model[0].weight
    g_before = w.grad
    w_before = _np(w)
    j(xs[3], ys[3])
    assert w.grad is g_before                     # the replay wrote the adopted buffer in place
    assert not np.array_equal(_np(w), w_before)   # and the update used it


def _sgd_model(momentum=0.0):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    return model, tl.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)


def test_replays_raise_version_counts_as_eager_steps_do():
    """A replay redoes the step's in-place writes in C; it adds the capture's version counts,
    so every parameter's and buffer's version moves exactly as over the same eager steps."""
    x, y = tl.randn(4, 3), tl.randn(4, 1)
    counts = []
    for use_jit in (False, True):
        model, opt = _sgd_model(momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()

        run = tl.jit(step) if use_jit else step
        for _ in range(5):
            run(x, y)
        state = [opt.state[p]["momentum_buffer"] for p in model.parameters()]
        counts.append([t._storage.version for t in list(model.parameters()) + state])
    assert counts[0] == counts[1]
    assert min(counts[0][:4]) > 0     # (the parameters; the fused kernel's momentum buffers stay 0)


def test_a_graph_saving_a_parameter_raises_after_a_replay_updates_it():
    model, opt = _sgd_model()

    @tl.jit
    def step(x, y):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

    x, y = tl.randn(4, 3), tl.randn(4, 1)
    for _ in range(3):
        step(x, y)
    out = (model(x) * 2).sum()      # saves the weights at their current version
    step(x, y)                      # a replay: the SGD kernels write them in place
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()
    out = (model(x) * 2).sum()      # recorded after the replay: fine
    out.backward()


@pytest.mark.parametrize("layer", [lambda: nn.Dropout1d(0.5), lambda: nn.AlphaDropout(0.5),
                                   lambda: nn.FeatureAlphaDropout(0.5), lambda: nn.RReLU()],
                         ids=["Dropout1d", "AlphaDropout", "FeatureAlphaDropout", "RReLU"])
def test_channel_alpha_dropout_and_rrelu_rng_advances(layer):
    def make():
        model = nn.Sequential(nn.Linear(4, 16), nn.Unflatten(1, (4, 4)), layer(), nn.Flatten(),
                              nn.Linear(16, 1))
        opt = tl.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            h = model(x)
            h.sum().backward()
            opt.step()
            return h
        return step, lambda: list(model.parameters())
    x = tl.ones(32, 4)
    jitted = _check_same(make, [(x,)] * STEPS)
    assert not np.array_equal(jitted[3], jitted[4])


def test_multilabel_margin_and_ctc_loss_captured():
    """multilabel_margin_loss validates its targets in C and ctc_loss with int-list lengths
    reads nothing: both replay."""
    target = tl.tensor(np.array([[1, 2, -1, 0], [3, -1, 0, 0]]))
    targets = tl.tensor(np.array([[1, 2], [3, 0]]))

    def make():
        w = tl.randn(5, 2, 4, dtype=tl.float64, requires_grad=True)     # (_train seeds it)

        def step(x):
            w.grad = None
            loss = F.multilabel_margin_loss(w[0] * x, target) + \
                F.ctc_loss(F.log_softmax(w * x, 2), targets, [5, 3], [2, 1])
            loss.backward()
            with tl.no_grad():
                w.sub_(w.grad * 0.1)
            return loss
        return step, lambda: [w]
    _check_same(make, [(tl.tensor(np.float64(1.0 + i / 10)),) for i in range(STEPS)])
