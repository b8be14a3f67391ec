"""Writing published bundles: ``publish_bundle`` (the campaign's), ``fetch_bundle`` (a mirror).

The files and their content are defined in ``ledger.bundle_read``; here they are written.
Publishing again updates a bundle incrementally: tiles and entry bundles never change once
written (an existing one must hold the same bytes, or publishing fails: a fork), and those the
bundle's previous checkpoint already covered are only checked to be present, so the cost of the
tlog part grows with the new entries. The views describe the whole list and are regenerated.

Order, for crash safety: every write is atomic (temporary name in the same directory, fsync,
rename). Tiles, entry bundles, ``statement.txt`` and ``log.pub`` come first and their
directories are synced; then the ``checkpoint`` is replaced: the commit point; then the views
that describe it; last, partial tiles made obsolete by a full tile are removed. A crash before
the commit point leaves the previous bundle intact and verifying (files it does not reference
are ignored); a crash after it leaves views that ``ledger verify`` reports as stale until the
next publish. The checkpoint cannot come after the views: the views of a new checkpoint beside
the old checkpoint would make the old bundle fail to verify.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

from ledger import merkle
from ledger.audit import LedgerSource, check_source
from ledger.bundle_read import (
    CHECKPOINT,
    DEFAULT_TIMEOUT,
    ENTRIES_JSON,
    FIXED_FILES,
    INDEX_HTML,
    LOG_PUB,
    MAX_CHECKPOINT_BYTES,
    MAX_LOG_PUB_BYTES,
    MAX_STATEMENT_BYTES,
    README,
    STATEMENT,
    BundleSource,
    DirectoryFetcher,
    Fetcher,
    MissingFileError,
    check_bundle,
    entries_json_head,
    entries_json_row,
    entries_json_tail,
    iter_index,
    log_pub_file,
    open_fetcher,
    published_report,
    read_file,
    render_readme,
    statement_file,
    view_limit,
)
from ledger.campaign import Ledger
from ledger.errors import FormatError, LedgerError, StoreError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import open_checkpoint, parse_checkpoint, parse_note
from ledger.store import SqliteStore
from ledger.tiles import (
    EntryBundle,
    HashTile,
    encode_entry_bundle,
    encode_tile,
    entry_bundles_for_size,
    parse_tile_path,
    tile_nodes,
    tiles_for_size,
)
from ledger.verify import Report

# ---------------------------------------------------------------------------------------------
# the directory


class BundleDirectory:
    """A bundle directory being written: only bundle paths, every write atomic and synced."""

    def __init__(self, root: str | Path) -> None:
        """Open (creating it if needed) the directory.

        Raises:
            StoreError: it cannot be created, or is not a directory.
        """
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
            self.root = Path(root).resolve(strict=True)
        except OSError as exc:
            raise StoreError(f"cannot create {root}: {exc.strerror or exc}") from None
        if not self.root.is_dir():
            raise StoreError(f"{root} is not a directory")
        self.written: list[str] = []
        self.unchanged = 0
        self._dirty: set[Path] = set()

    def target(self, relative: str, *, create: bool = False) -> Path:
        """The file of a bundle path; nothing but a bundle path is accepted.

        Args:
            relative: a fixed file name or a canonical tile path.
            create: create the directories on the way.

        Raises:
            FormatError: not a bundle path. StoreError: a directory on the way leads outside
                the bundle, or cannot be created.
        """
        if relative not in FIXED_FILES:
            parse_tile_path(relative)  # FormatError for anything but a canonical tile path
        path = self.root / relative
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            inside = path.parent.resolve().is_relative_to(self.root)
        except OSError as exc:
            raise StoreError(f"{path.parent}: {exc.strerror or exc}") from None
        if not inside:
            raise StoreError(f"{relative}: a link leads out of {self.root}; refusing to use it")
        return path

    def read(self, relative: str, limit: int) -> bytes | None:
        """A bundle file's bytes, or None if it does not exist.

        Raises:
            StoreError: not a regular file, unreadable, or larger than ``limit``.
        """
        data = self._peek(relative, limit)
        if data is not None and len(data) > limit:
            raise StoreError(f"{self.root / relative} is larger than {limit} bytes")
        return data

    def exists(self, relative: str) -> bool:
        """True if the bundle path is a regular file."""
        return self.target(relative).is_file()

    def put(self, relative: str, data: bytes, *, immutable: bool = False) -> bool:
        """Write a file unless it already holds ``data``; True if written.

        Args:
            relative: the bundle path.
            data: its bytes.
            immutable: a tile or entry bundle: an existing different file is an error. In an
                append-only log a tile's bytes are fixed by its path, partial ones included
                (the first W hashes at a level never change), so a difference is a fork.

        Raises:
            VerificationError: ``immutable`` and the file holds other bytes.
            StoreError: the file cannot be read or written.
        """
        existing = self._peek(relative, len(data))
        if existing == data:
            self.unchanged += 1
            return False
        if existing is not None and immutable:
            raise VerificationError(
                f"{relative}: the bundle in {self.root} holds different bytes for this tile, "
                "which must never change: refusing to overwrite it (another ledger's bundle, "
                "or a rewritten history?)"
            )
        self.commit(self.stage(relative, [data]), relative)
        return True

    def _peek(self, relative: str, limit: int) -> bytes | None:
        """Up to ``limit + 1`` bytes of a regular file (None if missing): enough to compare."""
        path = self.target(relative)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(f"{path} is not a regular file")
            try:
                return handle.read(limit + 1)
            except OSError as exc:
                raise StoreError(f"{path}: {exc.strerror or exc}") from None

    def put_stream(self, relative: str, chunks: Iterable[bytes]) -> bool:
        """Write a file from chunks unless it already holds the same bytes; True if written.

        Raises:
            StoreError: the file cannot be read or written.
        """
        digest = hashlib.sha256()
        temp = self.stage(relative, _tee(chunks, digest))
        if _file_digest(self.target(relative)) == digest.digest():
            temp.unlink()
            self.unchanged += 1
            return False
        self.commit(temp, relative)
        return True

    def remove_partials(self, tile: HashTile | EntryBundle) -> list[str]:
        """Remove the partial versions of a tile that is now full; returns their paths."""
        folder = self.target(f"{tile.path}.p/1").parent  # a path built from numbers only
        removed: list[str] = []
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            return removed
        except OSError as exc:
            raise StoreError(f"{folder}: {exc.strerror or exc}") from None
        for name in names:
            relative = f"{tile.path}.p/{name}"
            try:
                parse_tile_path(relative)
            except FormatError:
                continue  # not ours: left alone
            try:
                (folder / name).unlink()
            except OSError as exc:
                raise StoreError(f"{folder / name}: {exc.strerror or exc}") from None
            removed.append(relative)
        self._dirty.add(folder)
        try:
            folder.rmdir()
        except OSError:
            pass  # something else lives there: it stays
        else:
            self._dirty.add(folder.parent)
        return removed

    def remove_written(self) -> None:
        """Remove every file written so far (they were new: ``put`` never replaces a tile).

        Raises:
            StoreError: a file cannot be removed.
        """
        for relative in self.written:
            try:
                self.target(relative).unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot remove {relative}: {exc.strerror or exc}") from None
        self.written.clear()

    def sync(self) -> None:
        """Make the renames so far durable (fsync every directory written to).

        Raises:
            StoreError: a directory cannot be synced.
        """
        for folder in sorted(self._dirty):
            try:
                fd = os.open(folder, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot sync {folder}: {exc.strerror or exc}") from None
            try:
                os.fsync(fd)
            except OSError as exc:
                raise StoreError(f"cannot sync {folder}: {exc.strerror or exc}") from None
            finally:
                os.close(fd)
        self._dirty.clear()

    def stage(self, relative: str, chunks: Iterable[bytes]) -> Path:
        """Write a file under a temporary name beside its target and fsync it.

        Returns:
            The temporary file: ``commit`` renames it into place; the caller removes it
            otherwise. An error while writing (from ``chunks`` too) removes it.

        Raises:
            StoreError: it cannot be written.
        """
        target = self.target(relative, create=True)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            # 0o666 less the umask, like any new file: a web server must be able to read it.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
            raise
        return temp

    def commit(self, temp: Path, relative: str) -> None:
        """Rename a staged file into place, atomically (the temporary file is gone after).

        Raises:
            StoreError: the rename fails.
        """
        target = self.target(relative)
        try:
            os.replace(temp, target)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
            raise
        self.written.append(relative)
        self._dirty.add(target.parent)


def _tee(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _file_digest(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------
# publishing


@frozen
class PublishResult:
    """What ``publish_bundle`` did.

    Attributes:
        directory: the bundle directory.
        size, root: the published checkpoint's size and root.
        previous_size: the size of the bundle's checkpoint before (0 for a new bundle).
        signed_checkpoint: True if a new checkpoint was signed, False if the latest was reused.
        written: every bundle path written, in order.
        unchanged: files that already held the right bytes and were left alone.
        removed: partial tiles removed because their full tile now exists.
    """

    directory: str
    size: int
    root: bytes
    previous_size: int
    signed_checkpoint: bool
    written: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]

    @property
    def tiles_written(self) -> int:
        """Hash tiles written (full and partial)."""
        return sum(1 for p in self.written if p.startswith("tile/") and "/entries/" not in p)

    @property
    def entry_bundles_written(self) -> int:
        """Entry bundles written (full and partial)."""
        return sum(1 for p in self.written if p.startswith("tile/entries/"))

    @property
    def files_written(self) -> int:
        """Other files written (checkpoint, statement.txt, views...)."""
        return sum(1 for p in self.written if not p.startswith("tile/"))


class _LedgerPrefix:
    """The first ``size`` entries of a store, with the checkpoint being published."""

    def __init__(self, store: SqliteStore, size: int, note: bytes) -> None:
        self._store, self._size, self._note = store, size, note.decode("utf-8")

    def size(self) -> int:
        return self._size

    def entry(self, seq: int) -> bytes:
        return self._store.entry(seq)

    def leaf_hash(self, seq: int) -> bytes:
        return self._store.leaf_hash(seq)

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        return self._store.iter_entries(start, self._size if end is None else end)

    def subtree_hash(self, level: int, index: int) -> bytes:
        return self._store.subtree_hash(level, index)

    def latest_checkpoint(self) -> str | None:
        return self._note


def publish_bundle(
    book: Ledger,
    directory: str | Path,
    *,
    log_key: SigningKey | None = None,
    now: int | None = None,
) -> PublishResult:
    """Write or update the published bundle of ``book`` in ``directory``.

    Args:
        book: the ledger (it must verify; nothing is published otherwise).
        directory: the bundle directory (created if missing).
        log_key: the log key, needed only when the ledger grew since its latest checkpoint:
            then a new checkpoint is signed and recorded. Otherwise the latest checkpoint is
            published as it is, with the witness cosignatures collected for it.
        now: the new checkpoint's record time (default: the clock).

    Returns:
        What was written.

    Raises:
        UsageError: a new checkpoint is needed and no log key was given, or the directory
            holds another ledger's bundle or a larger checkpoint than the one published.
        VerificationError: the ledger does not verify, the bundle holds a different history
            (its checkpoint or a full tile disagrees with the ledger).
        StoreError: a file cannot be written.
    """
    note, signed = _fresh_checkpoint(book, log_key, now)
    size = parse_checkpoint(parse_note(note).text).size
    source: LedgerSource = _LedgerPrefix(book.store, size, note)
    report = check_source(source)
    if not report.ok or report.genesis is None or report.checkpoint is None:
        first = report.problems[0] if report.problems else "no verified checkpoint"
        raise VerificationError(
            f"refusing to publish {book.store.location}: it does not verify ({first}); "
            "run `ledger verify` on it"
        )
    out = BundleDirectory(directory)
    previous = _previous_size(out, book, size)
    # Full tiles already in the bundle's checkpoint are in place and never change: only their
    # presence is checked (a stat), so the cost grows with the new entries.
    old_tiles = {t for t in tiles_for_size(previous) if t.full}
    old_bundles = {b for b in entry_bundles_for_size(previous) if b.full}
    for tile in tiles_for_size(size):
        if tile not in old_tiles or not out.exists(tile.path):
            data = encode_tile(book.store.subtree_hashes(tile_nodes(tile)))
            out.put(tile.path, data, immutable=True)
    for bundle in entry_bundles_for_size(size):
        if bundle not in old_bundles or not out.exists(bundle.path):
            entries = [raw for _, raw in book.iter_raw(bundle.start, bundle.start + bundle.width)]
            out.put(bundle.path, encode_entry_bundle(entries), immutable=True)
    genesis = report.genesis
    out.put(STATEMENT, statement_file(genesis))
    out.put(LOG_PUB, log_pub_file(genesis))
    out.sync()
    out.put(CHECKPOINT, note)  # the commit point
    out.sync()
    view = published_report(report)
    out.put_stream(ENTRIES_JSON, _entries_json(book.iter_raw(0, size), view))
    index = iter_index(view, statement_text=genesis.statement_text, checkpoint=note)
    out.put_stream(INDEX_HTML, index)
    out.put(README, render_readme(view).encode("utf-8"))
    removed: list[str] = []
    new: tuple[HashTile | EntryBundle, ...] = (
        *tiles_for_size(size, since=previous),
        *entry_bundles_for_size(size, since=previous),
    )
    for item in new:
        if item.full:
            removed += out.remove_partials(item)
    out.sync()
    return PublishResult(
        directory=str(out.root),
        size=size,
        root=report.checkpoint.root,
        previous_size=previous,
        signed_checkpoint=signed,
        written=tuple(out.written),
        unchanged=out.unchanged,
        removed=tuple(removed),
    )


def _entries_json(entries: Iterable[tuple[int, bytes]], view: Report) -> Iterator[bytes]:
    yield entries_json_head()
    for seq, raw in entries:
        yield entries_json_row(seq, raw)
    yield entries_json_tail(view)


def _fresh_checkpoint(
    book: Ledger, log_key: SigningKey | None, now: int | None
) -> tuple[bytes, bool]:
    latest = book.latest_checkpoint()
    size = book.size
    if latest is not None and parse_checkpoint(parse_note(latest).text).size == size:
        return latest, False
    if log_key is None:
        covered = "has no checkpoint" if latest is None else "grew since its latest checkpoint"
        raise UsageError(
            f"the ledger {covered} ({size} entries): give the log key to sign a new one"
        )
    return book.checkpoint(log_key, now=now), True


def _previous_size(out: BundleDirectory, book: Ledger, size: int) -> int:
    """The size of the checkpoint already in the bundle, checked against the ledger."""
    data = out.read(CHECKPOINT, MAX_CHECKPOINT_BYTES)
    if data is None:
        return 0
    where = out.root / CHECKPOINT
    try:
        old = open_checkpoint(data, VerifyingKey.from_verifier_key(book.genesis.log_key))
    except LedgerError as exc:
        raise UsageError(
            f"{where} is not a checkpoint of this ledger ({exc}): refusing to publish over "
            "another bundle; choose an empty directory"
        ) from None
    cp = old.checkpoint
    if cp.size > size:
        raise UsageError(
            f"{where} covers {cp.size} entries, more than the {size} being published: "
            "refusing to roll the bundle back"
        )
    if merkle.root(book.store, cp.size) != cp.root:
        raise VerificationError(
            f"{where} signs a root for {cp.size} entries that is not this ledger's: the "
            "bundle was published from a different history; refusing to update it"
        )
    return cp.size


# ---------------------------------------------------------------------------------------------
# mirroring


@frozen
class FetchResult:
    """What ``fetch_bundle`` did.

    Attributes:
        directory: the mirror.
        size: the size the fetched checkpoint claims.
        written: the bundle paths written (full tiles already mirrored are not fetched again).
        committed: True if the fetched bundle verified and its checkpoint and views replaced
            the mirror's; False if it did not verify (the mirror's checkpoint was kept).
    """

    directory: str
    size: int
    written: tuple[str, ...]
    committed: bool


def fetch_bundle(
    location: str,
    directory: str | Path,
    *,
    log_key: VerifyingKey | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[FetchResult, Report]:
    """Mirror a published bundle into a directory, for archiving, and verify the copy.

    Only the files the checkpoint implies and the fixed files are fetched, each with its size
    limit, and written (atomically) under ``directory`` only, at paths built from numbers.
    The copy is verified before its checkpoint replaces the mirror's (against the mirror's
    checkpoint as the one saved, so a rolled-back or forked bundle is caught), so a bundle that
    does not verify never replaces a good mirror's checkpoint.

    Args:
        location: the bundle's URL (or a directory).
        directory: the mirror (created if missing).
        log_key: the log key you trust (default: the one the genesis entry names).
        timeout: seconds each request may take.

    Returns:
        What was written, and the verification report of the fetched bundle.

    Raises:
        UsageError: not a bundle. StoreError: a network or file error.
        VerificationError: a file is missing, too large, or a full tile differs from the
            mirror's (full tiles never change).
        FormatError: the checkpoint cannot be read.
    """
    remote = open_fetcher(location, timeout=timeout)
    try:
        note = read_file(remote, CHECKPOINT, MAX_CHECKPOINT_BYTES)
    except MissingFileError:
        raise UsageError(f"{location}: no checkpoint file: not a published bundle") from None
    size = parse_checkpoint(parse_note(note).text).size
    out = BundleDirectory(directory)
    saved = out.read(CHECKPOINT, MAX_CHECKPOINT_BYTES)
    staged: dict[str, Path] = {}
    try:
        report = _mirror(
            remote, out, note=note, size=size, staged=staged, saved=saved, log_key=log_key
        )
        if not report.ok:
            out.remove_written()  # new files the mirror's checkpoint does not reference
            return FetchResult(str(out.root), size, (), committed=False), report
        for path in (STATEMENT, LOG_PUB, CHECKPOINT, ENTRIES_JSON, INDEX_HTML, README):
            if path == CHECKPOINT:
                out.sync()
            out.commit(staged.pop(path), path)
        for item in _tlog_files(size):
            if item.full:
                out.remove_partials(item)
        out.sync()
    except BaseException:
        if CHECKPOINT in staged:  # failed before the commit point: as if never fetched
            out.remove_written()
        raise
    finally:
        for temp in staged.values():
            temp.unlink(missing_ok=True)
    return FetchResult(str(out.root), size, tuple(out.written), committed=True), report


def _mirror(
    remote: Fetcher,
    out: BundleDirectory,
    *,
    note: bytes,
    size: int,
    staged: dict[str, Path],
    saved: bytes | None,
    log_key: VerifyingKey | None,
) -> Report:
    """Fetch the tiles into the mirror and stage the other files; verify what would result."""
    for item in _tlog_files(size):
        if item.full and out.exists(item.path):
            continue  # it never changes; the verification below reads the copy already here
        limit = item.width * (32 if isinstance(item, HashTile) else 2 + 0xFFFF)
        out.put(item.path, read_file(remote, item.path, limit), immutable=True)
    staged[CHECKPOINT] = out.stage(CHECKPOINT, [note])
    limits = {
        STATEMENT: MAX_STATEMENT_BYTES,
        LOG_PUB: MAX_LOG_PUB_BYTES,
        ENTRIES_JSON: view_limit(size),
        INDEX_HTML: view_limit(size),
        README: view_limit(size),
    }
    for path, limit in limits.items():
        staged[path] = out.stage(path, remote.chunks(path, limit))
    local = BundleSource(DirectoryFetcher(out.root, overlay=staged))
    return check_bundle(local, saved_checkpoint=saved, log_key=log_key)


def _tlog_files(size: int) -> list[HashTile | EntryBundle]:
    return [*tiles_for_size(size), *entry_bundles_for_size(size)]
