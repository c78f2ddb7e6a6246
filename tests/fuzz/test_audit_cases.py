"""The audit's crashing inputs (issue 18) that no other test names, kept as regressions: each is
now refused with the vfl error that says what was wrong."""

from __future__ import annotations

import pytest

from vfl.core.errors import ProtocolError, WireError
from vfl.wire.proposal import check_proposal
from vfl.wire.v1 import common_pb2, job_pb2, lr_pb2

from .targets import TARGETS


def test_an_all_zero_x25519_mask_key_is_a_protocol_error() -> None:
    zero = lr_pb2.MaskKey(x25519_public=bytes(32)).SerializeToString()
    with pytest.raises(ProtocolError, match="unusable X25519 key"):
        TARGETS["mask_key"].run(zero)


@pytest.mark.parametrize(
    ("shape", "words"),
    [([0, 2**63], "axis"), ([2**20, 2**20], "elements"), ([1] * 9, "dimensions")],
)
def test_an_ndarray_header_out_of_bounds_is_refused(shape: list[int], words: str) -> None:
    msg = common_pb2.NDArray(dtype="<f8", shape=shape, data=b"")
    with pytest.raises(WireError, match=words):
        TARGETS["ndarray"].run(msg.SerializeToString())


def _proposal(**fields: object) -> job_pb2.JobProposal:
    base = job_pb2.JobProposal(
        job_id="job-1", parties=["insurer", "hospital"], active="insurer", model="lr", he="ou",
        test_size=0.2, seed=1, params_json="{}", task="train", spec_sha256="0" * 64,
    )  # fmt: skip
    for k, v in fields.items():
        setattr(base, k, v)
    return base


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"job_id": "bad id!"}, "job id"),
        ({"params_json": "[" * 50_000}, "characters"),
        ({"params_json": "[" * 2_000}, "not JSON"),
        ({"params_json": '{"epochs": NaN}'}, "not finite"),
        ({"params_json": '{"w": [1, 2]}'}, "scalars"),
        ({"test_size": float("nan")}, "test_size"),
        ({"model": "x" * 100}, "model"),
        ({"spec_sha256": "abc"}, "hash"),
    ],
)
def test_a_proposal_out_of_bounds_is_refused(fields: dict[str, object], words: str) -> None:
    check_proposal(_proposal())  # the base proposal is in bounds
    with pytest.raises(WireError, match=words):
        check_proposal(_proposal(**fields))


def test_a_proposal_naming_a_party_twice_or_too_many_is_refused() -> None:
    twice = _proposal()
    twice.parties.append("insurer")
    with pytest.raises(WireError, match="twice"):
        check_proposal(twice)
    many = _proposal()
    many.parties.extend(f"p{i}" for i in range(40))
    with pytest.raises(WireError, match="parties"):
        check_proposal(many)
