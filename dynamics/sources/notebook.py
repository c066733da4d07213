"""Training logs kept inside JSON: a Jupyter notebook, a Kaggle notebook's log.

``dynamics parse train.ipynb`` reads what ``model.fit`` printed into the
notebook's cell outputs (``stream`` outputs, and ``text/plain`` results);
Kaggle's "download log" is a JSON list of ``{"stream_name", "time",
"data"}`` records. Either is turned back into the text of the log, which
the printed-log parser reads as usual.
"""

from __future__ import annotations

from typing import Any


def _joined(text: Any) -> str:
    if isinstance(text, list):
        return "".join(t for t in text if isinstance(t, str))
    return text if isinstance(text, str) else ""


def embedded_log(obj: Any) -> str | None:
    """The printed output a notebook or a Kaggle log holds, or None for other JSON.

    >>> embedded_log({"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": ["Epoch 1/2\\n"]}]}]})
    'Epoch 1/2\\n'
    >>> embedded_log([{"stream_name": "stdout", "time": 3.1, "data": "Epoch 1/2\\n"}])
    'Epoch 1/2\\n'
    >>> embedded_log({"loss": [0.5]}) is None
    True
    """
    if isinstance(obj, dict) and isinstance(obj.get("cells"), list):
        pieces = []
        for cell in obj["cells"]:
            if not isinstance(cell, dict):
                continue
            for output in cell.get("outputs") or []:
                if not isinstance(output, dict):
                    continue
                if output.get("output_type") == "stream":
                    pieces.append(_joined(output.get("text")))
                elif isinstance(output.get("data"), dict):
                    pieces.append(_joined(output["data"].get("text/plain")))
                if pieces and not pieces[-1].endswith("\n"):
                    pieces.append("\n")  # outputs are separate lines
        return "".join(pieces)
    if isinstance(obj, list) and obj and all(isinstance(r, dict) and isinstance(r.get("data"), str) for r in obj):
        if all("stream_name" in r or "time" in r for r in obj):
            return "".join(r["data"] for r in obj)
    return None
