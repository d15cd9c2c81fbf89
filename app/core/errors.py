"""Errors a person can act on.

Every error Quire raises on purpose is a ``QuireError``: it carries one sentence for
the user and, where there is one, the action that fixes it. The CLI prints both and
exits non-zero; the window shows them in a dialog. Anything else is a bug and is
shown with its traceback and the log path.
"""

from __future__ import annotations


class QuireError(Exception):
    """Base of all expected failures. ``message`` says what is wrong, ``action`` what to do."""

    exit_code = 1

    def __init__(self, message: str, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action

    def __str__(self) -> str:
        return self.message

    def user_text(self) -> str:
        """The message and the fix, as one or two lines."""
        return f"{self.message}\n{self.action}" if self.action else self.message


class Cancelled(QuireError):
    """The user stopped the operation. Shown silently (or as 'Cancelled.')."""

    exit_code = 130

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class ConfigError(QuireError):
    """A setting has a value Quire cannot use."""

    exit_code = 2
    key = ""  # for a bad value: the setting and what it may be (the window says it in its own words)
    allowed = ""

    @classmethod
    def bad_value(cls, key: str, value: object, allowed: str) -> ConfigError:
        import os

        env = f"QUIRE_{key.upper().replace('.', '_')}"
        # Say where the value came from: a variable set for this run wins over the file.
        where = f"the {env} variable (it overrides settings.toml)" if env in os.environ else "settings.toml"
        err = cls(f"Setting {key} = {value!r} is not valid: {allowed}.", f"Fix {key} in {where}.")
        err.key, err.allowed = key, allowed
        return err


class UsageError(QuireError):
    """The command was asked for something that cannot be done (a missing path, say)."""

    exit_code = 2


class StoreError(QuireError):
    """The index on disk cannot be used."""


class StoreLockedError(StoreError):
    """Another process is writing to the index. Its own exit code (EX_TEMPFAIL), so a script
    can tell "try again later" from a failure."""

    exit_code = 75


class StoreCorruptError(StoreError):
    """The index or the manifest on disk is damaged."""


class ManifestCorruptError(StoreCorruptError):
    """The manifest (the list of folders and files) is damaged; ``quire rebuild --all`` sets it
    aside and starts a new one from the folders Quire remembers."""


class DiskFullError(StoreError):
    """The disk that holds the data folder has no room left. Nothing written is lost: rows are
    replaced per file and the manifest is written after them, so the next run goes on."""

    def __init__(self, where: str) -> None:
        super().__init__(f"The disk that holds {where} is full.",
                         "Free some space on it (or point QUIRE_HOME at a bigger disk), then run "
                         "`quire index` again: what was indexed so far is kept.")


_DISK_FULL_TEXTS = (
    "No space left on device", "os error 28",  # Linux, macOS (ENOSPC), as LanceDB's Rust reports it
    "not enough space on the disk", "os error 112", "os error 39",  # Windows: ERROR_DISK_FULL, HANDLE_DISK_FULL
    "disk is full",  # SQLite: "database or disk is full"
)


def is_disk_full(exc: BaseException) -> bool:
    """A full disk, from the OS, LanceDB or SQLite, on any platform."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc)
    return any(t in text for t in _DISK_FULL_TEXTS)


class IndexMismatchError(StoreError):
    """The index was built with other embedding or chunk settings than the current ones."""


class EmbeddingUnavailableError(QuireError):
    """The embedding model cannot be loaded (not downloaded, no network, bad path)."""


class ParseError(QuireError):
    """A file could not be turned into text. ``reason`` is a short, stable label."""

    reason = "unreadable"

    def __init__(self, message: str, action: str | None = None) -> None:
        super().__init__(message, action)


class UnsupportedFile(ParseError):
    reason = "unsupported"


class EncryptedFile(ParseError):
    reason = "encrypted"


class NoTextLayer(ParseError):
    reason = "no text"


class FileTooLarge(ParseError):
    reason = "too large"


class ParseTimeout(ParseError):
    reason = "timed out"


class DamagedFile(ParseError):
    reason = "damaged"


class UnreadableFile(ParseError):
    reason = "unreadable"


class OllamaError(QuireError):
    """Talking to the Ollama server failed."""


class OllamaUnreachable(OllamaError):
    """No server answers at the configured URL."""


class OllamaModelMissing(OllamaError):
    """The server answers but does not have the model."""


class OllamaServerError(OllamaError):
    """The server answered with an error."""


class OllamaTimeout(OllamaError):
    """The server did not answer in time."""


class OllamaStreamBroken(OllamaError):
    """The answer stream stopped halfway."""
