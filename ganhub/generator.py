"""Generator: one object over a loaded module, TF2 ganhub SavedModel or TF1 Hub format.

It finds the generator signature (z float [batch, z_dim] → images float [batch, H, W, C]), draws
latents from the module's z distribution with numpy (so the same seed gives the same z on every
platform and for every batch size), runs the signature in chunks, and pads chunks for modules
built with a fixed batch (the compare_gan modules take exactly 64 z vectors).
"""
import numbers
from pathlib import Path

import numpy as np

from ganhub import module_format, settings
from ganhub.errors import BadInputError, InvalidModuleError
from ganhub.images import to_uint8

# Signature keys tried, in order, when the metadata names none.
_SIGNATURE_KEYS = (settings.SIGNATURE_KEY, "generator", "default")
_UNIFORM = {"name": "uniform", "low": -1.0, "high": 1.0}


def _check_count(n, what="n"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise BadInputError(f"{what} must be a positive integer, got {n!r}")
    if n <= 0:
        raise BadInputError(f"{what} must be a positive integer, got {n}")
    return int(n)


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise BadInputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _find_signature(loaded, preferred, where):
    signatures = getattr(loaded, "signatures", {}) or {}
    keys = [preferred] if preferred else [k for k in _SIGNATURE_KEYS if k in signatures]
    keys += [k for k in signatures if k not in keys]
    described = []
    for key in keys:
        fn = signatures.get(key)
        if fn is None:
            continue
        inputs = fn.structured_input_signature[1]
        outputs = fn.structured_outputs
        described.append(f"{key}({', '.join(inputs)})")
        z_keys = [k for k, s in inputs.items() if s.dtype.is_floating and s.shape.rank == 2]
        image_keys = [k for k, s in outputs.items() if s.dtype.is_floating and s.shape.rank == 4]
        if len(inputs) == 1 and z_keys and image_keys:
            out_key = settings.OUTPUT_KEY if settings.OUTPUT_KEY in image_keys else image_keys[0]
            return key, fn, z_keys[0], out_key
    found = "; ".join(described) or "no signatures at all"
    raise InvalidModuleError(f"{where} has no generator signature taking one float z input "
                             f"[batch, z_dim] and returning images [batch, H, W, C] (found: {found})")


def load_module(path):
    """Load a module directory with TensorFlow: tf.saved_model.load for TF2 modules, and
    tensorflow_hub for TF1 Hub format (the compare_gan modules)."""
    import tensorflow as tf
    path = Path(path)
    try:
        if (path / "tfhub_module.pb").exists():
            import tensorflow_hub as hub
            return hub.load(str(path))
        return tf.saved_model.load(str(path))
    except (OSError, ValueError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidModuleError(f"{path} could not be loaded as a SavedModel: {first}") from None


class Generator:
    """A pretrained generator. Use ``ganhub.load(handle)`` to get one."""

    def __init__(self, loaded, metadata=None, path=None, entry=None):
        self._loaded = loaded  # keeps the variables alive
        self.path = Path(path) if path else None
        self.entry = entry or {}
        self.metadata = dict(metadata or {})
        where = str(path or "the module")
        preferred = (self.metadata.get("signature") or {}).get("key")
        self.signature_key, self._fn, self._input_key, self._output_key = _find_signature(
            loaded, preferred, where)
        z_spec = self._fn.structured_input_signature[1][self._input_key]
        out_spec = self._fn.structured_outputs[self._output_key]
        self.fixed_batch = z_spec.shape[0]  # None for modules that take any batch size
        z_dim = z_spec.shape[1] or self.metadata.get("z_dim")
        if not z_dim:
            raise InvalidModuleError(f"{where}: the z input has no static size and no metadata z_dim")
        if self.metadata.get("z_dim") not in (None, z_dim):
            raise InvalidModuleError(f"{where}: metadata says z_dim {self.metadata['z_dim']} but the "
                                     f"signature takes {z_dim}")
        self.z_dim = int(z_dim)
        shape = tuple(out_spec.shape[1:]) if None not in out_spec.shape[1:] else None
        self.image_shape = tuple(int(d) for d in (shape or self.metadata.get("image_shape") or ()))
        if len(self.image_shape) != 3:
            raise InvalidModuleError(f"{where}: cannot tell the image shape (signature output "
                                     f"{out_spec.shape}, no metadata image_shape)")
        z = (self.entry.get("z") or {}).get("distribution") or self.metadata.get("z_distribution")
        self.z_distribution = dict(z or _UNIFORM)
        import tensorflow as tf
        self._tf = tf

    @property
    def name(self):
        """The catalog name it was loaded by, else the name its metadata gives, else its folder."""
        return self.entry.get("name") or self.metadata.get("name") or (self.path and self.path.name)

    def __repr__(self):
        return (f"Generator({self.name!r}, z_dim={self.z_dim}, image_shape={self.image_shape}, "
                f"signature={self.signature_key!r})")

    # --- latents ------------------------------------------------------------------------------
    def sample_latents(self, n, seed=None):
        """n latent vectors float32 [n, z_dim] from the module's z distribution; z_i depends only on
        (seed, i), not on n."""
        n = _check_count(n)
        rng = np.random.default_rng(_check_seed(seed))
        dist = self.z_distribution
        if dist.get("name", "uniform") == "uniform":
            z = rng.uniform(dist.get("low", -1.0), dist.get("high", 1.0), (n, self.z_dim))
        elif dist["name"] == "normal":
            z = rng.normal(dist.get("mean", 0.0), dist.get("stddev", 1.0), (n, self.z_dim))
        else:
            raise InvalidModuleError(f"unsupported z distribution {dist!r}")
        return z.astype(np.float32)

    # --- generation ---------------------------------------------------------------------------
    def _run(self, z):
        out = self._fn(**{self._input_key: self._tf.constant(z)})[self._output_key].numpy()
        if not np.isfinite(out).all():
            # to_uint8 would turn NaN into black images that look like a (bad) result
            bad = int(np.count_nonzero(~np.isfinite(out)))
            raise InvalidModuleError(
                f"{self.name or 'the module'} produced {bad} NaN or infinite pixel values out of "
                f"{out.size}; its weights are broken (e.g. a diverged training run): re-export it "
                f"from a good checkpoint")
        return out

    def __call__(self, z, batch_size=None):
        """Images float32 [n, H, W, C] in [0, 1] for latents z [n, z_dim]."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise BadInputError(f"z must have shape [n, {self.z_dim}], got {list(z.shape)}")
        if len(z) == 0:
            raise BadInputError("z is empty: pass at least one latent vector")
        size = self.fixed_batch or _check_count(batch_size or settings.SAMPLE_BATCH_SIZE, "batch_size")
        if self.fixed_batch is None and len(z) <= size:
            return self._run(z)
        out = np.empty((len(z),) + self.image_shape, dtype=np.float32)
        for start in range(0, len(z), size):
            chunk = z[start:start + size]
            if self.fixed_batch and len(chunk) < size:
                chunk = np.concatenate([chunk, np.zeros((size - len(chunk), self.z_dim), np.float32)])
            out[start:start + size] = self._run(chunk)[:len(z) - start]
        return out

    def sample(self, n, seed=None, batch_size=settings.SAMPLE_BATCH_SIZE):
        """n images uint8 [n, H, W, C]; the same seed gives the same images for any batch size."""
        z = self.sample_latents(n, seed)
        return to_uint8(self(z, batch_size=batch_size))

    def interpolate(self, z0, z1, steps, method=None, batch_size=settings.SAMPLE_BATCH_SIZE):
        """A latent walk: images uint8 [steps, H, W, C] from z0 to z1, both included.

        z0, z1: latents [z_dim] (or batches [n, z_dim], giving [n, steps, H, W, C]), or integer
        seeds, seed s meaning the latent of ``sample(1, seed=s)``. method: 'slerp' (default for a
        normal z) or 'lerp' (default for a uniform z). See ganhub.walks and ganhub.latent.
        """
        from ganhub.walks import interpolate
        return interpolate(self, z0, z1, steps, method=method, batch_size=batch_size)


def from_path(path, metadata=None, entry=None):
    """A Generator over the module directory ``path``."""
    if metadata is None:
        metadata = module_format.read_metadata(path)
    return Generator(load_module(path), metadata=metadata, path=path, entry=entry)
