from vfl.wire.v1 import common_pb2 as _common_pb2
from vfl.wire.v1 import he_pb2 as _he_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SBTSetup(_message.Message):
    __slots__ = ("n_rows", "n_trees", "max_depth", "max_bin", "he_context", "gh_chunk_rows")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_TREES_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_BIN_FIELD_NUMBER: _ClassVar[int]
    HE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    GH_CHUNK_ROWS_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    n_trees: int
    max_depth: int
    max_bin: int
    he_context: _he_pb2.PublicContext
    gh_chunk_rows: int
    def __init__(self, n_rows: _Optional[int] = ..., n_trees: _Optional[int] = ..., max_depth: _Optional[int] = ..., max_bin: _Optional[int] = ..., he_context: _Optional[_Union[_he_pb2.PublicContext, _Mapping]] = ..., gh_chunk_rows: _Optional[int] = ...) -> None: ...

class SBTPassiveInfo(_message.Message):
    __slots__ = ("n_rows", "n_features", "n_bins")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    n_features: int
    n_bins: int
    def __init__(self, n_rows: _Optional[int] = ..., n_features: _Optional[int] = ..., n_bins: _Optional[int] = ...) -> None: ...

class SBTResumeOffer(_message.Message):
    __slots__ = ("trees",)
    TREES_FIELD_NUMBER: _ClassVar[int]
    trees: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, trees: _Optional[_Iterable[int]] = ...) -> None: ...

class SBTResumeStart(_message.Message):
    __slots__ = ("trees",)
    TREES_FIELD_NUMBER: _ClassVar[int]
    trees: int
    def __init__(self, trees: _Optional[int] = ...) -> None: ...

class SBTGradients(_message.Message):
    __slots__ = ("tree", "gh", "sample_bits", "n_sampled", "chunk", "n_chunks")
    TREE_FIELD_NUMBER: _ClassVar[int]
    GH_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_BITS_FIELD_NUMBER: _ClassVar[int]
    N_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    gh: _he_pb2.CipherBatch
    sample_bits: _common_pb2.NDArray
    n_sampled: int
    chunk: int
    n_chunks: int
    def __init__(self, tree: _Optional[int] = ..., gh: _Optional[_Union[_he_pb2.CipherBatch, _Mapping]] = ..., sample_bits: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., n_sampled: _Optional[int] = ..., chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ...) -> None: ...

class NodePartition(_message.Message):
    __slots__ = ("node", "left", "right", "n_rows", "left_bits")
    NODE_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    LEFT_BITS_FIELD_NUMBER: _ClassVar[int]
    node: int
    left: int
    right: int
    n_rows: int
    left_bits: _common_pb2.NDArray
    def __init__(self, node: _Optional[int] = ..., left: _Optional[int] = ..., right: _Optional[int] = ..., n_rows: _Optional[int] = ..., left_bits: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ...) -> None: ...

class SBTLevelPlan(_message.Message):
    __slots__ = ("tree", "level", "partitions", "build", "done")
    TREE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    tree: int
    level: int
    partitions: _containers.RepeatedCompositeFieldContainer[NodePartition]
    build: _containers.RepeatedScalarFieldContainer[int]
    done: bool
    def __init__(self, tree: _Optional[int] = ..., level: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[NodePartition, _Mapping]]] = ..., build: _Optional[_Iterable[int]] = ..., done: _Optional[bool] = ...) -> None: ...

class NodeHistogram(_message.Message):
    __slots__ = ("node", "hist")
    NODE_FIELD_NUMBER: _ClassVar[int]
    HIST_FIELD_NUMBER: _ClassVar[int]
    node: int
    hist: _he_pb2.EncryptedHistogramMsg
    def __init__(self, node: _Optional[int] = ..., hist: _Optional[_Union[_he_pb2.EncryptedHistogramMsg, _Mapping]] = ...) -> None: ...

class SBTHistograms(_message.Message):
    __slots__ = ("tree", "level", "nodes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    level: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeHistogram]
    def __init__(self, tree: _Optional[int] = ..., level: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeHistogram, _Mapping]]] = ...) -> None: ...

class SplitDecision(_message.Message):
    __slots__ = ("node", "candidate", "default_left")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LEFT_FIELD_NUMBER: _ClassVar[int]
    node: int
    candidate: int
    default_left: bool
    def __init__(self, node: _Optional[int] = ..., candidate: _Optional[int] = ..., default_left: _Optional[bool] = ...) -> None: ...

class SBTSplitDecisions(_message.Message):
    __slots__ = ("tree", "level", "decisions")
    TREE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    level: int
    decisions: _containers.RepeatedCompositeFieldContainer[SplitDecision]
    def __init__(self, tree: _Optional[int] = ..., level: _Optional[int] = ..., decisions: _Optional[_Iterable[_Union[SplitDecision, _Mapping]]] = ...) -> None: ...

class SplitOutcome(_message.Message):
    __slots__ = ("node", "split_id", "n_rows", "left_bits")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    LEFT_BITS_FIELD_NUMBER: _ClassVar[int]
    node: int
    split_id: int
    n_rows: int
    left_bits: _common_pb2.NDArray
    def __init__(self, node: _Optional[int] = ..., split_id: _Optional[int] = ..., n_rows: _Optional[int] = ..., left_bits: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ...) -> None: ...

class SBTSplitOutcomes(_message.Message):
    __slots__ = ("tree", "level", "outcomes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    level: int
    outcomes: _containers.RepeatedCompositeFieldContainer[SplitOutcome]
    def __init__(self, tree: _Optional[int] = ..., level: _Optional[int] = ..., outcomes: _Optional[_Iterable[_Union[SplitOutcome, _Mapping]]] = ...) -> None: ...

class SBTPredictRequest(_message.Message):
    __slots__ = ("n_rows", "split_ids", "nonce")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    nonce: int
    def __init__(self, n_rows: _Optional[int] = ..., split_ids: _Optional[_Iterable[int]] = ..., nonce: _Optional[int] = ...) -> None: ...

class SBTRouting(_message.Message):
    __slots__ = ("n_rows", "split_ids", "left_bits", "nonce")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    LEFT_BITS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    left_bits: _common_pb2.NDArray
    nonce: int
    def __init__(self, n_rows: _Optional[int] = ..., split_ids: _Optional[_Iterable[int]] = ..., left_bits: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., nonce: _Optional[int] = ...) -> None: ...
