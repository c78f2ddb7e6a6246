from vfl.wire.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PsiStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PSI_STAGE_UNSPECIFIED: _ClassVar[PsiStage]
    PSI_STAGE_RING: _ClassVar[PsiStage]
    PSI_STAGE_COMPARE: _ClassVar[PsiStage]
    PSI_STAGE_BLIND: _ClassVar[PsiStage]
    PSI_STAGE_BLIND_RETURN: _ClassVar[PsiStage]
    PSI_STAGE_RESULT: _ClassVar[PsiStage]
    PSI_STAGE_FINAL: _ClassVar[PsiStage]
    PSI_STAGE_PAIR_RETURN: _ClassVar[PsiStage]
PSI_STAGE_UNSPECIFIED: PsiStage
PSI_STAGE_RING: PsiStage
PSI_STAGE_COMPARE: PsiStage
PSI_STAGE_BLIND: PsiStage
PSI_STAGE_BLIND_RETURN: PsiStage
PSI_STAGE_RESULT: PsiStage
PSI_STAGE_FINAL: PsiStage
PSI_STAGE_PAIR_RETURN: PsiStage

class PointBatch(_message.Message):
    __slots__ = ("stage", "owner", "batch", "batches", "points")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    stage: PsiStage
    owner: str
    batch: int
    batches: int
    points: _common_pb2.FixedBytes
    def __init__(self, stage: _Optional[_Union[PsiStage, str]] = ..., owner: _Optional[str] = ..., batch: _Optional[int] = ..., batches: _Optional[int] = ..., points: _Optional[_Union[_common_pb2.FixedBytes, _Mapping]] = ...) -> None: ...

class SharedScalar(_message.Message):
    __slots__ = ("scalar",)
    SCALAR_FIELD_NUMBER: _ClassVar[int]
    scalar: bytes
    def __init__(self, scalar: _Optional[bytes] = ...) -> None: ...
