"""C2SP tlog-tiles: the static layout of a Merkle tree and its entries. Pure, no I/O.

A log of ``size`` entries is served as *tiles* (https://c2sp.org/tlog-tiles):

- hash tile ``tile/<L>/<N>``: 256 consecutive RFC 9162 hashes at tree height ``8 * L``; hash
  ``i`` is MTH(D[(N * 256 + i) * 256**L : (N * 256 + i + 1) * 256**L]). Level 0 holds leaf
  hashes; each hash of level ``L + 1`` is the MTH of one full tile of level ``L``.
- entry bundle ``tile/entries/<N>``: entries ``N * 256`` to ``N * 256 + 255``, each as a
  big-endian uint16 length and the entry bytes.
- the rightmost tile of a level may be *partial*, ``<path>.p/<W>`` holding the first ``W``
  (1..255) of its hashes or entries; at size ``s`` the partial tile of level ``L`` has width
  ``floor(s / 256**L) mod 256`` and is not served when that is 0.

``N`` is written in 3-digit groups, every group but the last prefixed with ``x``: 1234067 is
``x001/x234/067``. Worked example: a tree of 70,000 entries has 273 full level-0 tiles
(``tile/0/000`` .. ``tile/0/272``), ``tile/0/273.p/112``, ``tile/1/000``, ``tile/1/001.p/17``
and ``tile/2/000.p/1``; entry bundles ``tile/entries/000`` .. ``272`` and ``273.p/112``.

Full tiles never change once written; partial ones are superseded as the log grows. Parsing is
strict: ``parse_tile_path`` accepts exactly the paths ``format_tile_path`` writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from attrs import frozen

from ledger.errors import FormatError, UsageError
from ledger.merkle import HASH_SIZE, CompactRange, hash_children

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT  # 256 hashes or entries in a full tile
MAX_LEVEL: Final = 63
MAX_TREE_SIZE: Final = 2**63 - 1  # C2SP tlog-checkpoint: sizes are uint63
MAX_ENTRY_SIZE: Final = 0xFFFF  # uint16 length prefix
MAX_TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE  # 8,192
MAX_ENTRY_BUNDLE_BYTES: Final = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)  # 16,777,216

_GROUP: Final = re.compile("x?[0-9]{3}")
_DECIMAL: Final = re.compile("0|[1-9][0-9]*")
_MAX_TILE_PATH: Final = 100  # the longest canonical path, tile/entries/x009/…/807.p/255, is 52


@frozen
class HashTile:
    """A hash tile: ``level`` 0..63, ``index`` N, ``width`` 1..256 (256: a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __attrs_post_init__(self) -> None:
        """Check the ranges.

        Raises:
            UsageError: level outside 0..63, negative index, width outside 1..256, or a tile
                beyond the largest tree size.
        """
        if not 0 <= self.level <= MAX_LEVEL:
            raise UsageError(f"tile level must be 0..{MAX_LEVEL}, not {self.level}")
        _check_index_width(self.index, self.width, TILE_WIDTH ** (self.level + 1))

    @property
    def full(self) -> bool:
        """True for a full tile (256 hashes), which never changes."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The tile's path, e.g. ``tile/0/x001/234.p/17``."""
        return format_tile_path(self)


@frozen
class EntryBundle:
    """An entry bundle: ``index`` N, ``width`` 1..256 entries (256: a full bundle)."""

    index: int
    width: int = TILE_WIDTH

    def __attrs_post_init__(self) -> None:
        """Check the ranges.

        Raises:
            UsageError: negative index, width outside 1..256, or beyond the largest tree size.
        """
        _check_index_width(self.index, self.width, TILE_WIDTH)

    @property
    def full(self) -> bool:
        """True for a full bundle (256 entries), which never changes."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The bundle's path, e.g. ``tile/entries/x001/234``."""
        return format_tile_path(self)

    @property
    def start(self) -> int:
        """The sequence number of the bundle's first entry."""
        return self.index * TILE_WIDTH


def _check_index_width(index: int, width: int, span: int) -> None:
    if index < 0:
        raise UsageError(f"tile index must not be negative, got {index}")
    if not 1 <= width <= TILE_WIDTH:
        raise UsageError(f"tile width must be 1..{TILE_WIDTH}, not {width}")
    if index * span > MAX_TREE_SIZE:
        raise UsageError(f"tile index {index} lies beyond the largest tree size")


def format_index(index: int) -> str:
    """Encode a tile index as 3-digit path groups: 1234067 -> ``x001/x234/067``.

    Raises:
        UsageError: a negative index.
    """
    if index < 0:
        raise UsageError(f"tile index must not be negative, got {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def format_tile_path(tile: HashTile | EntryBundle) -> str:
    """The path of a hash tile or entry bundle, relative to the log's prefix.

    Returns:
        ``tile/<L>/<N>`` or ``tile/entries/<N>``, with ``.p/<W>`` for a partial tile.
    """
    level = "entries" if isinstance(tile, EntryBundle) else str(tile.level)
    suffix = "" if tile.full else f".p/{tile.width}"
    return f"tile/{level}/{format_index(tile.index)}{suffix}"


def parse_tile_path(path: str) -> HashTile | EntryBundle:
    """Parse a tile or entry bundle path strictly (the inverse of ``format_tile_path``).

    Args:
        path: e.g. ``tile/0/x001/234.p/17`` or ``tile/entries/000``.

    Returns:
        The tile or bundle.

    Raises:
        FormatError: anything but a canonical path: leading zeros in the level or width, an
            index group that is not 3 digits, a superfluous ``x000`` group, width 0 or 256.
    """
    if len(path) > _MAX_TILE_PATH:  # also keeps int() below Python's 4300-digit limit
        raise FormatError(f"{path[:80]!r}…: longer than any tile path ({_MAX_TILE_PATH} chars)")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise FormatError(f"{path!r}: not a tile path (tile/<L>/<N>[.p/<W>])")
    width = TILE_WIDTH
    groups = parts[2:]
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _DECIMAL.fullmatch(groups[-1]):
            raise FormatError(f"{path!r}: partial tile width must be a decimal number")
        width = int(groups[-1])
        if not 1 <= width < TILE_WIDTH:
            raise FormatError(f"{path!r}: partial tile width must be 1..{TILE_WIDTH - 1}")
        groups = [*groups[:-2], groups[-2][:-2]]
    if not all(_GROUP.fullmatch(group) for group in groups):
        raise FormatError(f"{path!r}: tile index must be 3-digit groups")
    if any(group.startswith("x") for group in groups[-1:]) or not all(
        group.startswith("x") for group in groups[:-1]
    ):
        raise FormatError(f"{path!r}: every index group but the last starts with 'x'")
    index = int("".join(group.lstrip("x") for group in groups))
    try:
        tile: HashTile | EntryBundle
        if parts[1] == "entries":
            tile = EntryBundle(index, width)
        elif _DECIMAL.fullmatch(parts[1]):
            tile = HashTile(int(parts[1]), index, width)
        else:
            raise FormatError(f"{path!r}: tile level must be a decimal number or 'entries'")
    except UsageError as exc:
        raise FormatError(f"{path!r}: {exc}") from None
    if format_tile_path(tile) != path:  # e.g. a superfluous x000 group
        raise FormatError(f"{path!r}: not canonical (expected {format_tile_path(tile)!r})")
    return tile


def tiles_for_size(size: int, *, since: int = 0) -> list[HashTile]:
    """The hash tiles a tree of ``size`` entries is served as, lowest level first.

    Args:
        size: the tree size (a checkpoint's).
        since: a smaller size the reader already holds: only the full tiles completed after
            it are listed (with every partial tile of ``size``). 0 lists them all.

    Returns:
        For each level: its full tiles in order, then its partial tile if it has one.

    Raises:
        UsageError: sizes out of range or ``since > size``.
    """
    _check_sizes(since, size)
    tiles: list[HashTile] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)  # the tree's hashes at this height
        old = since >> (TILE_HEIGHT * level)
        tiles += [HashTile(level, n) for n in range(old // TILE_WIDTH, hashes // TILE_WIDTH)]
        if hashes % TILE_WIDTH:
            tiles.append(HashTile(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        level += 1
    return tiles


def entry_bundles_for_size(size: int, *, since: int = 0) -> list[EntryBundle]:
    """The entry bundles of a log of ``size`` entries (see ``tiles_for_size`` for ``since``).

    Raises:
        UsageError: sizes out of range or ``since > size``.
    """
    _check_sizes(since, size)
    bundles = [EntryBundle(n) for n in range(since // TILE_WIDTH, size // TILE_WIDTH)]
    if size % TILE_WIDTH:
        bundles.append(EntryBundle(size // TILE_WIDTH, size % TILE_WIDTH))
    return bundles


def tile_at(level: int, index: int, size: int) -> HashTile:
    """The hash tile (level, index) as served for a tree of ``size``: full or partial.

    Raises:
        UsageError: the tree of ``size`` entries has no such tile.
    """
    hashes = size >> (TILE_HEIGHT * level) if 0 <= level <= MAX_LEVEL else 0
    width = min(TILE_WIDTH, hashes - index * TILE_WIDTH)
    if index < 0 or width <= 0:
        raise UsageError(f"a tree of {size} entries has no tile ({level}, {index})")
    return HashTile(level, index, width)


def bundle_at(seq: int, size: int) -> EntryBundle:
    """The entry bundle holding entry ``seq`` in a log of ``size`` entries.

    Raises:
        UsageError: ``seq`` is not below ``size``.
    """
    if not 0 <= seq < size:
        raise UsageError(f"entry {seq} is not in a log of {size} entries")
    index = seq // TILE_WIDTH
    return EntryBundle(index, min(TILE_WIDTH, size - index * TILE_WIDTH))


def _check_sizes(since: int, size: int) -> None:
    if not 0 <= since <= size <= MAX_TREE_SIZE:
        raise UsageError(f"sizes must satisfy 0 <= {since} <= {size} <= 2**63-1")


def tile_nodes(tile: HashTile) -> list[tuple[int, int]]:
    """The perfect subtrees ``(tree level, index)`` whose hashes make up ``tile``, in order."""
    first = tile.index * TILE_WIDTH
    return [(TILE_HEIGHT * tile.level, first + i) for i in range(tile.width)]


def node_in_tile(level: int, index: int) -> tuple[int, int, int, int]:
    """Where the hash of perfect subtree (level, index) comes from in the tiles.

    A subtree of height ``8 * L + r`` is the MTH of ``2**r`` consecutive hashes of level ``L``.

    Returns:
        ``(tile level, tile index, first slot, count)``: fold ``count`` hashes from ``first
        slot`` of that tile with ``fold_hashes``.

    Raises:
        UsageError: a negative level or index.
    """
    if level < 0 or index < 0:
        raise UsageError(f"no subtree ({level}, {index})")
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    return tile_level, first // TILE_WIDTH, first % TILE_WIDTH, 1 << height


def fold_hashes(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH of a perfect subtree, given its 2**k hashes at one height (k >= 0).

    Raises:
        UsageError: the count is not a power of two.
    """
    count = len(hashes)
    if count == 0 or count & (count - 1):
        raise UsageError(f"a perfect subtree has 2**k hashes, not {count}")
    level = list(hashes)
    while len(level) > 1:
        level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    """Concatenate 1..256 hashes into a tile's bytes.

    Raises:
        FormatError: a hash is not 32 bytes, or the count is not 1..256.
    """
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise FormatError(f"a tile holds 1..{TILE_WIDTH} hashes, not {len(hashes)}")
    if any(len(value) != HASH_SIZE for value in hashes):
        raise FormatError(f"tile hashes must be {HASH_SIZE} bytes")
    return b"".join(hashes)


def decode_tile(data: bytes, tile: HashTile) -> list[bytes]:
    """Split a tile's bytes into its hashes, strictly.

    Raises:
        FormatError: the data is not exactly ``width * 32`` bytes.
    """
    if len(data) != tile.width * HASH_SIZE:
        raise FormatError(
            f"{tile.path}: {len(data)} bytes, expected {tile.width * HASH_SIZE} "
            f"({tile.width} hashes)"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode 1..256 entries as an entry bundle (uint16 big-endian length, then the bytes).

    Raises:
        FormatError: the count is not 1..256, or an entry is longer than 65,535 bytes.
    """
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise FormatError(f"an entry bundle holds 1..{TILE_WIDTH} entries, not {len(entries)}")
    out = bytearray()
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise FormatError(f"entry {position} of the bundle is {len(entry)} bytes (max 65535)")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_entry_bundle(data: bytes, bundle: EntryBundle) -> list[bytes]:
    """Split an entry bundle into exactly ``bundle.width`` entries, strictly.

    Raises:
        FormatError: a length runs past the end, fewer or more entries than the width, or
            trailing bytes.
    """
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if len(entries) == bundle.width:
            raise FormatError(
                f"{bundle.path}: {len(data) - position} bytes after its {bundle.width} entries"
            )
        if position + 2 > len(data):
            raise FormatError(f"{bundle.path}: truncated length of entry {len(entries)}")
        length = int.from_bytes(data[position : position + 2], "big")
        end = position + 2 + length
        if end > len(data):
            raise FormatError(
                f"{bundle.path}: entry {bundle.start + len(entries)} claims {length} bytes "
                f"but only {len(data) - position - 2} remain"
            )
        entries.append(data[position + 2 : end])
        position = end
    if len(entries) != bundle.width:
        raise FormatError(f"{bundle.path}: {len(entries)} entries, expected {bundle.width}")
    return entries


class TileBuilder:
    """Builds the hash tiles of a growing tree from its leaf hashes: O(256 * levels) memory.

    ``append`` returns the full tiles each leaf completes; ``partial_tiles`` the partial ones
    at the current size. Used to check a served tree against the entries it claims to hold.
    """

    def __init__(self) -> None:
        """Start with an empty tree."""
        self._size = 0
        self._pending: list[list[bytes]] = [[]]  # per level, the hashes of its partial tile

    @classmethod
    def resume(cls, size: int, pending: Sequence[Sequence[bytes]]) -> TileBuilder:
        """Continue a tree of ``size`` entries from the hashes of its partial tiles.

        Args:
            size: the tree size.
            pending: for each level from 0, the hashes of the level's partial tile at
                ``size`` (empty where the level has none), up to the highest level.

        Raises:
            UsageError: the counts do not match ``size``.
        """
        builder = cls()
        levels = 0
        while size >> (TILE_HEIGHT * levels):
            levels += 1
        if len(pending) != max(levels, 1):
            raise UsageError(f"a tree of {size} entries has {levels} tile levels")
        for level, hashes in enumerate(pending):
            expected = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            if len(hashes) != expected:
                raise UsageError(f"level {level} of size {size} has {expected} pending hashes")
        builder._size = size
        builder._pending = [list(hashes) for hashes in pending]
        return builder

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[HashTile, bytes]]:
        """Add the next leaf hash.

        Returns:
            The full tiles this leaf completed, lowest level first, with their bytes.
        """
        done: list[tuple[HashTile, bytes]] = []
        value, level = leaf_hash, 0
        self._size += 1
        while True:
            if level == len(self._pending):
                self._pending.append([])
            pending = self._pending[level]
            pending.append(value)
            if len(pending) < TILE_WIDTH:
                return done
            index = (self._size >> (TILE_HEIGHT * (level + 1))) - 1
            done.append((HashTile(level, index), encode_tile(pending)))
            value = fold_hashes(pending)
            self._pending[level] = []
            level += 1

    def partial_tiles(self) -> list[tuple[HashTile, bytes]]:
        """The partial tiles of the tree at its current size, with their bytes."""
        out: list[tuple[HashTile, bytes]] = []
        for level, pending in enumerate(self._pending):
            if pending:
                index = self._size >> (TILE_HEIGHT * (level + 1))
                out.append((HashTile(level, index, len(pending)), encode_tile(pending)))
        return out

    def root(self) -> bytes:
        """RFC 9162 root of the tree so far."""
        return CompactRange(self._size, list(_compact_hashes(self._pending))).root()


def _compact_hashes(pending: Sequence[Sequence[bytes]]) -> Iterator[bytes]:
    """The perfect-subtree hashes of a tree, largest first, from its partial tiles' hashes.

    The bits of the size, high to low, are the partial tiles' widths from the top level
    down; each set bit r of a width is one perfect subtree of 2**r of that level's hashes.
    """
    for hashes in reversed(pending):
        start = 0
        for bit in reversed(range(TILE_HEIGHT)):
            if len(hashes) >> bit & 1:
                yield fold_hashes(hashes[start : start + (1 << bit)])
                start += 1 << bit
