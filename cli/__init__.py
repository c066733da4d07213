"""The ``dynamics`` command line (Typer). Commands delegate to the library."""
