"""Published bundles in a directory: publish, verify, tamper, update incrementally, crash, mirror.

The bundle checks are those of ``ledger.bundle_read.check_bundle`` (the ledger's checks over a
``BundleSource`` plus the "bundle" check); the CLI transcripts run ``ledger publish``, ``ledger
verify DIR`` and ``ledger fetch``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from helpers import LOG_KEY, ORIGIN, STATEMENT, T0, make_ledger, org_endorsement
from ledger.bundle import BundleDirectory, fetch_bundle, publish_bundle
from ledger.bundle_read import check_bundle, check_location, open_source
from ledger.bundle_views import ENTRIES_PAGE_SCHEMA, ENTRIES_SCHEMA
from ledger.errors import StoreError, UsageError, VerificationError
from ledger.note import cosign_checkpoint, parse_note
from ledger.publish_state import state_path
from ledger.witness import format_cosignature_lines

SIZE = 301  # genesis + 300: one full tile and bundle, partial ones, and a level-1 tile
FIXED = ("checkpoint", "statement.txt", "log.pub", "entries.json", "index.html", "README.txt")
PAGES = ("entries/0.json", "list/0.html")
TLOG = (
    "tile/0/000",
    "tile/0/001.p/45",
    "tile/1/000.p/1",
    "tile/entries/000",
    "tile/entries/001.p/45",
)


# Until cli/main.py adds `publish` and `fetch` and `verify` calls ledger.check_location, the
# transcripts are skipped (the library tests still run). Remove this once wired.
WIRED = {"publish", "fetch"} <= set(cli.commands) and hasattr(ledger, "check_location")


def run(*args: str | Path) -> Result:
    if not WIRED:
        pytest.skip("the bundle commands are not wired into cli/main.py yet")
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bundle_problems(report: ledger.Report) -> list[str]:
    return [p.message for p in report.problems if p.check == "bundle"]


def append_orgs(book: ledger.Ledger, first: int, count: int) -> None:
    batch = [(f"org{n}", org_endorsement(n)) for n in range(first, first + count)]
    result = book.append(batch, now=T0 + first + count)
    assert len(result.appended) == count, result.rejected


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger of 301 entries and its bundle (do not modify: copy with ``fresh``)."""
    root = tmp_path_factory.mktemp("published")
    with make_ledger(root / "ledger.db", SIZE - 1) as book:
        publish_bundle(book, root / "bundle", log_key=LOG_KEY, now=T0 + 1000)
    return root


@pytest.fixture
def fresh(published: Path, tmp_path: Path) -> Path:
    """A copy of the published ledger and bundle, to change."""
    shutil.copytree(published, tmp_path / "copy")
    return tmp_path / "copy"


def files_of(bundle: Path) -> set[str]:
    return {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------
# publish, then verify


def test_publish_writes_exactly_the_bundle(published: Path) -> None:
    bundle = published / "bundle"
    assert files_of(bundle) == {*FIXED, *PAGES, *TLOG}
    assert state_path(bundle).is_file()  # beside the bundle, not in it
    with ledger.Ledger.open(published / "ledger.db", readonly=True) as book:
        assert (bundle / "checkpoint").read_bytes() == book.latest_checkpoint()
        genesis = book.genesis
    assert (bundle / "statement.txt").read_bytes() == ledger.canonicalize(STATEMENT)
    assert (bundle / "log.pub").read_text() == genesis.log_key + "\n"
    summary = json.loads((bundle / "entries.json").read_text("utf-8"))
    assert summary["schema"] == ENTRIES_SCHEMA
    assert (summary["size"], summary["pages"]) == (SIZE, ["entries/0.json"])
    entries = json.loads((bundle / "entries/0.json").read_text("utf-8"))
    assert (entries["schema"], entries["first"]) == (ENTRIES_PAGE_SCHEMA, 0)
    assert [row["index"] for row in entries["entries"]] == list(range(SIZE))
    assert entries["entries"][1]["endorsement"]["name"] == "Org 1"
    readme = (bundle / "README.txt").read_text()
    assert "ledger verify <this directory or its URL>" in readme
    assert "sha256sum statement.txt" in readme
    assert f"Checkpoint: size {SIZE}, root " in readme
    index = (bundle / "index.html").read_text()
    assert '<a href="list/0.html">entries 0 to 300</a>' in index
    page = (bundle / "list/0.html").read_text()
    assert all(f"<bdi>Org {n}</bdi>" in page for n in range(1, SIZE))
    # A static web server serves what another user can read.
    assert all(p.stat().st_mode & 0o004 for p in bundle.rglob("*") if p.is_file())


def test_a_published_bundle_verifies(published: Path) -> None:
    report = check_bundle(published / "bundle")
    assert report.ok, report.problems
    assert report.size == SIZE
    assert "bundle" in report.checks_run
    assert report.checkpoint is not None
    assert report.checkpoint.size == SIZE
    assert len(report.signatories) == SIZE - 1


def test_check_location_and_open_source_dispatch(published: Path) -> None:
    assert check_location(str(published / "bundle")).ok
    file_report = check_location(published / "ledger.db")
    assert file_report.ok
    assert "bundle" not in file_report.checks_run
    source = open_source(published / "bundle")
    assert source.size() == SIZE
    assert source.leaf_hash(300) == ledger.hash_leaf(source.entry(300))


def test_cli_publish_and_verify(tmp_path: Path) -> None:
    make_ledger(tmp_path / "l.db", 3).close()
    key = tmp_path / "log.key"
    key.write_text(LOG_KEY.to_text() + "\n")
    result = run("publish", tmp_path / "l.db", "--log-key", key, "--out", tmp_path / "b")
    assert result.exit_code == 0, result.stderr
    assert "4 entries" in result.stdout
    assert "wrote 1 hash tile(s), 1 entry bundle(s), 2 page(s), 6 other file(s)" in result.stdout
    result = run("verify", tmp_path / "b")
    assert result.exit_code == 0, result.stdout
    assert "VERIFIED" in result.stdout
    assert "bundle" in result.stdout
    again = run("publish", tmp_path / "l.db", "--out", tmp_path / "b")  # no key needed
    assert again.exit_code == 0, again.stderr
    assert "wrote 0 hash tile(s), 0 entry bundle(s), 0 page(s), 0 other file(s); 9 unchanged" in (
        again.stdout
    )
    assert "incrementally" in again.stdout


def test_publish_without_the_log_key_when_the_ledger_grew(tmp_path: Path) -> None:
    with make_ledger(tmp_path / "l.db", 2) as book:
        with pytest.raises(UsageError, match="give the log key"):
            publish_bundle(book, tmp_path / "b")
        result = run("publish", tmp_path / "l.db", "--out", tmp_path / "b")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: the ledger has no checkpoint")
    assert not (tmp_path / "b" / "checkpoint").exists()


def test_cosignatures_are_kept(tmp_path: Path) -> None:
    witness = ledger.SigningKey.from_seed("witness.example", bytes(32))
    with make_ledger(tmp_path / "l.db", 2) as book:
        note = book.checkpoint(LOG_KEY, now=T0 + 10)
        line = cosign_checkpoint(parse_note(note), witness, T0 + 20)
        cosigned = book.add_cosignatures(format_cosignature_lines([line]))
        result = publish_bundle(book, tmp_path / "b", log_key=LOG_KEY)
    assert not result.signed_checkpoint
    assert (tmp_path / "b" / "checkpoint").read_bytes() == cosigned
    assert check_bundle(tmp_path / "b").ok


def test_a_ledger_that_does_not_verify_is_not_published(tmp_path: Path) -> None:
    from helpers import set_entry_data, stored_entries

    make_ledger(tmp_path / "l.db", 2).close()
    data = stored_entries(tmp_path / "l.db")[2][1]
    set_entry_data(tmp_path / "l.db", 2, data[:-1] + bytes([data[-1] ^ 1]))
    with (
        ledger.Ledger.open(tmp_path / "l.db") as book,
        # Refused before anything is written: by publish's verification, or earlier when the
        # checkpoint is signed (the entries no longer hash to the stored tree).
        pytest.raises(ledger.LedgerError, match=r"refusing to publish|does not match the entries"),
    ):
        publish_bundle(book, tmp_path / "b", log_key=LOG_KEY)
    assert not (tmp_path / "b" / "checkpoint").exists()


# ---------------------------------------------------------------------------------------------
# any change to any file is reported, naming it


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    flips = st.builds(
        lambda i, x: data[:i] + bytes([data[i] ^ x]) + data[i + 1 :],
        st.integers(0, len(data) - 1),
        st.integers(1, 255),
    )
    cuts = st.builds(lambda i: data[:i], st.integers(0, len(data) - 1))
    extra = st.builds(lambda tail: data + tail, st.binary(min_size=1, max_size=40))
    return st.one_of(flips, cuts, extra)


@pytest.fixture(scope="module")
def scratch(published: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One copy of the bundle, restored after each example."""
    copy = tmp_path_factory.mktemp("scratch") / "bundle"
    shutil.copytree(published / "bundle", copy)
    return iter([copy])


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_change_to_any_file_is_reported(published: Path, data: st.DataObject) -> None:
    bundle = published / "bundle"
    name = data.draw(st.sampled_from(sorted({*FIXED, *PAGES, *TLOG})), label="file")
    original = (bundle / name).read_bytes()
    changed = data.draw(_mutations(original), label="bytes")
    if changed == original:
        return
    copy = published.parent / f"mutated-{os.getpid()}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(bundle, copy)
    try:
        (copy / name).write_bytes(changed)
        report = check_bundle(copy)
        assert not report.ok, name
        text = " ".join(str(p) for p in report.problems)
        named = {
            "checkpoint": "checkpoint",
            "tile/entries/000": "entr",
            "tile/entries/001.p/45": "entr",
        }.get(name, name)
        assert named in text, (name, text)
    finally:
        shutil.rmtree(copy)


@pytest.mark.parametrize("name", [*FIXED[1:], *PAGES, *TLOG])
def test_a_missing_file_is_named(fresh: Path, name: str) -> None:
    (fresh / "bundle" / name).unlink()
    report = check_bundle(fresh / "bundle")
    assert not report.ok
    assert any(m.startswith(f"{name}: missing") for m in bundle_problems(report)), report.problems


def test_a_changed_tile_is_named_with_the_entry(fresh: Path) -> None:
    tile = fresh / "bundle" / "tile/0/000"
    original = tile.read_bytes()
    data = bytearray(original)
    data[32 * 17] ^= 1
    tile.write_bytes(bytes(data))
    report = check_bundle(fresh / "bundle")
    assert bundle_problems(report) == [
        "tile/0/000: hash 17 is not the leaf hash of entry 17 in tile/entries/000"
    ]
    upper = fresh / "bundle" / "tile/1/000.p/1"
    tile.write_bytes(original)
    upper.write_bytes(bytes(32))
    assert bundle_problems(check_bundle(fresh / "bundle")) == [
        "tile/1/000.p/1: hash 0 is not the hash of entries 0..255"
    ]


def test_a_missing_checkpoint_is_not_a_bundle(fresh: Path) -> None:
    (fresh / "bundle" / "checkpoint").unlink()
    with pytest.raises(UsageError, match="no checkpoint file: not a published bundle"):
        check_bundle(fresh / "bundle")
    result = run("verify", fresh / "bundle")
    assert result.exit_code == 2
    assert "not a published bundle" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_names_the_damaged_file(fresh: Path) -> None:
    (fresh / "bundle" / "statement.txt").write_bytes(b"Another text.\n")
    result = run("verify", fresh / "bundle")
    assert result.exit_code == 1
    assert "DOES NOT VERIFY" in result.stdout
    assert "statement.txt: not the statement text of the genesis entry" in result.stdout


def test_pinned_log_key_is_compared_with_log_pub(published: Path) -> None:
    other = ledger.SigningKey.from_seed(ORIGIN, bytes(range(32))).public
    report = check_bundle(published / "bundle", log_key=other)
    assert "log.pub: not the log key you trust (--log-pub)" in bundle_problems(report)
    assert check_bundle(published / "bundle", log_key=LOG_KEY.public).ok


def test_a_link_out_of_the_bundle_is_not_followed(fresh: Path) -> None:
    outside = fresh / "secret.txt"
    outside.write_bytes(ledger.canonicalize(STATEMENT))  # even the right bytes
    statement = fresh / "bundle" / "statement.txt"
    statement.unlink()
    statement.symlink_to(outside)
    report = check_bundle(fresh / "bundle")
    assert "statement.txt: a link leading out of the bundle; not read" in bundle_problems(report)


def test_a_fifo_in_the_bundle_does_not_hang_the_reader(fresh: Path) -> None:
    log_pub = fresh / "bundle" / "log.pub"
    log_pub.unlink()
    os.mkfifo(log_pub)
    assert "log.pub: not a regular file" in bundle_problems(check_bundle(fresh / "bundle"))


# ---------------------------------------------------------------------------------------------
# history: saved checkpoints, incremental publishing and verification


def test_incremental_publish_writes_only_what_changed(fresh: Path) -> None:
    bundle = fresh / "bundle"
    full = {p: (bundle / p).stat() for p in ("tile/0/000", "tile/entries/000")}
    with ledger.Ledger.open(fresh / "ledger.db") as book:
        append_orgs(book, SIZE, 300)
        result = publish_bundle(book, bundle, log_key=LOG_KEY, now=T0 + 2000)
    assert result.previous_size == SIZE
    assert result.size == 601
    assert result.written == (
        "tile/0/001",
        "tile/0/002.p/89",
        "tile/1/000.p/2",
        "tile/entries/001",
        "tile/entries/002.p/89",
        "checkpoint",
        "entries/0.json",
        "list/0.html",
        "entries.json",
        "index.html",
        "README.txt",
    )
    assert result.mode == "incremental"
    counts = (result.tiles_written, result.entry_bundles_written, result.pages_written)
    assert (*counts, result.files_written) == (3, 2, 2, 4)
    assert result.removed == ("tile/0/001.p/45", "tile/entries/001.p/45")
    for path, before in full.items():  # full tiles are never rewritten
        after = (bundle / path).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), path
    assert (bundle / "tile/1/000.p/1").exists()  # its full tile does not exist yet
    assert check_bundle(bundle).ok


def test_republishing_an_unchanged_ledger_writes_nothing(fresh: Path) -> None:
    with ledger.Ledger.open(fresh / "ledger.db") as book:
        result = publish_bundle(book, fresh / "bundle")
    assert (result.written, result.removed, result.signed_checkpoint) == ((), (), False)
    assert result.unchanged == 10  # the partial tiles and page, and the fixed files it compared
    assert result.mode == "incremental"


def test_verify_against_a_saved_checkpoint(fresh: Path) -> None:
    bundle = fresh / "bundle"
    old_bundle = fresh / "old-bundle"
    shutil.copytree(bundle, old_bundle)
    saved = (bundle / "checkpoint").read_bytes()
    with ledger.Ledger.open(fresh / "ledger.db") as book:
        append_orgs(book, SIZE, 40)
        publish_bundle(book, bundle, log_key=LOG_KEY, now=T0 + 2000)
    newer = (bundle / "checkpoint").read_bytes()
    assert check_bundle(bundle, saved_checkpoint=saved).ok
    incremental = check_bundle(bundle, saved_checkpoint=saved, incremental=True)
    assert incremental.ok, incremental.problems
    assert (incremental.mode, incremental.entries_from) == ("incremental", SIZE)
    # Rolled back: the old bundle, checked against the newer checkpoint.
    rolled = check_bundle(old_bundle, saved_checkpoint=newer)
    assert "consistency" in rolled.failed_checks
    assert any("entries" in p.message for p in rolled.problems if p.check == "consistency")
    # Truncated: the newer checkpoint over the old files.
    (old_bundle / "checkpoint").write_bytes(newer)
    truncated = check_bundle(old_bundle)
    assert not truncated.ok
    assert any("missing" in m for m in bundle_problems(truncated)), truncated.problems
    result = run("verify", old_bundle, "--checkpoint", bundle / "checkpoint")
    assert result.exit_code == 1


def test_incremental_verify_checks_the_new_tiles(fresh: Path) -> None:
    bundle = fresh / "bundle"
    saved = (bundle / "checkpoint").read_bytes()
    with ledger.Ledger.open(fresh / "ledger.db") as book:
        append_orgs(book, SIZE, 300)
        publish_bundle(book, bundle, log_key=LOG_KEY, now=T0 + 2000)
    tile = bundle / "tile/0/002.p/89"
    tile.write_bytes(tile.read_bytes()[:-1] + b"\x00")
    report = check_bundle(bundle, saved_checkpoint=saved, incremental=True)
    assert report.mode == "incremental"
    assert "tile/0/002.p/89: hash 88 is not the leaf hash of entry 600 in " in (
        " ".join(bundle_problems(report))
    )


def test_publishing_over_another_history_is_refused(tmp_path: Path) -> None:
    with make_ledger(tmp_path / "a.db", 3) as book:
        publish_bundle(book, tmp_path / "b", log_key=LOG_KEY, now=T0 + 100)
    # Same log key and statement, another list: a fork of the first.
    other = ledger.Ledger.create(
        tmp_path / "fork.db",
        statement=STATEMENT,
        title="Our letter",
        origin=ORIGIN,
        log_key=LOG_KEY,
        now=T0,
    )
    with other:
        append_orgs(other, 7, 5)
        with pytest.raises(VerificationError, match="different history"):
            publish_bundle(other, tmp_path / "b", log_key=LOG_KEY, now=T0 + 100)
    with (
        make_ledger(tmp_path / "small.db", 1) as small,
        pytest.raises(UsageError, match="roll the bundle back"),
    ):
        publish_bundle(small, tmp_path / "b", log_key=LOG_KEY, now=T0 + 100)
    other_key = ledger.SigningKey.from_seed("other.example/x", bytes(32))
    with (
        ledger.Ledger.create(
            tmp_path / "x.db",
            statement=STATEMENT,
            title="X",
            origin="other.example/x",
            log_key=other_key,
        ) as foreign,
        pytest.raises(UsageError, match="not a checkpoint of this ledger"),
    ):
        publish_bundle(foreign, tmp_path / "b", log_key=other_key)


def test_a_tile_that_must_not_change_is_never_overwritten(fresh: Path) -> None:
    bundle = fresh / "bundle"
    (bundle / "checkpoint").unlink()  # so that publishing compares every tile
    (bundle / "tile/0/000").write_bytes(bytes(8192))
    with (
        ledger.Ledger.open(fresh / "ledger.db") as book,
        pytest.raises(VerificationError, match=r"tile/0/000: the bundle in .* different bytes"),
    ):
        publish_bundle(book, bundle)
    assert (bundle / "tile/0/000").read_bytes() == bytes(8192)


def test_a_crash_before_the_checkpoint_leaves_the_old_bundle_verifying(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = fresh / "bundle"
    before = (bundle / "checkpoint").read_bytes()
    real_replace = os.replace

    def crash_on_checkpoint(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "checkpoint":
            raise OSError(5, "Input/output error (simulated crash)")
        real_replace(src, dst)

    with ledger.Ledger.open(fresh / "ledger.db") as book:
        append_orgs(book, SIZE, 300)
        monkeypatch.setattr(os, "replace", crash_on_checkpoint)
        with pytest.raises(StoreError, match="simulated crash"):
            publish_bundle(book, bundle, log_key=LOG_KEY, now=T0 + 2000)
        monkeypatch.setattr(os, "replace", real_replace)
        assert (bundle / "checkpoint").read_bytes() == before
        assert (bundle / "tile/0/001").exists()  # written before the commit point
        assert not list(bundle.rglob(".*.tmp"))  # no temporary file left behind
        report = check_bundle(bundle)
        assert report.ok, report.problems
        assert report.size == SIZE
        result = publish_bundle(book, bundle, log_key=LOG_KEY)  # the next publish completes
    assert "tile/0/001" not in result.written  # already there, and the same
    assert check_bundle(bundle).size == 601


def test_bundle_directory_accepts_only_bundle_paths(tmp_path: Path) -> None:
    out = BundleDirectory(tmp_path / "b")
    for bad in ("../x", "tile/0/../../x", "/etc/passwd", "tile/0/0", "index.htm"):
        with pytest.raises(ledger.FormatError):
            out.put(bad, b"x")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# mirroring


def test_fetch_mirrors_exactly_the_bundle(published: Path, tmp_path: Path) -> None:
    source = published / "bundle"
    (tmp_path / "served").mkdir()
    shutil.copytree(source, tmp_path / "served" / "b")
    (tmp_path / "served" / "b" / "tile/0/005").write_bytes(b"not implied by the checkpoint")
    result, report = fetch_bundle(str(tmp_path / "served" / "b"), tmp_path / "mirror")
    assert report.ok
    assert result.committed
    assert files_of(tmp_path / "mirror") == files_of(source)
    for name in files_of(source):
        assert (tmp_path / "mirror" / name).read_bytes() == (source / name).read_bytes()
    again, report = fetch_bundle(str(source), tmp_path / "mirror")
    assert report.ok
    assert again.committed
    assert not any(p.startswith("tile/") for p in again.written)


def test_fetch_keeps_the_mirror_when_the_bundle_rolls_back(fresh: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(fresh / "bundle", old)
    with ledger.Ledger.open(fresh / "ledger.db") as book:
        append_orgs(book, SIZE, 300)
        publish_bundle(book, fresh / "bundle", log_key=LOG_KEY, now=T0 + 2000)
    mirror = tmp_path / "mirror"
    assert fetch_bundle(str(fresh / "bundle"), mirror)[1].ok
    kept = (mirror / "checkpoint").read_bytes()
    result, report = fetch_bundle(str(old), mirror)
    assert not report.ok
    assert not result.committed
    assert "consistency" in report.failed_checks
    assert (mirror / "checkpoint").read_bytes() == kept
    assert check_bundle(mirror).ok
