"""What a report is made of: :mod:`dynamics.pipeline`, importable from here as before."""

from dynamics.pipeline import (  # noqa: F401 - re-exported
    CompareReport,
    RunReport,
    Source,
    compare_report,
    load_sources,
    run_report,
    run_reports,
)

__all__ = ["CompareReport", "RunReport", "Source", "compare_report", "load_sources", "run_report", "run_reports"]
