"""quire index's progress line on a terminal: files, chunks, rate, ETA."""

from __future__ import annotations

import io

import pytest

from app import cli
from app.core.types import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: now[0])
    return now


def last_line(out: Terminal) -> str:
    return out.getvalue().rsplit("\r\x1b[2K", 1)[-1]


def test_the_eta_counts_from_parsing_and_waits_for_a_real_rate(clock):
    out = Terminal()
    bar = cli.ProgressPrinter(out)
    bar(Progress("scan", files_total=260_000))
    clock[0] += 120  # a long scan of a big disk: not parsing time
    bar(Progress("parse", files_done=1, files_total=260_000, chunks_parsed=5))
    assert "ETA …" in last_line(out)  # one file in: it said "ETA 1215h55m"
    clock[0] += 10
    bar(Progress("parse", files_done=26_000, files_total=260_000, chunks_parsed=90_000))
    line = last_line(out)
    assert "26,000/260,000 files · 90,000 chunks" in line
    assert "ETA 1m30s" in line  # a tenth done in 10 s of parsing: 90 s to go (not 19m from the scan's start)
