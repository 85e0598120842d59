"""Every listing of the five lessons (examples/lessons/) runs on tinygrad_lab: each lesson script
in --quick mode exits 0, runs all its listings, every tl cross-check agrees, and it prints the
lines a learner compares with the lesson. The claims the scripts make about PyTorch ("what
really happens") are checked against PyTorch itself when it is installed."""
import os
import re
import warnings

import pytest

from .test_examples import EXAMPLES, run_example

LESSONS = os.path.join(EXAMPLES, "lessons")
# script -> how many listings (code listings, exercises and prose concepts) it runs
SCRIPTS = {
    "lesson_000_backprop_from_scratch.py": 16,
    "lesson_001_backprop_explained.py": 7,
    "lesson_002_backprop_production.py": 18,
    "lesson_003_backprop_handbook.py": 24,
    "lesson_004_two_layer_tabular.py": 14,
}


# Listings that need what another open issue builds: listing -> (the error it stops at today,
# the issue). Each must fail exactly so; once the feature lands the test fails until the entry
# is removed, so none can stay here unnoticed.
PENDING = {}


def run_lesson(script):
    """Run one lesson script with --quick; all its listings must run (but the PENDING ones,
    which must fail as recorded) and all checks agree."""
    pending = PENDING.get(script, {})
    out = run_example(f"lessons/{script}", "--quick", returncode=1 if pending else 0)
    n, k = SCRIPTS[script], len(pending)
    ran = f"\n{n - k} of {n} listings ran" + (f"; {k} failed:\n" if k else ".\n")
    assert ran in out, out[-2000:]
    failures = dict(re.findall(r"^  (\w+): (.*)$", out.split(ran)[1], re.M)) if k else {}
    assert set(failures) == set(pending), failures
    for name, (error, _) in pending.items():
        assert error in failures[name], (name, failures[name])
    assert out.count("FAILED") == k and "DISAGREE" not in out and "PROBLEM" not in out
    assert len(re.findall(r"^=== \[\d+/\d+\] ", out, re.M)) == n
    return out


def test_every_lesson_script_is_listed_and_tested():
    scripts = sorted(f for f in os.listdir(LESSONS) if f.startswith("lesson_") and f.endswith(".py"))
    assert scripts == sorted(SCRIPTS)
    readme = open(os.path.join(EXAMPLES, "README.md"), encoding="utf-8").read()
    status = open(os.path.join(LESSONS, "STATUS.md"), encoding="utf-8").read()
    for script in scripts:
        assert f"python examples/lessons/{script}" in readme, script
        source = open(os.path.join(LESSONS, script), encoding="utf-8").read()
        for fn in re.findall(r"^@lesson\.listing\([^\n]*\n(?:[^\n]*\n)*?def (\w+)\(run\)", source, re.M):
            assert f"`{fn}`" in readme, f"{script}:{fn} missing from examples/README.md"
            assert f"`{fn}`" in status, f"{script}:{fn} missing from examples/lessons/STATUS.md"


def test_lesson_000_backprop_from_scratch():
    out = run_lesson("lesson_000_backprop_from_scratch.py")
    assert "max of sigmoid'(z) (at z = 0): 0.2500    (lesson: 0.25)" in out
    assert "parameters of a 2-4-1 network: 17" in out
    assert "XOR Results:" in out and "PyTorch XOR Results:" in out
    for a, b, t in (("0.0", "0.0", "0.0"), ("0.0", "1.0", "1.0"), ("1.0", "0.0", "1.0"), ("1.0", "1.0", "0.0")):
        assert re.search(rf"^ \[{a}, {b}\] -> \d\.\d{{4}} \(expected {t}\)$", out, re.M)
    assert re.search(r"^Epoch\s+0 \| Loss: [\d.]+ \| Accuracy: [\d.]+%$", out, re.M)      # circles
    assert "(p.grad = 0.0) raises TypeError, as in PyTorch" in out
    assert "d/da by hand 2(a - b): 3.5    (lesson: 3.5)" in out
    assert "relu hidden layer: seeds that reached 0.05" in out
    assert "layer with the smallest gradients: layer" in out


def test_lesson_001_backprop_explained():
    out = run_lesson("lesson_001_backprop_explained.py")
    assert re.search(r"^  Input \[0 1\] → Pred: \d\.\d{4}, True: 1$", out, re.M)
    assert "compute_loss's broadcast shape: (4, 4)" in out
    assert "20-layer network, gradient norms by layer:" in out and "... (last layer):" in out
    assert "BatchNormNet()(x) raises NotImplementedError" in out
    assert re.search(r"gradient norm of the last step, after clip_grad_norm_: 0\.\d{4}|"
                     r"gradient norm of the last step, after clip_grad_norm_: 1\.0000", out)
    assert "`scheduler` is the OneCycleLR (assigned last), so step(val_loss)" in out
    assert re.search(r"CosineAnnealingLR\s+lr per epoch: ", out)


def test_lesson_002_backprop_production():
    out = run_lesson("lesson_002_backprop_production.py")
    assert "Jacobian of softmax is diag(s) - s s^T" in out
    assert "Overall: ALL PASS" in out
    assert re.search(r"^Analytical grad norm: \d+\.\d{4}$", out, re.M)
    assert "gradcheck passed: True" in out and "Attention gradcheck: True" in out
    assert "=== PyTorch Cross-Check ===" in out and re.search(r"^x1\.grad = -1\.50\d\d$", out, re.M)
    assert "all square: the wrong dW has W's shape" in out
    assert "What really happens: no RuntimeError." in out
    assert "y = x.exp(); y.relu_(); backward -> RuntimeError" in out
    assert "WRONG: loss.backward() -> RuntimeError" in out
    assert "Q4: a second backward without retain_graph -> RuntimeError" in out
    assert "Backward hook [0.weight]: norm=" in out and re.search(r"^0\.weight\s+\S+e[+-]\d\d", out, re.M)
    assert "float16 underflows to zero" in out and "scaler.get_scale(): 65536.0" in out
    assert "torch.isnan(batch_x).any(): True" in out


def test_lesson_003_backprop_handbook():
    out = run_lesson("lesson_003_backprop_handbook.py")
    assert "z1[2] -> a1[2]: -0.1 -> 0" in out
    assert "prediction y_hat: 0.5548    (lesson: ~0.56)" in out
    assert "loss: 0.5892    (lesson: approximately 0.59)" in out
    assert "dz1[2] (the third neuron, z1[2] = -0.1): " in out
    assert "max sigmoid'(z): 0.2500" in out
    assert "classified correctly: 4 of 4" in out
    assert "32 x (784 + 256 + 128 + 64) x 4 bytes: 157.7 KB    (lesson: about 158 KB)" in out
    assert "dW1 has shape (4, 2), exactly matching W1" in out
    assert "gradients with 4 checkpointed segments vs without" in out


def test_lesson_004_two_layer_tabular():
    out = run_lesson("lesson_004_two_layer_tabular.py")
    assert "shape: (768, 9)\noutcome balance: {0: 500, 1: 268}\n" in out
    assert "X shape: (768, 8)\ny shape: (768, 1)\n" in out
    m = re.search(r"^initial loss: (\d\.\d{4})$", out, re.M)
    assert m and abs(float(m.group(1)) - 0.6931) < 0.01
    for line in ("dz2 shape: (768, 1)", "dW2 shape: (16, 1)", "db2 shape: (1, 1)",
                 "da1 shape: (768, 16)", "dz1 shape: (768, 16)", "dW1 shape: (8, 16)",
                 "db1 shape: (1, 16)", "dW1: (8, 16) | dW2: (16, 1)", "close? True"):
        assert f"\n{line}\n" in out, line
    assert "tensor version with X.std(axis=0, correction=0) vs NumPy" in out
    m = re.search(r"loss after one step: (\d\.\d{4}) -> (\d\.\d{4})", out)
    assert m and float(m.group(2)) < float(m.group(1))


def test_what_the_lessons_say_pytorch_does():
    """The scripts print what PyTorch really does where a lesson says otherwise; check it."""
    torch = pytest.importorskip("torch")
    # lesson 002, bug 3: relu_ after an add is accepted; after exp (which saved its output) not
    x = torch.randn(3, requires_grad=True)
    y = x + 1
    y.relu_()
    y.sum().backward()
    assert torch.equal(x.grad, (x.detach() + 1 > 0).float())
    y = x.exp()
    y.relu_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    # lesson 000 with tensors as the Values: p.grad = 0.0 is refused
    with pytest.raises(TypeError):
        torch.zeros((), requires_grad=True).grad = 0.0
    # lesson 001: a Module without forward() cannot be called
    with pytest.raises(NotImplementedError):
        torch.nn.Module()(torch.zeros(1))
    # lesson 001: OneCycleLR.step(val_loss) takes the loss as its step number
    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=0.001)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, steps_per_epoch=8, epochs=30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.step(0.55)
    assert sched.last_epoch == 0.55 and any("epoch parameter" in str(w.message) for w in caught)
    # lesson 004: a tensor's std(axis=0) divides by N - 1, NumPy's by N
    X = torch.arange(6.0).reshape(3, 2)
    assert torch.allclose(X.std(axis=0), torch.tensor(X.numpy().std(axis=0, ddof=1)))
    assert torch.allclose(X.std(axis=0, correction=0), torch.tensor(X.numpy().std(axis=0)))
    # lesson 001: with nn.Linear's default init, 20 ReLU layers vanish too; He init keeps them
    torch.manual_seed(0)
    layers = [torch.nn.Linear(10, 64), torch.nn.ReLU()]
    for _ in range(18):
        layers += [torch.nn.Linear(64, 64), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(64, 1))
    net(torch.randn(1, 10)).sum().backward()
    assert net[0].weight.grad.abs().mean() < 1e-6
