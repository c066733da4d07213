"""A test-side re-implementation of what ``model.fit`` prints, era by era.

Written from docs/keras-formats.md (the format strings it quotes from
``Progbar.update``, ``ProgbarLogger`` and the callbacks), independently of
``dynamics.sources.parse``: the round-trip tests render random histories with it and
check that the parser reads back exactly the printed values.

Eras (``Printer.era``):

* ``keras1``   -- Keras 0.3.1 to 2.0.8: ``- 300s -``, no time per unit,
  ``15s - loss`` for verbose=2, callbacks glued 0-based before the row;
* ``keras2``   -- Keras 2.2 to 2.3.1: ``- 24s 96ms/step -``, ``- ETA: 1:02``,
  `` - 510s - loss`` for verbose=2, ``\\nEpoch 00001:`` after the row;
* ``tfkeras``  -- tf.keras v1 loops (``us/sample``) and TF >= 2.2 (``/step``):
  an at-target ``ETA: 0s`` update, messages before the row, ``lr`` column,
  ``N/N - 13s - loss`` for verbose=2, no header when ``epochs == 1``;
* ``tfkeras27`` -- as ``tfkeras`` but verbose=2 ends ``- 21s/epoch - 19ms/step``;
* ``keras3``   -- 20 ``━`` in ANSI colours, bold counter and time, ETA without
  a label, metrics sorted, an at-target update without ``val_*``,
  ``208/208 - 92s - 443ms/step - ...`` for verbose=2.

Era quirks a real log shows (``Printer`` options):

* ``short_final`` -- Keras <= 2.0.8 when the counter stops short of its
  target: the epoch's last line is ``1984/2000 [===>.] - ETA: 0s - ... -
  val_loss: ...`` and no line break follows, so the next header is glued;
* ``repeat_header`` -- TF 1.15/2.1 print a spurious ``Epoch 1/N`` when
  validation starts, right after each real header (tensorflow#35815, #34619);
* ``stale_tail`` -- a terminal's copy where the row did not overwrite all of
  a longer earlier update: that update's tail stays after the row.

Paste damage (:func:`paste`) adds, besides wraps, prefixes and typography:
``lost-cr`` (a capture that dropped ``\r`` and ``\b``: every update glued in
front of the row), ``no-open-bracket``, ``bracket-time`` (``[6s 3ms/step]``
in place of the bar), ``glued-download`` (a download bar that stopped short,
``...ETA: 0sEpoch 1/3``). :data:`ELISIONS` are the markers people and tools
put where lines were cut.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

ERAS = ("keras1", "keras2", "tfkeras", "tfkeras27", "keras3")


def v1_value(v: float) -> str:
    """``Progbar`` verbose=1: ``%.4f`` if ``abs(avg) > 1e-3`` else ``%.4e``."""
    return "%.4f" % v if abs(v) > 1e-3 else "%.4e" % v


def v2_value(v: float) -> str:
    """verbose=2 tests ``avg > 1e-3`` without ``abs()``."""
    return "%.4f" % v if v > 1e-3 else "%.4e" % v


def fmt_time(t: float) -> str:
    """``_format_time`` / the 2.0.9+ per-unit thresholds (no leading space)."""
    if t >= 1 or t == 0:
        return "%.0fs" % t
    if t >= 1e-3:
        return "%.0fms" % (t * 1e3)
    return "%.0fus" % (t * 1e6)


def eta_keras2(eta: int) -> str:
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


@dataclass
class Epoch:
    number: int  # 1-based
    values: dict[str, float]  # printed name -> value (training, val_*, lr)
    elapsed: int
    per_unit: float
    message: str | None = None  # "improved" / "not_improved" / None


@dataclass
class Printer:
    era: str
    verbose: int
    names: list[str]  # training metric names (loss first)
    validation: bool
    lr_key: str | None
    total: int
    target: int
    unit: str = "step"
    train_on: tuple[int, int] | None = None
    debris: bool = False
    dynamic: bool = True  # \b\r redraws (False: Keras 2.0.9+ non-TTY, one line per update)
    short_final: bool = False  # keras1 verbose=1: the last line stops short with "ETA: 0s", no "\n"
    repeat_header: bool = False  # tfkeras: "Epoch 1/N" printed again after every header
    stale_tail: bool = False  # verbose=1: a longer update's tail left after the row
    rng: random.Random = field(default_factory=random.Random)

    # -- names and values ---------------------------------------------------
    def keys(self) -> list[str]:
        train = list(self.names)
        val = ["val_" + n for n in self.names] if self.validation else []
        if self.era == "keras3":
            train, val = sorted(train), sorted(val)
        return train + val + ([self.lr_key] if self.lr_key else [])

    def _metrics(self, values: dict[str, float], keys: list[str], rule) -> str:
        return "".join(f" - {k}: {rule(values[k])}" for k in keys)

    def printed(self, values: dict[str, float]) -> dict[str, str]:
        rule = v1_value if self.verbose == 1 else v2_value
        return {k: rule(values[k]) for k in self.keys()}

    # -- pieces -------------------------------------------------------------
    def header(self, epoch: int) -> str:
        if self.era in ("tfkeras", "tfkeras27", "keras3") and self.total <= 1:
            return ""  # "if self.verbose and self.epochs > 1"
        if self.repeat_header and epoch > 1:
            return "Epoch %d/%d\nEpoch 1/%d\n" % (epoch, self.total, self.total)
        return "Epoch %d/%d\n" % (epoch, self.total)

    def _counter(self, current: int) -> str:
        digits = len(str(self.target))
        if self.era == "keras1":
            return ("%" + str(digits) + "d/%" + str(digits) + "d") % (current, self.target)
        return ("%" + str(digits) + "d/%d") % (current, self.target)

    def _bar30(self, current: int) -> str:
        width = int(30 * current / self.target)
        bar = "[" + ("=" * (width - 1) + (">" if current < self.target else "=") if width > 0 else "")
        return bar + "." * (30 - width) + "]"

    def _k3_bar(self, current: int) -> str:
        done = int(20 * current / self.target)
        bar = f"\x1b[1m{self._counter(current)}\x1b[0m "
        if done > 0:
            bar += "\x1b[32m" + "━" * done + "\x1b[0m"
        return bar + "\x1b[37m" + "━" * (20 - done) + "\x1b[0m"

    def update_line(self, current: int, values: dict[str, float], keys: list[str]) -> str:
        """An in-progress update (verbose=1)."""
        eta = self.rng.randrange(0, 5000)
        if self.era == "keras3":
            eta_text = eta_keras2(eta) if eta > 60 else f"{eta}s"
            info = f" \x1b[1m{eta_text}\x1b[0m " + fmt_time(self.rng.uniform(1e-5, 2)) + "/" + self.unit
            return self._k3_bar(current) + info + self._metrics(values, keys, v1_value)
        line = self._counter(current) + " " + self._bar30(current)
        eta_text = "%ds" % eta if self.era == "keras1" else eta_keras2(eta)
        return line + " - ETA: " + eta_text + self._metrics(values, keys, v1_value)

    def final_line(self, e: Epoch) -> str:
        keys = self.keys()
        if self.verbose == 2:
            if self.era == "keras1":
                return "%ds" % e.elapsed + self._metrics(e.values, keys, v2_value)
            if self.era == "keras2":
                return " - %.0fs" % e.elapsed + self._metrics(e.values, keys, v2_value)
            count = "%d/%d" % (self.target, self.target)
            if self.era == "keras3":
                head = f"{count} - {e.elapsed:.0f}s - {fmt_time(e.per_unit)}/{self.unit}"
                return head + self._metrics(e.values, keys, v2_value)
            line = f"{count} - {e.elapsed:.0f}s" + self._metrics(e.values, keys, v2_value)
            if self.era == "tfkeras27":
                line += f" - {e.elapsed:.0f}s/epoch - {fmt_time(e.per_unit)}/{self.unit}"
            return line
        if self.era == "keras3":
            info = f" \x1b[1m{e.elapsed:.0f}s\x1b[0m " + fmt_time(e.per_unit) + "/" + self.unit
            return self._k3_bar(self.target) + info + self._metrics(e.values, keys, v1_value)
        if self.short_final:
            # Progbar.update in <= 2.0.8: "if current < self.target: ' - ETA: %ds'".
            current = max(1, self.target - 1 - self.target // 100)
            return self._counter(current) + " " + self._bar30(current) + " - ETA: 0s" + self._metrics(e.values, keys, v1_value)
        line = self._counter(self.target) + " " + self._bar30(self.target) + " - %ds" % e.elapsed
        if self.era != "keras1":
            line += " " + fmt_time(e.per_unit) + "/" + self.unit
        return line + self._metrics(e.values, keys, v1_value)

    def message(self, e: Epoch) -> str:
        monitor = "val_loss" if self.validation else "loss"
        number = e.number - 1 if self.era == "keras1" else e.number
        epoch = "Epoch %05d" % number if self.era in ("keras1", "keras2") or self.era.startswith("tfkeras") and number % 2 else "Epoch %d" % number
        if e.message == "improved":
            return f"{epoch}: {monitor} improved from inf to {e.values[monitor]:.5f}, saving model to w.h5"
        return f"{epoch}: {monitor} did not improve from 0.12345"

    # -- the whole stream -----------------------------------------------------
    def render(self, epochs: list[Epoch]) -> str:
        out: list[str] = []
        if self.train_on is not None:
            n, m = self.train_on
            out.append(f"Train on {n} samples, validate on {m} samples\n")
        for e in epochs:
            out.append(self.header(e.number))
            out.append(self._epoch_body(e))
        return "".join(out)

    def _epoch_body(self, e: Epoch) -> str:
        keys = self.keys()
        train_keys = [k for k in keys if not k.startswith("val_") and k != self.lr_key]
        final = self.final_line(e)
        msg = self.message(e) if e.message else None
        if self.verbose == 2:
            if msg is None:
                return final + "\n"
            if self.era == "keras2":
                return final + "\n\n" + msg + "\n"
            return (msg + "\n" if self.era == "keras1" else "\n" + msg + "\n") + final + "\n"
        text = ""
        prev = 0
        updates: list[str] = []
        if self.debris:
            currents = sorted(self.rng.sample(range(1, self.target), min(self.target - 1, self.rng.randrange(1, 6))))
            fake = {k: self.rng.uniform(0, 3) for k in train_keys}
            updates = [self.update_line(c, fake, train_keys) for c in currents]
            if self.era in ("tfkeras", "tfkeras27"):
                at_target = self._counter(self.target) + " " + self._bar30(self.target) + " - ETA: 0s"
                updates.append(at_target + self._metrics(e.values, train_keys, v1_value))
            if self.era == "keras3":
                info = " \x1b[1m0s\x1b[0m " + fmt_time(e.per_unit) + "/" + self.unit
                updates.append(self._k3_bar(self.target) + info + self._metrics(e.values, train_keys, v1_value))
        for line in updates:
            if self.dynamic:
                text += "\b" * prev + "\r" + line
            else:
                text += "\n" + line if self.era == "keras2" else line + "\n"
            prev = len(line)
        if self.era == "keras2" and not self.dynamic and updates:
            text += "\n"
        if msg is not None:
            if self.era == "keras1":
                text += msg + "\n"  # glued to the last update, no leading newline
            elif self.era != "keras2":
                text += "\n" + msg + "\n"
        if self.stale_tail:
            final += self._stale(final)
        text += ("\b" * prev + "\r" if self.dynamic and (updates or self.era == "keras3") else "") + final
        text += "" if self.short_final else "\n"  # "if current >= self.target: sys.stdout.write('\\n')"
        if msg is not None and self.era == "keras2":
            text += "\n" + msg + "\n"
        return text


    def _stale(self, final: str) -> str:
        """What a longer update drawn before the row left after it.

        Digits right after the last value can be told apart only when that
        value has Keras's four decimals and so do the others (Keras 3 on JAX,
        docs/keras-formats.md#11-observed-in-real-runs); otherwise the tail starts elsewhere.
        """
        import re

        width = len(_ANSI.sub("", final))
        values = re.findall(r": (\S+)", _ANSI.sub("", final))
        digits_ok = len(values) >= 2 and re.fullmatch(r"-?\d+\.\d{4}", values[-1]) is not None
        train_keys = [k for k in self.keys() if not k.startswith("val_") and k != self.lr_key]
        fake = {k: self.rng.uniform(0, 3) for k in train_keys}
        longer = _ANSI.sub("", self.update_line(self.rng.randrange(1, max(2, self.target)), fake, train_keys))
        while len(longer) < width + 20:  # an update of a model with more metrics
            longer += " - extra_%d: %.4f" % (len(longer), self.rng.uniform(0, 3))
        # The terminal overwrote the first ``width`` columns; from there on the
        # old text shows, and a copy may stop anywhere in it.
        starts = [
            i
            for i in range(width, width + 12)
            if (digits_ok or not longer[i].isdigit()) and not longer[i].isspace() and longer[i] not in ".eE"
        ]
        if not starts:
            return ""
        start = starts[0]
        return longer[start : self.rng.randrange(start + 1, len(longer) + 1)]


_ANSI = __import__("re").compile(r"\x1b\[[0-9;]*m")

#: Markers people and tools put where they cut lines (``{n}``: how many).
ELISIONS = (
    "....",
    "...",
    "…",
    "⋮",
    "<<{n} more lines>>",
    "[... {n} lines omitted ...]",
    "... ({n} lines skipped) ...",
    "Output is truncated. View as a scrollable element or open in a text editor. Adjust cell output settings...",
)


def expected_value(text: str) -> float:
    return float(text)


def is_printed_nan(text: str) -> bool:
    return text.lower() == "nan"


def hard_wrap(text: str, width: int) -> str:
    """A terminal's copy of lines longer than ``width``: cut every ``width`` characters."""
    out = []
    for line in text.split("\n"):
        out.extend(line[i : i + width] for i in range(0, max(len(line), 1), width))
    return "\n".join(out)


def word_wrap(text: str, width: int) -> str:
    """A forum's or an e-mail's wrap: lines broken at spaces, long words kept whole."""
    import textwrap

    out = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [""])
    return "\n".join(out)


def paste(text: str, damage: str) -> str:
    """What a person's paste does to a log (``raw`` keeps the bytes).

    ``hard-wrap:W`` and ``word-wrap:W`` wrap the screen at ``W`` columns.
    """
    if damage == "raw":
        return text
    screen = []
    for line in text.split("\n"):
        pieces = [p for p in line.split("\r") if p.replace("\b", "").strip()]
        screen.append(pieces[-1].replace("\b", "") if pieces else "")
    text = "\n".join(screen)
    if damage == "screen":
        return text
    if damage == "plain":
        import re

        return re.sub(r"\x1b\[[0-9;]*m", "", text)
    if damage == "lost-esc":
        return text.replace("\x1b", "")
    if damage == "quote":
        return "\n".join("> " + line for line in text.split("\n"))
    if damage == "indent":
        return "\n".join("    " + line for line in text.split("\n"))
    if damage == "crlf":
        return text.replace("\n", "\r\n")
    if damage == "typography":  # a blog or word processor: en dashes, curly quotes
        return text.replace(" - ", " \u2013 ").replace("'", "\u2019")
    if damage == "timestamps":  # docker logs -t, GitHub Actions, cloud log viewers
        return "\n".join(f"2024-03-0{1 + i % 9}T12:{i % 60:02d}:07.{i:07d}Z {line}" for i, line in enumerate(text.split("\n")))
    if damage == "mpi":  # horovodrun / mpirun tag every line with the rank
        return "\n".join("[1,0]<stdout>:" + line for line in text.split("\n"))
    if damage == "kaggle":  # a Kaggle notebook's log: seconds, line number, text (tab-separated)
        return "\n".join(f"{12.5 + i:.1f}s\t{i + 1}\t{line}" for i, line in enumerate(text.split("\n")))
    if damage == "lost-cr":  # a capture that dropped \r and \b: updates glued in front of the row
        return text.replace("\r", "").replace("\b", "")
    if damage == "no-open-bracket":  # the bar lost its "["
        import re

        return re.sub(r"\[(?=[=>.]+\])", "", text)
    if damage == "bracket-time":  # a poster put the time where the bar was: "[6s 3ms/step]"
        import re

        return re.sub(r"\[=+\] - (\d+s(?: \d+(?:us|ms|s)/(?:step|sample))?)(?= - )", r"[\1]", text)
    if damage == "glued-download":  # a download bar that stopped short, the first header glued to it
        bar = "Downloading data from https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz\n"
        bar += "11427840/11490434 [============================>.] - ETA: 0s"
        return bar + text if text.startswith("Epoch") else text
    if damage == "notebook-glued":  # a notebook copy that lost the break after "Epoch k/N"
        import re

        # Only before a counter: "Epoch 1/1" + "3155s - loss" cannot be told
        # apart from "Epoch 1/13" + "155s - loss" by anyone.
        return re.sub(r"(Epoch \d+/\d+)\n(?=\d+/\d+)", r"\1", text)
    kind, _, width = damage.partition(":")
    if kind in ("hard-wrap", "word-wrap"):
        import re

        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # a copy from the terminal has no colour codes
        return (hard_wrap if kind == "hard-wrap" else word_wrap)(text, int(width or 80))
    raise ValueError(damage)


DAMAGES = (
    "raw",
    "screen",
    "plain",
    "lost-esc",
    "quote",
    "indent",
    "crlf",
    "hard-wrap",
    "word-wrap",
    "typography",
    "timestamps",
    "mpi",
    "kaggle",
    "notebook-glued",
    "lost-cr",
    "no-open-bracket",
    "bracket-time",
    "glued-download",
)


def value_strategy_pick(rng: random.Random) -> float:
    """A value as a training log may show: typical, tiny, huge, zero, negative, nan, inf."""
    kind = rng.random()
    if kind < 0.5:
        return rng.uniform(0, 2)
    if kind < 0.6:
        return rng.uniform(1e-9, 1e-3) * rng.choice([1, -1])
    if kind < 0.7:
        return rng.uniform(1e3, 1e12)
    if kind < 0.75:
        return 0.0
    if kind < 0.85:
        return -rng.uniform(0, 5)
    if kind < 0.92:
        return math.nan
    return rng.choice([math.inf, -math.inf])
