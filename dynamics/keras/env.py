"""Import Keras with a working backend, or say in one line how to get one.

Keras itself defaults to TensorFlow, reads ``~/.keras/keras.json`` and fails
to import in an environment that has only JAX (see
docs/backends.md#why-jax-is-the-default). dynamics trains on JAX unless told otherwise: ``KERAS_BACKEND`` is
respected when set, and otherwise set to ``"jax"`` *before* Keras is first
imported. Nothing here imports Keras at module import time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

from dynamics.errors import MissingDependencyError

DEFAULT_BACKEND = "jax"
INSTALL_HINT = "pip install -e '.[train]'"
#: The package each Keras backend needs.
_BACKEND_PACKAGE = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch", "numpy": "numpy"}


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _configured_backend() -> str | None:
    """The backend named in Keras's config file, if any (Keras's own lookup)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        backend = json.loads(Path(home, "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return backend if isinstance(backend, str) else None


def choose_backend(*, respect_config: bool = False) -> str:
    """Set ``KERAS_BACKEND`` (if Keras is not imported yet) and return the backend.

    Parameters
    ----------
    respect_config : bool
        Also keep the backend of ``keras.json`` when its package is installed
        (the callback, which runs in the user's own program, does this); the
        trainer uses JAX unless ``KERAS_BACKEND`` says otherwise.
    """
    if sys.modules.get("keras") is not None:
        import keras

        return keras.backend.backend()
    chosen = os.environ.get("KERAS_BACKEND")
    if not chosen:
        configured = _configured_backend() if respect_config else None
        if configured and _installed(_BACKEND_PACKAGE.get(configured, configured)):
            chosen = configured
        else:
            chosen = DEFAULT_BACKEND
        os.environ["KERAS_BACKEND"] = chosen
    return chosen


def import_keras(*, respect_config: bool = False) -> ModuleType:
    """Import Keras 3 on a backend that is installed.

    Raises
    ------
    MissingDependencyError
        Keras, Keras 3, or the chosen backend's package is not installed;
        the message says what to install.
    """
    if sys.modules.get("keras") is None:
        if not _installed("keras"):
            raise MissingDependencyError(f"training needs Keras 3 and JAX, which are not installed: {INSTALL_HINT}")
        backend = choose_backend(respect_config=respect_config)
        package = _BACKEND_PACKAGE.get(backend, backend)
        if not _installed(package):
            raise MissingDependencyError(
                f"Keras backend {backend!r} (KERAS_BACKEND={backend}) is not installed: "
                f"pip install {package}, or unset KERAS_BACKEND to use JAX ({INSTALL_HINT})"
            )
    try:
        import keras
    except ImportError as exc:  # a broken install: say which module is missing
        raise MissingDependencyError(f"Keras failed to import ({exc}); reinstall with {INSTALL_HINT}") from None
    major = int(str(getattr(keras, "__version__", "0")).split(".")[0] or 0)
    if major < 3:
        raise MissingDependencyError(
            f"dynamics needs Keras 3, found Keras {keras.__version__}: pip install 'keras>=3.5'"
        )
    return keras


def backend_version(backend: str) -> str | None:
    """Version of the backend's package, if it is imported."""
    module = sys.modules.get(_BACKEND_PACKAGE.get(backend, backend))
    return getattr(module, "__version__", None) if module is not None else None
