"""How a run directory stores predictions: :mod:`dynamics.encoding`, importable from here as before."""

from dynamics.encoding import (  # noqa: F401 - re-exported
    COMPACT16,
    ENCODINGS,
    EPSILON,
    LOG_ENCODINGS,
    LOGIT16,
    LOGPROB16,
    PROBA16,
    PROBA32,
    Coded,
    EncodedEpochs,
    coded,
    decode,
    decode_table,
    encode,
    encoding_for,
    value_ranks,
)
from dynamics.encoding import __all__ as __all__  # noqa: F401
