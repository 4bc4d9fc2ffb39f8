"""Module archive (.tar.gz in TF Hub's compressed layout + .sha256), catalog entry, model card."""
from pathlib import Path

from ganhub.catalog import describe_weights, format_penalty, format_z
from ganhub.hub import archive


def package(module_dir, archive_path=None):
    """Write ``<module_dir>.tar.gz`` (or ``archive_path``) and its ``.sha256``; return
    (archive_path, sha256, size)."""
    module_dir = Path(module_dir)
    archive_path = Path(archive_path) if archive_path else module_dir.with_name(module_dir.name + ".tar.gz")
    sha256 = archive.pack(module_dir, archive_path)
    return archive_path, sha256, archive_path.stat().st_size


def catalog_entry(metadata, handle, sha256, size):
    """A catalog entry (ganhub/catalog.py schema) for a packaged module."""
    return {
        "name": metadata["name"],
        "handle": handle,
        "sha256": sha256,
        "size": size,
        "format": "tf2-savedmodel",
        "signature": metadata["signature"],
        "architecture": metadata["architecture"],
        "loss": metadata["loss"],
        "penalty": metadata["penalty"],
        "normalization": metadata["normalization"],
        "dataset": metadata["dataset"].get("name"),
        "image_shape": metadata["image_shape"],
        "z": {"dim": metadata["z_dim"], "distribution": metadata["z_distribution"], "batch_size": None},
        "scores": metadata["scores"],
        "metadata": metadata,
    }


def model_card(metadata, handle=None):
    """A short Markdown model card. ``handle``: the absolute path (or URL) of the archive, for a
    load line that works from any folder (a bare name only resolves catalog entries, and a
    relative path only from the folder it is relative to)."""
    t = metadata["training"]
    lines = [
        f"# {metadata['name']}",
        "",
        f"{metadata['architecture']} generator (width {metadata.get('width', 1.0)}) trained on "
        f"{metadata['dataset'].get('name')} ({metadata['dataset'].get('split')} split) with the "
        f"{metadata['loss']} loss, penalty {format_penalty(metadata['penalty'])}, discriminator "
        f"normalization {metadata['normalization']['discriminator']}.",
        "",
        f"- z: {format_z({'dim': metadata['z_dim'], 'distribution': metadata['z_distribution']})}",
        f"- images: {metadata['image_shape']} float32 in [0, 1]",
        f"- training: {t['steps']} D steps, disc_iters {t['disc_iters']}, batch {t['batch_size']}, "
        f"Adam lr {t['learning_rate']} ({t.get('lr_schedule', 'constant')}) betas "
        f"({t['beta1']}, {t['beta2']}), seed {t['seed']}, "
        f"{t['wall_time_seconds']} s, TensorFlow {t['tensorflow_version']}",
        f"- weights: {describe_weights(t.get('generator_weights') or {'kind': 'raw'})}",
        "",
        "## Scores",
        "",
    ]
    if metadata["scores"]:
        from ganhub.metrics.evaluation import summarize_protocol
        for metric, score in sorted(metadata["scores"].items()):
            if isinstance(score, dict):
                std = f" ± {score['std']:.4g}" if "std" in score else ""
                lines.append(f"- {metric}: {score.get('value'):.4g}{std} "
                             f"({summarize_protocol(score.get('protocol'))})")
            else:
                lines.append(f"- {metric}: {score}")
    else:
        lines.append("Not measured yet.")
    if handle is not None:
        load = [f"g = ganhub.load({str(handle)!r})"]
    else:
        load = ["# the absolute path or URL of this module's .tar.gz (or its folder)",
                f"g = ganhub.load('/path/to/{metadata['name']}.tar.gz')"]
    lines += ["", "## Use", "", "```python", "import ganhub", *load,
              "images = g.sample(16, seed=0)  # uint8 [16, H, W, C]", "```", ""]
    return "\n".join(lines)
