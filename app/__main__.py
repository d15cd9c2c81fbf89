"""`python -m app` / `quire` with no arguments opens the window; with arguments, the CLI."""

from __future__ import annotations

import sys


def open_window() -> int:
    try:
        from .ui.app import run
    except ImportError as exc:
        sys.stderr.write(f"The Quire window cannot start ({exc}).\n"
                         "  The command line works without it: quire --help\n")
        return 2
    return run()


def main() -> int:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while starting: nothing was done, no traceback to show
        return 130
    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
