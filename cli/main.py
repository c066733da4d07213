"""The ``dynamics`` Typer app: load -> diagnose -> report, and nothing else.

Every command goes through :func:`guarded`, the one error boundary: a
:class:`~dynamics.errors.DynamicsError` becomes a single ``error: ...`` line
on stderr and its exit code; any other exception becomes a single
``internal error`` line (exit 1) instead of a traceback. Command modules
import the library inside their functions so ``dynamics --help`` stays fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from dynamics.errors import DynamicsError

app = typer.Typer(
    name="dynamics",
    help="Why does training loss fall while val_accuracy wanders and val_loss climbs? "
    "Parse Keras logs, diagnose them, record and explain training runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Keep ``dynamics`` a command group even while it has a single command."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` as one line on stderr; return the Exit to raise."""
    line = " ".join(str(message).split())
    try:
        print(f"error: {line}", file=sys.stderr)
    except (BrokenPipeError, OSError):
        pass
    return typer.Exit(code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that no traceback ever reaches the user."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):  # how a command ends on purpose (usage errors never reach here)
            raise
        except DynamicsError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            # The reader went away (``dynamics parse log | head``): not an error.
            try:
                sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - silence the flush at exit
            except OSError:
                pass
            raise typer.Exit(0) from None
        except MemoryError:
            raise fail("out of memory", 1) from None
        except Exception as exc:  # the boundary: a bug, still no traceback
            raise fail(f"internal error ({type(exc).__name__}: {exc}); please report it", 1) from None

    return wrapper


def _register() -> None:
    from cli import analyze_cmd, compare_cmd, parse_cmd, report_cmd, train_cmd

    app.command("parse")(guarded(parse_cmd.parse))
    app.command("analyze")(guarded(analyze_cmd.analyze))
    app.command("report")(guarded(report_cmd.report))
    app.command("compare")(guarded(compare_cmd.compare))
    app.command("train")(guarded(train_cmd.train))


_register()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
