"""Plain-Python terminal output for the demo: a progress bar and a character-grid plot of a
classifier's decision regions. No dependencies; degrades gracefully when stdout is a file or
pipe (no carriage returns, no colours) or cannot encode Unicode (ASCII glyphs)."""
import os
import shutil
import sys
import time


def _is_tty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_color(stream):
    """ANSI colours only on a terminal, and never when NO_COLOR is set or TERM=dumb."""
    return (_is_tty(stream) and "NO_COLOR" not in os.environ
            and os.environ.get("TERM", "") != "dumb")


def can_encode(stream, text):
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


class ProgressBar:
    """``bar.update(step, **metrics)`` for step = 1..total, then ``bar.close()``.

    On a terminal one line is redrawn in place (at most every ``min_interval`` seconds, and at the
    last step); otherwise -- output redirected to a file or a pipe, as under CI -- a plain line is
    printed at every tenth of the run (``lines`` of them), so logs stay readable.
    """

    def __init__(self, total, label="", width=28, stream=None, lines=10, min_interval=0.05):
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.stream = sys.stdout if stream is None else stream
        self.tty = _is_tty(self.stream)
        self.every = max(self.total // max(lines, 1), 1)
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._start = time.perf_counter()
        self._drawn = False
        fill = "\u2588" if can_encode(self.stream, "\u2588\u2591") else "#"
        self._glyphs = (fill, "\u2591" if fill != "#" else "-")

    @staticmethod
    def _metrics(metrics):
        return "  ".join(f"{k} {v}" for k, v in metrics.items())

    def update(self, step, **metrics):
        """Report progress after ``step`` of ``total``; metrics are printed as ``name value``
        (pass them pre-formatted strings or numbers)."""
        done = step >= self.total
        if self.tty:
            now = time.perf_counter()
            if not done and now - self._last_draw < self.min_interval:
                return
            self._last_draw = now
            pct = 100 * min(step, self.total) // self.total
            rest = f" {pct:3d}%  step {step}/{self.total}  {self._metrics(metrics)}  {now - self._start:.1f}s"
            # keep the line shorter than the terminal, or it wraps and \r no longer redraws it
            cols = shutil.get_terminal_size((80, 24)).columns
            width = max(5, min(self.width, cols - 1 - len(self.label) - len(rest)))
            n = int(width * min(step, self.total) / self.total)
            bar = self._glyphs[0] * n + self._glyphs[1] * (width - n)
            self.stream.write(f"\r{self.label}{bar}{rest}\x1b[K")   # \x1b[K clears a longer old line
            self._drawn = True
        elif step % self.every == 0 or done or step == 1:
            w = len(str(self.total))
            self.stream.write(f"{self.label}step {step:{w}d}/{self.total}  {self._metrics(metrics)}\n")
        self.stream.flush()

    def close(self):
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


# ---- decision regions --------------------------------------------------------------------------

_ANSI = ("\x1b[34m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[35m", "\x1b[36m")
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"


def glyphs(stream):
    """(region glyphs, point markers) for up to six classes, Unicode when the stream can take it."""
    markers = ("o", "x", "+", "#", "@", "%")
    if can_encode(stream, "\u00b7"):
        return ("\u00b7", "-", "~", ":", "=", "'"), markers
    return (".", "-", "~", ":", "=", "'"), markers


def render_regions(pred, points, stream=None, color=None):
    """Draw a grid of predicted classes with labelled points on top.

    pred:   rows of class indices, pred[r][c] for row r (top row first) and column c.
    points: (row, col, label) triples of training points already mapped to grid cells; a point is
            drawn with its class's marker, so a marker on a different region is a point the model
            gets wrong.
    Returns the text (lines joined by newlines, coloured when ``color``).
    """
    stream = sys.stdout if stream is None else stream
    color = use_color(stream) if color is None else color
    regions, markers = glyphs(stream)
    cell = {}
    for r, c, label in points:
        cell[(r, c)] = label
    lines = []
    for r, row in enumerate(pred):
        out = []
        for c, k in enumerate(row):
            if (r, c) in cell:
                label = cell[(r, c)]
                ch = markers[label % len(markers)]
                out.append(f"{_BOLD}{_ANSI[label % len(_ANSI)]}{ch}{_RESET}" if color else ch)
            else:
                ch = regions[k % len(regions)]
                out.append(f"{_DIM}{_ANSI[k % len(_ANSI)]}{ch}{_RESET}" if color else ch)
        lines.append("".join(out))
    return "\n".join(lines)


def legend(n_classes, stream=None, color=None):
    stream = sys.stdout if stream is None else stream
    color = use_color(stream) if color is None else color
    regions, markers = glyphs(stream)
    parts = []
    for k in range(n_classes):
        m = markers[k % len(markers)]
        reg = "'" + regions[k % len(regions)] + "'"
        if color:
            m = f"{_BOLD}{_ANSI[k % len(_ANSI)]}{m}{_RESET}"
        parts.append(f"{m} class {k} (region {reg})")
    return "   ".join(parts)
