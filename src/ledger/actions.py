"""The organisation's side of the lifecycle, offline: withdraw, rotate a key, revoke a key.

Each recipe builds the payload for one action and signs it (``endorse`` is in ``ledger.cose``);
the campaign then appends the file. Every one is bound to the statement's hash, so a signature
made for one statement cannot be replayed on another.
"""

from __future__ import annotations

from ledger.cose import sign_endorsement
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import Action, Endorsement


def withdraw(
    key: SigningKey,
    statement_hash: bytes,
    *,
    signed_at: int,
    ref: int | None = None,
    name: str | None = None,
) -> bytes:
    """Withdraw the organisation's endorsement.

    Args:
        key: the organisation's current key (the one that endorsed, or its rotated successor).
        statement_hash: SHA-256 of the canonical statement text.
        signed_at: the signing time, seconds since the epoch.
        ref: the entry number of the endorsement (checked by the ledger when given).
        name: the organisation's name, for the record.

    Returns:
        The COSE_Sign1 bytes to send to the campaign.

    Raises:
        FormatError: a field breaks the payload rules.
    """
    return sign_endorsement(
        Endorsement(
            action=Action.WITHDRAW,
            statement_hash=statement_hash,
            name=name,
            public_key=key.public.raw,
            signed_at=signed_at,
            ref=ref,
        ),
        key,
    )


def rotate(
    old_key: SigningKey,
    new_key: SigningKey,
    statement_hash: bytes,
    *,
    signed_at: int,
    name: str | None = None,
) -> bytes:
    """Replace the organisation's key: signed by the old key, countersigned by the new one.

    The organisation's endorsement carries over to the new key, which signs from then on.

    Returns:
        The COSE_Sign bytes (two signatures) to send to the campaign.

    Raises:
        FormatError: a field breaks the payload rules (for example, the same key twice).
    """
    claim = Endorsement(
        action=Action.ROTATE,
        statement_hash=statement_hash,
        name=name,
        public_key=old_key.public.raw,
        signed_at=signed_at,
        new_key=new_key.public.raw,
    )
    return sign_endorsement(claim, old_key, new_key=new_key)


def revoke(
    signer: SigningKey,
    revoked: VerifyingKey,
    statement_hash: bytes,
    *,
    signed_at: int,
    revoked_from: int,
    name: str | None = None,
) -> bytes:
    """Revoke a key of the organisation from a time on (a lost or stolen key).

    Args:
        signer: the revoked key itself, or the organisation's current key.
        revoked: the key to revoke.
        statement_hash: SHA-256 of the canonical statement text.
        signed_at: the signing time.
        revoked_from: from when the key is revoked: anything it signed at or after this time
            is invalid, including an endorsement already in the ledger.
        name: the organisation's name, for the record.

    Returns:
        The COSE_Sign1 bytes to send to the campaign.

    Raises:
        FormatError: a field breaks the payload rules.
    """
    return sign_endorsement(
        Endorsement(
            action=Action.REVOKE,
            statement_hash=statement_hash,
            name=name,
            public_key=signer.public.raw,
            signed_at=signed_at,
            revoked_key=revoked.raw,
            revoked_from=revoked_from,
        ),
        signer,
    )
