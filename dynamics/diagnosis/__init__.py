"""Log-level finding producers used by :func:`dynamics.diagnose.diagnose`.

One module per topic; each has ``produce(ctx) -> list[Finding]``. They turn
the statistics of :mod:`dynamics.stats` into claims with their numbers and
never print.
"""
