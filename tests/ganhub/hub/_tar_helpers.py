"""Writing tar members by hand, hostile ones included (a shared test helper, not a conftest)."""
import io
import tarfile


def add_member(tar, name, data=None, **attrs):
    """Add member ``name`` to the open ``tar``: a regular file holding ``data``, or, when data is
    None, whatever ``attrs`` (TarInfo attributes: type, linkname, mode, …) make it."""
    info = tarfile.TarInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)
