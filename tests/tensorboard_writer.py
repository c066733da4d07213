"""Real event files for the tests, written without TensorFlow.

``keras.callbacks.TensorBoard`` does all its writing through ``tf.summary``
(``self.summary``, imported from TensorFlow on first use), so on JAX without
TensorFlow it fails at the first epoch. :class:`TFSummaryOnTensorBoardX`
gives it the few ``tf.summary`` calls it makes with ``write_graph=False`` and
no histograms (``create_file_writer``, ``writer.as_default``, ``scalar``,
``record_if``), writing through tensorboardX's ``EventFileWriter`` -- the
real TFRecord framing, CRCs and protobuf serialization -- and storing each
scalar exactly as TF2's ``WriteSummary`` kernel does: ``tensor { dtype:
DT_FLOAT tensor_shape {} tensor_content: <4 bytes> }`` with
``metadata.plugin_data.plugin_name = "scalars"`` (``tf.summary.scalar``
casts to float32 and the kernel calls ``Tensor::AsProtoTensorContent``).
The callback's own code decides every tag, step and folder.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("tensorboardX")  # a test-only dependency (the [test] extra)

from tensorboardX.event_file_writer import EventFileWriter  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata  # noqa: E402
from tensorboardX.proto.tensor_pb2 import TensorProto  # noqa: E402
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto  # noqa: E402

SCALARS = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))


def tf2_scalar_event(tag: str, value: float, step: int, wall_time: float | None = None) -> Event:
    """The Event TF2's ``tf.summary.scalar`` writes."""
    tensor = TensorProto(dtype=1, tensor_shape=TensorShapeProto(), tensor_content=np.float32(value).tobytes())
    return Event(step=int(step), wall_time=time.time() if wall_time is None else wall_time,
                 summary=Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=SCALARS)]))


class _Writer:
    def __init__(self, summary: TFSummaryOnTensorBoardX, logdir: str) -> None:
        self._summary = summary
        self._file = EventFileWriter(logdir, flush_secs=3600)

    @contextlib.contextmanager
    def as_default(self, step: int | None = None) -> Iterator[_Writer]:
        self._summary.stack.append(self)
        try:
            yield self
        finally:
            self._summary.stack.pop()

    def scalar(self, name: str, data: object, step: int) -> None:
        self._file.add_event(tf2_scalar_event(name, float(np.asarray(data, dtype=np.float32)), int(step)))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class TFSummaryOnTensorBoardX:
    """The ``tf.summary`` calls of ``keras.callbacks.TensorBoard``, on tensorboardX (see the module docstring)."""

    def __init__(self) -> None:
        self.stack: list[_Writer] = []

    def create_file_writer(self, logdir: str) -> _Writer:
        return _Writer(self, logdir)

    def scalar(self, name: str, data: object, step: int | None = None) -> bool:
        if not self.stack:  # as tf.summary does without a default writer (Keras's batch_* calls per batch)
            return False
        self.stack[-1].scalar(name, data, 0 if step is None else step)
        return True

    def record_if(self, condition: object) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def tensorboard_callback(keras, log_dir: str):  # type: ignore[no-untyped-def]
    """``keras.callbacks.TensorBoard(log_dir)`` writing through tensorboardX (graphs need TensorFlow: off)."""
    callback = keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False)
    callback._summary_module = TFSummaryOnTensorBoardX()
    return callback
