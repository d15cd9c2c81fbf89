"""The frozen program's entry point (packaging/quire.spec builds every executable from it).

One script, two behaviours, chosen by the executable's own name, so one PyInstaller
Analysis serves both:

* ``quire`` (console): the command line; with no arguments it opens the window, exactly
  like the ``quire`` entry point of a pip install (``app.cli:main``).
* ``quire-gui`` (windowed, Windows and macOS only): always the window, with no console.

``multiprocessing.freeze_support()`` must run first: the parse workers are started with
``spawn`` or ``forkserver``, which re-run this executable with special arguments, and
PyInstaller's hook diverts those runs here before any Quire code loads.
"""

import multiprocessing
import os
import sys


def _main() -> int:
    multiprocessing.freeze_support()
    exe = os.path.splitext(os.path.basename(sys.executable))[0].lower()
    if exe.endswith("-gui"):
        from app.__main__ import open_window

        return open_window()
    from app.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
