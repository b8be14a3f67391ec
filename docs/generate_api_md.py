"""Write docs/api.md from the public API's docstrings, or check that it is current.

    python docs/generate_api_md.py           # rewrite docs/api.md
    python docs/generate_api_md.py --check   # exit 1 if docs/api.md differs

The public API is what ``ledger.__all__`` exports; each name is documented where it is defined.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import ledger

TARGET = Path(__file__).resolve().parent / "api.md"

INTRO = """# Library API reference

Generated from the docstrings by `python docs/generate_api_md.py`; do not edit by hand.
Everything below is importable from the top-level package: `import ledger`. Names not listed here
are internal and may change.
"""


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__ or "(undocumented)")


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def _members(cls: type) -> list[str]:
    parts = []
    for name, member in vars(cls).items():
        if name.startswith("_") or not (
            callable(member) or isinstance(member, property | classmethod)
        ):
            continue
        target = member.__func__ if isinstance(member, classmethod) else member
        if isinstance(member, property):
            parts.append(f"#### `{cls.__name__}.{name}` (property)\n\n{_doc(member)}\n")
        else:
            parts.append(f"#### `{cls.__name__}.{name}{_signature(target)}`\n\n{_doc(target)}\n")
    return parts


def render() -> str:
    """The reference as Markdown, one section per exported name, alphabetical."""
    parts = [INTRO, f"## Package\n\n{_doc(ledger)}\n"]
    for name in sorted(ledger.__all__, key=str.lower):
        obj = getattr(ledger, name)
        if name == "__version__":
            continue
        if inspect.isclass(obj):
            kind = "exception" if issubclass(obj, BaseException) else "class"
            parts.append(f"### `{name}` ({kind})\n\n{_doc(obj)}\n")
            if not issubclass(obj, BaseException):
                parts += _members(obj)
        elif callable(obj):
            parts.append(f"### `{name}{_signature(obj)}`\n\n{_doc(obj)}\n")
    return "\n".join(parts)


def main() -> int:
    """Rewrite, or with --check compare."""
    text = render()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print("docs/api.md is out of date: run python docs/generate_api_md.py")
            return 1
        print("docs/api.md is current")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
