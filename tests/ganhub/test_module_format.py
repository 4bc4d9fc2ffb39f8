"""The module-format contract: one schema, checked by the writer (complete) and every reader."""
import json

import pytest

from ganhub import module_format, settings
from ganhub.catalog import CatalogError, check_metadata
from ganhub.errors import InvalidModuleError
from ganhub.export import validate as export_validate


def _shipped():
    return json.loads(module_format.metadata_path(settings.DEFAULT_MODEL_DIR).read_text())


def test_the_shipped_module_passes_the_writers_check():
    assert module_format.validate(_shipped()) == _shipped()
    assert export_validate is module_format.validate


@pytest.mark.parametrize("change, words", [
    ({"z_dim": "128"}, "'z_dim' should be int"),
    ({"z_dim": True}, "'z_dim' should be int"),
    ({"image_shape": [32, 32]}, "[H, W, C]"),
    ({"image_shape": [32, -1, 1]}, "[H, W, C]"),
    ({"scores": {"fid": {"value": "low"}}}, "non-numeric 'value'"),
    ({"scores": {"fid": [1, 2]}}, "must be a number or an object"),
    ({"penalty": "none"}, "'penalty' should be dict"),
    ({"schema_version": settings.METADATA_SCHEMA_VERSION + 1}, "upgrade ganhub"),
])
def test_readers_and_writer_refuse_the_same_problems(tmp_path, change, words):
    meta = {**_shipped(), **change}
    for complete in (True, False):
        with pytest.raises(InvalidModuleError, match=words.replace("[", r"\[").replace("]", r"\]")):
            module_format.validate(meta, complete=complete)
    with pytest.raises(CatalogError, match=words.replace("[", r"\[").replace("]", r"\]")):
        check_metadata(meta)
    module = tmp_path / "m"
    module_format.metadata_path(module).parent.mkdir(parents=True)
    module_format.metadata_path(module).write_text(json.dumps(meta))
    with pytest.raises(InvalidModuleError, match="upgrade ganhub" if "upgrade" in words else "ganhub.json"):
        module_format.read_metadata(module)


def test_a_reader_accepts_missing_keys_the_writer_requires(tmp_path):
    partial = {"name": "hand-made", "z_dim": 8}
    assert module_format.validate(partial, complete=False) == partial
    with pytest.raises(InvalidModuleError, match="missing 'architecture'"):
        module_format.validate(partial)
    assert module_format.read_metadata(tmp_path) == {}   # no metadata: a TF1 Hub module


def test_unreadable_or_huge_metadata_is_an_invalid_module(tmp_path, monkeypatch):
    path = module_format.metadata_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(InvalidModuleError, match="not readable JSON"):
        module_format.read_metadata(tmp_path)
    monkeypatch.setattr(module_format, "MAX_METADATA_BYTES", 10)
    path.write_text(json.dumps({"name": "a-long-enough-name"}))
    with pytest.raises(InvalidModuleError, match="larger than 10 bytes"):
        module_format.read_metadata(tmp_path)


def test_catalog_reference_resize_modes_are_the_metrics_resize_modes():
    """The catalog checks reference entries without importing metrics (layers); its list of
    resize modes must still be the one ganhub.metrics.resize implements."""
    from ganhub.catalog import REFERENCE_RESIZE_MODES
    from ganhub.metrics.resize import RESIZE_MODES
    assert REFERENCE_RESIZE_MODES == RESIZE_MODES
