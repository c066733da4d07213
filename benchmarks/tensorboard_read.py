"""Throughput of dynamics' own event-file reader against the real writer: 10**6 scalars.

Writes one ``events.out.tfevents.*`` file with tensorboardX's
``EventFileWriter`` (the TFRecord framing and CRCs of the real writer) holding
``--scalars`` scalar events in the layout of TF2's ``tf.summary.scalar`` --
what ``keras.callbacks.TensorBoard`` writes: ``tensor { dtype: DT_FLOAT,
tensor_shape {}, tensor_content }`` with ``plugin_name: "scalars"`` --
spread over ``--tags`` tags (``--simple`` writes TF1's ``simple_value``
instead, tensorboardX's own ``add_scalar``). Then times, in this process:

1. the writer (building the protos, serializing, framing, CRCs, the file);
2. ``dynamics.sources.tfevents.read_scalars`` (every CRC checked, every value decoded),
   best of ``--repeat`` in wall time (and the least CPU time: on a shared
   machine the two differ), the file in the page cache;

and checks that the values read are the values written. Aim: <= 2 s to read
10**6 scalars.

Usage::

    python benchmarks/tensorboard_read.py [--scalars 1000000] [--tags 4] [--simple] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write(folder: str, n: int, tags: int, simple: bool) -> tuple[float, np.ndarray]:
    from tensorboardX.event_file_writer import EventFileWriter
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    values = np.random.default_rng(0).random(n).astype(np.float32)
    names = [f"epoch_metric_{i}" for i in range(tags)]
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    start = time.perf_counter()
    writer = EventFileWriter(folder, max_queue_size=1024, flush_secs=3600)
    for i, value in enumerate(values.tolist()):
        tag = names[i % tags]
        if simple:
            summary_value = Summary.Value(tag=tag, simple_value=value)
        else:
            tensor = TensorProto(dtype=1, tensor_shape=TensorShapeProto(),
                                 tensor_content=np.float32(value).tobytes())
            summary_value = Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        writer.add_event(Event(step=i // tags, wall_time=1.7e9 + i, summary=Summary(value=[summary_value])))
    writer.close()
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scalars", type=int, default=1_000_000)
    parser.add_argument("--tags", type=int, default=4)
    parser.add_argument("--simple", action="store_true", help="TF1 simple_value instead of TF2 tensors")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", help="write the file here and keep it; a file already there is read again "
                                      "(the writer is not timed then)")
    args = parser.parse_args()
    from dynamics.sources.tfevents import read_scalars

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or tmp
        Path(folder).mkdir(parents=True, exist_ok=True)
        if glob.glob(f"{folder}/events.out.tfevents.*"):
            write_s = float("nan")
            values = np.random.default_rng(0).random(args.scalars).astype(np.float32)
        else:
            write_s, values = write(folder, args.scalars, args.tags, args.simple)
        (path,) = glob.glob(f"{folder}/events.out.tfevents.*")
        size = Path(path).stat().st_size
        times, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            scalars = read_scalars(path)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        read = np.asarray(scalars.values, dtype=np.float32)
        assert not scalars.damage and read.shape == values.shape and np.array_equal(read, values), "values differ"
    layout = "simple_value (TF1)" if args.simple else "tensor_content (TF2)"
    best = min(times)
    print(f"{args.scalars:,} scalars, {args.tags} tags, {layout}: file {size / 1e6:.1f} MB")
    print(f"  tensorboardX writer   {write_s:6.2f} s")
    print(f"  dynamics read_scalars {best:6.2f} s  ({args.scalars / best / 1e6:.2f} M scalars/s, "
          f"{size / best / 1e6:.0f} MB/s; runs: {', '.join(f'{t:.2f}' for t in times)}; "
          f"CPU {min(cpu):.2f} s)")


if __name__ == "__main__":
    main()
