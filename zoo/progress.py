"""Progress of long work on stderr: a bar on a terminal, a few lines in a log, nothing unless asked.

    with progress.bar("AIS log Z", total=43_500, unit="temperatures", verbose=verbose) as bar:
        for chunk in chunks:
            ...
            bar.advance(len(chunk))

verbose, as Keras reads it: 0 says nothing; 1 draws a bar rewritten in place when stderr is a terminal, and writes a
line at each quarter when it is not (a CI log keeps a few lines, not thousands of carriage returns); 2 writes one
line when the stage ends. "auto", the default of the zoo's slow methods, takes what `shown()` set around the call
(the CLI's --verbose, zoo.training.train's verbose=), and without it 1 on a terminal and 0 otherwise: an
interactive user sees the bar Keras' evaluate would show, and a script's or a test's stderr stays clean.

The bar only reads a counter and the clock, and repaints at most every REPAINT_SECONDS: it changes no number
and costs nothing next to the work. No TensorFlow here.
"""

import contextlib
import contextvars
import sys
import time

from zoo.errors import ZooError

REPAINT_SECONDS = 0.5
BAR_WIDTH = 24
LEVELS = (0, 1, 2, "auto")

# (level, stream) set by `shown()` for the calls made inside it; None: decide by the terminal.
_AROUND = contextvars.ContextVar("zoo_progress", default=None)


def _level(verbose):
    if isinstance(verbose, bool):
        return int(verbose)
    if verbose not in LEVELS or (isinstance(verbose, float) and verbose != int(verbose)):
        raise ZooError(f"verbose must be 0 (silent), 1 (a bar), 2 (a line per stage) or 'auto', got {verbose!r}")
    return verbose if verbose == "auto" else int(verbose)


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return False


@contextlib.contextmanager
def shown(verbose=1, stream=None):
    """Within the block, work whose verbose is "auto" reports at this level, on `stream` (default: stderr as it is
    when the work starts)."""
    token = _AROUND.set((_level(verbose), stream))
    try:
        yield
    finally:
        _AROUND.reset(token)


def resolve(verbose="auto"):
    """(level 0, 1 or 2, stream) for a call's verbose."""
    level, stream = _level(verbose), None
    if level == "auto":
        around = _AROUND.get()
        if around is not None:
            level, stream = around
    stream = stream if stream is not None else sys.stderr
    if level == "auto":
        level = 1 if _is_terminal(stream) else 0
    return level, stream


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Bar:
    """One stage's progress: `advance(n)` as the work goes; `close()` (or leaving the with-block) ends it."""

    def __init__(self, what, total, unit, verbose="auto"):
        self.what, self.total, self.unit = what, max(int(total), 1), unit
        self.level, self.stream = resolve(verbose)
        self.live = self.level == 1 and _is_terminal(self.stream)
        self.done, self.start = 0, time.monotonic()
        self._painted, self._width, self._quarter, self._closed = 0.0, 0, 0, False
        if self.live:
            self._paint()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close(finished=kind is None)
        return False

    def advance(self, n=1):
        self.done = min(self.done + int(n), self.total)
        if self.level == 0:
            return
        now = time.monotonic()
        if self.live:
            if now - self._painted >= REPAINT_SECONDS:
                self._paint(now)
        elif self.level == 1:
            quarter = 4 * self.done // self.total
            if quarter > self._quarter and self.done < self.total:
                self._quarter = quarter
                self._line(f"{self.what}: {self.done:,} of {self.total:,} {self.unit} "
                           f"({100 * self.done // self.total}%), {_clock(now - self.start)} so far")

    def close(self, finished=True):
        if self._closed:
            return
        self._closed = True
        if self.level == 0:
            return
        if self.live:
            self._paint()
            self.stream.write("\n")
            self.stream.flush()
        elif finished:
            self._line(f"{self.what}: {self.done:,} {self.unit} in {_clock(time.monotonic() - self.start)}")

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def _paint(self, now=None):
        now = time.monotonic() if now is None else now
        self._painted = now
        elapsed = now - self.start
        filled = BAR_WIDTH * self.done // self.total
        text = (f"{self.what} [{'=' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done:,}/{self.total:,} {self.unit}, "
                f"{_clock(elapsed)}")
        if 0 < self.done < self.total:
            text += f", ~{_clock(elapsed * (self.total - self.done) / self.done)} left"
        # padded over the longer text it replaces
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)


def bar(what, total, unit, verbose="auto"):
    """A `Bar` for `total` units of work named `what` (say "AIS log Z", 43,500, "temperatures")."""
    return Bar(what, total, unit, verbose)


def stage(text, verbose="auto"):
    """One line saying what starts now (work without a count of its own), at levels 1 and 2."""
    level, stream = resolve(verbose)
    if level:
        stream.write(text + "\n")
        stream.flush()
