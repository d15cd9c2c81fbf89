"""Quire: ask questions of the files on your own computer."""

__version__ = "0.1.0"
