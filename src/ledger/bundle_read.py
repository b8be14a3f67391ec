"""Published bundles (DESIGN §2): their files, and reading and verifying them. I/O at the edge.

A bundle is a directory any static web server can serve (``ledger.bundle`` writes it):

- ``checkpoint``: the ledger's latest signed checkpoint, with its witness cosignatures;
- ``tile/…``, ``tile/entries/…``: C2SP tlog-tiles, hash tiles and entry bundles (``ledger.tiles``);
- ``statement.txt`` (canonical text: ``sha256sum`` gives the statement hash) and ``log.pub``
  (the log's C2SP verifier key, one line), exactly as the genesis entry holds them;
- ``entries.json``, ``index.html``, ``README.txt``, and the pages ``entries/<k>.json`` and
  ``list/<k>.html`` (``ledger.bundle_views``: 1,000 entries a page): views generated
  deterministically from the verified entries and the checkpoint by pure functions, so a reader
  regenerates them.

``check_bundle`` runs the checks of any ledger (``audit.check_source``) over a ``BundleSource``
(entries from the entry bundles, subtree hashes from the hash tiles, the ``checkpoint`` file),
then the "bundle" check: every hash tile the checkpoint implies holds the hashes computed from
the entries, and every other file is the one the verified data implies.

What is read, and how much (nothing else, never more):

- only paths built from numbers (the tiles and pages the checkpoint's size implies) and the
  fixed file names: nothing in the bundle chooses what is read, and nothing outside it is (a link
  leading out of a bundle directory, or a file that is not a regular file, is refused);
- at most: ``checkpoint`` 1 MiB; a hash tile its width * 32 bytes (8,192); an entry bundle
  its width * (2 + 65,535) bytes; ``statement.txt`` 65,535; ``log.pub`` 4,096; a view the
  size the publisher would generate (when mirroring: 1 MiB + 256 KiB per entry it covers). A longer
  file or response is cut off at the limit and reported.

Over http(s) (urllib, standard library): ``Accept-Encoding: identity`` (the limits count the
bytes on the wire); every redirect is refused, whatever its target, so what is read is the
bundle at the URL given; each request must complete within ``timeout`` seconds as a whole
(checked between reads, each of which waits at most ``timeout``); a response shorter than its
Content-Length is an error; 404 and 410 mean "missing".

Errors: damaged or missing bundle files are problems in the report (exit 1); a bundle that
cannot be read at all (no ``checkpoint``, network failure, timeout, redirect, HTTP error) is a
``StoreError`` or ``UsageError`` (exit 2). Incremental mode (``--checkpoint`` with
``--incremental``) checks the tiles of the new entries only, and the views, which describe
every entry, are then not compared.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from ledger.audit import LedgerSource, check_ledger_file, check_source
from ledger.bundle_views import (
    ENTRIES_PAGE_TAIL,
    ENTRIES_SCHEMA,
    PAGE_ENTRIES,
    entries_index,
    entries_json_row,
    entries_page,
    entries_page_head,
    entries_page_path,
    is_page_path,
    list_page_path,
    list_pages,
    page_count,
    page_of,
    render_page,
    split_list,
)
from ledger.errors import FormatError, LedgerError, StoreError, UsageError, VerificationError
from ledger.html import render_index_html
from ledger.keys import VerifyingKey
from ledger.merkle import hash_leaf
from ledger.model import Genesis
from ledger.note import parse_checkpoint, parse_note
from ledger.policy import Policy
from ledger.progress import Progress
from ledger.render import inert
from ledger.store import open_store
from ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    EntryBundle,
    HashTile,
    TileBuilder,
    bundle_at,
    decode_entry_bundle,
    decode_tile,
    fold_hashes,
    node_in_tile,
    parse_tile_path,
    tile_at,
)
from ledger.verify import ENTRY_CHECKS, Problem, Report

CHECKPOINT: Final = "checkpoint"
STATEMENT: Final = "statement.txt"
LOG_PUB: Final = "log.pub"
ENTRIES_JSON: Final = "entries.json"
INDEX_HTML: Final = "index.html"
README: Final = "README.txt"
FIXED_FILES: Final = (CHECKPOINT, STATEMENT, LOG_PUB, ENTRIES_JSON, INDEX_HTML, README)
SOURCE_HINT: Final = "<this directory or its URL>"
# A Content-Length longer than this is malformed (no limit we apply is near 10^18 bytes), and
# int() of thousands of digits would raise ValueError (Python's conversion limit).
_MAX_LENGTH_DIGITS: Final = 18
"""What the generated views name as the place to verify: they must not depend on where the
bundle is served, or a verifier could not regenerate them."""

MAX_CHECKPOINT_BYTES: Final = 1 << 20  # = note.MAX_NOTE_SIZE
MAX_STATEMENT_BYTES: Final = 0xFFFF  # the text lives in entry 0, at most 65,535 bytes
MAX_LOG_PUB_BYTES: Final = 4096
MAX_VIEW_BYTES_BASE: Final = 1 << 20
MAX_VIEW_BYTES_PER_ENTRY: Final = 1 << 18  # an entry of 65,535 bytes, base64 and decoded


def view_limit(size: int) -> int:
    """The largest view (``entries.json``, a page...) of a ``size``-entry log or page."""
    return MAX_VIEW_BYTES_BASE + size * MAX_VIEW_BYTES_PER_ENTRY


def view_files(size: int) -> list[tuple[str, int]]:
    """Every view of a ``size``-entry bundle with its size limit: pages, then the summaries."""
    pages = [
        (path(k), view_limit(PAGE_ENTRIES))
        for k in range(page_count(size))
        for path in (entries_page_path, list_page_path)
    ]
    return [*pages, *((name, view_limit(size)) for name in (ENTRIES_JSON, INDEX_HTML, README))]


DEFAULT_TIMEOUT: Final = 30.0
MAX_BUNDLE_PROBLEMS: Final = 100
_CHUNK: Final = 65_536
_USER_AGENT: Final = "endorsement-ledger (ledger verify)"


class MissingFileError(VerificationError):
    """A file the checkpoint implies is not in the bundle (no such file, HTTP 404 or 410)."""


class FileTooLargeError(VerificationError):
    """A file or response is larger than its limit; it was cut off there."""


class Fetcher(Protocol):
    """Reads bundle files by their bundle path, with a size limit."""

    location: str

    def chunks(self, path: str, limit: int) -> Iterator[bytes]:
        """Stream a file (``FileTooLargeError`` past ``limit`` bytes; ``MissingFileError``)."""
        ...


def read_file(fetcher: Fetcher, path: str, limit: int) -> bytes:
    """A whole bundle file (see ``Fetcher.chunks``)."""
    return b"".join(fetcher.chunks(path, limit))


def _check_path(path: str) -> None:
    if path not in FIXED_FILES and not is_page_path(path):
        parse_tile_path(path)  # a canonical tile path, built from numbers, or nothing


class DirectoryFetcher:
    """Bundle files from a directory; ``overlay`` maps bundle paths to other files in it."""

    def __init__(self, root: str | Path, overlay: Mapping[str, Path] | None = None) -> None:
        """Open the directory.

        Raises:
            UsageError: it is not a directory.
        """
        self.location = str(root)
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise UsageError(f"{root}: not a directory")
        self._overlay = dict(overlay or {})

    def chunks(self, path: str, limit: int) -> Iterator[bytes]:
        """Stream one file of the bundle (see ``Fetcher``)."""
        _check_path(path)
        real = Path(os.path.realpath(self._overlay.get(path, self.root / path)))
        if not real.is_relative_to(self.root):
            raise VerificationError(f"{path}: a link leading out of the bundle; not read")
        try:
            # O_NONBLOCK: opening a FIFO planted in the bundle must not hang the reader.
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            raise MissingFileError(f"{path}: missing from the bundle") from None
        except OSError as exc:
            raise StoreError(f"{real}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise VerificationError(f"{path}: not a regular file")
            total = 0
            while chunk := _read_some(handle, min(_CHUNK, limit + 1 - total), real):
                total += len(chunk)
                if total > limit:
                    raise FileTooLargeError(
                        f"{path}: larger than the limit of {limit} bytes (cut off)"
                    )
                yield chunk


def _read_some(handle: Any, size: int, where: object) -> bytes:
    try:
        return bytes(handle.read(size))
    except OSError as exc:
        raise StoreError(f"{where}: {exc.strerror or exc}") from None


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        fp.close()
        raise StoreError(
            f"{req.full_url}: the server redirects (HTTP {code}) to {inert(newurl, 300)}; "
            "redirects are refused: give that URL instead if you trust it"
        )


class HttpFetcher:
    """Bundle files from an http(s) URL prefix: no redirects, a timeout, bounded reads."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Check the URL.

        Raises:
            UsageError: not an http(s) URL of a bundle (credentials, query or fragment given,
                no host, or characters that are not printable ASCII).
        """
        self.location = url
        self.prefix = _bundle_prefix(url)
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_RefuseRedirects)

    def chunks(self, path: str, limit: int) -> Iterator[bytes]:
        """Stream one file of the bundle (see ``Fetcher``)."""
        _check_path(path)
        url = self.prefix + path
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(  # noqa: S310 (_bundle_prefix allows http(s) only)
            url, headers={"Accept-Encoding": "identity", "User-Agent": _USER_AGENT}
        )
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                raise MissingFileError(
                    f"{path}: missing from the bundle (HTTP {exc.code})"
                ) from None
            raise StoreError(f"{url}: HTTP {exc.code} {inert(str(exc.reason))}") from None
        except urllib.error.URLError as exc:
            raise StoreError(f"{url}: {inert(str(exc.reason))}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise StoreError(f"{url}: {inert(str(exc)) or type(exc).__name__}") from None
        with response:
            declared = _check_headers(response, url, path, limit)
            total = 0
            while True:
                if time.monotonic() > deadline:
                    raise StoreError(f"{url}: timed out after {self.timeout:g} s")
                try:
                    # read1: what has arrived, so that a dripping body meets the deadline
                    chunk = response.read1(min(_CHUNK, limit + 1 - total))
                except (OSError, http.client.HTTPException) as exc:
                    raise StoreError(f"{url}: {inert(str(exc)) or type(exc).__name__}") from None
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise FileTooLargeError(
                        f"{path}: larger than the limit of {limit} bytes (cut off)"
                    )
                yield chunk
            if declared is not None and total != declared:
                raise StoreError(
                    f"{url}: the response ended after {total} of the {declared} bytes its "
                    "Content-Length announces"
                )


def _check_headers(response: Any, url: str, path: str, limit: int) -> int | None:
    if response.status != 200:
        raise StoreError(f"{url}: HTTP {response.status}, expected 200")
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise StoreError(f"{url}: Content-Encoding {inert(encoding)} was not asked for")
    length = response.headers.get("Content-Length")
    if length is None:
        return None
    if not length.isascii() or not length.isdigit() or len(length) > _MAX_LENGTH_DIGITS:
        raise StoreError(f"{url}: malformed Content-Length {inert(length[:40])!r}")
    declared = int(length)
    if declared > limit:
        raise FileTooLargeError(
            f"{path}: the server announces {declared} bytes, over the limit {limit}"
        )
    return declared


def _bundle_prefix(url: str) -> str:
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError("the bundle URL must be printable ASCII (percent-encode the rest)")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (it raises ValueError for a malformed port)
    except ValueError as exc:
        raise UsageError(f"{url}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url}: not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{url}: credentials in the URL are not supported")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UsageError(f"{url}: a bundle URL has no query or fragment")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def is_url(location: str | Path) -> bool:
    """True for an ``http://`` or ``https://`` location."""
    return isinstance(location, str) and location[:8].lower().startswith(("http://", "https://"))


def open_fetcher(location: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> Fetcher:
    """The fetcher of a bundle location: an http(s) URL or a directory.

    Raises:
        UsageError: neither a URL nor a directory.
    """
    if is_url(location):
        return HttpFetcher(str(location), timeout=timeout)
    return DirectoryFetcher(location)


# ---------------------------------------------------------------------------------------------
# the generated files: pure functions of the verified data


def published_report(report: Report) -> Report:
    """The report the views are generated from: the data's, without the reader's options.

    A verifier's report also reflects what the reader gave (a saved checkpoint, a policy, a
    statement text, incremental mode); the views must not, so both sides generate from this.
    """
    checkpoint = report.checkpoint
    return attrs.evolve(
        report,
        statement_checked=None,
        problems=(),
        problems_truncated=False,
        checks_run=frozenset((*ENTRY_CHECKS, "checkpoint", "bundle")),
        mode="full",
        entries_from=0,
        checkpoint=None if checkpoint is None else attrs.evolve(checkpoint, witnesses=()),
        saved_checkpoint=None,
        policy_explanation=None,
    )


def statement_file(genesis: Genesis) -> bytes:
    """``statement.txt``: the canonical statement text exactly as in the genesis entry."""
    return genesis.statement_text.encode("utf-8")


def log_pub_file(genesis: Genesis) -> bytes:
    """``log.pub``: the log's C2SP verifier key as the genesis entry names it, one line."""
    return genesis.log_key.encode("utf-8") + b"\n"


def render_readme(report: Report) -> str:
    """``README.txt``: what the bundle is, how to verify it, and the checkpoint it holds.

    It depends on the genesis entry and the checkpoint only (not on the list), so it is
    compared in incremental mode too.

    Raises:
        UsageError: the report has no genesis entry or checkpoint (nothing verified).
    """
    genesis, cp, digest = report.genesis, report.checkpoint, report.statement_hash
    if genesis is None or cp is None or digest is None:
        raise UsageError("a bundle's README describes a verified ledger with a checkpoint")
    return f"""\
Endorsement ledger: {inert(genesis.title)}
Log origin: {inert(genesis.origin)}

This directory is a published endorsement ledger: the text of a statement, the signed
endorsements of the organisations that endorse it, and a checkpoint signed by the log key
that fixes the list (its size and Merkle root). It is laid out as a C2SP tlog-tiles log
(https://c2sp.org/tlog-tiles), so any static web server can serve it as it is.

To verify all of it, with the endorsement-ledger tool (`ledger`):

    ledger verify {SOURCE_HINT}

It checks every endorsement's signature, the hash chain, the checkpoint's signature and root,
and that every file here matches them. Keep the file `checkpoint`: giving it next time with
`ledger verify --checkpoint FILE ...` shows whether anything was removed or rewritten since.

To check the statement text without the tool:

    sha256sum statement.txt

must print {digest.hex()}:
the statement hash that every endorsement signs.

Checkpoint: size {cp.size}, root {_b64(cp.root)}
Log key (log.pub): {inert(genesis.log_key, 400)}

Files:
  checkpoint      the log's latest signed checkpoint (C2SP tlog-checkpoint) and cosignatures
  tile/           the Merkle tree hashes and the entries (C2SP tlog-tiles)
  statement.txt   the canonical statement text
  log.pub         the log's public key (C2SP signed-note verifier key)
  entries.json    the pages of entries, schema {ENTRIES_SCHEMA}
  entries/        every entry decoded, {PAGE_ENTRIES} entries a page
  index.html      the statement and the verification, for people
  list/           the signatories, by the entries that recorded them
"""


def render_index(
    report: Report,
    *,
    statement_text: str,
    checkpoint: bytes,
    counts: tuple[int, int, int] | None = None,
) -> str:
    """``index.html`` (``ledger.html.render_index_html``), independent of where it is served.

    Args:
        report: the published report (``published_report``).
        statement_text: the statement text.
        checkpoint: the checkpoint note published.
        counts: current signatories, departures and flags (default: the report's lists').
    """
    if counts is None:
        counts = (len(report.signatories), len(report.departed), len(report.flags))
    signatories, departed, flags = counts
    pages = list_pages(report.size, signatories=signatories, departed=departed, flags=flags)
    return render_index_html(
        report,
        statement_text=statement_text,
        checkpoint=checkpoint,
        source_hint=SOURCE_HINT,
        pages=pages,
    )


def generate_views(
    report: Report, entries: Iterable[tuple[int, bytes]], *, checkpoint: bytes
) -> dict[str, bytes]:
    """Every view of a bundle, all at once (``ledger publish`` writes them as it goes).

    Args:
        report: the full, verified report of the entries.
        entries: ``(seq, entry)`` of every entry, in order.
        checkpoint: the checkpoint note published.

    Returns:
        Bundle path to bytes, for the pages and the summaries.

    Raises:
        UsageError: the report has no genesis entry or checkpoint.
        FormatError: an entry does not decode.
    """
    genesis = report.genesis
    if genesis is None:
        raise UsageError("a bundle's views describe a verified ledger")
    view = published_report(report)
    files: dict[str, bytes] = {}
    by_page: dict[int, list[tuple[int, bytes]]] = {}
    for seq, raw in entries:
        by_page.setdefault(page_of(seq), []).append((seq, raw))
    for k in range(page_count(view.size)):
        files[entries_page_path(k)] = entries_page(k, by_page.get(k, []))
    for page in split_list(view):
        files[list_page_path(page.page)] = render_page(page, title=genesis.title, size=view.size)
    files[ENTRIES_JSON] = entries_index(view)
    text = genesis.statement_text
    files[INDEX_HTML] = render_index(view, statement_text=text, checkpoint=checkpoint).encode()
    files[README] = render_readme(view).encode("utf-8")
    return files


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# ---------------------------------------------------------------------------------------------
# the source


class BundleSource:
    """A published bundle as a ``LedgerSource``; nothing it returns is trusted.

    Its size is the one its ``checkpoint`` claims. While ``iter_entries`` streams the entries,
    it builds the hash tiles from them and compares each with the served one, and hashes the
    ``entries.json`` it implies; ``problems`` collects what is damaged, with the file's path.
    """

    def __init__(self, fetcher: Fetcher) -> None:
        """Read the checkpoint.

        Raises:
            UsageError: no ``checkpoint`` file: not a bundle. StoreError: it cannot be read.
        """
        self.fetcher = fetcher
        self.location = fetcher.location
        self.problems: list[Problem] = []
        self.note: bytes | None = None
        # sha256 and length of each entries/<k>.json the entries imply (None: one did not decode)
        self.pages: dict[int, tuple[Any, int]] | None = None
        self.resumed_root: bytes | None = None
        self._size = 0
        self._tiles: dict[HashTile, list[bytes]] = {}
        self._bundle: tuple[EntryBundle, list[bytes]] | None = None
        try:
            self.note = read_file(fetcher, CHECKPOINT, MAX_CHECKPOINT_BYTES)
        except MissingFileError:
            raise UsageError(
                f"{self.location}: no checkpoint file: not a published bundle"
            ) from None
        except VerificationError as exc:
            self.problem(str(exc))
            return
        try:
            self._size = parse_checkpoint(parse_note(self.note).text).size
        except LedgerError as exc:
            self.problem(f"checkpoint: cannot be read ({exc}), so no entry was read")

    def problem(self, message: str) -> None:
        """Record a damaged file (at most ``MAX_BUNDLE_PROBLEMS``)."""
        if len(self.problems) < MAX_BUNDLE_PROBLEMS:
            self.problems.append(Problem(None, "bundle", message))
        elif len(self.problems) == MAX_BUNDLE_PROBLEMS:
            self.problems.append(Problem(None, "bundle", "more damaged files not listed"))

    def size(self) -> int:
        """The number of entries the checkpoint claims."""
        return self._size

    def latest_checkpoint(self) -> str | None:
        """The ``checkpoint`` file's text (verified by the caller), if it is UTF-8."""
        try:
            return None if self.note is None else self.note.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def entry(self, seq: int) -> bytes:
        """One entry, from its entry bundle.

        Raises:
            VerificationError: the bundle is missing or malformed.
        """
        bundle = bundle_at(seq, self._size)
        return self._load_bundle(bundle)[seq - bundle.start]

    def leaf_hash(self, seq: int) -> bytes:
        """The leaf hash level-0 tile holds for entry ``seq``."""
        return self.subtree_hash(0, seq)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """A perfect subtree's hash, folded from the hashes of one tile.

        Raises:
            UsageError: the subtree is not complete at the checkpoint's size.
            VerificationError: the tile is missing or malformed.
        """
        if (index + 1) << level > self._size:
            raise UsageError(f"subtree ({level}, {index}) is not complete at {self._size}")
        tile_level, tile_index, first, count = node_in_tile(level, index)
        hashes = self.tile_hashes(tile_at(tile_level, tile_index, self._size))
        return fold_hashes(hashes[first : first + count])

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(seq, entry)`` from ``start``, checking the tiles against them on the way.

        A missing or malformed entry bundle is recorded in ``problems`` and ends the stream.
        """
        stop = self._size if end is None else min(end, self._size)
        observer = self._observer(start)
        seq = start
        while seq < stop:
            bundle = bundle_at(seq, self._size)
            try:
                entries = self._load_bundle(bundle)
            except VerificationError as exc:
                self.problem(str(exc))
                return
            for raw in entries[seq - bundle.start : stop - bundle.start]:
                if observer is not None:
                    observer.feed(seq, raw)
                yield seq, raw
                seq += 1
        if observer is not None and seq == self._size:
            observer.finish()

    def _observer(self, start: int) -> _TileCheck | None:
        try:
            if start > 1:
                return self._resume_tiles(start)
            check = _TileCheck(self, TileBuilder())
            if start == 1:  # entry 0 was read on its own (incremental mode fell back)
                check.feed(0, self.entry(0))
        except VerificationError as exc:
            self.problem(str(exc))
            return None
        return check

    def _resume_tiles(self, start: int) -> _TileCheck:
        """Continue the tile check at ``start`` from the tiles' own hashes before it.

        ``check_bundle`` then compares the root they give with the checkpoint the reader
        trusts, so the tiles before ``start`` are proven by it, not by the entries.
        """
        pending: list[list[bytes]] = []
        level = 0
        while start >> (TILE_HEIGHT * level):
            width = (start >> (TILE_HEIGHT * level)) % TILE_WIDTH
            index = start >> (TILE_HEIGHT * (level + 1))
            tile = tile_at(level, index, self._size) if width else None
            pending.append(self.tile_hashes(tile)[:width] if tile else [])
            level += 1
        builder = TileBuilder.resume(start, pending)
        self.resumed_root = builder.root()
        return _TileCheck(self, builder, pages=False)

    def tile_hashes(self, tile: HashTile) -> list[bytes]:
        """The hashes of a served tile (cached: a proof reads a few tiles several times).

        Raises:
            VerificationError: the tile is missing, too large or malformed.
        """
        hashes = self._tiles.get(tile)
        if hashes is None:
            try:
                data = read_file(self.fetcher, tile.path, tile.width * 32)
                hashes = decode_tile(data, tile)
            except FormatError as exc:
                raise VerificationError(str(exc)) from None
            if len(self._tiles) >= 64:  # the tiles of a few proofs; the check reads in order
                self._tiles.clear()
            self._tiles[tile] = hashes
        return hashes

    def _load_bundle(self, bundle: EntryBundle) -> list[bytes]:
        if self._bundle is not None and self._bundle[0] == bundle:
            return self._bundle[1]
        data = read_file(self.fetcher, bundle.path, bundle.width * (2 + 0xFFFF))
        try:
            entries = decode_entry_bundle(data, bundle)
        except FormatError as exc:
            raise VerificationError(str(exc)) from None
        self._bundle = (bundle, entries)
        return entries


class _TileCheck:
    """Builds the tiles from the entries as they stream by and compares the served ones.

    With ``pages``, it also hashes the ``entries/<k>.json`` the entries imply, page by page.
    """

    def __init__(self, source: BundleSource, builder: TileBuilder, *, pages: bool = True) -> None:
        self._source = source
        self._builder = builder
        self._pages: dict[int, tuple[Any, int]] | None = {} if pages else None
        self._page: tuple[int, Any, int] | None = None  # page, sha256, length so far

    def feed(self, seq: int, raw: bytes) -> None:
        for tile, data in self._builder.append(hash_leaf(raw)):
            self._compare(tile, data)
        if self._pages is None:
            return
        try:
            row = entries_json_row(seq, raw)
        except FormatError:
            self._pages = None  # the entry does not decode: reported by the entry checks
            return
        if seq % PAGE_ENTRIES == 0:
            self._close_page()
            head = entries_page_head(page_of(seq))
            self._page = (page_of(seq), hashlib.sha256(head), len(head))
        if self._page is not None:
            page, digest, length = self._page
            digest.update(row)
            self._page = (page, digest, length + len(row))

    def _close_page(self) -> None:
        if self._page is not None and self._pages is not None:
            page, digest, length = self._page
            digest.update(ENTRIES_PAGE_TAIL)
            self._pages[page] = (digest, length + len(ENTRIES_PAGE_TAIL))
        self._page = None

    def finish(self) -> None:
        for tile, data in self._builder.partial_tiles():
            self._compare(tile, data)
        self._close_page()
        if self._pages is not None:
            self._source.pages = self._pages

    def _compare(self, tile: HashTile, expected: bytes) -> None:
        try:
            served = b"".join(self._source.tile_hashes(tile))
        except VerificationError as exc:
            self._source.problem(str(exc))
            return
        if served != expected:
            slot = next(i for i in range(tile.width) if _hash(served, i) != _hash(expected, i))
            first = (tile.index * TILE_WIDTH + slot) << (TILE_HEIGHT * tile.level)
            if tile.level == 0:
                bundle = bundle_at(first, self._source.size())
                where = f"the leaf hash of entry {first} in {bundle.path}"
            else:
                last = first + (1 << (TILE_HEIGHT * tile.level)) - 1
                where = f"the hash of entries {first}..{last}"
            self._source.problem(f"{tile.path}: hash {slot} is not {where}")


# ---------------------------------------------------------------------------------------------
# verification


def open_bundle(location: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> BundleSource:
    """Open a published bundle (a directory, or an http(s) URL) and read its checkpoint.

    Raises:
        UsageError: not a directory or URL, or no checkpoint. StoreError: unreadable.
    """
    return BundleSource(open_fetcher(location, timeout=timeout))


def is_bundle_location(location: str | Path) -> bool:
    """True for an http(s) URL or a directory (a bundle); False for a ledger file."""
    return is_url(location) or Path(location).is_dir()


def open_source(location: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> LedgerSource:
    """What ``ledger verify`` reads: a bundle (directory or URL) or a SQLite ledger file.

    Raises:
        UsageError, StoreError: the location cannot be opened.
    """
    if is_bundle_location(location):
        return open_bundle(location, timeout=timeout)
    return open_store(location, readonly=True)


def check_location(
    location: str | Path,
    *,
    statement: bytes | None = None,
    saved_checkpoint: bytes | None = None,
    log_key: VerifyingKey | None = None,
    policy: Policy | None = None,
    incremental: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Report:
    """Verify a ledger file, a bundle directory or a bundle URL (``check_bundle`` arguments).

    ``jobs`` worker processes check a ledger file's entries (see ``check_ledger_file``); a
    bundle is checked in this process.
    """
    options: dict[str, Any] = {
        "statement": statement,
        "saved_checkpoint": saved_checkpoint,
        "log_key": log_key,
        "policy": policy,
        "incremental": incremental,
        "progress": progress,
    }
    if is_bundle_location(location):
        return check_bundle(location, timeout=timeout, **options)
    return check_ledger_file(location, jobs=jobs, **options)


def check_bundle(
    location: str | Path | BundleSource,
    *,
    statement: bytes | None = None,
    saved_checkpoint: bytes | None = None,
    log_key: VerifyingKey | None = None,
    policy: Policy | None = None,
    incremental: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> Report:
    """Verify a published bundle: the ledger's checks, then the "bundle" check.

    Args:
        location: a bundle directory, an http(s) URL, or an opened source.
        statement, saved_checkpoint, log_key, policy, incremental: as for
            ``check_ledger_file``; ``log_key`` is also compared with ``log.pub``.
        timeout: seconds each http(s) request may take.
        progress: called with (entries checked, entries to check) now and then.

    Returns:
        The report; damaged bundle files are problems of check "bundle", naming the file.

    Raises:
        UsageError: not a bundle (no checkpoint), or ``incremental`` without a checkpoint.
        StoreError: the bundle cannot be read (network error, timeout, redirect, HTTP error).
    """
    if isinstance(location, BundleSource):
        source = location
    else:
        source = open_bundle(location, timeout=timeout)
    report = check_source(
        source,
        statement=statement,
        saved_checkpoint=saved_checkpoint,
        log_key=log_key,
        policy=policy,
        incremental=incremental,
        progress=progress,
    )
    problems = [*source.problems, *_check_files(source, report, log_key)]
    return attrs.evolve(
        report,
        problems=report.problems + tuple(problems),
        checks_run=report.checks_run | {"bundle"},
    )


def _check_files(
    source: BundleSource, report: Report, pinned: VerifyingKey | None
) -> list[Problem]:
    genesis = report.genesis
    if genesis is None:
        return []  # entry 0 did not verify: there is nothing to compare the files with
    found: list[Problem] = []
    saved = report.saved_checkpoint
    if report.mode == "incremental" and saved is not None and source.resumed_root != saved.root:
        found.append(
            _problem(
                "tile",
                "the tiles of the entries before the new ones do not "
                "hash to the root of the checkpoint you saved",
            )
        )
    text, key = statement_file(genesis), log_pub_file(genesis)
    found += _compare(source, STATEMENT, text, "not the statement text of the genesis entry")
    found += _compare(source, LOG_PUB, key, "not the log key the genesis entry names")
    if pinned is not None and pinned.to_verifier_key() != genesis.log_key:
        found.append(_problem(LOG_PUB, "not the log key you trust (--log-pub)"))
    if report.checkpoint is None or source.note is None:
        return found  # the views describe a verified checkpoint
    view = published_report(report)
    stale = "not what `ledger publish` generates from the verified entries and checkpoint"
    found += _compare(source, README, render_readme(view).encode("utf-8"), stale)
    if not report.ok or report.mode != "full":
        return found  # the views list every entry: compared only when all of them verified
    index = render_index(view, statement_text=genesis.statement_text, checkpoint=source.note)
    found += _compare(source, INDEX_HTML, index.encode("utf-8"), stale)
    found += _compare(source, ENTRIES_JSON, entries_index(view), stale)
    for page in split_list(view):
        html = render_page(page, title=genesis.title, size=view.size)
        found += _compare(source, list_page_path(page.page), html, stale)
    if source.pages is not None:
        for k in range(page_count(view.size)):
            digest, length = source.pages.get(k, (None, 0))
            if digest is None:
                found.append(_problem(entries_page_path(k), stale))
                continue
            found += _compare_digest(source, entries_page_path(k), digest.digest(), length, stale)
    return found


def _hash(tile: bytes, slot: int) -> bytes:
    return tile[32 * slot : 32 * slot + 32]


def _problem(path: str, message: str) -> Problem:
    return Problem(None, "bundle", f"{path}: {message}")


def _compare(source: BundleSource, path: str, expected: bytes, what: str) -> list[Problem]:
    try:
        served = read_file(source.fetcher, path, len(expected))
    except FileTooLargeError:
        return [_problem(path, f"{what} (larger than that: cut off at {len(expected)} bytes)")]
    except VerificationError as exc:
        return [Problem(None, "bundle", str(exc))]
    return [] if served == expected else [_problem(path, what)]


def _compare_digest(
    source: BundleSource, path: str, digest: bytes, length: int, what: str
) -> list[Problem]:
    served = hashlib.sha256()
    try:
        for chunk in source.fetcher.chunks(path, length):
            served.update(chunk)
    except FileTooLargeError:
        return [_problem(path, f"{what} (larger than that: cut off at {length} bytes)")]
    except VerificationError as exc:
        return [Problem(None, "bundle", str(exc))]
    return [] if served.digest() == digest else [_problem(path, what)]
