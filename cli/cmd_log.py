"""Checkpoints and proofs: ``checkpoint``, ``prove inclusion|consistency``, ``verify-proof``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.io import load_log_key, load_policy, load_secret_key, read_input, write_output
from ledger import (
    AddCheckpointRequest,
    Ledger,
    UsageError,
    VerificationError,
    decode_entry,
    describe_entry,
    explain_policy,
    format_add_checkpoint_request,
    hash_leaf,
    inert,
    parse_tlog_proof,
    policy_satisfied,
    read_public_key,
    verify_tlog_proof,
)


@click.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--log-key",
    "log_key_path",
    type=click.Path(dir_okay=False),
    help="The campaign's secret log key (to sign a new checkpoint).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted log key.",
)
@click.option(
    "--add-cosignature",
    "cosignature",
    type=click.Path(dir_okay=False),
    help="Attach a witness's cosignature lines to the latest checkpoint instead.",
)
@click.option("--out", default="-", show_default=True, help="Where to write the checkpoint.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option(
    "--time",
    "now",
    type=click.IntRange(min=0),
    help="Record time, seconds since the epoch (default: now).",
)
def checkpoint(
    ledger_path: str,
    log_key_path: str | None,
    passphrase_file: str | None,
    cosignature: str | None,
    out: str,
    force: bool,
    now: int | None,
) -> None:
    """Sign a C2SP checkpoint (origin, size, Merkle root) of LEDGER and record it.

    With --add-cosignature FILE, attach the cosignature lines a witness returned to the latest
    checkpoint instead. The checkpoint is written to OUT (standard output by default).
    """
    if (log_key_path is None) == (cosignature is None):
        raise UsageError("give --log-key to sign a checkpoint, or --add-cosignature FILE")
    with Ledger.open(ledger_path) as book:
        if cosignature is not None:
            note = book.add_cosignatures(read_input(cosignature, what="cosignature", limit=65536))
        else:
            assert log_key_path is not None
            note = book.checkpoint(load_secret_key(log_key_path, passphrase_file), now=now)
    write_output(out, note, overwrite=force)


@click.group()
def prove() -> None:
    """Inclusion and consistency proofs (RFC 9162), for offline evidence and witnesses."""


@prove.command("inclusion")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--index", type=click.IntRange(min=0), help="The entry number.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="Or: the public key file of the organisation whose entry to prove.",
)
@click.option(
    "--size",
    type=click.IntRange(min=1),
    help="Tree size to prove against (with --json; default: all entries).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"index", "size", "leaf_hash", "root", "proof"} (base64 hashes).',
)
@click.option("--out", default="-", show_default=True, help="Where to write the proof.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def prove_inclusion(
    source: str,
    index: int | None,
    key_path: str | None,
    size: int | None,
    as_json: bool,
    out: str,
    force: bool,
) -> None:
    """Prove that an entry is in the ledger.

    By default writes a C2SP tlog-proof@v1 file against the latest checkpoint, holding the entry
    itself: the organisation can keep it as offline evidence (check it with `ledger
    verify-proof`). With --json, prints the bare RFC 9162 proof, leaf sibling first.
    """
    if (index is None) == (key_path is None):
        raise UsageError("give --index or --key")
    if size is not None and not as_json:
        raise UsageError("--size goes with --json; a tlog-proof uses the latest checkpoint")
    with Ledger.open(source, readonly=True) as book:
        position = (
            index if index is not None else book.entry_of_key(read_public_key(Path(str(key_path))))
        )
        if as_json:
            proof = book.prove_inclusion(position, size)
            data = (json.dumps(proof.to_json(), indent=2) + "\n").encode()
        else:
            data = book.tlog_proof(position)
    write_output(out, data, overwrite=force)


@prove.command("consistency")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "--old-size",
    required=True,
    type=click.IntRange(min=0),
    help="The size of the earlier tree (a checkpoint you or a witness hold).",
)
@click.option("--size", type=click.IntRange(min=0), help="The later size (default: all entries).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"old_size", "size", "old_root", "root", "proof"} (base64 hashes).',
)
@click.option(
    "--witness-request",
    is_flag=True,
    help="Write a C2SP tlog-witness add-checkpoint request: the latest checkpoint "
    "and its consistency proof from --old-size (the witness's last cosigned size).",
)
def prove_consistency(
    source: str, old_size: int, size: int | None, as_json: bool, witness_request: bool
) -> None:
    """Prove that the ledger at --size extends the ledger at --old-size (nothing rewritten)."""
    with Ledger.open(source, readonly=True) as book:
        if witness_request:
            if size is not None or as_json:
                raise UsageError("--witness-request goes with the latest checkpoint alone")
            note, checkpoint_size = book.latest_checkpoint_with_size()
            proof = book.prove_consistency(old_size, checkpoint_size)
            request = AddCheckpointRequest(old_size=old_size, proof=proof.proof, checkpoint=note)
            sys.stdout.buffer.write(format_add_checkpoint_request(request))
            sys.stdout.buffer.flush()
            return
        proof = book.prove_consistency(old_size, size)
    if as_json:
        click.echo(json.dumps(proof.to_json(), indent=2))
        return
    payload = proof.to_json()
    click.echo(f"old size {payload['old_size']}: root {payload['old_root']}")
    click.echo(f"size     {payload['size']}: root {payload['root']}")
    for line in payload["proof"]:
        click.echo(line)


@click.command("verify-proof")
@click.argument("proof_path", metavar="PROOFFILE", type=click.Path(dir_okay=False))
@click.option(
    "--log-pub",
    required=True,
    help="The log's verifier key (C2SP form), or a file holding it or our .pub.",
)
@click.option(
    "--entry",
    "entry_path",
    type=click.Path(dir_okay=False),
    help="The entry bytes, when the proof does not carry them.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Witness policy (C2SP tlog-policy) the checkpoint must satisfy.",
)
def verify_proof(
    proof_path: str, log_pub: str, entry_path: str | None, policy_path: str | None
) -> None:
    """Check a tlog-proof file offline: the log's signature and the entry's inclusion."""
    proof = parse_tlog_proof(read_input(proof_path, what="proof", limit=2 * 1024 * 1024))
    entry = read_input(entry_path, what="entry", limit=65535) if entry_path else proof.extra
    if entry is None:
        raise UsageError("the proof carries no entry: give --entry ENTRYFILE")
    log_key = load_log_key(log_pub)
    policy = load_policy(policy_path) if policy_path else None
    if policy is not None:
        listed = policy.log_key(log_key.name)
        if listed is None or listed.raw != log_key.raw:
            raise VerificationError(
                f"the policy does not list this log key for origin {log_key.name!r}"
            )
    verified = verify_tlog_proof(
        proof, hash_leaf(entry), log_key, witnesses=policy.witness_keys if policy else ()
    )
    decoded = decode_entry(entry)
    if decoded.seq != proof.index:
        raise UsageError(f"the entry says it is number {decoded.seq}, the proof {proof.index}")
    if policy is not None:
        cosigners = [key for key, _ in verified.witnesses_verified]
        if not policy_satisfied(policy, cosigners):
            why = "; ".join(explain_policy(policy, cosigners).splitlines())
            raise VerificationError(f"the witness policy is not satisfied ({why})")
    body = verified.checkpoint
    click.echo(f"VERIFIED: entry {proof.index} is in {inert(body.origin)} at size {body.size}")
    for name, value in describe_entry(entry).items():
        click.echo(f"  {name}: {inert(str(value), 300)}")
    if policy is not None:
        click.echo(
            explain_policy(policy, [key for key, _ in verified.witnesses_verified]), nl=False
        )
