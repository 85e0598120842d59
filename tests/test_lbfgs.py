"""tl.optim.LBFGS: the parameter trajectory against torch.optim.LBFGS (float64, to 1e-10) on a
quadratic and on Rosenbrock, with and without the strong Wolfe line search; its state
(evaluation counts, history size), stopping rules, several and unused parameters, state dicts
through tl.save / tl.load, and PyTorch's errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.optim.lbfgs import _cubic_interpolate

A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])


def quadratic(lib, x):
    a, b = lib.tensor(A, dtype=x.dtype), lib.tensor(B, dtype=x.dtype)
    return 0.5 * (x * (a @ x)).sum() - (b * x).sum()


def rosenbrock(lib, x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _run(lib, f, x0, steps, dtype="float64", **kw):
    """(positions after each step(), losses step() returned, the optimizer)."""
    x = lib.tensor(np.array(x0, dtype=dtype), requires_grad=True)
    opt = lib.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = f(lib, x)
        loss.backward()
        return loss
    xs, losses = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        xs.append(np.array(x.detach().numpy(), copy=True))
    return np.array(xs), losses, opt


CASES = {
    "quadratic": (quadratic, [3.0, -1.0, 2.0], 3, dict(max_iter=5)),
    "quadratic-history2": (quadratic, [3.0, -1.0, 2.0], 4, dict(max_iter=3, history_size=2, lr=0.5)),
    "rosenbrock": (rosenbrock, [-1.2, 1.0, -0.5, 0.8], 8, dict(max_iter=4)),
    "rosenbrock-lr0.1": (rosenbrock, [-1.2, 1.0, -0.5, 0.8], 5, dict(lr=0.1, history_size=3, max_iter=7)),
    "rosenbrock-long": (rosenbrock, [-1.2, 1.0], 3, dict(max_iter=40, max_eval=45)),
}


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_against_pytorch(case, line_search_fn):
    torch = pytest.importorskip("torch")
    f, x0, steps, kw = CASES[case]
    if case == "rosenbrock-long" and line_search_fn is None:
        kw = dict(kw, max_iter=8, max_eval=10)      # (a fixed step amplifies rounding later on)
    ours, our_losses, opt = _run(tl, f, x0, steps, line_search_fn=line_search_fn, **kw)
    theirs, their_losses, topt = _run(torch, f, x0, steps, line_search_fn=line_search_fn, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9, atol=1e-12)
    s, ts = opt.state[opt._params[0]], topt.state[topt._params[0]]
    assert (s["func_evals"], s["n_iter"]) == (ts["func_evals"], ts["n_iter"])
    assert len(s["old_dirs"]) == len(ts["old_dirs"]) <= kw.get("history_size", 100)
    assert s["prev_loss"] == pytest.approx(float(ts["prev_loss"]), rel=1e-7, abs=1e-12)


def test_converges_to_the_minimum():
    want = np.linalg.solve(A, B)                    # (the oracle only)
    for ls in (None, "strong_wolfe"):
        xs, _, _ = _run(tl, quadratic, [3.0, -1.0, 2.0], 2, line_search_fn=ls, tolerance_change=1e-15)
        np.testing.assert_allclose(xs[-1], want, atol=1e-7)
    xs, _, _ = _run(tl, rosenbrock, [-1.2, 1.0], 2, line_search_fn="strong_wolfe", max_iter=100,
                    max_eval=200, tolerance_change=1e-15, tolerance_grad=1e-10)
    np.testing.assert_allclose(xs[-1], [1.0, 1.0], atol=1e-6)


def test_float32_against_pytorch():
    torch = pytest.importorskip("torch")
    for ls in (None, "strong_wolfe"):
        ours, _, _ = _run(tl, quadratic, [3.0, -1.0, 2.0], 2, dtype="float32", line_search_fn=ls, max_iter=6)
        theirs, _, _ = _run(torch, quadratic, [3.0, -1.0, 2.0], 2, dtype="float32", line_search_fn=ls, max_iter=6)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_several_parameters_and_an_unused_one():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W0, b0, X, Y = (rng.standard_normal(s) for s in [(3, 2), (2,), (8, 3), (8, 2)])

    def run(lib):
        W, b = lib.tensor(W0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        unused = lib.ones(2, 2, dtype=lib.float64, requires_grad=True)
        opt = lib.optim.LBFGS([W, unused, b], line_search_fn="strong_wolfe", max_iter=6)
        x, y = lib.tensor(X), lib.tensor(Y)

        def closure():
            opt.zero_grad()
            loss = ((x @ W + b - y) ** 2).mean() + 0.1 * (W ** 4).sum()
            loss.backward()
            return loss
        for _ in range(3):
            opt.step(closure)
        return [np.array(t.detach().numpy(), copy=True) for t in (W, b, unused)]
    for got, want in zip(run(tl), run(torch)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_stopping_rules():
    x = tl.tensor([1.0, 1.0], dtype=tl.float64, requires_grad=True)
    opt = tl.optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = rosenbrock(tl, x)
        loss.backward()
        return loss
    loss = opt.step(closure)                        # at the minimum: one evaluation, no move
    assert loss.item() == 0.0 and len(calls) == 1 and opt.state[x]["n_iter"] == 0
    assert x.tolist() == [1.0, 1.0]
    x.data = tl.tensor([-1.2, 1.0], dtype=tl.float64)
    opt = tl.optim.LBFGS([x], max_iter=50, max_eval=7, line_search_fn="strong_wolfe")
    calls.clear()
    opt.step(closure)
    assert len(calls) == opt.state[x]["func_evals"] <= 7 + 1   # (the line search may finish its last)
    x.data = tl.tensor([-1.2, 1.0], dtype=tl.float64)
    opt = tl.optim.LBFGS([x], max_iter=3)                      # max_eval 3 * 5 // 4 = 3
    calls.clear()
    opt.step(closure)
    assert opt.state[x]["n_iter"] == 2 and len(calls) == 3
    opt = tl.optim.LBFGS([x], max_iter=3, max_eval=10)
    calls.clear()
    opt.step(closure)
    assert opt.state[x]["n_iter"] == 3 and len(calls) == 3     # no evaluation after the last step


def test_state_dict_round_trip(tmp_path):
    def make(x0):
        x = tl.tensor(np.array(x0), requires_grad=True)
        opt = tl.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=3, history_size=4)

        def closure():
            opt.zero_grad()
            loss = rosenbrock(tl, x)
            loss.backward()
            return loss
        return x, opt, closure
    x, opt, closure = make([-1.2, 1.0, 0.3])
    for _ in range(2):
        opt.step(closure)
    tl.save(opt.state_dict(), tmp_path / "lbfgs.npz")
    x2, opt2, closure2 = make(x.tolist())
    opt2.load_state_dict(tl.load(tmp_path / "lbfgs.npz"))
    assert opt2.state[x2]["old_dirs"][0] is not opt.state[x]["old_dirs"][0]
    for _ in range(3):
        opt.step(closure)
        opt2.step(closure2)
        assert x2.tolist() == x.tolist()
    assert opt2.state[x2]["func_evals"] == opt.state[x]["func_evals"]


def test_cubic_interpolate():
    # the cubic through f = x^3 - 3x (f' = 3x^2 - 3) at 0 and 2 has its minimum at 1
    assert _cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0) == pytest.approx(1.0, rel=1e-14)
    assert _cubic_interpolate(2.0, 2.0, 9.0, 0.0, 0.0, -3.0) == pytest.approx(1.0, rel=1e-14)
    assert _cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, bounds=(1.5, 3.0)) == 1.5
    assert _cubic_interpolate(0.0, 0.0, 3.0, 1.0, 2.0, 3.0) == 0.5     # no minimum: the midpoint


def test_errors():
    x = tl.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        tl.optim.LBFGS([x], lr=-1)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        tl.optim.LBFGS([x], lr=tl.ones(2))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        tl.optim.LBFGS([{"params": [x]}, {"params": [tl.zeros(1, requires_grad=True)]}])
    opt = tl.optim.LBFGS([x], line_search_fn="armijo")

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    with pytest.raises(TypeError):
        opt.step()
    assert tl.optim.LBFGS([x], max_iter=8).param_groups[0]["max_eval"] == 10


def test_inside_jit_raises():
    x = tl.zeros(2, requires_grad=True)
    opt = tl.optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss
    step = tl.jit(lambda: opt.step(closure))
    step()
    with pytest.raises(RuntimeError, match="LBFGS.step"):
        step()
