"""Random access into TFRecord files: an offset index and a thread-safe record reader.

TFRecord framing: uint64 length (little-endian), uint32 masked CRC of the length, ``length`` bytes of
data, uint32 masked CRC of the data. tf.data can only stream records; batch t of a resumable run
needs records by index, so the files are scanned once for offsets and read with ``os.pread``.
CRCs are not verified (a corrupt record fails at image decoding instead).
"""
import os
import struct

import numpy as np

from ganhub.errors import RecordIndexError

_HEADER = 12  # length (8) + length CRC (4)
_FOOTER = 4


def scan(path):
    """(offsets, lengths) of the data of every record in one TFRecord file."""
    offsets, lengths = [], []
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(_HEADER)
            if len(header) < _HEADER:
                raise RecordIndexError(f"{path}: truncated record header at byte {pos}")
            (length,) = struct.unpack("<Q", header[:8])
            start = pos + _HEADER
            pos = start + length + _FOOTER
            if pos > size:
                raise RecordIndexError(f"{path}: record at byte {start - _HEADER} runs past the end")
            offsets.append(start)
            lengths.append(length)
    return np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)


def write(path, records):
    """Write byte strings as a TFRecord file (via TensorFlow, so CRCs are real). Tests and tools."""
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


class RecordReader:
    """Records of several files addressed by one global index (file order, then record order)."""

    def __init__(self, paths):
        self.paths = [str(p) for p in paths]
        file_ids, offsets, lengths = [], [], []
        for i, path in enumerate(self.paths):
            o, n = scan(path)
            file_ids.append(np.full(len(o), i, np.int64))
            offsets.append(o)
            lengths.append(n)
        self.file_ids = np.concatenate(file_ids) if file_ids else np.zeros(0, np.int64)
        self.offsets = np.concatenate(offsets) if offsets else np.zeros(0, np.int64)
        self.lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        self._fds = {}

    def __len__(self):
        return len(self.offsets)

    def _fd(self, file_id):
        fd = self._fds.get(file_id)
        if fd is None:
            fd = self._fds.setdefault(file_id, os.open(self.paths[file_id], os.O_RDONLY))
        return fd

    def read(self, indices):
        """Records at ``indices`` as a numpy object array of bytes (pread: safe across threads)."""
        out = np.empty(len(indices), dtype=object)
        for k, i in enumerate(np.asarray(indices, np.int64)):
            out[k] = os.pread(self._fd(int(self.file_ids[i])), int(self.lengths[i]),
                              int(self.offsets[i]))
        return out

    def first(self):
        return self.read([0])[0]

    def close(self):
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass
