from vfl.wire.v1 import he_pb2 as _he_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalysisSetup(_message.Message):
    __slots__ = ("n_rows", "max_bin", "min_count", "correlation", "he_context")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_BIN_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_FIELD_NUMBER: _ClassVar[int]
    HE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    max_bin: int
    min_count: int
    correlation: bool
    he_context: _he_pb2.PublicContext
    def __init__(self, n_rows: _Optional[int] = ..., max_bin: _Optional[int] = ..., min_count: _Optional[int] = ..., correlation: _Optional[bool] = ..., he_context: _Optional[_Union[_he_pb2.PublicContext, _Mapping]] = ...) -> None: ...

class FeatureStats(_message.Message):
    __slots__ = ("name", "present", "missing", "distinct", "quantiles")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    name: str
    present: int
    missing: int
    distinct: int
    quantiles: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., present: _Optional[int] = ..., missing: _Optional[int] = ..., distinct: _Optional[int] = ..., quantiles: _Optional[_Iterable[float]] = ...) -> None: ...

class AnalysisInfo(_message.Message):
    __slots__ = ("n_rows", "n_features", "share", "levels", "features")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    n_features: int
    share: str
    levels: _containers.RepeatedScalarFieldContainer[float]
    features: _containers.RepeatedCompositeFieldContainer[FeatureStats]
    def __init__(self, n_rows: _Optional[int] = ..., n_features: _Optional[int] = ..., share: _Optional[str] = ..., levels: _Optional[_Iterable[float]] = ..., features: _Optional[_Iterable[_Union[FeatureStats, _Mapping]]] = ...) -> None: ...

class AnalysisLabels(_message.Message):
    __slots__ = ("y",)
    Y_FIELD_NUMBER: _ClassVar[int]
    y: _he_pb2.CipherBatch
    def __init__(self, y: _Optional[_Union[_he_pb2.CipherBatch, _Mapping]] = ...) -> None: ...

class AnalysisBinSums(_message.Message):
    __slots__ = ("sums", "n_bins")
    SUMS_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    sums: _he_pb2.EncryptedHistogramMsg
    n_bins: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sums: _Optional[_Union[_he_pb2.EncryptedHistogramMsg, _Mapping]] = ..., n_bins: _Optional[_Iterable[int]] = ...) -> None: ...

class CorrelationPair(_message.Message):
    __slots__ = ("encryptor", "evaluator", "encryptor_columns", "evaluator_columns")
    ENCRYPTOR_FIELD_NUMBER: _ClassVar[int]
    EVALUATOR_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTOR_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EVALUATOR_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    encryptor: str
    evaluator: str
    encryptor_columns: int
    evaluator_columns: int
    def __init__(self, encryptor: _Optional[str] = ..., evaluator: _Optional[str] = ..., encryptor_columns: _Optional[int] = ..., evaluator_columns: _Optional[int] = ...) -> None: ...

class CorrelationPlan(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[CorrelationPair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[CorrelationPair, _Mapping]]] = ...) -> None: ...

class CorrelationColumns(_message.Message):
    __slots__ = ("columns",)
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[_he_pb2.CipherBatch]
    def __init__(self, columns: _Optional[_Iterable[_Union[_he_pb2.CipherBatch, _Mapping]]] = ...) -> None: ...

class CorrelationProducts(_message.Message):
    __slots__ = ("encryptor", "products")
    ENCRYPTOR_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    encryptor: str
    products: _containers.RepeatedCompositeFieldContainer[_he_pb2.CipherBatch]
    def __init__(self, encryptor: _Optional[str] = ..., products: _Optional[_Iterable[_Union[_he_pb2.CipherBatch, _Mapping]]] = ...) -> None: ...

class FeatureWoeMap(_message.Message):
    __slots__ = ("woe",)
    WOE_FIELD_NUMBER: _ClassVar[int]
    woe: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, woe: _Optional[_Iterable[float]] = ...) -> None: ...

class WoeMap(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[FeatureWoeMap]
    def __init__(self, features: _Optional[_Iterable[_Union[FeatureWoeMap, _Mapping]]] = ...) -> None: ...
