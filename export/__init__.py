"""Export a trained generator as a TF Hub SavedModel module with metadata and an archive."""
from pathlib import Path

from export.metadata import validate


def export_module(model_dir, out_dir, name=None, overwrite=False, archive=True, checkpoint=None,
                  script=None, scores=None, weights="auto"):
    """Export the latest (or given) checkpoint of ``model_dir`` to the SavedModel ``out_dir``.

    With ``archive``, also writes ``out_dir``.tar.gz, its .sha256 and a model card ``out_dir``.md.
    ``script`` (the command that trained the model, for anyone to rerun) goes into the metadata.
    ``scores``: an evaluation of these same weights (dict or `ganhub evaluate --json` file), written
    into the metadata's ``scores`` (see export.scores).
    ``weights``: "auto", "ema" or "raw" (training.load_generator); the metadata records which.
    Returns a dict: path, metadata, and (with archive) archive, sha256, size.
    """
    from export import metadata as meta_lib
    from export.package import model_card, package
    from export.savedmodel import write_savedmodel
    from training import load_generator

    out_dir = Path(out_dir)
    config, generator, state = load_generator(model_dir, checkpoint, weights=weights)
    image_shape = (config.resolution, config.resolution, generator.channels)
    metadata = meta_lib.build(config, state, name or out_dir.name, image_shape)
    if script:
        metadata["training"]["script"] = script
    if scores is not None:
        from export.scores import scores_from_evaluation
        metadata["scores"] = scores_from_evaluation(scores, metadata)
    validate(metadata)
    write_savedmodel(generator, metadata, out_dir, overwrite=overwrite)
    result = {"path": out_dir, "metadata": metadata}
    if archive:
        archive_path, sha256, size = package(out_dir)
        out_dir.with_name(out_dir.name + ".md").write_text(model_card(metadata))
        result.update(archive=archive_path, sha256=sha256, size=size)
    return result


__all__ = ["export_module", "validate"]
