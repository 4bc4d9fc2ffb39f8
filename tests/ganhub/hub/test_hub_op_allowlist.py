"""The op scan is an allowlist: every op the blocklist missed is refused with its name and place,
checkpoint ops pass only inside TF's own saver, and trust=True overrides."""
import shutil

import pytest

from ganhub.errors import UntrustedModuleError
from ganhub.hub import scan
from ganhub.hub.resolver import resolve

# The ops that acted under the old blocklist with trust=False (issue 12), each with the attribute
# that made it dangerous where there is one.
MISSED = {
    "SaveV2": {}, "RestoreV2": {}, "LoadAndRemapMatrix": {}, "DebugIdentity": {},
    "DebugIdentityV2": {}, "SqlDataset": {}, "CSVDataset": {}, "MatchingFilesDataset": {},
    "GenerateVocabRemapping": {}, "RecordInput": {}, "DatasetFromGraph": {},
    "MergeV2Checkpoints": {"delete_old_dirs": True},
    "DecodeProtoV2": {"descriptor_source": b"/tmp/ganhub-descriptor"},
}


def _load(directory):
    from tensorflow.core.protobuf import saved_model_pb2
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((directory / "saved_model.pb").read_bytes())
    return proto


def _save(proto, directory):
    (directory / "saved_model.pb").write_bytes(proto.SerializeToString())


def _function(proto, part):
    for function in proto.meta_graphs[0].graph_def.library.function:
        if part in function.signature.name:
            return function
    raise AssertionError(f"no function named like {part!r}")


def _inject(node_list, op, name="injected", attrs=None, inputs=()):
    node = node_list.add()
    node.name, node.op = name, op
    node.input.extend(inputs)
    for key, value in (attrs or {}).items():
        if isinstance(value, bool):
            node.attr[key].b = value
        elif isinstance(value, bytes):
            node.attr[key].s = value
        elif isinstance(value, str):
            node.attr[key].func.name = value
    return node


def _string_const(node_list, name, *values):
    node = node_list.add()
    node.name, node.op = name, "Const"
    node.attr["dtype"].type = 7  # DT_STRING
    tensor = node.attr["value"].tensor
    tensor.dtype = 7
    tensor.string_val.extend(values)
    return node


@pytest.fixture
def crafted(modules, tmp_path):
    """copy() -> (directory, proto) of a fresh copy of the tiny TF2 module."""
    count = [0]

    def copy():
        count[0] += 1
        target = tmp_path / f"crafted{count[0]}"
        shutil.copytree(modules["tiny_dir"], target)
        return target, _load(target)

    return copy


@pytest.mark.parametrize("op", sorted(MISSED))
def test_each_op_the_blocklist_missed_is_refused_in_the_generator(cache, crafted, op):
    directory, proto = crafted()
    serving = _function(proto, "__call__")
    _inject(serving.node_def, op, attrs=MISSED[op])
    _save(proto, directory)
    with pytest.raises(UntrustedModuleError) as info:
        resolve(directory)
    message = str(info.value)
    assert f"the op {op} (function '{serving.signature.name}', node 'injected')" in message
    assert "allowlist" in message and "trust=True" in message
    assert resolve(directory, trust=True).path == directory


def test_dataset_from_graph_hiding_a_file_read_in_a_string_is_refused(cache, crafted, tmp_path):
    """The dataset graph travels as a serialized GraphDef inside a string constant: the scan
    does not need to decode it, since DatasetFromGraph itself is not admitted."""
    from tensorflow.core.framework import graph_pb2

    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    hidden = graph_pb2.GraphDef()
    _string_const(hidden.node, "filenames", str(secret).encode())
    _inject(hidden.node, "TextLineDataset", name="lines", inputs=["filenames"])
    directory, proto = crafted()
    serving = _function(proto, "__call__")
    _string_const(serving.node_def, "graph", hidden.SerializeToString())
    _inject(serving.node_def, "DatasetFromGraph", name="dataset", inputs=["graph:output:0"])
    _save(proto, directory)
    assert ("DatasetFromGraph",) == tuple({op for op, _ in scan.find_untrusted_ops(directory)})
    with pytest.raises(UntrustedModuleError, match="DatasetFromGraph"):
        resolve(directory)


def test_a_real_save_in_the_serving_function_is_refused_before_it_runs(cache, tmp_path):
    """End to end with TensorFlow: SaveV2 in the generator writes a file when sampled (so the
    module really is hostile), and the default load refuses it before anything runs."""
    import numpy as np
    import tensorflow as tf

    import ganhub

    target = tmp_path / "written" / "ckpt"
    target.parent.mkdir()

    class Saving(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones([8, 48]))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="z")])
        def __call__(self, z):
            save = tf.raw_ops.SaveV2(prefix=str(target), tensor_names=["w"],
                                     shape_and_slices=[""], tensors=[self.w.read_value()])
            with tf.control_dependencies([save]):
                return {"images": tf.reshape(tf.sigmoid(z @ self.w), [-1, 4, 4, 3])}

    module = Saving()
    tf.saved_model.save(module, str(tmp_path / "saving"), signatures={"serving_default": module.__call__})
    with pytest.raises(UntrustedModuleError, match="SaveV2"):
        ganhub.load(tmp_path / "saving")
    assert not list(target.parent.iterdir()), "nothing may have run"
    images = ganhub.load(tmp_path / "saving", trust=True).sample(2, seed=0)
    assert images.shape == (2, 4, 4, 3) and images.dtype == np.uint8
    assert list(target.parent.iterdir()), "with trust=True the module runs (and writes)"


def test_the_fixtures_and_the_shipped_default_pass(modules):
    """The TF1 Hub fixture, the test modules and the shipped default contain nothing outside it."""
    from ganhub import settings
    for directory in (modules["tiny_dir"], modules["big_dir"], modules["tf1_dir"],
                      settings.DEFAULT_MODEL_DIR):
        assert scan.find_untrusted_ops(directory) == [], directory


@pytest.mark.parametrize("architecture", ["sndcgan", "dcgan", "resnet19", "resnet_cifar"])
def test_exports_of_every_architecture_pass(tmp_path, architecture):
    """What ganhub exports (tiny width, untrained: the graph is the same) is admitted, and the
    saver's checkpoint ops are found only in TF's saver functions."""
    import tensorflow as tf

    from ganhub.export.savedmodel import write_savedmodel
    from ganhub.training.architectures import build
    from ganhub.training.config import Config

    config = Config(architecture=architecture, resolution=32, width=0.0625, z_dim=16, batch_size=8)
    generator, _ = build(config, 3)
    generator(tf.zeros([2, 16]), training=False)
    out = write_savedmodel(generator, {"z_dim": 16, "name": architecture}, tmp_path / architecture)
    assert scan.find_untrusted_ops(out) == []
    proto = _load(out)
    holders = {f.signature.name for f in proto.meta_graphs[0].graph_def.library.function
               if any(n.op in scan.SAVER_OPS - scan.GENERATOR_OPS for n in f.node_def)}
    assert holders and all("_traced_save_" in h or "_traced_restore_" in h for h in holders)


def test_saver_with_a_constant_checkpoint_path_is_refused(crafted):
    directory, proto = crafted()
    restore = _function(proto, "_traced_restore")
    _string_const(restore.node_def, "elsewhere", b"/home/someone/other/ckpt")
    _inject(restore.node_def, "RestoreV2", name="steal",
            inputs=["elsewhere:output:0", "RestoreV2/tensor_names:output:0",
                    "RestoreV2/shape_and_slices:output:0"])
    _save(proto, directory)
    found = scan.find_untrusted_ops(directory)
    assert any(op == "RestoreV2" and "filename input" in where for op, where in found), found
    assert any("checkpoint path constant" in where for _, where in found), found


def test_saver_path_escaping_with_dotdot_is_refused(crafted):
    directory, proto = crafted()
    save = _function(proto, "_traced_save")
    for node in save.node_def:
        if node.op == "Const" and node.attr["value"].tensor.string_val[:1] == [b"_temp/part"]:
            node.attr["value"].tensor.string_val[0] = b"/../../../../tmp/x"
    _save(proto, directory)
    found = scan.find_untrusted_ops(directory)
    assert found and all("_traced_save" in where for _, where in found), found


def test_saver_function_called_from_the_generator_loses_its_checkpoint_ops(crafted):
    directory, proto = crafted()
    save = _function(proto, "_traced_save")
    serving = _function(proto, "__call__")
    _inject(serving.node_def, "StatefulPartitionedCall", name="call_save",
            attrs={"f": save.signature.name})
    _save(proto, directory)
    ops = {op for op, where in scan.find_untrusted_ops(directory)}
    assert {"SaveV2", "MergeV2Checkpoints"} <= ops


def test_calling_a_primitive_op_through_a_function_attribute_is_refused(crafted):
    """PartitionedCall(f=ReadFile) would run ReadFile: a callee must be a library function."""
    directory, proto = crafted()
    serving = _function(proto, "__call__")
    _inject(serving.node_def, "PartitionedCall", name="sneaky", attrs={"f": "ReadFile"})
    _save(proto, directory)
    found = scan.find_untrusted_ops(directory)
    assert [op for op, _ in found] == ["PartitionedCall->ReadFile"], found
    assert "not a function of this SavedModel" in found[0][1]


def test_checkpoint_ops_outside_the_tf1_saver_are_refused(modules, tmp_path):
    directory = tmp_path / "tf1"
    shutil.copytree(modules["tf1_dir"], directory)
    proto = _load(directory)
    graph = proto.meta_graphs[0].graph_def
    _inject(graph.node, "RestoreV2", name="generator/steal",
            inputs=["save/Const", "save/RestoreV2/tensor_names", "save/RestoreV2/shape_and_slices"])
    _save(proto, directory)
    assert scan.find_untrusted_ops(directory) == [("RestoreV2", "graph, node 'generator/steal'")]


def test_a_cached_verdict_of_the_old_blocklist_is_not_trusted(cache, modules, crafted):
    """scan.json written by the blocklist said [] for modules the allowlist refuses."""
    import json

    from ganhub.export import package

    from ganhub.hub import cache as hub_cache

    directory, proto = crafted()
    _inject(_function(proto, "__call__").node_def, "SaveV2")
    _save(proto, directory)
    packed = directory.with_suffix(".tar.gz")
    sha = package.pack(directory, packed)
    with pytest.raises(UntrustedModuleError):
        resolve(packed)
    (hub_cache.entry_dir(sha) / "scan.json").write_text(json.dumps({"untrusted_ops": []}))
    with pytest.raises(UntrustedModuleError, match="SaveV2"):
        resolve(packed)


def test_allowlist_groups_each_have_a_reason():
    groups = scan.admitted_ops()
    assert all(why and ops for why, ops in groups.values())
    every = [op for _, ops in groups.values() for op in ops]
    assert len(every) == len(set(every)), "an op listed twice"
    for forbidden in MISSED:
        assert forbidden not in scan.GENERATOR_OPS


def test_a_saver_node_that_another_node_also_runs_loses_its_checkpoint_ops(modules, tmp_path):
    """A SaveV2 wired into the TF1 saver's restore op but also run by an init op is not saver-only:
    at init the filename input holds its default, and the save would write beside the caller."""
    directory = tmp_path / "tf1"
    shutil.copytree(modules["tf1_dir"], directory)
    proto = _load(directory)
    graph = proto.meta_graphs[0].graph_def
    _inject(graph.node, "SaveV2", name="save/SaveV2_extra",
            inputs=["save/ShardedFilename", "save/SaveV2/tensor_names",
                    "save/SaveV2/shape_and_slices", "generator/w/Read/ReadVariableOp"])
    restore_all = next(n for n in graph.node if n.name == "save/restore_all")
    restore_all.input.append("^save/SaveV2_extra")
    _save(proto, directory)
    assert scan.find_untrusted_ops(directory) == [], "inside the saver alone it is admitted"
    _inject(graph.node, "NoOp", name="init_extra", inputs=["^save/SaveV2_extra"])
    _save(proto, directory)
    found = scan.find_untrusted_ops(directory)
    assert ("SaveV2", "graph, node 'save/SaveV2_extra'") in found, found
    assert all(op in ("SaveV2", "ShardedFilename", "StringJoin", "StaticRegexFullMatch")
               for op, _ in found), found
