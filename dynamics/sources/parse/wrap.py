"""Rejoin a row (or a callback message) that a terminal or a forum broke in two.

A row is longer than a terminal or a forum's column: a terminal that copies
what it shows cuts it at exactly the width, anywhere -- mid-name
(``... - val_a`` / ``ccuracy: 0.8723``), mid-number (``val_loss: 0.38`` /
``19 - val_accuracy: ...``), mid-time (``3ms/st`` / ``ep - loss: ...``); a
forum wraps it at a space (``... 0.3560 -`` / ``val_accuracy: 0.8723``, or
``... 0.3560`` / ``- val_accuracy: 0.8723``).

:func:`join_wrapped` says whether a line continues the row held before it,
and how the two join. It looks at how the held line *ends* -- a complete row
never ends with ``-``, ``name:``, a name, a number with fewer than Keras's
four decimals, or half a time -- and accepts only the continuation that this
ending calls for: the rest of the name, number or time word, then nothing but
``- name: value`` pairs and times. A line that is anything else (a header,
prose, another row) never matches. When the held line looks complete, only a
line starting ``- name: value`` continues it, and the parser then checks that
no name repeats (a row never prints a key twice).
"""

from __future__ import annotations

import re

from dynamics.sources.parse.lexer import NUMBER

_NAME = r"(?:val\. )?[A-Za-z_][\w.\-/]*"
_TIME = r"\d+(?:\.\d+)?(?:s|ms|us|µs|μs)(?:/(?:step|sample|epoch))?"
_PER_TIME = r"\d+(?:\.\d+)?(?:s|ms|us|µs|μs)/(?:step|sample|epoch)"
_PAIR = rf"{_NAME}\s*:\s*{NUMBER}"
_ITEM = rf"(?:{_PAIR}|{_TIME}(?:\s+{_TIME})?)"
#: What may end a continuation that was cut again: half an item.
_PARTIAL = rf"(?:{_NAME}(?:\s*:(?:\s*[-+]?[\w.+\-]*)?)?|\d[\w./µμ]*)"
_REST = rf"(?:\s+-\s+{_ITEM})*(?:\s+-(?:\s+{_PARTIAL})?)?\s*"

#: How Keras prints a value: ``%.4f``, ``%.4e``, ``nan``, ``inf``.
_COMPLETE_NUMBER = re.compile(r"[-+]?\d+\.\d{4}(?:[eE][-+]\d{2,3})?|[-+]?(?:nan|inf)", re.IGNORECASE)
_TIME_WORD = re.compile(_TIME)
#: ``1.2345e-22`` may be ``1.2345e-225`` cut short (``%.4e`` prints three exponent digits below 1e-99).
_SHORT_EXPONENT = re.compile(r"[eE][-+]\d\d$")

# How the held line ends (searched at its end).
_ENDS_SEP = re.compile(r"(?:^|\s)-$")
_ENDS_NAME = re.compile(rf"(?:^|\s)-\s+{_NAME}$")
_ENDS_VALUE = re.compile(
    rf"(?:^|\s)-\s+{_NAME}\s*:\s*(?P<v>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d*)?|\.\d*|[Nn](?:a[Nn]?)?|[Ii](?:nf?)?)?)$"
)
_ENDS_TIME = re.compile(r"(?:^|\s)(?P<t>\d[\w./µμ]*)$")
_ENDS_BAR = re.compile(r"^\d+/\d+\s*(?:\[[=>.]*\]?|[^\x00-\x7f\s]+|=+)$")

# What the next line must then be.
_AFTER_SEP = re.compile(rf"{_ITEM}{_REST}")
_AFTER_COLON = re.compile(rf"{NUMBER}{_REST}")
_AFTER_NAME = re.compile(rf"[\w.\-/]*\s*:\s*{NUMBER}{_REST}")
_AFTER_VALUE = re.compile(rf"(?P<tail>[\w.+\-]+?)(?P<rest>{_REST})")
_AFTER_TIME = re.compile(rf"(?P<tail>[\w./µμ]+)(?P<rest>(?:\s+{_TIME})?{_REST})")
_AFTER_ITEM = re.compile(rf"-\s+(?:{_PAIR}|{_PER_TIME}){_REST}")
_AFTER_BAR = re.compile(rf"(?:[=>.]*\]|[^\x00-\x7f\s]+|=+)?\s*(?:-\s+)?{_TIME}(?:\s+{_TIME})?{_REST}")
_AFTER_PER_TIME = re.compile(rf"{_PER_TIME}{_REST}")

_MESSAGE_START = re.compile(r"Epoch\s+\d{1,9}:\s")
_EPOCH_START = re.compile(r"(?:Epoch(?:\s+\d{1,9}:?)?|Epoc|Epo|Ep|E)$")
_COUNTER = re.compile(r"\d+/(?:\d+|Unknown)\b")


def ends_cut(line: str) -> bool:
    """True if ``line`` cannot be the end of a row: it stops mid-name, -value or -time.

    >>> ends_cut("10/10 [====] - 1s - loss: 0.3357 - val_a"), ends_cut("10/10 [====] - 1s - loss: 0.3357")
    (True, False)
    """
    m = _ENDS_VALUE.search(line)
    if m is not None:
        return not _COMPLETE_NUMBER.fullmatch(m.group("v"))
    if _ENDS_NAME.search(line) or _ENDS_SEP.search(line) or _ENDS_BAR.match(line):
        return True
    # A row whose last word is a time, whole or not, has not reached its metrics.
    return _ENDS_TIME.search(line) is not None


def value_cut(line: str) -> bool:
    """True if ``line`` ends inside a value (``val_loss: 0.38``): a row cut short, not a wrap.

    >>> value_cut("10/10 [====] - 1s - loss: 0.33"), value_cut("10/10 [====] - 1s - loss: 0.3300")
    (True, False)
    """
    m = _ENDS_VALUE.search(line)
    return m is not None and bool(m.group("v")) and not _COMPLETE_NUMBER.fullmatch(m.group("v"))


def join_wrapped(held: str, line: str) -> str | None:
    """``held`` and ``line`` joined as one row, if ``line`` continues ``held``; else None.

    Both are cleaned lines (stripped). The caller still checks that the
    joined text reads as a row whose names do not repeat.

    >>> join_wrapped("1/1 [===] - 5s - loss: 0.3357 - val_a", "ccuracy: 0.8723")
    '1/1 [===] - 5s - loss: 0.3357 - val_accuracy: 0.8723'
    >>> join_wrapped("1/1 [===] - 5s - loss: 0.33", "57 - val_loss: 0.3560")
    '1/1 [===] - 5s - loss: 0.3357 - val_loss: 0.3560'
    >>> join_wrapped("1/1 [===] - 5s - loss: 0.3357", "- val_loss: 0.3560")
    '1/1 [===] - 5s - loss: 0.3357 - val_loss: 0.3560'
    >>> join_wrapped("1/1 [===] - 5s - loss: 0.3357", "Epoch 2/2") is None
    True
    """
    if not line or not held:
        return None
    m = _ENDS_VALUE.search(held)
    if m is not None:
        head = m.group("v")
        if not head:  # "val_loss:" + "0.3560 - ..."
            return held + " " + line if _AFTER_COLON.fullmatch(line) else None
        if not _COMPLETE_NUMBER.fullmatch(head) or line[0] in "eE" or _SHORT_EXPONENT.search(head):
            # "0.38" + "19 - ...", "1.2e-" + "05", "-" + "0.0878", "0.3560" + "e-05"
            after = _AFTER_VALUE.fullmatch(line)
            if after is not None and _COMPLETE_NUMBER.fullmatch(head + after.group("tail")):
                return held + line
            if not _COMPLETE_NUMBER.fullmatch(head):
                return None
        # the value is whole: only "- name: value ..." goes on
        return held + " " + line if _AFTER_ITEM.fullmatch(line) else None
    if _ENDS_NAME.search(held):  # "- val_a" + "ccuracy: 0.8723"
        return held + line if _AFTER_NAME.fullmatch(line) else None
    if _ENDS_SEP.search(held):  # "0.3560 -" + "val_accuracy: 0.8723"
        return held + " " + line if _AFTER_SEP.fullmatch(line) else None
    m = _ENDS_TIME.search(held)
    if m is not None:
        head = m.group("t")
        if not _TIME_WORD.fullmatch(head) or line[0] == "/":  # "3ms/st" + "ep - loss: ..."
            after = _AFTER_TIME.fullmatch(line)
            if after is not None and _TIME_WORD.fullmatch(head + after.group("tail")):
                return held + line
            return None
        # "- 5s" + "3ms/step - loss: ..." (cut at the space between the two times)
        if _AFTER_ITEM.fullmatch(line) or _AFTER_PER_TIME.fullmatch(line):
            return held + " " + line
        return None
    if _ENDS_BAR.match(held):  # "100/100 [=====]" + "- 5s 3ms/step - loss: ...", or cut in the bar
        if not _AFTER_BAR.fullmatch(line):
            return None
        inside = line[0] in "=>.]" or not line[0].isascii() and not line[0].isspace()
        return held + ("" if inside else " ") + line
    return None


def may_continue_message(line: str) -> bool:
    """True if ``line`` holds a callback message's start (``Epoch 7: ...``)."""
    return "Epoch" in line and _MESSAGE_START.search(line) is not None


def message_cut_in_epoch(previous: str, line: str) -> str | None:
    """``line`` with the start of its ``Epoch NN:`` that a wrap left on ``previous``.

    Keras <= 2.0.8 glued callback messages to the last progress update; a
    wrap inside that ``Epoch 00003:`` leaves ``...acc: 0.6111Ep`` and
    ``och 00003: ...``.

    >>> message_cut_in_epoch("12/20 [==>..] - ETA: 3s - acc: 0.6111Ep", "och 00003: val_acc did not improve")
    'Epoch 00003: val_acc did not improve'
    >>> message_cut_in_epoch("12/20 [==>..] - ETA: 3s - acc: 0.6111Epoch 0", "0003: val_acc did not improve")
    'Epoch 00003: val_acc did not improve'
    """
    m = _EPOCH_START.search(previous.rstrip())
    if m is None:
        return None
    for text in (m.group(0) + line, m.group(0) + " " + line):
        if _MESSAGE_START.match(text):
            return text
    return None


def join_message(held: str, line: str) -> list[str]:
    """The ways ``held`` (a message cut short) and ``line`` could join: mid-word, then at a space."""
    if not line or line.startswith("Epoch") or _COUNTER.match(line):
        return []
    return [held + line, held + " " + line]
