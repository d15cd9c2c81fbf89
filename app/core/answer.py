"""Answers: numbered passages in, a streamed answer with citations out; passages alone without Ollama.

``answer()`` turns a follow-up into a standalone question (when there is history), retrieves
passages, fits as many whole passages as the model's context allows, numbers them [1]..[n],
streams the model's answer, and maps the answer's [n] back to the passages. When Ollama is
not running or lacks the model, it returns the best passages instead of failing, with a note
on how to get written answers.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .errors import (
    OllamaError,
    OllamaModelMissing,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
    UsageError,
)
from .ollama import MAX_CONTEXT, OllamaClient
from .types import CancelToken, Hit

CHARS_PER_TOKEN = 3.5  # ASCII: conservative (real tokenizers average ~4 chars per token in English)
# Other scripts, per UTF-8 byte: an English-first model's tokenizer spends up to ~2 tokens on a
# Chinese, Japanese or Thai character (3 bytes; SmolLM2 1.75-1.9, measured through Ollama) and
# ~0.75 on a Cyrillic one (2 bytes). Counted as ASCII, a Chinese passage came out at a sixth of
# its real size, and the prompt overflowed the model's context.
BYTES_PER_TOKEN_OTHER = 1.5
MESSAGE_OVERHEAD = 32  # chat template tokens around the messages
HISTORY_TURNS = 6  # turns of the conversation shown to the question rewriter
NO_ANSWER = "The documents do not contain the answer."

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages the user gives you, "
    "taken from their own files.\n"
    "- Use only what the passages say; do not add outside knowledge.\n"
    "- After each statement, cite the passage it comes from by its number in square brackets, "
    "like [1] or [2][3]. Cite only numbers that appear in the passages.\n"
    f"- If the passages do not contain the answer, say so plainly, starting with: {NO_ANSWER}\n"
    "- Be brief, and answer in the language of the question."
)

REWRITE_PROMPT = (
    "Rewrite the user's follow-up question as one standalone question that can be understood "
    "without the conversation: replace words like it, that, they or 'and for ...' with what they "
    "refer to. Keep names, numbers and terms. Reply with the rewritten question only."
)

Retrieve = Callable[[str, int], Sequence[Hit]]
Turn = tuple[str, str]  # (role, text), role "user" or "assistant"

def says_no_answer(text: str) -> bool:
    """The model said the passages do not hold the answer, as the prompt asks: first thing, after
    at most a short lead-in ("I'm sorry, but"); a made-up claim before it is still uncited."""
    at = text.lower().find(NO_ANSWER.lower().rstrip("."))
    return 0 <= at <= 24


UNCITED_NOTE = "The answer cites none of the passages; check it against them."


@dataclass(frozen=True)
class Source:
    """A passage as shown to the model: ``n`` is its number in the prompt and in the answer's [n]."""

    n: int
    path: str
    page: int | None
    text: str
    score: float
    heading: str = ""
    folder: str = ""
    also: tuple[str, ...] = ()  # other files holding the same passage (copies)

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path

    def as_json(self) -> dict[str, Any]:
        out = {"n": self.n, "path": self.path, "page": self.page, "text": self.text,
               "score": round(self.score, 6), "heading": self.heading}
        if self.also:
            out["also"] = list(self.also)
        return out

    @classmethod
    def from_hit(cls, n: int, hit: Hit, text: str | None = None) -> Source:
        return cls(n, hit.path, hit.page, hit.text if text is None else text, float(hit.score),
                   hit.heading, hit.folder, hit.also)


@dataclass(frozen=True)
class Answer:
    text: str  # the model's answer; "" in passages mode
    sources: tuple[Source, ...]  # answer mode: the passages cited, in order of first citation
    model: str
    seconds: float
    mode: str  # "answer" (written by the model) or "passages" (no model: the best passages)
    note: str = ""  # anything the reader should know (why there is no written answer, trimming, ...)
    action: str = ""  # in passages mode: what to do to get written answers
    retrieved: tuple[Source, ...] = ()  # every passage given to the model (or shown), numbered
    question: str = ""  # the standalone question used for retrieval

    def as_json(self) -> dict[str, Any]:
        return {"answer": self.text if self.mode == "answer" else None,
                "sources": [s.as_json() for s in self.sources],
                "model": self.model, "seconds": round(self.seconds, 3),
                "mode": self.mode, "note": self.note, "question": self.question}

    @property
    def uncited(self) -> tuple[Source, ...]:
        """A written answer that cites nothing: the passages its model was given, to check it by."""
        return self.retrieved if self.mode == "answer" and not self.sources else ()

    def stored_sources(self) -> list[dict[str, Any]]:
        """The sources a chat keeps with this answer. Passages given but not cited are kept too,
        marked ``"cited": False``, so that reading the chat later can show them."""
        cited = [s.as_json() | {"folder": s.folder} for s in self.sources]
        return cited or [s.as_json() | {"folder": s.folder, "cited": False} for s in self.uncited]


# --- prompt pieces -------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return math.ceil(ascii_chars / CHARS_PER_TOKEN + other_bytes / BYTES_PER_TOKEN_OTHER)


def answer_reserve(window: int) -> int:
    """Tokens kept free for the answer (also sent as num_predict, so the answer cannot overrun)."""
    return min(1024, max(128, window // 4))


def passage_block(source: Source) -> str:
    header = f"[{source.n}] {source.name}"
    if source.page is not None:
        header += f", page {source.page}"
    if source.heading:
        header += f" ({source.heading})"
    # One passage is one paragraph in the prompt, so blank lines separate passages only.
    body = re.sub(r"\n\s*\n+", "\n", source.text.strip())
    return f"{header}\n{body}"


def question_block(question: str) -> str:
    return f"Question: {question}\nAnswer from the passages above and cite them by number."


def fit_passages(hits: Sequence[Hit], question: str, window: int, reserve: int) -> tuple[list[Source], int]:
    """Number the hits that fit the window as whole passages; return them and how many were left out.

    Hits are taken in rank order; one that does not fit is skipped (a smaller one after it may
    fit). Only when not even one fits is the best one cut, at a word boundary, so there is
    always something to answer from.
    """
    fixed = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(question_block(question)) + MESSAGE_OVERHEAD
    budget = window - reserve - fixed
    chosen: list[Source] = []
    used = 0
    for hit in hits:
        source = Source.from_hit(len(chosen) + 1, hit)
        cost = estimate_tokens(passage_block(source)) + 2  # + the blank line between passages
        if used + cost <= budget:
            chosen.append(source)
            used += cost
    if not chosen and hits:
        first = Source.from_hit(1, hits[0], "")
        text = hits[0].text
        chars_per_token = len(text) / max(1, estimate_tokens(text))  # of this text, in its script
        room = max(200, int((budget - estimate_tokens(passage_block(first)) - 2) * chars_per_token))
        if len(text) > room:
            cut = text[:room]
            space = cut.rfind(" ")  # end on a whole word, unless that loses much (Chinese has no spaces)
            text = (cut[:space] if space > room * 0.8 else cut) + " …"
        chosen.append(Source.from_hit(1, hits[0], text))
    return chosen, len(hits) - len(chosen)


def build_messages(question: str, sources: Sequence[Source]) -> list[dict[str, str]]:
    passages = "\n\n".join(passage_block(s) for s in sources)
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n\n{passages}\n\n{question_block(question)}"}]


# [1], [2, 3], [1-3], and the forms small models also write: [Passage 2], 【1】.
CITATION = re.compile(r"[\[【]\s*(?:(?:passages?|sources?)\s*)?(\d+(?:\s*(?:,|;|-|–)\s*\d+)*)\s*[\]】]", re.I)


def citation_numbers(group: str) -> list[int]:
    """The numbers one citation names (its CITATION group): "2, 3" -> [2, 3], "1-3" -> [1, 2, 3]."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        ends = [int(x) for x in re.split(r"\s*[-–]\s*", part)]
        out.extend(range(ends[0], ends[-1] + 1) if len(ends) == 2 and 0 <= ends[1] - ends[0] <= 20 else ends)
    return out


def _all_cited(text: str) -> list[int]:
    return list(dict.fromkeys(n for m in CITATION.finditer(text) for n in citation_numbers(m.group(1))))


def cited_numbers(text: str, count: int) -> list[int]:
    """Numbers the text cites, in order of first citation, within 1..count."""
    return [n for n in _all_cited(text) if 1 <= n <= count]


def strip_citations(text: str) -> str:
    return re.sub(r"\s*" + CITATION.pattern, "", text, flags=re.I)


# --- follow-ups ----------------------------------------------------------------------------


def _turns(history: Sequence[Any]) -> list[Turn]:
    """History items as (role, text): tuples, dicts with role/content or text, or objects with .role/.text."""
    out: list[Turn] = []
    for item in history:
        if isinstance(item, tuple | list):
            role, text = str(item[0]), str(item[1])
        elif isinstance(item, Mapping):
            role, text = str(item.get("role", "")), str(item.get("text", item.get("content", "")) or "")
        else:
            role, text = str(getattr(item, "role", "")), str(getattr(item, "text", "") or "")
        if role in ("user", "assistant") and text.strip():
            out.append((role, text.strip()))
    return out


def rewrite_question(question: str, history: Sequence[Turn], client: OllamaClient, model: str,
                     cancel: CancelToken | None = None, options: Mapping[str, Any] | None = None) -> str | None:
    """Ask the model for a standalone version of a follow-up question; None if what it gives is not one."""
    lines = []
    for role, text in history[-HISTORY_TURNS:]:
        text = " ".join(strip_citations(text).split())
        lines.append(f"{'User' if role == 'user' else 'Assistant'}: {text[:600]}")
    messages = [{"role": "system", "content": REWRITE_PROMPT},
                {"role": "user", "content": "Conversation:\n" + "\n".join(lines)
                 + f"\n\nFollow-up question: {question}\n\nStandalone question:"}]
    out = client.chat_stream(messages, model=model, cancel=cancel, options=options).text
    line = next((ln.strip() for ln in out.splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.I)
    line = line.strip().strip("\"'“”").strip()
    return line if _is_rewrite(line, question) else None


# A reply that answers instead of rewriting ("The answer is ...", "I'm sorry ..."), or goes on
# past one sentence: a small model does this, and its words must not stand in for the user's.
_ANSWER_LIKE = re.compile(r"^(the answer\b|answer\s*:|i\b|i'm\b|sorry\b|as an ai\b)", re.I)
_SECOND_SENTENCE = re.compile(r"[.!?。！？]\s+\S")


def _is_rewrite(line: str, question: str) -> bool:
    if not 0 < len(line) <= max(300, 3 * len(question)):  # one that rambles is worse than none
        return False
    if _ANSWER_LIKE.match(line) or says_no_answer(line) or _SECOND_SENTENCE.search(line):
        return False
    # A question stays a question (an instruction such as "summarise the deposit terms" need not).
    return not question.rstrip().endswith(("?", "？")) or line.rstrip().endswith(("?", "？"))


def asked(question: str, standalone: str) -> str:
    """The question as the answer prompt gives it: the user's own words, and the standalone form
    of a follow-up (``and for the deposit?`` alone says nothing) when it differs."""
    return question if standalone == question else f"{question}\n(In full: {standalone})"


def _fallback_query(question: str, turns: Sequence[Turn]) -> str:
    """Without a model to rewrite a follow-up, search with the previous question as context."""
    previous = next((text for role, text in reversed(turns) if role == "user"), "")
    return f"{previous} {question}".strip() if previous else question


# --- the answer ------------------------------------------------------------------------------


# Failures before any of the answer is written: the passages found are shown instead, with
# the reason (down, no such model, too slow, or the server failed).
_NO_ANSWER_YET = (OllamaUnreachable, OllamaModelMissing, OllamaTimeout, OllamaServerError)


def answer(question: str, retrieve: Retrieve, client: OllamaClient, settings: Settings,
           on_token: Callable[[str], None] | None = None, cancel: CancelToken | None = None,
           history: Sequence[Any] = (), *, k: int | None = None, max_context: int = MAX_CONTEXT) -> Answer:
    """Answer ``question`` from the passages ``retrieve`` finds, streaming tokens to ``on_token``.

    Raises Cancelled when ``cancel`` fires, and the typed Ollama errors for a server error,
    a timeout or a broken stream. Ollama unreachable or the model missing is not an error:
    the result is then ``mode="passages"``.
    """
    t0 = time.monotonic()
    question = " ".join(question.split())
    if not question:
        raise UsageError("The question is empty.",
                         'Ask something, e.g. quire ask "What notice does the lease require?"')
    k = k or settings.search.top_k
    model = settings.ollama.chat_model
    cancel = cancel or CancelToken()
    turns = _turns(history)

    def passages(exc: OllamaError, hits: Sequence[Hit] | None, query: str) -> Answer:
        if hits is None:
            cancel.raise_if_cancelled()
            hits = retrieve(query, k)
        sources = tuple(Source.from_hit(i, h) for i, h in enumerate(hits, 1))
        return Answer("", sources, model, time.monotonic() - t0, "passages", exc.message, exc.action or "",
                      sources, query)

    try:
        ctx = client.context_length(model, cancel)
    except _NO_ANSWER_YET as exc:
        return passages(exc, None, _fallback_query(question, turns))
    notes = [ctx.note] if ctx.note else []
    window = min(ctx.tokens, max_context)
    reserve = answer_reserve(window)
    # The same num_ctx for every call: Ollama reloads the model when num_ctx changes.
    options = {"num_ctx": window, "num_predict": reserve}

    query = question
    rewritten: str | None = None
    if turns:
        try:
            rewritten = rewrite_question(question, turns, client, model, cancel, {**options, "num_predict": 128})
        except _NO_ANSWER_YET as exc:
            return passages(exc, None, _fallback_query(question, turns))
        query = rewritten or _fallback_query(question, turns)
    # The model is asked the user's question; a follow-up's standalone form comes with it (a
    # fallback query, two questions run together, is for the search only).
    prompt_question = asked(question, rewritten) if rewritten else question

    cancel.raise_if_cancelled()
    hits = list(retrieve(query, k))
    cancel.raise_if_cancelled()
    if not hits:
        return Answer("", (), model, time.monotonic() - t0, "passages",
                      "No passage in the library matches the question.",
                      "Ask with other words, or add the folder that holds the answer.", (), query)

    fitted, left_out = fit_passages(hits, prompt_question, window, reserve)
    if left_out:
        notes.append(f"{left_out} of {len(hits)} passages did not fit the model's {window}-token context.")
    streamed = False

    def token(piece: str) -> None:
        nonlocal streamed
        streamed = True
        if on_token is not None:
            on_token(piece)

    try:
        reply = client.chat_stream(build_messages(prompt_question, fitted), model=model, on_token=token,
                                   cancel=cancel, options=options)
    except _NO_ANSWER_YET as exc:
        if streamed:  # part of an answer is already shown: say it stopped, do not replace it
            raise
        return passages(exc, hits, query)

    text = reply.text
    if reply.cut_short:
        notes.append(f"The answer was cut off at the {reserve} tokens kept for it; a narrower question "
                     "gets a complete one.")
    stray = [n for n in _all_cited(text) if not 1 <= n <= len(fitted)]
    if stray:
        names = ", ".join(f"[{n}]" for n in stray)
        notes.append(f"The answer cites {names}, which {'is' if len(stray) == 1 else 'are'} not among the "
                     f"{len(fitted)} passages it was given.")
    by_n = {s.n: s for s in fitted}
    sources = tuple(by_n[n] for n in cited_numbers(text, len(fitted)))
    if not sources and not says_no_answer(text):  # (an answer that says so needs no note repeating it)
        notes.append(UNCITED_NOTE)
    return Answer(text.strip(), sources, model, time.monotonic() - t0, "answer", " ".join(notes), "",
                  tuple(fitted), query)
