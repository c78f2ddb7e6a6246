from vfl.wire.v1 import common_pb2 as _common_pb2
from vfl.wire.v1 import he_pb2 as _he_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LRSetup(_message.Message):
    __slots__ = ("n_rows", "seed", "epochs", "batch_size", "validation_fraction", "early_stopping", "passives", "he_context", "score_mode", "frac_bits", "row_clip", "noise_multiplier", "grad_mask_bound", "solver", "memory", "l2")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FRACTION_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_FIELD_NUMBER: _ClassVar[int]
    PASSIVES_FIELD_NUMBER: _ClassVar[int]
    HE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_MODE_FIELD_NUMBER: _ClassVar[int]
    FRAC_BITS_FIELD_NUMBER: _ClassVar[int]
    ROW_CLIP_FIELD_NUMBER: _ClassVar[int]
    NOISE_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    GRAD_MASK_BOUND_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    seed: int
    epochs: int
    batch_size: int
    validation_fraction: float
    early_stopping: bool
    passives: _containers.RepeatedScalarFieldContainer[str]
    he_context: _he_pb2.PublicContext
    score_mode: str
    frac_bits: int
    row_clip: float
    noise_multiplier: float
    grad_mask_bound: float
    solver: str
    memory: int
    l2: float
    def __init__(self, n_rows: _Optional[int] = ..., seed: _Optional[int] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., validation_fraction: _Optional[float] = ..., early_stopping: _Optional[bool] = ..., passives: _Optional[_Iterable[str]] = ..., he_context: _Optional[_Union[_he_pb2.PublicContext, _Mapping]] = ..., score_mode: _Optional[str] = ..., frac_bits: _Optional[int] = ..., row_clip: _Optional[float] = ..., noise_multiplier: _Optional[float] = ..., grad_mask_bound: _Optional[float] = ..., solver: _Optional[str] = ..., memory: _Optional[int] = ..., l2: _Optional[float] = ...) -> None: ...

class LRResumeOffer(_message.Message):
    __slots__ = ("epochs",)
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    epochs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, epochs: _Optional[_Iterable[int]] = ...) -> None: ...

class LRResumeStart(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class MaskKey(_message.Message):
    __slots__ = ("x25519_public",)
    X25519_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    x25519_public: bytes
    def __init__(self, x25519_public: _Optional[bytes] = ...) -> None: ...

class ScoreShare(_message.Message):
    __slots__ = ("clear", "masked", "frac_bits")
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    FRAC_BITS_FIELD_NUMBER: _ClassVar[int]
    clear: _common_pb2.NDArray
    masked: _common_pb2.NDArray
    frac_bits: int
    def __init__(self, clear: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., masked: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., frac_bits: _Optional[int] = ...) -> None: ...

class MaskedGradient(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _common_pb2.NDArray
    def __init__(self, values: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ...) -> None: ...

class LRControl(_message.Message):
    __slots__ = ("decision", "epoch")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    decision: str
    epoch: int
    def __init__(self, decision: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class LRDirection(_message.Message):
    __slots__ = ("iteration", "decision", "keep_pair", "coef")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    KEEP_PAIR_FIELD_NUMBER: _ClassVar[int]
    COEF_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    decision: str
    keep_pair: bool
    coef: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, iteration: _Optional[int] = ..., decision: _Optional[str] = ..., keep_pair: _Optional[bool] = ..., coef: _Optional[_Iterable[float]] = ...) -> None: ...

class LRStep(_message.Message):
    __slots__ = ("iteration", "decision", "step")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    decision: str
    step: float
    def __init__(self, iteration: _Optional[int] = ..., decision: _Optional[str] = ..., step: _Optional[float] = ...) -> None: ...

class PartFingerprints(_message.Message):
    __slots__ = ("parts",)
    class PartsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.ScalarMap[str, str]
    def __init__(self, parts: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LRPredictSetup(_message.Message):
    __slots__ = ("model_job_id", "n_rows", "passives", "score_mode", "frac_bits", "parts")
    class PartsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    PASSIVES_FIELD_NUMBER: _ClassVar[int]
    SCORE_MODE_FIELD_NUMBER: _ClassVar[int]
    FRAC_BITS_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    model_job_id: str
    n_rows: int
    passives: _containers.RepeatedScalarFieldContainer[str]
    score_mode: str
    frac_bits: int
    parts: _containers.ScalarMap[str, str]
    def __init__(self, model_job_id: _Optional[str] = ..., n_rows: _Optional[int] = ..., passives: _Optional[_Iterable[str]] = ..., score_mode: _Optional[str] = ..., frac_bits: _Optional[int] = ..., parts: _Optional[_Mapping[str, str]] = ...) -> None: ...
