"""CKKS on TenSEAL: tenseal builds the context and keys; the packed linear algebra runs on SEAL's
own API as shipped inside tenseal (``tenseal.sealapi``) so that we control rotations and levels.

Parameters: N=8192, coefficient modulus [60, 40, 40, 60] (218 bits, the 128-bit HE-standard
limit for N=8192), scale 2^40: two rescalings of depth (one plaintext product, then one more).
Galois keys only for the 12 positive power-of-two steps (about 17 MB): every rotation we use
is a single power-of-two step. Precision: about 1e-6 absolute for values of order 1.

Layout: value i of a vector sits in ciphertext i // per_ct at slot (i % per_ct) * stride.
Fresh vectors use per_ct = 4096, stride = 1.

``dot_plain(a, X)`` (X.T @ a, X of shape (n, k)) packs up to K = S / B outputs in one ciphertext
(block size B = S / K, K = next power of two >= k, S = 4096 slots):
    W_r = sum_t E_{t,r} * c_t         with E_{t,r}[s] = X[t*S + s, (s // B - r) mod K]
    Z   = sum_r rot(W_r, r*B)          (Horner: K-1 rotations by B)
then a rotate-and-sum inside each block (log2 B rotations) leaves output j in slot j*B.
Cost: (n / S) * K plaintext products and K - 1 + log2 B rotations per K outputs.

Histograms (``bucket_sums``) are the same product with the one-hot matrix of the bins, run by
:mod:`vfl.crypto.he.ckks_hist`: g and h packed as one complex vector, the node as a row mask on
the input, the matrix's diagonals encoded once per job and cached, baby-step giant-step
rotations. A histogram travels as one complex vector (G + iH) at scale 2^65, one level down.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from vfl.core.errors import CryptoError, WireError
from vfl.core.jobs import check_job_id
from vfl.crypto.fingerprints import sha256_hex
from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme
from vfl.crypto.he.ckks_hist import HIST_SCALE_BITS, HistogramEngine
from vfl.crypto.he.encoding import ceil_div
from vfl.crypto.he.integer import check_bucket_args
from vfl.crypto.he.params import check_ckks
from vfl.crypto.he.wire import MAX_CIPHERTEXTS, check_binding, stamp
from vfl.wire.v1 import he_pb2

__all__ = ["CkksHistogram", "CkksScheme", "CkksVector"]

DEFAULT_N = 8192
DEFAULT_COEFF = (60, 40, 40, 60)
DEFAULT_SCALE_BITS = 40


@dataclass
class CkksVector(CipherVector):
    cts: list[Any]
    n: int
    per_ct: int
    stride: int = 1
    clean: bool = True  # slots outside the layout are zero

    def __len__(self) -> int:
        return self.n


@dataclass
class CkksGH(CkksVector):
    """(g, h) for SecureBoost, packed as the complex values g + i*h (one ciphertext serves both
    sums). ``derived`` keeps the passive's baby-step rotations across a tree's nodes."""

    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class CkksHistogram(EncryptedHistogram):
    """Column f * n_bins + b of ``z`` holds sum g + i * sum h (real part G, imaginary part H)."""

    z: CkksVector
    n_features: int
    n_bins: int


def _check_scale_bits(scale_bits: int, coeff: list[int]) -> None:
    """The scale must sit between 2^20 and the middle primes (a peer's 2^5000 overflowed float)."""
    if not 20 <= int(scale_bits) <= min(coeff[1:-1]):
        raise CryptoError(
            f"CKKS scale 2^{scale_bits} does not match the middle primes {coeff[1:-1]}",
            "use scale_bits equal to the middle prime size",
        )


def _temp_dir() -> tempfile.TemporaryDirectory[str]:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.TemporaryDirectory(dir=base)


class CkksScheme(HEScheme):
    name: ClassVar[str] = "ckks"

    def __init__(
        self, ctx: Any, galois: Any, context_bytes: bytes, galois_bytes: bytes, scale_bits: int
    ) -> None:
        import tenseal.sealapi as sa  # type: ignore[import-untyped]

        self._sa, self._ctx = sa, ctx
        self._sc = ctx.seal_context().data
        self._gk = galois
        self._ctx_bytes, self._gk_bytes = context_bytes, galois_bytes
        self._scale = float(2**scale_bits)
        self.scale_bits = scale_bits
        self._enc = sa.CKKSEncoder(self._sc)
        self._ev = sa.Evaluator(self._sc)
        self.slots = self._enc.slot_count()
        parms = self._sc.key_context_data().parms()
        self.poly_modulus_degree = int(parms.poly_modulus_degree())
        self.coeff_mod_bit_sizes = [int(m.bit_count()) for m in parms.coeff_modulus()]
        self._fingerprint = sha256_hex(self.name.encode(), context_bytes, galois_bytes)
        self._dec = sa.Decryptor(self._sc, ctx.secret_key().data) if ctx.is_private() else None
        self.histograms = HistogramEngine(self)

    # -- keys ----------------------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        poly_modulus_degree: int = DEFAULT_N,
        coeff_mod_bit_sizes: list[int] | tuple[int, ...] = DEFAULT_COEFF,
        scale_bits: int = DEFAULT_SCALE_BITS,
    ) -> CkksScheme:
        import tenseal as ts  # type: ignore[import-untyped]
        import tenseal.sealapi as sa

        coeff = [int(b) for b in coeff_mod_bit_sizes]
        check_ckks(poly_modulus_degree, coeff)
        _check_scale_bits(scale_bits, coeff)
        ctx = ts.context(ts.SCHEME_TYPE.CKKS, int(poly_modulus_degree), coeff_mod_bit_sizes=coeff)
        ctx.global_scale = float(2**scale_bits)
        sc = ctx.seal_context().data
        gk = sa.GaloisKeys()
        m = 2 * int(poly_modulus_degree)
        steps = [1 << i for i in range(int(poly_modulus_degree // 2).bit_length() - 1)]
        sa.KeyGenerator(sc, ctx.secret_key().data).create_galois_keys([pow(3, s, m) for s in steps], gk)
        ctx_bytes = bytes(
            ctx.serialize(
                save_public_key=True, save_secret_key=False, save_galois_keys=False, save_relin_keys=False
            )
        )
        with _temp_dir() as d:
            path = os.path.join(d, "gk")
            gk.save(path)
            with open(path, "rb") as f:
                gk_bytes = f.read()
        return cls(ctx, gk, ctx_bytes, gk_bytes, scale_bits)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def has_secret_key(self) -> bool:
        return self._dec is not None

    def public_context(self) -> he_pb2.PublicContext:
        return he_pb2.PublicContext(
            scheme=self.name,
            fingerprint=self._fingerprint,
            poly_modulus_degree=self.poly_modulus_degree,
            coeff_mod_bit_sizes=self.coeff_mod_bit_sizes,
            scale_bits=self.scale_bits,
            public_key=self._ctx_bytes,
            galois_keys=self._gk_bytes,
        )

    @classmethod
    def from_public_context(cls, msg: Any, job_id: str) -> CkksScheme:
        import tenseal as ts
        import tenseal.sealapi as sa

        check_job_id(job_id)
        if not isinstance(msg, he_pb2.PublicContext) or msg.scheme != cls.name:
            raise WireError("expected a CKKS PublicContext")
        if msg.job_id and msg.job_id != job_id:
            raise WireError(f"public context is for job {msg.job_id!r}, not {job_id!r}")
        if sha256_hex(cls.name.encode(), msg.public_key, msg.galois_keys) != msg.fingerprint:
            raise CryptoError(
                "the CKKS public context's fingerprint does not match its content",
                "the context was corrupted or altered; ask the key holder to resend",
            )
        try:
            ctx = ts.context_from(bytes(msg.public_key))
        except Exception as err:
            raise WireError(f"could not parse the CKKS context: {err}") from err
        if ctx.is_private() or ctx.has_secret_key():
            raise CryptoError(
                "the received CKKS context carries the SECRET key",
                "the key holder must send a public context only (make_context_public); "
                "treat that key as compromised and generate a new one",
            )
        parms = ctx.seal_context().data.key_context_data().parms()
        n = int(parms.poly_modulus_degree())
        coeff = [int(m.bit_count()) for m in parms.coeff_modulus()]
        check_ckks(n, coeff)
        if (n, coeff) != (msg.poly_modulus_degree, list(msg.coeff_mod_bit_sizes)):
            raise WireError("the CKKS context's parameters differ from the ones it announces")
        _check_scale_bits(int(msg.scale_bits), coeff)
        gk = sa.GaloisKeys()
        with _temp_dir() as d:
            path = os.path.join(d, "gk")
            with open(path, "wb") as f:
                f.write(msg.galois_keys)
            try:
                gk.load(ctx.seal_context().data, path)
            except Exception as err:
                raise WireError(f"could not load the CKKS rotation keys: {err}") from err
        try:  # a BFV context parses too, and SEAL refuses a CKKS encoder for it only here
            return cls(ctx, gk, bytes(msg.public_key), bytes(msg.galois_keys), int(msg.scale_bits))
        except (ValueError, RuntimeError, TypeError) as err:
            raise WireError(f"the CKKS context is not usable for CKKS: {err}") from err

    # -- plumbing -------------------------------------------------------------------------------
    def _vec(self, c: CipherVector | EncryptedHistogram) -> CkksVector:
        if not isinstance(c, CkksVector) or isinstance(c, CkksGH):
            raise CryptoError(f"{type(c).__name__} is not a CKKS vector")
        return c

    def _new(self) -> Any:
        return self._sa.Ciphertext(self._sc)

    def _encode(self, slots: np.ndarray, ct: Any, scale: float | None = None) -> Any:
        pt = self._sa.Plaintext()
        self._enc.encode(slots.tolist(), ct.parms_id(), scale or self._scale, pt)
        return pt

    def _layout(self, a: CkksVector, values: np.ndarray) -> list[np.ndarray]:
        """Per ciphertext, a full slot array holding ``values`` at a's positions, zeros elsewhere."""
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size != a.n:
            raise CryptoError(f"plaintext has {v.size} values, ciphertext vector has {a.n}")
        if not np.all(np.isfinite(v)):
            raise CryptoError("plaintext values are NaN or infinite", "check the inputs")
        out = []
        for i in range(len(a.cts)):
            s = np.zeros(self.slots)
            part = v[i * a.per_ct : (i + 1) * a.per_ct]
            s[: part.size * a.stride : a.stride] = part
            out.append(s)
        return out

    def _level(self, ct: Any) -> int:
        return int(self._sc.get_context_data(ct.parms_id()).chain_index())

    def _rescale(self, ct: Any) -> Any:
        self._ev.rescale_to_next_inplace(ct)
        ct.scale = self._scale  # the dropped prime is within 2^-20 of 2^40: negligible error
        return ct

    def _mul_plain_cts(self, a: CkksVector, slots: list[np.ndarray]) -> list[Any]:
        if any(self._level(ct) == 0 for ct in a.cts):
            raise CryptoError(
                "this CKKS ciphertext has no multiplicative depth left",
                "decrypt and re-encrypt, or use a larger coefficient modulus",
            )
        out = []
        for ct, s in zip(a.cts, slots, strict=True):
            r = self._new()
            self._ev.multiply_plain(ct, self._encode(s, ct), r)
            out.append(self._rescale(r))
        return out

    def _rot(self, ct: Any, step: int) -> Any:
        r = self._new()
        self._ev.rotate_vector(ct, int(step), self._gk, r)
        return r

    def _align(self, x: Any, y: Any) -> tuple[Any, Any]:
        lx, ly = self._level(x), self._level(y)
        if lx > ly:
            x = self._switch(x, y.parms_id())
        elif ly > lx:
            y = self._switch(y, x.parms_id())
        return x, y

    def _switch(self, ct: Any, parms_id: Any) -> Any:
        r = self._new()
        self._ev.mod_switch_to(ct, parms_id, r)
        return r

    # -- key holder ------------------------------------------------------------------------------
    def encrypt(self, values: np.ndarray) -> CkksVector:
        import tenseal as ts

        v = self._check_plain(np.asarray(values, dtype=np.float64).ravel())
        padded = np.zeros(ceil_div(v.size, self.slots) * self.slots)
        padded[: v.size] = v  # zero-pad: tenseal would otherwise replicate a short chunk
        cts = [
            ts.ckks_vector(self._ctx, padded[i : i + self.slots]).ciphertext()[0]
            for i in range(0, v.size, self.slots)
        ]
        return CkksVector(cts, int(v.size), self.slots)

    @staticmethod
    def _check_plain(v: np.ndarray) -> np.ndarray:
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise CryptoError("cannot encrypt an empty vector or NaN/infinite values")
        if np.max(np.abs(v)) >= 2.0**18:
            raise CryptoError(
                f"|value| up to {np.max(np.abs(v)):.3g} is too large for CKKS at scale 2^40 (limit 2^18)",
                "standardise or clip the inputs",
            )
        return v

    def decrypt(self, c: CipherVector) -> np.ndarray:
        return self._decrypt(c, complex_=False)

    def _decrypt(self, c: CipherVector, complex_: bool) -> np.ndarray:
        if isinstance(c, CkksGH):
            z = self._decrypt(CkksVector(c.cts, c.n, c.per_ct, c.stride), complex_=True)
            return np.stack([z.real, z.imag], axis=1)
        a = self._vec(c)
        if self._dec is None:
            raise CryptoError(
                "this CKKS context is public-only and cannot decrypt",
                "only the key holder (the active party) decrypts",
            )
        out = []
        for i, ct in enumerate(a.cts):
            pt = self._sa.Plaintext()
            self._dec.decrypt(ct, pt)
            slots = np.asarray(self._enc.decode_complex(pt) if complex_ else self._enc.decode_double(pt))
            m = min(a.per_ct, a.n - i * a.per_ct)
            out.append(slots[: m * a.stride : a.stride])
        return np.concatenate(out)

    # -- anyone ----------------------------------------------------------------------------------
    def add(self, a: CipherVector, b: CipherVector) -> CkksVector:
        x, y = self._vec(a), self._vec(b)
        if (x.n, x.per_ct, x.stride) != (y.n, y.per_ct, y.stride):
            raise CryptoError("cannot add CKKS vectors of different lengths or layouts")
        out = []
        for cx, cy in zip(x.cts, y.cts, strict=True):
            cx, cy = self._align(cx, cy)
            r = self._new()
            self._ev.add(cx, cy, r)
            out.append(r)
        return CkksVector(out, x.n, x.per_ct, x.stride, x.clean and y.clean)

    def _sub(self, x: CkksVector, y: CkksVector) -> CkksVector:
        out = []
        for cx, cy in zip(x.cts, y.cts, strict=True):
            cx, cy = self._align(cx, cy)
            r = self._new()
            self._ev.sub(cx, cy, r)
            out.append(r)
        return CkksVector(out, x.n, x.per_ct, x.stride, x.clean and y.clean)

    def add_plain(self, a: CipherVector, values: np.ndarray) -> CkksVector:
        x = self._vec(a)
        out = []
        for ct, s in zip(x.cts, self._layout(x, values), strict=True):
            r = self._new()
            self._ev.add_plain(ct, self._encode(s, ct, ct.scale), r)
            out.append(r)
        return CkksVector(out, x.n, x.per_ct, x.stride, x.clean)

    def mul_plain(self, a: CipherVector, values: np.ndarray) -> CkksVector:
        x = self._vec(a)
        cts = self._mul_plain_cts(x, self._layout(x, values))
        return CkksVector(cts, x.n, x.per_ct, x.stride, True)

    def sum(self, a: CipherVector) -> CkksVector:
        x = self._vec(a)
        cts = x.cts
        if not (x.clean and x.stride == 1):
            cts = self._mul_plain_cts(x, self._layout(x, np.ones(x.n)))
        acc = cts[0]
        for ct in cts[1:]:
            acc = self._add_ct(acc, ct)
        step = self.slots // 2
        while step >= 1:
            acc = self._add_ct(acc, self._rot(acc, step))
            step //= 2
        return CkksVector([acc], 1, 1, 1, False)

    def _add_ct(self, x: Any, y: Any) -> Any:
        x, y = self._align(x, y)
        r = self._new()
        self._ev.add(x, y, r)
        return r

    def dot_plain(self, a: CipherVector, matrix: np.ndarray) -> CkksVector:
        x = self._vec(a)
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != x.n:
            raise CryptoError(f"dot_plain needs an ({x.n}, k) matrix, got shape {m.shape}")
        if not np.all(np.isfinite(m)):
            raise CryptoError("the plaintext matrix has NaN or infinite values")
        return self._packed_dot(x, m.shape[1], lambda rows, cols: m[rows, cols])

    def _packed_dot(
        self, x: CkksVector, k: int, value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> CkksVector:
        """The BSGS-packed X.T @ x of the module docstring; value(rows, cols) reads X."""
        if x.stride != 1 or x.per_ct != self.slots:
            raise CryptoError("dot_plain needs a freshly laid-out vector (one value per slot)")
        if any(self._level(ct) == 0 for ct in x.cts):
            raise CryptoError("this CKKS ciphertext has no multiplicative depth left")
        S = self.slots
        K = min(S, 1 << max(k - 1, 0).bit_length())
        B = S // K
        s_idx = np.arange(S)
        out = []
        for j0 in range(0, k, K):
            acc = None
            for r in range(K - 1, -1, -1):
                col = (s_idx // B - r) % K + j0
                w = None
                for t, ct in enumerate(x.cts):
                    rows = t * S + s_idx
                    ok = (col < k) & (rows < x.n)
                    if not ok.any():
                        continue
                    e = np.zeros(S)
                    e[ok] = value(rows[ok], col[ok])
                    if not e.any():
                        continue
                    prod = self._new()
                    self._ev.multiply_plain(ct, self._encode(e, ct), prod)
                    w = prod if w is None else self._add_ct(w, prod)
                if w is not None:
                    w = self._rescale(w)
                if acc is not None:
                    acc = self._rot(acc, B)
                    acc = acc if w is None else self._add_ct(acc, w)
                else:
                    acc = w
            if acc is None:  # an all-zero block: encrypt zeros at the right level
                acc = self._rescale(self._zero_like(x.cts[0]))
            step = B // 2
            while step >= 1:
                acc = self._add_ct(acc, self._rot(acc, step))
                step //= 2
            out.append(acc)
        return CkksVector(out, k, K, B, False)

    def _zero_like(self, ct: Any) -> Any:
        r = self._new()
        self._ev.multiply_plain(ct, self._encode(np.zeros(self.slots), ct), r)
        return r

    # -- SecureBoost -----------------------------------------------------------------------------
    def encrypt_gh(self, g: np.ndarray, h: np.ndarray) -> CkksGH:
        """Encrypt g + i*h (public-key encryption of complex slots)."""
        gv = np.asarray(g, dtype=np.float64).ravel()
        hv = np.asarray(h, dtype=np.float64).ravel()
        if gv.size != hv.size:
            raise CryptoError(f"g has {gv.size} values but h has {hv.size}")
        for v in (gv, hv):
            self._check_plain(v)
        total = float(np.sum(np.abs(gv)) + np.sum(np.abs(hv)))
        if total >= 2.0**32:  # every node's sums stay below the histograms' 2^33 headroom
            raise CryptoError(
                f"sum |g| + |h| = {total:.3g} would overflow CKKS histogram sums (limit 2^32)",
                "scale the regression target down, or use he='zpaillier' or 'ou'",
            )
        z = np.zeros(ceil_div(gv.size, self.slots) * self.slots, dtype=np.complex128)
        z[: gv.size] = gv + 1j * hv
        enc = self._sa.Encryptor(self._sc, self._ctx.public_key().data)
        cts = []
        for i in range(0, gv.size, self.slots):
            pt = self._sa.Plaintext()
            self._enc.encode(z[i : i + self.slots].tolist(), self._scale, pt)
            ct = self._new()
            enc.encrypt(pt, ct)
            cts.append(ct)
        return CkksGH(cts, int(gv.size), self.slots, 1, True)

    def bucket_sums(
        self, enc_gh: CipherVector, bins: np.ndarray, rows: np.ndarray, n_bins: int
    ) -> CkksHistogram:
        """Sums over ``rows``; see :mod:`vfl.crypto.he.ckks_hist` (the diagonals of ``bins``
        are cached, so pass the same bins array for every node of a tree)."""
        if not isinstance(enc_gh, CkksGH):
            raise CryptoError("bucket_sums needs the output of encrypt_gh")
        b, r = check_bucket_args(enc_gh.n, bins, rows, n_bins)
        z = self.histograms.bucket_sums(enc_gh, b, r, int(n_bins))
        return CkksHistogram(z, b.shape[1], int(n_bins))

    def subtract_histograms(self, parent: EncryptedHistogram, child: EncryptedHistogram) -> CkksHistogram:
        if not (isinstance(parent, CkksHistogram) and isinstance(child, CkksHistogram)):
            raise CryptoError("subtract_histograms needs two CKKS histograms")
        if (parent.n_features, parent.n_bins) != (child.n_features, child.n_bins):
            raise CryptoError("cannot subtract histograms of different shapes")
        return CkksHistogram(self._sub(parent.z, child.z), parent.n_features, parent.n_bins)

    def decrypt_histogram(self, hist: EncryptedHistogram) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(hist, CkksHistogram):
            raise CryptoError("decrypt_histogram needs a CKKS histogram")
        shape = (hist.n_features, hist.n_bins)
        z = self._decrypt(hist.z, complex_=True).reshape(shape)
        return np.ascontiguousarray(z.real), np.ascontiguousarray(z.imag)

    # -- wire ------------------------------------------------------------------------------------
    def serialize(self, c: CipherVector | EncryptedHistogram, job_id: str) -> Any:
        if isinstance(c, CkksHistogram):
            z = self._batch(c.z, job_id, HIST_SCALE_BITS)
            z.kind = "complex"
            msg = he_pb2.EncryptedHistogramMsg(
                n_features=c.n_features, n_bins=c.n_bins, scale_bits=HIST_SCALE_BITS, g=z
            )
            return stamp(msg, self.name, self._fingerprint, job_id)
        if isinstance(c, CkksGH):
            msg = self._batch(CkksVector(c.cts, c.n, c.per_ct, c.stride), job_id)
            msg.kind = "ghc"
            return msg
        return self._batch(self._vec(c), job_id)

    def _batch(self, x: CkksVector, job_id: str, scale_bits: int | None = None) -> he_pb2.CipherBatch:
        msg = he_pb2.CipherBatch(
            count=x.n,
            n_ciphertexts=len(x.cts),
            kind="real",
            per_ciphertext=x.per_ct,
            stride=x.stride,
            scale_bits=scale_bits or self.scale_bits,
        )
        with _temp_dir() as d:
            path = os.path.join(d, "ct")
            for ct in x.cts:
                ct.save(path)
                with open(path, "rb") as f:
                    msg.ciphertexts.append(f.read())
        return stamp(msg, self.name, self._fingerprint, job_id)

    def deserialize(self, msg: Any, job_id: str) -> CipherVector | EncryptedHistogram:
        if isinstance(msg, he_pb2.EncryptedHistogramMsg):
            check_binding(msg, self.name, self._fingerprint, job_id, "histogram")
            k = msg.n_features * msg.n_bins
            layout_ok = msg.g.kind == "complex" and msg.scale_bits == HIST_SCALE_BITS
            if msg.HasField("h") or msg.occupied or not layout_ok:
                raise WireError(
                    f"a CKKS histogram must be one complex batch (G + iH) of every bin at scale "
                    f"2^{HIST_SCALE_BITS}",
                    "both parties must run the same vfl version",
                )
            z = self._unbatch(msg.g, job_id, "complex", HIST_SCALE_BITS)
            if not k or z.n != k:
                raise WireError(f"CKKS histogram carries {z.n} sums, expected {k}")
            return CkksHistogram(z, msg.n_features, msg.n_bins)
        if not isinstance(msg, he_pb2.CipherBatch):
            raise WireError(f"expected a CipherBatch or EncryptedHistogramMsg, got {type(msg).__name__}")
        if msg.kind == "ghc":
            z = self._unbatch(msg, job_id, "ghc")
            if z.per_ct != self.slots or z.stride != 1:
                raise WireError("a CKKS (g, h) batch must use the fresh layout")
            return CkksGH(z.cts, z.n, z.per_ct, 1, False)
        return self._unbatch(msg, job_id)

    def _unbatch(
        self, msg: he_pb2.CipherBatch, job_id: str, kind: str = "real", scale_bits: int | None = None
    ) -> CkksVector:
        check_binding(msg, self.name, self._fingerprint, job_id, "ciphertext batch")
        per, stride = int(msg.per_ciphertext), int(msg.stride)
        bits = scale_bits or self.scale_bits
        scale = float(2**bits)
        if msg.kind != kind or not 0 < msg.count <= MAX_CIPHERTEXTS or per < 1 or stride < 1:
            raise WireError(
                f"CKKS batch has an unusable layout ({msg.kind!r}, {msg.count} "
                f"values, {per} per ciphertext, stride {stride})"
            )
        if per * stride > self.slots or per & (per - 1) or stride & (stride - 1):
            raise WireError(f"CKKS layout {per} x stride {stride} does not fit {self.slots} slots")
        want = ceil_div(int(msg.count), per)
        if len(msg.ciphertexts) != want or msg.n_ciphertexts != want:
            raise WireError(
                f"CKKS batch carries {len(msg.ciphertexts)} ciphertexts, expected {want}",
                "the message was truncated or altered; ask the sender to resend",
            )
        if msg.scale_bits != bits:
            raise WireError(f"CKKS batch at scale 2^{msg.scale_bits}, expected 2^{bits}")
        cts = []
        with _temp_dir() as d:
            path = os.path.join(d, "ct")
            for raw in msg.ciphertexts:
                with open(path, "wb") as f:
                    f.write(raw)
                ct = self._new()
                try:  # SEAL checks parameters, sizes and that every coefficient is reduced
                    ct.load(self._sc, path)
                except Exception as err:
                    raise CryptoError(
                        f"a CKKS ciphertext is not valid for this context: {err}",
                        "the message was tampered with or made under other parameters",
                    ) from err
                # written so that a NaN scale fails it (NaN compares false with everything)
                if ct.size() != 2 or not abs(ct.scale / scale - 1) <= 1e-3 or not ct.is_ntt_form:
                    raise CryptoError(
                        "a CKKS ciphertext has an unexpected size or scale",
                        "refuse the round; the sender is misconfigured",
                    )
                cts.append(ct)
        if len({self._level(ct) for ct in cts}) != 1:
            raise WireError("the ciphertexts of one CKKS batch sit at different levels")
        return CkksVector(cts, int(msg.count), per, stride, False)
