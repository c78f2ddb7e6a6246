"""CKKS SecureBoost histograms: one-hot plaintext matrix times the encrypted (g, h) vector, with
the matrix's plaintext diagonals encoded once per job and reused for every node of every tree.

Why it is fast (against encoding fresh diagonals per node, for g and again for h):
- complex packing: the key holder encrypts g + i*h (``CkksScheme.encrypt_gh``), so one product
  serves both sums; it reads G from the real and H from the imaginary parts.
- the node restriction is a row mask on the INPUT: M_node^T c = M_full^T (c * mask_node). The
  diagonals of M_full depend only on the bins, so they are cached as plaintexts; per node only
  ``T * n1`` mask products are new (T = input ciphertexts, n1 = baby steps).
- baby-step giant-step: with output column block K (a power of two), diagonal r = i*n1 + j is
  stored pre-rotated by j blocks, the input's j-block rotations are made once per gradient
  vector, and per node only K/n1 - 1 giant rotations plus log2(S/K) in-block sums remain.
- column chunks: the F * n_bins columns are cut into chunks of K columns (K chosen by a cost
  model), so little work goes to the padding up to a power of two.

Levels and scales (coeff modulus [60, 40, 40, 60], fresh scale 2^40): the mask is encoded at
scale 2^35 and rescaled (input 2^40 * 2^35 / q2, about 2^35, one level down), then the cached
diagonals (scale 2^65 / that, about 2^30) multiply it without a further rescale: the sums
arrive at scale 2^65 on the same level as the former one-product path, at about 1e-8 relative
error per product (the products run on 2 primes, which is why the mask is rescaled first).
Headroom: the sum over a node of (|g| + |h|) must stay below 2^33 (2^99 / 2^65, a factor 2
spare), e.g. 2^31 rows with |g| <= 1 and h <= 1/4; larger values garble the sums.

Memory: the cache holds at most ``cache_bytes`` (1 GiB by default; one plaintext at this level
is 2 primes * N * 8 bytes = 128 KiB at N=8192). Diagonals beyond the cap are encoded again for
every node and dropped (the former per-node cost, for those diagonals only). The
cache keeps one bins matrix: its key is a BLAKE2 digest of the bins array with its shape and
n_bins, plus the layout and the ciphertext level and scale, so a different bins matrix never
reuses another's plaintexts.

Leakage: the output is the same encrypted (G, H) histogram as before (no re-randomisation was
applied before and none is applied now); only its packing changed (one complex vector).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vfl.core.errors import CryptoError

if TYPE_CHECKING:
    from vfl.crypto.he.ckks import CkksGH, CkksScheme

__all__ = ["CACHE_BYTES", "HIST_SCALE_BITS", "HistogramEngine", "Layout", "choose_layout"]

CACHE_BYTES = 1 << 30
HIST_SCALE_BITS = 65  # scale of the histogram sums: about 2^35 (masked input) * 2^30 (diagonal)
MASK_SCALE_BITS = 35
ROT_COST = 10.0  # one rotation against one plaintext product-and-add (measured order)
ENCODE_COST = 3.0
OUT_COST = 40.0  # one more output ciphertext: serialisation and transfer


@dataclass(frozen=True)
class Layout:
    """Chunks of K output columns, block B = S / K slots per column, n1 baby steps."""

    k: int
    K: int
    B: int
    n1: int
    n_chunks: int

    @property
    def n2(self) -> int:
        return self.K // self.n1


def choose_layout(k: int, n_cts: int, slots: int) -> Layout:
    """The K (columns per output ciphertext) and n1 of least modelled per-node cost."""
    best: tuple[float, Layout] | None = None
    K = 1
    while K <= slots:
        chunks = -(-k // K)
        B = slots // K
        n1 = 1
        while n1 <= K:
            cost = (
                n_cts * K * chunks
                + n_cts * n1 * (1 + ENCODE_COST)
                + ROT_COST * chunks * (K // n1 - 1 + B.bit_length() - 1)
                + OUT_COST * chunks
            )
            if best is None or cost < best[0]:
                best = (cost, Layout(k, K, B, n1, chunks))
            n1 *= 2
        K *= 2
    assert best is not None
    return best[1]


class HistogramEngine:
    """Per-scheme state for ``CkksScheme.bucket_sums``: the diagonal cache of one bins matrix."""

    def __init__(self, scheme: CkksScheme, cache_bytes: int = CACHE_BYTES) -> None:
        self._s = scheme
        self.cache_bytes = int(cache_bytes)
        self._key: tuple[Any, ...] | None = None
        self._diag: dict[tuple[int, int, int], Any] = {}  # (t, chunk, r) -> Plaintext | None
        self._room = 0
        self.stats = {"encoded": 0, "reused": 0, "per_node": 0}

    # -- public --------------------------------------------------------------------------------
    def bucket_sums(self, gh: CkksGH, bins: np.ndarray, rows: np.ndarray, n_bins: int) -> Any:
        """(sum g + i sum h) per (feature, bin) over ``rows`` as one complex CkksVector."""
        from vfl.crypto.he.ckks import CkksVector

        s, S = self._s, self._s.slots
        if gh.stride != 1 or gh.per_ct != S:
            raise CryptoError("bucket_sums needs the fresh (g, h) layout from encrypt_gh")
        n, T = gh.n, len(gh.cts)
        lay = choose_layout(bins.shape[1] * n_bins, T, S)
        base = self._baby(gh, lay)
        if s._level(base[0][0]) < 1:
            raise CryptoError(
                "the (g, h) ciphertexts have no multiplicative depth left", "send freshly encrypted gradients"
            )
        mask = np.zeros(T * S)
        mask[rows] = 1.0
        mask = mask.reshape(T, S)
        live = [t for t in range(T) if mask[t].any()]
        if not live:  # an empty node: fresh encryptions of zero at the output level and scale
            return CkksVector(
                [self._zero(base[0][0]) for _ in range(lay.n_chunks)], lay.k, lay.K, lay.B, False
            )
        masked = {
            t: [self._mask(base[t][j], np.roll(mask[t], -j * lay.B)) for j in range(lay.n1)] for t in live
        }
        ref = masked[live[0]][0]
        self._prepare(bins, n_bins, n, T, lay, ref)
        outs = [self._chunk(c, lay, live, masked, bins, n_bins, n, ref) for c in range(lay.n_chunks)]
        return CkksVector(outs, lay.k, lay.K, lay.B, False)

    # -- per gradient vector -------------------------------------------------------------------
    def _baby(self, gh: CkksGH, lay: Layout) -> list[list[Any]]:
        """c_t = g_t + i h_t rotated by j blocks for j < n1; kept on ``gh`` (once per tree)."""
        s = self._s
        key = (lay.B, lay.n1)
        if key in gh.derived:
            return gh.derived[key]
        packed = gh.cts
        out = []
        for ct in packed:
            row = [ct]
            for _ in range(1, lay.n1):
                row.append(s._rot(row[-1], lay.B))
            out.append(row)
        gh.derived[key] = out
        return out

    # -- per job: the diagonal cache ---------------------------------------------------------
    def _prepare(self, bins: np.ndarray, n_bins: int, n: int, T: int, lay: Layout, ct: Any) -> None:
        digest = hashlib.blake2b(
            np.ascontiguousarray(bins, dtype=np.int64).tobytes(), digest_size=32
        ).hexdigest()
        key = (digest, bins.shape, int(n_bins), n, T, lay, tuple(ct.parms_id()), self._diag_scale(ct))
        if key != self._key:
            self._key, self._diag = key, {}
            pt_bytes = self._pt_bytes(ct)
            self._room = self.cache_bytes // pt_bytes if pt_bytes else 0

    def _pt_bytes(self, ct: Any) -> int:
        data = self._s._sc.get_context_data(ct.parms_id())
        return len(data.parms().coeff_modulus()) * self._s.poly_modulus_degree * 8

    def _diag_scale(self, ct: Any) -> float:
        """About 2^30: the masked input's scale (about 2^35) times this is 2^HIST_SCALE_BITS."""
        return 2.0**HIST_SCALE_BITS / ct.scale

    def _diagonals(self, t: int, c: int, lay: Layout, bins: np.ndarray, n_bins: int, n: int) -> np.ndarray:
        """D[r] = diagonal r of chunk c on input ciphertext t, pre-rotated by (r % n1) blocks."""
        S = self._s.slots
        s_idx = np.arange(S)
        rows = t * S + s_idx
        ok_row = rows < n
        r = np.arange(lay.K)[:, None]
        col = c * lay.K + (s_idx[None, :] // lay.B - r) % lay.K
        ok = ok_row[None, :] & (col < lay.k)
        rr = np.where(ok_row, rows, 0)
        colc = np.where(ok, col, 0)
        hit = bins[rr[None, :], colc // n_bins] == colc % n_bins
        E = (ok & hit).astype(np.float64)
        for j in range(1, lay.n1):
            E[j :: lay.n1] = np.roll(E[j :: lay.n1], -j * lay.B, axis=1)
        return E

    # -- per node ------------------------------------------------------------------------------
    def _mask(self, ct: Any, mask: np.ndarray) -> Any:
        s = self._s
        pt = s._sa.Plaintext()
        s._enc.encode(mask.tolist(), ct.parms_id(), 2.0**MASK_SCALE_BITS, pt)
        out = s._new()
        s._ev.multiply_plain(ct, pt, out)
        s._ev.rescale_to_next_inplace(out)
        return out

    def _chunk(
        self,
        c: int,
        lay: Layout,
        live: list[int],
        masked: dict[int, list[Any]],
        bins: np.ndarray,
        n_bins: int,
        n: int,
        ref: Any,
    ) -> Any:
        s, ev = self._s, self._s._ev
        d_scale = self._diag_scale(ref)
        inner: list[Any] = [None] * lay.n2
        tmp = s._new()
        for t in live:
            D = None
            for r in range(lay.K):
                i, j = divmod(r, lay.n1)
                key = (t, c, r)
                pt = self._diag.get(key, False)
                if pt is False:
                    if D is None:
                        D = self._diagonals(t, c, lay, bins, n_bins, n)
                    pt = self._encode_diag(D[r], ref, d_scale, key)
                if pt is None:
                    continue
                if isinstance(pt, tuple):  # over the cap: encoded for this node only
                    p = s._sa.Plaintext()
                    s._enc.encode(pt[0].tolist(), ref.parms_id(), d_scale, p)
                    self.stats["per_node"] += 1
                    ev.multiply_plain(masked[t][j], p, tmp)
                else:
                    self.stats["reused"] += 1
                    ev.multiply_plain(masked[t][j], pt, tmp)
                if inner[i] is None:
                    inner[i], tmp = tmp, s._new()
                else:
                    ev.add_inplace(inner[i], tmp)
        acc = None
        for i in range(lay.n2 - 1, -1, -1):
            if acc is not None:
                acc = s._rot(acc, lay.n1 * lay.B)
                if inner[i] is not None:
                    ev.add_inplace(acc, inner[i])
            else:
                acc = inner[i]
        if acc is None:  # a chunk no row of the node reaches
            return self._zero(ref)
        acc.scale = 2.0**HIST_SCALE_BITS
        step = lay.B // 2
        while step >= 1:
            ev.add_inplace(acc, s._rot(acc, step))
            step //= 2
        return acc

    def _zero(self, ref: Any) -> Any:
        import tenseal as ts  # type: ignore[import-untyped]

        ct = ts.ckks_vector(self._s._ctx, [0.0]).ciphertext()[0]
        self._s._ev.mod_switch_to_inplace(ct, ref.parms_id())
        if self._s._level(ct) > 1:
            self._s._ev.mod_switch_to_next_inplace(ct)
        ct.scale = 2.0**HIST_SCALE_BITS
        return ct

    def _encode_diag(self, d: np.ndarray, ref: Any, scale: float, key: tuple[int, int, int]) -> Any:
        if not d.any():
            self._diag[key] = None
            return None
        if len(self._diag) >= self._room:
            return (d,)
        pt = self._s._sa.Plaintext()
        self._s._enc.encode(d.tolist(), ref.parms_id(), scale, pt)
        self._diag[key] = pt
        self.stats["encoded"] += 1
        return pt
