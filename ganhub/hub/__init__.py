"""Hub client: resolve handles to local modules, with a verified download cache, and serve a hub.

``resolve(handle, offline=None, trust=False)`` is the entry point (see resolver.py). Nothing here
imports TensorFlow at import time.
"""


def resolve(handle, *, offline=None, trust=False):
    from ganhub.hub.resolver import resolve as _resolve
    return _resolve(handle, offline=offline, trust=trust)
