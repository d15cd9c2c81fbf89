"""Text in scripts written without spaces between words.

The keyword index splits words at spaces and punctuation, so a Chinese, Japanese or Thai
sentence is one "word" to it, and a search for a word inside it finds nothing. Such
passages are also indexed with a word splitter that knows those languages (ICU's, through
LanceDB); this says which passages need it. Korean is written with spaces and is left out.
"""

from __future__ import annotations

import re

# Ranges for a [...] class. Chinese and Japanese (kana, ideographs with their extensions and
# compatibility forms, half-width katakana), whose characters models' tokenizers take one by one:
CJK_CHARS = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff"
# ...and Thai, Lao, Myanmar and Khmer, written without spaces between words too.
SPACELESS_CHARS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff" + CJK_CHARS
_SPACELESS = re.compile(f"[{SPACELESS_CHARS}]")
_RUNS = re.compile(_SPACELESS.pattern + "+")


def spaceless_runs(text: str) -> list[str]:
    """The stretches of ``text`` in those scripts, e.g. ["书面通知"] for "termination 书面通知"."""
    return _RUNS.findall(text) if not text.isascii() else []


def spaceless(text: str) -> bool:
    """Whether ``text`` has any letters of a script written without spaces."""
    # Most passages are ASCII, and isascii() is a C loop: ~20 ms for 30,000 passages.
    return not text.isascii() and _SPACELESS.search(text) is not None
