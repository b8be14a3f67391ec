"""Identity binding without a network: formats, strict parsing, evidence, JSON, storage, snippet.

The fetches themselves, against real HTTP and DNS servers on loopback, are in
``test_binding_servers.py``. Here evidence is made from ``Fetch`` values directly, so every
judgement ``apply_evidence`` makes is tested on exactly the bytes it sees.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from cli.main import cli
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

import ledger
from helpers import LOG_KEY, ORIGIN, STATEMENT, T0, seeded_key
from ledger.binding import (
    EVIDENCE_SCHEMA,
    MAX_BODY,
    Evidence,
    Fetch,
    apply_evidence,
    evidence_for,
    evidence_from_json,
    evidence_problem,
    evidence_to_json,
    format_snippet,
    format_txt_body,
    format_txt_record,
    format_txt_value,
    format_well_known_file,
    key_published,
    parse_txt_body,
    parse_txt_value,
    parse_well_known,
    published_keys,
    txt_name,
    well_known_url,
)
from ledger.binding_fetch import parse_nameserver
from ledger.binding_store import EVIDENCE_TABLE, load_evidence, save_evidence

# RFC 8032 §7.1 test 1 public key: the example in binding.py's documentation.
RFC8032_KEY = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
KEY = seeded_key("ngo.example").public
OTHER = seeded_key("other.example").public
T_FETCH = 1_700_000_000  # 2023-11-14T22:13:20Z


def wk_file(*keys: ledger.VerifyingKey) -> bytes:
    return format_well_known_file(keys).encode()


def txt_body(*values: str) -> bytes:
    return format_txt_body([[value.encode()] for value in values])


def fetch(
    body: bytes = b"",
    *,
    status: int | None = 200,
    url: str = "https://ngo.example/.well-known/endorsement-keys.txt",
    at: int = T_FETCH,
    complete: bool = True,
    truncated: bool = False,
    error: str | None = None,
) -> Fetch:
    return Fetch(
        url=url,
        server="192.0.2.1:443",
        fetched_at=at,
        status=status,
        body=body,
        complete=complete,
        truncated=truncated,
        error=error,
    )


def wk_evidence(
    body: bytes,
    *,
    domain: str = "ngo.example",
    key: ledger.VerifyingKey = KEY,
    **kw: object,
) -> Evidence:
    url = well_known_url(domain)
    return evidence_for(
        fetch(body, url=url, **kw),  # type: ignore[arg-type]
        method="well-known",
        domain=domain,
        public_key=key.raw,
    )


def dns_evidence(
    body: bytes, *, domain: str = "ngo.example", key: ledger.VerifyingKey = KEY, **kw: object
) -> Evidence:
    kw.setdefault("status", 0)
    return evidence_for(
        fetch(body, url=txt_name(domain), **kw),  # type: ignore[arg-type]
        method="dns-txt",
        domain=domain,
        public_key=key.raw,
    )


# --- formats ---------------------------------------------------------------------------------


def test_documented_example_key_is_rfc8032_test_1() -> None:
    key = ledger.VerifyingKey.from_raw("ngo.example", RFC8032_KEY)
    assert key.to_text() == "ledger-pub1:ngo.example:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    assert format_txt_value(key) == "v=ledger1; k=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    assert format_txt_record(key) == (
        '_endorsement 3600 IN TXT "v=ledger1; k=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="'
    )
    assert ledger.binding.__doc__ is not None
    assert format_txt_record(key) in ledger.binding.__doc__
    assert key.to_text() in ledger.binding.__doc__


def test_txt_value_fits_one_string() -> None:
    value = format_txt_value(KEY)
    assert len(value.encode()) == 57  # under 255: one character-string
    assert parse_txt_value(value.encode()) == KEY.raw


def test_txt_record_in_zone_file_syntax() -> None:
    b64 = base64.b64encode(KEY.raw).decode()
    assert format_txt_record(KEY, "ngo.example") == (
        f'_endorsement.ngo.example. 3600 IN TXT "v=ledger1; k={b64}"'
    )
    assert format_txt_record(KEY, "ngo.example", ttl=300).startswith(
        "_endorsement.ngo.example. 300"
    )


def test_snippet_holds_exactly_what_to_publish() -> None:
    text = format_snippet(KEY, "ngo.example")
    lines = text.splitlines()
    assert KEY.to_text() in lines
    assert format_txt_record(KEY, "ngo.example") in lines
    assert "https://ngo.example/.well-known/endorsement-keys.txt" in text
    # The key line, pasted alone into a file, is a valid well-known file.
    assert parse_well_known(KEY.to_text().encode()) == (KEY,)


def test_snippet_without_domain_uses_placeholders() -> None:
    text = format_snippet(KEY)
    assert "https://<your domain>/.well-known/endorsement-keys.txt" in text
    assert format_txt_record(KEY) in text.splitlines()


def test_well_known_file_round_trips() -> None:
    text = format_well_known_file([KEY, OTHER], "ngo.example")
    assert text.startswith("# endorsement-ledger keys of ngo.example\n")
    assert parse_well_known(text.encode()) == (KEY, OTHER)


@pytest.mark.parametrize("domain", ["NGO.example", "ngo", "ngo.example.", "-x.example", "a b.org"])
def test_locations_refuse_bad_domains(domain: str) -> None:
    with pytest.raises(ledger.FormatError):
        well_known_url(domain)
    with pytest.raises(ledger.FormatError):
        txt_name(domain)


def test_locations() -> None:
    assert well_known_url("ngo.example") == "https://ngo.example/.well-known/endorsement-keys.txt"
    assert txt_name("xn--bcher-kva.example") == "_endorsement.xn--bcher-kva.example"


# --- the well-known file, strictly -----------------------------------------------------------


def test_well_known_comments_blank_lines_crlf_and_spaces_are_tolerated() -> None:
    body = (
        "# our keys\r\n\r\n   \t\r\n  # indented comment\r\n"
        f"\t{KEY.to_text()}  \r\n{OTHER.to_text()}"
    ).encode()
    assert parse_well_known(body) == (KEY, OTHER)


def test_empty_and_comment_only_files_list_no_keys() -> None:
    assert parse_well_known(b"") == ()
    assert parse_well_known(b"# nothing yet\n\n") == ()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\xef\xbb\xbf" + KEY.to_text().encode(), "byte order mark"),
        (b"# ok\n\xff\n", "not UTF-8 (invalid byte at offset 5)"),
        (b"# a\rb\n", "line 1: a carriage return"),
        (f"# ok\n{KEY.to_text()} # our key\n".encode(), "line 2:"),
        (f"{KEY.to_text()}\nhello\n".encode(), "line 2:"),
        (f"{KEY.to_text()[:-2]}\n".encode(), "line 1:"),
        (f"{KEY.to_text()} {OTHER.to_text()}\n".encode(), "line 1:"),
        (seeded_key("x.example").to_text().encode(), "secret key"),
        (KEY.to_verifier_key().encode(), "line 1:"),
        (b"<html><body>Not found</body></html>\n", "line 1:"),
    ],
    ids=[
        "bom",
        "not-utf8",
        "lone-cr",
        "trailing-comment",
        "garbage-line",
        "cut-key",
        "two-keys-on-a-line",
        "secret-key",
        "verifier-key-form",
        "html-soft-404",
    ],
)
def test_well_known_malformed(body: bytes, fragment: str) -> None:
    with pytest.raises(ledger.FormatError) as info:
        parse_well_known(body)
    assert fragment in str(info.value)


# --- the TXT value, strictly -----------------------------------------------------------------


B64 = base64.b64encode(KEY.raw).decode()


@pytest.mark.parametrize(
    "value",
    [
        "v=spf1 -all",
        "v=ledger2; k=whatever",
        "v=ledger10; k=" + B64,
        "V=ledger1; k=" + B64,
        " v=ledger1; k=" + B64,
        "google-site-verification=abc",
        "",
    ],
)
def test_other_txt_records_are_not_ours(value: str) -> None:
    assert parse_txt_value(value.encode()) is None


@pytest.mark.parametrize(
    "value",
    [
        "v=ledger1",
        "v=ledger1;",
        "v=ledger1; k=",
        "v=ledger1;k=" + B64,
        "v=ledger1;  k=" + B64,
        "v=ledger1; k=" + B64 + ";",
        "v=ledger1; k=" + B64 + " ",
        "v=ledger1; k=" + B64[:-1],
        "v=ledger1; k=" + B64.rstrip("="),
        "v=ledger1; K=" + B64,
        "v=ledger1; k=" + B64 + "; n=ngo",
        "v=ledger1 k=" + B64,
        "v=ledger1\tk=" + B64,
        "v=ledger1; k=" + base64.b64encode(bytes(32)).decode(),  # small-order point
    ],
)
def test_malformed_v1_records_are_rejected(value: str) -> None:
    with pytest.raises(ledger.FormatError):
        parse_txt_value(value.encode())


def test_non_canonical_base64_is_rejected() -> None:
    # The last base64 character carries 2 unused bits; setting one gives the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert B64.endswith("=")
    index = alphabet.index(B64[-2])
    assert index % 4 == 0  # 32 bytes in 43 characters: the last one's 2 low bits are unused
    value = f"v=ledger1; k={B64[:-2]}{alphabet[index + 1]}="
    assert base64.b64decode(value[13:]) == KEY.raw
    with pytest.raises(ledger.FormatError, match="canonical"):
        parse_txt_value(value.encode())


def test_every_byte_change_of_a_txt_value_loses_the_key() -> None:
    value = format_txt_value(KEY).encode()
    for position in range(len(value)):
        for replacement in {0x00, 0x20, 0x3B, 0x41, 0x61, value[position] ^ 0x01}:
            if replacement == value[position]:
                continue
            mutated = value[:position] + bytes([replacement]) + value[position + 1 :]
            assert parsed_or_none(mutated) != KEY.raw, mutated
    for cut in range(len(value)):
        assert parsed_or_none(value[:cut]) != KEY.raw


def parsed_or_none(value: bytes) -> bytes | None:
    try:
        return parse_txt_value(value)
    except ledger.FormatError:
        return None


# --- DNS answers as text ---------------------------------------------------------------------


def test_txt_body_is_dig_presentation_form() -> None:
    body = format_txt_body([[b"v=ledger1; k=AAAA", b"BBBB"], [b'say "hi" \\ \x00\xff\n']])
    assert body == (b'"v=ledger1; k=AAAA" "BBBB"\n"say \\"hi\\" \\\\ \\000\\255\\010"\n')
    assert parse_txt_body(body) == ((b"v=ledger1; k=AAAA", b"BBBB"), (b'say "hi" \\ \x00\xff\n',))
    assert format_txt_body([]) == b""
    assert parse_txt_body(b"") == ()


@given(
    st.lists(
        st.lists(st.binary(max_size=255), min_size=1, max_size=4),
        max_size=4,
    )
)
def test_txt_body_round_trips(records: list[list[bytes]]) -> None:
    body = format_txt_body(records)
    assert body.isascii()
    assert parse_txt_body(body) == tuple(tuple(r) for r in records)


@pytest.mark.parametrize(
    "body",
    [
        b'"abc"',  # no final LF
        b'"abc"\r\n',
        b'"abc"  "def"\n',
        b'"abc""def"\n',
        b'"abc" \n',
        b"abc\n",
        b'"abc\n',
        b'"\\065"\n',  # 'A' escaped: not canonical
        b'"\\256"\n',
        b'"\\x"\n',
        b'"\x7f"\n',
        b'"\xc3\xa9"\n',
        b"\n",
        b'"' + b"a" * 256 + b'"\n',
    ],
)
def test_txt_body_rejects_other_forms(body: bytes) -> None:
    with pytest.raises(ledger.FormatError):
        parse_txt_body(body)


def test_split_txt_record_is_concatenated() -> None:
    value = format_txt_value(KEY).encode()
    body = format_txt_body([[value[:20], value[20:40], value[40:]]])
    assert published_keys("dns-txt", body) == (KEY.raw,)


def test_dns_body_with_other_records_and_two_keys() -> None:
    body = txt_body("v=spf1 -all", format_txt_value(KEY), format_txt_value(OTHER))
    assert published_keys("dns-txt", body) == (KEY.raw, OTHER.raw)


def test_one_malformed_v1_record_spoils_the_answer() -> None:
    body = txt_body(format_txt_value(KEY), "v=ledger1; k=nonsense")
    with pytest.raises(ledger.FormatError, match="TXT record 2"):
        published_keys("dns-txt", body)


# --- judging a fetch -------------------------------------------------------------------------


def test_evidence_records_what_was_fetched() -> None:
    body = wk_file(KEY)
    record = wk_evidence(body)
    assert record.found
    assert record.error is None
    assert record.sha256 == hashlib.sha256(body).digest()
    assert record.fetched_at == T_FETCH
    assert key_published(record)
    assert evidence_problem(record) is None


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"status": 404}, "HTTP status 404"),
        ({"status": None, "complete": False, "error": "timed out after 1 s"}, "timed out"),
        ({"complete": False, "truncated": True, "error": "cut"}, "cut"),
        ({"complete": False, "error": "connection failed: reset"}, "connection failed"),
    ],
)
def test_evidence_not_found(kw: dict[str, Any], error: str) -> None:
    record = wk_evidence(wk_file(KEY), **kw)
    assert not record.found
    assert record.error is not None
    assert error in record.error
    assert not key_published(record)


def test_evidence_of_a_malformed_file_records_the_parse_error() -> None:
    record = wk_evidence(b"\xff" + wk_file(KEY))
    assert not record.found
    assert record.error == "the file is not UTF-8 (invalid byte at offset 0)"


def test_dns_evidence() -> None:
    assert dns_evidence(txt_body(format_txt_value(KEY))).found
    nx = dns_evidence(b"", status=3)
    assert not nx.found
    assert nx.error == "DNS answer NXDOMAIN"


def test_evidence_for_refuses_bad_arguments() -> None:
    with pytest.raises(ledger.UsageError):
        evidence_for(fetch(), method="http", domain="ngo.example", public_key=KEY.raw)
    with pytest.raises(ledger.UsageError):
        evidence_for(fetch(), method="dns-txt", domain="ngo.example", public_key=b"short")


# --- apply_evidence on a real ledger's report ------------------------------------------------

ORGS = {1: "ngo.example", 2: "other.example", 3: None}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ledger.Report:
    path = tmp_path_factory.mktemp("binding") / "ledger.db"
    with ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        for seq, domain in ORGS.items():
            key = KEY if seq == 1 else OTHER if seq == 2 else seeded_key("nodomain").public
            signer = (
                seeded_key("ngo.example")
                if seq == 1
                else seeded_key("other.example")
                if seq == 2
                else seeded_key("nodomain")
            )
            assert signer.public == key
            cose = ledger.endorse(
                signer, book.statement_hash, name=f"Org {seq}", signed_at=T0, domain=domain
            )
            assert book.append([(f"org{seq}", cose)], now=T0 + seq).appended
        result = book.verify()
    assert result.ok
    return result


def identities(report: ledger.Report) -> dict[int, str]:
    return {s.seq: s.identity for s in report.signatories}


def note_of(report: ledger.Report, seq: int) -> str | None:
    return next(s.identity_note for s in report.signatories if s.seq == seq)


def test_no_evidence_leaves_everyone_self_asserted(report: ledger.Report) -> None:
    applied = apply_evidence(report, [])
    assert identities(applied) == {1: "self-asserted", 2: "self-asserted", 3: "self-asserted"}
    assert all(s.identity_note is None for s in applied.signatories)


def test_well_known_evidence_confirms_the_right_signatory(report: ledger.Report) -> None:
    applied = apply_evidence(report, [wk_evidence(wk_file(KEY))])
    assert identities(applied) == {1: "confirmed", 2: "self-asserted", 3: "self-asserted"}
    assert note_of(applied, 1) == (
        "key published at https://ngo.example/.well-known/endorsement-keys.txt, "
        "as fetched by the campaign on 2023-11-14T22:13:20Z"
    )
    assert note_of(applied, 2) is None
    # Nothing else in the report changes.
    assert attrs.evolve(applied, signatories=report.signatories) == report


def test_dns_evidence_confirms_and_names_the_resolver(report: ledger.Report) -> None:
    applied = apply_evidence(report, [dns_evidence(txt_body(format_txt_value(KEY)))])
    assert identities(applied)[1] == "confirmed"
    assert note_of(applied, 1) == (
        "key published at DNS TXT _endorsement.ngo.example (resolver 192.0.2.1:443), "
        "as fetched by the campaign on 2023-11-14T22:13:20Z"
    )


def test_both_methods_are_named(report: ledger.Report) -> None:
    applied = apply_evidence(
        report, [wk_evidence(wk_file(KEY)), dns_evidence(txt_body(format_txt_value(KEY)))]
    )
    note = note_of(applied, 1)
    assert note is not None
    assert note.count("as fetched by the campaign on") == 2


def test_evidence_for_another_domain_does_not_confirm(report: ledger.Report) -> None:
    # other.example publishes ngo.example's key: it is not ngo.example saying so.
    stolen = wk_evidence(wk_file(KEY, OTHER), domain="other.example", key=KEY)
    assert stolen.found
    applied = apply_evidence(report, [stolen])
    assert identities(applied)[1] == "self-asserted"
    assert identities(applied)[2] == "self-asserted"  # a record for KEY says nothing of OTHER


def test_evidence_for_another_key_does_not_confirm(report: ledger.Report) -> None:
    # A record about OTHER at ngo.example, whose body lists KEY too, is not about KEY.
    record = wk_evidence(wk_file(KEY, OTHER), key=OTHER)
    applied = apply_evidence(report, [record])
    assert identities(applied)[1] == "self-asserted"


def test_wrong_key_published_does_not_confirm(report: ledger.Report) -> None:
    applied = apply_evidence(report, [wk_evidence(wk_file(OTHER))])
    assert identities(applied)[1] == "self-asserted"
    assert note_of(applied, 1) == (
        "key not published at https://ngo.example/.well-known/endorsement-keys.txt, "
        "as fetched by the campaign on 2023-11-14T22:13:20Z"
    )


def test_tampered_body_does_not_confirm(report: ledger.Report) -> None:
    honest = wk_evidence(wk_file(OTHER))
    tampered = attrs.evolve(honest, body=wk_file(KEY), found=True)
    assert evidence_problem(tampered) is not None
    assert "altered" in (evidence_problem(tampered) or "")
    assert not key_published(tampered)
    assert identities(apply_evidence(report, [tampered]))[1] == "self-asserted"


def test_tampered_sha256_does_not_confirm(report: ledger.Report) -> None:
    honest = wk_evidence(wk_file(KEY))
    for position in (0, 31):
        sha = bytearray(honest.sha256)
        sha[position] ^= 0x80
        tampered = attrs.evolve(honest, sha256=bytes(sha))
        assert identities(apply_evidence(report, [tampered]))[1] == "self-asserted"


def test_stored_found_flag_is_not_trusted(report: ledger.Report) -> None:
    lying_yes = attrs.evolve(wk_evidence(wk_file(OTHER)), found=True)
    assert identities(apply_evidence(report, [lying_yes]))[1] == "self-asserted"
    lying_no = attrs.evolve(wk_evidence(wk_file(KEY)), found=False)
    assert identities(apply_evidence(report, [lying_no]))[1] == "confirmed"


@pytest.mark.parametrize(
    "change",
    [
        {"truncated": True, "complete": False},
        {"complete": False},
        {"status": 203},
        {"status": None},
        {"method": "carrier-pigeon"},
    ],
)
def test_incomplete_or_odd_records_do_not_confirm(
    report: ledger.Report, change: dict[str, Any]
) -> None:
    record = attrs.evolve(wk_evidence(wk_file(KEY)), **change)
    assert identities(apply_evidence(report, [record]))[1] == "self-asserted"


def test_a_later_definite_answer_decides(report: ledger.Report) -> None:
    published = wk_evidence(wk_file(KEY), at=T_FETCH)
    removed = wk_evidence(wk_file(OTHER), at=T_FETCH + 86_400)
    gone = wk_evidence(b"", status=404, at=T_FETCH + 86_400)
    assert identities(apply_evidence(report, [published, removed]))[1] == "self-asserted"
    assert identities(apply_evidence(report, [removed, published]))[1] == "self-asserted"
    assert identities(apply_evidence(report, [published, gone]))[1] == "self-asserted"
    republished = wk_evidence(wk_file(KEY), at=T_FETCH + 2 * 86_400)
    applied = apply_evidence(report, [published, gone, republished])
    assert identities(applied)[1] == "confirmed"
    assert "2023-11-16T22:13:20Z" in (note_of(applied, 1) or "")


def test_a_later_failure_does_not_undo(report: ledger.Report) -> None:
    published = wk_evidence(wk_file(KEY), at=T_FETCH)
    later = [
        wk_evidence(b"", status=None, complete=False, error="timed out", at=T_FETCH + 60),
        wk_evidence(b"", status=503, at=T_FETCH + 60),
        wk_evidence(b"x" * 10, status=302, error="redirect", at=T_FETCH + 60),
        dns_evidence(b"", status=2, at=T_FETCH + 60),  # SERVFAIL
        attrs.evolve(wk_evidence(wk_file(OTHER), at=T_FETCH + 60), sha256=bytes(32)),
    ]
    assert identities(apply_evidence(report, [published, *later]))[1] == "confirmed"


def test_one_method_is_enough(report: ledger.Report) -> None:
    records = [wk_evidence(b"", status=404), dns_evidence(txt_body(format_txt_value(KEY)))]
    applied = apply_evidence(report, records)
    assert identities(applied)[1] == "confirmed"
    assert "DNS TXT" in (note_of(applied, 1) or "")
    assert "well-known" not in (note_of(applied, 1) or "")


def test_override_url_is_shown(report: ledger.Report) -> None:
    record = evidence_for(
        fetch(
            wk_file(KEY), url="http://127.0.0.1:8080/ngo.example/.well-known/endorsement-keys.txt"
        ),
        method="well-known",
        domain="ngo.example",
        public_key=KEY.raw,
    )
    note = note_of(apply_evidence(report, [record]), 1) or ""
    assert "fetched from http://127.0.0.1:8080/ngo.example/" in note


def test_only_failed_attempts_say_so(report: ledger.Report) -> None:
    record = wk_evidence(b"", status=None, complete=False, error="timed out")
    applied = apply_evidence(report, [record])
    assert note_of(applied, 1) == "no usable evidence that ngo.example publishes this key"


def test_apply_resets_earlier_identities(report: ledger.Report) -> None:
    confirmed = apply_evidence(report, [wk_evidence(wk_file(KEY))])
    assert identities(apply_evidence(confirmed, []))[1] == "self-asserted"


# --- JSON ------------------------------------------------------------------------------------


def sample_records() -> list[Evidence]:
    return [
        wk_evidence(wk_file(KEY)),
        dns_evidence(b"", status=3),
        wk_evidence(b"\xff\x00" * 5, status=None, complete=False, error="timed out after 1 s"),
        wk_evidence(b"#" * MAX_BODY, complete=False, truncated=True, error="cut"),
    ]


def test_json_round_trips() -> None:
    records = sample_records()
    text = evidence_to_json(records)
    assert text.isascii()
    document = json.loads(text)
    assert document["schema"] == EVIDENCE_SCHEMA == "endorsement-ledger/evidence/v1"
    assert evidence_from_json(text) == tuple(records)
    assert evidence_from_json(text.encode()) == tuple(records)
    assert evidence_from_json(evidence_to_json([])) == ()


def test_json_record_members() -> None:
    record = json.loads(evidence_to_json([wk_evidence(wk_file(KEY))]))["evidence"][0]
    assert record == {
        "method": "well-known",
        "domain": "ngo.example",
        "public_key": base64.b64encode(KEY.raw).decode(),
        "url": "https://ngo.example/.well-known/endorsement-keys.txt",
        "server": "192.0.2.1:443",
        "fetched_at": T_FETCH,
        "status": 200,
        "complete": True,
        "truncated": False,
        "found": True,
        "error": None,
        "sha256": hashlib.sha256(wk_file(KEY)).hexdigest(),
        "body": base64.b64encode(wk_file(KEY)).decode(),
    }


def _mutated(change: dict[str, object], drop: Sequence[str] = ()) -> str:
    document = json.loads(evidence_to_json([wk_evidence(wk_file(KEY))]))
    document["evidence"][0].update(change)
    for name in drop:
        del document["evidence"][0][name]
    return json.dumps(document)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "null",
        '{"schema": "endorsement-ledger/evidence/v2", "evidence": []}',
        '{"schema": "endorsement-ledger/evidence/v1"}',
        '{"schema": "endorsement-ledger/evidence/v1", "evidence": [], "x": 1}',
        '{"schema": "endorsement-ledger/evidence/v1", "evidence": {}}',
        '{"schema": "endorsement-ledger/evidence/v1", "evidence": [1]}',
        '{"schema": "endorsement-ledger/evidence/v1", "schema": "x", "evidence": []}',
        _mutated({"extra": 1}),
        _mutated({}, drop=["error"]),
        _mutated({"method": "https"}),
        _mutated({"domain": "NGO.example"}),
        _mutated({"public_key": base64.b64encode(KEY.raw).decode().rstrip("=")}),
        _mutated({"public_key": base64.b64encode(KEY.raw[:31]).decode()}),
        _mutated({"sha256": "AB" * 32}),
        _mutated({"sha256": "ab" * 31}),
        _mutated({"fetched_at": 1.5}),
        _mutated({"fetched_at": -1}),
        _mutated({"fetched_at": True}),
        _mutated({"fetched_at": 2**63}),
        _mutated({"status": "200"}),
        _mutated({"status": False}),
        _mutated({"status": 70_000}),
        _mutated({"complete": 1}),
        _mutated({"truncated": True}),  # truncated yet complete
        _mutated({"found": None}),
        _mutated({"error": ""}),
        _mutated({"url": ""}),
        _mutated({"url": "https://ngo.example/a b"}),
        _mutated({"server": "é"}),
        _mutated({"body": "not base64!"}),
        _mutated({"body": base64.b64encode(b"x" * (MAX_BODY + 1)).decode()}),
        _mutated({"fetched_at": float("nan")}),
    ],
)
def test_json_is_strict(text: str) -> None:
    with pytest.raises(ledger.FormatError):
        evidence_from_json(text)


def test_json_rejects_non_utf8_bytes() -> None:
    with pytest.raises(ledger.FormatError, match="UTF-8"):
        evidence_from_json(b'{"schema": "\xff"}')


def test_json_does_not_judge_and_apply_does() -> None:
    # A forged body decodes (the decoder checks form), and apply_evidence refuses it.
    text = _mutated({"body": base64.b64encode(wk_file(OTHER)).decode()})
    (record,) = evidence_from_json(text)
    assert evidence_problem(record) is not None


# --- storage ---------------------------------------------------------------------------------


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ).close()
    return path


def test_store_round_trips_and_only_adds(ledger_file: Path) -> None:
    assert load_evidence(ledger_file) == ()
    records = sample_records()
    assert save_evidence(ledger_file, records[:2]) == 2
    assert save_evidence(ledger_file, records[2:]) == 2
    assert load_evidence(ledger_file) == tuple(records)
    # The ledger itself is untouched and still verifies.
    assert ledger.check_ledger_file(ledger_file).ok


def test_store_leaves_a_ledger_without_evidence_untouched(ledger_file: Path) -> None:
    load_evidence(ledger_file)
    db = sqlite3.connect(ledger_file)
    try:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()
    assert EVIDENCE_TABLE not in names


def test_store_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(ledger.StoreError, match="no such ledger file"):
        save_evidence(missing, sample_records())
    assert not missing.exists()
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ledger.StoreError, match="not a ledger"):
        save_evidence(foreign, sample_records())
    with pytest.raises(ledger.StoreError, match="not a ledger"):
        load_evidence(foreign)
    text = tmp_path / "text.db"
    text.write_text("hello")
    with pytest.raises(ledger.StoreError):
        load_evidence(text)


def test_store_refuses_a_malformed_row(ledger_file: Path) -> None:
    save_evidence(ledger_file, sample_records()[:1])
    db = sqlite3.connect(ledger_file)
    try:
        with db:
            db.execute(f"UPDATE {EVIDENCE_TABLE} SET record = ?", ('{"schema": 1}',))
    finally:
        db.close()
    with pytest.raises(ledger.StoreError, match="evidence row 1 is malformed"):
        load_evidence(ledger_file)


# --- nameserver option -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_nameserver(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost:53",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:+53",
        "127.0.0.1:053",
        "127.0.0.1: 53",
        "[::1]x",
        "[::1",
        "1.2.3:53",
        "dns.example",
    ],
)
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(ledger.UsageError):
        parse_nameserver(text)


# --- CLI: snippet ----------------------------------------------------------------------------


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def pub_file(tmp_path: Path) -> Path:
    path = tmp_path / "ngo.pub"
    path.write_text(KEY.to_text() + "\n")
    return path


def test_cli_snippet_transcript(pub_file: Path) -> None:
    result = run("binding", "snippet", "--key", pub_file, "--domain", "ngo.example")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == format_snippet(KEY, "ngo.example")
    result = run("binding", "snippet", "--key", pub_file, "--format", "well-known")
    assert result.stdout == KEY.to_text() + "\n"
    result = run(
        "binding", "snippet", "--key", pub_file, "--domain", "ngo.example", "--format", "txt"
    )
    assert result.stdout == format_txt_record(KEY, "ngo.example") + "\n"


def test_cli_snippet_errors(tmp_path: Path, pub_file: Path) -> None:
    result = run("binding", "snippet", "--key", pub_file, "--domain", "NGO.Example")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: domain 'NGO.Example' is not a lowercase")
    secret = tmp_path / "ngo.key"
    secret.write_text(seeded_key("ngo.example").to_text() + "\n")
    result = run("binding", "snippet", "--key", secret)
    assert result.exit_code == 2
    assert "is a secret key file" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_show_and_export_without_evidence(ledger_file: Path, tmp_path: Path) -> None:
    result = run("binding", "show", ledger_file)
    assert result.exit_code == 0, result.stderr
    assert "Evidence recorded (0 records" in result.stdout
    out = tmp_path / "evidence.json"
    result = run("binding", "export", ledger_file, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert evidence_from_json(out.read_bytes()) == ()
    result = run("binding", "export", ledger_file, "--out", out)
    assert result.exit_code == 2
    assert "exists" in result.stderr
