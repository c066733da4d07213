"""How numbers are written, in claims and in table cells: one formatter per concept, used everywhere.

* :func:`num` -- a logged value as Keras prints it (4 decimals, ``%.4e`` when tiny);
* :func:`fixed` -- a derived number with a fixed number of decimals (``n/a`` when missing);
* :func:`signed` -- a signed difference of logged values;
* :func:`signed_pct` -- a *percentage* with its sign (``+144%``: a rise relative to a minimum);
* :func:`share` -- a *fraction* as a percentage (``0.55`` -> ``55%``: a share of samples);
* :func:`points` -- an accuracy difference in percentage points;
* :func:`pval`, :func:`span`, :func:`epoch_ranges`, :func:`listing` -- p-values, epochs, lists;
* :func:`cell` -- a table cell (empty when missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def num(value: float | None, digits: int = 4) -> str:
    """A logged value as Keras prints it: 4 decimals, or ``%.4e`` when tiny.

    >>> num(0.37361), num(0.000512), num(float("nan"))
    ('0.3736', '5.1200e-04', 'nan')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def signed(value: float, digits: int = 4) -> str:
    """>>> signed(0.0022), signed(-0.5)
    ('+0.0022', '-0.5000')
    """
    return ("+" if value >= 0 else "-") + num(abs(value), digits)


def signed_pct(value: float | None, digits: int = 0) -> str:
    """A percentage (already times 100) with its sign.

    >>> signed_pct(143.7), signed_pct(float("nan"))
    ('+144%', 'n/a')
    """
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.{digits}f}%"


def share(fraction: float | None, digits: int = 0) -> str:
    """A fraction as a percentage, without a sign (and never ``-0%``).

    >>> share(0.55), share(0.0123, 1), share(-0.0001), share(None)
    ('55%', '1.2%', '0%', 'n/a')
    """
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    text = f"{100 * fraction:.{digits}f}%"
    return text[1:] if text.startswith("-") and float(text[:-1]) == 0 else text


def fixed(value: float | None, digits: int = 3) -> str:
    """A derived number with ``digits`` decimals.

    >>> fixed(1.91824), fixed(float("inf")), fixed(None)
    ('1.918', 'n/a', 'n/a')
    """
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def cell(value: object, digits: int = 4) -> str:
    """A number in a table cell: ``digits`` decimals, scientific when tiny, empty when missing.

    >>> cell(0.37361), cell(2.5e-6), cell(float("nan")), cell(None), cell("x")
    ('0.3736', '2.500e-06', '', '', 'x')
    """
    if value is None:
        return ""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    if v != 0 and abs(v) < 10 ** -(digits - 1):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def points(value: float, digits: int = 1) -> str:
    """An accuracy difference in percentage points.

    >>> points(0.0147)
    '1.5 points'
    """
    return f"{100 * value:.{digits}f} points"


def pval(p: float) -> str:
    """>>> pval(0.08333), pval(2e-6), pval(1.0)
    ('p = 0.083', 'p = 2.0e-06', 'p = 1.000')
    """
    if p is None or math.isnan(p):
        return "p = n/a"
    if p < 1e-3:
        return f"p = {p:.1e}"
    return f"p = {p:.3f}"


def span(first: int, last: int) -> str:
    """>>> span(6, 74), span(5, 5)
    ('epochs 6-74', 'epoch 5')
    """
    return f"epoch {first}" if first == last else f"epochs {first}-{last}"


def epoch_ranges(epochs: Iterable[int]) -> str:
    """Compress epoch numbers into ranges.

    >>> epoch_ranges([1, 2, 3, 4, 5, 75, 76, 77])
    '1-5 and 75-77'
    """
    es = sorted(set(int(e) for e in epochs))
    parts: list[str] = []
    start = prev = None
    for e in es + [None]:  # type: ignore[list-item]
        if start is None:
            start = prev = e
            continue
        if e is not None and e == prev + 1:
            prev = e
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = e
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def listing(items: list[str]) -> str:
    """>>> listing(["a"]), listing(["a", "b", "c"])
    ('a', 'a, b and c')
    """
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def context_bits(context: dict, epochs: Sequence[int] = ()) -> list[str]:
    """What a diagnosis rests on, as short phrases: epochs logged, n_val, classes.

    ``context`` is :meth:`Diagnosis.context` (``ctx.describe()``); ``epochs``
    stands in when it lists no logged epochs. Every printer (terminal,
    HTML, Markdown) heads its report with these.

    >>> context_bits({"epochs_logged": [1, 2, 3, 5], "epochs_declared": 10, "n_val": 500, "n_val_source": "log",
    ...               "bound_classes": 2})
    ['4 epochs logged (1-3 and 5 of 10)', 'n_val 500 (from the log)', 'binary model assumed']
    """
    epochs = list(context.get("epochs_logged") or epochs)
    declared = context.get("epochs_declared")
    bits = [f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''} logged ({epoch_ranges(epochs)}"
            + (f" of {declared})" if declared else ")")]
    if context.get("n_val"):
        source = {"log": "from the log", "option": "given", "inferred": "inferred"}.get(context.get("n_val_source"), "")
        bits.append(f"n_val {context['n_val']}" + (f" ({source})" if source else ""))
    else:
        bits.append("n_val unknown")
    if context.get("classes"):
        bits.append(f"{context['classes']} classes ({context.get('classes_source')})")
    elif context.get("bound_classes") == 2:
        bits.append("binary model assumed")
    else:
        bits.append("classes unknown")
    return bits



def pattern_line(verdict: object, *, claims: bool = True) -> str:
    """The verdict's decisions in one line, as every printer heads it.

    >>> from dynamics.diagnosis.verdict import Verdict
    >>> pattern_line(Verdict("overfitting", "flat_within_noise", 3, ["overfitting", "noise_only"]))
    'loss: overfitting · accuracy: flat_within_noise · keep epoch 3 · claims: overfitting, noise_only'
    """
    keep = f"keep epoch {verdict.keep_epoch}" if verdict.keep_epoch is not None else "no epoch to keep"  # type: ignore[attr-defined]
    line = f"loss: {verdict.loss_pattern} · accuracy: {verdict.accuracy_pattern} · {keep}"  # type: ignore[attr-defined]
    if claims:
        line += " · claims: " + (", ".join(verdict.claims) or "none")  # type: ignore[attr-defined]
    return line
