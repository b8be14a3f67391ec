"""C2SP tlog-tiles (``ledger.tiles``): paths, which tiles a size implies, tile hashes, bundles.

The tile hashes are checked against ``ledger.merkle.MemoryTree`` (perfect-subtree hashes) and
``ledger.merkle.root``; the examples are those of the spec (https://c2sp.org/tlog-tiles).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import FormatError, UsageError
from ledger.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    EntryBundle,
    HashTile,
    TileBuilder,
    bundle_at,
    decode_entry_bundle,
    decode_tile,
    encode_entry_bundle,
    encode_tile,
    entry_bundles_for_size,
    fold_hashes,
    format_index,
    format_tile_path,
    node_in_tile,
    parse_tile_path,
    tile_at,
    tile_nodes,
    tiles_for_size,
)


def leaf(number: int) -> bytes:
    return merkle.hash_leaf(number.to_bytes(8, "big"))


def memory_tree(size: int) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for number in range(size):
        tree.append_leaf_hash(leaf(number))
    return tree


TREE = memory_tree(70_000)  # the spec's example size: three levels of tiles


# ---------------------------------------------------------------------------------------------
# paths


@pytest.mark.parametrize(
    ("index", "text"),
    [
        (0, "000"),
        (5, "005"),
        (999, "999"),
        (1000, "x001/000"),
        (1_234_067, "x001/x234/067"),
        (10**9, "x001/x000/x000/000"),
    ],
)
def test_index_encoding(index: int, text: str) -> None:
    assert format_index(index) == text


def test_spec_paths() -> None:
    assert format_tile_path(HashTile(0, 1_234_067)) == "tile/0/x001/x234/067"
    assert format_tile_path(HashTile(1, 1, 17)) == "tile/1/001.p/17"
    assert format_tile_path(EntryBundle(273, 112)) == "tile/entries/273.p/112"
    assert HashTile(2, 0, 1).path == "tile/2/000.p/1"
    assert EntryBundle(1000).path == "tile/entries/x001/000"


widths = st.integers(1, TILE_WIDTH)
hash_tiles = st.integers(0, 7).flatmap(
    lambda level: st.builds(
        HashTile,
        level=st.just(level),
        index=st.integers(0, (2**63 - 1) >> (8 * level + 8)),
        width=widths,
    )
)
entry_bundles = st.builds(EntryBundle, index=st.integers(0, (2**63 - 1) >> 8), width=widths)


@given(st.one_of(hash_tiles, entry_bundles))
def test_path_round_trip(tile: HashTile | EntryBundle) -> None:
    assert parse_tile_path(format_tile_path(tile)) == tile


@given(st.one_of(hash_tiles, entry_bundles), st.data())
def test_every_mutation_of_a_path_is_refused_or_canonical(
    tile: HashTile | EntryBundle, data: st.DataObject
) -> None:
    """Like Go's tlog tests: a changed path parses only if it is itself canonical."""
    path = format_tile_path(tile)
    position = data.draw(st.integers(0, len(path)))
    char = data.draw(st.sampled_from("0123456789x./p-+ entries\u0660"))
    for mutated in (
        path[:position] + path[position + 1 :],
        path[:position] + char + path[position:],
        path[:position] + char + path[position + 1 :],
    ):
        try:
            parsed = parse_tile_path(mutated)
        except FormatError:
            continue
        assert format_tile_path(parsed) == mutated


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tiles/0/000",
        "tile/0/000/",
        "tile//000",
        "tile/0/5",
        "tile/0/0005",
        "tile/0/x005",
        "tile/0/005/x001",
        "tile/0/x000/005",  # a superfluous group
        "tile/0/X001/000",
        "tile/00/000",
        "tile/01/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/64/000",
        "tile/1e1/000",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/0",
        "tile/0/000.p/05",
        "tile/0/000.p/256",
        "tile/0/000.p/+5",
        "tile/0/000.q/5",
        "tile/0/x001.p/5",
        "tile/0/00a",
        "tile/0/ 00",
        "tile/0/\u0660\u0660\u0660",  # Arabic-Indic digits are digits to int(), not to us
        "tile/entries/000.p/256",
        "tile/entry/000",
        "tile/0/../000",
        "tile/0/./000",
        "tile/8/001",  # beyond the largest tree (2**63 - 1 entries)
    ],
)
def test_strict_parsing(path: str) -> None:
    with pytest.raises(FormatError):
        parse_tile_path(path)


def test_tile_ranges_are_checked() -> None:
    for level, index, width in ((64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)):
        with pytest.raises(UsageError):
            HashTile(level, index, width)
    with pytest.raises(UsageError):
        EntryBundle(0, 257)
    with pytest.raises(UsageError):
        format_index(-1)


# ---------------------------------------------------------------------------------------------
# which tiles a size implies


def test_the_spec_example_of_70000_entries() -> None:
    tiles = tiles_for_size(70_000)
    assert [t for t in tiles if t.level == 0] == [
        *(HashTile(0, n) for n in range(273)),
        HashTile(0, 273, 112),
    ]
    assert [t for t in tiles if t.level > 0] == [
        HashTile(1, 0),
        HashTile(1, 1, 17),
        HashTile(2, 0, 1),
    ]
    bundles = entry_bundles_for_size(70_000)
    assert bundles == [*(EntryBundle(n) for n in range(273)), EntryBundle(273, 112)]


def test_a_tree_of_256_entries() -> None:
    assert tiles_for_size(256) == [HashTile(0, 0), HashTile(1, 0, 1)]
    assert entry_bundles_for_size(256) == [EntryBundle(0)]
    assert tiles_for_size(0) == []
    assert entry_bundles_for_size(0) == []
    assert tiles_for_size(1) == [HashTile(0, 0, 1)]


@given(st.integers(0, 2**20), st.integers(0, 2**20))
def test_since_lists_what_a_reader_of_the_older_size_lacks(a: int, b: int) -> None:
    old, new = sorted((a, b))
    had = {t for t in tiles_for_size(old) if t.full}
    assert tiles_for_size(new, since=old) == [t for t in tiles_for_size(new) if t not in had]
    had_bundles = {t for t in entry_bundles_for_size(old) if t.full}
    assert entry_bundles_for_size(new, since=old) == [
        b for b in entry_bundles_for_size(new) if b not in had_bundles
    ]


@given(st.integers(1, 2**20))
def test_widths_add_up_to_the_size(size: int) -> None:
    total = 0
    for tile in tiles_for_size(size):
        assert tile.width <= TILE_WIDTH
        assert tile_at(tile.level, tile.index, size) == tile
        if tile.level == 0:
            total += tile.width
    assert total == size
    assert sum(b.width for b in entry_bundles_for_size(size)) == size


@given(st.integers(1, 2**63 - 1))
def test_partial_tiles_of_any_size(size: int) -> None:
    """The partial tile of level L has width floor(size / 256**L) mod 256 (none if 0)."""
    partial = [t for t in tiles_for_size(size, since=size) if not t.full]
    levels = [level for level in range(8) if size >> (8 * level)]
    assert [t.level for t in partial] == [lv for lv in levels if (size >> (8 * lv)) % 256]
    for tile in partial:
        assert tile.width == (size >> (8 * tile.level)) % 256
        assert tile.index == size >> (8 * tile.level + 8)
    assert all(not t.full for t in tiles_for_size(size, since=size))


def test_tiles_out_of_range() -> None:
    with pytest.raises(UsageError):
        tiles_for_size(5, since=6)
    with pytest.raises(UsageError):
        tiles_for_size(2**63)
    with pytest.raises(UsageError):
        tile_at(0, 1, 256)  # not yet
    with pytest.raises(UsageError):
        tile_at(1, 0, 255)
    with pytest.raises(UsageError):
        bundle_at(5, 5)
    assert bundle_at(300, 301) == EntryBundle(1, 45)


# ---------------------------------------------------------------------------------------------
# tile hashes = Merkle subtree hashes


@settings(max_examples=60)
@given(st.integers(1, 70_000))
@example(70_000)
@example(65_536)
@example(256)
def test_tile_hashes_are_merkle_subtree_hashes(size: int) -> None:
    builder = TileBuilder()
    built: dict[HashTile, bytes] = {}
    for number in range(size):
        built.update(builder.append(leaf(number)))
    built.update(builder.partial_tiles())
    expected = tiles_for_size(size)
    assert sorted(built, key=_order) == sorted(expected, key=_order)
    for tile in expected:
        hashes = [TREE.subtree_hash(level, index) for level, index in tile_nodes(tile)]
        assert decode_tile(built[tile], tile) == hashes, tile.path
    assert builder.root() == merkle.root(TREE, size)


def _order(tile: HashTile) -> tuple[int, int, int]:
    return (tile.level, tile.index, tile.width)


@given(st.data())
def test_any_subtree_folds_from_one_tile(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 70_000))
    level = data.draw(st.integers(0, size.bit_length() - 1))
    index = data.draw(st.integers(0, (size >> level) - 1))  # complete at size
    tile_level, tile_index, first, count = node_in_tile(level, index)
    tile = tile_at(tile_level, tile_index, size)
    hashes = [TREE.subtree_hash(lv, ix) for lv, ix in tile_nodes(tile)]
    assert fold_hashes(hashes[first : first + count]) == TREE.subtree_hash(level, index)


@settings(max_examples=40)
@given(st.integers(0, 1500), st.integers(0, 1500))
def test_resume_continues_from_the_partial_tiles(a: int, b: int) -> None:
    start, end = sorted((a, b))
    pending = []
    level = 0
    while start >> (8 * level):
        width = (start >> (8 * level)) % TILE_WIDTH
        index = start >> (8 * level + 8)
        nodes = tile_nodes(HashTile(level, index, width)) if width else []
        pending.append([TREE.subtree_hash(lv, ix) for lv, ix in nodes])
        level += 1
    builder = TileBuilder.resume(start, pending or [[]])
    assert builder.root() == merkle.root(TREE, start)
    for number in range(start, end):
        for tile, data in builder.append(leaf(number)):
            assert decode_tile(data, tile) == [TREE.subtree_hash(*n) for n in tile_nodes(tile)]
    assert builder.root() == merkle.root(TREE, end)


def test_resume_refuses_wrong_counts() -> None:
    with pytest.raises(UsageError):
        TileBuilder.resume(300, [[leaf(0)] * 44])  # two levels at 300
    with pytest.raises(UsageError):
        TileBuilder.resume(300, [[leaf(0)] * 43, [leaf(0)]])


def test_fold_needs_a_power_of_two() -> None:
    with pytest.raises(UsageError):
        fold_hashes([leaf(0)] * 3)
    with pytest.raises(UsageError):
        fold_hashes([])


def test_tile_encoding_is_strict() -> None:
    tile = HashTile(0, 0, 2)
    data = encode_tile([leaf(0), leaf(1)])
    assert decode_tile(data, tile) == [leaf(0), leaf(1)]
    for bad in (data[:-1], data + b"\x00", b"", data + data):
        with pytest.raises(FormatError, match=r"tile/0/000\.p/2"):
            decode_tile(bad, tile)
    with pytest.raises(FormatError):
        encode_tile([])
    with pytest.raises(FormatError):
        encode_tile([b"short"])
    with pytest.raises(FormatError):
        encode_tile([leaf(0)] * 257)


# ---------------------------------------------------------------------------------------------
# entry bundles

entry_lists = st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH)


@given(entry_lists)
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    bundle = EntryBundle(7, len(entries))
    data = encode_entry_bundle(entries)
    assert len(data) == sum(2 + len(e) for e in entries)
    assert decode_entry_bundle(data, bundle) == entries


@given(entry_lists, st.data())
def test_a_changed_length_or_count_is_refused(entries: list[bytes], data: st.DataObject) -> None:
    encoded = encode_entry_bundle(entries)
    bundle = EntryBundle(0, len(entries))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(FormatError, match=r"tile/entries/000"):
        decode_entry_bundle(encoded[:cut], bundle)  # truncated
    with pytest.raises(FormatError, match="after its"):
        decode_entry_bundle(encoded + encode_entry_bundle([b"x"]), bundle)  # one more
    if len(entries) < TILE_WIDTH:
        with pytest.raises(FormatError):
            decode_entry_bundle(encoded, EntryBundle(0, len(entries) + 1))
    with pytest.raises(FormatError):
        decode_entry_bundle(encoded + b"\x00", bundle)  # trailing byte


def test_entry_bundle_limits() -> None:
    biggest = b"\xab" * MAX_ENTRY_SIZE
    assert decode_entry_bundle(encode_entry_bundle([biggest]), EntryBundle(0, 1)) == [biggest]
    with pytest.raises(FormatError, match="65535"):
        encode_entry_bundle([biggest + b"x"])
    with pytest.raises(FormatError):
        encode_entry_bundle([])
    with pytest.raises(FormatError):
        encode_entry_bundle([b""] * 257)
    # A length prefix that claims more than the bundle holds.
    with pytest.raises(FormatError, match="claims 65535 bytes"):
        decode_entry_bundle(b"\xff\xff" + b"x" * 10, EntryBundle(0, 1))
    assert hashlib.sha256(encode_entry_bundle([b""])).hexdigest()  # an empty entry encodes
