"""Module archive (.tar.gz in TF Hub's compressed layout + .sha256) and model card."""
import gzip
import os
import tarfile
from pathlib import Path

from ganhub import fileio
from ganhub.describe import describe_weights, format_penalty, format_z, summarize_protocol
from ganhub.errors import InvalidModuleError
from ganhub.module_format import is_saved_model_dir


def package(module_dir, archive_path=None):
    """Write ``<module_dir>.tar.gz`` (or ``archive_path``) and its ``.sha256``; return
    (archive_path, sha256, size)."""
    module_dir = Path(module_dir)
    archive_path = Path(archive_path) if archive_path else module_dir.with_name(module_dir.name + ".tar.gz")
    sha256 = pack(module_dir, archive_path)
    return archive_path, sha256, archive_path.stat().st_size


def _tarinfo(name, *, size=0, directory=False):
    """A member header with nothing from the machine that packed it: mtime 0, owner 0/0 with no
    names, fixed permissions."""
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = 0o644
    return info


def _walk_sorted(root):
    """(relative posix path, path, is_dir) for everything below ``root`` in a fixed order; a
    symlink anywhere is refused (an archive of it would not extract, and it may point anywhere)."""
    items = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                raise InvalidModuleError(f"{path} is a symbolic link; a module folder to pack must "
                                         f"hold only plain files and folders")
            if not (path.is_dir() or path.is_file()):
                raise InvalidModuleError(f"{path} is neither a file nor a folder; cannot pack it")
        items.extend((Path(dirpath) / n).relative_to(root).as_posix() for n in dirnames + filenames)
    return sorted(items)


def pack(saved_model_dir, archive_path):
    """Write ``archive_path`` (.tar.gz, members at the root) and ``archive_path.sha256``; return
    the sha256.

    Reproducible: the same folder contents always give the same bytes (sorted members, mtime 0,
    owner 0/0 without names, fixed modes, a gzip header with mtime 0 and no file name).
    """
    saved_model_dir = Path(saved_model_dir)
    if not is_saved_model_dir(saved_model_dir):
        raise InvalidModuleError(f"{saved_model_dir} is not a SavedModel directory (no saved_model.pb)")
    archive_path = Path(archive_path)
    names = _walk_sorted(saved_model_dir)
    tmp = archive_path.with_name(f".{archive_path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in names:
                path = saved_model_dir / rel
                if path.is_dir():
                    tar.addfile(_tarinfo(rel, directory=True))
                else:
                    with open(path, "rb") as fh:
                        size = os.fstat(fh.fileno()).st_size
                        tar.addfile(_tarinfo(rel, size=size), fh)
        digest = fileio.sha256_file(tmp)
        os.replace(tmp, archive_path)
    except BaseException:  # an error or Ctrl-C: leave no half-written temp file behind
        tmp.unlink(missing_ok=True)
        raise
    fileio.write_text_atomic(f"{archive_path}.sha256", f"{digest}  {archive_path.name}\n")
    return digest


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
