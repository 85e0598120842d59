"""kernels.host_call inside tl.jit (Python a replay reruns between its kernel calls) and, built
on it, a DistributedDataParallel training step under tl.jit.

The host_call tests need no MPI. The MPI ones launch ``mpiexec -n N`` like
tests/test_distributed.py (its ``mpi`` marker and ``run_mpi``): tests/distributed/ddp_jit.py
checks that replayed DDP steps are the eager steps' bits, and the example's ``--jit`` run prints
the numbers of the eager run."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab import kernels as K
from tinygrad_lab import nn
from tinygrad_lab.jit import _EAGER, _Recording

from .test_distributed import ROOT, _ok, mpi, run_mpi
from .test_examples import run_example


def _recording(j):
    rec = next(iter(j._recordings.values()))
    assert isinstance(rec, _Recording), rec
    return rec


def _hosts(rec):
    return [s[5] for s in rec.segments if s[5] is not None]


# ---- kernels.host_call ------------------------------------------------------------------------

def test_outside_a_capture_host_call_just_calls():
    seen = []
    assert K.host_call(lambda: seen.append(1)) is None
    assert seen == [1]


def test_replay_runs_host_functions_between_the_kernels_around_them():
    """The host function sees what the kernels before it wrote (the input copy included), its
    own kernel calls run eagerly at every replay (not recorded), and the kernels after it see
    what it wrote; each host function runs once per call."""
    log, extra = [], tl.zeros(3)

    def fn(x):
        K.host_call(lambda: log.append(("in", x.tolist())))
        y = x * 2.0
        K.host_call(lambda: log.append(("y", y.tolist())))
        K.host_call(lambda: y.add_(extra))        # a kernel call made by the host function
        return y - 1.0

    j = tl.jit(fn)
    for i in range(6):
        extra.fill_(10.0 * i)                     # read by the host function at every replay
        x = [1.0 + i, 2.0, 3.0 * i]
        out = j(tl.tensor(x)).tolist()
        assert out == [2 * v + 10.0 * i - 1 for v in x]
        assert log[-2:] == [("in", x), ("y", [2 * v for v in x])]
    assert len(log) == 12                          # once per call, eager, capture and replays
    rec = _recording(j)
    # the input copy, x * 2, y - 1: the host function's add_ is not in the recording
    assert rec.names == ["tl_copy", "tl_unary_flat", "tl_unary_flat"]
    assert [(s[0], s[2], s[5] is not None) for s in rec.segments] == \
        [(0, 1, False), (1, 0, True), (1, 1, False), (2, 0, True), (2, 0, True), (2, 1, False)]


def test_a_plain_recording_stays_one_tl_replay_call():
    model = nn.Linear(3, 2)
    opt = tl.optim.SGD(model.parameters(), lr=0.1)

    @tl.jit
    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(tl.ones(4, 3))
    assert _recording(step).segments is None


def test_the_host_function_may_read_values_the_rest_of_the_capture_may_not():
    got = []

    def fn(x):
        y = x + 1.0
        K.host_call(lambda: got.append(y.sum().item()))
        return y

    j = tl.jit(fn)
    for v in range(4):
        j(tl.full((2,), float(v)))
    assert got == [2.0, 4.0, 6.0, 8.0]

    def reads(x):
        y = x + 1.0
        K.host_call(lambda: None)
        return y.sum().item()

    j = tl.jit(reads)
    j(tl.ones(2))
    with pytest.raises(RuntimeError, match="read in Python"):
        j(tl.ones(2))


def test_a_host_call_in_a_conditional_segment_is_skipped_with_it():
    flag, log = tl.zeros(()), []

    def fn(x):
        y = x + 1.0
        with K.only_if_zero(flag):
            if K.flag_value(flag) == 0:
                K.host_call(lambda: log.append(y.tolist()))
                y.mul_(2.0)
        K.host_call(lambda: log.append("after"))
        return y

    j = tl.jit(fn)
    j(tl.ones(2))
    j(tl.ones(2))                                  # captured with the flag clear
    log.clear()
    for v in (0.0, 1.0, 0.0, 1.0):
        flag.fill_(v)
        out = j(tl.ones(2)).tolist()
        assert out == ([4.0, 4.0] if v == 0 else [2.0, 2.0])
    assert log == [[2.0, 2.0], "after", "after", [2.0, 2.0], "after", "after"]
    flags = [s[3] is not None for s in _recording(j).segments if s[5] is not None]
    assert flags == [True, False]


def test_an_abandoned_capture_runs_its_host_functions_once():
    count = {"a": 0, "b": 0}
    abandon = [True]

    def fn(x):
        y = x * 3.0
        K.host_call(lambda: count.__setitem__("a", count["a"] + 1))
        if abandon[0]:
            K.abandon_capture("test")
        K.host_call(lambda: count.__setitem__("b", count["b"] + 1))
        return y + 1.0

    j = tl.jit(fn)
    for i in range(3):                             # eager, then two abandoned captures
        assert j(tl.ones(2)).tolist() == [4.0, 4.0]
        assert count == {"a": i + 1, "b": i + 1}
        assert j._recordings[next(iter(j._recordings))] is _EAGER
    abandon[0] = False
    for i in range(3, 6):                          # a capture, then replays
        assert j(tl.ones(2)).tolist() == [4.0, 4.0]
        assert count == {"a": i + 1, "b": i + 1}
    assert len(_hosts(_recording(j))) == 2


def test_a_host_function_raising_in_a_replay_propagates_and_the_step_stays_usable():
    fail = [False]

    def boom():
        if fail[0]:
            raise ValueError("host failed")

    def fn(x):
        y = x + 1.0
        K.host_call(boom)
        return y * 2.0

    j = tl.jit(fn)
    j(tl.ones(2))
    j(tl.ones(2))
    fail[0] = True
    with pytest.raises(ValueError, match="host failed"):
        j(tl.ones(2))
    fail[0] = False
    assert j(tl.ones(2)).tolist() == [4.0, 4.0]
    assert not K.capturing()


def test_a_host_call_inside_another_host_call_is_part_of_it():
    log = []

    def outer():
        K.host_call(lambda: log.append("inner"))
        log.append("outer")

    def fn(x):
        y = x + 1.0
        K.host_call(outer)
        return y

    j = tl.jit(fn)
    for _ in range(4):
        j(tl.ones(1))
    assert log == ["inner", "outer"] * 4
    assert len(_hosts(_recording(j))) == 1


@pytest.mark.parametrize("opt_kind", ["sgd", "adam"])
def test_an_in_place_host_step_between_backward_and_optimizer_replays_eager_bits(opt_kind):
    """DDP's shape without MPI: gradients copied into a flat buffer, a host function changing
    the buffer in place (here: scaled, as an allreduce would sum), copied back, then the
    optimizer (Adam's live step count, a learning rate changed between calls)."""
    def make():
        tl.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = (tl.optim.Adam(model.parameters(), lr=0.01) if opt_kind == "adam"
               else tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        flat = tl.zeros(sum(p.numel() for p in model.parameters()))

        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            slots, off = [], 0
            with tl.no_grad():
                for p in model.parameters():
                    slots.append(flat[off:off + p.numel()].view(p.shape))
                    slots[-1].copy_(p.grad)
                    off += p.numel()
                K.host_call(lambda: flat.mul_(0.5))
                for p, s in zip(model.parameters(), slots):
                    p.grad.copy_(s)
            opt.step()
        return model, opt, step

    m1, o1, f1 = make()
    m2, o2, f2 = make()
    j = tl.jit(f2)
    rng = np.random.default_rng(0)
    for i in range(8):
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
        for o in (o1, o2):
            o.param_groups[0]["lr"] = 0.01 / (1 + i)
        f1(tl.tensor(x), tl.tensor(y))
        j(tl.tensor(x), tl.tensor(y))
        for a, b in zip(m1.parameters(), m2.parameters()):
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert len(_hosts(_recording(j))) == 1


# ---- DistributedDataParallel under tl.jit (MPI) ----------------------------------------------

@mpi
def test_jitted_ddp_steps_replay_the_eager_bits():
    _ok(run_mpi("ddp_jit.py"), "ddp jit OK")


@mpi
def test_jitted_ddp_steps_on_three_ranks():
    _ok(run_mpi("ddp_jit.py", n=3), "ddp jit OK")


@mpi
def test_the_example_with_jit_prints_the_same_numbers(tmp_path):
    """Everything but the throughput lines (timings) is the same text."""
    def run(*flags):
        proc = run_mpi(ROOT / "examples" / "ddp_train.py",
                       args=("--quick", "--checkpoint", str(tmp_path / "ddp.tl"), *flags))
        _ok(proc, "final accuracy")
        return [ln for ln in proc.stdout.splitlines() if not ln.startswith(("rank ", "all ranks"))]

    eager, jitted = run(), run("--jit")
    assert jitted == eager
    assert any("epoch   3" in ln for ln in eager) and "weights identical on all ranks: yes" in eager


def test_the_example_with_jit_on_one_process():
    """A job of size 1 (no mpiexec): the same numbers with --jit (or the same skip message)."""
    def run(*flags):
        out = run_example("ddp_train.py", "--quick", *flags)
        return [ln for ln in out.splitlines() if not ln.startswith(("rank ", "all ranks"))]
    assert run("--jit") == run()
