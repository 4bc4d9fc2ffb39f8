"""A package function named like one of its submodules is replaced by that module once the submodule
is imported; ganhub.metrics.evaluate and ganhub.hub.resolve must stay functions however often called."""
import subprocess
import sys

CHECK = """
import types
import ganhub.metrics, ganhub.hub
import ganhub.metrics.evaluation, ganhub.hub.resolver  # what each call imports lazily
for _ in range(2):
    from ganhub.metrics import evaluate
    from ganhub.hub import resolve
    assert callable(evaluate) and not isinstance(evaluate, types.ModuleType), evaluate
    assert callable(resolve) and not isinstance(resolve, types.ModuleType), resolve
    assert callable(ganhub.evaluate) and callable(ganhub.load)
print("ok")
"""


def test_package_functions_are_not_shadowed_by_submodules():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_importing_every_submodule_leaves_the_public_functions_in_place():
    # inception_score and ms_ssim share their module's name but are imported eagerly by
    # ganhub.metrics, so the function is bound last; a lazily imported namesake would win.
    code = """
import importlib, pkgutil, types
import ganhub, ganhub.hub, ganhub.metrics
for package in (ganhub.hub, ganhub.metrics):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(package.__name__ + "." + info.name)
    for name in getattr(package, "__all__", ["resolve"]):
        assert not isinstance(getattr(package, name), types.ModuleType), (package.__name__, name)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
