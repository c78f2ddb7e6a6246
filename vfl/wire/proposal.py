"""Bounds on a job proposal before anything is built from it.

A proposal comes from a peer, possibly one that may not propose at all, and it is parsed before
the policy can say no; so every field is bounded here first: ids and names by their patterns,
short words for model/HE/task, a finite ``test_size`` in [0, 1), and ``params_json`` a small,
flat JSON object of bounded scalars (a 50,000-deep array used to exhaust Python's recursion).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from vfl.core.errors import VflError, WireError
from vfl.core.jobs import check_job_id
from vfl.core.parties import check_party_name
from vfl.wire.v1 import job_pb2

__all__ = [
    "MAX_PARAMS",
    "MAX_PARAMS_JSON_BYTES",
    "MAX_PARTIES",
    "check_proposal",
    "proposal_params",
]

MAX_PARTIES = 32
MAX_PARAMS = 64
MAX_PARAMS_JSON_BYTES = 1 << 14
MAX_PARAM_STR = 256
_WORD = re.compile(r"^[a-z0-9_-]{0,32}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _refuse(what: str) -> WireError:
    return WireError(f"job proposal refused: {what}", "the proposer runs a broken or hostile client")


def proposal_params(params_json: str) -> dict[str, Any]:
    """The proposal's parameters: a flat JSON object of at most MAX_PARAMS bounded scalars."""
    if len(params_json) > MAX_PARAMS_JSON_BYTES:
        raise _refuse(f"parameters of {len(params_json)} characters (limit {MAX_PARAMS_JSON_BYTES})")
    try:
        params = json.loads(params_json or "{}")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise _refuse(f"parameters are not JSON ({type(exc).__name__})") from None
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise _refuse(f"parameters must be a JSON object of at most {MAX_PARAMS} entries")
    for key, value in params.items():
        if not _KEY.match(key):
            raise _refuse(f"parameter name {key[:40]!r} is not allowed")
        if isinstance(value, float) and not math.isfinite(value):
            raise _refuse(f"parameter {key} is not finite")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
            raise _refuse(f"parameter {key} is out of range")
        if isinstance(value, str) and len(value) > MAX_PARAM_STR:
            raise _refuse(f"parameter {key} is a string over {MAX_PARAM_STR} characters")
        if not (value is None or isinstance(value, bool | int | float | str)):
            raise _refuse("parameters must be a flat JSON object of scalars")
    return params


def check_proposal(msg: job_pb2.JobProposal) -> job_pb2.JobProposal:
    """Refuse (WireError) a proposal any field of which is out of bounds; return it unchanged."""
    try:
        check_job_id(msg.job_id)
        if msg.model_job_id:
            check_job_id(msg.model_job_id)
        if not 2 <= len(msg.parties) <= MAX_PARTIES:
            raise _refuse(f"{len(msg.parties)} parties (a job has 2..{MAX_PARTIES})")
        for p in msg.parties:
            check_party_name(p)
    except WireError:
        raise
    except VflError as exc:  # the core checks speak of our own config; this is the peer's
        raise _refuse(exc.cause) from None
    if len(set(msg.parties)) != len(msg.parties):
        raise _refuse("a party is named twice")
    if msg.active and msg.active not in msg.parties:
        raise _refuse("the label holder is not a party of the job")
    for name, word in (("model", msg.model), ("he", msg.he), ("task", msg.task)):
        if not _WORD.match(word):
            raise _refuse(f"{name} {word[:40]!r} is not a known word")
    if not (math.isfinite(msg.test_size) and 0.0 <= msg.test_size < 1.0):
        raise _refuse(f"test_size {msg.test_size!r} is not in [0, 1)")
    if not _SHA256.match(msg.spec_sha256):
        raise _refuse("the spec hash is not 64 hex digits")
    proposal_params(msg.params_json)
    return msg
