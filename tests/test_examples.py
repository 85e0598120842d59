"""Each lesson in examples/ runs in --quick mode, exits 0 and prints what a learner should see."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None


def run_example(name, *args, timeout=120, returncode=0):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, encoding="utf-8", timeout=timeout)
    assert r.returncode == returncode, \
        f"{name} {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_every_example_is_listed_and_tested():
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))
    readme = open(os.path.join(EXAMPLES, "README.md"), encoding="utf-8").read()
    tested = open(__file__, encoding="utf-8").read()
    for f in scripts:
        assert f"python examples/{f}" in readme, f
        assert f'run_example("{f}"' in tested, f


def test_xor():
    out = run_example("xor.py", "--quick")
    assert "2-4-1 sigmoid network" in out and "predictions:" in out
    for a, b, t in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)):
        assert re.search(rf"{a} XOR {b} = {t}\s+network says [01]\.\d{{3}}", out)
    assert re.search(r"largest \|prediction - target\|: \d\.\d{3}", out)


def test_circles():
    out = run_example("circles.py", "--quick")
    assert "online SGD" in out
    epochs = re.findall(r"epoch\s+(\d+)\s+mean loss [\d.]+\s+train accuracy\s+[\d.]+%\s+test accuracy", out)
    assert epochs == [str(i) for i in range(1, len(epochs) + 1)] and len(epochs) >= 3
    assert "final test accuracy" in out


def test_gradcheck_mlp_table_all_pass():
    out = run_example("gradcheck_mlp.py", "--quick")
    assert re.search(r"parameter\s+shape\s+max abs diff\s+relative error\s+result", out)
    rows = re.findall(r"^(\d\.(?:weight|bias))\s+\S+\s+(\S+)\s+(\S+)\s+(PASS|FAIL)$", out, re.M)
    assert [r[0] for r in rows] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert all(r[3] == "PASS" and float(r[2]) < 1e-6 for r in rows)
    assert "tl.autograd.gradcheck on all parameters: passed" in out


def test_gradcheck_mlp_catches_a_planted_bug():
    out = run_example("gradcheck_mlp.py", "--quick", "--bug")
    results = dict(re.findall(r"^(\d\.(?:weight|bias))\s+.*\s(PASS|FAIL)$", out, re.M))
    assert results["0.weight"] == "FAIL" and results["2.weight"] == "FAIL"
    assert results["4.weight"] == "PASS"          # the layer above the bug is unaffected
    assert "the wrong backward was caught" in out


def test_two_layer_classifier():
    out = run_example("two_layer_classifier.py", "--quick")
    assert ("breast-cancer" in out) if HAVE_SKLEARN else ("generated data set" in out)
    m = re.search(r"initial loss (\d\.\d+)", out)
    assert m and abs(float(m.group(1)) - 0.6931) < 0.02
    for step in ("dz2", "dW2", "da1", "dz1", "dW1"):
        m = re.search(rf"^\s+{step}\s.*\s(\S+)$", out, re.M)
        assert m and float(m.group(1)) < 1e-12, step
    assert "all match" in out
    m = re.search(r"one gradient-descent step .*: loss (\d\.\d+) -> (\d\.\d+)\s+\(lower\)", out)
    assert m and float(m.group(2)) < float(m.group(1))


def test_vanishing_gradients():
    out = run_example("vanishing_gradients.py", "--quick")
    assert re.search(r"layer\s+sigmoid x5\s+relu x5\s+sigmoid x20\s+relu x20", out)
    rows = re.findall(r"^\s*(\d+)\s+[\d.e+-]+", out, re.M)
    assert [int(r) for r in rows] == list(range(1, 21))
    m = re.search(r"20 sigmoid layers: layer 1 gets (\S+) times", out)
    assert m and float(m.group(1)) < 1e-4                  # vanished
    m = re.search(r"20 ReLU layers:\s+layer 1 gets (\S+) times", out)
    assert m and 0.05 < float(m.group(1)) < 20             # still flows


def test_custom_function():
    out = run_example("custom_function.py", "--quick")
    assert len(re.findall(r"^\s+gradcheck: passed", out, re.M)) == 2 and "gradgradcheck: passed" in out
    assert "saved for backward: 4 tensors" in out
    assert "gradcheck caught it" in out and "Jacobian mismatch" in out
    assert "all checks behaved as expected" in out


def test_ddp_train():
    """One process is an MPI job of size 1 (tests/test_distributed.py runs it on 2 ranks)."""
    out = run_example("ddp_train.py", "--quick")
    if "skipped:" in out:
        assert 'pip install "tinygrad_lab[distributed]"' in out
        return
    assert "1 rank(s)" in out and "rank 0:" in out and "samples/s" in out
    assert "weights identical on all ranks: yes" in out
    assert re.search(r"final accuracy: \d+\.\d%", out)


def test_digits_mlp():
    out = run_example("digits_mlp.py", "--quick")
    if HAVE_SKLEARN:
        assert re.search(r"final test accuracy: \d+\.\d%", out)
        assert "epoch   2" in out
    else:
        assert out.startswith("skipped:") and "scikit-learn" in out


def test_cnn_shapes():
    out = run_example("cnn_shapes.py", "--quick")
    assert "after MaxPool2d (1, 16, 3, 3)" in out and "after Linear    (1, 4)" in out
    assert "epoch  2" in out and re.search(r"final test accuracy: \d+\.\d%", out)


def test_my_ops_harness_catches_every_planted_bug():
    out = run_example("test_my_ops.py")
    assert re.search(r"Swish\s+PASS", out) and re.search(r"MatMul\s+PASS", out)
    for bug, case in (("MatMulReshapeGrad", "gradcheck (float64)"),
                      ("SquareMemoryOrder", "transposed inputs"),
                      ("ReluSwallowsNaN", "NaN propagation"),
                      ("CenterInPlace", "modified in place"),
                      ("SigmoidNumpyBackward", "gradgradcheck (float64)")):
        block = out.split(f"{bug}: caught", 1)[1].split(": caught", 1)[0]
        assert case in block and "smallest failing inputs" in block, bug
    assert "(it fails with input 0 alone transposed)" in out
    assert "every planted bug was caught and the correct ops passed" in out
def test_mixed_precision():
    out = run_example("mixed_precision.py", "--quick")
    assert "gradient through float16, unscaled:   [0.0, 0.0]" in out
    assert "after scaler.unscale_(optimizer):     ['1e-08', '1e-08']" in out
    for mode in ("float32", "bfloat16", "float16"):
        assert re.search(rf"{mode}: final loss \d\.\d{{4}}, accuracy \d\.\d{{3}}", out), mode
    assert "(logits tl.bfloat16)" in out and out.rstrip().endswith("OK")


def test_cnn_shapes_jit_prints_the_same_numbers():
    assert run_example("cnn_shapes.py", "--quick", "--jit") == run_example("cnn_shapes.py", "--quick")


def test_mixed_precision_jit_prints_the_same_numbers():
    # all three modes' steps through tl.jit, the float16 one with its GradScaler
    assert run_example("mixed_precision.py", "--quick", "--jit") == run_example("mixed_precision.py", "--quick")
