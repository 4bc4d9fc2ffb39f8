"""Install hygiene and one-way layers, checked on the source and on a built wheel."""
import ast
import pathlib
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The repository's top-level folders and the names they install under.
PACKAGE_ROOTS = {"ganhub": "ganhub", "training": "ganhub.training", "export": "ganhub.export"}


def _modules():
    for folder, installed in PACKAGE_ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            parts[0] = installed
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _imports(path):
    """Absolute ganhub imports of a file, as (line, name) with `from a import b` giving 'a.b'."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def test_no_bare_training_or_export_imports():
    """Code and tests import the installed names (ganhub.training, ganhub.export), never the
    repository folders, which would shadow or be shadowed by a user's own training.py."""
    files = [p for _, p in _modules()] + sorted((REPO / "tests").rglob("*.py")) \
        + sorted((REPO / "scripts").rglob("*.py")) + sorted((REPO / "benchmarks").rglob("*.py"))
    bad = [f"{p.relative_to(REPO)}:{line}: {name}" for p in files for line, name in _imports(p)
           if name.split(".")[0] in ("training", "export")]
    assert not bad, "bare imports:\n" + "\n".join(bad)


@pytest.mark.slow
def test_wheel_installs_only_ganhub(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=600)
    wheel, = tmp_path.glob("ganhub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"ganhub"}
    # Every Python file of the three folders is in the wheel under its installed name.
    expected = {str(p.relative_to(REPO)).replace("training/", "ganhub/training/", 1)
                if p.relative_to(REPO).parts[0] == "training"
                else str(p.relative_to(REPO)).replace("export/", "ganhub/export/", 1)
                if p.relative_to(REPO).parts[0] == "export" else str(p.relative_to(REPO))
                for _, p in _modules()}
    assert expected <= set(names), sorted(expected - set(names))
    for data in ("ganhub/catalogs/builtin.json", "ganhub/models/default/saved_model.pb",
                 "ganhub/models/default/assets/ganhub.json"):
        assert data in names


def test_importing_ganhub_changes_no_process_state():
    """A library import sets no environment variable (TF_CPP_MIN_LOG_LEVEL was set for the whole
    process) and imports no TensorFlow; building models does not reset the global TF seed."""
    code = ("import os, sys; before = dict(os.environ); import ganhub, ganhub.training, "
            "ganhub.training.config, ganhub.catalog; assert dict(os.environ) == before, "
            "set(os.environ.items()) ^ set(before.items()); "
            "assert 'tensorflow' not in sys.modules")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env)
