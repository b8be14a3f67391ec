"""Identity binding: an organisation shows that a key is its own by publishing it on its domain.

This module is pure (no I/O): it defines what an organisation publishes, how a published file
or DNS answer is parsed, the campaign's evidence record of a fetch, its JSON form, and
``apply_evidence``, which marks the signatories of a verification report whose keys the
evidence shows published. Fetching lives in ``ledger.binding_fetch``, storage in
``ledger.binding_store``.

Formats (normative)
===================

Well-known file
    ``https://<domain>/.well-known/endorsement-keys.txt``, served with status 200 and no
    redirect (redirects are never followed, so the evidence's URL is exactly where the bytes
    came from). The body is UTF-8 (no byte order mark), one item per line, lines separated by
    LF; a CR right before an LF (or at the very end) is tolerated, so CRLF files work. Spaces
    and tabs around a line are ignored. A line that is then empty, or starts with ``'#'``, is
    skipped. Every other line must be exactly one public key text
    ``ledger-pub1:<name>:<base64>`` (see ``ledger.keys``): no trailing comment, nothing else.
    One malformed line makes the whole file malformed, so no key counts as published by it
    (the campaign's ``binding check`` names the line). Example::

        # endorsement-ledger keys of ngo.example
        ledger-pub1:ngo.example:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=

DNS TXT record
    Owner name ``_endorsement.<domain>``. A record's value is the concatenation of its
    character-strings with nothing in between (as RFC 7208 §3.3 does for SPF), so a value may
    be split into strings of at most 255 bytes. A record whose value starts with ``v=ledger1``
    followed by the end, ``';'``, a space or a tab is a v1 record and must be exactly::

        v=ledger1; k=<base64 of the 32-byte Ed25519 public key, standard alphabet, padded>

    (ASCII, one space after the ``';'``, 57 bytes in all). Other TXT records at the name are
    ignored; a malformed v1 record makes the answer malformed. Each key is its own record, so a
    domain publishing two keys has two TXT records. In the zone file of ``ngo.example``::

        _endorsement 3600 IN TXT "v=ledger1; k=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

DNS evidence body
    What a DNS fetch recorded is the answer's TXT records, one per line in the order received,
    each line being the record's character-strings in RFC 1035 §5.1 presentation form, quoted
    and separated by one space, then LF: inside the quotes ``"`` and ``\\`` are escaped with a
    backslash, bytes 0x20..0x7E stand for themselves, and every other byte is ``\\DDD`` (three
    decimal digits). That is also what ``dig +short TXT _endorsement.<domain>`` prints, so a
    journalist can compare. An empty answer is an empty body.

Evidence JSON (schema ``endorsement-ledger/evidence/v1``)
    ``{"schema": "endorsement-ledger/evidence/v1", "evidence": [record, ...]}`` where each
    record is an object with exactly these members:

    ``method``      ``"well-known"`` or ``"dns-txt"``
    ``domain``      the signatory's domain the fetch was for (lowercase DNS name)
    ``public_key``  base64 of the 32-byte key that was looked for (the signatory's key)
    ``url``         the URL requested, or the DNS name queried (``_endorsement.<domain>``)
    ``server``      the address connected to (``ip:port``), or the DNS resolver used; or null
    ``fetched_at``  when, in integer seconds since 1970 UTC
    ``status``      the HTTP status, or the DNS rcode (0 NOERROR, 3 NXDOMAIN, ...); or null
    ``complete``    true when the whole response was received (no timeout, no cut)
    ``truncated``   true when the body was cut at 65,536 bytes
    ``found``       whether the key looked for appears in the body (as the fetch judged it)
    ``error``       what went wrong, or null
    ``sha256``      lowercase hex SHA-256 of the body
    ``body``        base64 of the body (at most 65,536 bytes)

    The decoder rejects unknown or missing members, duplicate names, wrong types, floats,
    non-canonical base64 and out-of-range values. It does not check that ``sha256`` matches
    ``body`` or that ``found`` is right: ``apply_evidence`` recomputes both and trusts neither.

What evidence proves
====================

A record is the campaign's account of a fetch; the organisation did not sign it. It shows
what the campaign says it received, when; anyone can repeat the fetch (``ledger binding check``
on their own copy of the ledger) and see whether the key is published now.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Final, TypeVar

import attrs
from attrs import frozen

from ledger.errors import FormatError, LedgerError, UsageError
from ledger.findings import MappedSequence, Report, Signatory
from ledger.keys import VerifyingKey
from ledger.names import check_domain
from ledger.timefmt import format_time

__all__ = [
    "DNS_NOERROR",
    "DNS_NXDOMAIN",
    "EVIDENCE_SCHEMA",
    "MAX_BODY",
    "METHODS",
    "TXT_LABEL",
    "WELL_KNOWN_PATH",
    "Evidence",
    "Fetch",
    "apply_evidence",
    "evidence_for",
    "evidence_from_json",
    "evidence_problem",
    "evidence_to_json",
    "format_snippet",
    "format_txt_body",
    "format_txt_record",
    "format_txt_value",
    "format_well_known_file",
    "key_published",
    "parse_txt_body",
    "parse_txt_value",
    "parse_well_known",
    "published_keys",
    "rcode_text",
    "txt_name",
    "well_known_url",
]

EVIDENCE_SCHEMA: Final = "endorsement-ledger/evidence/v1"
WELL_KNOWN_PATH: Final = "/.well-known/endorsement-keys.txt"
TXT_LABEL: Final = "_endorsement"
MAX_BODY: Final = 65_536
METHOD_WELL_KNOWN: Final = "well-known"
METHOD_DNS: Final = "dns-txt"
METHODS: Final = (METHOD_WELL_KNOWN, METHOD_DNS)
DNS_NOERROR: Final = 0
DNS_NXDOMAIN: Final = 3

_TXT_VERSION: Final = b"v=ledger1"
_TXT_STRING_MAX: Final = 255
_TXT_VALUE: Final = re.compile(rb"v=ledger1; k=([A-Za-z0-9+/]{43}=)")
_KEY_SIZE: Final = 32
_DEFAULT_TTL: Final = 3600
_MAX_TEXT: Final = 2048
_MAX_ERROR: Final = 2000
_MAX_TIME: Final = 2**63 - 1
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_RCODES: Final = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
}
# A fetch that got this answer says something definite about publication: the file or name
# is there (and then its content decides) or it is not. Anything else (a timeout, 5xx,
# SERVFAIL, a refused redirect) says nothing, so it neither confirms nor overrides.
_DEFINITE_STATUS: Final = {METHOD_WELL_KNOWN: (200, 404, 410), METHOD_DNS: (0, 3)}
_PRESENT_STATUS: Final = {METHOD_WELL_KNOWN: 200, METHOD_DNS: DNS_NOERROR}
_T = TypeVar("_T")
_RECORD_FIELDS: Final = (
    "method",
    "domain",
    "public_key",
    "url",
    "server",
    "fetched_at",
    "status",
    "complete",
    "truncated",
    "found",
    "error",
    "sha256",
    "body",
)


# ---------------------------------------------------------------------------------------------
# values


@frozen
class Fetch:
    """What one fetch got, before it is judged against a key (built by ``binding_fetch``).

    Attributes:
        url: the URL requested, or the DNS name queried.
        server: the address connected to (``ip:port``) or the DNS resolver used, when known.
        fetched_at: when the fetch started, integer seconds since 1970 UTC.
        status: the HTTP status or DNS rcode, when an answer came.
        body: the body (HTTP) or the TXT records in presentation form (DNS), at most
            ``MAX_BODY`` bytes.
        complete: True when the whole response was received.
        truncated: True when the body was cut at ``MAX_BODY``.
        error: what went wrong, or None.
    """

    url: str
    server: str | None
    fetched_at: int
    status: int | None
    body: bytes
    complete: bool
    truncated: bool
    error: str | None


@frozen
class Evidence:
    """The campaign's record of one fetch of a domain's published keys, for one signatory key.

    The organisation did not sign it; ``apply_evidence`` re-derives everything it relies on
    (the body's hash, whether the key is in it) and trusts neither ``sha256`` nor ``found``.

    Attributes:
        method: ``"well-known"`` or ``"dns-txt"``.
        domain: the signatory's domain the fetch was for.
        public_key: the 32-byte key that was looked for.
        url, server, fetched_at, status, body, complete, truncated: as in ``Fetch``.
        sha256: SHA-256 of ``body`` when recorded.
        found: whether the fetch found ``public_key`` in the body.
        error: the first thing that went wrong (fetch or content), or None.
    """

    method: str
    domain: str
    public_key: bytes
    url: str
    server: str | None
    fetched_at: int
    status: int | None
    body: bytes
    sha256: bytes
    complete: bool
    truncated: bool
    found: bool
    error: str | None


# ---------------------------------------------------------------------------------------------
# where things are published, and how to publish them


def well_known_url(domain: str) -> str:
    """The HTTPS URL of ``domain``'s well-known key file.

    Raises:
        FormatError: ``domain`` is not a lowercase DNS name.
    """
    return f"https://{check_domain(domain)}{WELL_KNOWN_PATH}"


def txt_name(domain: str) -> str:
    """The DNS name of ``domain``'s TXT record, ``_endorsement.<domain>`` (no trailing dot).

    Raises:
        FormatError: ``domain`` is not a lowercase DNS name.
    """
    return f"{TXT_LABEL}.{check_domain(domain)}"


def format_well_known_file(keys: Sequence[VerifyingKey], domain: str | None = None) -> str:
    """A well-known key file listing ``keys``: a comment line, then one key text per line.

    Args:
        keys: the keys to publish (at least one).
        domain: the publishing domain, named in the comment.

    Returns:
        The file's text, ending in LF.

    Raises:
        UsageError: no keys.
    """
    if not keys:
        raise UsageError("a well-known key file needs at least one key")
    owner = f" of {check_domain(domain)}" if domain is not None else ""
    lines = [f"# endorsement-ledger keys{owner}", *(key.to_text() for key in keys)]
    return "\n".join(lines) + "\n"


def format_txt_value(key: VerifyingKey) -> str:
    """The TXT record value for ``key``: ``v=ledger1; k=<base64>``."""
    return f"v=ledger1; k={base64.b64encode(key.raw).decode('ascii')}"


def format_txt_record(key: VerifyingKey, domain: str | None = None, ttl: int = _DEFAULT_TTL) -> str:
    """The TXT record for ``key`` in zone-file syntax (RFC 1035 §5.1), one line, no newline.

    Args:
        key: the key to publish.
        domain: the domain; None gives the relative owner name ``_endorsement`` (valid inside
            the domain's own zone file).
        ttl: the record's time to live in seconds.

    Returns:
        e.g. ``_endorsement.ngo.example. 3600 IN TXT "v=ledger1; k=..."``.
    """
    owner = TXT_LABEL if domain is None else f"{txt_name(domain)}."
    value = format_txt_value(key).encode("ascii")
    strings = [value[i : i + _TXT_STRING_MAX] for i in range(0, len(value), _TXT_STRING_MAX)]
    return f"{owner} {ttl} IN TXT {_quote_strings(strings)}"


def format_snippet(key: VerifyingKey, domain: str | None = None) -> str:
    """Instructions with exactly what to publish for ``key``, for both methods.

    Args:
        key: the organisation's public key.
        domain: the organisation's domain, or None for placeholders and a relative owner name.

    Returns:
        Plain text, ending in LF.
    """
    url = (
        well_known_url(domain) if domain is not None else f"https://<your domain>{WELL_KNOWN_PATH}"
    )
    return "\n".join(
        [
            "Publish this key on your domain in one or both of these ways.",
            "",
            f"1. A file at {url}",
            "   served over HTTPS with status 200 and no redirect, holding this line (add it to",
            "   any keys already there; lines starting with '#' are comments):",
            "",
            key.to_text(),
            "",
            "2. A DNS TXT record (zone-file syntax):",
            "",
            format_txt_record(key, domain),
            "",
        ]
    )


# ---------------------------------------------------------------------------------------------
# parsing what was published


def parse_well_known(body: bytes) -> tuple[VerifyingKey, ...]:
    """Parse a well-known key file strictly (see the module documentation).

    Args:
        body: the file's bytes.

    Returns:
        The keys listed, in order (possibly none).

    Raises:
        FormatError: not UTF-8, a byte order mark, a lone CR, or a line that is neither blank,
            a comment nor exactly one public key text; the message names the line.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"the file is not UTF-8 (invalid byte at offset {exc.start})") from None
    if text.startswith("\ufeff"):
        raise FormatError("the file starts with a byte order mark (U+FEFF); save it without")
    keys = []
    for number, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line.removesuffix("\r")
        if "\r" in line:
            raise FormatError(f"line {number}: a carriage return (CR) not followed by LF")
        line = line.strip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(VerifyingKey.from_text(line))
        except FormatError as exc:
            raise FormatError(f"line {number}: {exc}") from None
    return tuple(keys)


def parse_txt_value(value: bytes) -> bytes | None:
    """Parse one TXT record's value (its strings concatenated) strictly.

    Args:
        value: the record's value.

    Returns:
        The 32-byte public key of a v1 record, or None for a record that is not v1.

    Raises:
        FormatError: a v1 record that is not exactly ``v=ledger1; k=<canonical base64 key>``,
            or whose key is not a valid Ed25519 public key.
    """
    rest = value.removeprefix(_TXT_VERSION)
    if rest == value or rest[:1] not in (b"", b";", b" ", b"\t"):
        return None
    match = _TXT_VALUE.fullmatch(value)
    if match is None:
        raise FormatError("a v=ledger1 TXT record must be exactly 'v=ledger1; k=<base64 key>'")
    raw = _b64decode_strict(match.group(1).decode("ascii"), "TXT record key", _KEY_SIZE)
    VerifyingKey.from_raw("dns-txt", raw)  # rejects small-order and non-canonical keys
    return raw


def format_txt_body(records: Sequence[Sequence[bytes]]) -> bytes:
    """The DNS evidence body of TXT records: one presentation-form line per record.

    Args:
        records: each record's character-strings, in the order received.

    Returns:
        ASCII bytes; empty for no records.
    """
    return b"".join(_quote_strings(strings).encode("ascii") + b"\n" for strings in records)


def parse_txt_body(body: bytes) -> tuple[tuple[bytes, ...], ...]:
    """Parse a DNS evidence body strictly; inverse of ``format_txt_body``.

    Returns:
        Each record's character-strings.

    Raises:
        FormatError: not in exactly the form ``format_txt_body`` writes.
    """
    if not body:
        return ()
    if not body.endswith(b"\n"):
        raise FormatError("DNS answer text does not end with a line feed")
    records = []
    for number, line in enumerate(body[:-1].split(b"\n"), 1):
        strings = _unquote_strings(line, number)
        if format_txt_body([strings]) != line + b"\n":
            raise FormatError(f"DNS answer line {number} is not in canonical presentation form")
        records.append(strings)
    return tuple(records)


def published_keys(method: str, body: bytes) -> tuple[bytes, ...]:
    """The 32-byte public keys that a fetched body publishes.

    Args:
        method: ``"well-known"`` or ``"dns-txt"``.
        body: the recorded body.

    Returns:
        The raw public keys, in order.

    Raises:
        FormatError: the body is malformed for its method.
        UsageError: unknown method.
    """
    if method == METHOD_WELL_KNOWN:
        return tuple(key.raw for key in parse_well_known(body))
    if method == METHOD_DNS:
        found = []
        for index, strings in enumerate(parse_txt_body(body), 1):
            try:
                raw = parse_txt_value(b"".join(strings))
            except FormatError as exc:
                raise FormatError(f"TXT record {index}: {exc}") from None
            if raw is not None:
                found.append(raw)
        return tuple(found)
    raise UsageError(f"unknown binding method {method!r}")


def rcode_text(rcode: int) -> str:
    """The mnemonic of a DNS rcode (``NXDOMAIN``), or ``rcode <n>``."""
    return _RCODES.get(rcode, f"rcode {rcode}")


# ---------------------------------------------------------------------------------------------
# evidence


def evidence_for(fetch: Fetch, *, method: str, domain: str, public_key: bytes) -> Evidence:
    """Judge a fetch against one signatory's key and make the evidence record.

    Args:
        fetch: what the fetch got.
        method: ``"well-known"`` or ``"dns-txt"``.
        domain: the signatory's domain.
        public_key: the signatory's 32-byte key.

    Returns:
        The record; ``found`` is True only for a complete answer with the present status
        (HTTP 200, DNS NOERROR) whose well-formed body lists the key.

    Raises:
        UsageError: unknown method, or a key that is not 32 bytes.
    """
    if method not in METHODS:
        raise UsageError(f"unknown binding method {method!r}")
    if len(public_key) != _KEY_SIZE:
        raise UsageError(f"public key must be {_KEY_SIZE} bytes, not {len(public_key)}")
    error = fetch.error
    found = False
    if error is None and fetch.status == _PRESENT_STATUS[method]:
        try:
            found = public_key in published_keys(method, fetch.body)
        except FormatError as exc:
            error = str(exc)
    elif error is None and fetch.status is not None:
        error = _status_text(method, fetch.status)
    return Evidence(
        method=method,
        domain=domain,
        public_key=public_key,
        url=fetch.url,
        server=fetch.server,
        fetched_at=fetch.fetched_at,
        status=fetch.status,
        body=fetch.body,
        sha256=hashlib.sha256(fetch.body).digest(),
        complete=fetch.complete,
        truncated=fetch.truncated,
        found=found and fetch.complete and not fetch.truncated,
        error=error,
    )


def evidence_problem(record: Evidence) -> str | None:
    """Why a record cannot be relied on at all, or None when it is intact.

    A record is intact when its body is within ``MAX_BODY`` and its ``sha256`` is the
    SHA-256 of its body. Intact does not mean the key was found.
    """
    if len(record.body) > MAX_BODY:
        return f"the body is {len(record.body)} bytes, more than {MAX_BODY}"
    digest = hashlib.sha256(record.body).digest()
    if digest != record.sha256:
        return (
            f"sha256 is {record.sha256.hex()[:16]}… but the body hashes to "
            f"{digest.hex()[:16]}…: the record was altered"
        )
    return None


def key_published(record: Evidence) -> bool:
    """Recompute, trusting nothing stored, whether ``record`` shows its key published.

    True only if the record is intact (``evidence_problem`` is None), the whole answer came
    (complete, not truncated), its status is HTTP 200 / DNS NOERROR, and its body is
    well-formed and lists exactly ``record.public_key``.
    """
    if evidence_problem(record) is not None or not record.complete or record.truncated:
        return False
    if record.method not in METHODS or record.status != _PRESENT_STATUS[record.method]:
        return False
    try:
        return record.public_key in published_keys(record.method, record.body)
    except LedgerError:
        return False


def apply_evidence(report: Report, evidence: Sequence[Evidence]) -> Report:
    """Set each signatory's identity from the evidence; pure, never raises on bad evidence.

    For each signatory that gave a domain, and for each method, the latest definite record
    (intact; complete; HTTP 200, 404 or 410, or DNS NOERROR or NXDOMAIN) for exactly that
    domain and that key decides: the signatory is "confirmed" when, for at least one method,
    that record's body lists the key. Records for another domain or another key, altered
    records (sha256 mismatch), cut or incomplete answers, and indefinite ones (timeouts, server
    errors, refused redirects) never confirm; indefinite ones do not undo an earlier definite
    record either, while a later definite record that no longer lists the key does.

    Args:
        report: a verification report.
        evidence: the campaign's records, in any order.

    Returns:
        The report with every signatory's ``identity`` and ``identity_note`` set: "confirmed"
        with a note naming where and when ("key published at https://… as fetched by the
        campaign on <date>"), else "self-asserted" with a note saying why, when evidence
        exists, or None.
    """
    latest: dict[tuple[str, bytes, str], tuple[int, int, Evidence]] = {}
    for order, record in enumerate(evidence):
        if not _definite(record):
            continue
        slot = (record.domain, record.public_key, record.method)
        rank = (record.fetched_at, order)
        if slot not in latest or rank > latest[slot][:2]:
            latest[slot] = (*rank, record)
    attempted = {(record.domain, record.public_key) for record in evidence}

    def identity(signatory: Signatory) -> Signatory:
        return _apply_one(signatory, latest, attempted)

    if isinstance(report.signatories, tuple):
        return attrs.evolve(report, signatories=tuple(map(identity, report.signatories)))
    # A large report's list is read from its file: set the identity as it is read.
    return attrs.evolve(report, signatories=MappedSequence(report.signatories, identity))


def _apply_one(
    signatory: Signatory,
    latest: dict[tuple[str, bytes, str], tuple[int, int, Evidence]],
    attempted: set[tuple[str, bytes]],
) -> Signatory:
    domain, key = signatory.domain, signatory.public_key
    if domain is None:
        return attrs.evolve(signatory, identity="self-asserted", identity_note=None)
    decisive = [latest[slot][2] for m in METHODS if (slot := (domain, key, m)) in latest]
    confirmed = [record for record in decisive if key_published(record)]
    note: str | None
    if confirmed:
        note = "; ".join(
            f"key published at {_where(record)}, as fetched by the campaign on "
            f"{format_time(record.fetched_at)}"
            for record in confirmed
        )
        return attrs.evolve(signatory, identity="confirmed", identity_note=note)
    if decisive:
        note = "; ".join(
            f"key not published at {_where(record)}, as fetched by the campaign on "
            f"{format_time(record.fetched_at)}"
            for record in decisive
        )
    elif (domain, key) in attempted:
        note = f"no usable evidence that {domain} publishes this key"
    else:
        note = None
    return attrs.evolve(signatory, identity="self-asserted", identity_note=note)


def _definite(record: Evidence) -> bool:
    return (
        record.method in METHODS
        and evidence_problem(record) is None
        and record.complete
        and not record.truncated
        and record.status in _DEFINITE_STATUS[record.method]
    )


def _where(record: Evidence) -> str:
    if record.method == METHOD_DNS:
        via = f" (resolver {record.server})" if record.server else ""
        return f"DNS TXT {txt_name(record.domain)}{via}"
    canonical = well_known_url(record.domain)
    if record.url == canonical:
        return canonical
    return f"{canonical} (fetched from {record.url} instead)"


def _status_text(method: str, status: int) -> str:
    if method == METHOD_DNS:
        return f"DNS answer {rcode_text(status)}"
    return f"HTTP status {status}"


# ---------------------------------------------------------------------------------------------
# JSON


def evidence_to_json(evidence: Sequence[Evidence]) -> str:
    """Encode evidence records as the ``endorsement-ledger/evidence/v1`` JSON document.

    Returns:
        Indented JSON text (ASCII), ending in LF; records in the order given.
    """
    document = {
        "schema": EVIDENCE_SCHEMA,
        "evidence": [_record_to_json(record) for record in evidence],
    }
    return json.dumps(document, indent=2) + "\n"


def evidence_from_json(text: str | bytes) -> tuple[Evidence, ...]:
    """Decode an ``endorsement-ledger/evidence/v1`` document strictly.

    Args:
        text: the JSON text (bytes must be UTF-8).

    Returns:
        The records, in document order.

    Raises:
        FormatError: not JSON, another schema, or any record member missing, unknown,
            duplicated, of the wrong type or out of range; the message names the record.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError("evidence JSON is not UTF-8") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_number,
            parse_constant=_reject_number,
        )
    except json.JSONDecodeError as exc:
        raise FormatError(f"evidence is not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise FormatError(f"evidence JSON: {exc}") from None
    except RecursionError:
        raise FormatError("evidence JSON is nested too deeply") from None
    if not isinstance(document, dict) or set(document) != {"schema", "evidence"}:
        raise FormatError("evidence JSON must be an object with exactly 'schema' and 'evidence'")
    if document["schema"] != EVIDENCE_SCHEMA:
        raise FormatError(f"evidence schema must be {EVIDENCE_SCHEMA!r}")
    records = document["evidence"]
    if not isinstance(records, list):
        raise FormatError("evidence JSON: 'evidence' must be a list")
    out = []
    for index, item in enumerate(records):
        try:
            out.append(_record_from_json(item))
        except FormatError as exc:
            raise FormatError(f"evidence record {index}: {exc}") from None
    return tuple(out)


def _record_to_json(record: Evidence) -> dict[str, Any]:
    return {
        "method": record.method,
        "domain": record.domain,
        "public_key": _b64encode(record.public_key),
        "url": record.url,
        "server": record.server,
        "fetched_at": record.fetched_at,
        "status": record.status,
        "complete": record.complete,
        "truncated": record.truncated,
        "found": record.found,
        "error": record.error,
        "sha256": record.sha256.hex(),
        "body": _b64encode(record.body),
    }


def _record_from_json(item: object) -> Evidence:
    if not isinstance(item, dict):
        raise FormatError("must be a JSON object")
    missing = [name for name in _RECORD_FIELDS if name not in item]
    unknown = sorted(set(item) - set(_RECORD_FIELDS))
    if missing or unknown:
        raise FormatError(f"missing members {missing}, unknown members {unknown}")
    method = _get(item, "method", str)
    if method not in METHODS:
        raise FormatError(f"method must be one of {list(METHODS)}")
    domain = check_domain(_get(item, "domain", str))
    sha256 = _get(item, "sha256", str)
    if not _HEX64.fullmatch(sha256):
        raise FormatError("sha256 must be 64 lowercase hexadecimal digits")
    body = _b64decode_strict(_get(item, "body", str), "body", None, allow_empty=True)
    if len(body) > MAX_BODY:
        raise FormatError(f"body is {len(body)} bytes, more than {MAX_BODY}")
    complete = _get(item, "complete", bool)
    truncated = _get(item, "truncated", bool)
    if truncated and complete:
        raise FormatError("a truncated body cannot be complete")
    status = _get_optional(item, "status", int)
    if status is not None and not 0 <= status <= 65_535:
        raise FormatError("status must be in 0..65535")
    fetched_at = _get(item, "fetched_at", int)
    if not 0 <= fetched_at <= _MAX_TIME:
        raise FormatError("fetched_at must be a non-negative 63-bit integer")
    error = _get_optional(item, "error", str)
    if error is not None and not 0 < len(error) <= _MAX_ERROR:
        raise FormatError(f"error must be 1..{_MAX_ERROR} characters")
    return Evidence(
        method=method,
        domain=domain,
        public_key=_b64decode_strict(_get(item, "public_key", str), "public_key", _KEY_SIZE),
        url=_check_ascii_text(_get(item, "url", str), "url"),
        server=_check_optional_ascii(_get_optional(item, "server", str), "server"),
        fetched_at=fetched_at,
        status=status,
        body=body,
        sha256=bytes.fromhex(sha256),
        complete=complete,
        truncated=truncated,
        found=_get(item, "found", bool),
        error=error,
    )


def _get(item: dict[str, object], name: str, kind: type[_T]) -> _T:
    value = item[name]
    # bool is an int subclass: True must not pass as a status or a time.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"{name} must be a {kind.__name__}")
    return value


def _get_optional(item: dict[str, object], name: str, kind: type[_T]) -> _T | None:
    return None if item[name] is None else _get(item, name, kind)


def _check_ascii_text(value: str, what: str) -> str:
    if not 0 < len(value) <= _MAX_TEXT or not all(" " < c < "\x7f" for c in value):
        raise FormatError(f"{what} must be 1..{_MAX_TEXT} printable ASCII characters")
    return value


def _check_optional_ascii(value: str | None, what: str) -> str | None:
    return None if value is None else _check_ascii_text(value, what)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _reject_number(text: str) -> object:
    raise ValueError(f"non-integer number {text[:20]!r} is not allowed")


# ---------------------------------------------------------------------------------------------
# helpers


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(
    text: str, what: str, size: int | None, *, allow_empty: bool = False
) -> bytes:
    if not text and not allow_empty:
        raise FormatError(f"{what} is empty")
    if not text.isascii():
        raise FormatError(f"{what} is not base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if _b64encode(data) != text:
        raise FormatError(f"{what} is not canonical base64")
    if size is not None and len(data) != size:
        raise FormatError(f"{what} must decode to {size} bytes, not {len(data)}")
    return data


def _quote_strings(strings: Sequence[bytes]) -> str:
    # RFC 1035 §5.1: a <character-string> in quotes; '"' and '\' escaped; other bytes outside
    # printable ASCII as \DDD, so the line is ASCII and says exactly which bytes were sent.
    if not strings:
        return '""'  # a record with no strings shows as one empty string, as dig shows it
    parts = []
    for string in strings:
        out = []
        for byte in string:
            if byte in (0x22, 0x5C):
                out.append("\\" + chr(byte))
            elif 0x20 <= byte <= 0x7E:
                out.append(chr(byte))
            else:
                out.append(f"\\{byte:03d}")
        parts.append('"' + "".join(out) + '"')
    return " ".join(parts)


def _unquote_strings(line: bytes, number: int) -> tuple[bytes, ...]:
    strings: list[bytes] = []
    position = 0
    while position < len(line):
        if strings:
            if line[position : position + 1] != b" ":
                raise FormatError(f"DNS answer line {number}: strings must be separated by a space")
            position += 1
        if line[position : position + 1] != b'"':
            raise FormatError(f"DNS answer line {number}: expected '\"' at column {position + 1}")
        position += 1
        value = bytearray()
        while True:
            if position >= len(line):
                raise FormatError(f"DNS answer line {number}: unterminated string")
            byte = line[position]
            if byte == 0x22:
                position += 1
                break
            if byte == 0x5C:
                escape = line[position + 1 : position + 4]
                if escape[:1] in (b'"', b"\\"):
                    value.append(escape[0])
                    position += 2
                    continue
                if len(escape) == 3 and escape.isdigit() and int(escape) <= 255:
                    value.append(int(escape))
                    position += 4
                    continue
                raise FormatError(f"DNS answer line {number}: bad escape at column {position + 1}")
            value.append(byte)
            position += 1
        if len(value) > _TXT_STRING_MAX:
            raise FormatError(f"DNS answer line {number}: a string longer than 255 bytes")
        strings.append(bytes(value))
    if not strings:
        raise FormatError(f"DNS answer line {number} is empty")
    return tuple(strings)
