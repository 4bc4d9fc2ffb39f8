"""``tf``, imported on first use: concept modules (losses, penalties) declare their registries
without importing TensorFlow, so config validation and the CLI's choices, which derive from those
registries, stay fast (importing TensorFlow takes seconds)."""


class _LazyTensorFlow:
    def __getattr__(self, name):
        import tensorflow
        return getattr(tensorflow, name)


tf = _LazyTensorFlow()
