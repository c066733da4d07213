"""Undo paste damage on one visible line.

What people do to a log between their terminal and an issue tracker: quote
it (``> ``), indent it (notebook exports, Markdown code blocks), bold a value
(``**val_acc: 0.8663**``), wrap it in backticks, keep the terminal's ANSI
colour codes (or only their visible half, ``[1m``), turn spaces into
non-breaking spaces, let a blog or a word processor turn ``-`` into an en
dash; and what a log collector put before every
line (timestamps, MPI rank tags, logger prefixes, Kaggle's time and line
number). :func:`clean_line` removes all of that and nothing else.
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
_ODD_SPACE = str.maketrans(
    {
        "\xa0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u3000": " ",  # ideographic (full-width) space
        "\u200b": None,
        "\ufeff": None,
        "\t": " ",
        # typography a blog, a forum or a word processor applied
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\uff1a": ":",  # full-width colon
        "\uff0f": "/",  # full-width solidus
        # (curly quotes stay: "━" read as cp1252 shows as "â”" -- a bar, not a quote)
    }
)
#: What a log collector writes before every line: an ISO timestamp (Docker,
#: GitHub Actions, cloud logs), an MPI rank tag (Horovod: ``[1,0]<stdout>:``),
#: a Ray worker tag, absl/glog and Python logging prefixes, Kaggle's
#: ``12.3s 45`` (seconds and line number), knitr's ``## `` (R Markdown).
_PREFIX = re.compile(
    r"(?:"
    r"\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?(?:\s*[-|:]\s|\s+)"
    r"|\[\d+(?:,\d+)?\]<std(?:out|err)>:"
    r"|\((?:[\w.]+\s+)?pid=\d+(?:,\s*ip=[\d.]+)?\)\s+"
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.]+:\d+\] "
    r"|(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]+:"
    r"|(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s*[-|:]\s"
    r"|\d+(?:\.\d+)?s\s+\d+\s+(?=\S)"
    r"|\[\d\d:\d\d:\d\d(?:[.,]\d+)?\]\s"
    r"|\#\#?\s+"  # knitr (R Markdown) output, "## Epoch 1/30"
    r")+"
)


def clean_line(line: str) -> str:
    """Remove paste damage and terminal codes from one visible line.

    >>> clean_line("> \\x1b[1m 1/1\\x1b[0m ━━ **loss: 0.5**  ")
    '1/1 ━━ loss: 0.5'
    >>> clean_line("2023-05-01T12:00:00.1234567Z [1,0]<stdout>:1/1 [====] \u2013 loss: 0.5")
    '1/1 [====] - loss: 0.5'
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
    line = line.strip()
    if line[:1] in _PREFIX_STARTS:
        m = _PREFIX.match(line)
        if m is not None:
            line = line[m.end() :].strip()
            if ">" in line:
                line = _QUOTE.sub("", line, count=1).strip()
    return line


_PREFIX_STARTS = frozenset("0123456789[(IWEFDC#")
