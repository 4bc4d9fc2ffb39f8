"""Export a trained generator as a TF Hub SavedModel module with metadata and an archive."""
from pathlib import Path

from ganhub.module_format import validate

# Files an archived export writes next to OUT.
SIBLING_SUFFIXES = (".tar.gz", ".tar.gz.sha256", ".md")


def export_module(model_dir, out_dir, name=None, overwrite=False, archive=True, checkpoint=None,
                  script=None, scores=None, weights="auto"):
    """Export the latest (or given) checkpoint of ``model_dir`` to the SavedModel ``out_dir``.

    With ``archive``, also writes ``out_dir``.tar.gz, its .sha256 and a model card ``out_dir``.md
    (each via a temp file and a rename). With ``overwrite`` and no ``archive``, any existing
    ``out_dir``.tar.gz, .tar.gz.sha256 and .md are deleted once the new module is in place: they
    belong to the replaced export and would describe other weights.
    ``script`` (the command that trained the model, for anyone to rerun) goes into the metadata.
    ``scores``: an evaluation of these same weights (dict or `ganhub evaluate --json` file), written
    into the metadata's ``scores`` (see export.scores).
    ``weights``: "auto", "ema" or "raw" (training.load_generator); the metadata records which.
    Returns a dict: path, metadata, and (with archive) archive, sha256, size.
    """
    from ganhub.export import metadata as meta_lib
    from ganhub.export.package import model_card, package
    from ganhub.export.savedmodel import write_savedmodel
    from ganhub.fileio import write_text_atomic
    from ganhub.training import load_generator

    out_dir = Path(out_dir)
    config, generator, state = load_generator(model_dir, checkpoint, weights=weights)
    metadata = meta_lib.build(config, state, name or out_dir.name, generator.export_spec())
    if script:
        metadata["training"]["script"] = script
    if scores is not None:
        from ganhub.export.scores import scores_from_evaluation
        metadata["scores"] = scores_from_evaluation(scores, metadata)
    validate(metadata)
    write_savedmodel(generator, metadata, out_dir, overwrite=overwrite)
    result = {"path": out_dir, "metadata": metadata}
    if archive:
        archive_path, sha256, size = package(out_dir)
        write_text_atomic(out_dir.with_name(out_dir.name + ".md"),
                          model_card(metadata, handle=archive_path.resolve()))
        result.update(archive=archive_path, sha256=sha256, size=size)
    elif overwrite:
        for suffix in SIBLING_SUFFIXES:
            out_dir.with_name(out_dir.name + suffix).unlink(missing_ok=True)
    return result


__all__ = ["export_module", "validate"]
