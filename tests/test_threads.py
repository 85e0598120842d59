"""The kernels' thread pool (csrc/pool.c): every thread count gives the same bits, calls from
several Python threads at once are correct, a forked child can run threaded kernels, and the
thread-count controls round-trip."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab._lib import lib

from .helpers import threads

pytestmark = pytest.mark.skipif(not tl._config._threaded(), reason="built without threads")

COUNTS = (1, 2, 3)          # 3 oversubscribes a 2-core machine


def _rng(seed=0):
    return np.random.default_rng(seed)


def _np(t):
    """A copy of tensor t's values, taken while t is alive (a view of a temporary's memory would
    see the buffer's next user)."""
    return np.array(t.numpy(), copy=True)


def _per_thread_count(fn):
    """fn()'s NumPy result(s) for each thread count in COUNTS."""
    out = []
    for n in COUNTS:
        with threads(n):
            r = fn()
        out.append([_np(a.detach()) if isinstance(a, tl.Tensor) else np.array(a, copy=True)
                    for a in (r if isinstance(r, tuple) else (r,))])
    return out


def assert_same_bits(fn):
    results = _per_thread_count(fn)
    for n, res in zip(COUNTS[1:], results[1:]):
        for a, b in zip(results[0], res):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=True), f"{n} threads differ from 1 thread"


# ---- same bits for 1, 2 and 3 threads ----------------------------------------------------------

@pytest.mark.parametrize("shape", [(256, 256, 256), (300, 129, 517), (1030, 70, 40),
                                   (1030, 300, 200), (5, 1000, 3000)])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_matmul(shape, dt):
    m, k, n = shape
    a = tl.from_numpy(_rng(1).standard_normal((m, k)).astype(dt))
    b = tl.from_numpy(_rng(2).standard_normal((k, n)).astype(dt))
    assert_same_bits(lambda: (a @ b, a @ b[:, ::2], (b.T @ a.T)))
    np.testing.assert_allclose(_np(a @ b), a.numpy() @ b.numpy(), rtol=1e-4, atol=1e-3)


def test_matmul_batched_and_int64():
    a = tl.from_numpy(_rng(3).standard_normal((6, 96, 80)).astype(np.float32))
    b = tl.from_numpy(_rng(4).standard_normal((6, 80, 112)).astype(np.float32))
    w = tl.from_numpy(_rng(5).standard_normal((80, 112)).astype(np.float32))
    # three matrices, each cut into bands of rows (threads keep B packed between bands of one)
    a3 = tl.from_numpy(_rng(19).standard_normal((3, 500, 300)).astype(np.float32))
    b3 = tl.from_numpy(_rng(20).standard_normal((3, 300, 200)).astype(np.float32))
    ia = tl.from_numpy(_rng(6).integers(-50, 50, (200, 150)))
    ib = tl.from_numpy(_rng(7).integers(-50, 50, (150, 300)))
    assert_same_bits(lambda: (a @ b, a @ w, a3 @ b3, a3 @ b3[0], ia @ ib))
    assert np.array_equal(_np(ia @ ib), ia.numpy() @ ib.numpy())
    np.testing.assert_allclose(_np(a3 @ b3), a3.numpy() @ b3.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_reductions(dt):
    x = tl.from_numpy(_rng(8).standard_normal((2048, 700)).astype(dt))
    v = tl.from_numpy(_rng(9).standard_normal(1_000_003).astype(dt))      # one long reduction
    narrow = tl.from_numpy(_rng(10).standard_normal((40000, 5)).astype(dt))   # bands of rows
    few = tl.from_numpy(_rng(11).standard_normal((3, 150000)).astype(dt))     # slices of rows
    assert_same_bits(lambda: (x.sum(1), x.sum(0), x.max(0), x.max(1), x.T.sum(1), x.argmax(1),
                              v.sum(), v.max(), v.argmin(), narrow.sum(0), narrow.min(0),
                              few.sum(1), few.argmax(1), x.sum(), x.mean(0)))
    vn = v.numpy().astype(np.float64)
    np.testing.assert_allclose(v.sum().item(), vn.sum(), atol=1e-6 * np.abs(vn).sum())
    np.testing.assert_allclose(_np(narrow.sum(0)), narrow.numpy().sum(0), rtol=1e-4, atol=1e-3)


def test_reductions_nan_ties_and_int64():
    v = np.zeros(300_000)
    v[[5, 150_000, 299_999]] = 7.0           # ties: the first index wins in every slice split
    w = v.copy()
    w[200_000] = np.nan                       # NaN wins and sticks
    tv, tw = tl.from_numpy(v), tl.from_numpy(w)
    iv = tl.from_numpy(_rng(12).integers(-1000, 1000, (5, 200_000)))
    assert_same_bits(lambda: (tv.argmax(), tv.max(), tw.max(), tw.argmax(), iv.sum(1), iv.sum(0),
                              iv.max(1), iv.argmin(1)))
    assert tv.argmax().item() == 5 and tw.argmax().item() == 200_000
    assert np.array_equal(_np(iv.sum(1)), iv.numpy().sum(1))


def test_elementwise_large():
    r = _rng(13)
    a = tl.from_numpy(r.standard_normal((1000, 1001)).astype(np.float32))
    b = tl.from_numpy(r.standard_normal(1001).astype(np.float32))
    c = tl.from_numpy(r.standard_normal((1001, 1000)).astype(np.float32))

    def run():
        x = a.detach().requires_grad_()
        y = (x * b).exp().tanh() + c.T.sigmoid()
        y.sum().backward()
        return y, x.grad, tl.where(a > 0, a, b * 2), a.gelu(), (a[::2, ::3] * 3.0), a > c.T

    assert_same_bits(run)


def test_softmax_cross_entropy_large():
    r = _rng(14)
    logits = tl.from_numpy(r.standard_normal((4096, 100)).astype(np.float32) * 5)
    target = tl.tensor(r.integers(0, 100, 4096))

    def run():
        x = logits.detach().requires_grad_()
        loss = F.cross_entropy(x, target)
        loss.backward()
        return loss, x.grad, F.softmax(logits, dim=1), F.log_softmax(logits, dim=0)

    assert_same_bits(run)


def test_optimizer_step():
    def run():
        tl.manual_seed(0)
        p = tl.nn.Parameter(tl.randn(300_000))
        opt = tl.optim.Adam([p], lr=0.01, weight_decay=0.1)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return p.detach()

    assert_same_bits(run)


def test_gather_large():
    x = tl.from_numpy(_rng(15).standard_normal((500, 1000)).astype(np.float32))
    idx = tl.tensor(_rng(16).integers(0, 500, 700))
    assert_same_bits(lambda: x[idx])
    assert np.array_equal(_np(x[idx]), x.numpy()[idx.numpy()])


# ---- concurrency, fork, exit ---------------------------------------------------------------------

def test_calls_from_four_python_threads():
    """Calls from several Python threads at once (cffi releases the GIL): one owns the pool,
    the others run serially meanwhile; every result must be right."""
    r = _rng(17)
    a = [r.standard_normal((200 + 8 * i, 300)).astype(np.float32) for i in range(4)]
    b = r.standard_normal((300, 260)).astype(np.float32)
    x = [r.standard_normal((1500, 400 + i)).astype(np.float64) for i in range(4)]
    ta, tb, tx = [tl.from_numpy(v) for v in a], tl.from_numpy(b), [tl.from_numpy(v) for v in x]
    expect = []
    with threads(1):
        for i in range(4):
            expect.append((_np(ta[i] @ tb), _np(tx[i].sum(0)), _np((tx[i] * 2.0).exp().sum(1))))
    errors = []
    start = threading.Barrier(4)

    def worker(i):
        try:
            start.wait()
            for _ in range(15):
                got = (_np(ta[i] @ tb), _np(tx[i].sum(0)), _np((tx[i] * 2.0).exp().sum(1)))
                for g, e in zip(got, expect[i]):
                    if not np.array_equal(g, e):
                        errors.append(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    with threads(2):
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    assert not any(t.is_alive() for t in ts), "a thread hung"
    assert not errors, errors


def _wait_child(pid, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # fork with threads running
def test_fork_child_runs_threaded_kernels():
    a = tl.from_numpy(_rng(18).standard_normal((300, 300)).astype(np.float32))
    expect = _np(a @ a)
    stop = threading.Event()

    def busy():                  # keep the pool (and the allocator) in use while forking
        while not stop.is_set():
            (a @ a).sum(0)

    with threads(2):
        a @ a                    # the parent's workers exist
        t = threading.Thread(target=busy)
        t.start()
        try:
            for _ in range(3):
                pid = os.fork()
                if pid == 0:     # child: threaded kernels must work (and not deadlock)
                    ok = False
                    try:
                        ok = all(np.array_equal(_np(a @ a), expect) for _ in range(3))
                        ok = ok and tl.get_num_threads() == 2
                    finally:
                        os._exit(0 if ok else 1)
                assert _wait_child(pid) == 0
        finally:
            stop.set()
            t.join()


def _run_python(code, env=None, timeout=60):
    full_env = dict(os.environ, **(env or {}))
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=full_env, timeout=timeout,
                          capture_output=True, text=True)


def test_exit_with_busy_threads_does_not_hang():
    code = ("import threading, tinygrad_lab as tl\n"
            "tl.set_num_threads(2)\n"
            "a = tl.randn(200, 200)\n"
            "def spin():\n"
            "    while True: (a @ a).sum()\n"
            "threading.Thread(target=spin, daemon=True).start()\n"
            "(a @ a).sum()\n"
            "print('bye')\n")
    r = _run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "bye"


def test_thread_count_environment_variables():
    code = "import tinygrad_lab as tl; print(tl.get_num_threads())"
    base = {"TL_NUM_THREADS": None, "OMP_NUM_THREADS": None}
    assert _run_python(code, dict(base, TL_NUM_THREADS="3")).stdout.strip() == "3"
    assert _run_python(code, dict(base, OMP_NUM_THREADS="1")).stdout.strip() == "1"
    assert _run_python(code, dict(base, OMP_NUM_THREADS="3,2")).stdout.strip() == "3"
    both = dict(base, TL_NUM_THREADS="2", OMP_NUM_THREADS="1")     # TL_NUM_THREADS wins
    assert _run_python(code, both).stdout.strip() == "2"
    if hasattr(os, "sched_getaffinity"):
        cpus = str(len(os.sched_getaffinity(0)))
        assert _run_python(code, dict(base, TL_NUM_THREADS="junk")).stdout.strip() == cpus


def test_set_num_threads_round_trip():
    saved = tl.get_num_threads()
    try:
        for n in (1, 3, 2, 7, 1):
            tl.set_num_threads(n)
            assert tl.get_num_threads() == n
            assert lib.tl_get_num_threads() == n
        assert lib.tl_set_num_threads(0) != 0 and lib.tl_set_num_threads(4097) != 0
        assert tl.get_num_threads() == 1
        with pytest.raises(ValueError, match="at least 1 thread"):
            tl.set_num_threads(0)
        with pytest.raises(ValueError, match="4096"):
            tl.set_num_threads(5000)
    finally:
        tl.set_num_threads(saved)
    assert tl.get_num_threads() == saved
