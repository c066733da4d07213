"""``dynamics train``: the classic IMDB LSTM, recorded sample by sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train(
    dataset: Annotated[str, typer.Option(help="imdb (Keras's loader; needs imdb.npz or a network) or synthetic "
                                              "(generated, no download).")] = "synthetic",
    data: Annotated[str | None, typer.Option(help="A local imdb.npz (default: Keras's cache, "
                                                  "$KERAS_HOME or ~/.keras/datasets/imdb.npz).")] = None,
    pooling: Annotated[list[str] | None, typer.Option(help="LSTM output fed to the classifier: last (the original), "
                                                           "mean or max over all steps. Repeat to compare.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default 15 for imdb as in imdb_lstm.py, "
                                                    "10 for synthetic).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the (first) run; same seed, same predictions.")] = 0,
    seeds: Annotated[int, typer.Option(help="Number of runs, seeds SEED, SEED+1, ...")] = 1,
    validation: Annotated[str, typer.Option(help="test (the test set, as imdb_lstm.py) or split "
                                                 "(the last 10% of the training set).")] = "test",
    label_noise: Annotated[float, typer.Option(help="Fraction of training and validation labels to flip.")] = 0.0,
    max_samples: Annotated[int | None, typer.Option(help="Use at most this many samples of each split.")] = None,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 32,
    train_subset: Annotated[int, typer.Option(help="Training samples whose predictions are recorded "
                                                   "each epoch (0: none).")] = 1000,
    verbose: Annotated[int | None, typer.Option(help="Keras's verbose: 1 progress bar, 2 one line per epoch, "
                                                     "0 quiet (default: 1 on a terminal, else 2).")] = None,
    float32: Annotated[bool, typer.Option("--float32", help="Store float32 probabilities (default: float16 logits, "
                                                            "half the size, every loss kept to 0.008 nats).")] = False,
    data_parallel: Annotated[bool, typer.Option("--data-parallel", help="keras.distribution.DataParallel over "
                                                                        "every device (JAX).")] = False,
    out: Annotated[str, typer.Option(help="Folder for the run directories "
                                          "(<dataset>-<pooling>-seed<N>).")] = "runs",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace runs already recorded there.")] = False,
    report: Annotated[bool, typer.Option(help="Write report.html into each run directory when it finishes, "
                                              "and a comparison report when there are several runs.")] = True,
) -> None:
    """Train Keras's imdb_lstm.py model and record every validation prediction, every epoch."""
    from dynamics.keras.training import TrainConfig, default_verbose
    from dynamics.keras.training import train as run_training

    config = TrainConfig(
        dataset=dataset, data=data, poolings=tuple(pooling or ("last",)), epochs=epochs, seed=seed, seeds=seeds,
        validation=validation, label_noise=label_noise, max_samples=max_samples, batch_size=batch_size,
        verbose=default_verbose() if verbose is None else verbose, float32=float32, train_subset=train_subset,
        data_parallel=data_parallel, out=out, overwrite=overwrite,
    )
    paths = run_training(config, echo=lambda line: print(line, flush=True))
    if not report:
        return
    from dynamics.pipeline import run_reports
    from dynamics.report.writer import write_compare_report, write_report

    reports = []
    for path in paths:  # analyse each run once, for its own report and for the comparison
        reports += run_reports([path])
        print(f"report: {write_report(reports[-1:], path / 'report.html')}", flush=True)
    if len(reports) > 1:
        print(f"comparison: {write_compare_report(reports, Path(config.out) / 'compare.html')}", flush=True)
