"""The signed payload: one deterministic CBOR map, with the fields each action allows.

CDDL::

    payload = { 0: 1,                  ; payload version
                1: action,             ; 0 endorse 1 withdraw 2 rotate 3 revoke 4 remove 5 close
                2: bstr .size 32,      ; statement hash
                ? 3: tstr,             ; organisation name (required to endorse)
                4: bstr .size 32,      ; the signer's public key (rotate: the old key)
                5: uint,               ; signed at, seconds since 1970
                ? 6: tstr,             ; domain          } endorse only
                ? 7: tstr,             ; url             }
                ? 8: tstr,             ; country         }
                ? 9: uint,             ; ref: an entry   (withdraw: optional; remove: required)
                ? 10: bstr .size 32,   ; new key         (rotate: required)
                ? 11: bstr .size 32,   ; revoked key     (revoke: required)
                ? 12: uint,            ; revoked from    (revoke: required)
                ? 13: uint,            ; removal reason  (remove: required; 1..4)
                ? 14: tstr }           ; removal note    (remove: optional)

A field an action does not list is refused: every payload has one meaning.
"""

from __future__ import annotations

from typing import Final

from ledger import codec
from ledger.codec import Fields
from ledger.errors import FormatError
from ledger.model import HASH_SIZE, MAX_TIME, PUBLIC_KEY_SIZE, Action, Endorsement, RemovalReason
from ledger.names import check_country, check_display_text, check_domain, check_url

PAYLOAD_VERSION: Final = 1
MAX_PAYLOAD_BYTES: Final = 16_384
MAX_NAME_LENGTH: Final = 256
MAX_NOTE_LENGTH: Final = 500

# Which optional fields (by attribute) each action requires or allows.
_REQUIRED: Final[dict[Action, frozenset[str]]] = {
    Action.ENDORSE: frozenset({"name"}),
    Action.WITHDRAW: frozenset(),
    Action.ROTATE: frozenset({"new_key"}),
    Action.REVOKE: frozenset({"revoked_key", "revoked_from"}),
    Action.REMOVE: frozenset({"ref", "reason"}),
    Action.CLOSE: frozenset(),
}
_ALLOWED: Final[dict[Action, frozenset[str]]] = {
    Action.ENDORSE: frozenset({"name", "domain", "url", "country"}),
    Action.WITHDRAW: frozenset({"name", "ref"}),
    Action.ROTATE: frozenset({"name", "new_key"}),
    Action.REVOKE: frozenset({"name", "revoked_key", "revoked_from"}),
    Action.REMOVE: frozenset({"ref", "reason", "note"}),
    Action.CLOSE: frozenset(),
}
_OPTIONAL_FIELDS: Final = (
    "name",
    "domain",
    "url",
    "country",
    "ref",
    "new_key",
    "revoked_key",
    "revoked_from",
    "reason",
    "note",
)
_KEYS: Final = {
    "name": 3,
    "domain": 6,
    "url": 7,
    "country": 8,
    "ref": 9,
    "new_key": 10,
    "revoked_key": 11,
    "revoked_from": 12,
    "reason": 13,
    "note": 14,
}


def encode_payload(endorsement: Endorsement) -> bytes:
    """Encode a payload deterministically (the bytes that are signed).

    Raises:
        FormatError: a field breaks the rules of its action.
    """
    check_payload(endorsement)
    fields: dict[int, object] = {
        0: PAYLOAD_VERSION,
        1: int(endorsement.action),
        2: endorsement.statement_hash,
        4: endorsement.public_key,
        5: endorsement.signed_at,
    }
    for name in _OPTIONAL_FIELDS:
        value = getattr(endorsement, name)
        if value is not None:
            fields[_KEYS[name]] = int(value) if name == "reason" else value
    data = codec.encode(fields)
    # One encoding per payload, both ways: never sign what decode_payload would refuse.
    if decode_payload(data) != endorsement:
        raise FormatError("payload: does not survive a decode round trip")
    return data


def decode_payload(data: bytes) -> Endorsement:
    """Decode and check a payload strictly.

    Raises:
        FormatError: malformed, non-canonical, an unknown action or field, or a field the
            action does not allow.
    """
    fields = Fields(codec.decode(data, max_size=MAX_PAYLOAD_BYTES, what="payload"), "payload")
    version = fields.uint(0, "version")
    if version != PAYLOAD_VERSION:
        raise FormatError(f"payload: unsupported version {version}")
    action = fields.uint(1, "action")
    if action not in Action._value2member_map_:
        raise FormatError(f"payload: unknown action {action}")
    reason = fields.optional_uint(13, "reason")
    if reason is not None and reason not in RemovalReason._value2member_map_:
        raise FormatError(f"payload: unknown removal reason {reason}")
    endorsement = Endorsement(
        action=Action(action),
        statement_hash=fields.bytes_(2, "statement hash", HASH_SIZE),
        name=fields.optional_text(3, "name", max_len=MAX_NAME_LENGTH),
        public_key=fields.bytes_(4, "public key", PUBLIC_KEY_SIZE),
        signed_at=fields.time(5, "signed-at time", maximum=MAX_TIME),
        domain=fields.optional_text(6, "domain", max_len=253),
        url=fields.optional_text(7, "url", max_len=2048),
        country=fields.optional_text(8, "country", max_len=2),
        ref=fields.optional_uint(9, "ref"),
        new_key=fields.optional_bytes(10, "new key", PUBLIC_KEY_SIZE),
        revoked_key=fields.optional_bytes(11, "revoked key", PUBLIC_KEY_SIZE),
        revoked_from=fields.optional_time(12, "revoked-from time", maximum=MAX_TIME),
        reason=None if reason is None else RemovalReason(reason),
        note=fields.optional_text(14, "note", max_len=MAX_NOTE_LENGTH),
    )
    fields.finish()
    try:
        check_payload(endorsement)
    except FormatError as exc:
        raise FormatError(f"payload: {exc}") from None
    return endorsement


def check_payload(endorsement: Endorsement) -> None:
    """Check the fields of a payload against its action's rules.

    Raises:
        FormatError: naming the first field that breaks a rule.
    """
    if endorsement.action not in Action._value2member_map_:
        raise FormatError(f"unknown action {endorsement.action}")
    action = Action(endorsement.action)
    present = {name for name in _OPTIONAL_FIELDS if getattr(endorsement, name) is not None}
    if missing := _REQUIRED[action] - present:
        raise FormatError(f"{action.name.lower()} needs {', '.join(sorted(missing))}")
    if extra := present - _ALLOWED[action]:
        raise FormatError(f"{action.name.lower()} does not take {', '.join(sorted(extra))}")
    if len(endorsement.statement_hash) != HASH_SIZE:
        raise FormatError("statement hash must be 32 bytes")
    if len(endorsement.public_key) != PUBLIC_KEY_SIZE:
        raise FormatError("public key must be 32 bytes")
    if not 0 <= endorsement.signed_at < MAX_TIME:
        raise FormatError("signed-at time is after the year 9999 or before 1970")
    _check_texts(endorsement)
    if endorsement.new_key is not None and endorsement.new_key == endorsement.public_key:
        raise FormatError("a rotation needs a new key different from the old one")
    for name in ("ref", "revoked_from"):
        value = getattr(endorsement, name)
        if value is not None and not 0 <= value < MAX_TIME:
            raise FormatError(f"{name} is out of range")
    for name in ("new_key", "revoked_key"):
        value = getattr(endorsement, name)
        if value is not None and len(value) != PUBLIC_KEY_SIZE:
            raise FormatError(f"{name} must be 32 bytes")


def _check_texts(endorsement: Endorsement) -> None:
    if endorsement.name is not None:
        check_display_text(endorsement.name, "name", max_len=MAX_NAME_LENGTH)
    if endorsement.domain is not None:
        check_domain(endorsement.domain)
    if endorsement.url is not None:
        check_url(endorsement.url)
    if endorsement.country is not None:
        check_country(endorsement.country)
    if endorsement.note is not None:
        check_display_text(endorsement.note, "note", max_len=MAX_NOTE_LENGTH)
