"""Fuzz targets: one per parser of peer bytes and per config / model loader (issue 18).

A target takes one input (bytes) and runs it through the same entry the real code uses (a
protobuf decode as the channel does it, then the parser). The contract: every input either
passes or raises one of vfl's own errors (``VflError``; the gRPC router's ``Refused``); any
other exception is a finding. The same targets serve the short hypothesis run in CI
(``test_fuzz.py``) and the long run (``scripts/fuzz_long.py``).

Inputs come from a seed corpus (``tests/fuzz/corpus/NAME/*``, key-independent seeds) plus seeds
made at start (ciphertexts and contexts bound to a fresh key), mutated by :func:`mutate`:
byte-level edits (flips, interesting bytes, inserts, cuts, splices) and, for protobuf seeds,
field-level edits (extreme integers, NaN, odd strings, huge repeated fields).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError, Message

from vfl.core.errors import VflError, WireError
from vfl.transport.mailbox import GrpcSettings, Refused, Router
from vfl.transport.memory import MemoryHub
from vfl.wire.v1 import common_pb2, he_pb2, job_pb2, lr_pb2

__all__ = ["CORPUS", "JOB", "TARGETS", "Target", "mutate", "run_one"]

CORPUS = Path(__file__).parent / "corpus"
JOB = "job-fuzz"
EXPECTED: tuple[type[BaseException], ...] = (VflError, Refused)


@dataclass
class Target:
    """A parser under fuzz: ``run(data)`` feeds it one input; ``proto`` (if any) is the message
    type its inputs decode to, which enables field-level mutations."""

    name: str
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]  # how the seeds are made (by make_corpus when stored)
    proto: type[Message] | None = None
    slow: bool = False  # expensive per input (CKKS contexts, phe keys): fewer examples in CI
    stored: bool = True  # seeds live in corpus/NAME/; False: bound to a key, made per process
    json: bool = False  # JSON inputs: also edit values in the document
    toml: bool = False  # TOML inputs: the same, written back as TOML
    _cache: list[bytes] = field(default_factory=list, repr=False)

    def corpus(self) -> list[bytes]:
        if not self._cache:
            files = sorted((CORPUS / self.name).glob("*")) if self.stored else []
            self._cache.extend([f.read_bytes() for f in files] or self.seeds())
        return self._cache


def run_one(target: Target, data: bytes) -> BaseException | None:
    """The finding for ``data`` (an exception outside vfl's error types), or None."""
    try:
        target.run(data)
    except EXPECTED:
        return None
    except Exception as exc:
        return exc
    return None


def decode(kind: type[Message], data: bytes) -> Any:
    """Decode as the channel does (a DecodeError becomes a WireError)."""
    msg = kind()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise WireError(f"malformed {kind.DESCRIPTOR.full_name}: {exc}") from exc
    return msg


# -- mutation ----------------------------------------------------------------------------------
_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x91, 0xDD, 0xC6]
_INTS = [
    0,
    1,
    2,
    7,
    8,
    31,
    32,
    63,
    64,
    65,
    400,
    4096,
    8192,
    2**16,
    2**24,
    2**31 - 1,
    2**32 - 1,
    2**53,
    2**63 - 1,
    2**64 - 1,
]
_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 1e-300, 1e300, 0.5, 2.0**70]
_STRS = [
    "",
    "bad id!",
    "x" * 300,
    "../../etc",
    "job-fuzz",
    "ckks",
    "ou",
    "gh",
    "hist",
    "complex",
    "real",
    "\x00",
    "é",
]
_STRS += [  # deep nesting and many keys, for parsers that recurse or count
    "[" * 5000,
    '{"a": ' * 3000,
    "{" + ", ".join(f'"k{i}": {i}' for i in range(100)) + "}",
    '{"epochs": NaN}',
]


def _mutate_bytes(rnd: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 3, 8))):
        op = rnd.randrange(8)
        if op == 0 and b:  # flip a bit
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1 and b:  # an interesting byte
            b[rnd.randrange(len(b))] = rnd.choice(_BYTES)
        elif op == 2:  # insert
            i = rnd.randrange(len(b) + 1)
            b[i:i] = bytes(rnd.choice(_BYTES) for _ in range(rnd.choice((1, 2, 4, 16))))
        elif op == 3 and b:  # delete a range
            i = rnd.randrange(len(b))
            del b[i : i + rnd.choice((1, 4, 64, len(b)))]
        elif op == 4 and b:  # truncate
            del b[rnd.randrange(len(b)) :]
        elif op == 5 and b:  # duplicate a range
            i = rnd.randrange(len(b))
            j = min(len(b), i + rnd.choice((1, 8, 64)))
            b[j:j] = b[i:j] * rnd.choice((1, 2, 50))
        elif op == 7:  # a long run of one byte: deep nesting, huge counts
            i = rnd.randrange(len(b) + 1)
            b[i:i] = bytes([rnd.choice([*_BYTES, 0x5B, 0x7B])]) * rnd.choice((100, 3000, 20_000))
        elif op == 6 and pool:  # splice with another seed
            other = rnd.choice(pool)
            i, j = rnd.randrange(len(b) + 1), rnd.randrange(len(other) + 1)
            b = b[:i] + other[j:]
    return bytes(b)


def _mutate_fields(rnd: random.Random, msg: Message) -> None:
    """Set one (possibly nested) field to an extreme value of its type."""
    fields = list(msg.DESCRIPTOR.fields)
    fd = rnd.choice(fields)
    repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED
    if fd.type == fd.TYPE_MESSAGE:
        if repeated:
            items = getattr(msg, fd.name)
            if items and rnd.random() < 0.7:
                _mutate_fields(rnd, rnd.choice(list(items)))
            else:
                items.add()
        else:
            _mutate_fields(rnd, getattr(msg, fd.name))
        return
    if fd.type in (fd.TYPE_DOUBLE, fd.TYPE_FLOAT):
        value: Any = rnd.choice(_FLOATS)
    elif fd.type == fd.TYPE_BOOL:
        value = rnd.random() < 0.5
    elif fd.type == fd.TYPE_STRING:
        value = rnd.choice(_STRS)
    elif fd.type == fd.TYPE_BYTES:
        cur = getattr(msg, fd.name) if not repeated else b""
        value = rnd.choice([b"", bytes(rnd.randrange(1, 64)), cur[: len(cur) // 2], cur + cur, b"\xff" * 600])
    else:
        signed = fd.type in (
            fd.TYPE_INT32,
            fd.TYPE_INT64,
            fd.TYPE_SINT32,
            fd.TYPE_SINT64,
            fd.TYPE_SFIXED32,
            fd.TYPE_SFIXED64,
        )
        top = {fd.TYPE_UINT32: 2**32 - 1, fd.TYPE_FIXED32: 2**32 - 1, fd.TYPE_INT32: 2**31 - 1}.get(
            fd.type, 2**64 - 1
        )
        if signed and fd.type not in (fd.TYPE_INT32, fd.TYPE_SINT32, fd.TYPE_SFIXED32):
            top = 2**63 - 1
        value = min(rnd.choice(_INTS), top)
        if signed and rnd.random() < 0.3:
            value = -value
    if repeated:
        items = getattr(msg, fd.name)
        if rnd.random() < 0.3:
            del items[:]
        else:
            for _ in range(rnd.choice((1, 1, 3, 100))):
                items.append(value)
        return
    setattr(msg, fd.name, value)


_JSON_VALUES: list[Any] = [None, "", "x" * 300, -1, 0, 2**64, 1e308, -1e308, True, [], {}, [1.0] * 50, "NaN"]


def _mutate_json(rnd: random.Random, doc: Any) -> Any:
    """Replace one leaf (or container) of a JSON document with an odd value."""
    if not isinstance(doc, dict | list) or not doc or rnd.random() < 0.15:
        return copy.deepcopy(rnd.choice(_JSON_VALUES))
    key = rnd.choice(list(doc)) if isinstance(doc, dict) else rnd.randrange(len(doc))
    if isinstance(doc, dict) and rnd.random() < 0.1:
        del doc[key]
    else:
        doc[key] = _mutate_json(rnd, doc[key])
    return doc


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps("" if v is None else str(v))


def _toml(doc: dict[str, Any], prefix: str = "") -> list[str]:
    """A small TOML writer (the standard library only reads TOML): scalars first, then tables."""
    lines = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            name = f"{prefix}.{json.dumps(str(k))}" if prefix else json.dumps(str(k))
            lines += [f"[{name}]", *_toml(v, name)]
    return lines


def mutate(rnd: random.Random, target: Target) -> bytes:
    """One input for ``target``: a corpus seed, edited at the byte or (protobuf) field level."""
    pool = target.corpus()
    seed = rnd.choice(pool)
    if rnd.random() < 0.05:
        return seed
    if target.toml and rnd.random() < 0.6:
        try:
            doc = tomllib.loads(seed.decode())
        except (ValueError, UnicodeDecodeError):
            return _mutate_bytes(rnd, seed, pool)
        for _ in range(rnd.choice((1, 1, 2, 3))):
            doc = _mutate_json(rnd, doc)
        return "\n".join(_toml(doc if isinstance(doc, dict) else {"x": doc})).encode()
    if target.json and rnd.random() < 0.7:
        try:
            doc = json.loads(seed)
        except ValueError:
            return _mutate_bytes(rnd, seed, pool)
        for _ in range(rnd.choice((1, 1, 2, 3))):
            doc = _mutate_json(rnd, doc)
        return json.dumps(doc).encode()
    if target.proto is not None and rnd.random() < 0.6:
        msg = target.proto()
        try:
            msg.ParseFromString(seed)
        except DecodeError:
            return _mutate_bytes(rnd, seed, pool)
        for _ in range(rnd.choice((1, 1, 2, 4))):
            _mutate_fields(rnd, msg)
        data = msg.SerializeToString()
        return _mutate_bytes(rnd, data, pool) if rnd.random() < 0.2 else data
    return _mutate_bytes(rnd, seed, pool)


# -- wire codecs -------------------------------------------------------------------------------
def _ndarray(data: bytes) -> None:
    from vfl.wire.arrays import from_ndarray

    from_ndarray(decode(common_pb2.NDArray, data), max_elements=1 << 20)


def _ndarray_seeds() -> list[bytes]:
    from vfl.wire.arrays import to_ndarray

    arrays = [
        np.arange(6.0).reshape(2, 3),
        np.array([True, False]),
        np.zeros((0, 4), np.int32),
        np.arange(5, dtype="<u8"),
    ]
    return [to_ndarray(a).SerializeToString() for a in arrays]


def _fixed(data: bytes) -> None:
    from vfl.wire.arrays import unpack_fixed

    unpack_fixed(decode(common_pb2.FixedBytes, data), 32, max_count=1 << 16)


def _fixed_seeds() -> list[bytes]:
    from vfl.wire.arrays import pack_fixed

    return [pack_fixed(bytes(range(64)), 32).SerializeToString()]


def _proposal(data: bytes) -> None:
    from vfl.runtime.job.handshake import spec_of

    spec_of(decode(job_pb2.JobProposal, data))


def _proposal_seeds() -> list[bytes]:
    from vfl.runtime.job.handshake import proposal_of
    from vfl.runtime.job.spec import JobSpec

    specs = [
        JobSpec.create(
            job_id=JOB,
            parties=["insurer", "hospital"],
            active="insurer",
            model="lr",
            model_params={"epochs": 2},
        ),
        JobSpec.create(
            job_id=JOB, parties=["insurer", "hospital", "pharma"], active="insurer", model="sbt", he="ou"
        ),
    ]
    return [proposal_of(s).SerializeToString() for s in specs]


def _mask_key(data: bytes) -> None:
    from vfl.protocols.lr.masking import agree_pair_seeds

    hub = MemoryHub(["a", "b", "c"], JOB, timeout=1.0)
    a, b = hub.channel("a"), hub.channel("b")
    b.send("a", "lr/mask", decode(lr_pb2.MaskKey, data))
    agree_pair_seeds(a, ["a", "b"], "lr/mask")


def _mask_key_seeds() -> list[bytes]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    pub = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return [
        lr_pb2.MaskKey(x25519_public=pub).SerializeToString(),
        lr_pb2.MaskKey(x25519_public=bytes(32)).SerializeToString(),
    ]


@functools.cache
def _router() -> tuple[Router, MemoryHub]:
    settings = GrpcSettings(max_partials_per_peer=4, max_partial_bytes_per_peer=1 << 22)
    router = Router("hospital", {"insurer", "pharma"}, settings)
    hub = MemoryHub(["hospital", "insurer", "pharma"], JOB, timeout=0.0)
    router.jobs[JOB] = hub
    router.accept_proposals = True
    return router, hub


def _envelope(data: bytes) -> None:
    """A delivery to the gRPC router (as the insurer's certificate), then the channel's own
    checks on whatever it filed (``Channel._open``)."""
    router, hub = _router()
    env = decode(common_pb2.Envelope, data)
    while not router.proposals.empty():
        router.proposals.get_nowait()
    router._deliver(env, ["insurer"])
    ch = hub.channel("hospital")
    for sender, receiver, topic in list(hub._boxes):
        while hub._boxes.get((sender, receiver, topic)):
            got = common_pb2.Envelope()
            got.ParseFromString(hub.take(sender, receiver, topic, 0.0))  # what the router filed
            ch._open(got, sender, topic, common_pb2.Ack)


def _envelope_seeds() -> list[bytes]:
    base = {"job_id": JOB, "sender": "insurer", "receiver": "hospital", "type": "vfl.v1.Ack"}
    ack = common_pb2.Ack(status="ok").SerializeToString()
    return [
        common_pb2.Envelope(**base, topic="t/1", payload=ack, chunk=0, chunks=1).SerializeToString(),
        common_pb2.Envelope(**base, topic="t/2", payload=ack, chunk=0, chunks=2).SerializeToString(),
        common_pb2.Envelope(
            **{**base, "type": "vfl.v1.JobProposal"}, topic="job/propose", payload=b"", chunks=1
        ).SerializeToString(),
    ]


def _heu_array(data: bytes) -> None:
    from vfl.crypto.he.sfheu import parse_heu_array

    parse_heu_array(data, 1)


def _heu_range(data: bytes) -> None:
    """A public party's vectorised check: whatever it decides, the strict reader decides too."""
    from vfl.crypto.he.sfheu import heu_array_in_range, parse_heu_array

    modulus = _scheme("ou")._ops.ct_modulus
    quick = heu_array_in_range(data, 1, modulus)
    if quick is not None:
        try:
            ints, rows, _ = parse_heu_array(data, 1)
        except WireError as exc:
            raise AssertionError(f"the numpy check decided what the strict reader refuses: {exc}") from exc
        assert quick == (rows, all(0 < c < modulus for c in ints)), "the two range checks disagree"


def _heu_array_seeds() -> list[bytes]:
    s = _scheme("ou")
    batch = s.serialize(s.encrypt(np.array([0.5, -1.0, 2.0])), JOB)
    return [bytes(batch.packed)]


# -- HE messages (bound to a fresh key made once per process) -----------------------------------
@functools.cache
def _scheme(name: str) -> Any:
    from vfl.crypto.he import make_scheme

    return make_scheme(name)


def _available(name: str) -> bool:
    from vfl.crypto.he import available_backends

    return name in available_backends()


def _batch(name: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        s = _scheme(name)
        c = s.deserialize(decode(he_pb2.CipherBatch, data), JOB)
        s.decrypt(c)

    return run


def _batch_seeds(name: str) -> Callable[[], list[bytes]]:
    def seeds() -> list[bytes]:
        s = _scheme(name)
        g, h = np.array([0.25, -0.5, 1.0]), np.array([0.2, 0.2, 0.2])
        real = s.serialize(s.encrypt(np.array([0.5, -1.0, 2.0])), JOB)
        gh = s.serialize(s.encrypt_gh(g, h), JOB)
        return [real.SerializeToString(), gh.SerializeToString()]

    return seeds


def _hist(name: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        s = _scheme(name)
        s.decrypt_histogram(s.deserialize(decode(he_pb2.EncryptedHistogramMsg, data), JOB))

    return run


def _hist_seeds(name: str) -> Callable[[], list[bytes]]:
    def seeds() -> list[bytes]:
        s = _scheme(name)
        enc = s.encrypt_gh(np.array([0.25, -0.5, 1.0, 0.1]), np.array([0.2, 0.2, 0.2, 0.2]))
        hist = s.bucket_sums(enc, np.array([[0, 1], [1, 0], [1, 1], [0, 0]]), np.arange(4), 2)
        return [s.serialize(hist, JOB).SerializeToString()]

    return seeds


def _context(name: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from vfl.crypto.he import scheme_from_public_context

        scheme_from_public_context(decode(he_pb2.PublicContext, data), JOB)

    return run


def _context_seeds(name: str) -> Callable[[], list[bytes]]:
    return lambda: [_scheme(name).public_context().SerializeToString()]


# -- config and model loaders (files a party reads; a peer may have written a model part) --------
def _in_file(data: bytes, name: str, load: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        load(p)


def _job_toml(data: bytes) -> None:
    from vfl.runtime.job.jobfile import load_job

    _in_file(data, "job.toml", load_job)


def _party_toml(data: bytes) -> None:
    from vfl.runtime.job.jobfile import load_party_config

    _in_file(data, "party.toml", load_party_config)


def _repo_files(*names: str) -> Callable[[], list[bytes]]:
    root = Path(__file__).resolve().parents[2] / "parties"
    return lambda: [(root / n).read_bytes() for n in names if (root / n).is_file()]


def _model_file(data: bytes) -> None:
    """A model file whose part was edited and re-stamped (so the loader's own parsing runs, not
    only its fingerprint check); undecodable bytes go in as they are."""
    from vfl.runtime.store.modelfile import load_model_file, part_sha256

    try:
        doc = json.loads(data)
        part = doc["part"]
        doc["part_sha256"] = part_sha256(part)
        doc["parts"] = {str(doc["party"]): doc["part_sha256"]}
        data = json.dumps(doc).encode()
    except Exception:
        pass  # not a JSON model file: the loader gets the bytes unchanged
    _in_file(data, "model.json", load_model_file)


def _model_seeds() -> list[bytes]:
    """Model files come from training runs (``make_corpus MODEL_JSON...``); none to make here."""
    return []


def _checkpoint(data: bytes) -> None:
    from vfl.runtime.store.checkpoint import Checkpoint

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "insurer").mkdir()
        (Path(d) / "insurer" / "step-000001.npz").write_bytes(data)
        Checkpoint(d, "insurer", JOB, resume=True).load()


def _checkpoint_seeds() -> list[bytes]:
    from vfl.runtime.store.checkpoint import Checkpoint

    with tempfile.TemporaryDirectory() as d:
        Checkpoint(d, "insurer", JOB, resume=False).save(1, {"w": np.arange(4.0), "epoch": 1, "note": "x"})
        return [next((Path(d) / "insurer").glob("*.npz")).read_bytes()]


def _targets() -> list[Target]:
    out = [
        Target("ndarray", _ndarray, _ndarray_seeds, common_pb2.NDArray),
        Target("fixed_bytes", _fixed, _fixed_seeds, common_pb2.FixedBytes),
        Target("envelope", _envelope, _envelope_seeds, common_pb2.Envelope),
        Target("job_proposal", _proposal, _proposal_seeds, job_pb2.JobProposal),
        Target("mask_key", _mask_key, _mask_key_seeds, lr_pb2.MaskKey),
        Target("job_toml", _job_toml, _repo_files("job.toml", "job_sbt.toml"), toml=True),
        Target(
            "party_toml", _party_toml, _repo_files("insurer.toml", "hospital.toml", "pharma.toml"), toml=True
        ),
        Target("model_file", _model_file, _model_seeds, json=True),
        Target("checkpoint", _checkpoint, _checkpoint_seeds),
    ]
    if _available("ou"):
        out.append(Target("heu_array", _heu_array, _heu_array_seeds, stored=False))
        out.append(Target("heu_range", _heu_range, _heu_array_seeds, stored=False))
    for name in ("ou", "zpaillier", "paillier", "ckks"):
        if not _available(name):
            continue
        out += [
            Target(f"he_batch_{name}", _batch(name), _batch_seeds(name), he_pb2.CipherBatch, stored=False),
            Target(
                f"he_hist_{name}", _hist(name), _hist_seeds(name), he_pb2.EncryptedHistogramMsg, stored=False
            ),
            # building a key from a context is the expensive part (heu precomputes per key)
            Target(
                f"public_context_{name}",
                _context(name),
                _context_seeds(name),
                he_pb2.PublicContext,
                True,
                False,
            ),
        ]
    return out


TARGETS: dict[str, Target] = {t.name: t for t in _targets()}
