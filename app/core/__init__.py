"""Quire's core: indexing, search and answers. Never imports Qt (a test enforces it)."""
