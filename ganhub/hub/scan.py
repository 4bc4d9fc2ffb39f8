"""Admit only SavedModels whose graphs do what a generator does: an op allowlist, not a blocklist.

Parses saved_model.pb directly (no graph is built, nothing is executed) and checks every node of
every meta graph's graph_def and of every function in its library against ``GENERATOR_OPS``. The
checkpoint ops a SavedModel needs (SaveV2, RestoreV2, MergeV2Checkpoints, ...) are admitted only in
the saver that TF writes: the graph nodes that ``saver_def``'s save tensor and restore op depend on
(TF1: the ``save/...`` nodes) and the functions only they call (TF2:
``__inference__traced_save_*`` / ``__inference__traced_restore_*``), and there only when the
checkpoint path they use comes from the saver's filename input (not a constant path, no ``..``).
Anything else (file, dataset, debug, summary, proto, queue and host-code ops, a call to a function
that is not in the library) is refused, naming the op and where it sits; ``trust=True`` skips the
check.

The list was derived by scanning the SavedModels ganhub exports for all four architectures
(SNDCGAN, DCGAN, ResNet19, ResNet-CIFAR), the shipped default model and the TF1 Hub format fixture
of the tests, then widened with closely related math ops (see ``OP_GROUPS``: one reason per group).
"""
from pathlib import Path

from ganhub.errors import InvalidModuleError, UntrustedModuleError

# Bump when the rules change: cached verdicts (cache scan.json) of another version are recomputed.
SCAN_VERSION = 2

# group -> (why a generator may use it, ops). Ops marked "seen" occur in ganhub's own exports or the
# TF1 fixture; the rest are their close relatives (other dtypes/versions of the same math).
OP_GROUPS = {
    "graph plumbing": (
        "constants, inputs, identities, no-ops and shape/value assertions every graph has "
        "(TF1 layers add Assert nodes); function calls (the callee must be a library function and "
        "is checked itself)",
        {"Const", "Identity", "IdentityN", "NoOp", "Placeholder", "PlaceholderWithDefault",
         "StopGradient", "PreventGradient", "Snapshot", "EnsureShape", "CheckNumerics",
         "CheckNumericsV2", "Assert", "PartitionedCall", "StatefulPartitionedCall"}),
    "variables": (
        "create, initialize, read and assign the module's own variables in memory (resource and "
        "TF1 ref variables)",
        {"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
         "AssignAddVariableOp", "AssignSubVariableOp", "DestroyResourceOp", "ResourceGather",
         "VariableV2", "Variable", "Assign", "AssignAdd", "AssignSub", "IsVariableInitialized"}),
    "elementwise math": (
        "arithmetic, activations (ReLU, leaky ReLU, tanh, sigmoid), comparisons and casts of "
        "generator layers and their output scaling",
        {"Add", "AddV2", "AddN", "Sub", "Mul", "Div", "RealDiv", "DivNoNan", "FloorDiv", "FloorMod",
         "Maximum", "Minimum", "Neg", "Abs", "Sign", "Square", "Sqrt", "Rsqrt", "Reciprocal",
         "Inv", "Exp", "Expm1", "Log", "Log1p", "Pow", "SquaredDifference", "Floor", "Ceil",
         "Round", "Rint", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "Relu6", "LeakyRelu", "Elu",
         "Selu", "Softplus", "Softsign", "Erf", "Cast", "Equal", "NotEqual", "Less", "LessEqual",
         "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "Select", "SelectV2",
         "ClipByValue", "IsFinite", "IsNan", "IsInf", "ZerosLike", "OnesLike"}),
    "linear algebra and reductions": (
        "dense layers, spectral norm's power iteration, batch moments and softmax",
        {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "BiasAdd",
         "BiasAddV1", "Sum", "Mean", "Prod", "Max", "Min", "ArgMax", "ArgMin", "All", "Any",
         "L2Loss", "Softmax", "LogSoftmax", "Cumsum"}),
    "convolution and resampling": (
        "convolutions, transposed convolutions (DCGAN/SNDCGAN upsampling), pooling and the "
        "resizes/pixel shuffles of ResNet upsampling blocks",
        {"Conv2D", "Conv2DBackpropInput", "DepthwiseConv2dNative", "MaxPool", "AvgPool",
         "ResizeNearestNeighbor", "ResizeBilinear", "DepthToSpace", "SpaceToDepth"}),
    "normalization": (
        "batch norm in inference and training form (fused kernels; unfused it is Mean, "
        "SquaredDifference, Rsqrt, Mul, Sub above)",
        {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
         "BatchNormWithGlobalNormalization"}),
    "shapes and indexing": (
        "reshape z into feature maps, concatenate, slice, tile, pad and broadcast tensors",
        {"Shape", "ShapeN", "Size", "Rank", "Reshape", "Squeeze", "ExpandDims", "Transpose",
         "ConcatV2", "Concat", "ConcatOffset", "Pack", "Unpack", "Split", "SplitV", "Slice",
         "StridedSlice", "Tile", "Pad", "PadV2", "MirrorPad", "Fill", "Range", "BroadcastTo",
         "BroadcastArgs", "BroadcastGradientArgs", "GatherV2", "Gather", "GatherNd", "ReverseV2",
         "OneHot"}),
    "random numbers": (
        "variable initializers in TF1 graphs and latent sampling inside a module; they draw "
        "numbers and touch nothing else",
        {"RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
         "StatelessRandomUniform", "StatelessRandomNormal", "StatelessTruncatedNormal",
         "StatelessRandomUniformV2", "StatelessRandomNormalV2", "StatelessTruncatedNormalV2",
         "StatelessRandomGetKeyCounter", "StatelessRandomGetKeyCounterAlg",
         "StatelessRandomGetAlg"}),
    "control flow": (
        "conditionals and loops over the ops above (TF2 branches/bodies are library functions, "
        "checked themselves; TF1 uses the frame ops)",
        {"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", "Switch",
         "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "ControlTrigger"}),
}

GENERATOR_OPS = frozenset().union(*(ops for _, ops in OP_GROUPS.values()))

SAVER_OP_GROUP = (
    "the checkpoint save/restore that TF writes into every SavedModel; admitted only in its saver "
    "graph nodes and functions, with the checkpoint path taken from the saver's filename input",
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
     "StaticRegexFullMatch", "DisableCopyOnRead"})
SAVER_OPS = frozenset(SAVER_OP_GROUP[1])
# Ops whose first input is a checkpoint path: it must come from the saver's filename input.
_PATH_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})
_DT_STRING = 7


def admitted_ops():
    """{group: (reason, sorted ops)} of every op the scan admits, the saver group included."""
    groups = {name: (why, sorted(ops)) for name, (why, ops) in OP_GROUPS.items()}
    groups["checkpoint saver (saver only)"] = (SAVER_OP_GROUP[0], sorted(SAVER_OPS))
    return groups


def _read_saved_model(directory):
    from tensorflow.core.protobuf import saved_model_pb2  # the proto only; no graph is built

    directory = Path(directory)
    proto = saved_model_pb2.SavedModel()
    pb = directory / "saved_model.pb"
    try:
        if pb.is_file():
            proto.ParseFromString(pb.read_bytes())
        else:
            from google.protobuf import text_format
            text_format.Parse((directory / "saved_model.pbtxt").read_text(encoding="utf-8"), proto)
    except FileNotFoundError:
        raise InvalidModuleError(f"{directory} is not a SavedModel directory (no saved_model.pb)") from None
    except Exception as exc:  # protobuf's DecodeError and text_format's ParseError
        raise InvalidModuleError(f"{directory}/saved_model.pb cannot be parsed: {exc}") from None
    return proto


def _source(ref):
    """'name:output:0' / 'name:0' / '^name' / 'name' -> 'name'."""
    return ref.lstrip("^").split(":", 1)[0]


def _called(node):
    """Names of the functions a node calls through its attributes (f, then_branch, body, ...)."""
    names = []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        if value.HasField("list"):
            names.extend(f.name for f in value.list.func)
    return names


def _reach(start, successors):
    """Every name reachable from ``start`` (included) by following ``successors(name)``."""
    seen, stack = set(), list(start)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(n for n in successors(name) if n not in seen)
    return seen


def _closure(nodes, roots):
    """Names of ``roots`` and every node they depend on, through data and control inputs."""
    return _reach([r for r in roots if r in nodes],
                  lambda name: [s for s in map(_source, nodes[name].input) if s in nodes])


def _data_sources(nodes, ref):
    """Every name (node or function argument) the data input ``ref`` depends on."""
    return _reach([_source(ref)], lambda name: [_source(r) for r in nodes[name].input
                                                 if not r.startswith("^")] if name in nodes else [])


def _reachable_functions(start, library):
    """Every library function reachable from the function names in ``start``."""
    return _reach([f for f in start if f in library],
                  lambda name: [c for node in library[name].node_def
                                for c in _called(node) + [node.op] if c in library])


def _functions_called_by(nodes, names, library):
    start = []
    for name in names:
        start += [f for f in _called(nodes[name]) + [nodes[name].op] if f in library]
    return _reachable_functions(start, library)


def _bad_string_constant(node):
    """A string constant in a saver that names a path outside the module (absolute, or with '..')."""
    if node.op != "Const" or node.attr["dtype"].type != _DT_STRING:
        return None
    for raw in node.attr["value"].tensor.string_val:
        text = raw.decode("utf-8", "replace")
        if text.startswith(("/", "\\")) or ".." in text.replace("\\", "/").split("/"):
            return text
    return None


def _check_nodes(found, nodes, allowed, where, library, *, path_sources=None, graph=None):
    """Add (op, where) to ``found`` for every node of ``nodes`` (name -> NodeDef) not admitted;
    ``graph`` (default ``nodes``) is where checkpoint paths are traced back."""
    graph = nodes if graph is None else graph
    for name, node in nodes.items():
        op = node.op
        for callee in _called(node):
            if callee not in library:
                found.add((f"{op}->{callee}", f"{where}, node {name!r} calls {callee!r}, which is "
                                               f"not a function of this SavedModel"))
        if op in library:
            continue  # a direct call of a library function, checked on its own
        if op not in allowed:
            found.add((op, f"{where}, node {name!r}"))
            continue
        if path_sources is not None:
            bad = _bad_string_constant(node)
            if bad is not None:
                found.add((op, f"{where}, node {name!r}: checkpoint path constant {bad[:80]!r}"))
            if op in _PATH_OPS and node.input:
                if not (_data_sources(graph, node.input[0]) & path_sources):
                    found.add((op, f"{where}, node {name!r}: its checkpoint path does not come "
                                   f"from the saver's filename input"))


def _scan_meta_graph(meta_graph, found, label):
    graph = meta_graph.graph_def
    library = {f.signature.name: f for f in graph.library.function}
    nodes = {n.name: n for n in graph.node}

    saver = meta_graph.saver_def
    saver_roots = [_source(t) for t in (saver.save_tensor_name, saver.restore_op_name) if t]
    signature_roots = [_source(t.name) for sig in meta_graph.signature_def.values()
                       for t in list(sig.inputs.values()) + list(sig.outputs.values())]
    # Saver nodes: what the save tensor and restore op depend on, and nothing else uses (a node
    # that a signature, an init op or any other node depends on runs outside the saver too).
    saver_closure = _closure(nodes, saver_roots)
    others = [name for name in nodes if name not in saver_closure] + signature_roots
    saver_nodes = saver_closure - _closure(nodes, others)
    filename = _source(saver.filename_tensor_name) if saver.filename_tensor_name else None

    generator_nodes = {k: v for k, v in nodes.items() if k not in saver_nodes}
    _check_nodes(found, generator_nodes, GENERATOR_OPS, f"{label}graph", library)
    _check_nodes(found, {k: nodes[k] for k in saver_nodes}, GENERATOR_OPS | SAVER_OPS,
                 f"{label}graph (saver)", library,
                 path_sources={filename} if filename else set(), graph=nodes)

    # Functions the generator side can reach (graph nodes, the object graph's functions, and any
    # function nobody calls) get the generator list; only those called solely by the saver's
    # graph nodes get the saver ops too.
    from_saver = _functions_called_by(nodes, saver_nodes, library)
    object_graph = set(meta_graph.object_graph_def.concrete_functions.keys())
    from_generator = (_functions_called_by(nodes, generator_nodes.keys(), library)
                      | _reachable_functions(object_graph, library))
    saver_functions = from_saver - from_generator
    for fname, function in library.items():
        fnodes = {n.name: n for n in function.node_def}
        if fname in saver_functions:
            args = {a.name for a in function.signature.input_arg}
            _check_nodes(found, fnodes, GENERATOR_OPS | SAVER_OPS,
                         f"{label}saver function {fname!r}", library, path_sources=args)
        else:
            _check_nodes(found, fnodes, GENERATOR_OPS, f"{label}function {fname!r}", library)


def find_untrusted_ops(directory):
    """Sorted list of (op, where) for each op outside the allowlist in the SavedModel at
    ``directory`` (empty when every op is admitted)."""
    found = set()
    meta_graphs = _read_saved_model(directory).meta_graphs
    for i, meta_graph in enumerate(meta_graphs):
        tags = ",".join(meta_graph.meta_info_def.tags) or "no tags"
        label = f"meta graph {i} ({tags}) " if len(meta_graphs) > 1 else ""
        _scan_meta_graph(meta_graph, found, label)
    return sorted(found)


def check(directory):
    """Raise UntrustedModuleError naming the first op outside the allowlist."""
    found = find_untrusted_ops(directory)
    if found:
        raise UntrustedModuleError(untrusted_message(directory, found))


def untrusted_message(directory, found):
    ops = sorted({op for op, _ in found})
    op, where = found[0]
    shown = ", ".join(ops[:10]) + (f" and {len(ops) - 10} more" if len(ops) > 10 else "")
    return (f"refusing to load {directory}: its graph contains the op {op} ({where}), which is not "
            f"on ganhub's allowlist of generator ops and could touch files or run code "
            f"(ops outside the allowlist: {shown}); pass trust=True (CLI: --trust) to load it "
            f"anyway if you trust where this module came from")
