"""Explicit chunking: size and overlap from settings, counted in the embedding model's tokens.

Each parsed section (a page, a slide, a heading's body) is split on its own, so a chunk
never straddles two pages and its citation stays exact. The splitter (``splitter.py``) follows
llama-index's ``SentenceSplitter`` recipe at a fraction of its cost.
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
from .scripts import CJK_CHARS
from .splitter import TextSplitter

# Without a tokenizer: a word, a punctuation mark, or one Chinese or Japanese character (a
# sentence there is not one word; models' tokenizers count its characters).
_WORDISH = re.compile(rf"[{CJK_CHARS}]|[^\W{CJK_CHARS}]+|[^\w\s]")
_WORDISH_ASCII = re.compile(r"\w+|[^\w\s]")  # the same for ASCII, faster
# No real token covers more characters than this. A word the model's tokenizer reads as one
# unknown token (MiniLM's vocabulary has no Thai: a whole phrase is one [UNK]) counts as if
# it did, so a chunk stays a passage, not thousands of characters.
MAX_CHARS_PER_TOKEN = 10


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


def make_token_counter(tokenizer_file: str) -> TokenCounter:
    """Tokens in a text, counted by the embedding model's own tokenizer where there is one.

    The splitter counts every paragraph and every piece it cuts. For tokenizers whose
    pre-tokenizer never joins across whitespace (BERT's WordPiece, which MiniLM uses), a
    text's token count is the sum of its words' counts, so each distinct word is encoded
    once and remembered; this is checked on a sample when the counter is made, and a
    tokenizer that fails the check is asked for every piece instead. Without a tokenizer,
    words and punctuation marks are counted."""
    if not tokenizer_file:
        return TokenCounter(_by_words(_count_wordish), additive=True)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_file)
    tok.no_padding()
    tok.no_truncation()

    def exact(s: str) -> int:
        return len(tok.encode(s, add_special_tokens=False).ids)

    if all(_by_words(exact)(t) == exact(t) for t in _ADDITIVITY_SAMPLES):
        return TokenCounter(_by_words(lambda w: max(exact(w), len(w) // MAX_CHARS_PER_TOKEN)), additive=True)
    return TokenCounter(lambda s: max(exact(s), len(s) // MAX_CHARS_PER_TOKEN), additive=False)


def _count_wordish(word: str) -> int:
    n = len((_WORDISH_ASCII if word.isascii() else _WORDISH).findall(word))
    return max(n, len(word) // MAX_CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class TokenCounter:
    count: Callable[[str], int]
    additive: bool  # a text's count is the sum of its whitespace-separated words' counts

    def __call__(self, text: str) -> int:
        return self.count(text)


class _WordCounts(dict[str, int]):
    def __init__(self, count: Callable[[str], int]) -> None:
        super().__init__()
        self._count = count

    def __missing__(self, word: str) -> int:
        if len(self) > 200_000:  # bounded: a worker parses many files
            self.clear()
        n = self[word] = self._count(word)
        return n


def _by_words(count: Callable[[str], int]) -> Callable[[str], int]:
    cache = _WordCounts(count)
    get = cache.__getitem__
    return lambda s: sum(map(get, s.split()))


_ADDITIVITY_SAMPLES = (
    "The tenant may end the tenancy by giving two months' notice, in writing (see §4.2).",
    "Ünïcödé café naïve — “quoted” text; e-mail: a.b@example.org; 3.14159 x=y+z/2!",
    "def parse_file(path: str) -> list[Section]:\n    return [Section(text, None)]  # 日本語テキスト",
)


class Chunker:
    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec
        self.count = make_token_counter(spec.tokenizer_file)
        self._splitter = TextSplitter(self.count.count, spec.chunk_size, spec.chunk_overlap,
                                      additive=self.count.additive)

    def chunk(self, sections: Sequence[Section]) -> list[Chunk]:
        out: list[Chunk] = []
        for sec in sections:
            if not sec.text.strip():
                continue
            for piece in self._splitter.split(sec.text, self._budget(sec.heading)):
                out.append(Chunk(len(out), piece, sec.page, sec.heading))
        return out

    def _budget(self, heading: str) -> int:
        """What is embedded is the heading path and the text (``embed_text``), so the heading's
        tokens come out of the chunk's budget; a very long heading takes at most half."""
        size = self.spec.chunk_size
        return size if not heading else max(size - size // 2, size - self.count(heading))
