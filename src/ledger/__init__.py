"""endorsement-ledger: verifiable signatory lists for open letters.

Each organisation signs its endorsement of a statement's fixed hash (COSE_Sign1, Ed25519); the
campaign appends the endorsements to a hash-chained ledger (RFC 9162 Merkle tree over the
entries); anyone verifies the ledger offline.

Typical use::

    import ledger
    log_key = ledger.SigningKey.generate("example.org/letter")
    with ledger.Ledger.create("letter.db", statement=text, title="Our letter",
                              origin="example.org/letter", log_key=log_key) as book:
        org_key = ledger.SigningKey.generate("ngo.example")
        cose = ledger.endorse(org_key, book.statement_hash, name="NGO", signed_at=1700000000)
        book.append([("ngo", cose)])
        report = book.verify()
        assert report.ok

Errors: every failure is a ``LedgerError``: ``FormatError`` (cannot decode),
``VerificationError`` (does not verify), ``StoreError``, ``UsageError``.

Ed25519 signatures are verified with libsodium (PyNaCl, ``pip install endorsement-ledger[fast]``)
when it is installed, else with OpenSSL (``cryptography``); both accept exactly the same
signatures. ``LEDGER_ED25519_BACKEND=openssl`` (or ``libsodium``) in the environment, or
``use_ed25519_backend``, picks one.
"""

from __future__ import annotations

import os

from ledger.actions import revoke, rotate, withdraw
from ledger.audit import LedgerSource, check_ledger_file, check_source
from ledger.binding import (
    EVIDENCE_SCHEMA,
    Evidence,
    Fetch,
    apply_evidence,
    evidence_from_json,
    evidence_problem,
    evidence_to_json,
    format_snippet,
    format_txt_record,
    format_txt_value,
    format_well_known_file,
    key_published,
    parse_txt_value,
    parse_well_known,
    rcode_text,
    txt_name,
    well_known_url,
)
from ledger.binding_fetch import check_bindings, parse_nameserver
from ledger.binding_store import load_evidence, save_evidence
from ledger.bundle import FetchResult, PublishResult, fetch_bundle, publish_bundle
from ledger.bundle_read import BundleSource, check_bundle, check_location, open_source
from ledger.campaign import AppendResult, Ledger, Rejected
from ledger.changes import Diff, diff
from ledger.cose import decode_endorsement, endorse, verify_endorsement
from ledger.entry import decode_entry, encode_entry
from ledger.errors import FormatError, LedgerError, StoreError, UsageError, VerificationError
from ledger.findings import Departure, Event
from ledger.history import ledger_history
from ledger.html import (
    iter_index_html,
    iter_markdown,
    quotable_fingerprint,
    render_index_html,
    render_markdown,
)
from ledger.inspect import describe_entry, inspect_bytes
from ledger.keyfile import (
    read_passphrase_file,
    read_public_key,
    read_secret_key,
    secret_key_is_encrypted,
    write_key_pair,
)
from ledger.keys import SigningKey, VerifyingKey, ed25519_backend, use_ed25519_backend
from ledger.merkle import hash_leaf
from ledger.model import (
    Action,
    CheckpointInfo,
    Endorsement,
    Entry,
    EntryType,
    Genesis,
    RemovalReason,
    SignedEndorsement,
    VerifiedEndorsement,
    VerifiedEntry,
)
from ledger.note import (
    open_checkpoint,
    parse_signed_checkpoint,
    parse_tlog_proof,
    verify_cosignature,
    verify_tlog_proof,
    witness_verifier_key,
)
from ledger.policy import Policy, explain_policy, parse_policy, policy_satisfied
from ledger.progress import Progress
from ledger.proofs import ConsistencyProof, InclusionProof
from ledger.render import (
    format_time,
    inert,
    iter_render_text,
    iter_report_json,
    render_text,
    report_json,
    signatory_json,
)
from ledger.statement import canonicalize, format_statement_hash, statement_hash
from ledger.store import SqliteStore, open_store
from ledger.verify import Problem, Report, Signatory, check_entries, iter_verified
from ledger.witness import (
    MAX_REQUEST_SIZE,
    AddCheckpointRequest,
    RefusalReason,
    WitnessedLog,
    WitnessRefusal,
    format_add_checkpoint_request,
    format_cosignature_lines,
    parse_add_checkpoint_request,
    parse_cosignature_lines,
    witness_checkpoint,
)
from ledger.witness_state import WitnessState, add_log, cosign, init_state, load_state

__version__ = "0.1.0"

__all__ = [
    "EVIDENCE_SCHEMA",
    "MAX_REQUEST_SIZE",
    "Action",
    "AddCheckpointRequest",
    "AppendResult",
    "BundleSource",
    "CheckpointInfo",
    "ConsistencyProof",
    "Departure",
    "Diff",
    "Endorsement",
    "Entry",
    "EntryType",
    "Event",
    "Evidence",
    "Fetch",
    "FetchResult",
    "FormatError",
    "Genesis",
    "InclusionProof",
    "Ledger",
    "LedgerError",
    "LedgerSource",
    "Policy",
    "Problem",
    "Progress",
    "PublishResult",
    "RefusalReason",
    "Rejected",
    "RemovalReason",
    "Report",
    "Signatory",
    "SignedEndorsement",
    "SigningKey",
    "SqliteStore",
    "StoreError",
    "UsageError",
    "VerificationError",
    "VerifiedEndorsement",
    "VerifiedEntry",
    "VerifyingKey",
    "WitnessRefusal",
    "WitnessState",
    "WitnessedLog",
    "__version__",
    "add_log",
    "apply_evidence",
    "canonicalize",
    "check_bindings",
    "check_bundle",
    "check_entries",
    "check_ledger_file",
    "check_location",
    "check_source",
    "cosign",
    "decode_endorsement",
    "decode_entry",
    "describe_entry",
    "diff",
    "ed25519_backend",
    "encode_entry",
    "endorse",
    "evidence_from_json",
    "evidence_problem",
    "evidence_to_json",
    "explain_policy",
    "fetch_bundle",
    "format_add_checkpoint_request",
    "format_cosignature_lines",
    "format_snippet",
    "format_statement_hash",
    "format_time",
    "format_txt_record",
    "format_txt_value",
    "format_well_known_file",
    "hash_leaf",
    "inert",
    "init_state",
    "inspect_bytes",
    "iter_index_html",
    "iter_markdown",
    "iter_render_text",
    "iter_report_json",
    "iter_verified",
    "key_published",
    "ledger_history",
    "load_evidence",
    "load_state",
    "open_checkpoint",
    "open_source",
    "open_store",
    "parse_add_checkpoint_request",
    "parse_cosignature_lines",
    "parse_nameserver",
    "parse_policy",
    "parse_signed_checkpoint",
    "parse_tlog_proof",
    "parse_txt_value",
    "parse_well_known",
    "policy_satisfied",
    "publish_bundle",
    "quotable_fingerprint",
    "rcode_text",
    "read_passphrase_file",
    "read_public_key",
    "read_secret_key",
    "render_index_html",
    "render_markdown",
    "render_text",
    "report_json",
    "revoke",
    "rotate",
    "save_evidence",
    "secret_key_is_encrypted",
    "signatory_json",
    "statement_hash",
    "txt_name",
    "use_ed25519_backend",
    "verify_cosignature",
    "verify_endorsement",
    "verify_tlog_proof",
    "well_known_url",
    "withdraw",
    "witness_checkpoint",
    "witness_verifier_key",
    "write_key_pair",
]

use_ed25519_backend(os.environ.get("LEDGER_ED25519_BACKEND", "auto"))
