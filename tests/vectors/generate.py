"""Generate the language-neutral test vectors of docs/format.md, or check that they are current.

    python tests/vectors/generate.py            # rewrite tests/vectors/*.json
    python tests/vectors/generate.py --check    # exit 1 if a committed file differs
    python tests/vectors/generate.py --snippet endorsement.json /valid/0/payload_hex
                                                # print a value as docs/format.md shows it

Every byte string is lowercase hex in a field whose name ends in ``_hex``; checkpoints.json also
holds line-based texts (signed notes, proofs, requests, policies) as JSON strings, whose UTF-8
encoding is the value. Keys come from public seeds (SHA-256 of "endorsement-ledger test vector
key: <label>"), times are fixed, and Ed25519 signatures are deterministic, so the files are the
same on every run.

Two sources agree on each valid vector: the ``ledger`` library produces it, and the generator
builds the same bytes again with its own small CBOR encoder (``gen_cbor``) and its own key id
and fingerprint arithmetic (``gen_common``); generation stops if they differ. Negative vectors
are mutations built with that encoder, re-signed where the mutation is inside the signed bytes,
so each breaks one rule. Their expected error class, message substring and (for ledgers)
failing checks are written by hand in the ``gen_*`` modules from docs/format.md, and generation
also stops if the library disagrees: a vector file never records behaviour nobody intended.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the gen_* modules live beside this file
    sys.path.insert(0, str(HERE))

import gen_canonical_text  # noqa: E402
import gen_checkpoints  # noqa: E402
import gen_endorsement  # noqa: E402
import gen_entries  # noqa: E402
import gen_keys  # noqa: E402
import gen_ledger  # noqa: E402
import gen_lifecycle  # noqa: E402
from gen_cbor import diagnostic  # noqa: E402
from gen_common import GENERATOR, GenerationError, Json  # noqa: E402

__all__ = ["BUILDERS", "diagnostic", "differences", "main", "render_all", "resolve", "snippet"]

BUILDERS: dict[str, Callable[[], Json]] = {
    "canonical-text.json": gen_canonical_text.build,
    "keys.json": gen_keys.build,
    "endorsement.json": gen_endorsement.build,
    "entries.json": gen_entries.build,
    "ledger-small.json": gen_ledger.build,
    "checkpoints.json": gen_checkpoints.build,
    "lifecycle.json": gen_lifecycle.build,
}


def render(document: Json) -> str:
    """The file text: 2-space indented JSON, ASCII only, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def render_all() -> dict[str, str]:
    """Every vector file's name and text, built in memory."""
    return {name: render(build()) for name, build in BUILDERS.items()}


def differences(directory: Path = HERE) -> list[str]:
    """What differs between freshly generated vectors and the JSON files in ``directory``."""
    found = []
    fresh = render_all()
    for name, text in fresh.items():
        path = directory / name
        if not path.exists():
            found.append(f"{name}: missing")
            continue
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            diff = list(
                difflib.unified_diff(
                    committed.splitlines(),
                    text.splitlines(),
                    f"{name} (committed)",
                    f"{name} (generated)",
                    n=0,
                    lineterm="",
                )
            )
            changed = sum(1 for line in diff[2:] if line[:1] in "+-")
            found.append(f"{name}: {changed} lines differ\n" + "\n".join(diff[:12]))
    found.extend(
        f"{path.name}: not produced by the generator"
        for path in sorted(directory.glob("*.json"))
        if path.name not in fresh
    )
    return found


def resolve(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer."""
    value = document
    for token in pointer.split("/")[1:] if pointer else []:
        key = token.replace("~1", "/").replace("~0", "~")
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def snippet(value: Any, width: int = 64) -> str:
    """How docs/format.md shows a value: hex wrapped at 64 digits, a list one item per line.

    An object, or a list holding objects or lists, is shown as JSON (2-space indent, UTF-8).
    """
    if isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(item, dict | list) for item in value)
    ):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, list):
        return "\n".join(snippet(item, width) for item in value)
    text = str(value)
    if text and all(c in "0123456789abcdef" for c in text):
        return "\n".join(text[i : i + width] for i in range(0, len(text), width))
    return text


def main(argv: Iterable[str] | None = None) -> int:
    """Write the vector files; with --check, compare instead; with --snippet, print a value."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare; do not write")
    parser.add_argument(
        "--snippet",
        nargs=2,
        metavar=("FILE", "POINTER"),
        help="print the value at an RFC 6901 pointer as docs/format.md shows it",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        if args.snippet:
            file_name, pointer = args.snippet
            print(snippet(resolve(BUILDERS[file_name](), pointer)))
            return 0
        if args.check:
            found = differences()
            for line in found:
                print(line)
            if found:
                print(f"tests/vectors is out of date: run python {GENERATOR}")
                return 1
            print("tests/vectors is current")
            return 0
        for name, text in render_all().items():
            (HERE / name).write_text(text, encoding="utf-8", newline="\n")
    except GenerationError as exc:
        print(f"generate.py: error: the library disagrees with a vector: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(BUILDERS)} files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
