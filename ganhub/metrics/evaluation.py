"""Generator → images → features → scores, with the protocol recorded next to every number."""
import math
import numbers
import warnings
from pathlib import Path

import numpy as np

from ganhub import describe, settings
from ganhub.errors import BadInputError, DownloadError, NonFiniteInputError
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
                       progress=None, desc="features", total=None, on_batch=None):
    """Stream an array (or an iterable of batches) of images through the extractor.

    → (FeatureStats, logits or None). Only the moments and the first `keep` features are kept.
    ``total``: how many images an iterable yields (the progress bar's total). ``on_batch()`` is
    called after each batch (a lock's heartbeat).
    """
    batch_size = check_count(batch_size, "batch_size", settings.EXTRACTOR_BATCH_SIZE)
    if isinstance(images, np.ndarray):
        total = len(images)
        batches = (images[i:i + batch_size] for i in range(0, total, batch_size))
    else:
        batches = images
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
            if on_batch is not None:
                on_batch()
    if stats is None:
        raise MetricInputError("no images to extract features from")
    return stats, (np.concatenate(logits) if want_logits else None)


def compute_reference(images, extractor, resize=None, keep=None, progress=None, on_batch=None,
                      **provenance):
    """ReferenceStats of real images (uint8 NHWC) with their provenance."""
    resize = resize or settings.DEFAULT_RESIZE
    keep = settings.KID_REFERENCE_SAMPLES if keep is None else keep
    images = as_images(images)
    stats, _ = features_of_images(images, extractor, resize, keep=keep, progress=progress,
                                  desc="reference", on_batch=on_batch)
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
    if not cache:
        return compute_reference(images, extractor, resize, progress=progress, **described,
                                 content_key=key)
    # One process computes it, the others (study workers sharing a machine) wait and read it. A
    # wait past GANHUB_LOCK_TIMEOUT computes it anyway: the save is atomic, the lock only saves work.
    from ganhub.hub import cache as hub_cache
    lock = hub_cache.lock(f"reference-{key}")
    try:
        lock.acquire()
    except DownloadError:
        pass
    try:
        if path.exists():
            return ReferenceStats.load(path)
        reference = compute_reference(images, extractor, resize, progress=progress,
                                      on_batch=lock.heartbeat, **described, content_key=key)
        reference.save(path)
        return reference
    finally:
        lock.release()


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

    reported: the protocol dict a ganhub evaluation or a study trial recorded (module metadata
    scores). Free-text protocols (the compare_gan catalog's) cannot be compared field by field
    and give []."""
    if not isinstance(reported, dict):
        return []
    out = []
    extractor = describe.protocol_extractor(reported)
    if extractor:   # compared as "extractor_id", whichever name the protocol gave it
        reported = dict(reported, extractor_id=extractor)
    for key in COMPARABLE_FIELDS:
        if key in reported and key in measured and reported[key] != measured[key]:
            out.append(f"{key}: reported {reported[key]}, this run {measured[key]}")
    ref_a, ref_b = describe.protocol_reference(reported), describe.protocol_reference(measured)
    for key in REFERENCE_FIELDS:
        if key in ref_a and key in ref_b and ref_a[key] != ref_b[key]:
            out.append(f"reference {key}: reported {ref_a[key]}, this run {ref_b[key]}")
    return out


class _Run:
    """What one evaluation has gathered so far, shared by the rows of the metric table: the
    generator, the protocol being recorded, and (when a metric needs them) the extractor, the
    reference and the generated images' features."""

    def __init__(self, generator, metrics, num_samples, seed, extractor, resize, kid_blocks,
                 is_splits, batch_size, progress, ppl_samples):
        self.generator, self.metrics, self.num_samples, self.seed = generator, metrics, num_samples, seed
        self.extractor, self.resize, self.kid_blocks, self.is_splits = extractor, resize, kid_blocks, is_splits
        self.batch_size, self.progress, self.ppl_samples = batch_size, progress, ppl_samples
        self.reference = self.stats = self.logits = None
        self.protocol = {"num_samples": num_samples, "seed": seed, "metrics": list(metrics),
                         "image_scaling": "generator output in [0, 1] × 255, not quantised",
                         "generator": generator_identity(generator)}


def _fid(run):
    warn_if_undersampled(run.stats.count, run.stats.dim, "generated images")
    return {"fid": frechet_distance(run.stats.mean, run.stats.covariance, run.reference.mu,
                                    run.reference.sigma)}


def _kid(run):
    ref = run.reference
    if len(ref.features) < 2:
        raise MetricInputError("the reference file keeps no features for KID; remake it with `ganhub stats`")
    blocks = run.kid_blocks or math.ceil(max(len(ref.features), run.stats.count) / 1024)
    kid, std = kernel_inception_distance(run.stats.features, ref.features, num_blocks=blocks)
    run.protocol["kid_blocks"] = blocks
    return {"kid": kid, "kid_std": std}


def _is(run):
    score, std = inception_score(run.logits, splits=run.is_splits)
    run.protocol["is_splits"] = run.is_splits
    return {"is": score, "is_std": std}


def _prdc(run):
    scores, run.protocol["prdc"] = beyond_fid.prdc_scores(run.stats.features, run.reference,
                                                         run.metrics)
    return scores


def _ms_ssim(run):
    needed = MS_SSIM_BATCHES * MS_SSIM_BATCH_SIZE
    latents = np.asarray(run.generator.sample_latents(needed, run.seed + 1), np.float32)
    images = np.concatenate(list(_generated_batches(run.generator, latents,
                                                    settings.SAMPLE_BATCH_SIZE)))
    run.protocol["ms_ssim"] = {"batches": MS_SSIM_BATCHES, "batch_size": MS_SSIM_BATCH_SIZE,
                               "latent_seed": run.seed + 1}
    return {"ms_ssim": ms_ssim_diversity(images, MS_SSIM_BATCHES, MS_SSIM_BATCH_SIZE, seed=run.seed)}


def _ppl(run):
    scores, run.protocol["ppl"] = beyond_fid.ppl_scores(
        run.generator, _extractor(run), run.resize, run.ppl_samples, run.seed, run.batch_size,
        run.progress)
    return scores


# The metric table: name → (what it needs, the function scoring it). "features": the generated
# images' features (and the extractor); "reference": the reference statistics too. A metric that
# computes several names at once (precision/recall/density/coverage) is called once for them all.
METRIC_TABLE = {
    "fid": ({"features", "reference"}, _fid),
    "kid": ({"features", "reference"}, _kid),
    "is": ({"features"}, _is),
    "ms_ssim": (set(), _ms_ssim),
    **{m: ({"features", "reference"}, _prdc) for m in beyond_fid.PRDC_METRICS},
    beyond_fid.PPL: ({"extractor"}, _ppl),
}
assert tuple(METRIC_TABLE) == METRICS, "every metric has one row in the table"


def _check_arguments(metrics, num_samples, seed, ppl_samples):
    metrics = tuple(m.strip().lower() for m in ([metrics] if isinstance(metrics, str) else metrics))
    unknown = set(metrics) - set(METRICS)
    if unknown or not metrics:
        raise MetricInputError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(METRICS)}")
    num_samples = check_count(num_samples, "num_samples", settings.EVAL_NUM_SAMPLES)
    seed = settings.EVAL_SEED if seed is None else int(seed)
    if "ppl" in metrics and ppl_samples is not None and check_count(ppl_samples, "ppl_samples", None) < 2:
        raise MetricInputError(f"ppl_samples must be at least 2, got {ppl_samples}")
    return metrics, num_samples, seed


def _extractor(run):
    """The run's extractor, loaded once (a loaded Extractor passes through)."""
    from ganhub.metrics.extractors import load_extractor
    run.extractor = load_extractor(run.extractor)
    return run.extractor


def _load_reference(run, reference):
    """The reference statistics, checked against this run's extractor and resize."""
    wanting = [m for m in run.metrics if m in REFERENCE_METRICS]
    if reference is None:
        raise MetricInputError(f"{', '.join(wanting)} need reference statistics: pass reference= "
                               "(CLI: --reference/-r) a data name such as fashion_mnist-test or an "
                               ".npz made with `ganhub stats`")
    extractor = run.extractor
    ref = resolve_reference(reference, run.num_samples, extractor, run.resize, run.progress)
    if ref.provenance.get("protocol_declared_by") == "user":  # TTUR / clean-fid files
        from ganhub.metrics.references import check_declared_protocol
        check_declared_protocol(ref, extractor.id, extractor.sha256, run.resize)
    else:
        ref.check_protocol(extractor.id, extractor.sha256, run.resize)
    run.protocol["reference"] = ref.provenance
    ref_shape = ref.provenance.get("image_shape")
    gen_shape = list(getattr(run.generator, "image_shape", []) or [])
    if ref_shape and gen_shape and list(ref_shape) != gen_shape:
        warnings.warn(f"reference images are {ref_shape} and generated ones {gen_shape}: the score "
                      f"also measures that difference (for the default model use fashion_mnist_32, "
                      f"padded as in training)", UserWarning, stacklevel=3)
    if ref.num_samples and ref.num_samples != run.num_samples:
        warnings.warn(f"reference has {ref.num_samples} images and the evaluation "
                      f"{run.num_samples}: FID's bias depends on the sample counts, so compare "
                      f"only scores made at equal counts", UserWarning, stacklevel=3)
    run.reference = ref


def _generate_features(run):
    """Features (moments, and the individual vectors KID and precision/recall need) and logits of
    the generated images."""
    latents = np.asarray(run.generator.sample_latents(run.num_samples, run.seed), np.float32)
    keep = run.num_samples if {"kid", *beyond_fid.PRDC_METRICS} & set(run.metrics) else 0
    run.stats, run.logits = features_of_images(
        _generated_batches(run.generator, latents, settings.SAMPLE_BATCH_SIZE), run.extractor,
        run.resize, keep=keep, want_logits="is" in run.metrics, batch_size=run.batch_size,
        progress=run.progress, desc="generated", total=len(latents))


def evaluate(generator_or_handle, reference=None, metrics=("fid",), num_samples=None, seed=None,
             extractor=None, resize=None, kid_blocks=None, is_splits=1, batch_size=None,
             progress=None, ppl_samples=None):
    """Score a generator against reference statistics → {"fid": ..., ..., "protocol": {...}}.

    generator_or_handle: a ganhub Generator or a handle for ganhub.load. reference: a
    ReferenceStats, a reference .npz made by `ganhub stats`, or a data name ('fashion_mnist-test'),
    needed for fid, kid, precision, recall, density and coverage. metrics: any of METRICS (the rows
    of METRIC_TABLE). num_samples generated images (the study: 10,000) from latents drawn with
    `seed`. ppl_samples: perceptual path length samples (default: small on a CPU, see
    ganhub.metrics.beyond_fid).
    """
    metrics, num_samples, seed = _check_arguments(metrics, num_samples, seed, ppl_samples)
    generator = generator_or_handle
    if isinstance(generator, (str, Path)):
        from ganhub import load
        generator = load(str(generator))
    run = _Run(generator, metrics, num_samples, seed, extractor, resize or settings.DEFAULT_RESIZE,
               kid_blocks, is_splits, batch_size, progress, ppl_samples)
    needs = set().union(*(METRIC_TABLE[m][0] for m in metrics))
    if "features" in needs:
        _extractor(run)
        if "is" in metrics and not run.extractor.has_logits:  # fail before any sampling
            raise MetricUnavailableError(
                f"extractor {run.extractor.id!r} gives features only, and the Inception Score "
                f"needs a classifier head; use --extractor tfgan_inception or drop 'is' from the "
                f"metrics")
        run.protocol.update(run.extractor.protocol(run.resize))
        if "reference" in needs:
            _load_reference(run, reference)
        _generate_features(run)
    result, done = {}, set()
    for metric in metrics:
        score = METRIC_TABLE[metric][1]
        if score not in done:  # one call for the metrics one function computes together
            result.update(score(run))
            done.add(score)
    from ganhub.metrics.stats import _ganhub_version
    run.protocol["ganhub_version"] = _ganhub_version()
    result["protocol"] = run.protocol
    return result


def parse_metrics(text):
    """'fid, kid' (a --metrics value) → ('fid', 'kid'); BadInputError naming an unknown one."""
    metrics = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise BadInputError(f"--metrics {text!r}: unknown metric {', '.join(map(repr, unknown)) or 'list'}"
                            f"; choose from {','.join(METRICS)} (comma-separated)")
    return metrics
