"""Side-by-side HE throughput, measured through the HEScheme interface (so encoding counts).

Returns plain records; printing belongs to the CLI. phe (python-paillier) is measured on a small
sample and its rates extrapolated (values/s), as are decryptions of the Paillier family beyond
``decrypt_sample`` values; each record says what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vfl.crypto.he import HEScheme, available_backends, make_scheme
from vfl.crypto.he.wire import bins_carried

__all__ = ["OPS", "run_crypto_bench"]

OPS = ("encrypt", "add", "mul_plain", "sum", "decrypt")
JOB = "bench-crypto"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _one(
    name: str, params: dict[str, Any], n: int, sample: int, decrypt_sample: int, rng: np.random.Generator
) -> dict[str, Any]:
    keygen_s, s = _timed(lambda: make_scheme(name, **params))
    m = min(n, sample)
    a, b = rng.normal(size=m), rng.normal(size=m)
    rec: dict[str, Any] = {
        "backend": name,
        "params": params,
        "values": n,
        "measured_on": m,
        "keygen_seconds": keygen_s,
        "seconds": {},
        "rates": {},
    }
    t, ea = _timed(lambda: s.encrypt(a))
    rec["seconds"]["encrypt"] = t
    eb = s.encrypt(b)
    rec["seconds"]["add"], _ = _timed(lambda: s.add(ea, eb))
    rec["seconds"]["mul_plain"], prod = _timed(lambda: s.mul_plain(ea, b))
    rec["seconds"]["sum"], _ = _timed(lambda: s.sum(ea))
    md = m if name == "ckks" else min(m, decrypt_sample)
    ed = ea if md == m else s.encrypt(a[:md])
    rec["seconds"]["decrypt"], got = _timed(lambda: s.decrypt(ed))
    counts = {"encrypt": m, "add": m, "mul_plain": m, "sum": m, "decrypt": md}
    rec["rates"] = {op: counts[op] / max(rec["seconds"][op], 1e-9) for op in OPS}
    rec["decrypt_measured_on"] = md
    rec["max_abs_error"] = float(np.max(np.abs(got - a[:md])))
    rec["bytes_per_value"] = s.serialize(ea, JOB).ByteSize() / m
    rec["extrapolated"] = m < n or md < m
    _ = prod
    return rec


def run_crypto_bench(
    backends: Sequence[str] | None = None,
    sizes: Sequence[int] = (10_000,),
    key_bits: Sequence[int] = (2048, 3072),
    phe_sample: int = 40,
    decrypt_sample: int = 2_000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One record per (backend, key size, vector size) with seconds, rates (values/s), bytes per
    value and ``ratio_vs_phe`` (rate / phe's rate at the same key size, same run)."""
    names = list(backends) if backends else available_backends()
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    for n in sizes:
        phe_rates: dict[int, dict[str, float]] = {}
        if "paillier" in names:  # measure the baseline first, at every key size
            for kb in key_bits:
                rec = _one("paillier", {"key_bits": kb}, n, phe_sample, decrypt_sample, rng)
                phe_rates[kb] = rec["rates"]
                records.append(rec)
        for name in names:
            if name == "paillier":
                continue
            for kb in key_bits if name != "ckks" else (key_bits[0],):
                params = {"key_bits": kb} if name != "ckks" else {"poly_modulus_degree": 8192}
                rec = _one(name, params, n, n, decrypt_sample, rng)
                rec["compared_at_key_bits"] = kb
                records.append(rec)
        for rec in records:
            kb = rec.get("compared_at_key_bits", rec["params"].get("key_bits"))
            base = phe_rates.get(kb)
            rec["ratio_vs_phe"] = {op: rec["rates"][op] / base[op] for op in OPS} if base else None
    return records


def sbt_crypto_rates(
    name: str, n_features: int, n_bins: int, rows: int = 8192, seed: int = 0, scheme: HEScheme | None = None
) -> dict[str, float]:
    """SecureBoost's two crypto costs at this run's rates: [[g, h]] encryptions per second at the
    label holder and bucket-summed (row x feature) terms per second at a passive, on ``rows``
    rows of (g, h) like a logistic loss's and ``n_features`` features of ``n_bins`` bins. The
    bench divides a fit's counted work by these to get the fit's crypto floor. Also the rest of
    its crypto, per unit: a histogram's packing and re-randomisation (its serialisation at the
    passive) and decryption (at the label holder), per bin it carries (every bin is occupied
    here), and one load of the public key (a passive's, heu's tables). ``scheme``: the key
    holder's scheme to measure with (default: new keys)."""
    from vfl.crypto.he import CipherVector, scheme_from_public_context

    rng = np.random.default_rng(seed)
    s = scheme if scheme is not None else make_scheme(name)
    g, h = rng.uniform(-1, 1, rows), rng.uniform(0, 0.25, rows)
    enc_s, chunks = _timed(lambda: list(s.encrypt_gh_chunks(g, h, 4096 if s.gh_chunks else 0)))
    key_s, peer = _timed(lambda: scheme_from_public_context(s.public_context(), JOB))
    enc = [peer.deserialize(s.serialize(c, JOB), JOB) for c in chunks]
    bins = rng.integers(0, n_bins, size=(rows, n_features))
    starts = np.cumsum([0, *(len(c) for c in chunks)])

    def sums() -> None:
        for a, c in zip(starts, enc, strict=False):
            assert isinstance(c, CipherVector)
            peer.bucket_sums(c, bins[a : a + len(c)], np.arange(len(c)), n_bins)

    bucket_s, _ = _timed(sums)
    assert isinstance(enc[0], CipherVector)
    hist = peer.bucket_sums(enc[0], bins[: len(enc[0])], np.arange(len(enc[0])), n_bins)
    pack_s, wire = _timed(lambda: peer.serialize(hist, JOB))
    open_s, _ = _timed(lambda: s.decrypt_histogram(s.deserialize(wire, JOB)))  # type: ignore[arg-type]
    return {
        "encrypt_per_s": rows / enc_s,
        "bucket_terms_per_s": rows * n_features / bucket_s,
        "histogram_bins_per_s": bins_carried(wire) / (pack_s + open_s),
        "key_loads_per_s": 1 / key_s,
    }
