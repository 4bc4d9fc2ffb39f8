"""Refuse SavedModels whose graphs touch the file system or run host code.

Parses saved_model.pb directly (no graph is built, nothing is executed) and looks at every node of
every meta graph and of every function in their libraries. Checkpoint ops (SaveV2, RestoreV2,
MergeV2Checkpoints) are not on the list: every SavedModel carries them in its saver functions, and
they only touch the module's own variables directory.
"""
from pathlib import Path

from ganhub.errors import InvalidModuleError, UntrustedModuleError

UNTRUSTED_OPS = frozenset({
    # read or write arbitrary files
    "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "ImmutableConst",
    "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
    "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2",
    "IdentityReader", "IdentityReaderV2", "LMDBReader",
    "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "LMDBDataset", "ExperimentalLMDBDataset",
    "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "SaveDataset", "SaveDatasetV2",
    "LoadDataset", "ExperimentalLoadDataset", "SnapshotDataset", "SnapshotDatasetV2",
    "CacheDataset", "CacheDatasetV2",
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
    "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
    "WriteRawProtoSummary", "Save", "SaveSlices",
    # run host code
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
})


def _print_to_file(node):
    """PrintV2 with output_stream 'file://...' writes to a file."""
    if node.op != "PrintV2" or "output_stream" not in node.attr:
        return False
    return node.attr["output_stream"].s.decode("utf-8", "replace").startswith("file")


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


def find_untrusted_ops(directory):
    """Sorted list of (op, where) for each untrusted op in the SavedModel at ``directory``."""
    found = set()
    for meta_graph in _read_saved_model(directory).meta_graphs:
        graph = meta_graph.graph_def
        for node in graph.node:
            if node.op in UNTRUSTED_OPS or _print_to_file(node):
                found.add((node.op, f"graph node {node.name!r}"))
        for function in graph.library.function:
            for node in function.node_def:
                if node.op in UNTRUSTED_OPS or _print_to_file(node):
                    found.add((node.op, f"function {function.signature.name!r}"))
    return sorted(found)


def check(directory):
    """Raise UntrustedModuleError naming the first untrusted op found."""
    found = find_untrusted_ops(directory)
    if found:
        raise UntrustedModuleError(untrusted_message(directory, found))


def untrusted_message(directory, found):
    ops = sorted({op for op, _ in found})
    op, where = found[0]
    return (f"refusing to load {directory}: its graph contains the op {op} ({where}), which can "
            f"touch the file system or run host code (all such ops: {', '.join(ops)}); "
            f"pass trust=True (CLI: --trust) if you trust where this module came from")
