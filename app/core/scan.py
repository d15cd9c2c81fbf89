"""Walk the library's folders: what files are there, cheaply (stat only, no contents).

Ignore rules are gitignore patterns relative to each library folder. Symlinks inside a
library folder are not followed: one to a place outside would leave the folder the user
chose, and what one inside points to is walked under its own name, the one the watcher hears
of changes by (a library folder may itself be a link). Each directory is entered once (by
device and inode). Anything that cannot be looked at becomes a ``ScanProblem`` with a
one-line reason; the walk goes on.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

import pathspec

from .config import DEFAULT_IGNORE, IndexSettings
from .parse import kind_of
from .paths import display, is_within


class ScanEntry(NamedTuple):
    """A file the walk found. A tuple, and ``kind`` worked out only when asked: a run that finds
    nothing changed makes one of these per file and looks at none of their kinds."""

    path: str
    size: int
    mtime_ns: int
    root: str

    @property
    def kind(self) -> str | None:
        """The format by extension; None: a known non-text type, listed as skipped."""
        return kind_of(self.path)


@dataclass(frozen=True, slots=True)
class ScanProblem:
    path: str
    root: str
    reason: str


# Kernel and device file systems: their "files" are live views of the running system (processes,
# devices, kernel settings), never documents, and some block or never end when read.
_PSEUDO_FS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "devfs", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
    "pstore", "bpf", "mqueue", "hugetlbfs", "fusectl", "configfs", "binfmt_misc", "efivarfs", "selinuxfs",
    "nsfs", "rpc_pipefs", "autofs", "fdescfs",
})
# macOS: the data volume appears a second time under /System/Volumes (every file twice).
_MACOS_SYSTEM = ("/dev", "/System/Volumes", "/private/var/vm", "/.vol")


@functools.cache
def system_dirs() -> tuple[str, ...]:
    """Folders never entered and never a library folder, even under one that holds them (a
    whole disk, "/"): where kernel and device file systems are mounted."""
    if sys.platform == "darwin":
        return _MACOS_SYSTEM
    if not sys.platform.startswith("linux"):
        return ()
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return ("/proc", "/sys", "/dev")
    out = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) >= 3 and parts[2] in _PSEUDO_FS:
            # Spaces and the like are octal escapes there ("/mnt/my\040disk").
            out.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1]))
    return tuple(dict.fromkeys(out))


def system_dir_of(path: str) -> str | None:
    """The system folder ``path`` is in, if any."""
    real = os.path.realpath(path)
    return next((d for d in system_dirs() if is_within(real, d)), None)


def build_ignore(settings: IndexSettings) -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitignore", [*DEFAULT_IGNORE, *settings.ignore])


_NAME = attrgetter("name")

# What pathspec puts before a pattern without a slash: "at the start, or after any slash".
_ANYWHERE = "^(?:.+/)?"


def ignore_matcher(spec: pathspec.PathSpec) -> Callable[[str], bool]:
    """``spec.match_file``, made fast for the usual case. pathspec tries each of the ~40 patterns
    in turn (60% of a no-change run over 5,000 files); without negations ("!pattern") a path
    is ignored when any pattern matches, which one regular expression answers at once. The
    patterns that may match at any depth share one ``(?:^|/)`` prefix instead of each trying
    ``(?:.+/)?`` at every slash (2.5x faster per path)."""
    pats = [p for p in spec.patterns if getattr(p, "include", None) is not None]
    regexes = [getattr(p, "regex", None) for p in pats]
    if not all(p.include for p in pats) or any(r is None or r.flags & ~re.UNICODE for r in regexes):
        return spec.match_file  # order matters with negations: let pathspec decide
    if not regexes:
        return lambda rel: False
    sources = [r.pattern for r in regexes if r is not None]
    anywhere = [s[len(_ANYWHERE):] for s in sources if s.startswith(_ANYWHERE)]
    rest = [f"(?:{s})" for s in sources if not s.startswith(_ANYWHERE)]
    if anywhere:
        rest.insert(0, "(?:^|/)(?:" + "|".join(anywhere) + ")")
    combined = re.compile("|".join(rest))
    return lambda rel: combined.search(rel) is not None


def name_matcher(spec: pathspec.PathSpec) -> Callable[[str], bool] | None:
    """For the walk: whether an entry is ignored, judged by its name alone ("a.tmp", or
    "build/" for a folder), when every rule can be judged so; else None.

    The walk never enters an ignored folder, so when no rule looks across a slash (no
    "docs/*.md", no "/top.txt", no "!keep"), a file's own name decides. Matching the name is
    2.5x faster than searching its whole relative path, 5x in a folder six levels down."""
    pats = [p for p in spec.patterns if getattr(p, "include", None) is not None]
    sources = [getattr(getattr(p, "regex", None), "pattern", None) for p in pats]
    if not all(p.include for p in pats) or any(s is None or not s.startswith(_ANYWHERE) for s in sources) or \
            any(p.regex.flags & ~re.UNICODE for p in pats):
        return None
    local = [s[len(_ANYWHERE):] for s in sources if s is not None]
    if not all(_name_local(s) for s in local):
        return None
    if not local:
        return lambda name: False
    # Most rules are a plain name (".DS_Store", "node_modules/") or "*" and a plain ending
    # ("*.tmp"): a set and str.endswith judge those without a regex (an alternation of ~50
    # patterns, each scanning the name, was most of a run that finds nothing changed).
    exact: set[str] = set()
    endings: list[str] = []
    starts: list[str] = []  # "~$*", ".#*": a name starting so, file or folder
    folder_starts: list[str] = []  # ".Trash*/": a folder's name starting so
    rest: list[str] = []
    star = "[^/]*"
    for src in local:
        folder_only = not src.endswith("(?:/|$)")
        body = src[:-len("(?:/|$)")] if not folder_only else src[:-1] if src.endswith("/") else None
        if body is None:
            rest.append(src)
        elif body.startswith(star) and (lit := _literal(body[len(star):])):
            endings += [lit + "/"] if folder_only else [lit, lit + "/"]
        elif body.endswith(star) and (lit := _literal(body[:-len(star)])):
            (folder_starts if folder_only else starts).append(lit)
        elif lit := _literal(body):
            exact.update([lit + "/"] if folder_only else [lit, lit + "/"])
        else:
            rest.append(src)
    suffixes, prefixes, folder_prefixes = tuple(endings), tuple(starts), tuple(folder_starts)
    rx = re.compile("|".join(f"(?:{s})" for s in rest)) if rest else None

    def ignored(name: str) -> bool:
        return (name in exact or name.endswith(suffixes) or name.startswith(prefixes)
                or (name.endswith("/") and name.startswith(folder_prefixes))
                or (rx is not None and rx.match(name) is not None))

    return ignored


_META = frozenset("\\.^$*+?{}[]|()")


def _literal(src: str) -> str | None:
    """The text a regex source matches when it is a plain string with escapes ("\\.tmp" ->
    ".tmp"); None if it has any operator."""
    out = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            if i + 1 >= len(src) or src[i + 1].isalnum():  # \d, \w...: a class, not a character
                return None
            out.append(src[i + 1])
            i += 2
            continue
        if ch in _META:
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def _name_local(src: str) -> bool:
    """Whether a rule's regex (less its "at any depth" prefix) reads one name: no slash but the
    one that ends a folder's name ("build/") or may follow it ("(?:/|$)")."""
    body = src.replace("[^/]", "")
    for end in ("(?:/|$)", "/"):
        if body.endswith(end):
            body = body[:-len(end)]
            break
    return "/" not in body


class Scanner:
    def __init__(self, settings: IndexSettings, exclude: Iterable[str | os.PathLike[str]] = ()) -> None:
        """``exclude``: folders never entered, whatever the rules say: Quire's own data and
        settings folders, which a library folder such as the home folder may contain (their log,
        lock and index files change with every run, so each run would find them changed)."""
        self.settings = settings
        self.ignore = build_ignore(settings)
        self._ignored = ignore_matcher(self.ignore)
        self._ignored_name = name_matcher(self.ignore)  # None: the rules need whole relative paths
        self._excluded: set[tuple[int, int]] = set()  # by device and inode: any spelling, any link
        for d in (*exclude, *system_dirs()):
            try:
                st = os.stat(d)
            except OSError:
                continue  # not made yet: nothing in it to skip
            self._excluded.add((st.st_dev, st.st_ino))

    def is_ignored(self, root: str, path: str, is_dir: bool = False) -> bool:
        """Whether ``path`` (inside ``root``) is skipped by the ignore rules or the hidden rule."""
        rel = os.path.basename(path) if path == root else _relative(root, path)
        if not self.settings.hidden and (rel.startswith(".") or "/." in rel) and \
                any(p.startswith(".") and p not in (".", "..") for p in rel.split("/")):
            return True
        return self._ignored(rel + "/" if is_dir else rel)

    def walk(self, roots: Iterable[str]) -> Iterator[ScanEntry | ScanProblem]:
        for root in roots:
            yield from self._walk_root(root, root)

    def walk_within(self, root: str, start: str) -> Iterator[ScanEntry | ScanProblem]:
        """What ``walk([root])`` yields at or below ``start``, a path inside ``root``, walking only
        that part (the watcher's runs). The ignore and hidden rules and the symlink boundary are
        the root's: judged from ``start``, an anchored pattern such as "/sub/" would skip
        "x/sub/" and its files would look deleted."""
        if start != root and self.is_ignored(root, start, is_dir=os.path.isdir(start)):
            return
        if start != root:
            parent = os.path.dirname(start)
            if parent != root and not _own_name(root, parent):
                return  # reached through a link: walked under its own name, as the whole walk does
            if os.path.islink(start):
                # As the whole walk: a link is not followed (one to a folder outside indexed that
                # folder; one to a folder inside, each file twice), and a dangling one is listed.
                try:
                    os.stat(start)
                except FileNotFoundError:
                    yield ScanProblem(start, root, "dangling symbolic link")
                except OSError as exc:
                    yield ScanProblem(start, root, _os_reason(exc))  # a loop, permission denied
                return
        yield from self._walk_root(root, start)

    def _walk_root(self, root: str, top: str) -> Iterator[ScanEntry | ScanProblem]:
        try:
            st = os.stat(top)
        except FileNotFoundError:
            yield ScanProblem(top, root, "folder not found (removed or unmounted?)")
            return
        except OSError as exc:
            yield ScanProblem(top, root, _os_reason(exc))
            return
        if stat.S_ISREG(st.st_mode):
            yield self._entry(top, root, st)
            return
        seen_dirs: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
        skip_hidden = not self.settings.hidden
        ignored = self._ignored
        by_name = self._ignored_name
        # Each folder carries its path relative to the root ("a/b/"), so the ignore rules see
        # the same relative path as ``is_ignored`` builds, without re-deriving it per file.
        # Hidden folders are never entered, so only an entry's own name can make it hidden.
        stack = [(top, "" if top == root else _relative(root, top) + "/")]
        while stack:
            d, rel_dir = stack.pop()
            try:
                with os.scandir(d) as it:
                    entries = sorted(it, key=_NAME)
            except OSError as exc:
                yield ScanProblem(d, root, _os_reason(exc))
                continue
            for e in entries:
                path = e.path
                name = e.name
                try:
                    is_link = e.is_symlink()
                    if is_link:
                        # Not followed: outside, it would leave the folder the user chose; inside,
                        # what it points to is walked under its own name (the one a change is
                        # reported by), not a second or first-sorting alias.
                        os.stat(path)
                        continue
                    est = e.stat(follow_symlinks=True)
                except FileNotFoundError:
                    if is_link:
                        yield ScanProblem(path, root, "dangling symbolic link")
                    continue  # vanished between listing and stat: nothing to index
                except OSError as exc:
                    yield ScanProblem(path, root, _os_reason(exc))  # a symbolic link loop among them
                    continue
                if skip_hidden and name.startswith("."):
                    continue
                if stat.S_ISDIR(est.st_mode):
                    rel = rel_dir + name + "/"
                    if by_name(name + "/") if by_name else ignored(rel):
                        continue
                    key = (est.st_dev, est.st_ino)
                    if key in seen_dirs or key in self._excluded:
                        continue  # a loop, a second way into a folder already walked, or Quire's own
                    seen_dirs.add(key)
                    stack.append((path, rel))
                elif stat.S_ISREG(est.st_mode):
                    if by_name(name) if by_name else ignored(rel_dir + name):
                        continue
                    yield ScanEntry(path, est.st_size, est.st_mtime_ns, root)
                # sockets, fifos, devices: never read

    def _entry(self, path: str, root: str, st: os.stat_result) -> ScanEntry:
        return ScanEntry(path, st.st_size, st.st_mtime_ns, root)


def _own_name(root: str, path: str) -> bool:
    """Whether ``path``, inside ``root``, names a file or folder by its own name: no link on the
    way below the root (the root itself may be one, as the user added it)."""
    real = os.path.realpath(path)
    return real == os.path.join(os.path.realpath(root), os.path.relpath(path, root))


def _relative(root: str, path: str) -> str:
    """``path`` relative to ``root``, with "/" between names, as the ignore rules read it."""
    if path.startswith(root) and path[len(root):len(root) + 1] == os.sep:
        rel = path[len(root) + 1:]
    else:
        rel = os.path.relpath(path, root)
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "not found"
    return exc.strerror or str(exc)


def describe(path: str) -> str:
    return display(path)
