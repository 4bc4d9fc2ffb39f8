"""Interpolation between latent vectors: straight lines for uniform z, great circles for normal z.

Pure numpy, no TensorFlow. All functions take z0, z1 of shape [z_dim] or [n, z_dim] and compute in
float64; the endpoints of a walk are z0 and z1 bit for bit (so a walk's first and last images are
the images `Generator.sample` gives for the same latents).

Why two kinds: a uniform z lives in the cube [low, high]^d, which is convex, so the straight line
(lerp) stays inside it. A normal z in high dimension concentrates on a thin shell of radius about
σ√d; the straight line between two such vectors cuts through the shell's interior (at t = ½ its
norm is about 1/√2 of theirs), where the generator saw no training latents. The spherical path
(slerp, White 2016, "Sampling Generative Networks") keeps the norm of two equal-norm endpoints.
"""
import numpy as np

METHODS = ("slerp", "lerp")
# Below this sine of the angle the two directions are treated as parallel or antiparallel, where the
# great circle is undefined (antiparallel) or numerically the straight line (parallel).
_MIN_SIN = 1e-7


def method_for(distribution):
    """'slerp' for a normal z distribution, 'lerp' for a uniform one (see the module docstring)."""
    name = (distribution or {}).get("name", "uniform")
    if name == "normal":
        return "slerp"
    if name == "uniform":
        return "lerp"
    raise ValueError(f"no interpolation rule for the z distribution {distribution!r}")


def _endpoints(z0, z1):
    a = np.asarray(z0, dtype=np.float64)
    b = np.asarray(z1, dtype=np.float64)
    if a.shape != b.shape or a.ndim == 0 or a.shape[-1] == 0:
        raise ValueError(f"z0 and z1 must have the same shape [z_dim] or [n, z_dim], got "
                         f"{a.shape} and {b.shape}")
    return a, b


def _as_t(t, a):
    """t as float64 broadcast against the rows of a: [..., 1] so it scales whole vectors."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim > 1:
        raise ValueError(f"t must be a number or a 1-D array, got shape {t.shape}")
    return t[..., None] if t.ndim == 1 else t


def lerp(z0, z1, t):
    """(1 - t)·z0 + t·z1.

    Shapes: z0, z1 [z_dim] or [n, z_dim]; t a scalar or [m]. A scalar t gives z0's shape; t of
    shape [m] gives [m, z_dim] for 1-D endpoints and, for 2-D endpoints, pairs row i with t[i]
    (m = n).
    """
    a, b = _endpoints(z0, z1)
    t = _as_t(t, a)
    return (1.0 - t) * a + t * b


def slerp(z0, z1, t):
    """Spherical interpolation: (sin((1-t)Ω)·z0 + sin(tΩ)·z1) / sin Ω, with Ω the angle between z0
    and z1 (White 2016).

    Shapes as in lerp. Where the endpoints are (nearly) parallel or antiparallel, or one is zero,
    the great circle is undefined and lerp is used. Unlike StyleGAN's slerp (Karras et al. 2019),
    the result is not projected onto the unit sphere: ganhub's generators take z as drawn, without
    a normalising mapping network, so the norm must stay that of the endpoints.
    """
    a, b = _endpoints(z0, z1)
    t = _as_t(t, a)
    norm_a = np.linalg.norm(a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / (norm_a * norm_b), -1.0, 1.0)
    cos = np.where(np.isfinite(cos), cos, 1.0)  # a zero endpoint: fall back to lerp below
    omega = np.arccos(cos)
    sin = np.sin(omega)
    degenerate = sin < _MIN_SIN
    safe_sin = np.where(degenerate, 1.0, sin)
    spherical = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / safe_sin
    straight = (1.0 - t) * a + t * b
    return np.where(degenerate, straight, spherical)


def interpolate(z0, z1, t, method):
    """slerp or lerp by name."""
    if method == "slerp":
        return slerp(z0, z1, t)
    if method == "lerp":
        return lerp(z0, z1, t)
    raise ValueError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")


def walk(z0, z1, steps, method):
    """``steps`` latents from z0 to z1 at t = 0, 1/(steps-1), ..., 1, float32.

    z0, z1 [z_dim] → [steps, z_dim]; [n, z_dim] → [n, steps, z_dim]. The first and last latents are
    z0 and z1 exactly (set, not computed, so no rounding can move them).
    """
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"a walk needs at least 2 steps (its two endpoints), got {steps}")
    a, b = _endpoints(z0, z1)
    if a.ndim > 2:
        raise ValueError(f"z0 and z1 must have shape [z_dim] or [n, z_dim], got {a.shape}")
    t = np.linspace(0.0, 1.0, steps)
    if a.ndim == 2:  # every row at every t: [n, 1, z_dim] against t[:, None] of shape [steps, 1]
        a, b = a[:, None, :], b[:, None, :]
    out = interpolate(a, b, t, method)
    out = out.astype(np.float32)
    out[..., 0, :] = np.asarray(z0, dtype=np.float32)
    out[..., -1, :] = np.asarray(z1, dtype=np.float32)
    return out


def keyframe_walk(keyframes, steps_between, method, loop=False):
    """A walk through several latents [k, z_dim]: ``steps_between`` latents from each keyframe to
    the next (the next keyframe not repeated), then the last keyframe; with ``loop``, back to the
    first (which is then left out at the end, so the sequence repeats seamlessly) → [frames, z_dim].
    """
    keyframes = np.asarray(keyframes, dtype=np.float32)
    if keyframes.ndim != 2 or len(keyframes) < 2:
        raise ValueError(f"keyframes must be [k >= 2, z_dim], got shape {keyframes.shape}")
    ends = np.roll(keyframes, -1, axis=0) if loop else keyframes[1:]
    starts = keyframes if loop else keyframes[:-1]
    segments = walk(starts, ends, steps_between + 1, method)[:, :-1]
    frames = segments.reshape(-1, keyframes.shape[1])
    return frames if loop else np.concatenate([frames, keyframes[-1:]])
