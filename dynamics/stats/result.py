"""The one shape of a statistic's result: a dataclass with ``to_dict``.

Every result type in :mod:`dynamics.stats` is a dataclass (frozen where it
is a value: a test's outcome, one epoch's numbers) that inherits
:class:`Result`, so ``to_dict()`` works the same on all of them: the fields
by name, as plain Python -- numpy scalars as numbers, arrays as lists,
tables as lists of records (their index as the first fields) -- ready for
``json.dumps`` once NaN is dealt with. A result may add what its properties
derive (``McNemar.discordant``) to its dict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "plain"]


def plain(value: Any) -> Any:
    """``value`` as plain Python: tables as records, arrays as lists, numpy scalars as numbers.

    Examples
    --------
    >>> plain({"n": np.int64(3), "p": np.array([0.5, 1.0]), "t": pd.Series([2.0], index=pd.Index([7], name="epoch"))})
    {'n': 3, 'p': [0.5, 1.0], 't': [{'epoch': 7, 0: 2.0}]}
    """
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, pd.Series):
        value = value.to_frame(value.name if value.name is not None else 0)
    if isinstance(value, pd.DataFrame):
        flat = value.reset_index() if not isinstance(value.index, pd.RangeIndex) or value.index.name else value
        return [{k: plain(v) for k, v in row.items()} for row in flat.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Result:
    """Base of the statistics' result dataclasses: :meth:`to_dict` from the fields.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Pair(Result):
    ...     low: float
    ...     high: np.ndarray
    >>> Pair(0.5, np.array([1, 2])).to_dict()
    {'low': 0.5, 'high': [1, 2]}
    """

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, as plain Python (see :func:`plain`)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _asdict(self) -> dict[str, Any]:
        """The fields as they are (the name these results had as named tuples)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
