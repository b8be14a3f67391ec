"""The error hierarchy: every failure the library reports is a ``LedgerError``.

``FormatError``: bytes or text that cannot be decoded (malformed, non-canonical, over-size).
``VerificationError``: well-formed data that does not verify (bad signature, broken link, fork).
``StoreError``: the storage backend cannot do what was asked (missing file, locked, conflict).
``UsageError``: a request that is not valid whatever the data (bad argument, refused overwrite).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error raised by the ``ledger`` library."""


class FormatError(LedgerError):
    """Input cannot be decoded: malformed, non-canonical, truncated or too large."""


class VerificationError(LedgerError):
    """Input decodes but does not verify: a signature, link, hash or proof is wrong."""


class StoreError(LedgerError):
    """The store cannot be opened, read or written as asked."""


class UsageError(LedgerError):
    """A request that is invalid whatever the data: bad argument, refused overwrite."""
