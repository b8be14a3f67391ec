"""Storage backends behind one interface (``Store``); SQLite is the embedded default."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import UsageError
from ledger.store.base import Store, StoreWriter
from ledger.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store", "StoreWriter", "create_store", "open_store"]


def _path_of(location: str | Path) -> Path:
    text = str(location)
    if "://" in text and not text.startswith("file://"):
        raise UsageError(
            f"unsupported store location {text.split('://', maxsplit=1)[0]}://; "
            "give the path of a ledger file"
        )
    return Path(text.removeprefix("file://"))


def open_store(location: str | Path, *, readonly: bool = False) -> SqliteStore:
    """Open an existing store by path (``ledger.db``) or ``file://`` URL."""
    return SqliteStore.open(_path_of(location), readonly=readonly)


def create_store(location: str | Path) -> SqliteStore:
    """Create a new, empty store; refuses to overwrite anything."""
    return SqliteStore.create(_path_of(location))
