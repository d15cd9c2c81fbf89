"""Explicit chunking: size and overlap from settings, counted in the embedding model's tokens.

Each parsed section (a page, a slide, a heading's body) is split on its own, so a chunk
never straddles two pages and its citation stays exact. The splitter is llama-index's
``SentenceSplitter`` built from Quire's settings (never its global ``Settings``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import ChunkingSettings
from .errors import ConfigError
from .parse import Section

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """Everything a worker process needs to chunk exactly as the index expects."""

    chunk_size: int
    chunk_overlap: int
    tokenizer_file: str = ""  # a HuggingFace tokenizer.json; "" counts words and punctuation


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_no: int
    text: str
    page: int | None
    heading: str

    @property
    def embed_text(self) -> str:
        """What is embedded and hashed: the heading path gives a passage its context (its
        last part only when the text does not already open with it)."""
        return embed_text(self.heading, self.text)

    @property
    def text_hash(self) -> str:
        return text_hash(self.embed_text)


def embed_text(heading: str, text: str) -> str:
    if not heading:
        return text
    parts = heading.split(" > ")
    if text.startswith(parts[-1]):
        parts = parts[:-1]
    return " > ".join(parts) + "\n" + text if parts else text


def text_hash(s: str) -> str:
    return hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def model_max_tokens(model_dir: Path) -> int | None:
    """Tokens the model can take per input, less the [CLS]/[SEP] the tokenizer adds."""
    for name in ("tokenizer_config.json", "config.json"):
        f = model_dir / name
        if f.exists():
            try:
                cfg = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for key in ("max_length", "model_max_length", "max_position_embeddings"):
                v = cfg.get(key)
                if isinstance(v, int) and 0 < v < 1_000_000:
                    return v - 2
    return None


def check_chunking(settings: ChunkingSettings, max_tokens: int | None, model: str) -> None:
    """Refuse chunk sizes the embedding model would silently cut."""
    if max_tokens is not None and settings.chunk_size > max_tokens:
        raise ConfigError.bad_value(
            "chunking.chunk_size", settings.chunk_size,
            f"at most {max_tokens} tokens, the most the embedding model {model} can take")


def make_token_counter(tokenizer_file: str) -> Callable[[str], list[int]]:
    """The tokenizer ``SentenceSplitter`` counts with: the model's own where there is one.

    The splitter asks for the length of thousands of overlapping pieces per document. For
    tokenizers whose pre-tokenizer never joins across whitespace (BERT's WordPiece, which
    MiniLM uses), a text's token count is the sum of its words' counts, so each distinct word
    is encoded once and remembered; this is checked on a sample when the counter is made, and
    a tokenizer that fails the check is asked for every piece instead."""
    if not tokenizer_file:
        return lambda s: [0] * len(_WORDISH.findall(s))
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_file)
    tok.no_padding()
    tok.no_truncation()

    def exact(s: str) -> int:
        return len(tok.encode(s, add_special_tokens=False).ids)

    cache: dict[str, int] = {}

    def by_words(s: str) -> int:
        n = 0
        for w in s.split():
            c = cache.get(w)
            if c is None:
                if len(cache) > 200_000:  # bounded: a worker parses many files
                    cache.clear()
                c = cache[w] = exact(w)
            n += c
        return n

    count = by_words if all(by_words(t) == exact(t) for t in _ADDITIVITY_SAMPLES) else exact
    return lambda s: [0] * count(s)


_ADDITIVITY_SAMPLES = (
    "The tenant may end the tenancy by giving two months' notice, in writing (see §4.2).",
    "Ünïcödé café naïve — “quoted” text; e-mail: a.b@example.org; 3.14159 x=y+z/2!",
    "def parse_file(path: str) -> list[Section]:\n    return [Section(text, None)]  # 日本語テキスト",
)


class Chunker:
    def __init__(self, spec: ChunkSpec) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self.spec = spec
        self._splitter = SentenceSplitter(
            chunk_size=spec.chunk_size,
            chunk_overlap=spec.chunk_overlap,
            tokenizer=make_token_counter(spec.tokenizer_file),
            include_metadata=False,
            include_prev_next_rel=False,
        )

    def chunk(self, sections: Sequence[Section]) -> list[Chunk]:
        out: list[Chunk] = []
        for sec in sections:
            if not sec.text.strip():
                continue
            for piece in self._splitter.split_text(sec.text):
                piece = piece.strip()
                if piece:
                    out.append(Chunk(len(out), piece, sec.page, sec.heading))
        return out
