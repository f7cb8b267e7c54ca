"""The package's layers point down, and no module imports itself in a circle.

Read from the source (``ast``), not by importing: every ``import``, ``from`` (relative
ones resolved) and every ``"autoreg.…"`` string naming a module (``importlib`` targets
such as the pretrained registry's ``"module:function"`` builders) is an edge.

- core (``autoreg/*.py``, ``seq``, ``pixelcnn``, ``bench``) imports neither ``autoreg.ui``
  nor ``autoreg.viz``, nor streamlit or plotly. The one exception is the bench's
  reference page, which is a Streamlit app by purpose (the bare page stepping is
  compared with); Streamlit's protobuf messages (``streamlit.proto``) are a wire
  format, not UI, so the bench's protocol client may read and write them;
- ``viz`` builds figures: it imports neither streamlit nor ``autoreg.ui``;
- the import graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_LAYERS = ("ui", "viz")
STREAMLIT_PAGES = {"autoreg.bench.reference_app"}  # a Streamlit app, run by the bench


def modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package)."""
    out = {}
    for path in sorted((ROOT / "autoreg").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def imports_of(name: str, path: Path, is_pkg: bool, known: set[str]) -> set[str]:
    """What the module at ``path`` imports, anywhere in its text (also inside functions)."""
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            target = node.value.partition(":")[0]  # "autoreg.seq.model:build" names a module
            if target in known and target.startswith("autoreg."):
                out.add(target)
    out.discard(name)
    return out


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between autoreg modules, third-party top-level names per module)."""
    mods = modules()
    known = set(mods)
    edges, external = {}, {}
    for name, (path, is_pkg) in mods.items():
        found = imports_of(name, path, is_pkg, known)
        edges[name] = {m for m in found if m in known}
        external[name] = {m.split(".")[0] for m in found if m.split(".")[0] != "autoreg"}
    return edges, external


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in UI_LAYERS) else "core"


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_reader_sees_every_kind_of_import(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "import os\nfrom . import sibling\nfrom ..core import thing\n"
        "def f():\n    import streamlit\n    return 'autoreg.pkg.lazy:build'\n"
    )
    known = {"autoreg.pkg.sub.sibling", "autoreg.pkg.core", "autoreg.pkg.lazy"}
    got = imports_of("autoreg.pkg.sub.m", src, False, known)
    assert {"os", "streamlit", "autoreg.pkg.sub.sibling", "autoreg.pkg.lazy"} <= got
    assert "autoreg.pkg.core" in got


def test_the_graph_covers_the_package():
    edges, _ = graph()
    assert {"autoreg.seq.trace", "autoreg.pixelcnn.data", "autoreg.ui.player"} <= set(edges)
    assert "autoreg.seq.model" in edges["autoreg.seq.trace"]


def _only_protobufs(name: str) -> bool:
    """Whether every streamlit import of module ``name`` is one of its protobuf messages."""
    mods = modules()
    path, is_pkg = mods[name]
    found = imports_of(name, path, is_pkg, set(mods))
    used = [m for m in found if m.split(".")[0] == "streamlit"]
    return bool(used) and all(m.startswith("streamlit.proto.") for m in used)


def test_core_imports_no_ui():
    edges, external = graph()
    wrong = {}
    for name in edges:
        if layer(name) in UI_LAYERS:
            continue
        up = sorted(m for m in edges[name] if layer(m) in UI_LAYERS)
        gui = sorted(external[name] & {"streamlit", "plotly"})
        if name in STREAMLIT_PAGES or (gui == ["streamlit"] and _only_protobufs(name)):
            gui = []
        if up or gui:
            wrong[name] = up + gui
    assert not wrong, f"core modules reach up into the UI: {wrong}"


def test_viz_builds_figures_without_streamlit():
    edges, external = graph()
    wrong = {
        name: sorted(
            {m for m in edges[name] if layer(m) == "ui"} | (external[name] & {"streamlit"})
        )
        for name in edges
        if layer(name) == "viz"
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_no_import_cycles():
    edges, _ = graph()
    assert cycles(edges) == []
