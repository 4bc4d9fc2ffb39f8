"""What a generator declares for export: ``ganhub.export`` reads a module's z, image shape, output
range and normalization from ``generator.export_spec()`` and from nothing else.

Every generator class mixes in ``ExportableGenerator``, sets ``self.z_dim`` and ``self.image_shape``
((H, W, C) of one output image) in ``__init__``, and overrides the class attributes where it departs
from the defaults (all of the study's generators share them today).
"""
from dataclasses import dataclass

# z ~ U[-1, 1]^z_dim, as training/steps.py samples it (compare_gan's z_generator default).
UNIFORM_Z = {"name": "uniform", "low": -1.0, "high": 1.0}


@dataclass(frozen=True)
class GeneratorSpec:
    """The contract between a trained generator and its exported module."""
    z_dim: int
    image_shape: tuple              # (H, W, C) of one image
    z_distribution: dict            # {"name": "uniform", "low", "high"} or {"name": "normal", ...}
    output_range: tuple             # (low, high) of every pixel
    output_activation: str          # the last op, in words (for the model card)
    normalization: str              # the generator's activation normalization

    def __post_init__(self):
        if len(self.image_shape) != 3 or any(int(n) <= 0 for n in self.image_shape):
            raise ValueError(f"image_shape must be (H, W, C) of positive ints, got {self.image_shape}")
        if self.z_distribution.get("name") not in ("uniform", "normal"):
            raise ValueError(f"unknown z distribution {self.z_distribution!r}")
        low, high = self.output_range
        if not low < high:
            raise ValueError(f"output_range must be (low, high) with low < high, got {self.output_range}")


class ExportableGenerator:
    """Mixin: ``export_spec()`` from ``z_dim``/``image_shape`` set by the generator and the class
    attributes below."""

    Z_DISTRIBUTION = UNIFORM_Z
    OUTPUT_RANGE = (0.0, 1.0)
    OUTPUT_ACTIVATION = "sigmoid"
    NORMALIZATION = "batch_norm"

    def export_spec(self):
        return GeneratorSpec(
            z_dim=int(self.z_dim),
            image_shape=tuple(int(n) for n in self.image_shape),
            z_distribution=dict(self.Z_DISTRIBUTION),
            output_range=tuple(float(v) for v in self.OUTPUT_RANGE),
            output_activation=self.OUTPUT_ACTIVATION,
            normalization=self.NORMALIZATION,
        )
