"""The import-layer rule (DESIGN §4): a module imports only from layers below it.

Pure core first (no I/O), then recipes, storage at the edge, and the CLI on top, importing only
the public ``ledger`` package. Checked from the source text, so a new import that breaks the
layering fails here before it becomes a cycle or drags I/O into the core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "ledger"

# Lower number = lower layer. A module may import modules of a strictly lower layer only.
LAYERS: dict[str, int] = {
    "ledger.errors": 0,
    "ledger.timefmt": 0,
    "ledger.progress": 0,
    "ledger.statement": 1,
    "ledger.names": 1,
    "ledger.merkle": 1,
    "ledger.codec": 1,
    "ledger.model": 1,
    "ledger.lookalike": 1,
    "ledger.keys": 2,
    "ledger.payload": 2,
    "ledger.findings": 2,
    "ledger.cose": 3,
    "ledger.entry": 3,
    "ledger.note": 3,
    "ledger.lifecycle": 4,
    "ledger.examine": 4,
    "ledger.actions": 4,
    "ledger.policy": 4,
    "ledger.proofs": 5,
    "ledger.witness": 5,
    "ledger.roster": 5,
    "ledger.tiles": 5,
    "ledger.binding": 5,
    "ledger.verify": 6,
    "ledger.inspect": 6,
    "ledger.anchors": 7,
    "ledger.render": 7,
    "ledger.html": 8,
    "ledger.keyfile": 9,
    "ledger.bundle_views": 9,
    "ledger.store.base": 9,
    "ledger.store.state": 9,
    "ledger.store.nodecache": 9,
    "ledger.store.scratch": 10,
    "ledger.store.sqlite": 10,
    "ledger.publish_state": 11,
    "ledger.store": 11,
    "ledger.witness_state": 11,
    "ledger.binding_fetch": 11,
    "ledger.binding_store": 11,
    "ledger.campaign": 12,
    "ledger.parallel": 12,
    "ledger.audit": 13,
    "ledger.history": 13,
    "ledger.changes": 14,
    "ledger.bundle_read": 14,
    "ledger.bundle": 15,
    "ledger": 20,
}
PURE = {name for name, layer in LAYERS.items() if layer <= 8}
IO_MODULES = {
    "os",
    "sqlite3",
    "pathlib",
    "socket",
    "urllib.request",
    "http",
    "subprocess",
    "shutil",
    "tempfile",
    "io",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                # `from ledger import codec` imports the module ledger.codec, not the package.
                submodule = node.module == "ledger" and (SRC / f"{alias.name}.py").exists()
                found.add(f"ledger.{alias.name}" if submodule else node.module)
    return found


def _layer_of(name: str) -> int | None:
    while name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return None


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = [_module_name(p) for p in MODULES if _module_name(p) not in LAYERS]
    assert not missing, f"add these modules to LAYERS: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_imports_only_lower_layers(path: Path) -> None:
    name = _module_name(path)
    own = LAYERS[name]
    for imported in _imports(path):
        if not imported.startswith("ledger"):
            continue
        layer = _layer_of(imported)
        assert layer is not None, f"{name} imports unknown module {imported}"
        assert layer < own, f"{name} (layer {own}) imports {imported} (layer {layer})"


@pytest.mark.parametrize("path", [p for p in MODULES if _module_name(p) in PURE], ids=_module_name)
def test_pure_core_does_no_io(path: Path) -> None:
    used = {
        io
        for imported in _imports(path)
        for io in IO_MODULES
        if imported == io or imported.startswith(f"{io}.")
    }
    assert not used, f"{_module_name(path)} imports {used}"


@pytest.mark.parametrize("path", sorted((ROOT / "cli").glob("*.py")), ids=lambda p: p.name)
def test_cli_uses_only_the_public_api(path: Path) -> None:
    for imported in _imports(path):
        if imported.startswith("ledger"):
            assert imported == "ledger", f"cli/{path.name} imports {imported}; use `ledger`"
