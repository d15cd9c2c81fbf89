"""Parsers that misbehave on purpose, loaded by the parse workers ("module:function")."""

from __future__ import annotations

import os
import time

from app.core.parse import Section, parse_file


def hang_on_marker(path: str) -> list[Section]:
    """Parses normally, but never returns for files whose name contains 'hang'."""
    if "hang" in os.path.basename(path):
        while True:
            time.sleep(1)
    return parse_file(path)


def hang_holding_a_temp_file(path: str) -> list[Section]:
    """Like hang_on_marker, after making a temporary file (as the mail and compressed-file
    readers do) and writing its path to "<file>.where" for the test to look at."""
    if "hang" in os.path.basename(path):
        import tempfile

        fd, temp = tempfile.mkstemp(suffix=".pdf")
        os.write(fd, b"%PDF-1.4 half written")
        os.close(fd)
        with open(path + ".where", "w") as f:
            f.write(temp)
        while True:
            time.sleep(1)
    return parse_file(path)


def crash_on_marker(path: str) -> list[Section]:
    """Kills its own process (as a native crash would) on files named '*crash*'."""
    if "crash" in os.path.basename(path):
        os._exit(139)
    return parse_file(path)


def hog_on_marker(path: str) -> list[Section]:
    """Tries to allocate far past the memory cap on files named '*hog*'."""
    if "hog" in os.path.basename(path):
        blocks = []
        while True:
            blocks.append(bytearray(256 * 1024 * 1024))
    return parse_file(path)


def report_niceness(path: str) -> list[Section]:
    """The worker's own scheduling priority, as the file's text."""
    return [Section(f"niceness {os.getpriority(os.PRIO_PROCESS, 0)}", None)]


def slow(path: str) -> list[Section]:
    """Parses normally after 50 ms: a run long enough to be interrupted."""
    time.sleep(0.05)
    return parse_file(path)


def slightly_slow(path: str) -> list[Section]:
    """Parses normally after 2 ms: a folder of 1,500 notes takes a few seconds, however fast the
    machine, so a test can act on it while it is being indexed."""
    time.sleep(0.002)
    return parse_file(path)


def os_errors_on_marker(path: str) -> list[Section]:
    """Raises what reading can: PermissionError on '*denied*', a bad gzip stream (an OSError
    about the content, not the file) on '*badgz*'."""
    import gzip

    name = os.path.basename(path)
    if "denied" in name:
        raise PermissionError(13, "Permission denied", path)
    if "badgz" in name:
        raise gzip.BadGzipFile("Not a gzipped file (b'ab')")
    return parse_file(path)
