"""Latent walks as images: `Generator.interpolate`, and the grid and animated GIF written by
`ganhub sample NAME --interpolate` / `--gif`.

The interpolation follows the module's z distribution (ganhub.latent.method_for): spherical for a
normal z, straight for a uniform z. Endpoints come from seeds exactly as `Generator.sample` draws
its latents, so a walk's first and last images are images `sample` gives for the same seed.
"""
import numbers
import os
import tempfile
from pathlib import Path

from ganhub import settings
from ganhub.errors import BadInputError, GanhubError

WALK_ROWS = 8           # walks in an --interpolate grid, and keyframes of a --gif loop
WALK_STEPS = 10         # images per walk (endpoints included) / frames from one keyframe to the next
GIF_FRAME_MS = 80
GIF_MIN_SIZE = 128      # GIF frames are enlarged (nearest neighbour, whole pixels) to at least this


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise BadInputError(f"steps must be an integer >= 2 (a walk includes both endpoints), got {steps!r}")
    return int(steps)


def _method(generator, method):
    from ganhub.latent import METHODS, method_for
    if method is None:
        try:
            return method_for(generator.z_distribution)
        except ValueError as exc:
            raise BadInputError(f"{exc}; pass method='slerp' or 'lerp'") from None
    if method not in METHODS:
        raise BadInputError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")
    return method


def endpoint_latent(generator, z, what="z0"):
    """An integer seed s → sample_latents(1, s)[0] (the latent of sample(n, seed=s)[0]); an array
    of shape [z_dim] or [n, z_dim] → itself as float32."""
    import numpy as np
    if isinstance(z, numbers.Integral) and not isinstance(z, bool):
        if z < 0:
            raise BadInputError(f"{what}: a seed must be >= 0, got {z}")
        return generator.sample_latents(1, int(z))[0]
    try:
        arr = np.asarray(z, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a latent vector [z_dim], a batch [n, z_dim] or an "
                            f"integer seed, got {type(z).__name__}") from None
    if arr.ndim not in (1, 2) or arr.shape[-1] != generator.z_dim or arr.size == 0:
        raise BadInputError(f"{what} must have shape [{generator.z_dim}] or [n, {generator.z_dim}], "
                            f"got {list(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise BadInputError(f"{what} contains NaN or inf")
    return arr


def interpolate(generator, z0, z1, steps, method=None, batch_size=settings.SAMPLE_BATCH_SIZE):
    """Images uint8 [steps, H, W, C] from z0 to z1 ([n, steps, H, W, C] for [n, z_dim] endpoints);
    see Generator.interpolate."""
    from ganhub.images import to_uint8
    from ganhub.latent import walk

    steps = _check_steps(steps)
    method = _method(generator, method)
    a, b = endpoint_latent(generator, z0, "z0"), endpoint_latent(generator, z1, "z1")
    if a.shape != b.shape:
        raise BadInputError(f"z0 and z1 must have the same shape, got {list(a.shape)} and {list(b.shape)}")
    latents = walk(a, b, steps, method)
    images = to_uint8(generator(latents.reshape(-1, generator.z_dim), batch_size=batch_size))
    return images.reshape(latents.shape[:-1] + tuple(images.shape[1:]))


def grid_latents(generator, walks, steps, seed, method=None):
    """[walks, steps, z_dim]: row r walks from sample_latents(walks + 1, seed)[r] to [r + 1], so the
    first column shows `sample(walks, seed)` and each row ends where the next one starts."""
    from ganhub.latent import walk
    keyframes = generator.sample_latents(walks + 1, seed)
    return walk(keyframes[:-1], keyframes[1:], _check_steps(steps), _method(generator, method))


def gif_latents(generator, keyframes, steps, seed, method=None):
    """[keyframes · steps, z_dim]: a loop through sample_latents(keyframes, seed), ``steps`` frames
    from each keyframe to the next and from the last back to the first."""
    from ganhub.latent import keyframe_walk
    if keyframes < 2:
        raise BadInputError(f"a walk needs at least 2 keyframes, got {keyframes}")
    return keyframe_walk(generator.sample_latents(keyframes, seed), _check_steps(steps),
                         _method(generator, method), loop=True)


def render(generator, latents, batch_size=settings.SAMPLE_BATCH_SIZE, progress=None):
    """uint8 images for latents [..., z_dim], generated ``batch_size`` at a time."""
    import numpy as np

    from ganhub.images import to_uint8
    flat = np.asarray(latents, np.float32).reshape(-1, generator.z_dim)
    out = []
    for start in range(0, len(flat), batch_size):
        out.append(to_uint8(generator(flat[start:start + batch_size], batch_size=batch_size)))
        if progress is not None:
            progress.update(len(out[-1]))
    images = np.concatenate(out)
    return images.reshape(np.shape(latents)[:-1] + images.shape[1:])


def enlarge(images, min_size=GIF_MIN_SIZE):
    """Repeat pixels by the smallest whole factor that makes the shorter side >= min_size."""
    h, w = images.shape[-3:-1]
    factor = max(1, -(-min_size // min(h, w)))
    return images.repeat(factor, axis=-3).repeat(factor, axis=-2) if factor > 1 else images


def gif_bytes(frames, frame_ms=GIF_FRAME_MS):
    """uint8 frames [F, H, W, C] → the bytes of a looping GIF."""
    import io

    import numpy as np
    from PIL import Image

    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in np.asarray(frames)]
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=int(frame_ms), loop=0, optimize=False)
    return out.getvalue()


def save_gif(frames, path, frame_ms=GIF_FRAME_MS):
    """Write uint8 frames [F, H, W, C] as a looping GIF, atomically (temp file, then rename)."""
    path = Path(path)
    data = gif_bytes(frames, frame_ms)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise GanhubError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 → what open() would have given
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise GanhubError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def walk_strip_gif(generator, tiles=4, keyframes=3, steps=8, seed=settings.SAMPLE_SEED,
                   batch_size=settings.SAMPLE_BATCH_SIZE):
    """GIF bytes of ``tiles`` looping walks side by side (the model card of `ganhub serve`): tile i
    loops through sample_latents(tiles · keyframes, seed)[i · keyframes : (i + 1) · keyframes]."""
    from ganhub.images import make_grid
    from ganhub.latent import keyframe_walk

    method = _method(generator, None)
    keys = generator.sample_latents(tiles * keyframes, seed).reshape(tiles, keyframes, -1)
    latents = [keyframe_walk(k, _check_steps(steps), method, loop=True) for k in keys]
    images = render(generator, latents, batch_size)           # [tiles, frames, H, W, C]
    frames = [make_grid(images[:, f], ncols=tiles) for f in range(images.shape[1])]
    return gif_bytes(frames)


def method_of(generator):
    """The interpolation a generator's z distribution calls for (slerp for normal, lerp for uniform)."""
    return _method(generator, None)
