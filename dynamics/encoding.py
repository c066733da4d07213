"""How predictions are stored: float16 in log space, or float32 probabilities.

Float16 *probabilities* lose the very samples dynamics studies: their spacing
just below 1 is 2**-11, so every P(class 1) above 0.99976 is stored as 1.0,
and a confidently wrong sample is recomputed at the 15.94-nat clipping limit
whatever Keras computed (8.3 to 15.9 nats). Float16 numbers have *relative*
precision, so the recorder stores them in log space, where both tails keep
it:

``logit-float16``
    a sigmoid output (shape ``(n,)``): the logit ``z = log p - log(1 - p)``,
    computed in float64 after clipping ``p`` to Keras's ``[1e-7, 1 - 1e-7]``
    (so ``|z| <= 16.12``); at most 2**-11 of ``|z|`` off, i.e. at most
    0.008 nats on any sample's loss.
``logprob-float16``
    a softmax output (shape ``(n, k)``): ``log p``, clipped at ``log 1e-7``.
``proba-float32``
    the probabilities as float32 (the model's own precision, exact).
``proba-float16``
    raw float16 probabilities, as dynamics wrote them before run format 2
    (read, never written).

Decoding turns a stored epoch back into float32 probabilities. Every float16
code decodes to one float32 value, so decoding is a lookup in a table of
65,536 entries (:func:`decode_table`) -- the same numbers as computing
``sigmoid`` / ``exp`` per sample, at the cost of one gather -- and the
statistics can work on the codes themselves (:class:`Coded`). Near
saturation the decoded float32 value is the model's float32 output bit for
bit: there one float32 step of ``p`` is far wider in ``z`` than the float16
rounding of ``z`` (at ``p = 1 - 3e-7`` it is 0.19 against 0.008).

It sits beside :class:`~dynamics.run.Run` (below the readers, the writer and
the statistics) because all three use it: the run directory stores epochs in
these encodings, and the statistics count float16 codes instead of sorting
values. This module imports numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "COMPACT16", "ENCODINGS", "EPSILON", "LOG_ENCODINGS", "LOGIT16", "LOGPROB16", "PROBA16", "PROBA32", "Coded", "EncodedEpochs",
    "coded", "decode", "decode_table", "encode", "encoding_for", "value_ranks",
]  # fmt: skip

LOGIT16 = "logit-float16"
LOGPROB16 = "logprob-float16"
PROBA32 = "proba-float32"
PROBA16 = "proba-float16"
#: Compact records (:mod:`dynamics.sources.rundir.compact`); not probabilities.
COMPACT16 = "compact-float16"
#: Encodings a run directory may declare; all but PROBA16 are written.
ENCODINGS = (LOGIT16, LOGPROB16, PROBA32, PROBA16, COMPACT16)
#: Encodings whose files hold float16 codes decoded through a table.
LOG_ENCODINGS = (LOGIT16, LOGPROB16)
#: Keras's clipping of probabilities (``keras.config.epsilon()``).
EPSILON = 1e-7


def encoding_for(dtype: str, ndim: int) -> str:
    """The encoding the recorder writes for a storage ``dtype`` and outputs of ``ndim`` dimensions.

    Examples
    --------
    >>> encoding_for("float16", 1), encoding_for("float16", 2), encoding_for("float32", 1)
    ('logit-float16', 'logprob-float16', 'proba-float32')
    """
    if dtype == "float32":
        return PROBA32
    if dtype == "float16":
        return LOGIT16 if ndim == 1 else LOGPROB16
    raise ValueError(f'dtype must be "float16" or "float32". Received: dtype={dtype!r}')


def encode(proba: Any, encoding: str) -> np.ndarray:
    """Store one epoch's probabilities (``(n,)`` P(class 1) or ``(n, k)``) in ``encoding``.

    Computed in float64 from whatever precision ``proba`` has (the model's
    float32 outputs); NaN stays NaN.

    Examples
    --------
    The largest float32 below 1 (1 - 1.2e-7) keeps its 15.94 nats; 1.0 is clipped:

    >>> encode(np.array([0.5, 0.9999999, 1.0], dtype=np.float32), "logit-float16")
    array([ 0.   , 15.945, 16.12 ], dtype=float16)
    """
    p = np.asarray(proba, dtype=np.float64)
    if encoding == PROBA32:
        return p.astype(np.float32)
    if encoding == LOGIT16:
        if p.ndim != 1:
            raise ValueError(f"{LOGIT16} stores P(class 1) of shape (n,). Received: shape={p.shape}")
        pc = np.clip(p, EPSILON, 1.0 - EPSILON)
        return (np.log(pc) - np.log1p(-pc)).astype(np.float16)
    if encoding == LOGPROB16:
        if p.ndim != 2:
            raise ValueError(f"{LOGPROB16} stores class probabilities of shape (n, k). Received: shape={p.shape}")
        return np.log(np.clip(p, EPSILON, None)).astype(np.float16)
    raise ValueError(f"cannot write predictions as {encoding!r}; choose one of {LOGIT16}, {LOGPROB16}, {PROBA32}")


@cache
def decode_table(encoding: str) -> np.ndarray:
    """The float32 probability each of the 65,536 float16 codes of ``encoding`` stands for.

    Read-only; index it with a stored array's ``view(np.uint16)``. For
    ``proba-float16`` it is the float16 values themselves.

    Examples
    --------
    >>> table = decode_table("logit-float16")
    >>> code = np.array([0.0, 16.125], dtype=np.float16).view(np.uint16)
    >>> table[code].tolist() == [0.5, float(np.float32(1) - np.float32(1e-7))]
    True
    """
    v = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if encoding == LOGIT16:
            p = 1.0 / (1.0 + np.exp(-v))  # exp overflows to inf (p = 0) only for codes never written
        elif encoding == LOGPROB16:
            p = np.exp(v)
        elif encoding == PROBA16:
            p = v
        else:
            raise ValueError(f"{encoding!r} is not a float16 encoding")
        table = p.astype(np.float32)
    table.flags.writeable = False
    return table


def decode(stored: Any, encoding: str) -> np.ndarray:
    """One stored epoch as float32 probabilities (a new array; raw probabilities as they are).

    Examples
    --------
    >>> decode(encode([0.25, 1e-12], "logit-float16"), "logit-float16").round(5).tolist()
    [0.25, 0.0]
    """
    if encoding not in LOG_ENCODINGS:
        return stored
    codes = np.ascontiguousarray(stored).view(np.uint16)
    return decode_table(encoding)[codes]


class Coded(NamedTuple):
    """One epoch as float16 codes and the table of what each code stands for.

    ``values[codes]`` are the epoch's probabilities. Statistics that depend
    on each sample's value only (counts per value, sums of a function of
    it, ranks) can count the at most 65,536 distinct codes instead of
    sorting or transforming n values; :func:`value_ranks` orders the codes.
    """

    codes: np.ndarray  #: uint16, shape (n,) or (n, k)
    values: np.ndarray  #: float32, shape (65536,): :func:`decode_table`
    encoding: str


def coded(array: Any) -> Coded | None:
    """The codes of a raw float16 probability array, or None for any other array.

    Examples
    --------
    >>> c = coded(np.array([0.5, 1.0], dtype=np.float16))
    >>> c.values[c.codes].tolist(), c.encoding
    ([0.5, 1.0], 'proba-float16')
    """
    if isinstance(array, np.ndarray) and array.dtype == np.float16:
        return Coded(np.ascontiguousarray(array).view(np.uint16), decode_table(PROBA16), PROBA16)
    return None


@cache
def value_ranks(encoding: str) -> np.ndarray:
    """Dense rank of each code's decoded value: codes of equal value share a rank (NaN last).

    ``value_ranks(e)[codes]`` sorts like ``decode_table(e)[codes]``, ties
    included (``0.0`` and ``-0.0``; logits a float32 probability cannot
    tell apart).

    Examples
    --------
    >>> r = value_ranks("proba-float16")
    >>> half, minus_zero, zero, quarter = r[np.array([0.5, -0.0, 0.0, 0.25], dtype=np.float16).view(np.uint16)]
    >>> bool(minus_zero == zero < quarter < half)
    True
    """
    _, inverse = np.unique(decode_table(encoding), return_inverse=True)
    ranks = inverse.astype(np.int32)
    ranks.flags.writeable = False
    return ranks


class EncodedEpochs(Sequence):
    """Per-epoch stored arrays, decoded to float32 probabilities when an epoch is read.

    The value of :attr:`dynamics.run.Predictions.proba` for predictions
    stored in a log-space encoding: ``proba[i]`` decodes epoch ``i`` (a new
    read-only float32 array; the last one decoded is kept), so streaming over
    the epochs holds one decoded epoch at a time and the stored arrays (memory
    maps, for a run directory) stay on disk. :meth:`coded` gives the codes.

    Parameters
    ----------
    stored : sequence of ndarray
        The stored arrays, one per epoch (memory maps or in-memory arrays).
    encoding : str
        One of :data:`ENCODINGS`.

    Examples
    --------
    >>> epochs = EncodedEpochs([encode([0.2, 0.9], "logit-float16")], "logit-float16")
    >>> len(epochs), epochs[0].dtype, epochs[-1].round(3).tolist()
    (1, dtype('float32'), [0.2, 0.9])
    """

    def __init__(self, stored: Sequence[np.ndarray], encoding: str) -> None:
        if encoding not in ENCODINGS or encoding == COMPACT16:
            raise ValueError(f"unknown probability encoding {encoding!r}; known: {', '.join(ENCODINGS[:4])}")
        self.stored = stored
        self.encoding = encoding
        self._last: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.stored)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # negative indices; IndexError past the end
        if self.encoding not in LOG_ENCODINGS:
            return self.stored[i]
        if self._last is None or self._last[0] != i:
            self._last = None  # let the previous epoch go before decoding the next
            out = decode(self.stored[i], self.encoding)
            out.flags.writeable = False
            self._last = (i, out)
        return self._last[1]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def coded(self, index: int) -> Coded | None:
        """Epoch ``index`` as codes and their table (None when the encoding has no codes: float32)."""
        if self.encoding == PROBA32:
            return None
        table = decode_table(self.encoding)
        return Coded(np.ascontiguousarray(self.stored[index]).view(np.uint16), table, self.encoding)

    def __repr__(self) -> str:
        return f"EncodedEpochs({len(self)} epochs, {self.encoding})"
