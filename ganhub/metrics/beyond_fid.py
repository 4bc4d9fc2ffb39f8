"""Scores beyond FID for evaluate(): precision, recall, density and coverage from the feature
samples, and perceptual path length, each with its protocol.

evaluate() (ganhub.metrics.evaluation) calls these; the math is in prdc.py and ppl.py.
"""
from ganhub import settings
from ganhub.errors import MetricInputError, ReferenceFileError
from ganhub.metrics.ppl import (PPL_EPSILON, PPL_SAMPLES_PAPER, default_num_samples,
                                perceptual_path_length)
from ganhub.metrics.prdc import (DENSITY_COVERAGE_K, PRECISION_RECALL_K,
                                 precision_recall_density_coverage)
from ganhub.metrics.prdc import METRICS as PRDC_METRICS

PPL = "ppl"
METRICS = PRDC_METRICS + (PPL,)


def reference_feature_sample(reference, metrics):
    """The reference's kept feature vectors, or a ReferenceFileError saying how to remake a file
    that keeps too few (files written with keep=0 or by other tools keep none)."""
    features = reference.features
    needed = max(PRECISION_RECALL_K, DENSITY_COVERAGE_K) + 1
    if features.ndim != 2 or len(features) < needed:
        have = len(features) if features.ndim == 2 else 0
        made_from = reference.provenance
        data = made_from.get("dataset") or "DATA"
        if made_from.get("dataset") and made_from.get("split"):
            data += f" --split {made_from['split']}"
        raise ReferenceFileError(
            f"{', '.join(metrics)} need a sample of the reference's feature vectors and this "
            f"reference file keeps {have}; remake it with `ganhub stats {data} -o FILE.npz` (it keeps "
            f"{settings.KID_REFERENCE_SAMPLES:,}) or pass a data name as the reference")
    return features


def prdc_scores(generated_features, reference, metrics):
    """({metric: value}, protocol entry) for the precision/recall/density/coverage among metrics."""
    wanted = tuple(m for m in PRDC_METRICS if m in metrics)
    real = reference_feature_sample(reference, wanted)
    if len(generated_features) < PRECISION_RECALL_K + 1:
        raise MetricInputError(f"{', '.join(wanted)} need at least {PRECISION_RECALL_K + 1} generated "
                               f"images, got {len(generated_features)}")
    scores = precision_recall_density_coverage(real, generated_features, wanted)
    protocol = {"metrics": list(wanted), "reference_samples": int(len(real)),
                "generated_samples": int(len(generated_features)),
                "distance": "Euclidean, extractor features",
                "neighbourhoods": "closed balls to the k-th nearest neighbour, the point excluded"}
    if {"precision", "recall"} & set(wanted):
        protocol["k_precision_recall"] = PRECISION_RECALL_K
    if {"density", "coverage"} & set(wanted):
        protocol["k_density_coverage"] = DENSITY_COVERAGE_K
    return scores, protocol


def has_gpu():
    import tensorflow as tf
    return bool(tf.config.list_physical_devices("GPU"))


def ppl_sample_count(num_samples=None):
    """(count, note or None): num_samples as given, else PPL_SAMPLES_CPU without a GPU and
    PPL_SAMPLES_GPU with one, with a note saying so (the paper used 100,000)."""
    if num_samples is not None:
        return int(num_samples), None
    on_gpu = has_gpu()
    count = default_num_samples(on_gpu)
    return count, (f"{count:,} samples, the default {'with a GPU' if on_gpu else 'on a CPU'} "
                   f"(Karras et al.: {PPL_SAMPLES_PAPER:,}); ask for more with ppl_samples "
                   f"(CLI: --ppl-samples)")


def describe_ppl(protocol):
    """One line for `ganhub evaluate`'s output: how the PPL was measured."""
    network = protocol.get("feature_network") or {}
    name = network.get("extractor_id", network) if isinstance(network, dict) else network
    count = protocol.get("sample_count_note") or f"{protocol.get('num_samples', 0):,} samples"
    return (f"ppl: {count}; {protocol.get('interpolation')} in z, epsilon {protocol.get('epsilon'):g}, "
            f"squared distance of {name} features (Karras et al. used LPIPS: not comparable)")


def ppl_scores(generator, extractor, resize, num_samples=None, seed=0, batch_size=None, progress=None):
    """({"ppl", "ppl_std"}, protocol entry) with the extractor's features as the feature network;
    num_samples=None: see ppl_sample_count."""
    num_samples, note = ppl_sample_count(num_samples)
    batch = batch_size or settings.EXTRACTOR_BATCH_SIZE

    def features(images):
        return extractor(images, resize, batch)

    result = perceptual_path_length(
        generator, features, num_samples, seed=seed, epsilon=PPL_EPSILON, batch_size=2 * batch,
        feature_network={**extractor.protocol(resize), "output": "pool_3"}, progress=progress)
    protocol = result.pop("protocol")
    if note:
        protocol["sample_count_note"] = note
    return result, protocol
