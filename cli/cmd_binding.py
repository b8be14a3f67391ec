"""``ledger binding``: bind organisation keys to their domains.

``snippet`` tells an organisation what to publish; ``check`` fetches what each signatory's
domain publishes and records the evidence in the ledger file; ``show`` reports each
signatory's identity from the recorded evidence; ``export`` writes the evidence as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import click

from cli.io import warn, write_output
from ledger import (
    EVIDENCE_SCHEMA,
    Evidence,
    Report,
    Signatory,
    UsageError,
    apply_evidence,
    check_bindings,
    check_ledger_file,
    evidence_problem,
    evidence_to_json,
    format_snippet,
    format_time,
    format_txt_record,
    inert,
    key_published,
    load_evidence,
    parse_nameserver,
    rcode_text,
    read_public_key,
    save_evidence,
)

STATUS_SCHEMA: Final = "endorsement-ledger/binding-status/v1"


@click.group()
def binding() -> None:
    """Bind organisation keys to their domains (well-known file or DNS TXT record).

    An organisation publishes its public key on its own domain; the campaign (and anyone
    else) fetches it and records what was found. A key found there is "confirmed"; any other
    is "self-asserted".
    """


@binding.command()
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The organisation's public key file (.pub).",
)
@click.option("--domain", help="The organisation's domain, e.g. ngo.example.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "well-known", "txt"]),
    default="text",
    show_default=True,
    help="text: both methods with instructions; well-known: the file line only; "
    "txt: the zone-file line only.",
)
def snippet(key_path: str, domain: str | None, fmt: str) -> None:
    """Print exactly what an organisation publishes to bind its key to its domain.

    Either a line in https://DOMAIN/.well-known/endorsement-keys.txt, or a DNS TXT record at
    _endorsement.DOMAIN (zone-file syntax), or both.
    """
    key = read_public_key(Path(key_path))
    if fmt == "well-known":
        click.echo(key.to_text())
    elif fmt == "txt":
        click.echo(format_txt_record(key, domain))
    else:
        click.echo(format_snippet(key, domain), nl=False)


@binding.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=300.0),
    default=10.0,
    show_default=True,
    help="Deadline of each fetch, in seconds.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="DOMAIN",
    help="Check only the signatories of this domain (repeatable).",
)
@click.option(
    "--no-save",
    is_flag=True,
    help="Do not record the evidence in LEDGER (e.g. to re-check a copy you cannot write).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the evidence as JSON.")
@click.option(
    "--well-known-base",
    hidden=True,
    metavar="URL",
    help="Fetch URL/DOMAIN/.well-known/endorsement-keys.txt instead (tests; http allowed).",
)
@click.option(
    "--dns-server",
    metavar="HOST:PORT",
    help="The DNS resolver to ask (default: the system's).",
)
def check(
    ledger_path: str,
    timeout: float,
    only: tuple[str, ...],
    no_save: bool,
    as_json: bool,
    well_known_base: str | None,
    dns_server: str | None,
) -> None:
    """Fetch each signatory's published keys and record the evidence in LEDGER.

    For every current signatory that gave a domain, its well-known file
    https://DOMAIN/.well-known/endorsement-keys.txt (HTTPS, no redirects, 64 KiB at most) and
    the DNS TXT records at _endorsement.DOMAIN. Each fetch is recorded with its time, source,
    status, body and SHA-256, and whether the signatory's key is in it. Anyone can run this on
    their own copy of the ledger (with --no-save) to see what the domains publish now.
    """
    nameserver = parse_nameserver(dns_server) if dns_server else None
    report = check_ledger_file(Path(ledger_path))
    if not report.ok:
        warn(f"{ledger_path} does not verify; checking its verified signatories only")
    signatories = _selected(report.signatories, only)
    base = None if well_known_base is None else well_known_base.rstrip("/")
    evidence = check_bindings(
        signatories,
        timeout=timeout,
        base_url_for=None if base is None else (lambda domain: f"{base}/{domain}"),
        nameserver=nameserver,
    )
    if not no_save:
        save_evidence(ledger_path, evidence)
    checked = apply_evidence(report, evidence)
    if as_json:
        click.echo(evidence_to_json(evidence), nl=False)
    else:
        _print_check(checked, signatories, evidence, ledger_path, saved=not no_save)
    sys.exit(0 if report.ok else 1)


@binding.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(ledger_path: str, as_json: bool) -> None:
    """Show each signatory's identity from the evidence recorded in LEDGER.

    "confirmed": the latest definite fetch found the signatory's key published on its domain
    (as fetched by the campaign: the organisation did not sign the evidence; re-run
    `ledger binding check` to see for yourself). "self-asserted": no such evidence.
    """
    report = check_ledger_file(Path(ledger_path))
    evidence = load_evidence(ledger_path)
    applied = apply_evidence(report, evidence)
    if as_json:
        document = {
            "schema": STATUS_SCHEMA,
            "source": ledger_path,
            "verified": report.ok,
            "signatories": [_signatory_status(s) for s in applied.signatories],
            "evidence": json.loads(evidence_to_json(evidence)),
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_show(applied, evidence, ledger_path)
    if not report.ok:
        warn(f"{ledger_path} does not verify; run `ledger verify {ledger_path}`")
        sys.exit(1)


@binding.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the evidence JSON.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def export(ledger_path: str, out: str, force: bool) -> None:
    """Write the evidence recorded in LEDGER as JSON (schema endorsement-ledger/evidence/v1)."""
    evidence = load_evidence(ledger_path)
    write_output(out, evidence_to_json(evidence).encode("ascii"), overwrite=force)
    if out != "-":
        click.echo(f"wrote {len(evidence)} evidence records ({EVIDENCE_SCHEMA}) to {out}")


# ---------------------------------------------------------------------------------------------
# helpers


def _selected(signatories: Sequence[Signatory], only: tuple[str, ...]) -> list[Signatory]:
    with_domain = [s for s in signatories if s.domain is not None]
    if not only:
        return with_domain
    known = {s.domain for s in with_domain}
    unknown = [domain for domain in only if domain not in known]
    if unknown:
        raise UsageError(f"no current signatory gave the domain {inert(unknown[0])}")
    return [s for s in with_domain if s.domain in only]


def _print_check(
    report: Report,
    signatories: Sequence[Signatory],
    evidence: Sequence[Evidence],
    ledger_path: str,
    *,
    saved: bool,
) -> None:
    by_signatory: dict[tuple[str, bytes], list[Evidence]] = {}
    for record in evidence:
        by_signatory.setdefault((record.domain, record.public_key), []).append(record)
    checked = {s.seq for s in signatories}
    confirmed = 0
    for s in report.signatories:
        if s.seq not in checked or s.domain is None:
            continue
        confirmed += s.identity == "confirmed"
        click.echo(f"{_signatory_head(s)}: {s.identity}")
        for record in by_signatory.get((s.domain, s.public_key), []):
            click.echo(f"    {_record_line(record)}")
    if saved:
        click.echo(f"recorded {len(evidence)} evidence records in {inert(ledger_path)}")
    click.echo(f"{confirmed} of {len(signatories)} signatories with a domain confirmed")


def _print_show(report: Report, evidence: Sequence[Evidence], ledger_path: str) -> None:
    click.echo(f"Identity of the signatories of {inert(ledger_path)}:")
    for s in report.signatories:
        click.echo(f"  {_signatory_head(s)}: {s.identity}")
        if s.identity_note:
            click.echo(f"      {inert(s.identity_note, 600)}")
    if not report.signatories:
        click.echo("  (none)")
    click.echo("")
    click.echo(f"Evidence recorded ({len(evidence)} records, oldest first):")
    for record in evidence:
        click.echo(f"  {format_time(record.fetched_at)}  {_record_line(record)}")
    click.echo("")
    click.echo(
        "The evidence is the campaign's record of what it fetched; the organisations did not "
        "sign it. To see what the domains publish now, run `ledger binding check --no-save`."
    )


def _signatory_head(s: Signatory) -> str:
    where = f" ({inert(s.domain)})" if s.domain else ""
    return f"#{s.seq:<4} {inert(s.name)}{where}  key {s.fingerprint}"


def _record_line(record: Evidence) -> str:
    problem = evidence_problem(record)
    if record.status is None:
        status, status_error = "no answer", None
    elif record.method == "dns-txt":
        status = rcode_text(record.status)
        status_error = f"DNS answer {status}"
    else:
        status = f"HTTP {record.status}"
        status_error = f"HTTP status {record.status}"
    via = f" via {record.server}" if record.server else ""
    if problem is not None:
        verdict = f"UNUSABLE: {problem}"
    elif key_published(record):
        verdict = "key found"
    else:
        verdict = "key not found"
    # An error that only restates the status (HTTP status 404) is not repeated.
    error = f"; {inert(record.error, 300)}" if record.error not in (None, status_error) else ""
    return f"{record.method:<10}  {inert(record.url, 300)}{via}  {status}  {verdict}{error}"


def _signatory_status(s: Signatory) -> dict[str, Any]:
    return {
        "entry": s.seq,
        "name": s.name,
        "domain": s.domain,
        "fingerprint": s.fingerprint,
        "identity": s.identity,
        "identity_note": s.identity_note,
    }
