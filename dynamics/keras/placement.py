"""Where :class:`~dynamics.keras.callback.PredictionRecorder` runs: devices, processes, the callback list.

* :class:`Placement`: the devices of a JAX distribution (the recorder pads
  its batches so they divide among them) and, with several JAX processes,
  the share of the validation set each process predicts -- locally, from its
  copy of the replicated weights -- and the gathering of the shares for the
  metrics;
* :func:`callback_list`: the ``CallbackList`` that holds a callback;
* :func:`randomness_kept`: the recorder's pass leaves the global random
  states as it found them.

Keras and JAX are used through the arguments or imported inside the
functions that need them.
"""

from __future__ import annotations

import contextlib
import gc
import random
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError
from dynamics.keras.callback_data import n_rows, take


class Placement:
    """Devices and processes of the current Keras distribution (one device, one process without one)."""

    def __init__(self, keras: Any) -> None:
        self.n_devices, self.process, self.processes, self.mesh_size = 1, 0, 1, 1
        self.shares: list[np.ndarray] | None = None  # rows of the validation set, per process
        self._local_fn = None
        dist = keras.distribution.distribution() if keras.backend.backend() == "jax" else None
        if dist is None:
            return
        import jax

        self.process, self.processes = jax.process_index(), jax.process_count()
        mesh = dist.device_mesh
        self.mesh_size = int(np.prod(mesh.shape))
        axis = getattr(dist, "batch_dim_name", None)
        self.n_devices = int(mesh.shape[mesh.axis_names.index(axis)]) if axis in mesh.axis_names else self.mesh_size

    @property
    def share(self) -> np.ndarray | None:
        """The validation rows this process predicts (None in one process)."""
        return None if self.shares is None else self.shares[self.process]

    def split(self, n: int) -> np.ndarray:
        """Cut ``n`` validation samples into one share per process; return this process's.

        Shares are contiguous blocks padded to one size by repeating their
        last sample (the run directory's reader keeps a sample once). Every
        process reads the same ``(x_val, y_val)``, so every process knows
        every share.

        Examples
        --------
        >>> p = Placement.__new__(Placement); p.process, p.processes = 1, 2
        >>> p.split(5).tolist(), [s.tolist() for s in p.shares]
        ([2, 3, 4], [[0, 1, 1], [2, 3, 4]])
        """
        if n < self.processes:
            raise ArgumentError(f"{self.processes} processes need at least {self.processes} validation samples. "
                                f"Received: {n}")
        bounds = np.linspace(0, n, self.processes + 1).astype(int)
        size = int(np.diff(bounds).max())
        self.shares = [np.concatenate([np.arange(a, b), np.full(size - (b - a), b - 1)])
                       for a, b in zip(bounds[:-1], bounds[1:])]
        return self.share

    def gather(self, local: np.ndarray, n: int) -> np.ndarray:
        """Every process's share put together, in the validation set's order (the same in every process).

        The metrics are computed from all the samples, identically in every
        process, so that callbacks such as ``EarlyStopping`` decide alike.
        """
        from jax.experimental import multihost_utils

        parts = np.asarray(multihost_utils.process_allgather(local))
        out = np.empty((n, *local.shape[1:]), dtype=local.dtype)
        for rows, part in zip(self.shares, parts):
            out[rows] = part
        return out

    @staticmethod
    def barrier(name: str) -> None:
        """Return once every process has reached ``name``."""
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)

    def local_predict(self, model: Any, x: Any, batch_size: int) -> np.ndarray:
        """Predict on this process's device alone, from its copy of the replicated weights.

        ``model.predict`` cannot run one process's own samples under a
        multi-process distribution: its outputs span the other processes'
        devices (jax: "Fetching value for `jax.Array` that spans
        non-addressable devices is not possible"). DataParallel replicates
        the weights, so every process holds all of them.
        """
        import jax

        def local(variable: Any) -> Any:
            value = variable.value
            if getattr(value, "is_fully_addressable", True):
                return value
            if not value.is_fully_replicated:
                raise ArgumentError("with several processes the recorder needs replicated weights "
                                    f"(DataParallel). Received: variable {variable.path} sharded as {value.sharding}")
            return value.addressable_shards[0].data

        trainable = [local(v) for v in model.trainable_variables]
        other = [local(v) for v in model.non_trainable_variables]
        if self._local_fn is None:
            self._local_fn = jax.jit(lambda tv, ntv, xb: model.stateless_call(tv, ntv, xb, training=False)[0])
        n = n_rows(x)
        return np.concatenate([np.asarray(self._local_fn(trainable, other, take(x, np.arange(i, min(n, i + batch_size)))))
                               for i in range(0, n, batch_size)])


def callback_list(callback: Any, keras: Any) -> Any:
    """The ``CallbackList`` of ``fit`` that holds ``callback``, or None.

    Keras gives a callback no handle on its ``CallbackList``; the list is
    found as the holder of a list (its public ``callbacks``) that holds the
    callback (about 50 ms once per ``fit``, on a heap of 220,000 objects with
    Keras and JAX loaded).
    """
    owner = None
    for holder in gc.get_referrers(callback):
        if type(holder) is list:
            for candidate in gc.get_referrers(holder):
                if isinstance(candidate, keras.callbacks.CallbackList) and candidate.callbacks is holder \
                        and candidate.model is callback.model:
                    owner = candidate
    return owner


@contextlib.contextmanager
def randomness_kept(backend: str) -> Iterator[None]:
    """The recorder's pass leaves the global random states as it found them.

    On torch, ``model.predict`` iterates a torch ``DataLoader``, which draws a
    seed from torch's global generator -- the one that shuffles the next
    epoch's training batches; without this, recording changes the training
    after epoch 1 (seen: the same seed, other epoch-2 losses with a
    generator than with arrays).
    """
    saved = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch") if backend == "torch" else None
    torch_state = torch.random.get_rng_state() if torch is not None else None
    cuda_state = torch.cuda.get_rng_state_all() if torch is not None and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        if torch_state is not None:
            torch.random.set_rng_state(torch_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)


def wait_for_step(batch: int, logs: Any = None) -> None:
    """Work around jaxlib's CPU all-reduce deadlock under DataParallel: block on the step's logs.

    Measured here (jaxlib 0.10.2, 2 virtual CPU devices): consecutive
    train steps overlap and XLA's all-reduce waits forever for the second
    device (SIGABRT after 40 s), with or without Keras. Blocking on each
    step's logs in ``on_train_batch_end`` fixes it -- and only if that hook
    runs in the training loop's thread: Keras dispatches batch-end hooks
    to a thread pool unless some callback overrides ``on_train_batch_end``
    (``CallbackList._configure_async_dispatch``). So the override exists
    only on recorders that train under a distribution: an instance
    attribute, set when the recorder is created (after
    ``set_distribution``) or, failing that, when training begins.
    """
    import jax

    jax.block_until_ready(logs)

