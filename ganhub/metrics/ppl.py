"""Perceptual path length (Karras et al. 2019, "A Style-Based Generator Architecture for GANs", §4.1)
in the latent space Z of any generator.

    PPL = E_{z0, z1 ~ p(z), t ~ U(0, 1)} [ d(G(z(t)), G(z(t + ε))) / ε² ],   z(t) = interp(z0, z1; t)

with d a perceptual distance between two images and ε = 1e-4. It measures how fast the images change
along latent paths: a smooth latent space has a small PPL. As in StyleGAN's code, the mean is taken
over the samples between the 1st and the 99th percentile (outliers from paths crossing a
discontinuity would otherwise dominate it).

Deviations from the paper, each recorded in the returned protocol:
- d: Karras et al. use LPIPS (VGG16 features, learned channel weights), whose weights cannot be
  fetched here. ganhub uses d(a, b) = ‖φ(a) − φ(b)‖², the squared Euclidean distance between feature
  vectors of any extractor φ (by default the FID Inception network's pool_3 features); LPIPS is
  itself a weighted squared distance between feature maps. The values are therefore not comparable
  with StyleGAN's numbers, only between generators measured with the same φ.
- interp: slerp for a normal z, lerp for a uniform z (ganhub.latent), slerp without projecting onto
  the unit sphere (ganhub's generators have no normalising mapping network).
- Karras et al. use 100,000 samples; the count used is in the protocol (small on a CPU).
"""
import numpy as np

from ganhub.errors import MetricInputError, NonFiniteInputError
from ganhub.latent import interpolate, method_for

PPL_EPSILON = 1e-4
PPL_SAMPLES_PAPER = 100_000
PPL_SAMPLES_CPU = 1_000
PPL_SAMPLES_GPU = 10_000
SAMPLINGS = ("full", "end")
OUTLIER_PERCENTILES = (1.0, 99.0)


def path_length_latents(z0, z1, t, epsilon=PPL_EPSILON, method="slerp"):
    """The two ends of each short step: (z(t), z(t + ε)) as float32 [n, z_dim] (what generators take).

    z0, z1 [n, z_dim], t [n]."""
    t = np.asarray(t, np.float64)
    start = interpolate(z0, z1, t, method)
    end = interpolate(z0, z1, t + epsilon, method)
    return start.astype(np.float32), end.astype(np.float32)


def squared_feature_distance(features_a, features_b):
    """‖φ(a) − φ(b)‖² per row, in float64."""
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    return np.sum((a - b) ** 2, axis=1)


def summarize_path_lengths(lengths, percentiles=OUTLIER_PERCENTILES):
    """(mean, sample std, number kept) of the per-sample path lengths between the lower percentile
    (numpy method 'lower') and the upper one ('higher'), both included, as StyleGAN's code
    (metrics/perceptual_path_length.py). percentiles=None keeps every sample."""
    lengths = np.asarray(lengths, np.float64)
    if lengths.ndim != 1 or len(lengths) == 0:
        raise MetricInputError(f"path lengths must be a non-empty 1-D array, got shape {lengths.shape}")
    if not np.all(np.isfinite(lengths)):
        raise NonFiniteInputError("path lengths contain NaN or inf; check the generator's outputs")
    if percentiles is not None:
        lo = np.percentile(lengths, percentiles[0], method="lower")
        hi = np.percentile(lengths, percentiles[1], method="higher")
        lengths = lengths[(lengths >= lo) & (lengths <= hi)]
    std = float(lengths.std(ddof=1)) if len(lengths) > 1 else float("nan")
    return float(lengths.mean()), std, int(len(lengths))


def _draw_t(num_samples, seed, sampling):
    if sampling == "end":
        return np.zeros(num_samples)  # StyleGAN's "end": the step leaving z0
    # Its own stream, so t does not shift the latents of sample_latents(2n, seed).
    return np.random.default_rng([seed, 1]).uniform(0.0, 1.0, num_samples)


def perceptual_path_length(generator, features, num_samples, seed=0, epsilon=PPL_EPSILON,
                           method=None, sampling="full", batch_size=64, percentiles=OUTLIER_PERCENTILES,
                           feature_network=None, progress=None):
    """PPL of ``generator`` → {"ppl", "ppl_std", "protocol"}.

    generator: has z_dim, z_distribution, sample_latents(n, seed) and __call__(z) → images float
    [n, H, W, C] in [0, 1] (a ganhub Generator). features: callable mapping images float in [0, 255]
    (generator output × 255, not quantised: rounding to uint8 would erase a step of size ε) to
    feature vectors [n, d]; feature_network describes it for the protocol (e.g. an extractor's
    protocol dict). The endpoints are z0 = sample_latents(2n, seed)[:n], z1 = [n:]; t is drawn from
    its own stream of ``seed``.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 2:
        raise MetricInputError(f"PPL needs an integer num_samples >= 2, got {num_samples!r}")
    if sampling not in SAMPLINGS:
        raise MetricInputError(f"unknown PPL sampling {sampling!r}; choose from {', '.join(SAMPLINGS)}")
    if not epsilon > 0:
        raise MetricInputError(f"epsilon must be positive, got {epsilon!r}")
    # A generator that names no z distribution draws uniform z, as ganhub.Generator assumes.
    method = method or method_for(getattr(generator, "z_distribution", None))
    n = int(num_samples)
    latents = np.asarray(generator.sample_latents(2 * n, seed), np.float64)
    z0, z1 = latents[:n], latents[n:]
    t = _draw_t(n, seed, sampling)
    half = max(1, int(batch_size) // 2)  # each sample takes two images
    lengths = np.empty(n)
    bar = _progress(n, progress)
    try:
        for start in range(0, n, half):
            stop = min(n, start + half)
            za, zb = path_length_latents(z0[start:stop], z1[start:stop], t[start:stop], epsilon, method)
            images = np.asarray(generator(np.concatenate([za, zb])), np.float64)
            if not np.all(np.isfinite(images)):
                raise NonFiniteInputError("the generator produced NaN or inf; check the checkpoint")
            feats = np.asarray(features(np.clip(images, 0.0, 1.0) * 255.0), np.float64)
            if feats.ndim != 2 or len(feats) != 2 * (stop - start):
                raise MetricInputError(f"the feature network returned shape {feats.shape} for "
                                       f"{2 * (stop - start)} images; expected [n, d]")
            k = stop - start
            lengths[start:stop] = squared_feature_distance(feats[:k], feats[k:]) / epsilon ** 2
            bar.update(k)
    finally:
        bar.close()
    value, std, kept = summarize_path_lengths(lengths, percentiles)
    protocol = {
        "num_samples": n, "samples_kept": kept, "seed": seed, "epsilon": epsilon, "space": "z",
        "interpolation": method, "sampling": sampling,
        "distance": "squared Euclidean distance between feature vectors / epsilon^2",
        "feature_network": feature_network or getattr(features, "__name__", repr(features)),
        "outlier_filter": (f"mean over the samples from percentile {percentiles[0]:g} (lower) to "
                           f"percentile {percentiles[1]:g} (higher), both included"
                           if percentiles else "none"),
        "image_scaling": "generator output in [0, 1] x 255, not quantised",
        "paper": (f"Karras et al. 2019: LPIPS (VGG16), epsilon 1e-4, {PPL_SAMPLES_PAPER:,} samples; "
                  f"not comparable with values measured with another distance"),
    }
    return {"ppl": value, "ppl_std": std, "protocol": protocol}


def default_num_samples(has_gpu):
    """PPL samples when none are asked for: PPL_SAMPLES_GPU with a GPU, PPL_SAMPLES_CPU without."""
    return PPL_SAMPLES_GPU if has_gpu else PPL_SAMPLES_CPU


def _progress(total, enabled):
    from ganhub import settings
    if enabled is None:
        enabled = not settings.progress_disabled()
    from tqdm import tqdm
    return tqdm(total=total, desc="path length", unit="sample", disable=not enabled, leave=False)
