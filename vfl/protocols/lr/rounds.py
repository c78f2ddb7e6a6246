"""The HE gradient round that every LR solver runs (protocols/specs/lr.md, messages 4-6): the
active encrypts the residual d and sends [[d]]; each passive returns [[X_p^T d + r_p]] under a
one-time mask r_p; the active decrypts it (adding DP noise, or CKKS flooding noise) and returns
it; the passive removes r_p. Also the active's per-row weights and label checks."""

from __future__ import annotations

import numpy as np

from vfl.core.errors import ConfigError, CryptoError, ProtocolError
from vfl.crypto.dp import gaussian_noise
from vfl.crypto.he.base import CipherVector, HEScheme
from vfl.executor.he import HEWork
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.local import Clock
from vfl.protocols.lr.masking import uniform_mask
from vfl.transport.channel import Channel
from vfl.wire.arrays import from_ndarray, to_ndarray
from vfl.wire.v1 import he_pb2, lr_pb2

__all__ = [
    "blur",
    "check_labels",
    "collect_parts",
    "passive_gradient",
    "report_part",
    "return_masked_gradients",
    "sample_weights",
    "send_residual",
]


def send_residual(
    channel: Channel, scheme: HEScheme, passives: list[str], d: np.ndarray, topic: str, clock: Clock
) -> None:
    """Active: encrypt the residual and send [[d]] to every passive."""
    with clock.in_crypto():
        enc = scheme.serialize(scheme.encrypt(d), channel.job_id)
    channel.broadcast(topic, enc, passives)


def return_masked_gradients(
    channel: Channel,
    scheme: HEScheme,
    passives: list[str],
    topics: tuple[str, str],
    clock: Clock,
    noise_sd: float,
    flood_sd: float,
    rng: np.random.Generator,
) -> None:
    """Active: decrypt each passive's [[X_p^T d + r_p]] (topic 0) and return it, blurred (topic 1)."""
    for peer in passives:
        msg = channel.recv(peer, topics[0], he_pb2.CipherBatch)
        with clock.in_crypto():
            try:
                masked = scheme.decrypt(_vector(scheme, msg, channel.job_id, peer))
            except CryptoError as exc:  # say whose ciphertext failed (fault injection, issue 18)
                raise CryptoError(f"{peer}'s '{topics[0]}': {exc.cause}", exc.hint) from exc
        masked = blur(masked, noise_sd, flood_sd, rng)
        channel.send(peer, topics[1], lr_pb2.MaskedGradient(values=to_ndarray(masked)))


def passive_gradient(
    channel: Channel,
    he: HEWork,
    active: str,
    x: np.ndarray,
    topics: tuple[str, str, str],
    bound: float,
    clock: Clock,
) -> np.ndarray:
    """Passive: this party's gradient ``X_p^T d`` over the rows ``x`` from the active's [[d]]
    (topics: residual, masked gradient, its decryption); the active sees it only masked. The
    product runs where ``he`` says (this process, or this party's executor workers)."""
    scheme = he.scheme
    msg = channel.recv(active, topics[0], he_pb2.CipherBatch)
    r = uniform_mask(x.shape[1], bound)
    with clock.in_crypto():
        enc_d = _vector(scheme, msg, channel.job_id, active)
        if len(enc_d) != x.shape[0]:
            raise ProtocolError(f"{active} sent {len(enc_d)} residuals for {x.shape[0]} rows")
        enc_g = scheme.add_plain(he.dot_plain(enc_d, x), r)
        out = scheme.serialize(enc_g, channel.job_id)
    channel.send(active, topics[1], out)
    back = channel.recv(active, topics[2], lr_pb2.MaskedGradient)
    masked = from_ndarray(back.values, max_elements=x.shape[1])
    if masked.shape != (x.shape[1],):
        raise ProtocolError(f"{active} returned a gradient of shape {masked.shape}")
    return np.asarray(masked - r, dtype=np.float64)


def _vector(scheme: HEScheme, msg: he_pb2.CipherBatch, job_id: str, peer: str) -> CipherVector:
    """A ciphertext vector from ``peer`` (a histogram or anything else is refused)."""
    got = scheme.deserialize(msg, job_id)
    if not isinstance(got, CipherVector):
        raise ProtocolError(f"{peer} sent a {type(got).__name__} where LR expects a ciphertext vector")
    return got


def blur(values: np.ndarray, dp_sd: float, flood_sd: float, rng: np.random.Generator) -> np.ndarray:
    """DP noise on a passive's (masked) gradient, or, for CKKS, flooding noise plus rounding to
    2^-32 so that the approximate decryption error is not returned as is (IND-CPA-D)."""
    if dp_sd > 0:
        return values + gaussian_noise(values.shape, dp_sd, rng)
    if flood_sd > 0:
        noisy = values + gaussian_noise(values.shape, flood_sd, rng)
        return np.round(noisy * 2.0**32) / 2.0**32
    return values


def sample_weights(y: np.ndarray, cw: str | dict[int, float] | None, normalise: bool) -> np.ndarray:
    """Per-row weights of the loss from ``class_weight`` (normalised to max 1 under DP)."""
    if cw is None:
        per = {0: 1.0, 1: 1.0}
    elif cw == "balanced":
        n1 = float(y.sum())
        n0 = len(y) - n1
        per = {0: len(y) / (2 * max(n0, 1.0)), 1: len(y) / (2 * max(n1, 1.0))}
    else:
        per = {0: float(cw.get(0, 1.0)), 1: float(cw.get(1, 1.0))}  # type: ignore[union-attr]
    if normalise:  # DP: |d_i| <= 1 bounds a row's influence
        top = max(per.values())
        per = {k: v / top for k, v in per.items()}
    return np.where(y == 1, per[1], per[0])


def check_labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if not np.all((y == 0) | (y == 1)):
        raise ConfigError("LR needs a binary label with values 0 and 1", "recode the label column to 0/1")
    if y.min() == y.max():
        raise ConfigError("the label has only one class", "check the label column and the alignment")
    return y


def collect_parts(channel: Channel, passives: list[str], mine: str) -> dict[str, str]:
    """Active, at the end of training: every passive's part fingerprint, then all of them back
    to every passive (so that scoring refuses parts from different trainings)."""
    parts = {channel.me: mine}
    for peer in passives:
        got = channel.recv(peer, S.T_FINAL_PART, lr_pb2.PartFingerprints)
        if set(got.parts) != {peer}:
            raise ProtocolError(f"{peer} reported fingerprints for {sorted(got.parts)}, not itself")
        parts[peer] = got.parts[peer]
    channel.broadcast(S.T_FINAL_PARTS, lr_pb2.PartFingerprints(parts=parts), passives)
    return parts


def report_part(channel: Channel, active: str, mine: str) -> dict[str, str]:
    """Passive, at the end of training: send this part's fingerprint, receive every party's."""
    channel.send(active, S.T_FINAL_PART, lr_pb2.PartFingerprints(parts={channel.me: mine}))
    parts = dict(channel.recv(active, S.T_FINAL_PARTS, lr_pb2.PartFingerprints).parts)
    if parts.get(channel.me) != mine:
        raise ProtocolError(f"{active} recorded a different fingerprint for {channel.me}'s part")
    return parts
