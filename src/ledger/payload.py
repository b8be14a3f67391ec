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


def _shapes() -> dict[int, frozenset[tuple[int, ...]]]:
    # Every key tuple (ascending) a payload of each action may have: the required keys of all
    # payloads, the action's required optional fields, and any subset of its allowed ones.
    shapes: dict[int, frozenset[tuple[int, ...]]] = {}
    for action in Action:
        required = {0, 1, 2, 4, 5} | {_KEYS[name] for name in _REQUIRED[action]}
        optional = sorted(_KEYS[name] for name in _ALLOWED[action] - _REQUIRED[action])
        tuples = set()
        for mask in range(1 << len(optional)):
            chosen = {key for bit, key in enumerate(optional) if mask >> bit & 1}
            tuples.add(tuple(sorted(required | chosen)))
        shapes[int(action)] = frozenset(tuples)
    return shapes


_SHAPES: Final = _shapes()
_ACTIONS: Final = {int(action): action for action in Action}
_REASONS: Final = {int(reason): reason for reason in RemovalReason}
_TEXT_LIMITS: Final = {3: MAX_NAME_LENGTH, 6: 253, 7: 2048, 8: 2, 14: MAX_NOTE_LENGTH}


def decode_payload(data: bytes) -> Endorsement:
    """Decode and check a payload strictly.

    Raises:
        FormatError: malformed, non-canonical, an unknown action or field, or a field the
            action does not allow.
    """
    fast = _decode_shape(data)
    return fast if fast is not None else _decode_fields(data)


def _decode_shape(data: bytes) -> Endorsement | None:  # noqa: PLR0911 - one return per shape
    """The payload if it has exactly a valid shape (see ``codec.decode_exact``), else None.

    Accepts only what ``_decode_fields`` accepts, and returns what it returns: the same
    checks, written against the exact key tuples of ``_SHAPES``; on any doubt it returns None
    and ``_decode_fields`` decides (and names the error).
    """
    value = codec.decode_exact(data, max_size=MAX_PAYLOAD_BYTES)
    if type(value) is not dict:
        return None
    action_code = value.get(1)
    if type(action_code) is not int or tuple(value) not in _SHAPES.get(action_code, ()):
        return None
    get = value.get
    version, statement_hash, public_key, signed_at = value[0], value[2], value[4], value[5]
    if not (
        type(version) is int
        and version == PAYLOAD_VERSION
        and type(statement_hash) is bytes
        and len(statement_hash) == HASH_SIZE
        and type(public_key) is bytes
        and len(public_key) == PUBLIC_KEY_SIZE
        and type(signed_at) is int
        and 0 <= signed_at < MAX_TIME
    ):
        return None
    for key, limit in _TEXT_LIMITS.items():
        text = get(key)
        if text is not None and (type(text) is not str or not 0 < len(text) <= limit):
            return None
    for key in (9, 12):  # ref, revoked from: times and entry numbers below MAX_TIME
        number = get(key)
        if number is not None and (type(number) is not int or not 0 <= number < MAX_TIME):
            return None
    for key in (10, 11):  # new key, revoked key
        raw = get(key)
        if raw is not None and (type(raw) is not bytes or len(raw) != PUBLIC_KEY_SIZE):
            return None
    reason = get(13)
    if reason is not None and (type(reason) is not int or reason not in _REASONS):
        return None
    new_key = get(10)
    if new_key is not None and new_key == public_key:
        return None
    endorsement = Endorsement(
        action=_ACTIONS[action_code],
        statement_hash=statement_hash,
        name=get(3),
        public_key=public_key,
        signed_at=signed_at,
        domain=get(6),
        url=get(7),
        country=get(8),
        ref=get(9),
        new_key=new_key,
        revoked_key=get(11),
        revoked_from=get(12),
        reason=None if reason is None else _REASONS[reason],
        note=get(14),
    )
    try:
        _check_texts(endorsement)
    except FormatError:
        return None
    return endorsement


def _decode_fields(data: bytes) -> Endorsement:
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
