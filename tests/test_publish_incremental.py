"""Publishing again is incremental, and gives the bundle a full publish gives, byte for byte.

A ledger of more than one page (1,000 entries a page) is published, then grown by random
lifecycle actions (endorsements, look-alike names, withdrawals, rotations, revocations,
removals, the closing) touching pages old and new, and published again after each round. The
oracle: a full publish of the same ledger into an empty directory (whose views come from the
verifier's report), and ``check_bundle``, which regenerates every view and compares.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import ledger
from helpers import LOG_KEY, STATEMENT_HASH, T0, make_ledger, org_endorsement, org_key, seeded_key
from ledger.bundle import publish_bundle
from ledger.bundle_read import check_bundle
from ledger.bundle_views import PAGE_ENTRIES, list_page_path
from ledger.publish_state import state_path

BASE = PAGE_ENTRIES + 200  # two pages, the second partial
ACTIONS = ("endorse", "lookalike", "withdraw", "rotate", "revoke", "remove")


def bundle_files(bundle: Path) -> dict[str, bytes]:
    return {
        p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger of BASE entries (orgs 1..BASE-1, in one batch) and its bundle; copy to change."""
    root = tmp_path_factory.mktemp("base")
    with make_ledger(root / "ledger.db", 0) as book:
        batch = [(f"org{n}", org_endorsement(n)) for n in range(1, BASE)]
        assert len(book.append(batch, now=T0 + BASE).appended) == BASE - 1
        result = publish_bundle(book, root / "bundle", log_key=LOG_KEY, now=T0 + BASE)
    assert result.mode == "full"
    return root


class Campaign:
    """Random lifecycle actions on a copy of the base ledger, with what they need to know."""

    def __init__(self, book: ledger.Ledger) -> None:
        self.book = book
        self.live = dict.fromkeys(range(1, BASE))  # org number -> its current key (None: own)
        self.keys: dict[int, ledger.SigningKey] = {}
        self.entry_of = {n: n for n in range(1, BASE)}  # org number -> live endorsement entry
        self.next_org = BASE
        self.clock = T0 + 10 * BASE

    def key(self, org: int) -> ledger.SigningKey:
        return self.keys.get(org) or org_key(org)

    def act(self, action: str, pick: int) -> None:
        self.clock += 1
        when = self.clock
        live = sorted(self.live)
        org = live[pick % len(live)] if live else None
        if action in ("endorse", "lookalike") or org is None:
            number = self.next_org
            self.next_org += 1
            name = f"Org {org}" if action == "lookalike" and org is not None else None
            extra = {"name": name} if name else {}
            cose = org_endorsement(number, signed_at=when, **extra)
            result = self.book.append([("new", cose)], allow_similar=True, now=when)
            self.live[number] = None
            self.entry_of[number] = result.appended[0][1]
        elif action == "withdraw":
            cose = ledger.withdraw(self.key(org), STATEMENT_HASH, signed_at=when)
            self._append(cose, when)
            del self.live[org]
        elif action == "rotate":
            new = seeded_key(f"rotated-{org}-at-{when}")
            self._append(ledger.rotate(self.key(org), new, STATEMENT_HASH, signed_at=when), when)
            self.keys[org] = new
        elif action == "revoke":
            key = self.key(org)
            cose = ledger.revoke(key, key.public, STATEMENT_HASH, signed_at=when, revoked_from=0)
            self._append(cose, when)
            del self.live[org]
        else:
            self.book.remove(self.entry_of[org], ledger.RemovalReason.DUPLICATE, LOG_KEY, now=when)
            del self.live[org]

    def _append(self, cose: bytes, when: int) -> None:
        result = self.book.append([("x", cose)], now=when)
        assert result.appended, result.rejected


@settings(
    max_examples=6,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking copies ledgers: slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rounds=st.lists(
        st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 10**6)), max_size=12),
        min_size=1,
        max_size=3,
    ),
    close=st.booleans(),
)
def test_republishing_equals_a_full_publish(
    base: Path, tmp_path_factory: pytest.TempPathFactory, rounds: list, close: bool
) -> None:
    work = tmp_path_factory.mktemp("work")
    shutil.copytree(base, work, dirs_exist_ok=True)
    bundle = work / "bundle"
    with ledger.Ledger.open(work / "ledger.db") as book:
        campaign = Campaign(book)
        for number, actions in enumerate(rounds):
            for action, pick in actions:
                campaign.act(action, pick)
            if close and number == len(rounds) - 1:
                book.close_statement(LOG_KEY, now=campaign.clock + 1)
            before = bundle_files(bundle)
            result = publish_bundle(book, bundle, log_key=LOG_KEY, now=campaign.clock + 2)
            assert result.mode == "incremental"
            # Only the pages of the new entries and of the endorsements they changed.
            changed = {p for p, data in bundle_files(bundle).items() if before.get(p) != data}
            assert changed <= set(result.written)
            full = work / f"full{number}"
            again = publish_bundle(book, full)
            assert again.mode == "full"
            ours, theirs = bundle_files(bundle), bundle_files(full)
            assert {p: ours.get(p) for p in theirs} == theirs
            assert all(".p/" in p for p in set(ours) - set(theirs))  # older partial tiles
        report = check_bundle(bundle)
        assert report.ok, report.problems


def test_a_withdrawal_rewrites_the_page_of_its_endorsement(base: Path, tmp_path: Path) -> None:
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    with ledger.Ledger.open(tmp_path / "ledger.db") as book:
        cose = ledger.withdraw(org_key(5), STATEMENT_HASH, signed_at=T0 + 10 * BASE)
        assert book.append([("w", cose)], now=T0 + 10 * BASE).appended
        result = publish_bundle(book, tmp_path / "bundle", log_key=LOG_KEY, now=T0 + 11 * BASE)
    assert result.mode == "incremental"
    pages = [p for p in result.written if p.startswith("list/")]
    # Entry 5's page; the new entry's (page 1) was compared and holds the same bytes.
    assert pages == [list_page_path(0)]
    page = (tmp_path / "bundle" / list_page_path(0)).read_text()
    assert "Entry 5: <bdi>Org 5</bdi>" in page
    assert "withdrawn by the organisation (entry 1200" in page
    assert check_bundle(tmp_path / "bundle").ok


def test_without_its_state_publishing_again_is_full(base: Path, tmp_path: Path) -> None:
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    state_path(tmp_path / "bundle").unlink()
    with ledger.Ledger.open(tmp_path / "ledger.db") as book:
        append = book.append([("n", org_endorsement(BASE))], now=T0 + 10 * BASE)
        assert append.appended
        result = publish_bundle(book, tmp_path / "bundle", log_key=LOG_KEY, now=T0 + 11 * BASE)
        assert result.mode == "full"
        assert state_path(tmp_path / "bundle").is_file()
        forced = publish_bundle(book, tmp_path / "bundle", full=True)
        assert forced.mode == "full"
        assert forced.written == ()
        assert publish_bundle(book, tmp_path / "bundle").mode == "incremental"
    assert check_bundle(tmp_path / "bundle").ok


def test_a_state_of_another_checkpoint_is_not_used(base: Path, tmp_path: Path) -> None:
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    saved = state_path(tmp_path / "bundle").read_bytes()
    with ledger.Ledger.open(tmp_path / "ledger.db") as book:
        assert book.append([("n", org_endorsement(BASE))], now=T0 + 10 * BASE).appended
        publish_bundle(book, tmp_path / "bundle", log_key=LOG_KEY, now=T0 + 11 * BASE)
        state_path(tmp_path / "bundle").write_bytes(saved)  # the state of the previous publish
        assert book.append([("m", org_endorsement(BASE + 1))], now=T0 + 12 * BASE).appended
        result = publish_bundle(book, tmp_path / "bundle", log_key=LOG_KEY, now=T0 + 13 * BASE)
    assert result.mode == "full"
    assert check_bundle(tmp_path / "bundle").ok
