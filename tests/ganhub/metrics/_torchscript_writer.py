"""Writes small TorchScript-like archives (zip: data.pkl + data/<key>) without torch, for tests.

The pickle is emitted opcode by opcode in the layout torch.jit.save uses (protocol 2): scripted
modules as GLOBAL __torch__.<type> + NEWOBJ + BUILD(dict), tensors as
torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()),
List[int] attributes as torch.jit._pickle.build_intlist([...]).
"""
import struct
import zipfile

import numpy as np

STORAGE_TYPES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.int64): "LongStorage"}


class Module:
    def __init__(self, type_name, **attrs):
        self.type_name = type_name
        self.attrs = attrs


class Tensor:
    def __init__(self, key, storage, offset, shape, stride):
        self.key, self.storage = str(key), np.ascontiguousarray(storage).ravel()
        self.offset, self.shape, self.stride = offset, tuple(shape), tuple(stride)

    @classmethod
    def of(cls, key, array):
        array = np.ascontiguousarray(array)
        strides = tuple(s // array.itemsize for s in array.strides)
        return cls(key, array.ravel(), 0, array.shape, strides)


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(s):
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(i):
    return b"J" + struct.pack("<i", i)


def _tuple(items):
    return b"(" + b"".join(_emit(i) for i in items) + b"t"


def _emit(obj):
    if isinstance(obj, Module):
        module, name = obj.type_name.rsplit(".", 1)
        items = b"".join(_str(k) + _emit(v) for k, v in obj.attrs.items())
        return _global(module, name) + b")\x81}(" + items + b"ub"
    if isinstance(obj, Tensor):
        pid = (b"(" + _str("storage") + _global("torch", STORAGE_TYPES[obj.storage.dtype])
               + _str(obj.key) + _str("cpu") + _int(obj.storage.size) + b"tQ")
        args = (b"(" + pid + _int(obj.offset) + _tuple(obj.shape) + _tuple(obj.stride) + b"\x89"
                + _global("collections", "OrderedDict") + b")R" + b"t")
        return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        return _int(obj)
    if isinstance(obj, str):
        return _str(obj)
    if obj is None:
        return b"N"
    if isinstance(obj, list):
        return _global("torch.jit._pickle", "build_intlist") + b"](" + b"".join(_int(i) for i in obj) + b"e\x85R"
    raise TypeError(type(obj))


def _tensors(obj, out):
    if isinstance(obj, Module):
        for v in obj.attrs.values():
            _tensors(v, out)
    elif isinstance(obj, Tensor):
        out[obj.key] = obj.storage
    return out


def write_torchscript(path, root, prefix="archive", raw_pickle=None):
    pickled = raw_pickle if raw_pickle is not None else b"\x80\x02" + _emit(root) + b"."
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{prefix}/data.pkl", pickled)
        z.writestr(f"{prefix}/version", "3\n")
        for key, storage in (_tensors(root, {}) if root is not None else {}).items():
            z.writestr(f"{prefix}/data/{key}", storage.astype(storage.dtype.newbyteorder("<")).tobytes())
    return path
