"""Decide which line of each slot is an epoch's row, and which epoch it is.

The rules, each from docs/keras-formats.md#7-callback-messages-and-where-they-land
and docs/keras-formats.md#10-checklist-for-the-parser:

* a slot's row is its first complete line -- the first with ``val_*`` when
  the run validates, because Keras 3 (and tf.keras in notebooks) leaves an
  at-target update without ``val_*`` before the callback messages;
* further complete lines in a slot are ``evaluate()`` output, unless they
  carry ``val_*`` as the row does (evaluate never prints ``val_*``): then the
  poster cut their header and they are the next epochs, marked inferred;
* headerless rows are numbered back from the next header, else from the
  callback messages around them, and marked inferred; headerless rows with
  neither are separate ``fit(epochs=1)`` runs in tf.keras/Keras 3 (which
  print no header for ``epochs=1``) and are numbered from 1 in older Keras;
* a header with no row at the end of a run is the interrupted epoch;
* one line under another counter total without ``val_*`` (set aside by the
  collector) is ``evaluate()`` output in a headerless stretch too;
* a message numbered one below its slot's header is Keras <= 2.0.8's 0-based
  numbering (``Epoch 21/50`` ... ``Epoch 00020: val_acc did not improve``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from dynamics.run import Event
from dynamics.sources.parse.collect import RawRun, Slot
from dynamics.sources.parse.lexer import Row
from dynamics.sources.parse.messages import Message

#: Message kinds printed at the end of an epoch (they vote on 0- vs 1-based numbers).
END_KINDS = ("checkpoint_saved", "checkpoint_not_improved", "lr_reduced", "early_stopping")


@dataclass
class Unit:
    """A row placed at an epoch (``epoch`` None until it is known)."""

    row: Row
    epoch: int | None = None
    inferred: bool = False
    timing_row: Row | None = None  # a later redraw with the same values and the final time
    slot: int = 0


@dataclass
class Placed:
    """One run's rows at their epochs, with its events and what was noticed."""

    raw: RawRun
    units: list[Unit] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: int | None = None
    zero_based: bool = False


def run_validates(run: RawRun) -> bool:
    return any(row.has_val for slot in run.slots for row in slot.rows)


def run_style(run: RawRun) -> str:
    """The era the rows' layout points to (``keras3`` > ``tfkeras`` > ``keras2`` > ``keras1``)."""
    styles = Counter(row.style for slot in run.slots for row in slot.rows)
    if run.keras0_headers:
        return "keras0"
    tf_signs = any(s.eta_at_target for s in run.slots) or any(
        isinstance(i, Message) and i.raw_epoch is not None and not i.padded and i.kind != "restored_best_weights"
        for s in run.slots
        for i in s.items
    )
    for era in ("keras3", "tfkeras"):
        if styles[era]:
            return era
    if tf_signs and styles:
        return "tfkeras"
    if styles["keras2"]:
        return "keras2"
    return "keras1" if styles else "unknown"


def _zero_based(run: RawRun, style: str) -> bool:
    """Keras <= 2.0.8 printed ``Epoch %05d`` with the 0-based hook argument.

    Decided from where the messages stand: in a slot headed ``Epoch k/N`` an
    end-of-epoch message numbered ``k - 1`` is 0-based, one numbered ``k`` is
    not. Without headers, the era decides (no time per step: <= 2.0.8).
    """
    offsets: Counter[int] = Counter()
    for slot in run.slots:
        if slot.header is None:
            continue
        for item in slot.items:
            if isinstance(item, Message) and item.kind in END_KINDS and item.padded and item.raw_epoch is not None:
                offsets[item.raw_epoch - slot.header] += 1
    if offsets[-1] or offsets[0]:
        return offsets[-1] > offsets[0]
    return style in ("keras0", "keras1")


#: Messages Keras 3 prints between the at-target update and the epoch's row.
_BEFORE_ROW_KINDS = ("checkpoint_saved", "checkpoint_not_improved", "lr_reduced", "lr_set")


def _redraw(prev: Row, row: Row, message_between: bool) -> bool:
    """True if ``row`` is Keras 3 drawing ``prev``'s epoch again, completed.

    At the last batch the bar is at its target without ``val_*`` (and without
    callback keys such as ``learning_rate``); the epoch's row follows after the
    callbacks' messages with those keys added -- and, before Keras 3.15, with
    the training values averaged once more, so they may differ in the last
    digit when a message stands between the two.
    """
    if prev.bar != "keras3" or row.bar != "keras3" or prev.target != row.target:
        return False
    before, after = {n for n, _ in prev.metrics}, {n for n, _ in row.metrics}
    # With the same keys, only a message explains why the at-target update
    # stayed on screen instead of being overwritten by the row.
    return before < after or (before == after and message_between)


def fold(items: list[Row | Message]) -> list[Row | Message]:
    """A slot's items with Keras 3 redraws folded into their last (complete) drawing."""
    out: list[Row | Message] = []
    last_row: int | None = None
    last_is_update = True  # the last row kept may still be an at-target update
    message_between = False
    for item in items:
        if isinstance(item, Message):
            out.append(item)
            message_between = message_between or item.kind in _BEFORE_ROW_KINDS
            continue
        merge = last_row is not None and last_is_update and _redraw(out[last_row], item, message_between)  # type: ignore[arg-type]
        if merge:
            del out[last_row]  # type: ignore[arg-type]
        out.append(item)
        last_row, last_is_update = len(out) - 1, not merge
        message_between = False
    return out


def _headed_units(slot: Slot, items: list[Row | Message], validates: bool, is_last: bool, notes: list[str]) -> list[Unit]:
    """The row of a headed slot, plus rows whose header the poster cut."""
    rows = [item for item in items if isinstance(item, Row)]
    if not rows:
        return []
    chosen: Row | None = None
    if validates:
        with_val = [r for r in rows if r.has_val]
        if with_val:
            chosen = with_val[0]
        else:
            first = rows[0]
            following = items[items.index(first) + 1 :]
            # Keras 3 leaves an at-target update without val_* before the
            # callback messages; it is the epoch's row only when nothing
            # follows it but the next header (validation_freq > 1).
            if first.bar != "keras3" or (not following and not is_last):
                chosen = first
    else:
        chosen = rows[0]
    if chosen is None:
        return []
    unit = Unit(chosen, slot.header)
    units = [unit]
    skipped = 0
    for row in rows[rows.index(chosen) + 1 :]:
        if row.metrics == chosen.metrics:
            unit.timing_row = row  # the same values drawn again, with the final time
        elif row.has_val and chosen.has_val:
            units.append(Unit(row, inferred=True))
        else:
            skipped += 1
    if skipped:
        notes.append(
            f"{skipped} complete-looking line(s) after the row of epoch {slot.header} not counted: "
            "no header of their own and no val_* values (evaluate() output)"
        )
    for i, extra in enumerate(units[1:], start=1):
        extra.epoch = slot.header + i if slot.header is not None else None
    return units


def _message_gaps(items: list[Row | Message]) -> list[tuple[int, Message]]:
    """Each message of a slot with the number of rows printed before it."""
    out, seen = [], 0
    for item in items:
        if isinstance(item, Row):
            seen += 1
        else:
            out.append((seen, item))
    return out


def _align_by_messages(
    units: list[Unit], items: list[Row | Message], epoch_of: Callable[[Message], int | None], style: str
) -> int | None:
    """First epoch of headerless ``units`` implied by the messages among them.

    A checkpoint or learning-rate message printed before a row (Keras <= 2.1,
    tf.keras, Keras 3) or after it (Keras 2.2-2.3) names that row's epoch;
    the layout under which most messages agree wins.
    """
    best: tuple[int, int] | None = None
    m = len(units)
    # Only standalone Keras 2.2-2.3 printed the row first (docs/keras-formats.md#71-order-of-callbacks-which-decides-the-layout).
    for layout in ("before", "after") if style == "keras2" else ("before",):
        votes: Counter[int] = Counter()
        for gap, msg in _message_gaps(items):
            epoch = epoch_of(msg)
            if epoch is None or msg.kind not in END_KINDS + ("lr_set",):
                continue
            after = (layout == "after" or msg.kind == "early_stopping") and msg.kind != "lr_set"
            index = gap - 1 if after else gap
            if 0 <= index < m:
                votes[epoch - index] += 1
        # Every message must agree: "Epoch 1:" before each of three rows is
        # three fit(epochs=1) runs, not epochs 1, 2, 3.
        if len(votes) == 1:
            start, n = next(iter(votes.items()))
            if start >= 1 and (best is None or n > best[1]):
                best = (start, n)
    return best[0] if best else None


def place(run: RawRun) -> list[Placed]:
    """Place the rows of one raw run; headerless ``epochs=1`` fits come back as runs of their own."""
    style = run_style(run)
    validates = run_validates(run)
    zero_based = _zero_based(run, style)

    def epoch_of(msg: Message) -> int | None:
        if msg.raw_epoch is None:
            return None
        shift = zero_based and msg.padded and msg.kind != "restored_best_weights"
        return msg.raw_epoch + 1 if shift else msg.raw_epoch

    placed = Placed(run, zero_based=zero_based)
    singles: list[Unit] = []  # headerless rows that are fits of their own
    has_headers = any(s.header is not None for s in run.slots)
    slot_units: list[list[Unit]] = []
    folded = [fold(slot.items) for slot in run.slots]
    for i, slot in enumerate(run.slots):
        is_last = i == len(run.slots) - 1
        if slot.header is not None:
            units = _headed_units(slot, folded[i], validates, is_last, placed.notes)
        else:
            units = [Unit(item) for item in folded[i] if isinstance(item, Row) and not item.aside]
            aside = sum(1 for item in folded[i] if isinstance(item, Row) and item.aside)
            if aside:
                placed.notes.append(
                    f"{aside} complete-looking line(s) under another counter total not counted: "
                    "no header of their own and no val_* values (evaluate() output)"
                )
            _number_headerless(units, run, folded[i], i, epoch_of, style, has_headers, singles, placed.notes)
        for unit in units:
            unit.slot = i
        slot_units.append(units)

    last_epoch = 0
    for units in slot_units:
        for unit in units:
            if unit.epoch is None:
                continue
            if unit.epoch <= last_epoch:
                placed.notes.append(
                    f"a row placed at epoch {unit.epoch} after epoch {last_epoch} was left out: "
                    "its number clashes with the headers"
                )
                continue
            last_epoch = unit.epoch
            placed.units.append(unit)

    last = run.slots[-1] if run.slots else None
    if last is not None and last.header is not None and not slot_units[-1]:
        placed.interrupted = last.header
    separate = {id(unit.row): Placed(run, [unit], zero_based=zero_based) for unit in singles}
    placed.events = _events(run, folded, slot_units, epoch_of, placed, separate)
    out = [placed] if placed.units or placed.interrupted or not singles else []
    for single in separate.values():
        single.notes.append("no epoch header: a fit(epochs=1) run (tf.keras and Keras 3 print none for epochs=1)")
        out.append(single)
    if not out[:1] or out[0] is not placed:
        if out:  # what was noticed about lines around the fit(epochs=1) rows is kept with the last of them
            out[-1].notes.extend(placed.notes)
    return out


def _number_headerless(
    units: list[Unit],
    run: RawRun,
    items: list[Row | Message],
    i: int,
    epoch_of: Callable[[Message], int | None],
    style: str,
    has_headers: bool,
    singles: list[Unit],
    notes: list[str],
) -> None:
    """Give headerless rows their epochs (in place), or set them aside."""
    if not units:
        return
    slot = run.slots[i]
    m = len(units)
    nxt = run.slots[i + 1] if i + 1 < len(run.slots) else None
    if nxt is not None and nxt.header is not None and not nxt.after_ellipsis:
        k = nxt.header
        n_fit = max(0, min(m, k - 1))
        unanchored = units[: m - n_fit]  # more rows than epochs before k: earlier fits
        units[:] = units[m - n_fit :]
        for j, unit in enumerate(units):
            unit.epoch, unit.inferred = k - n_fit + j, True
    else:
        start = _align_by_messages(units, items, epoch_of, style)
        if start is not None:
            for j, unit in enumerate(units):
                unit.epoch, unit.inferred = start + j, True
            return
        unanchored = list(units)
        units[:] = []
        if not has_headers and style in ("keras0", "keras1") and i == 0:
            # Keras <= 2.0.8 printed a header even for epochs=1: the poster cut them.
            for j, unit in enumerate(unanchored):
                unit.epoch, unit.inferred = j + 1, True
            units[:] = unanchored
            notes.append("no epoch headers in the log: rows numbered from 1")
            return
    if not unanchored:
        return
    before_header = nxt is not None and nxt.header is not None and not nxt.after_ellipsis
    if style in ("keras2", "tfkeras", "keras3") and (before_header or not has_headers):
        # tf.keras and Keras 3 print no header for fit(epochs=1); a row with a
        # time per step cannot be told from tf.keras, so it counts as one too.
        for unit in unanchored:
            unit.epoch, unit.inferred = 1, True
        singles.extend(unanchored)
    else:
        where = "after an elision mark ('....', '<<N more lines>>')" if slot.after_ellipsis else "before the first header"
        notes.append(f"{len(unanchored)} row(s) {where} left out: nothing tells their epoch numbers")


def _events(
    run: RawRun,
    folded: list[list[Row | Message]],
    slot_units: list[list[Unit]],
    epoch_of: Callable[[Message], int | None],
    placed: Placed,
    separate: dict[int, Placed],
) -> list[Event]:
    """The run's events; those around a separate ``fit(epochs=1)`` row go to that run."""
    events: list[Event] = []
    for slot, items, units in zip(run.slots, folded, slot_units):
        rows = [item for item in items if isinstance(item, Row)]
        for gap, msg in _message_gaps(items):
            if msg.kind == "terminated_on_nan":
                epoch = slot.header
                if epoch is None and units:
                    epoch = units[min(gap, len(units) - 1)].epoch
            else:
                epoch = epoch_of(msg)
            event = Event(epoch, msg.kind, msg.text, msg.monitor, msg.value)
            # Messages print before their row (tf.keras, Keras 3), or after the last one.
            owner = rows[min(gap, len(rows) - 1)] if rows else None
            if owner is not None and id(owner) in separate:
                separate[id(owner)].events.append(Event(1, msg.kind, msg.text, msg.monitor, msg.value))
            else:
                events.append(event)
    if placed.interrupted is not None:
        slot = run.slots[-1]
        counter = ""
        n, last = slot.progress, slot.last_counter
        rows = slot.rows  # at-target lines that turned out not to be the row
        if rows:
            n += len(rows)
            last = (rows[-1].current, rows[-1].target)
        if last is not None and last[0] is not None:
            cur, tgt = last
            counter = f", the last at {cur}/{tgt if tgt is not None else 'Unknown'}"
            if rows:
                counter += " without the val_* values of the epoch's row"
        events.append(
            Event(
                placed.interrupted,
                "interrupted",
                f"the log ends inside epoch {placed.interrupted} ({n} progress update{'s' if n != 1 else ''}{counter})",
            )
        )
    return events
