"""Run by test_multiworker.py in a fresh process (one per worker, plus one single-process reference).

    multiworker_worker.py MODE DATA_DIR MODEL_DIR WEIGHTS_OUT

MODE ``multi_worker``: the strategy is ``training.distribute.make_strategy("multi_worker")`` (the
cluster comes from TF_CONFIG, as for ``ganhub train --strategy multi_worker``). MODE ``mirrored``:
one process, MirroredStrategy over 2 logical CPUs, i.e. the same 2-replica split of the same global
batch without a cluster. Trains the tiny SNDCGAN with ``training.loop.Trainer``, saves the
generator's weights to WEIGHTS_OUT (.npz) and prints one JSON line: losses, step, chief flag and a
checksum of the generator variables.
"""
import hashlib
import json
import sys

import numpy as np
import tensorflow as tf

MODE, DATA_DIR, MODEL_DIR, WEIGHTS_OUT = sys.argv[1:5]

if MODE == "mirrored":  # logical devices must be configured before TensorFlow initializes
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from ganhub.training import Config  # noqa: E402
from ganhub.training.distribute import make_strategy  # noqa: E402
from ganhub.training.loop import Trainer  # noqa: E402

# tests/conftest.py's TINY_CONFIG: SNDCGAN width 1/16, global batch 8, z_dim 16, 3 steps
config = Config(data_dir=DATA_DIR, width=0.0625, batch_size=8, steps=3, checkpoint_every=2,
                z_dim=16)

if MODE == "multi_worker":
    strategy = make_strategy("multi_worker")
else:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

trainer = Trainer(config, MODEL_DIR, strategy=strategy)
result = trainer.run(progress=False)


def _generator_weights(checkpoint):
    """The generator's variables as saved in ``checkpoint`` (keys: object-graph paths, unique)."""
    reader = tf.train.load_checkpoint(checkpoint)
    return {key: reader.get_tensor(key) for key in sorted(reader.get_variable_to_shape_map())
            if key.startswith("generator/") and key.endswith("VARIABLE_VALUE")}


# what this worker saved: the initial (step 0) and final (step 3) checkpoints
saved = trainer.manager.checkpoints
np.savez(WEIGHTS_OUT, **_generator_weights(saved[-1]))
np.savez(WEIGHTS_OUT.replace(".npz", ".init.npz"), **_generator_weights(saved[0]))
digest = hashlib.sha256()  # of the live variables, in the (same) order both workers built them
for v in trainer.generator.variables:
    digest.update(v.name.encode())
    digest.update(np.ascontiguousarray(v.numpy(), np.float32).tobytes())
print(json.dumps({
    "mode": MODE, "replicas": strategy.num_replicas_in_sync, "is_chief": trainer.is_chief,
    "step": result["step"], "d_loss": result["d_loss"], "g_loss": result["g_loss"],
    "penalty": result["penalty"], "checksum": digest.hexdigest(),
    "checkpoint_dir": str(trainer.manager.directory), "checkpoints": saved,
    "variable_kind": type(trainer.generator.trainable_variables[0]).__name__,
}), flush=True)
