"""Generator → images → features → scores, with the protocol recorded next to every number."""
import math
import numbers
import warnings
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import BadInputError, NonFiniteInputError
from ganhub.metrics._checks import (MetricInputError, MetricUnavailableError, as_images,
                                    warn_if_undersampled)
from ganhub.metrics.frechet import frechet_distance
from ganhub.metrics.inception_score import inception_score
from ganhub.metrics.kid import kernel_inception_distance
from ganhub.metrics.ms_ssim import ms_ssim_diversity
from ganhub.metrics import beyond_fid
from ganhub.metrics.stats import (FeatureStats, ReferenceFileError, ReferenceStats,
                                  is_reference_file, reference_key)

METRICS = ("fid", "kid", "is", "ms_ssim") + beyond_fid.METRICS
# Metrics scored against the reference (its moments or its feature sample), and those that need
# the extractor (PPL measures distances between features of generated images only).
REFERENCE_METRICS = ("fid", "kid") + beyond_fid.PRDC_METRICS
EXTRACTOR_METRICS = REFERENCE_METRICS + ("is", beyond_fid.PPL)
MS_SSIM_BATCHES, MS_SSIM_BATCH_SIZE = 5, 64


def check_count(value, what, default):
    """``default`` for None, else ``value`` if it is a positive integer; MetricInputError otherwise
    (0 used to mean "the default" and a negative count silently dropped images from the end)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise MetricInputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _progress(total, desc, enabled):
    if enabled is None:
        enabled = not settings.progress_disabled()
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def features_of_images(images, extractor, resize, keep=0, want_logits=False, batch_size=None,
                       progress=None, desc="features"):
    """Stream an array (or an iterable of batches) of images through the extractor.

    → (FeatureStats, logits or None). Only the moments and the first `keep` features are kept.
    """
    batch_size = check_count(batch_size, "batch_size", settings.EXTRACTOR_BATCH_SIZE)
    if isinstance(images, np.ndarray):
        total = len(images)
        batches = (images[i:i + batch_size] for i in range(0, total, batch_size))
    else:
        total, batches = None, images
    stats, logits = None, []
    with _progress(total, desc, progress) as bar:
        for batch in batches:
            feats, batch_logits = extractor.features_and_logits(batch, resize, batch_size, want_logits)
            if stats is None:
                stats = FeatureStats(feats.shape[1], keep=keep)
            stats.update(feats)
            if want_logits:
                logits.append(batch_logits)
            bar.update(len(batch))
    if stats is None:
        raise MetricInputError("no images to extract features from")
    return stats, (np.concatenate(logits) if want_logits else None)


def compute_reference(images, extractor, resize=None, keep=None, progress=None, **provenance):
    """ReferenceStats of real images (uint8 NHWC) with their provenance."""
    resize = resize or settings.DEFAULT_RESIZE
    keep = settings.KID_REFERENCE_SAMPLES if keep is None else keep
    images = as_images(images)
    stats, _ = features_of_images(images, extractor, resize, keep=keep, progress=progress,
                                  desc="reference")
    warn_if_undersampled(stats.count, stats.dim, "reference images")
    provenance.setdefault("image_shape", list(images.shape[1:]))
    return ReferenceStats.from_stats(stats, **extractor.protocol(resize), **provenance)


def reference_from_data(data, split="test", num_samples=None, extractor=None, resize=None,
                        cache=True, progress=None, data_dir=None):
    """Reference statistics of a data source (see ganhub.metrics.data: a data set name read as
    training reads it, from ``data_dir`` or its default location; an .npz; an image folder), cached
    by a content key."""
    from ganhub.metrics.data import load_images
    from ganhub.metrics.extractors import load_extractor
    extractor = load_extractor(extractor)
    resize = resize or settings.DEFAULT_RESIZE
    num_samples = check_count(num_samples, "num_samples", settings.EVAL_NUM_SAMPLES)
    images, described = load_images(data, split, num_samples, data_dir=data_dir)
    key = reference_key(data=described, n=num_samples, **extractor.protocol(resize))
    path = settings.cache_dir() / "references" / f"{key}.npz"
    if cache and path.exists():
        return ReferenceStats.load(path)
    reference = compute_reference(images, extractor, resize, progress=progress, **described,
                                  content_key=key)
    if cache:
        reference.save(path)
    return reference


def resolve_reference(reference, num_samples=None, extractor=None, resize=None, progress=None,
                      data_dir=None, declared=None, offline=None):
    """ReferenceStats from an object; a reference .npz from `ganhub stats`; TTUR / pytorch-fid /
    clean-fid statistics (mu, sigma) with their protocol ``declared`` (see
    ganhub.metrics.references); a catalog reference name or a reference URL (downloaded into the
    verified cache); or a data name like 'cifar10-test' (computed from ``data_dir`` and cached)."""
    if reference is None or isinstance(reference, ReferenceStats):
        return reference
    from ganhub import catalog
    from ganhub.metrics import references
    text = str(reference)
    if catalog.is_url(text):
        return references.load_url(text, offline=offline)
    path = Path(text).expanduser()
    if path.suffix == ".npz":
        if not path.is_file():
            raise ReferenceFileError(f"reference {path} not found; make it with `ganhub stats DATA "
                                     f"-o {path}`, or name a data set such as fashion_mnist-test")
        if is_reference_file(path):
            return ReferenceStats.load(path)
        if declared or references.holds_moments(path):
            return references.read_foreign(path, declared)
    elif not path.exists():
        entry = catalog.find_entry(text)
        if references.is_reference_entry(entry):
            return references.load_entry(entry, offline=offline)
    from ganhub.metrics.data import split_data_name
    name, split = split_data_name(reference) or (str(reference), "test")
    return reference_from_data(name, split, num_samples, extractor, resize, progress=progress,
                               data_dir=data_dir)


def _generated_batches(generator, latents, batch_size):
    for start in range(0, len(latents), batch_size):
        images = np.asarray(generator(latents[start:start + batch_size]), np.float64)
        if not np.all(np.isfinite(images)):
            raise NonFiniteInputError("the generator produced NaN or inf (the study scored this as "
                                      "FID 31337); check the checkpoint")
        # As the study: scale to [0, 255] and keep the floats (no uint8 quantisation).
        yield np.clip(images, 0.0, 1.0) * 255.0


def generator_identity(generator):
    """What was scored: the module's name and, for ganhub exports, the training step and config,
    so scores can later be matched to the weights they were measured on."""
    meta = getattr(generator, "metadata", None) or {}
    training = meta.get("training") or {}
    identity = {"name": getattr(generator, "name", None)}
    if "steps" in training:
        identity["training_steps"] = training["steps"]
    if "config" in training:
        identity["training_config"] = training["config"]
    if "generator_weights" in training:  # raw G or its EMA: same step and config, other weights
        identity["generator_weights"] = training["generator_weights"]
    return identity


# Protocol fields that change a score's value; a reported score measured under other values is
# not comparable number for number.
COMPARABLE_FIELDS = ("num_samples", "extractor_id", "extractor_sha256", "resize", "kid_blocks",
                     "is_splits")
REFERENCE_FIELDS = ("dataset", "split", "num_samples", "source_sha256")


def protocol_differences(reported, measured):
    """How a reported score's protocol differs from this run's → list of 'field: a vs b' strings.

    reported: the protocol dict a ganhub evaluation recorded (module metadata scores). Free-text
    protocols (the compare_gan catalog's) cannot be compared field by field and give []."""
    if not isinstance(reported, dict):
        return []
    out = []
    for key in COMPARABLE_FIELDS:
        if key in reported and key in measured and reported[key] != measured[key]:
            out.append(f"{key}: reported {reported[key]}, this run {measured[key]}")
    ref_a, ref_b = reported.get("reference") or {}, measured.get("reference") or {}
    for key in REFERENCE_FIELDS:
        if key in ref_a and key in ref_b and ref_a[key] != ref_b[key]:
            out.append(f"reference {key}: reported {ref_a[key]}, this run {ref_b[key]}")
    return out


def evaluate(generator_or_handle, reference=None, metrics=("fid",), num_samples=None, seed=None,
             extractor=None, resize=None, kid_blocks=None, is_splits=1, batch_size=None,
             progress=None, ppl_samples=None):
    """Score a generator against reference statistics → {"fid": ..., ..., "protocol": {...}}.

    generator_or_handle: a ganhub Generator or a handle for ganhub.load. reference: a
    ReferenceStats, a reference .npz made by `ganhub stats`, or a data name ('fashion_mnist-test'),
    needed for fid, kid, precision, recall, density and coverage. metrics: any of METRICS.
    num_samples generated images (the study: 10,000) from latents drawn with `seed`. ppl_samples:
    perceptual path length samples (default: small on a CPU, see ganhub.metrics.beyond_fid).
    """
    metrics = tuple(m.strip().lower() for m in ([metrics] if isinstance(metrics, str) else metrics))
    unknown = set(metrics) - set(METRICS)
    if unknown or not metrics:
        raise MetricInputError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(METRICS)}")
    num_samples = check_count(num_samples, "num_samples", settings.EVAL_NUM_SAMPLES)
    seed = settings.EVAL_SEED if seed is None else int(seed)
    if "ppl" in metrics and ppl_samples is not None and check_count(ppl_samples, "ppl_samples", None) < 2:
        raise MetricInputError(f"ppl_samples must be at least 2, got {ppl_samples}")
    resize = resize or settings.DEFAULT_RESIZE
    generator = generator_or_handle
    if isinstance(generator, (str, Path)):
        from ganhub import load
        generator = load(str(generator))
    needs_features = (set(EXTRACTOR_METRICS) - {beyond_fid.PPL}) & set(metrics)
    result = {}
    protocol = {"num_samples": num_samples, "seed": seed, "metrics": list(metrics),
                "image_scaling": "generator output in [0, 1] × 255, not quantised",
                "generator": generator_identity(generator)}

    if needs_features:
        from ganhub.metrics.extractors import load_extractor
        extractor = load_extractor(extractor)
        if "is" in metrics and not extractor.has_logits:  # fail before any sampling
            raise MetricUnavailableError(
                f"extractor {extractor.id!r} gives features only, and the Inception Score needs a "
                f"classifier head; use --extractor tfgan_inception or drop 'is' from the metrics")
        protocol.update(extractor.protocol(resize))
        ref = None
        if set(REFERENCE_METRICS) & set(metrics):
            if reference is None:
                raise MetricInputError(f"{', '.join(m for m in metrics if m in REFERENCE_METRICS)} "
                                       "need reference statistics: pass reference= "
                                       "(CLI: --reference/-r) a data name such as "
                                       "fashion_mnist-test or an .npz made with `ganhub stats`")
            ref = resolve_reference(reference, num_samples, extractor, resize, progress)
            if ref.provenance.get("protocol_declared_by") == "user":  # TTUR / clean-fid files
                from ganhub.metrics.references import check_declared_protocol
                check_declared_protocol(ref, extractor.id, extractor.sha256, resize)
            else:
                ref.check_protocol(extractor.id, extractor.sha256, resize)
            protocol["reference"] = ref.provenance
            ref_shape = ref.provenance.get("image_shape")
            gen_shape = list(getattr(generator, "image_shape", []) or [])
            if ref_shape and gen_shape and list(ref_shape) != gen_shape:
                warnings.warn(f"reference images are {ref_shape} and generated ones {gen_shape}: "
                              f"the score also measures that difference (for the default model use "
                              f"fashion_mnist_32, padded as in training)", UserWarning, stacklevel=2)
            if ref.num_samples and ref.num_samples != num_samples:
                warnings.warn(f"reference has {ref.num_samples} images and the evaluation "
                              f"{num_samples}: FID's bias depends on the sample counts, so compare "
                              f"only scores made at equal counts", UserWarning, stacklevel=2)
        latents = np.asarray(generator.sample_latents(num_samples, seed), np.float32)
        gen_batch = settings.SAMPLE_BATCH_SIZE
        keep = num_samples if {"kid", *beyond_fid.PRDC_METRICS} & set(metrics) else 0
        stats, logits = features_of_images(
            _generated_batches(generator, latents, gen_batch), extractor, resize, keep=keep,
            want_logits="is" in metrics, batch_size=batch_size, progress=progress, desc="generated")
        if "fid" in metrics:
            warn_if_undersampled(stats.count, stats.dim, "generated images")
            result["fid"] = frechet_distance(stats.mean, stats.covariance, ref.mu, ref.sigma)
        if "kid" in metrics:
            if len(ref.features) < 2:
                raise MetricInputError("the reference file keeps no features for KID; remake it with `ganhub stats`")
            blocks = kid_blocks or math.ceil(max(len(ref.features), stats.count) / 1024)
            result["kid"], result["kid_std"] = kernel_inception_distance(
                stats.features, ref.features, num_blocks=blocks)
            protocol["kid_blocks"] = blocks
        if "is" in metrics:
            result["is"], result["is_std"] = inception_score(logits, splits=is_splits)
            protocol["is_splits"] = is_splits
        if set(beyond_fid.PRDC_METRICS) & set(metrics):
            scores, protocol["prdc"] = beyond_fid.prdc_scores(stats.features, ref, metrics)
            result.update(scores)

    if "ms_ssim" in metrics:
        needed = MS_SSIM_BATCHES * MS_SSIM_BATCH_SIZE
        latents = np.asarray(generator.sample_latents(needed, seed + 1), np.float32)
        images = np.concatenate(list(_generated_batches(generator, latents, settings.SAMPLE_BATCH_SIZE)))
        result["ms_ssim"] = ms_ssim_diversity(images, MS_SSIM_BATCHES, MS_SSIM_BATCH_SIZE, seed=seed)
        protocol["ms_ssim"] = {"batches": MS_SSIM_BATCHES, "batch_size": MS_SSIM_BATCH_SIZE,
                               "latent_seed": seed + 1}

    if beyond_fid.PPL in metrics:
        from ganhub.metrics.extractors import load_extractor
        extractor = load_extractor(extractor)  # a loaded Extractor passes through
        scores, protocol["ppl"] = beyond_fid.ppl_scores(
            generator, extractor, resize, ppl_samples, seed, batch_size, progress)
        result.update(scores)

    from ganhub.metrics.stats import _ganhub_version
    protocol["ganhub_version"] = _ganhub_version()
    result["protocol"] = protocol
    return result


def parse_metrics(text):
    """'fid, kid' (a --metrics value) → ('fid', 'kid'); BadInputError naming an unknown one."""
    metrics = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise BadInputError(f"--metrics {text!r}: unknown metric {', '.join(map(repr, unknown)) or 'list'}"
                            f"; choose from {','.join(METRICS)} (comma-separated)")
    return metrics
