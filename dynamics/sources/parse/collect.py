"""Cut the token stream into runs, and runs into slots.

A *run* ends where a new one visibly starts: a header at or below the last
one (a restart at ``Epoch 1/N``, a resumed run at ``Epoch 6/40`` after
``Epoch 14/40``; an ``Epoch k/k`` loop keeps climbing, so it stays one run),
or a second ``Train on ...`` line. A *slot* is the stretch after one ``Epoch
k/N`` header up to the next, or a headerless stretch (the paste starts
mid-run, ``fit(epochs=1)`` in tf.keras/Keras 3, rows after a ``....``).

Two signs are weighed only once what follows is known, so the slot they
open stays *pending* until then:

* TF 1.15/2.1 print a spurious ``Epoch 1/N`` when validation starts, right
  after the real ``Epoch k/N`` (tensorflow/tensorflow#35815, #34619): it is
  no restart when the next header is ``Epoch k+1/N`` or the epoch's
  ``val_*`` row follows it, and a restart when ``Epoch 2/N`` follows;
* complete rows under a new counter total (``1670/1670`` rows, then
  ``418830/418830`` rows, no header) are a second run when there are two
  different ones or they carry ``val_*``; one line (``evaluate()``, which
  Keras 3 prints twice) stays with the run as before.

Progress updates are only counted, never stored, so a capture with a million
updates costs no memory here. :mod:`dynamics.sources.parse.place` then decides which
line of each slot is the epoch's row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dynamics.sources.parse.lexer import Elision, Header, Row, Token
from dynamics.sources.parse.messages import Message, TrainOn


@dataclass
class Slot:
    """Everything between one header (or none) and the next."""

    header: int | None = None
    total: int | None = None
    after_ellipsis: bool = False
    items: list[Row | Message] = field(default_factory=list)
    progress: int = 0
    last_counter: tuple[int | None, int | None] | None = None
    eta_at_target: bool = False
    pending: str | None = None  # "repeat" (a spurious Epoch 1/N) or "total" (a new counter total), until settled

    @property
    def rows(self) -> list[Row]:
        return [item for item in self.items if isinstance(item, Row)]

    @property
    def empty(self) -> bool:
        return not self.items and not self.progress


@dataclass
class RawRun:
    """One run as read: its slots and what was printed before them."""

    slots: list[Slot] = field(default_factory=list)
    train_on: TrainOn | None = None
    ellipses: int = 0
    keras0_headers: bool = False

    @property
    def started(self) -> bool:
        return any(not s.empty or s.header is not None for s in self.slots)

    @property
    def last_header(self) -> int | None:
        for slot in reversed(self.slots):
            if slot.header is not None:
                return slot.header
        return None


class Collector:
    """Feed tokens in order with :meth:`add`; read :attr:`runs` at the end."""

    def __init__(self) -> None:
        self.runs: list[RawRun] = [RawRun()]
        self.current: Slot | None = None
        self.pending_ellipsis = False
        self.headers = 0
        self.tentative: Slot | None = None  # a pending slot (always the current one)

    @property
    def run(self) -> RawRun:
        return self.runs[-1]

    def _new_run(self) -> None:
        self.runs.append(RawRun())
        self.current = None
        self.pending_ellipsis = False

    def _slot(self) -> Slot:
        if self.current is None:
            self.current = Slot(after_ellipsis=self.pending_ellipsis)
            self.pending_ellipsis = False
            self.run.slots.append(self.current)
        return self.current

    def progress(self, current: int | None, target: int | None, eta_at_target: bool, count: int = 1) -> None:
        """``count`` progress updates, the last at ``current/target`` (counted, never stored)."""
        slot = self._slot()
        slot.progress += count
        slot.last_counter = (current, target)
        slot.eta_at_target = slot.eta_at_target or eta_at_target

    def add_all(self, found: list[Token]) -> None:
        for i, token in enumerate(found):
            if (
                isinstance(token, Row)
                and token.metrics
                and not token.complete
                and i + 1 < len(found)
                and isinstance(found[i + 1], Header)
                and found[i + 1].glued  # type: ignore[union-attr]
                and self._next_epoch(found[i + 1])  # type: ignore[arg-type]
            ):
                # Keras <= 2.0.8: an epoch whose counter stopped short of its
                # target ends with an ETA line and no line break.
                token.ended = True
            self.add(token)

    def finish(self) -> None:
        """Settle what is still pending at the end of the log."""
        if self.tentative is not None:
            self._settle(None)

    def _next_epoch(self, header: Header) -> bool:
        last = self.run.last_header
        return last is not None and header.epoch == last + 1

    def add(self, token: Token) -> None:
        if isinstance(token, Row):
            if token.complete:
                if token.metrics:
                    self._row(token)
            else:
                self.progress(token.current, token.target, token.current == token.target and token.eta)
        elif isinstance(token, Header):
            if self.tentative is not None:
                self._settle(token)
            self._header(token)
        elif isinstance(token, Message):
            self._slot().items.append(token)
        elif isinstance(token, TrainOn):
            if self.tentative is not None:
                self._settle(None)
            if self.run.started or self.run.train_on is not None:
                self._new_run()
            self.run.train_on = token
        elif isinstance(token, Elision):
            if self.tentative is not None:
                self._settle(None)
            self.current = None
            self.pending_ellipsis = True
            self.run.ellipses += 1

    def _row(self, row: Row) -> None:
        slot = self._slot()
        if slot.pending == "repeat" and any(r.target != row.target for r in slot.rows if r.target is not None):
            self._settle(None)  # a new counter total after the epoch's row: decide the repeat first
            slot = self._slot()
        if slot.pending == "total" and row.target != slot.rows[-1].target:
            self._settle(None)  # another total again: the stretch under the new one has ended
            slot = self._slot()
        if slot.pending is None and row.target is not None:
            targets = [r.target for r in slot.rows if r.target is not None]
            if targets and targets[0] != row.target:
                # Rows under a new counter total: a second run or evaluate() output.
                slot = Slot(pending="total")
                self.run.slots.append(slot)
                self.current = self.tentative = slot
        slot.items.append(row)

    def _settle(self, header: Header | None) -> None:
        """Decide the pending slot now that ``header`` (None: no header) follows it."""
        slot, self.tentative = self.tentative, None
        assert slot is not None and self.run.slots[-1] is slot
        previous = self.run.slots[-2]
        rows = slot.rows
        if slot.pending == "repeat":
            k = previous.header or 0
            if header is not None and header.epoch == 2 and header.total == slot.total and k >= 2:
                merge = False  # "Epoch 2/N" next: it was a restart
            elif header is not None and header.epoch == k + 1:
                merge = True
            else:
                # The epoch's val_* row came after it, or nothing complete did
                # (the log ends in that epoch); rows without val_* alone are
                # a run that does not validate starting again.
                merge = any(r.has_val for r in rows) or not rows
        else:
            distinct = {tuple(r.metrics) for r in rows}
            merge = len(distinct) < 2 and not any(r.has_val for r in rows)
        self.run.slots.pop()
        if merge:
            if slot.pending == "total":
                for row in rows:
                    row.aside = True
            previous.items.extend(slot.items)
            previous.progress += slot.progress
            previous.last_counter = slot.last_counter or previous.last_counter
            previous.eta_at_target = previous.eta_at_target or slot.eta_at_target
            self.current = previous
        else:
            if slot.pending == "repeat":
                slot.header = 1  # a restart after all
            slot.pending = None
            self._new_run()
            self.run.slots.append(slot)
            self.current = slot

    def _header(self, header: Header) -> None:
        last = self.run.last_header
        if header.glued and (header.epoch != last + 1 if last is not None else not header.after_row):
            return  # a nested fit's header glued to an update (before any header: only after a row)
        self.headers += 1
        if last is not None and header.epoch <= last:
            slot = self.current
            if header.epoch == last and slot is not None and slot.header == last and slot.empty:
                return  # the same header printed twice
            if (
                header.epoch == 1
                and not header.glued
                and slot is not None
                and slot.header == last
                and slot.total == header.total
                and not any(r.has_val for r in slot.rows)
            ):
                # TF 1.15/2.1's repeat of "Epoch 1/N" when validation starts; settled by what follows.
                self.current = self.tentative = Slot(total=header.total, pending="repeat")
                self.run.slots.append(self.current)
                return
            self._new_run()
        if header.total is None:
            self.run.keras0_headers = True
        previous = self.current
        if previous is not None and previous.header is None and not previous.rows and not previous.progress:
            # Messages printed before the first header (on_epoch_begin) stay with it.
            previous.header, previous.total = header.epoch, header.total
            return
        self.current = Slot(header.epoch, header.total, after_ellipsis=self.pending_ellipsis)
        self.pending_ellipsis = False
        self.run.slots.append(self.current)


