"""The pytest plugin (tinygrad_lab/pytest_plugin.py): its pytest11 entry point, and a user's
test file -- one line per op -- run by pytest (pytester, in process), with the plugin loaded by
name as the entry point would load it."""
import os

import tinygrad_lab.pytest_plugin  # noqa: F401  (imported once, before pytester's module snapshots)

pytest_plugins = ["pytester"]

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


class BadDouble(Double):
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


def _pytest(pytester, monkeypatch, *args):
    pytester.makepyfile(test_user_ops=USER_TESTS)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")    # only the plugin named here
    r = pytester.runpytest_inprocess("-p", "tinygrad_lab.pytest_plugin", "-p", "no:cacheprovider",
                                     "-rA", *args)
    return r, r.stdout.str() + r.stderr.str()


def test_the_plugin_is_a_pytest11_entry_point():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    assert '[project.entry-points.pytest11]\ntinygrad_lab = "tinygrad_lab.pytest_plugin"' in text


def test_a_user_test_file_checks_each_op_with_one_line(pytester, monkeypatch):
    r, out = _pytest(pytester, monkeypatch)
    assert r.ret == 1, out                       # BadDouble fails, the rest pass
    assert "PASSED test_user_ops.py::test_op[Double]" in out
    assert "PASSED test_user_ops.py::test_op[mul]" in out
    assert "PASSED test_user_ops.py::test_direct" in out
    assert "FAILED test_user_ops.py::test_op[BadDouble]" in out
    assert "check_op(BadDouble) failed: gradcheck (float64)" in out
    assert "smallest failing inputs" in out


def test_the_fast_gradcheck_option(pytester, monkeypatch):
    r, out = _pytest(pytester, monkeypatch, "--tl-fast-gradcheck", "--tl-seed", "3", "-k", "BadDouble")
    assert r.ret == 1 and "fast mode" in out and "1 failed, 3 deselected" in out, out
