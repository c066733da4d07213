"""Read a saved ``History.history`` (docs/keras-formats.md#9-historyhistory).

Accepted shapes: ``json.dump(history.history, f)`` -- ``{"loss": [...],
"val_loss": [...]}`` -- including Keras 3's non-standard ``NaN`` /
``Infinity`` tokens; the same dict wrapped as ``{"history": {...}, "epoch":
[...]}`` (``epoch`` holds the 0-based indices, shown 1-based); a list of
per-epoch dicts; and the dict as Python prints it (``{'loss': [0.34, nan],
...}``, ``np.float32(0.5)``), which keras-io pages and notebooks show.

The History saved through pandas is read too:
``pd.DataFrame(history.history).to_json()`` (a dict of dicts keyed by the
0-based row index, ``{"loss": {"0": 0.5, "1": 0.4}}``), and its orients
``index``, ``split``, ``records`` (the list of per-epoch dicts), ``table``
and ``records`` with ``lines=True`` (one dict per line); pandas writes NaN as
``null``, read as absent. The 0-based index becomes the 1-based epoch.

With ``validation_freq=f`` the ``val_*`` lists are shorter: Keras validates
after epochs f, 2f, ... (``(epoch + 1) % f == 0``), which places them when
exactly one ``f`` fits the lengths; otherwise the file is refused.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

_NUMPY_SCALAR = re.compile(r"\b(?:np|numpy)\.(?:float|int)\d*\(\s*([^()]*?)\s*\)")
_CURLY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_BARE = re.compile(r"(?<![\w\"'])(nan|inf|-inf)(?![\w\"'])")


def _python_repr_to_json(text: str) -> str:
    text = text.translate(_CURLY)  # a blog or word processor curled the quotes
    text = _NUMPY_SCALAR.sub(r"\1", text)
    text = text.replace("'", '"')
    text = _BARE.sub(lambda m: {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[m.group(1)], text)
    return text.replace("None", "null").replace("True", "true").replace("False", "false")


def load_history_object(text: str, source: str) -> Any:
    """The JSON (or Python-printed) object in ``text``; InputError if neither.

    JSON Lines (one object per line, ``to_json(orient="records", lines=True)``)
    come back as a list.
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_python_repr_to_json(text))
    except ValueError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            pass
    raise InputError(f"{source} starts like JSON but is not valid JSON or a printed History dict")


def _index(key: Any) -> int | None:
    """A pandas row label as an int (``"0"``, ``0``), else None."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 0 else None
    if isinstance(key, str) and key.strip().isdigit() and key.strip().isascii():
        return int(key)
    return None


def _by_index(rows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``{index: {name: value}}`` as the wrapped History shape (``epoch`` 0-based)."""
    order = sorted(rows)
    names = list(dict.fromkeys(name for i in order for name in rows[i]))
    return {"history": {n: [rows[i].get(n) for i in order] for n in names}, "epoch": order}


def from_pandas(obj: Any) -> Any:
    """The History shape of a DataFrame that pandas wrote as JSON, or ``obj`` unchanged.

    >>> from_pandas({"loss": {"0": 0.5, "1": 0.4}})
    {'history': {'loss': [0.5, 0.4]}, 'epoch': [0, 1]}
    >>> from_pandas({"columns": ["loss"], "index": [0, 1], "data": [[0.5], [0.4]]})
    {'history': {'loss': [0.5, 0.4]}, 'epoch': [0, 1]}
    """
    if isinstance(obj, dict) and obj:
        if {"columns", "data"} <= set(obj) and isinstance(obj["columns"], list) and isinstance(obj["data"], list):
            index = obj.get("index", list(range(len(obj["data"]))))  # orient="split"
            if isinstance(index, list) and len(index) == len(obj["data"]) and all(_index(i) is not None for i in index):
                if all(isinstance(r, list) and len(r) == len(obj["columns"]) for r in obj["data"]):
                    return _by_index({_index(i): dict(zip(obj["columns"], r)) for i, r in zip(index, obj["data"])})
        if "schema" in obj and isinstance(obj.get("data"), list):  # orient="table"
            data = obj["data"]
            if all(isinstance(r, dict) and _index(r.get("index")) is not None for r in data):
                return _by_index({_index(r["index"]): {k: v for k, v in r.items() if k != "index"} for r in data})
            return data
        values = list(obj.values())
        if all(isinstance(v, dict) and v for v in values):
            outer = [_index(k) for k in obj]
            inner = [_index(k) for v in values for k in v]
            if None not in inner and None in outer:  # orient="columns" (the default)
                rows: dict[int, dict[str, Any]] = {}
                for name, cells in obj.items():
                    for key, value in cells.items():
                        rows.setdefault(_index(key), {})[name] = value  # type: ignore[index]
                return _by_index(rows)
            if None not in outer and None in inner:  # orient="index"
                return _by_index({_index(k): v for k, v in obj.items()})  # type: ignore[misc]
    return obj


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def looks_like_history(obj: Any) -> bool:
    """True for the shapes :func:`read_history` accepts: names over numbers.

    >>> looks_like_history({"loss": [0.5, 0.4]}), looks_like_history([{"name": "a", "size": "big"}])
    (True, False)
    """
    obj = from_pandas(obj)
    if isinstance(obj, dict):
        inner = obj.get("history", obj)
        return (
            isinstance(inner, dict)
            and bool(inner)
            and all(isinstance(v, list) for v in inner.values())
            and any(_numeric(x) for v in inner.values() for x in v)
        )
    if isinstance(obj, list):
        return (
            bool(obj)
            and all(isinstance(item, dict) for item in obj)
            and any(_numeric(v) for item in obj for v in item.values())
            and not any(isinstance(v, str) and _value(v) is None for item in obj for v in item.values())
        )
    return False


def _value(item: Any) -> float | None:
    if item is None:
        return None
    if isinstance(item, bool):
        return float(item)
    if isinstance(item, (int, float)):
        return float(item)
    if isinstance(item, str):
        try:
            return float(item)
        except ValueError:
            return None
    if isinstance(item, list) and len(item) == 1:
        return _value(item[0])
    raise TypeError


def read_history(obj: Any, *, source: str = "<history>") -> list[Run]:
    """Turn a loaded History object into one run.

    >>> run = read_history({"loss": [0.5, 0.4], "val_loss": [0.6, float("nan")]})[0]
    >>> run.epochs
           loss  val_loss
    epoch
    1       0.5       0.6
    2       0.4       NaN
    >>> run.meta.printed_nan
    {'val_loss': [2]}
    """
    obj = from_pandas(obj)
    if not looks_like_history(obj):
        raise InputError(f"{source} is JSON but not a Keras History (a dict of lists such as {{\"loss\": [...]}})")
    if isinstance(obj, list):
        keys = list(dict.fromkeys(k for item in obj for k in item))
        history = {k: [item.get(k) for item in obj] for k in keys}
        first = [i + 1 for i in range(len(obj))]
    else:
        history = obj.get("history", obj)
        epochs = obj.get("epoch") if "history" in obj else None
        length = max(len(v) for v in history.values())
        if isinstance(epochs, list) and len(epochs) == length and all(isinstance(e, int) for e in epochs):
            first = [e + 1 for e in epochs]
        else:
            first = list(range(1, length + 1))
    n = len(first)
    if n == 0:
        raise NoEpochsError(f"no complete training epoch in {source}: the History lists are empty")
    notes: list[str] = []
    columns: dict[str, str] = {}
    table: dict[int, dict[str, float]] = {e: {} for e in first}
    printed_nan: dict[str, list[int]] = {}
    for key, values in history.items():
        canonical = canonical_metric_name(key)
        column = canonical if canonical not in columns.values() else key
        positions = _positions(key, len(values), n, source, notes)
        try:
            parsed = [_value(v) for v in values]
        except TypeError:
            notes.append(f"{key!r} holds non-scalar values and was left out")
            continue
        columns[key] = column
        for pos, value in zip(positions, parsed):
            if value is None:
                continue
            epoch = first[pos]
            table[epoch][column] = value
            if math.isnan(value):
                printed_nan.setdefault(column, []).append(epoch)
    meta = RunMeta(
        source=source,
        format="history-json",
        metric_names={column: key for key, column in columns.items()},
        printed_nan=printed_nan,
        notes=notes,
    )
    return [Run(make_epoch_table(table, columns=list(columns.values())), meta)]


def _positions(key: str, length: int, n: int, source: str, notes: list[str]) -> list[int]:
    """Which epochs (0-based positions) a list of ``length`` values belongs to."""
    if length == n:
        return list(range(n))
    if length == 0:
        return []
    fits = [f for f in range(1, n + 1) if n // f == length]
    if length and len(fits) == 1:
        f = fits[0]
        notes.append(f"{key!r} has {length} values for {n} epochs: placed at every {f}th epoch (validation_freq={f})")
        return [f * (i + 1) - 1 for i in range(length)]
    raise InputError(
        f"{source}: {key!r} has {length} values for {n} epochs, and no single validation_freq explains that"
    )
