"""Undo paste damage on one visible line.

What people do to a log between their terminal and an issue tracker: quote
it (``> ``), indent it (notebook exports, Markdown code blocks), bold a value
(``**val_acc: 0.8663**``), wrap it in backticks, keep the terminal's ANSI
colour codes (or only their visible half, ``[1m``), turn spaces into
non-breaking spaces. :func:`clean_line` removes all of that and nothing else.
"""

from __future__ import annotations

import re

_ANSI = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, links
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\[(?:\d{1,3}(?:;\d{1,3})*)?m"  # a colour code whose ESC was lost in the paste
)
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_ODD_SPACE = str.maketrans({"\xa0": " ", "\u2009": " ", "\u202f": " ", "\u200b": None, "\ufeff": None, "\t": " "})


def clean_line(line: str) -> str:
    """Remove paste damage and terminal codes from one visible line.

    >>> clean_line("> \\x1b[1m 1/1\\x1b[0m ━━ **loss: 0.5**  ")
    '1/1 ━━ loss: 0.5'
    """
    if "\x1b" in line or "m" in line and "[" in line:
        line = _ANSI.sub("", line)
    if "**" in line:
        line = line.replace("**", "")
    if "`" in line:
        line = line.replace("`", "")
    if not line.isascii():
        line = line.translate(_ODD_SPACE)
    elif "\t" in line:
        line = line.replace("\t", " ")
    if ">" in line:
        line = _QUOTE.sub("", line, count=1)
    return line.strip()
