"""Copy Keras's progress output into a file as the terminal finally shows it."""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def render_terminal_line(raw: str) -> str:
    r"""What a terminal shows for one line of progress output.

    Keras 3 redraws its progress bar with ``\b`` and ``\r`` even when output
    goes to a file (23-32 KB per epoch); this keeps the final state: ANSI
    colour codes dropped, ``\r`` returns to the line's start, ``\b`` steps
    back one column, later characters overwrite earlier ones.

    >>> render_terminal_line("1/2 [=>..]\b\b\b\b\b\b\b\b\b\b\r\x1b[1m2/2\x1b[0m [====] - loss: 0.5")
    '2/2 [====] - loss: 0.5'
    """
    if "\r" not in raw and "\b" not in raw:
        return _ANSI.sub("", raw).rstrip()
    # only the text after the last \r can survive unless it is shorter
    line = _ANSI.sub("", raw)
    buf: list[str] = []
    col = 0
    for piece in re.split(r"(\r|\x08)", line):
        if piece == "\r":
            col = 0
        elif piece == "\x08":
            col = max(col - 1, 0)
        elif piece:
            end = col + len(piece)
            if end > len(buf):
                buf.extend(" " * (end - len(buf)))
            buf[col:end] = piece
            col = end
    return "".join(buf).rstrip()


class _Tee:
    """A stand-in for ``sys.stdout`` that also appends rendered lines to a file."""

    def __init__(self, stream: Any, path: Path) -> None:
        self._stream = stream
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by ProgressCapture
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            try:
                self._stream.write(text)
            except (BrokenPipeError, OSError, ValueError):
                pass  # the terminal went away: keep recording
            self._pending += text
            if "\n" in self._pending:
                *lines, self._pending = self._pending.split("\n")
                self._file.write("".join(render_terminal_line(line) + "\n" for line in lines))
                self._file.flush()  # in the kernel's hands: survives kill -9
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def close_capture(self) -> None:
        with self._lock:
            if self._pending.strip():
                self._file.write(render_terminal_line(self._pending) + "\n")
            self._pending = ""
            self._file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ProgressCapture:
    """Copy what is printed to ``sys.stdout`` into ``progress.log``, as shown.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    output still reaches the terminal; the file gets one rendered line per
    printed line (see :func:`render_terminal_line`), flushed as it comes.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._tee: _Tee | None = None
        self._saved: Any = None

    def start(self) -> None:
        if self._tee is not None:
            return
        self._saved = sys.stdout
        self._tee = _Tee(sys.stdout, self.path)
        sys.stdout = self._tee

    def stop(self) -> None:
        if self._tee is None:
            return
        if sys.stdout is self._tee:
            sys.stdout = self._saved
        self._tee.close_capture()
        self._tee = None

    def __enter__(self) -> ProgressCapture:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
