from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PublicContext(_message.Message):
    __slots__ = ("scheme", "fingerprint", "job_id", "key_bits", "poly_modulus_degree", "coeff_mod_bit_sizes", "scale_bits", "public_key", "galois_keys")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_BITS_FIELD_NUMBER: _ClassVar[int]
    POLY_MODULUS_DEGREE_FIELD_NUMBER: _ClassVar[int]
    COEFF_MOD_BIT_SIZES_FIELD_NUMBER: _ClassVar[int]
    SCALE_BITS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    GALOIS_KEYS_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    fingerprint: str
    job_id: str
    key_bits: int
    poly_modulus_degree: int
    coeff_mod_bit_sizes: _containers.RepeatedScalarFieldContainer[int]
    scale_bits: int
    public_key: bytes
    galois_keys: bytes
    def __init__(self, scheme: _Optional[str] = ..., fingerprint: _Optional[str] = ..., job_id: _Optional[str] = ..., key_bits: _Optional[int] = ..., poly_modulus_degree: _Optional[int] = ..., coeff_mod_bit_sizes: _Optional[_Iterable[int]] = ..., scale_bits: _Optional[int] = ..., public_key: _Optional[bytes] = ..., galois_keys: _Optional[bytes] = ...) -> None: ...

class CipherBatch(_message.Message):
    __slots__ = ("scheme", "key_fingerprint", "job_id", "count", "ciphertexts", "packed", "n_ciphertexts", "kind", "scale_bits", "bound_bits", "slot_bits", "per_ciphertext", "stride", "max_terms")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXTS_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    N_CIPHERTEXTS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCALE_BITS_FIELD_NUMBER: _ClassVar[int]
    BOUND_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    STRIDE_FIELD_NUMBER: _ClassVar[int]
    MAX_TERMS_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    key_fingerprint: str
    job_id: str
    count: int
    ciphertexts: _containers.RepeatedScalarFieldContainer[bytes]
    packed: bytes
    n_ciphertexts: int
    kind: str
    scale_bits: int
    bound_bits: int
    slot_bits: int
    per_ciphertext: int
    stride: int
    max_terms: int
    def __init__(self, scheme: _Optional[str] = ..., key_fingerprint: _Optional[str] = ..., job_id: _Optional[str] = ..., count: _Optional[int] = ..., ciphertexts: _Optional[_Iterable[bytes]] = ..., packed: _Optional[bytes] = ..., n_ciphertexts: _Optional[int] = ..., kind: _Optional[str] = ..., scale_bits: _Optional[int] = ..., bound_bits: _Optional[int] = ..., slot_bits: _Optional[int] = ..., per_ciphertext: _Optional[int] = ..., stride: _Optional[int] = ..., max_terms: _Optional[int] = ...) -> None: ...

class EncryptedHistogramMsg(_message.Message):
    __slots__ = ("scheme", "key_fingerprint", "job_id", "n_features", "n_bins", "slot_bits", "bins_per_ciphertext", "scale_bits", "g", "h", "occupied")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    BINS_PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    SCALE_BITS_FIELD_NUMBER: _ClassVar[int]
    G_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    OCCUPIED_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    key_fingerprint: str
    job_id: str
    n_features: int
    n_bins: int
    slot_bits: int
    bins_per_ciphertext: int
    scale_bits: int
    g: CipherBatch
    h: CipherBatch
    occupied: bytes
    def __init__(self, scheme: _Optional[str] = ..., key_fingerprint: _Optional[str] = ..., job_id: _Optional[str] = ..., n_features: _Optional[int] = ..., n_bins: _Optional[int] = ..., slot_bits: _Optional[int] = ..., bins_per_ciphertext: _Optional[int] = ..., scale_bits: _Optional[int] = ..., g: _Optional[_Union[CipherBatch, _Mapping]] = ..., h: _Optional[_Union[CipherBatch, _Mapping]] = ..., occupied: _Optional[bytes] = ...) -> None: ...
