"""Score functions for ``run_trial``: a checkpoint → a number (lower is better).

``metrics_evaluator`` scores with ganhub.metrics (imported only when a score is asked for, so the
study does not depend on the evaluation package at import time). The study's protocol: 10,000
generated images (3,000 for CelebA-HQ) against the same number of test-split images, G in inference
mode (BN moving averages), z from the generator's declared distribution with a fixed seed for every
checkpoint.
"""
import numpy as np


class CheckpointGenerator:
    """A training checkpoint's generator with the small interface ganhub.metrics uses:
    ``sample_latents(n, seed)``, ``__call__(z) -> images in [0, 1]``, ``z_dim``, ``image_shape``,
    ``name`` and ``metadata`` (what was scored). Shapes and z come from ``export_spec()``, as an
    exported module's would."""

    def __init__(self, model_dir, checkpoint=None, weights="raw"):
        from ganhub.training.loop import load_generator
        self.config, self.generator, self.state = load_generator(model_dir, checkpoint, weights=weights)
        spec = self.generator.export_spec()
        self.z_dim, self.image_shape = spec.z_dim, tuple(spec.image_shape)
        self.z_distribution = dict(spec.z_distribution)
        self.name = f"{model_dir}@{self.state['step']}"
        self.metadata = {"name": self.name, "training": {
            "steps": self.state["step"], "config": self.config.to_dict(),
            "generator_weights": self.state["generator_weights"]}}

    def sample_latents(self, n, seed):
        rng, dist = np.random.default_rng(seed), self.z_distribution
        if dist["name"] == "uniform":
            z = rng.uniform(dist["low"], dist["high"], size=(n, self.z_dim))
        else:
            z = rng.normal(dist.get("mean", 0.0), dist.get("stddev", 1.0), size=(n, self.z_dim))
        return z.astype(np.float32)

    def __call__(self, z):
        import tensorflow as tf
        return self.generator(tf.convert_to_tensor(z, tf.float32), training=False).numpy()


def metrics_evaluator(reference, metric="fid", num_samples=10_000, seed=None, weights="raw",
                      also=(), **kwargs):
    """evaluate(model_dir, checkpoint) → ``metric`` from ganhub.metrics.evaluation; NaN images give
    NaN (the runner records compare_gan's 31337). The reference is resolved (read or computed) on
    the first call and reused for every later checkpoint. ``weights``: "raw" (the study's) or "ema".
    ``also``: metrics computed in the same pass (same generated images and features); their values
    are kept in ``evaluate.results[(model_dir, checkpoint)]``. ``evaluate.other(m)`` scores ``m``
    alone under the same protocol and resolved reference. ``evaluate.protocol``: the protocol
    ganhub.metrics.evaluate recorded (extractor and its sha256, the reference's provenance, …)
    without what depends on the checkpoint (generator, metrics); None until a score is made.
    ``evaluate.prepare()`` loads the extractor and resolves the reference now (a worker's check
    before its first trial)."""
    resolved = {}
    metrics = (metric,) + tuple(m for m in also if m != metric)

    def _resolve():
        if not resolved and metric in ("fid", "kid", "is"):  # once: extractor, then reference
            from ganhub.metrics.evaluation import resolve_reference
            from ganhub.metrics.extractors import load_extractor
            kwargs["extractor"] = load_extractor(kwargs.get("extractor"))
            resolved["reference"] = (None if reference is None or metric == "is" else
                                     resolve_reference(reference, num_samples, kwargs["extractor"],
                                                       kwargs.get("resize")))

    def _score(model_dir, checkpoint, which):
        from ganhub.errors import NonFiniteInputError
        from ganhub.metrics import evaluate as score
        generator = CheckpointGenerator(model_dir, checkpoint, weights=weights)
        _resolve()
        try:
            result = score(generator, reference=resolved.get("reference") or reference,
                           metrics=which, num_samples=num_samples, seed=seed, **kwargs)
        except NonFiniteInputError:  # a diverged checkpoint: the study scores it as NaN (31337)
            return {m: float("nan") for m in which}
        evaluate.protocol = {k: v for k, v in result["protocol"].items()
                             if k not in ("generator", "metrics")}
        return {m: float(result[m]) for m in which}

    def evaluate(model_dir, checkpoint):
        values = _score(model_dir, checkpoint, metrics)
        evaluate.results[(str(model_dir), str(checkpoint))] = values
        return values[metric]

    def other(which):
        return lambda model_dir, checkpoint: _score(model_dir, checkpoint, (which,))[which]

    evaluate.results, evaluate.protocol = {}, None
    evaluate.other, evaluate.prepare = other, _resolve
    return evaluate
