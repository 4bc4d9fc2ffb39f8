"""Imports flow one way, bottom to top (README "How it is built"; layout.md):

    core      errors, settings, fileio, images, module_format (the metadata contract); the
              package's __init__ imports only these at
              module level (its API functions import the layers above when called)
    data      readers for every data set (ganhub.training.data, .tfrecord)
    training  ganhub.training
    export    ganhub.export
    hub, metrics  ganhub.hub, ganhub.metrics, generator, catalog (the module-format contract)
    study     ganhub.study
    cli       ganhub.cli, ganhub.__main__

A module may import its own layer and the layers below, never above; and no two modules import
each other (directly or through others), at module level or inside functions.
"""
import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
ROOTS = {"ganhub": "ganhub", "training": "ganhub.training", "export": "ganhub.export"}

LAYERS = [
    ("core", ("ganhub.errors", "ganhub.settings", "ganhub.fileio", "ganhub.images", "ganhub.describe",
              "ganhub.module_format")),
    ("data", ("ganhub.training.data", "ganhub.training.tfrecord")),
    ("training", ("ganhub.training",)),
    ("export", ("ganhub.export",)),
    ("hub/metrics", ("ganhub.hub", "ganhub.metrics", "ganhub.generator", "ganhub.catalog",
                     "ganhub.latent", "ganhub.walks")),
    ("study", ("ganhub.study",)),
    ("cli", ("ganhub.cli", "ganhub.__main__", "ganhub.study.__main__")),
]


def _modules():
    mods = {}
    for folder, installed in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([installed, *parts])] = path
    return mods


MODULES = _modules()


def _resolve(name):
    """The module an import names: `from a.b import c` is a.b.c if that is a module, else a.b."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(path, module_level_only=False):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "ganhub":
                yield node.lineno, _resolve(name)


def _layer(module):
    if module == "ganhub":  # the package's __init__: see the module docstring
        return 0
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_imports_flow_one_way():
    upward = []
    for module, path in sorted(MODULES.items()):
        for line, target in _imports(path, module_level_only=module == "ganhub"):
            if target and target != module and _layer(target) > _layer(module):
                upward.append(f"{path.relative_to(REPO)}:{line}: {module} ({LAYERS[_layer(module)][0]})"
                              f" imports {target} ({LAYERS[_layer(target)][0]})")
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = {m: {t for _, t in _imports(p) if t and t != m} for m, p in MODULES.items()}
    # A package importing its own submodules (re-exports) is not a cycle of jobs.
    for m in graph:
        graph[m] = {t for t in graph[m] if not t.startswith(m + ".")}
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join(trail + [start]))
                elif nxt not in seen and nxt in graph:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_every_error_is_declared_in_errors_py_and_is_a_ganhub_error():
    """Typed errors live in one file (ganhub/errors.py), all derived from GanhubError."""
    import inspect

    from ganhub import errors
    elsewhere = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error") and module != "ganhub.errors":
                elsewhere.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name}")
    assert not elsewhere, "errors declared outside ganhub/errors.py:\n" + "\n".join(elsewhere)
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) > 10 and all(issubclass(c, errors.GanhubError) for c in classes)
