from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class JobProposal(_message.Message):
    __slots__ = ("job_id", "parties", "active", "model", "he", "test_size", "seed", "params_json", "task", "model_job_id", "spec_sha256")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    HE_FIELD_NUMBER: _ClassVar[int]
    TEST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_SHA256_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    parties: _containers.RepeatedScalarFieldContainer[str]
    active: str
    model: str
    he: str
    test_size: float
    seed: int
    params_json: str
    task: str
    model_job_id: str
    spec_sha256: str
    def __init__(self, job_id: _Optional[str] = ..., parties: _Optional[_Iterable[str]] = ..., active: _Optional[str] = ..., model: _Optional[str] = ..., he: _Optional[str] = ..., test_size: _Optional[float] = ..., seed: _Optional[int] = ..., params_json: _Optional[str] = ..., task: _Optional[str] = ..., model_job_id: _Optional[str] = ..., spec_sha256: _Optional[str] = ...) -> None: ...

class JobAnswer(_message.Message):
    __slots__ = ("accepted", "reason", "spec_sha256")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SPEC_SHA256_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    spec_sha256: str
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., spec_sha256: _Optional[str] = ...) -> None: ...

class PartFingerprint(_message.Message):
    __slots__ = ("party", "sha256")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    party: str
    sha256: str
    def __init__(self, party: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class JobCommit(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...
