"""tf.distribute strategies by name, for ``ganhub train --strategy`` and ``training.train``.

- ``default``: one device (whatever TensorFlow picks: the GPU if there is one, else the CPU).
- ``mirrored``: all local GPUs (or the devices named in ``devices``), synchronous all-reduce.
- ``multi_worker``: MultiWorkerMirroredStrategy; the cluster comes from the ``TF_CONFIG``
  environment variable, as for any TensorFlow multi-worker job. Every worker runs the same command.
- ``tpu``: TPUStrategy; ``tpu`` names the TPU (empty: the one of this Cloud TPU VM / Colab).

How batches, losses and BN statistics are split across replicas: see ``training.steps``.
"""
from ganhub.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name="default", devices=None, tpu=""):
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
