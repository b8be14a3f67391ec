"""The views of a published bundle, split into pages so that publishing again stays cheap.

Pure functions of the verified data (no I/O): ``ledger.bundle`` writes what they return and
``ledger.bundle_read`` regenerates it to compare. The entries are cut into pages of
``PAGE_ENTRIES`` consecutive entries (page k: entries k * 1000 .. k * 1000 + 999):

- ``entries/<k>.json``: the entries of page k, decoded. It depends on those entries only, so
  a full page never changes once written and publishing again rewrites the last one;
- ``list/<k>.html``: what became of the endorsements recorded in page k: the current
  signatories among them, those no longer on the list (and how), and look-alike flags. A
  withdrawal, a removal or a rotation changes the page of the endorsement it concerns, so
  publishing again rewrites the pages of the new entries and of the endorsements they changed;
- ``entries.json`` and ``index.html``: the whole ledger's summary (size, root, counts,
  checkpoint) and the list of pages, rewritten each time (a line per page).

``k`` is written in decimal without leading zeros; no other spelling is a bundle path.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable
from typing import Any, Final

import attrs

from ledger.cose import decode_endorsement
from ledger.entry import decode_entry
from ledger.errors import FormatError, LedgerError
from ledger.findings import Departure, Problem, Report, Signatory
from ledger.html import ListPages, render_list_page
from ledger.keys import VerifyingKey
from ledger.merkle import hash_leaf
from ledger.model import Genesis
from ledger.timefmt import format_time

PAGE_ENTRIES: Final = 1000
ENTRIES_SCHEMA: Final = "endorsement-ledger/entries/v2"
ENTRIES_PAGE_SCHEMA: Final = "endorsement-ledger/entries-page/v2"
ENTRIES_DIR: Final = "entries/"
LIST_DIR: Final = "list/"
MAX_PAGES: Final = 1 << 44  # more than any 2^64-entry log needs; keeps a page number bounded


def page_count(size: int) -> int:
    """The number of pages of a ``size``-entry ledger."""
    return -(-size // PAGE_ENTRIES)


def page_of(seq: int) -> int:
    """The page that holds entry ``seq``."""
    return seq // PAGE_ENTRIES


def entries_page_path(page: int) -> str:
    """``entries/<k>.json``."""
    return f"{ENTRIES_DIR}{page}.json"


def list_page_path(page: int) -> str:
    """``list/<k>.html``."""
    return f"{LIST_DIR}{page}.html"


def parse_page_path(path: str) -> tuple[str, int]:
    """``("entries" | "list", k)`` for a page path, in its only spelling.

    Raises:
        FormatError: not a page path.
    """
    for folder, suffix in ((ENTRIES_DIR, ".json"), (LIST_DIR, ".html")):
        if path.startswith(folder) and path.endswith(suffix):
            digits = path[len(folder) : -len(suffix)]
            if (
                digits.isascii()
                and digits.isdigit()
                and (digits == "0" or not digits.startswith("0"))
                and len(digits) <= 14
                and int(digits) < MAX_PAGES
            ):
                return folder[:-1], int(digits)
    raise FormatError(f"{path[:80]!r} is not a bundle page path")


def is_page_path(path: str) -> bool:
    """True for ``entries/<k>.json`` and ``list/<k>.html``."""
    try:
        parse_page_path(path)
    except FormatError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# entries/<k>.json and entries.json


def entries_page_head(page: int) -> bytes:
    """The start of ``entries/<k>.json``, before the page's first row."""
    return (
        f'{{\n  "schema": "{ENTRIES_PAGE_SCHEMA}",\n  "first": {page * PAGE_ENTRIES},\n'
        '  "entries": [\n'
    ).encode()


def entries_json_row(seq: int, raw: bytes) -> bytes:
    """One entry's line of its page (with the separator before it, after the page's first).

    Raises:
        FormatError: the entry or its endorsement does not decode.
    """
    row = json.dumps(entry_json(seq, raw), ensure_ascii=False, separators=(", ", ": "))
    return ("    " if seq % PAGE_ENTRIES == 0 else ",\n    ").encode() + row.encode("utf-8")


ENTRIES_PAGE_TAIL: Final = b"\n  ]\n}\n"


def entries_page(page: int, entries: Iterable[tuple[int, bytes]]) -> bytes:
    """The whole ``entries/<k>.json`` of the given ``(seq, entry)`` (the page's, in order).

    Raises:
        FormatError: an entry does not decode.
    """
    rows = b"".join(entries_json_row(seq, raw) for seq, raw in entries)
    return entries_page_head(page) + rows + ENTRIES_PAGE_TAIL


def entries_index(report: Report) -> bytes:
    """``entries.json``: what the pages add up to (from the verified report), and the pages."""
    cp = report.checkpoint
    summary = {
        "schema": ENTRIES_SCHEMA,
        "size": report.size,
        "root": _b64(report.root),
        "statement_hash": None
        if report.statement_hash is None
        else f"sha256:{report.statement_hash.hex()}",
        "checkpoint": None if cp is None else {"origin": cp.origin, "size": cp.size},
        "page_entries": PAGE_ENTRIES,
    }
    head = json.dumps(summary, ensure_ascii=False, indent=2)[:-2]  # without the closing brace
    pages = ",\n".join(f'    "{entries_page_path(k)}"' for k in range(page_count(report.size)))
    return f'{head},\n  "pages": [\n{pages}\n  ]\n}}\n'.encode()


def entry_json(seq: int, raw: bytes) -> dict[str, Any]:
    """One entry as JSON: position, leaf hash, raw bytes (base64) and every decoded field.

    Generic over the model's fields, so new fields and actions appear without changes here.

    Raises:
        FormatError: the entry or its endorsement does not decode.
    """
    entry = decode_entry(raw)
    row: dict[str, Any] = {
        "index": seq,
        "leaf_hash": hash_leaf(raw).hex(),
        "raw": _b64(raw),
        "recorded_at_utc": format_time(entry.recorded_at),
    }
    row["entry"] = {
        name: _json_value(value)
        for name, value in attrs.asdict(entry, recurse=False).items()
        if name != "body"
    }
    if isinstance(entry.body, Genesis):
        row["genesis"] = attrs.asdict(entry.body)
        return row
    signed = decode_endorsement(entry.body)
    fields = attrs.asdict(signed.endorsement, recurse=False)
    row["endorsement"] = {name: _json_value(value) for name, value in fields.items()}
    row["endorsement"]["signed_at_utc"] = format_time(signed.endorsement.signed_at)
    row["signer"] = {
        "key_id": signed.key_id.hex(),
        "fingerprint": _fingerprint(signed.endorsement.public_key),
        "issuer": signed.issuer,
        "subject": signed.subject,
    }
    return row


def _json_value(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.name.lower().replace("_", "-")
    return value


def _fingerprint(raw: bytes) -> str | None:
    try:
        return VerifyingKey.from_raw("key", raw).fingerprint
    except LedgerError:
        return None


# ---------------------------------------------------------------------------------------------
# list/<k>.html and the index's list section


@attrs.frozen
class ListPage:
    """What became of the endorsements recorded in one page of entries.

    Attributes:
        page: the page number.
        signatories: the current signatories whose endorsement is in the page, by entry.
        departed: the endorsements of the page that ended, by entry.
        flags: the look-alike flags of the page's endorsements, in order.
    """

    page: int
    signatories: tuple[Signatory, ...] = ()
    departed: tuple[Departure, ...] = ()
    flags: tuple[Problem, ...] = ()


def split_list(report: Report) -> list[ListPage]:
    """The report's list cut into the pages of its entries (every page, empty ones too)."""
    count = page_count(report.size)
    signatories: list[list[Signatory]] = [[] for _ in range(count)]
    departed: list[list[Departure]] = [[] for _ in range(count)]
    flags: list[list[Problem]] = [[] for _ in range(count)]
    for s in report.signatories:
        signatories[page_of(s.seq)].append(s)
    for d in sorted(report.departed, key=lambda d: d.seq):
        departed[page_of(d.seq)].append(d)
    for flag in report.flags:
        if flag.seq is not None:
            flags[page_of(flag.seq)].append(flag)
    return [
        ListPage(k, tuple(signatories[k]), tuple(departed[k]), tuple(flags[k]))
        for k in range(count)
    ]


def list_pages(size: int, *, signatories: int, departed: int, flags: int) -> ListPages:
    """The index's list section: counts, and a link per page."""
    links = tuple(
        (
            list_page_path(k),
            f"entries {k * PAGE_ENTRIES} to {min(size, (k + 1) * PAGE_ENTRIES) - 1}",
        )
        for k in range(page_count(size))
    )
    return ListPages(signatories=signatories, departed=departed, flags=flags, links=links)


def render_page(page: ListPage, *, title: str, size: int) -> bytes:
    """``list/<k>.html``; it depends on the page's own entries only (not on later pages)."""
    first = page.page * PAGE_ENTRIES
    last = first + PAGE_ENTRIES - 1 if first + PAGE_ENTRIES <= size else None
    return render_list_page(
        title=title,
        first=first,
        last=last,
        signatories=page.signatories,
        departed=page.departed,
        flags=page.flags,
        index_href="../index.html",
    ).encode("utf-8")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
