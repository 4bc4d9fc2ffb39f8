"""The module-format contract: what a ganhub module's ``assets/ganhub.json`` holds, checked the same
way by the writer (ganhub.export) and by every reader (ganhub.load, catalogs, ``ganhub serve``).

The exporter writes every key of ``SCHEMA``; a reader accepts a module missing some of them (hand
made or from another tool) but never one whose keys have other types, whose ``image_shape`` is not
[H, W, C], whose scores are not numbers, or whose ``schema_version`` is newer than this ganhub
understands (then the fix is to upgrade ganhub).
"""
import json
import numbers
from pathlib import Path

from ganhub import settings
from ganhub.errors import InvalidModuleError

SCHEMA = {
    "schema_version": int, "name": str, "architecture": str, "loss": str, "penalty": dict,
    "normalization": dict, "z_dim": int, "z_distribution": dict, "image_shape": list,
    "signature": dict, "dataset": dict, "training": dict, "scores": dict, "created": str,
}
# A reader refuses a larger metadata file before parsing it.
MAX_METADATA_BYTES = 4 << 20


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _score_problems(scores):
    problems = []
    for metric, score in scores.items():
        if isinstance(score, dict):
            bad = [k for k in ("value", "std") if score.get(k) is not None and not _is_number(score[k])]
            if bad:
                problems.append(f"score {metric!r} has a non-numeric {bad[0]!r}")
        elif score is not None and not _is_number(score):
            problems.append(f"score {metric!r} must be a number or an object, not "
                            f"{type(score).__name__}")
    return problems


def problems(metadata, *, complete=True):
    """Every way ``metadata`` breaks the schema (missing keys only when ``complete``)."""
    if not isinstance(metadata, dict):
        return [f"expected a JSON object, not {type(metadata).__name__}"]
    found = []
    for key, kind in SCHEMA.items():
        if key not in metadata or metadata[key] is None:
            if complete:
                found.append(f"missing {key!r}")
        elif not isinstance(metadata[key], kind) or isinstance(metadata[key], bool):
            found.append(f"{key!r} should be {kind.__name__}, got {type(metadata[key]).__name__}")
    shape = metadata.get("image_shape")
    if isinstance(shape, list) and not (len(shape) == 3 and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        found.append(f"'image_shape' should be [H, W, C] of positive integers, got {shape!r:.80}")
    if isinstance(metadata.get("scores"), dict):
        found += _score_problems(metadata["scores"])
    version = metadata.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) \
            and version > settings.METADATA_SCHEMA_VERSION:
        found.append(f"schema_version {version} is newer than this ganhub understands "
                     f"({settings.METADATA_SCHEMA_VERSION}); upgrade ganhub (pip install -U ganhub)")
    return found


def validate(metadata, where="metadata", *, complete=True):
    """``metadata``, or InvalidModuleError naming every problem (``complete``: the writer's check,
    every key present; readers pass False)."""
    found = problems(metadata, complete=complete)
    if found:
        raise InvalidModuleError(f"{where}: " + "; ".join(found))
    return metadata


def metadata_path(module_dir):
    return Path(module_dir) / "assets" / settings.METADATA_ASSET


def read_metadata(module_dir):
    """The checked ``assets/ganhub.json`` of a module directory, or {} when it has none (TF1 Hub
    modules such as compare_gan's carry no ganhub metadata)."""
    path = metadata_path(module_dir)
    try:
        if not path.exists():
            return {}
        size = path.stat().st_size
        text = path.read_text(encoding="utf-8") if size <= MAX_METADATA_BYTES else None
        metadata = json.loads(text) if text is not None else None
    except (OSError, ValueError) as exc:
        raise InvalidModuleError(f"{path} is not readable JSON ({exc}); re-export the module") from None
    if text is None:
        raise InvalidModuleError(f"{path} is larger than {MAX_METADATA_BYTES} bytes; "
                                 f"re-export the module")
    return validate(metadata, str(path), complete=False)


# A module is a SavedModel directory (its archive: the directory's contents at the root, as
# tensorflow_hub's compressed format expects; written by ganhub.export.package.pack).
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_saved_model_dir(path):
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in SAVED_MODEL_FILES)
