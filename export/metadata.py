"""The module metadata (``assets/ganhub.json``) an export writes; its schema and validation are the
module-format contract in ganhub.module_format, shared with every reader."""
import datetime

from ganhub import __version__, settings
from ganhub.module_format import validate  # noqa: F401  (export.validate, the writer's check)
from ganhub.training.data import dataset_info

def lr_schedule(config):
    """The learning-rate schedule in words (training/optim.py has the formula)."""
    if config.lr_decay == "none":
        return "constant"
    return f"{config.lr_decay} decay from D step {config.lr_decay_start} to {config.steps}"


def reference_of(config):
    """The reference a module of ``config`` is compared with: the data name ganhub.metrics.data
    reads its data set by (at the training resolution), the test split, the study's count."""
    info = dataset_info(config.dataset)
    return {"dataset": info.reference_name(config.resolution), "split": "test",
            "num_samples": info.reference_count}


def build(config, state, name, spec):
    """Metadata for a generator trained with ``config`` (training.Config) to ``state``
    (training.load_generator's dict: step, wall_time, tensorflow, dataset provenance). What the
    module's signature means (z, image shape, output range, G's normalization) comes only from
    ``spec``, the generator's ``export_spec()`` (training/architectures/interface.py)."""
    dataset = dict(state.get("dataset") or {"name": config.dataset})
    dataset.setdefault("split", "train")
    return {
        "schema_version": settings.METADATA_SCHEMA_VERSION,
        "name": name,
        "architecture": config.architecture,
        "width": config.width,
        "loss": config.loss,
        "penalty": {"type": config.penalty, "lambda": config.penalty_lambda},
        "normalization": {"generator": spec.normalization, "discriminator": config.d_norm},
        "z_dim": spec.z_dim,
        "z_distribution": dict(spec.z_distribution),
        "image_shape": list(spec.image_shape),
        "output_range": list(spec.output_range),
        "output_activation": spec.output_activation,
        "signature": {"key": settings.SIGNATURE_KEY, "input": settings.INPUT_KEY,
                      "output": settings.OUTPUT_KEY, "batch_size": None},
        "dataset": dataset,
        "reference": reference_of(config),
        "training": {
            "steps": state["step"],
            "steps_configured": config.steps,
            "disc_iters": config.disc_iters,
            "generator_steps": -(-state["step"] // config.disc_iters),
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "lr_schedule": lr_schedule(config),
            "beta1": config.beta1,
            "beta2": config.beta2,
            "seed": config.seed,
            "wall_time_seconds": round(state.get("wall_time", 0.0), 1),
            "tensorflow_version": state.get("tensorflow"),
            "xla": state.get("xla"),   # on/off and how chosen (training.loop; None: not recorded)
            "config": config.to_dict(),
            "generator_weights": state.get("generator_weights", {"kind": "raw"}),
        },
        "scores": {},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ganhub_version": __version__,
    }
