"""Settings: declared once (type, default, what it means), loaded from TOML, overridable per run.

Every option lives in ``OPTIONS``; validation, the settings file's comments, ``quire status``
and the settings dialog all read that one table. Values come, last one winning, from the
defaults, ``settings.toml`` in the Quire home, and ``QUIRE_<SECTION>_<KEY>`` variables.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError

APP_NAME = "Quire"
SETTINGS_FILE = "settings.toml"

# Patterns always ignored, before the user's own (gitignore syntax). Editor temp and lock
# files are here so a save never indexes a half-written shadow copy.
DEFAULT_IGNORE: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", "node_modules/", "__pycache__/", ".venv/", "venv/", ".tox/",
    ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".cache/", ".Trash*/", "$RECYCLE.BIN/",
    ".DS_Store", "Thumbs.db", "desktop.ini",
    "~$*", "*.swp", "*.swo", "*.swx", "*~", "*.tmp", "*.temp", ".~lock.*", "*.part",
    "*.crdownload", "*.download", "#*#", ".#*", "*.pyc", "*.pyo", "*.o", "*.so", "*.dll",
    "*.exe", "*.class",
    # Machine-made text with nothing to read: minified bundles, source maps, lock files.
    "*.min.js", "*.min.css", "*.js.map", "*.css.map", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
    # macOS packages: folders the Finder shows as one file (apps, photo and media libraries with
    # 100,000s of thumbnails and databases, iWork documents Quire cannot read).
    "*.app/", "*.photoslibrary/", "*.photolibrary/", "*.aplibrary/", "*.musiclibrary/", "*.tvlibrary/",
    "*.imovielibrary/", "*.fcpbundle/", "*.logicx/", "*.band/", "*.lrdata/", "*.framework/",
    "*.xcodeproj/", "*.xcworkspace/", "*.pages/", "*.numbers/", "*.key/",
)


@dataclass(frozen=True)
class Option:
    section: str
    key: str
    kind: type  # str, int, float, bool or list (of str)
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None  # returns what is allowed when the value is bad
    needs_rebuild: bool = False  # a change invalidates the index

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"QUIRE_{self.section.upper()}_{self.key.upper()}"


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    allowed = " | ".join(f'"{c}"' for c in choices)
    return lambda v: None if v in choices else f"one of {allowed}"


def _int_range(lo: int, hi: int) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"a whole number from {lo} to {hi}"


def _float_range(lo: float, hi: float) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"a number from {lo:g} to {hi:g}"


def _http_url(v: str) -> str | None:
    try:
        u = urlparse(v)
        ok = u.scheme in ("http", "https") and bool(u.hostname)
        _ = u.port  # raises on a port out of range or not a number
    except ValueError:  # "http://[::1" (an IPv6 address left open)
        ok = False
    return None if ok else "an http:// or https:// URL such as http://127.0.0.1:11434"


def _gitignore_patterns(v: list[str]) -> str | None:
    """Each pattern must compile: a bad one ("[z-a]", a lone "\\") stopped every run with an
    'unexpected error' instead of being refused here by name."""
    if not v:
        return None
    import pathspec  # only when there are patterns to check

    for p in v:
        try:
            pathspec.PathSpec.from_lines("gitignore", [p])
        except Exception as exc:  # pathspec raises re.error, its own pattern error, ValueError...
            return f"gitignore patterns, and {p!r} is not one ({exc})"
    return None


def _non_empty(v: str) -> str | None:
    return None if v.strip() else "a non-empty name"


OPTIONS: tuple[Option, ...] = (
    Option("embedding", "backend", str, "fastembed",
           "Where vectors come from: in-process ONNX (fastembed), an Ollama embedding model, "
           "or none (keyword search only).", _one_of("fastembed", "ollama", "none"), needs_rebuild=True),
    Option("embedding", "model", str, "sentence-transformers/all-MiniLM-L6-v2",
           "The fastembed model name.", _non_empty, needs_rebuild=True),
    Option("embedding", "model_path", str, "",
           "A local folder holding the model's ONNX files; empty to download it on first use.",
           needs_rebuild=True),
    Option("embedding", "batch_size", int, 32, "Chunks embedded per batch.", _int_range(1, 1024)),
    Option("chunking", "chunk_size", int, 240,
           "Chunk length in tokens of the embedding model's tokenizer.", _int_range(32, 8192),
           needs_rebuild=True),
    Option("chunking", "chunk_overlap", int, 40,
           "Tokens shared by neighbouring chunks.", _int_range(0, 4096), needs_rebuild=True),
    Option("index", "ignore", list, [],
           "Extra gitignore-style patterns to skip (added to the built-in ones).", _gitignore_patterns),
    Option("index", "max_file_mb", float, 100.0,
           "Files larger than this many megabytes are listed as too large, not indexed.",
           _float_range(0.001, 100_000)),
    Option("index", "hidden", bool, False, "Index hidden files and folders (names starting with a dot)."),
    Option("index", "parse_timeout_s", float, 120.0,
           "Seconds one file may take to parse before it is given up.", _float_range(1, 3600)),
    Option("index", "parse_memory_mb", int, 2048,
           "Memory one parser process may use before the file is given up.", _int_range(128, 65536)),
    Option("index", "workers", int, 0,
           "Parser processes (0 = one per CPU core, less one for the embedding model).",
           _int_range(0, 64)),
    Option("ollama", "url", str, "http://127.0.0.1:11434", "The Ollama server.", _http_url),
    Option("ollama", "chat_model", str, "llama3.2", "The model that writes answers.", _non_empty),
    Option("ollama", "embed_model", str, "nomic-embed-text",
           "The embedding model when embedding.backend = \"ollama\".", _non_empty, needs_rebuild=True),
    Option("ollama", "timeout_s", float, 120.0,
           "Seconds to wait for the server before giving up.", _float_range(1, 3600)),
    Option("search", "mode", str, "hybrid",
           "hybrid (meaning + keywords) or keyword (BM25 only).", _one_of("hybrid", "keyword")),
    Option("search", "top_k", int, 8, "Passages returned by default.", _int_range(1, 200)),
)

OPTIONS_BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class EmbeddingSettings:
    backend: str = "fastembed"
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    model_path: str = ""
    batch_size: int = 32


@dataclass(frozen=True)
class ChunkingSettings:
    chunk_size: int = 240
    chunk_overlap: int = 40


@dataclass(frozen=True)
class IndexSettings:
    ignore: tuple[str, ...] = ()
    max_file_mb: float = 100.0
    hidden: bool = False
    parse_timeout_s: float = 120.0
    parse_memory_mb: int = 2048
    workers: int = 0

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def worker_count(self, embedding: bool = True) -> int:
        """Parser processes for a run. ``embedding``: a model embeds alongside and needs a core
        of its own; without one (backend "none") the parsers are the work, so one per core
        (the writer's thread needs a quarter of one: 6.9 -> 6.0 s on 29 MB, 2 cores)."""
        if self.workers:
            return self.workers
        cores = os.cpu_count() or 2
        return max(1, cores - 1) if embedding else cores


@dataclass(frozen=True)
class OllamaSettings:
    url: str = "http://127.0.0.1:11434"
    chat_model: str = "llama3.2"
    embed_model: str = "nomic-embed-text"
    timeout_s: float = 120.0


@dataclass(frozen=True)
class SearchSettings:
    mode: str = "hybrid"
    top_k: int = 8


@dataclass(frozen=True)
class Settings:
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    ollama: OllamaSettings = field(default_factory=OllamaSettings)
    search: SearchSettings = field(default_factory=SearchSettings)

    def get(self, name: str) -> Any:
        section, key = name.split(".", 1)
        value = getattr(getattr(self, section), key)
        return list(value) if isinstance(value, tuple) else value

    def with_values(self, values: Mapping[str, Any]) -> Settings:
        """A copy with ``{"section.key": value}`` applied, each value checked first."""
        merged = self.as_dict()
        for name, raw in values.items():
            opt = OPTIONS_BY_NAME.get(name)
            if opt is None:
                raise ConfigError(f"Unknown setting {name}.",
                                  "Known settings: " + ", ".join(OPTIONS_BY_NAME))
            merged[opt.section][opt.key] = _coerce(opt, raw)
        return _build(merged)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for f in fields(self):
            section = getattr(self, f.name)
            out[f.name] = {sf.name: _plain(getattr(section, sf.name)) for sf in fields(section)}
        return out

    def embedding_identity(self) -> dict[str, str]:
        """What the vectors depend on: changing any of it means re-embedding."""
        e = self.embedding
        if e.backend == "ollama":
            return {"backend": "ollama", "model": self.ollama.embed_model}
        if e.backend == "none":
            return {"backend": "none", "model": ""}
        return {"backend": "fastembed", "model": e.model}


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _toml_list(raw: str) -> list[str] | None:
    """A variable's value written as in settings.toml (``["*.log", "build/"]``), or None. Split
    at commas, that spelling became the patterns ``["*.log"`` and ``"build/"]``, which match
    nothing. A pattern that merely starts with a bracket (``[Bb]uild/``) is not a TOML list."""
    text = raw.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        v = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return None
    return v if isinstance(v, list) and all(isinstance(p, str) for p in v) else None


def _coerce(opt: Option, raw: Any) -> Any:
    """Turn a TOML or environment value into the option's type, or refuse it clearly."""
    v: Any = raw
    try:
        if opt.kind is bool:
            if isinstance(raw, str):
                low = raw.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
                v = low in ("1", "true", "yes", "on")
            elif not isinstance(raw, bool):
                raise ValueError
        elif opt.kind is int:
            if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            v = int(raw.strip()) if isinstance(raw, str) else int(raw)
        elif opt.kind is float:
            if isinstance(raw, bool):
                raise ValueError
            v = float(raw.strip()) if isinstance(raw, str) else float(raw)
        elif opt.kind is list:
            if isinstance(raw, str):
                v = _toml_list(raw)
                if v is None:
                    v = [p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()]
            elif isinstance(raw, list | tuple) and all(isinstance(p, str) for p in raw):
                v = list(raw)
            else:
                raise ValueError
        elif opt.kind is str:
            if not isinstance(raw, str):
                raise ValueError
            v = raw.strip()
    except (TypeError, ValueError):
        kind = {bool: "true or false", int: "a whole number", float: "a number",
                list: "a list of strings", str: "a string"}[opt.kind]
        raise ConfigError.bad_value(opt.name, raw, kind) from None
    if opt.check is not None:
        allowed = opt.check(v)
        if allowed:
            raise ConfigError.bad_value(opt.name, raw, allowed)
    return v


def _build(d: Mapping[str, Mapping[str, Any]]) -> Settings:
    e, c, i, o, s = (d["embedding"], d["chunking"], d["index"], d["ollama"], d["search"])
    if c["chunk_overlap"] >= c["chunk_size"]:
        raise ConfigError.bad_value("chunking.chunk_overlap", c["chunk_overlap"],
                                    f"less than chunking.chunk_size ({c['chunk_size']})")
    return Settings(
        embedding=EmbeddingSettings(**e),
        chunking=ChunkingSettings(**c),
        index=replace(IndexSettings(**{k: v for k, v in i.items() if k != "ignore"}),
                      ignore=tuple(i["ignore"])),
        ollama=OllamaSettings(**o),
        search=SearchSettings(**s),
    )


# --- paths ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Where Quire keeps things. ``QUIRE_HOME`` puts all of it in one folder."""

    config_dir: Path
    data_dir: Path

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if environ is None else environ
        home = env.get("QUIRE_HOME")
        if home:
            p = Path(home).expanduser().resolve()
            return cls(config_dir=p, data_dir=p)
        import platformdirs

        return cls(config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
                   data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILE

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def manifest_db(self) -> Path:
        return self.data_dir / "manifest.sqlite3"

    @property
    def roots_backup(self) -> Path:
        """The library's folders, kept beside the manifest to start a new one from."""
        return self.data_dir / "library-folders.json"

    @property
    def chats_db(self) -> Path:
        return self.data_dir / "chats.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "writer.lock"


def index_overrides(environ: Mapping[str, str] | None = None) -> list[Option]:
    """Options that shape the index and are set by a variable, for this run only."""
    env = os.environ if environ is None else environ
    return [o for o in OPTIONS if o.needs_rebuild and o.env in env]


def load_settings(paths: Paths, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then settings.toml, then QUIRE_<SECTION>_<KEY> variables."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    f = paths.settings_file
    if f.exists():
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read {f}: {exc}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{f} is not valid TOML: {exc}.", "Fix the file or delete it to use defaults.") \
                from None
        for section, table in doc.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{f}: [{section}] must be a table of settings.")
            for key, value in table.items():
                values[f"{section}.{key}"] = value
    for opt in OPTIONS:
        if opt.env in env:
            values[opt.name] = env[opt.env]
    return Settings().with_values(values)


def save_settings(paths: Paths, settings: Settings) -> None:
    """Write every option with its description as a comment, atomically."""
    lines = ["# Quire settings. Each option can be overridden for one run with",
             "# QUIRE_<SECTION>_<KEY>, e.g. QUIRE_EMBEDDING_BACKEND=none.", ""]
    import tomli_w

    current = settings.as_dict()
    for section in current:
        lines.append(f"[{section}]")
        for opt in (o for o in OPTIONS if o.section == section):
            lines.append(f"# {opt.help}")
            lines.append(tomli_w.dumps({opt.key: current[section][opt.key]}).rstrip())
        lines.append("")
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.settings_file.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, paths.settings_file)
