"""MS-SSIM diversity of generated images (spec §7.1), in numpy float64.

Follows the study's code (a copy of tf.image.ssim_multiscale): 5 scales, 11×11 Gaussian window
with σ=1.5 shrunk to the image size at coarse scales, VALID filtering, K1=0.01, K2=0.03,
max_val=255, 2×2 average pooling with symmetric padding of odd sizes, contrast-structure terms of
scales 1-4 and SSIM of scale 5 clipped at 0 and combined by a weighted geometric mean per colour
channel, then averaged over channels.
"""
import numpy as np

from ganhub.metrics._checks import MetricInputError, as_images

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
K1, K2 = 0.01, 0.03


def _gaussian_taps(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-coords ** 2 / (2.0 * sigma ** 2))
    return g / g.sum()


def _filter_valid(x, taps):
    """Separable VALID filter over axes -3 and -2 (H, W) of [..., H, W, C]."""
    k = len(taps)
    h, w = x.shape[-3], x.shape[-2]
    rows = sum(t * x[..., i:h - k + 1 + i, :, :] for i, t in enumerate(taps))
    return sum(t * rows[..., :, i:w - k + 1 + i, :] for i, t in enumerate(taps))


def _downsample(x):
    h, w = x.shape[-3], x.shape[-2]
    if h % 2 or w % 2:
        pad = [(0, 0)] * (x.ndim - 3) + [(0, h % 2), (0, w % 2), (0, 0)]
        x = np.pad(x, pad, mode="symmetric")
    h, w = x.shape[-3], x.shape[-2]
    x = x.reshape(x.shape[:-3] + (h // 2, 2, w // 2, 2, x.shape[-1]))
    return x.mean(axis=(-4, -2))


def _pair_terms(x, y, mu_x, mu_y, sq_x, sq_y, taps, max_val):
    """Per-channel (ssim, cs) of aligned pairs; x, y [P, H, W, C]; filtered stats precomputed."""
    c1, c2 = (K1 * max_val) ** 2, (K2 * max_val) ** 2
    num0 = 2.0 * mu_x * mu_y
    den0 = mu_x ** 2 + mu_y ** 2
    luminance = (num0 + c1) / (den0 + c1)
    num1 = 2.0 * _filter_valid(x * y, taps)
    den1 = sq_x + sq_y
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    return (luminance * cs).mean(axis=(-3, -2)), cs.mean(axis=(-3, -2))


def ms_ssim_matrix(images, max_val=255.0, filter_size=11, filter_sigma=1.5):
    """MS-SSIM of every unordered pair i < j of a batch [B, H, W, C] → symmetric [B, B], diag 1."""
    x = np.asarray(images, dtype=np.float64)
    b = x.shape[0]
    num_scales = len(MS_SSIM_WEIGHTS)
    weights = np.asarray(MS_SSIM_WEIGHTS)
    iu, ju = np.triu_indices(b, k=1)
    factors = np.ones((len(iu), x.shape[-1]))          # product over scales, per channel
    for scale in range(num_scales):
        if scale:
            x = _downsample(x)
        size = min(filter_size, x.shape[-3], x.shape[-2])
        taps = _gaussian_taps(size, filter_sigma)
        mu = _filter_valid(x, taps)
        sq = _filter_valid(x * x, taps)
        last = scale == num_scales - 1
        for start in range(0, len(iu), 256):
            i, j = iu[start:start + 256], ju[start:start + 256]
            ssim, cs = _pair_terms(x[i], x[j], mu[i], mu[j], sq[i], sq[j], taps, max_val)
            term = np.maximum(ssim if last else cs, 0.0)
            factors[start:start + 256] *= term ** weights[scale]
    scores = factors.mean(axis=-1)
    out = np.eye(b)
    out[iu, ju] = scores
    out[ju, iu] = scores
    return out


def ms_ssim(image1, image2, max_val=255.0):
    """MS-SSIM of two images [H, W, C] with values in [0, max_val]."""
    return float(ms_ssim_matrix(np.stack([image1, image2]), max_val=max_val)[0, 1])


def ms_ssim_diversity(images, num_batches=5, batch_size=64, seed=0):
    """Mean MS-SSIM over distinct pairs within random batches (lower = more diverse).

    As the study: images (values in [0, 255]) are shuffled, num_batches batches of batch_size are
    taken, each batch's mean over its batch_size·(batch_size-1) ordered pairs without self-pairs
    is computed, and the batch means are averaged. MS-SSIM is symmetric, so unordered pairs suffice.
    """
    images = as_images(images)
    needed = num_batches * batch_size
    if batch_size < 2 or num_batches < 1:
        raise MetricInputError("ms_ssim_diversity needs batch_size >= 2 and num_batches >= 1")
    if len(images) < needed:
        raise MetricInputError(
            f"ms_ssim_diversity needs {num_batches}×{batch_size} = {needed} images, got {len(images)}; "
            f"pass more images or smaller num_batches/batch_size")
    order = np.random.default_rng(seed).permutation(len(images))[:needed]
    means = []
    for k in range(num_batches):
        batch = images[order[k * batch_size:(k + 1) * batch_size]]
        m = ms_ssim_matrix(batch)
        means.append(m[np.triu_indices(batch_size, k=1)].mean())
    return float(np.mean(means))
