"""Cut the token stream into runs, and runs into slots.

A *run* ends where a new one visibly starts: a header at or below the last
one (a restart at ``Epoch 1/N``, a resumed run at ``Epoch 6/40`` after
``Epoch 14/40``; an ``Epoch k/k`` loop keeps climbing, so it stays one run),
or a second ``Train on ...`` line. A *slot* is the stretch after one ``Epoch
k/N`` header up to the next, or a headerless stretch (the paste starts
mid-run, ``fit(epochs=1)`` in tf.keras/Keras 3, rows after a ``....``).

Progress updates are only counted, never stored, so a capture with a million
updates costs no memory here. :mod:`dynamics.parse.place` then decides which
line of each slot is the epoch's row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dynamics.parse.lexer import Elision, Header, Row, Token
from dynamics.parse.messages import Message, TrainOn


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
        for token in found:
            self.add(token)

    def add(self, token: Token) -> None:
        if isinstance(token, Row):
            if token.complete:
                if token.metrics:
                    self._slot().items.append(token)
            else:
                self.progress(token.current, token.target, token.current == token.target and token.eta)
        elif isinstance(token, Header):
            self._header(token)
        elif isinstance(token, Message):
            self._slot().items.append(token)
        elif isinstance(token, TrainOn):
            if self.run.started or self.run.train_on is not None:
                self._new_run()
            self.run.train_on = token
        elif isinstance(token, Elision):
            self.current = None
            self.pending_ellipsis = True
            self.run.ellipses += 1

    def _header(self, header: Header) -> None:
        last = self.run.last_header
        if header.glued and (last is None or header.epoch != last + 1):
            return
        self.headers += 1
        if last is not None and header.epoch <= last:
            slot = self.current
            if header.epoch == last and slot is not None and slot.header == last and slot.empty:
                return  # the same header printed twice
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


