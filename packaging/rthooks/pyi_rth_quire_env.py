"""PyInstaller runtime hook: give the programs Quire starts the user's environment, not ours.

On Linux the bootloader puts the bundle's folder first in LD_LIBRARY_PATH (and keeps any
previous value in LD_LIBRARY_PATH_ORIG). The dynamic loader of this process has already
read it, so taking it back out changes nothing here; it only stops the file viewer that
xdg-open starts for "open this PDF at page 3", or `ollama serve`, from loading this
bundle's Qt, ICU or Arrow instead of their own. Quire's own helper processes (the parse
workers re-run this executable) get it set again by the bootloader.
"""

import os
import sys

if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    _orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _orig:
        os.environ["LD_LIBRARY_PATH"] = _orig
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
