"""Walking folders: ignore rules, hidden files, symlinks that loop, dangle or leave the folder."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.config import IndexSettings
from app.core.scan import ScanEntry, Scanner, ScanProblem


def touch(p: Path, text: str = "x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def walk(root: Path, **settings) -> tuple[set[str], dict[str, str]]:
    found, problems = set(), {}
    for item in Scanner(IndexSettings(**settings)).walk([str(root)]):
        if isinstance(item, ScanEntry):
            found.add(os.path.relpath(item.path, root))
        else:
            assert isinstance(item, ScanProblem)
            problems[os.path.relpath(item.path, root)] = item.reason
    return found, problems


def test_default_and_user_ignore_rules(tmp_path):
    for rel in ["a.txt", ".git/HEAD", "node_modules/m/index.js", "src/__pycache__/x.pyc", "~$report.docx",
                "notes.txt.swp", ".~lock.sheet.ods#", "dl.part", "big.crdownload", "build/out.txt",
                "keep/build.txt", ".hidden.txt", ".config/app.toml", "x.tmp", "site/jquery.min.js",
                "site/app.js.map", "package-lock.json", "web/yarn.lock",
                "Photos Library.photoslibrary/database/Photos.sqlite.lock", "Safari.app/Contents/Info.plist",
                "Report.pages/Metadata/Properties.plist", "notes.app.txt"]:
        touch(tmp_path / rel)
    found, _ = walk(tmp_path, ignore=("build/",))
    assert found == {"a.txt", "keep/build.txt", "notes.app.txt"}  # a file named like a package is a file
    found, _ = walk(tmp_path, hidden=True)
    assert ".hidden.txt" in found and ".config/app.toml" in found and ".git/HEAD" not in found


def test_symlinks(tmp_path):
    root = tmp_path / "root"
    touch(root / "real.txt")
    outside = touch(tmp_path / "outside" / "secret.txt")
    os.symlink(root / "real.txt", root / "alias.txt")  # inside: read under its own name only
    os.symlink(outside, root / "escape.txt")  # leaves the folder: not followed
    os.symlink(tmp_path / "outside", root / "escape-dir")
    os.symlink(root / "missing", root / "dangling")
    os.symlink(root / "l2", root / "l1")
    os.symlink(root / "l1", root / "l2")
    (root / "d").mkdir()
    os.symlink(root, root / "d" / "up")  # a directory loop
    found, problems = walk(root)
    assert found == {"real.txt"}
    assert problems["dangling"] == "dangling symbolic link"
    assert "loop" in problems["l1"] and "loop" in problems["l2"]


def test_a_single_file_root_and_a_missing_root(tmp_path):
    f = touch(tmp_path / "todo.md")
    items = list(Scanner(IndexSettings()).walk([str(f), str(tmp_path / "gone")]))
    assert isinstance(items[0], ScanEntry) and items[0].path == str(f) and items[0].kind == "markdown"
    assert isinstance(items[1], ScanProblem) and "not found" in items[1].reason


def test_fast_ignore_matcher_agrees_with_pathspec():
    import itertools

    import pathspec

    from app.core.config import DEFAULT_IGNORE
    from app.core.scan import ignore_matcher

    names = ["a.txt", "x.swp", "~$doc.docx", ".#lock", "#auto#", "b.tmp", "lib.so", "notes.md", "deep", "top.txt",
             "x.so.txt", "gen"]
    dirs = ["", "src/", ".git/", "node_modules/", "pkg/__pycache__/", "build/", "keep/", "docs/", "docs/gen/",
            "src/a/tmp/", "x.swp/", "my.git/", "a/b/"]
    paths = [d + n for d, n in itertools.product(dirs, names)] + [d for d in dirs if d]
    for extra in ([], ["build/", "*.log"], ["*.md", "!keep/notes.md"],
                  ["/top.txt", "docs/*.md", "**/gen/**", "src/**/tmp", "a/b/", "*.so.*"]):
        spec = pathspec.PathSpec.from_lines("gitignore", [*DEFAULT_IGNORE, *extra])
        fast = ignore_matcher(spec)
        assert [fast(p) for p in paths] == [spec.match_file(p) for p in paths], extra


def test_the_walk_skips_exactly_what_pathspec_would(tmp_path):
    """The walk judges an entry by its name alone when every rule allows it (``name_matcher``),
    else by its relative path: either way the files it finds are those pathspec keeps, in
    folders pathspec does not skip."""
    import itertools

    import pathspec

    from app.core.config import DEFAULT_IGNORE
    from app.core.scan import name_matcher

    names = ["a.txt", "x.swp", "~$doc.docx", ".#lock", "b.tmp", "lib.so", "notes.md", "top.txt", "x.so.txt",
             "general", "build.txt", "Thumbs.db"]
    dirs = ["", "src/", ".git/", "node_modules/", "pkg/__pycache__/", "build/", "keep/", "docs/", "docs/gen/",
            "src/a/tmp/", "y.swp/", "my.git/", "a/b/", "deep/er/and/deeper/"]
    root = tmp_path / "root"
    for d, n in itertools.product(dirs, names):
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / n).write_text("x")
    for extra, name_level in (([], True), (["build/", "*.log", "*.md"], True), (["*.md", "!keep/notes.md"], False),
                              (["/top.txt", "docs/*.md", "**/gen/**", "src/**/tmp", "a/b/"], False)):
        settings = IndexSettings(ignore=tuple(extra), hidden=True)
        spec = pathspec.PathSpec.from_lines("gitignore", [*DEFAULT_IGNORE, *extra])
        assert (name_matcher(spec) is not None) == name_level, extra
        found = sorted(e.path for e in Scanner(settings).walk([str(root)]) if isinstance(e, ScanEntry))
        expected = []
        for dirpath, subdirs, files in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            subdirs[:] = [s for s in subdirs if not spec.match_file(rel_dir + s + "/")]
            expected += [os.path.join(dirpath, f) for f in files if not spec.match_file(rel_dir + f)]
        assert found == sorted(expected), extra


def test_the_name_matcher_agrees_with_pathspec_on_any_name():
    # Plain names and "*.ext" endings are judged by a set and str.endswith, the rest by a
    # regex: all must say what pathspec says, for files ("x") and folders ("x/").
    import random

    import pathspec

    from app.core.config import DEFAULT_IGNORE
    from app.core.scan import name_matcher

    pieces = ["a", "b", ".", "~", "$", "#", "-", "min", "js", "map", "tmp", "swp", "part", "git", "lock", "Trash",
              "DS_Store", "Thumbs", "db", "node_modules", "json", "package", "yarn", "log", "md", "ü", " "]
    rng = random.Random(3)
    names = [".DS_Store", "Thumbs.db", "package-lock.json", "yarn.lock", "x.min.js", "x.js.map", ".git", "venv",
             "a.log", "a.md", "notes.md~", ".~lock.x#", "~$x", "x.tmp", "X.TMP", ".Trash-1000", "$RECYCLE.BIN"]
    names += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 5))) for _ in range(3000)]
    for extra in ([], ["*.log", "build/", "Secret Notes.md", "*[0-9].txt", "draft?.md"]):
        spec = pathspec.PathSpec.from_lines("gitignore", [*DEFAULT_IGNORE, *extra])
        match = name_matcher(spec)
        assert match is not None
        for name in names:
            for entry in (name, name + "/"):
                assert match(entry) == spec.match_file(entry), (extra, entry)
