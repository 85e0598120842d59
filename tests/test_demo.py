"""`python -m tinygrad_lab demo`: the default run (accuracy, gradcheck, the terminal plot, exit
status), --help, the exit-status rule, and the pure-Python terminal helpers it uses."""
import io
import os
import re
import subprocess
import sys

import pytest

import tinygrad_lab as tl
from tinygrad_lab import _terminal, demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "tinygrad_lab", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


@pytest.fixture(scope="module")
def default_run():
    return run_cli("demo")


def test_default_demo_exits_0(default_run):
    assert default_run.returncode == 0, default_run.stdout + default_run.stderr


def test_default_demo_reaches_95_percent(default_run):
    m = re.search(r"training accuracy (\d+(?:\.\d+)?)%", default_run.stdout)
    assert m, default_run.stdout
    assert float(m.group(1)) >= 95.0


def test_default_demo_reports_progress_without_a_tty(default_run):
    # stdout is a pipe here: periodic plain lines, no carriage returns or colour codes
    lines = [ln for ln in default_run.stdout.splitlines() if re.match(r"\s*step\s+\d+/\d+\s+loss", ln)]
    assert 5 <= len(lines) <= 15, default_run.stdout
    assert "acc" in lines[-1]
    assert "\r" not in default_run.stdout and "\x1b[" not in default_run.stdout


def test_default_demo_gradcheck_passed(default_run):
    assert re.search(r"^gradcheck .* passed", default_run.stdout, re.M), default_run.stdout


def test_default_demo_draws_the_decision_regions(default_run):
    out = default_run.stdout
    allowed = set("\u00b7.-~ox+")
    grid = [ln for ln in out.splitlines() if len(ln) == 64 and set(ln) <= allowed]
    assert len(grid) == 28, out
    text = "".join(grid)
    for marker in "ox+":                       # the training points of every class are drawn
        assert marker in text
    assert "o class 0 (region" in out and "+ class 2 (region" in out


def test_help_explains_the_options():
    r = run_cli("demo", "--help", timeout=60)
    assert r.returncode == 0
    for opt in ("--steps", "--seed", "--hidden", "--lr", "--plot", "--quiet", "Exit status"):
        assert opt in r.stdout


def test_non_default_settings_below_target_still_exit_0():
    r = run_cli("demo", "--steps", "3", "--hidden", "8", "--quiet", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "note: training accuracy" in r.stdout
    assert re.search(r"^gradcheck .* passed", r.stdout, re.M)
    assert "class 0 (region" not in r.stdout          # --quiet: no terminal plot


def test_default_settings_below_target_exit_1(monkeypatch, capsys):
    # Pretend a tiny configuration is the default: missing the target must then fail the run.
    monkeypatch.setattr(demo, "DEFAULTS", dict(demo.DEFAULTS, steps=3, hidden=8))
    assert demo.run(steps=3, hidden=8, quiet=True) == 1
    assert "below the 95%" in capsys.readouterr().out


def test_plot_without_matplotlib_is_a_message(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib -> ImportError
    x, y = demo.make_spirals(n_per_class=5, seed=1)
    model = demo.make_model(4)
    path = tmp_path / "out.png"
    assert demo.save_plot(str(path), model, x, y, [(1.0, 0.5)]) is False
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not path.exists()


def test_plot_with_matplotlib_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = demo.make_spirals(n_per_class=5, seed=1)
    model = demo.make_model(4)
    path = tmp_path / "out.png"
    assert demo.save_plot(str(path), model, x, y, [(1.0, 0.4), (0.8, 0.6)]) is True
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spirals_are_seeded_and_balanced():
    x1, y1 = demo.make_spirals(n_per_class=10, seed=3)
    x2, y2 = demo.make_spirals(n_per_class=10, seed=3)
    assert x1.shape == (30, 2) and y1.dtype is tl.int64
    assert x1.tolist() == x2.tolist() and y1.tolist() == y2.tolist()
    assert [y1.tolist().count(k) for k in range(3)] == [10, 10, 10]
    assert max(abs(v) for row in x1.tolist() for v in row) <= 1.3


class _Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


class _AsciiFile(io.StringIO):
    encoding = "ascii"


def test_progress_bar_on_a_tty_redraws_one_line():
    s = _Tty()
    bar = _terminal.ProgressBar(50, stream=s, min_interval=0.0)
    for i in range(1, 51):
        bar.update(i, loss="0.5")
    bar.close()
    out = s.getvalue()
    assert out.count("\n") == 1 and out.count("\r") == 50
    assert "100%" in out and "step 50/50" in out and "loss 0.5" in out


def test_progress_bar_without_a_tty_prints_periodic_lines():
    s = io.StringIO()
    bar = _terminal.ProgressBar(100, stream=s, lines=10)
    for i in range(1, 101):
        bar.update(i, acc="90%")
    bar.close()
    lines = s.getvalue().splitlines()
    assert len(lines) == 11                       # step 1, then every tenth
    assert lines[-1].strip() == "step 100/100  acc 90%"
    assert "\r" not in s.getvalue()


def test_render_regions_ascii_fallback_and_markers():
    s = _AsciiFile()
    grid = _terminal.render_regions([[0, 1], [2, 2]], [(0, 0, 1)], stream=s, color=False)
    assert grid == "x-\n~~"                        # a class-1 point drawn on a class-0 cell
    colored = _terminal.render_regions([[0]], [], stream=s, color=True)
    assert "\x1b[" in colored
