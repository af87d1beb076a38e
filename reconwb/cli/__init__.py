"""The `reconwb` command: argument parsing and output only; the work is done by package functions.

Every command exits non-zero with one `error: ...` line on stderr for bad input and never prints a secret
(CONTRACTS.md). Command groups live in sibling modules, one per area, and register themselves on `cli`; a module
is imported only when one of its commands runs (`reconwb.cli.lazy`), so `reconwb --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from reconwb.cli.base import cli
from reconwb.errors import ReconwbError
from reconwb.redaction import redact, redact_exception, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and turn every failure into one redacted `error:` line and an exit code."""
    setup_logging(os.environ.get("RECONWB_LOG_LEVEL", "WARNING"))
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="reconwb", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        _error("aborted")
        return 130
    except click.ClickException as err:
        _error(err.format_message())
        return 2
    except ReconwbError as err:
        _error(redact_exception(err))
        return err.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as err:  # a bug: say so, without a traceback unless asked
        if os.environ.get("RECONWB_DEBUG"):
            import traceback

            sys.stderr.write(redact("".join(traceback.format_exception(err))))
        _error(f"internal error: {type(err).__name__}: {redact_exception(err)} (set RECONWB_DEBUG=1 for details)")
        return 1


def _error(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"error: {line}\n")


def entry() -> None:
    sys.exit(main())
