"""Collection without the [train] extra: the doctests of modules that need Keras at import are left out.

``python -m pytest`` with only the base install collects everything else;
the Keras tests in ``tests/`` skip themselves (``pytest.mark.train``).
"""

from __future__ import annotations

import importlib
import importlib.util

from dynamics.errors import MissingDependencyError

#: The modules that may import Keras (tests/test_layers.py keeps every other module free of it).
KERAS_MODULES = ("callback", "callback_data", "capture", "datasets", "kerasenv", "synthetic", "training")


def _needs_keras(name: str) -> bool:
    try:
        importlib.import_module(f"dynamics.{name}")
    except (ImportError, MissingDependencyError):
        return True
    return False


collect_ignore = [] if importlib.util.find_spec("keras") else [
    f"dynamics/{name}.py" for name in KERAS_MODULES if _needs_keras(name)]
