"""The validation input of :class:`~dynamics.keras.callback.PredictionRecorder` (numpy only).

Whatever Keras accepts as ``validation_data`` -- ``(x, y)`` arrays, a
``keras.utils.PyDataset``, a Python generator with a stated number of steps,
a ``tf.data.Dataset``, a torch ``DataLoader`` -- becomes one of two sources:

* :class:`ArraySource`: labels known up front, predicted with
  ``model.predict(x, batch_size=...)`` as before;
* :class:`BatchSource`: one pass over the batches per epoch; the labels (and
  sample weights) are taken from the batches as they go by, the sample ids
  from their order -- or from a position of the batch tuple or a key of the
  input dict that the user names.

A sample's predictions are matched across epochs by its id, so a pass must
go over the same samples as the first pass: :func:`align` refuses a stream
that changed (another number of samples, other ids) or came in another order
(told by the labels) with one line saying what to change.

Nothing here imports Keras: inputs are recognised by what they offer
(``num_batches`` and ``__getitem__`` for a PyDataset, ``cardinality`` for a
``tf.data.Dataset``, ``__len__`` and ``__iter__`` for a ``DataLoader``), and
tensors become numpy arrays through their own ``numpy()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError
from dynamics.keras.callback_data import check_pair, class_labels, n_rows, pad_rows


@dataclass
class Pass:
    """One prediction pass over the validation input.

    ``raw`` is the model's output for each sample (before any sigmoid or
    softmax), ``y`` the targets as the batches gave them, ``ids`` the sample
    ids, ``sample_weight`` the batches' weights (or None), ``x`` the inputs
    when the source holds them as one array.
    """

    raw: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    sample_weight: np.ndarray | None = None
    x: Any = None


def to_numpy(value: Any) -> Any:
    """A batch's leaf (numpy, torch or TensorFlow tensor, list) as a numpy array; dicts and lists leaf by leaf."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Mapping):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]) and hasattr(value[0], "shape"):
        return type(value)(to_numpy(v) for v in value)
    if hasattr(value, "detach"):  # torch, possibly on a GPU
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # TensorFlow eager tensors
        return np.asarray(value.numpy())
    return np.asarray(value)


class ArraySource:
    """``(x, y)`` arrays: ``x`` an array, or a dict or list of arrays for a multi-input model."""

    kind = "arrays"

    def __init__(self, data: Any, sample_ids: Any = None) -> None:
        self.x, self.y = check_pair("validation_data", data)
        self.n = n_rows(self.x)
        if sample_ids is None:
            self.ids = np.arange(self.n)
        else:
            ids = np.asarray(sample_ids)
            if ids.shape != (self.n,) or ids.dtype.kind not in "iu":
                raise ArgumentError(
                    f"sample_ids must be {self.n} integers, one per validation sample. "
                    f"Received: sample_ids of shape {ids.shape} and dtype {ids.dtype}"
                )
            self.ids = ids

    def labels(self) -> np.ndarray:
        return class_labels(self.y)


class BatchSource:
    """Batches of ``(x, y)`` or ``(x, y, sample_weight)``, one pass per epoch.

    Parameters
    ----------
    data
        A PyDataset (``num_batches`` and ``__getitem__``), an iterator (a
        generator: each epoch takes the next ``steps`` batches from it, as
        ``fit(validation_steps=...)`` does), or an iterable that starts over
        when iterated again (a ``DataLoader``, a ``tf.data.Dataset``, a list
        of batches).
    steps : int, optional
        Batches per epoch. Required when the input cannot say how many it
        has (a generator, an infinite dataset); otherwise at most that many.
    sample_ids : int or str, optional
        Where each batch carries the samples' ids: a position of the batch
        tuple (``2`` for ``(x, y, ids)``) or a key of the input dict
        (removed from it before predicting). Without it the ids are the
        samples' order, ``0..n-1``.
    """

    kind = "batches"

    def __init__(self, data: Any, *, steps: int | None = None, sample_ids: int | str | None = None) -> None:
        if steps is not None and (not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1):
            raise ArgumentError(f"steps must be a positive integer or None. Received: steps={steps!r}")
        if sample_ids is not None and (isinstance(sample_ids, bool)
                                       or not isinstance(sample_ids, (int, np.integer, str))
                                       or (not isinstance(sample_ids, str) and not 2 <= sample_ids <= 3)):
            raise ArgumentError(
                "with batches, sample_ids names where each batch carries the ids: 2 or 3 (a position of "
                f"the batch tuple) or a key of the input dict. Received: sample_ids={sample_ids!r}"
            )
        self.data = data
        self.steps = None if steps is None else int(steps)
        self.ids_at = sample_ids
        self.name = type(data).__name__
        self._mode, self.n_batches = self._count(data, self.steps)

    def _count(self, data: Any, steps: int | None) -> tuple[str, int | None]:
        """How to go over ``data`` ("index" / "iterator" / "iterable") and how many batches a pass takes."""
        infinite = (f"validation_data={self.name} has no end the recorder can see: pass steps=<batches per "
                    "epoch> (the recorder goes over the same samples every epoch). Received: steps=None")
        if hasattr(data, "num_batches") and hasattr(data, "__getitem__"):  # keras.utils.PyDataset
            try:
                n = data.num_batches
            except NotImplementedError:
                n = None
            if n is None and steps is None:
                raise ArgumentError(infinite)
            return "index", steps if n is None else min(int(n), steps or int(n))
        if isinstance(data, Iterator):  # a generator: no second pass, no length
            if steps is None:
                raise ArgumentError(infinite)
            return "iterator", steps
        if not hasattr(data, "__iter__") or isinstance(data, (str, bytes, Mapping, np.ndarray)):
            raise ArgumentError(
                "validation_data must be (x_val, y_val) arrays, a keras.utils.PyDataset, a generator (with "
                f"steps=...), a tf.data.Dataset or a torch DataLoader. Received: validation_data={self.name}"
            )
        if hasattr(data, "cardinality") and hasattr(data, "element_spec"):  # tf.data.Dataset
            cardinality = int(data.cardinality())
            if cardinality == -1 and steps is None:  # tf.data.INFINITE_CARDINALITY
                raise ArgumentError(infinite)
            if cardinality >= 0:
                return "iterable", min(cardinality, steps or cardinality)
            return "iterable", steps  # unknown: to its end (or steps)
        try:
            n = len(data)
        except TypeError:  # an IterableDataset's DataLoader, a custom iterable
            if steps is None:
                raise ArgumentError(infinite) from None
            return "iterable", steps
        return "iterable", min(int(n), steps or int(n))

    def begin_pass(self) -> None:
        """Before a pass: a PyDataset hears ``on_epoch_begin`` (and says again how many batches it has)."""
        if self._mode == "index":
            begin = getattr(self.data, "on_epoch_begin", None)
            if callable(begin):
                begin()
            self._mode, self.n_batches = self._count(self.data, self.steps)

    def end_pass(self) -> None:
        """After a pass: a PyDataset hears ``on_epoch_end``, as in ``fit`` (where a careless one reshuffles)."""
        end = getattr(self.data, "on_epoch_end", None) if self._mode == "index" else None
        if callable(end):
            end()

    def batches(self) -> Iterator[Any]:
        """The batches of one pass (between :meth:`begin_pass` and :meth:`end_pass`)."""
        if self._mode == "index":
            for i in range(self.n_batches):
                yield self.data[i]
            return
        iterator = self.data if self._mode == "iterator" else iter(self.data)
        for i, batch in enumerate(iterator):
            yield batch
            if self.n_batches is not None and i + 1 >= self.n_batches:
                return
        if self._mode == "iterator":
            raise ArgumentError(f"validation_data={self.name} ended before the {self.n_batches} batches of a "
                                f"pass. Received: steps={self.n_batches}")

    def run_pass(self, predict: Callable[[Iterator[tuple], int | None], np.ndarray], n_devices: int = 1) -> Pass:
        """One pass: ``predict(inputs, steps)`` gets ``(x,)`` of every batch, the labels are kept on the way.

        Each batch is padded (its last row repeated) to a multiple of
        ``n_devices``, and the padding's outputs dropped.
        """
        ys, weights, ids, kept = [], [], [], []

        def inputs() -> Iterator[tuple]:
            for batch in self.batches():
                x, y, sample_weight, batch_ids = self.split(batch)
                n = n_rows(x)
                pad = (-n) % n_devices
                ys.append(y)
                weights.append(sample_weight)
                ids.append(batch_ids)
                kept.append(np.arange(n + pad) < n)
                yield (pad_rows(x, n, pad) if pad else x,)

        self.begin_pass()
        out = predict(inputs(), self.n_batches)
        self.end_pass()
        if not ys:
            raise ArgumentError(f"validation_data={self.name} gave no batch in a pass")
        raw = np.asarray(out)[np.concatenate(kept)]
        y = stacked(ys)
        n = len(raw)
        sample_weight = None if any(w is None for w in weights) else stacked(weights)
        ids_array = stacked(ids) if all(i is not None for i in ids) else np.arange(n)
        if len(ids_array) != n or n_rows(y) != n:
            raise ArgumentError(f"validation_data={self.name}: each batch needs one label (and one id) per "
                                f"sample; a pass gave {n} samples, {n_rows(y)} labels and {len(ids_array)} ids")
        return Pass(raw, y, ids_array, sample_weight)

    def split(self, batch: Any) -> tuple[Any, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(x, y, sample_weight, ids)`` of one batch, as numpy arrays."""
        if not isinstance(batch, (tuple, list)) or not 2 <= len(batch) <= 4:
            raise ArgumentError(
                "each validation batch must be a tuple (x, y) or (x, y, sample_weight), with labels: the "
                f"recorder takes them from the batches. Received: a batch of type {type(batch).__name__}"
                + (f" with {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
            )
        items = list(batch)
        ids = None
        if isinstance(self.ids_at, str):
            x = items[0]
            if not isinstance(x, Mapping) or self.ids_at not in x:
                raise ArgumentError(f"sample_ids={self.ids_at!r} names a key of the input dict, but the batches' "
                                    f"inputs are {type(x).__name__}"
                                    + (f" with keys {sorted(x)}" if isinstance(x, Mapping) else ""))
            x = dict(x)
            ids = to_numpy(x.pop(self.ids_at))
            items[0] = x
        elif self.ids_at is not None:
            if len(items) <= self.ids_at:
                raise ArgumentError(f"sample_ids={self.ids_at} names item {self.ids_at} of each batch, but the "
                                    f"batches have {len(items)} items")
            ids = to_numpy(items.pop(self.ids_at))
        x, y = to_numpy(items[0]), to_numpy(items[1])
        sample_weight = to_numpy(items[2]) if len(items) > 2 else None
        if ids is not None:
            ids = np.asarray(ids).reshape(-1)
        return x, np.asarray(y), sample_weight, ids


def stacked(parts: Sequence[Any]) -> Any:
    """Batches of one input structure (array, dict or list of arrays) joined into one."""
    first = parts[0]
    if isinstance(first, Mapping):
        return {k: stacked([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(stacked([p[i] for p in parts]) for i in range(len(first)))
    return np.concatenate([np.asarray(p) for p in parts])


def align(first: Pass, current: Pass, epoch: int, name: str) -> Pass:
    """``current`` in the sample order of ``first`` -- or a one-line error if it cannot be.

    With ids from the data, a pass in another order is put back in the first
    pass's order; with ids from the order, the labels tell a reshuffled
    stream, which cannot be put back.

    Examples
    --------
    >>> a = Pass(np.array([0.1, 0.9]), np.array([0, 1]), np.array([7, 8]))
    >>> b = Pass(np.array([0.8, 0.2]), np.array([1, 0]), np.array([8, 7]))
    >>> align(a, b, 2, "DataLoader").raw.tolist()
    [0.2, 0.8]
    """
    n0, n = len(first.ids), len(current.ids)
    if n != n0:
        raise ArgumentError(
            f"validation_data={name} gave {n} samples in epoch {epoch} and {n0} in epoch 1: the recorder needs "
            f"the same samples every epoch (a fixed validation set, steps that cover it; no drop_last)"
        )
    if current.raw.shape[1:] != first.raw.shape[1:]:
        raise ArgumentError(f"the model's outputs changed shape, from {first.raw.shape[1:]} per sample in "
                            f"epoch 1 to {current.raw.shape[1:]} in epoch {epoch}")
    if not np.array_equal(current.ids, first.ids):
        order = np.argsort(current.ids, kind="stable")
        where = order[np.searchsorted(current.ids, first.ids, sorter=order).clip(0, n - 1)]
        if not np.array_equal(current.ids[where], first.ids):
            missing = int(np.isin(first.ids, current.ids, invert=True).sum())
            raise ArgumentError(f"validation_data={name} gave other samples in epoch {epoch} than in epoch 1 "
                                f"({missing} of the first epoch's sample ids are missing)")
        current = Pass(current.raw[where], current.y[where], current.ids[where],
                       None if current.sample_weight is None else current.sample_weight[where], current.x)
    differ = int((class_labels(current.y) != class_labels(first.y)).sum())
    if differ:
        raise ArgumentError(
            f"validation_data={name} came in another order in epoch {epoch} than in epoch 1 (the labels of "
            f"{differ} of {n} samples differ), so its samples cannot be matched across epochs: pass a "
            "validation loader that does not shuffle (shuffle=False), or name where the batches carry "
            "the sample ids (sample_ids=2 or sample_ids=\"id\")"
        )
    return current


def check_ids(ids: np.ndarray, name: str) -> np.ndarray:
    """The first pass's ids: integers, one per sample, each once."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ArgumentError(f"the sample ids in validation_data={name} must be integers. "
                            f"Received: ids of dtype {ids.dtype}")
    if len(np.unique(ids)) != len(ids):
        raise ArgumentError(f"the sample ids in validation_data={name} must be unique: "
                            f"{len(ids) - len(np.unique(ids))} repeat in one pass")
    return ids.astype(np.int64)


def source_for(data: Any, *, steps: int | None = None, sample_ids: Any = None) -> ArraySource | BatchSource:
    """The source for a ``validation_data`` argument: a pair ``(x, y)`` is arrays, anything else batches.

    A list of two batches (each a tuple) is batches, not a pair.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 \
            and not all(isinstance(item, (tuple, list)) and len(item) in (2, 3) for item in data):
        if steps is not None:
            raise ArgumentError(f"steps applies to a dataset or generator, not to arrays. Received: steps={steps}")
        return ArraySource(data, sample_ids)
    if sample_ids is not None and not isinstance(sample_ids, (int, np.integer, str)):
        raise ArgumentError("with batches, sample_ids names where each batch carries the ids (2, 3 or a dict "
                            f"key), not the ids themselves. Received: sample_ids={type(sample_ids).__name__}")
    return BatchSource(data, steps=steps, sample_ids=sample_ids)
