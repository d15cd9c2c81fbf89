"""The watcher's coalescing rules, without a filesystem: when a run is due and what it is given."""

from __future__ import annotations

from app.core import watch as watch_mod
from app.core.watch import BURST_MAX_S, BURST_PATHS, LARGE_SET, MOVE_PAIR_S, _Dirty

ROOT = "/lib/docs"


def due(d: _Dirty, debounce: float = 0.4, max_delay: float = 1.5) -> float:
    at = d.due_at(debounce, max_delay)
    assert at is not None
    return at


def test_nothing_pending_is_never_due():
    assert _Dirty().due_at(0.4, 1.5) is None


def test_quiet_period_then_max_delay_bounds_a_steady_stream():
    d = _Dirty()
    d.add(ROOT, f"{ROOT}/log.txt")
    d.first, d.last, d.last_create = 100.0, 100.0, 0.0
    assert due(d) == 100.4  # 0.4 s of quiet after the last event
    d.last = 101.3  # events keep coming...
    assert due(d) == 101.5  # ...but never later than max_delay after the first


def test_creates_wait_for_the_other_half_of_a_cross_folder_move():
    d = _Dirty()
    d.add(ROOT, f"{ROOT}/moved-in.txt", created=True)
    d.first = d.last = d.last_create = 100.0
    assert due(d) == 100.0 + MOVE_PAIR_S


def test_a_burst_keeps_coalescing_but_is_bounded():
    d = _Dirty()
    for i in range(BURST_PATHS):
        d.add(ROOT, f"{ROOT}/copy/f{i}.txt")
    d.first, d.last, d.last_create = 100.0, 105.0, 0.0
    assert due(d) == 105.4  # still settling 5 s in: no forced run at 1.5 s
    d.last = 100.0 + BURST_MAX_S + 3
    assert due(d) == 100.0 + BURST_MAX_S


def test_urgent_requests_and_back_off():
    d = _Dirty()
    d.add(ROOT, f"{ROOT}/a.txt", urgent=True)
    assert due(d) == 0.0
    d.not_before = 50.0
    assert due(d) == 50.0


def test_both_ends_of_a_move_and_ancestors_coalesce():
    d = _Dirty()
    d.add(ROOT, f"{ROOT}/old/a.txt")
    d.add(ROOT, f"{ROOT}/tree")  # a directory: its contents are walked anyway
    for i in range(50):
        d.add(ROOT, f"{ROOT}/tree/sub/f{i}.txt")
    d.add(ROOT, f"{ROOT}/new/a.txt")
    d.add("/lib/other", "/lib/other/b.txt")
    assert d.take() == {ROOT: [f"{ROOT}/new/a.txt", f"{ROOT}/old/a.txt", f"{ROOT}/tree"],
                        "/lib/other": ["/lib/other/b.txt"]}
    assert d.due_at(0.4, 1.5) is None  # taken: nothing pending


def test_a_huge_change_becomes_a_folder_reconcile():
    d = _Dirty()
    for i in range(LARGE_SET + 1):
        d.add(ROOT, f"{ROOT}/checkout/f{i}.txt")
    d.add(ROOT, f"{ROOT}/later.txt")
    assert d.take() == {ROOT: [ROOT]}


def test_an_offline_root_is_dropped():
    d = _Dirty()
    d.add(ROOT, f"{ROOT}/a.txt")
    d.drop_root(ROOT)
    assert d.due_at(0.4, 1.5) is None and d.take() == {}


def test_cannot_watch_messages_name_the_setting(tmp_path):
    import errno

    from app.core.config import Paths, Settings
    from app.core.library import Library

    paths = Paths.default({"QUIRE_HOME": str(tmp_path / "home")})
    with Library.open(paths, Settings(), write=True) as lib:
        w = watch_mod.Watcher(lib, reconcile_every_s=300)
        assert "fs.inotify.max_user_watches" in w._cannot_watch(OSError(errno.ENOSPC, "inotify watch limit reached"))
        assert "fs.inotify.max_user_instances" in w._cannot_watch(OSError(errno.EMFILE, "x"))
        assert "every 60 s" in w._cannot_watch(OSError(errno.EIO, "Input/output error"))
