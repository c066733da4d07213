"""``dynamics parse SOURCE``: print the epoch table(s) a log holds."""

from __future__ import annotations

from typing import Annotated

import typer


def parse(
    source: Annotated[str, typer.Argument(help="Log file, CSVLogger file, History JSON, run directory, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Parse a training log into epoch tables."""
    from dynamics.io import load_runs

    runs = load_runs(source)
    if as_json:
        import json

        from dynamics.run import runs_to_json_dict

        print(json.dumps(runs_to_json_dict(runs), indent=1, allow_nan=False))
    else:
        for run in runs:
            print(run.epochs.to_string())
