"""Regenerate the bundled example ledger deterministically, or check that it is current.

    python docs/example/generate.py           # rewrite ledger.db, endorsements/, keys/
    python docs/example/generate.py --check   # exit 1 if the committed example differs

Every key here is a DEMO key derived from a public label (SHA-256 of "endorsement-ledger demo
key v1: <label>"), so anybody can recompute the secret keys: they prove nothing about the
organisations, whose names are marked "(demo key)". The statement is the one in statement.txt;
the organisations are the signatories listed under it on the page it came from. Times are fixed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import ledger

HERE = Path(__file__).resolve().parent
ORIGIN = "demo.endorsement-ledger.example/eu-child-protection-2021"
TITLE = "EU fails to uphold protection of children from sexual abuse online through technology"
GENESIS_TIME = 1611133200  # 2021-01-20T09:00:00Z
SIGNING_INTERVAL = 1800  # the demo organisations sign half an hour apart
RECORD_DELAY = 600

# (display name, ISO 3166-1 country where the page names one)
ORGANISATIONS: tuple[tuple[str, str | None], ...] = (
    ("Missing Children Europe", None),
    ("Save the Children", None),
    ("Women Against Violence Europe", None),
    ("Alliance for Childhood European Network Group", None),
    ("Victim Support Europe", None),
    ("Child Fund Alliance", None),
    ("SOS Children\u2019s Villages Europe", None),
    ("Hope and Homes for Children", None),
    ("Child Helpline International", None),
    ("ChildFocus", "BE"),
    ("116000 Enfants Disparus", "FR"),
    ("Fundacion ANAR", "ES"),
    ("Smile of the Child", "GR"),
    ("Telefono Azurro", "IT"),
    ("Instituto de Apoio à Criança", "PT"),
    ("Fundacja ITAKA", None),
    ("ASTRA", "RS"),
    ("Kaapatut Lapset ry", "FI"),
    ("Lasten Perusoikudet ry", "FI"),
    ("Missing Persons Family Support Ctr", "LT"),
    ("Associaçião Portuguesa de Crianças Desaparecidas", None),
    ("Hope for Children", None),
)


def demo_key(label: str) -> ledger.SigningKey:
    """A deterministic demo key: its secret is public knowledge by construction."""
    seed = hashlib.sha256(f"endorsement-ledger demo key v1: {label}".encode()).digest()
    return ledger.SigningKey.from_seed(label, seed)


def slug(name: str) -> str:
    """A file-name-safe slug of an organisation name."""
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in name)
    return "-".join(part for part in out.split("-") if part)


def build(out: Path) -> None:
    """Write the example (ledger.db, endorsements/, keys/, the published bundle/) into ``out``."""
    statement = (HERE / "statement.txt").read_bytes()
    digest = ledger.statement_hash(ledger.canonicalize(statement))
    (out / "endorsements").mkdir(parents=True)
    (out / "keys").mkdir()
    log_key = demo_key(ORIGIN)
    (out / "keys" / "log.pub").write_text(log_key.public.to_text() + "\n")
    endorsements = []
    for number, (name, country) in enumerate(ORGANISATIONS):
        key = demo_key(f"demo-not-real:{slug(name)}")
        cose = ledger.endorse(
            key,
            digest,
            name=f"{name} (demo key)",
            signed_at=GENESIS_TIME + (number + 1) * SIGNING_INTERVAL,
            country=country,
        )
        file_name = f"{number + 1:02d}-{slug(name)}.cose"
        (out / "endorsements" / file_name).write_bytes(cose)
        (out / "keys" / f"{slug(name)}.pub").write_text(key.public.to_text() + "\n")
        endorsements.append((file_name, cose))
    lifecycle = _lifecycle_files(out, digest, len(ORGANISATIONS))
    with ledger.Ledger.create(
        out / "ledger.db",
        statement=statement,
        title=TITLE,
        origin=ORIGIN,
        log_key=log_key,
        now=GENESIS_TIME,
    ) as book:
        for number, item in enumerate(endorsements + lifecycle):
            when = GENESIS_TIME + (number + 1) * SIGNING_INTERVAL + RECORD_DELAY
            result = book.append([item], atomic=True, now=when)
            assert len(result.appended) == 1
        published_at = GENESIS_TIME + (len(endorsements) + 4) * SIGNING_INTERVAL
        book.checkpoint(log_key, now=published_at)
        ledger.publish_bundle(book, out / "bundle", log_key=log_key, now=published_at)
    # A published file is read, not written: leave it in rollback-journal mode so that readers
    # opening it read-only need no -wal/-shm files beside it.
    with sqlite3.connect(out / "ledger.db") as db:
        db.execute("PRAGMA journal_mode = DELETE")


def _lifecycle_files(out: Path, digest: bytes, first: int) -> list[tuple[str, bytes]]:
    """Two fictional organisations show the lifecycle: one rotates its key, one withdraws.

    They are invented for the demonstration, so that no real organisation is shown doing
    something it did not do.
    """
    rotating = demo_key("demo-not-real:fictional-organisation-a")
    rotated = demo_key("demo-not-real:fictional-organisation-a-2")
    leaving = demo_key("demo-not-real:fictional-organisation-b")
    at = [GENESIS_TIME + (first + n) * SIGNING_INTERVAL for n in range(1, 5)]
    files = [
        (
            "23-fictional-organisation-a.cose",
            ledger.endorse(
                rotating,
                digest,
                name="Fictional Organisation A (fictional, for the demonstration)",
                signed_at=at[0],
            ),
        ),
        (
            "24-fictional-organisation-b.cose",
            ledger.endorse(
                leaving,
                digest,
                name="Fictional Organisation B (fictional, for the demonstration)",
                signed_at=at[1],
            ),
        ),
        (
            "25-fictional-organisation-a-rotates.cose",
            ledger.rotate(rotating, rotated, digest, signed_at=at[2]),
        ),
        (
            "26-fictional-organisation-b-withdraws.cose",
            ledger.withdraw(leaving, digest, signed_at=at[3], ref=first + 2),
        ),
    ]
    for name, data in files:
        (out / "endorsements" / name).write_bytes(data)
    for key in (rotating, rotated, leaving):
        (out / "keys" / f"{key.name.removeprefix('demo-not-real:')}.pub").write_text(
            key.public.to_text() + "\n"
        )
    return files


def snapshot(directory: Path) -> dict[str, bytes]:
    """What must match: every key and endorsement file, and the ledger's entry bytes."""
    files = {
        str(path.relative_to(directory)): path.read_bytes()
        for sub in ("endorsements", "keys", "bundle")
        for path in sorted((directory / sub).rglob("*"))
        if path.is_file()
    }
    with ledger.Ledger.open(directory / "ledger.db", readonly=True) as book:
        for seq, raw in book.iter_raw():
            files[f"ledger.db#entry{seq}"] = raw
        files["ledger.db#checkpoint"] = book.latest_checkpoint() or b""
    return files


def main() -> int:
    """Regenerate, or with --check compare against the committed example."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare; do not write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        fresh = Path(temp) / "example"
        build(fresh)
        if args.check:
            if snapshot(fresh) != snapshot(HERE):
                print("docs/example is out of date: run python docs/example/generate.py")
                return 1
            print("docs/example is current")
            return 0
        for sub in ("endorsements", "keys", "bundle"):
            shutil.rmtree(HERE / sub, ignore_errors=True)
            shutil.copytree(fresh / sub, HERE / sub)
        for suffix in ("", "-wal", "-shm"):
            (HERE / f"ledger.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(fresh / "ledger.db", HERE / "ledger.db")
    print(f"wrote {HERE.relative_to(Path.cwd()) if HERE.is_relative_to(Path.cwd()) else HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
