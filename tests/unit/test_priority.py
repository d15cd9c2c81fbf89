"""Background work runs below normal priority; the caller's other threads keep theirs."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from app.core.chunking import ChunkSpec
from app.core.parsepool import Parsed, ParsePool
from app.core.priority import NICE, lower_thread_priority

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")


@linux_only
def test_only_the_calling_thread_is_lowered_and_its_children_inherit_it():
    seen: dict[str, int] = {}
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def child() -> None:
        seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def background() -> None:
        assert lower_thread_priority()
        seen["self"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        t = threading.Thread(target=child)
        t.start()
        t.join()

    t = threading.Thread(target=background)
    t.start()
    t.join()
    assert seen["self"] == min(19, before + NICE) and seen["child"] == seen["self"]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # this thread untouched


@pytest.mark.skipif(not hasattr(os, "nice"), reason="POSIX niceness")
def test_background_parse_workers_run_below_normal_priority(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("anything")
    with ParsePool(ChunkSpec(200, 20), 1, 60, 2048, parser="tests.helpers.parsers:report_niceness",
                   background=True) as pool:
        (_, out), = list(pool.map([(1, str(f))]))
    assert isinstance(out, Parsed)
    assert int(out.chunks[0].text.split()[1]) >= NICE
