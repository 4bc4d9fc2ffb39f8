"""Resizing images to the extractor's input size, recorded with every score.

legacy: the study's protocol (TF-GAN preprocess_image): TF1 bilinear resize with
        align_corners=False and half_pixel_centers=False, then (x - 128) / 128.
        TF2's tf.image.resize uses half-pixel centres and gives different FIDs.
clean:  antialiased bicubic resize as clean-fid argues (Parmar et al. 2022): PIL's BICUBIC filter
        on each channel in float32, clipped to [0, 255], then (x - 128) / 128.
Grayscale images are tiled to 3 channels in both modes.
"""
import numpy as np

from ganhub.metrics._checks import MetricInputError, as_images

RESIZE_MODES = ("legacy", "clean")
INCEPTION_SIZE = 299


def _tile_gray(images):
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def resize_legacy(images, size=INCEPTION_SIZE):
    import tensorflow as tf
    x = tf.convert_to_tensor(np.asarray(images, np.float32))
    # The op tf.compat.v1.image.resize_bilinear runs, called directly: same kernel and numbers,
    # without the wrapper's deprecation notice printed into every CLI run.
    x = tf.raw_ops.ResizeBilinear(images=x, size=[size, size], align_corners=False,
                                  half_pixel_centers=False)
    return x.numpy()


def resize_clean(images, size=INCEPTION_SIZE):
    from PIL import Image
    images = np.asarray(images, np.float32)
    out = np.empty(images.shape[:1] + (size, size) + images.shape[-1:], np.float32)
    for n, image in enumerate(images):
        for c in range(image.shape[-1]):
            channel = Image.fromarray(np.ascontiguousarray(image[..., c]))  # float32 → mode "F"
            out[n, ..., c] = np.asarray(channel.resize((size, size), resample=Image.BICUBIC))
    return np.clip(out, 0.0, 255.0)


def preprocess(images, resize="legacy", size=INCEPTION_SIZE):
    """uint8 (or float in [0, 255]) NHWC → float32 NHWC [N, size, size, 3] in [-1, 1)."""
    if resize not in RESIZE_MODES:
        raise MetricInputError(f"unknown resize mode {resize!r}; choose one of {', '.join(RESIZE_MODES)}")
    images = _tile_gray(as_images(images))
    if images.shape[1:3] == (size, size):
        x = images.astype(np.float32)
    elif resize == "legacy":
        x = resize_legacy(images, size)
    else:
        x = resize_clean(images, size)
    return (x - 128.0) / 128.0
