"""A trained generator → TF2 SavedModel: ``serving_default`` maps z [None, z_dim] float32 to
{"images": [None, H, W, C] float32 in [0, 1]} with the generator in inference mode (BN moving
averages), plus a ``__call__`` for ``hub.KerasLayer`` and ``assets/ganhub.json``."""
import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from ganhub import settings
from ganhub.errors import GanhubError


def _serving_root(generator, z_dim, metadata_file):
    # AutoTrackable, not tf.Module: the reusable-SavedModel attributes hub.KerasLayer reads
    # (variables, trainable_variables, regularization_losses) must be plain saved attributes.
    root = tf.__internal__.tracking.AutoTrackable()
    root.generator = generator
    root.variables = list(generator.variables)
    root.trainable_variables = list(generator.trainable_variables)
    root.regularization_losses = []
    root.metadata = tf.saved_model.Asset(str(metadata_file))
    spec = tf.TensorSpec([None, z_dim], tf.float32, name=settings.INPUT_KEY)

    @tf.function(input_signature=[spec])
    def call(z):
        return generator(z, training=False)

    @tf.function(input_signature=[spec])
    def serve(z):
        return {settings.OUTPUT_KEY: call(z)}

    root.__call__ = call
    return root, serve


def write_savedmodel(generator, metadata, out_dir, overwrite=False):
    """Write the SavedModel to ``out_dir`` atomically: built in a sibling temp dir, then renamed.

    With ``overwrite``, the previous ``out_dir`` is moved aside first and deleted only once the new
    one is in place; on any error or interrupt in between it is moved back.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise GanhubError(f"{out_dir} already exists; pass --overwrite (overwrite=True) to replace it")
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    old = staging / "old"
    keep_staging = False
    try:
        meta_dir = staging / "meta"
        meta_dir.mkdir()
        meta_file = meta_dir / settings.METADATA_ASSET
        meta_file.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        module_dir = staging / "module"
        # Traced as graphs even when the caller runs tf.functions eagerly (tests, debugging):
        # saved that way, the variables' reads land in the module's main graph, which is not the
        # SavedModel that every other export is and which the hub's op scan refuses.
        eager = tf.config.functions_run_eagerly()
        tf.config.run_functions_eagerly(False)
        try:
            root, serve = _serving_root(generator, metadata["z_dim"], meta_file)
            tf.saved_model.save(root, str(module_dir), signatures={settings.SIGNATURE_KEY: serve})
        finally:
            tf.config.run_functions_eagerly(eager)
        try:
            if out_dir.exists():
                os.replace(out_dir, old)
            os.replace(module_dir, out_dir)
        except BaseException:
            # Checked on disk, not with a flag: an interrupt may land just after the first rename.
            if old.exists() and not os.path.lexists(out_dir):
                try:
                    os.replace(old, out_dir)
                except OSError as exc:
                    keep_staging = True
                    raise GanhubError(f"could not replace {out_dir} ({exc}); the previous export "
                                      f"is kept at {old}") from exc
            raise
    finally:
        if not keep_staging:
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir
