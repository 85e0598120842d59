"""The pytest plugin (tinygrad_lab/pytest_plugin.py): its pytest11 entry point, and a user's
test file -- one line per op -- run by pytest in a subprocess, with the plugin loaded as the
entry point would load it."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_TESTS = '''
import pytest
import tinygrad_lab as tl
from tinygrad_lab.testing import OpCase


class Double(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class BadDouble(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2.5


CASES = [
    OpCase(Double.apply, (3, 4)),
    OpCase(lambda a, b: a * b, (3, 4), (4,), name="mul"),
    OpCase(BadDouble.apply, (2, 3)),
]


@pytest.mark.parametrize("case", CASES)
def test_op(case, tl_check):
    tl_check(case)


def test_direct(tl_check):
    tl_check(tl.tanh, tl.randn(3, dtype=tl.float64))
'''


def _pytest(tmp_path, *args):
    (tmp_path / "test_user_ops.py").write_text(textwrap.dedent(USER_TESTS))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")     # load only the plugin named below
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tinygrad_lab.pytest_plugin",
                           "-p", "no:cacheprovider", "-rA", "-o", "addopts=", *args,
                           str(tmp_path / "test_user_ops.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_the_plugin_is_a_pytest11_entry_point():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    assert '[project.entry-points.pytest11]\ntinygrad_lab = "tinygrad_lab.pytest_plugin"' in text


def test_a_user_test_file_checks_each_op_with_one_line(tmp_path):
    r = _pytest(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out                       # BadDouble fails, the rest pass
    assert "PASSED test_user_ops.py::test_op[Double]" in out
    assert "PASSED test_user_ops.py::test_op[mul]" in out
    assert "PASSED test_user_ops.py::test_direct" in out
    assert "FAILED test_user_ops.py::test_op[BadDouble]" in out
    assert "check_op(BadDouble) failed: gradcheck (float64)" in out
    assert "smallest failing inputs" in out


def test_the_fast_gradcheck_option(tmp_path):
    r = _pytest(tmp_path, "--tl-fast-gradcheck", "--tl-seed", "3", "-k", "BadDouble")
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "fast mode" in out and "1 failed, 3 deselected" in out, out
