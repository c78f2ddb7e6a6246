"""Key generation off the critical path: the label holder starts it at job start and takes the
ready keys when training begins, so PSI (or the handshake) hides its cost.

sf-heu's key generation (OU: a prime search that took 0.5 to 4.2 s per run; ZPaillier about
2 s) holds the Python GIL for its whole length, so a thread would stall every other thread of
the process (in ``vfl simulate`` all parties, and PSI's own Python). sf-heu keys are therefore
made in a child process of ours (``python -m vfl.crypto.he.keygen``), which hands the key pair
back over a pipe: only loading it (0.3 s for OU, 0.7 s for ZPaillier, heu's per-key tables) runs
here, on a background thread. The secret key never touches the disk or the network; the pipe is
private to this process and its child. CKKS (tenseal releases the GIL) and phe Paillier are
generated on a background thread. Every backend falls back to a thread when no child can start.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, BinaryIO

from vfl.core.errors import ConfigError, CryptoError
from vfl.crypto.he.base import HEScheme
from vfl.crypto.he.params import MAX_PUBLIC_KEY_BYTES, check_paillier_bits

__all__ = ["PendingKeys", "start_keygen"]

#: backends whose keys come from a child process (their key generation holds the GIL)
CHILD_BACKENDS = ("ou", "zpaillier")
_MAGIC = b"VFLK1"
#: a child that has not answered in this long is killed and the keys made here instead
CHILD_TIMEOUT_S = 120.0


class PendingKeys:
    """A key pair being generated in the background; :meth:`result` waits for it (once)."""

    def __init__(self, name: str, params: dict[str, Any], make: Callable[[], HEScheme]) -> None:
        self.name, self.params = name, dict(params)
        self._make = make
        self._scheme: HEScheme | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._taken = False
        self._thread = threading.Thread(target=self._run, name=f"keygen-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._scheme = self._make()
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> HEScheme:
        """The generated scheme (the secret key holder's). Given out once: a second job must
        not reuse a key pair, so a second call raises."""
        if self._taken:
            raise CryptoError("these keys were already handed to a job", "generate fresh keys per job")
        if not self._done.wait(timeout):
            raise CryptoError(f"{self.name} key generation did not finish in {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._scheme is not None
        self._taken = True
        return self._scheme


def start_keygen(name: str, *, zeros_for: int = 0, **params: Any) -> PendingKeys:
    """Start generating ``name``'s keys (the parameters of :func:`vfl.crypto.he.make_scheme`) in
    the background. Bad parameters raise here, before anything starts. ``zeros_for``: the model
    makes [[0]]s ahead (SecureBoost) for encryptions of about this many rows, so their process
    starts with the keys where it pays (``HEScheme.start_zeros_apart``), during PSI too."""
    from vfl.crypto.he import make_scheme

    make: Callable[[], HEScheme]
    if name in CHILD_BACKENDS and set(params) <= {"key_bits", "scale_bits"}:
        bits = check_paillier_bits(int(params.get("key_bits", 2048)), name)
        scale = params.get("scale_bits")
        make = partial(_from_child, name, bits, scale)
    elif name in ("ckks", "paillier", *CHILD_BACKENDS):
        make = partial(make_scheme, name, **params)
    else:
        raise ConfigError(f"unknown HE scheme {name!r}")
    return PendingKeys(name, params, _with_zeros(make, zeros_for) if zeros_for > 0 else make)


def _with_zeros(make: Callable[[], HEScheme], values: int) -> Callable[[], HEScheme]:
    def run() -> HEScheme:
        scheme = make()
        scheme.start_zeros_apart(values)
        return scheme

    return run


def _from_child(name: str, key_bits: int, scale_bits: int | None) -> HEScheme:
    """Run the key generation in a child process and load its key pair here."""
    from vfl.crypto.he.sfheu import OUScheme, ZPaillierScheme

    cls = OUScheme if name == "ou" else ZPaillierScheme
    extra = {} if scale_bits is None else {"scale_bits": int(scale_bits)}
    try:
        pk, sk = _child_key_pair(name, key_bits)
    except (OSError, subprocess.SubprocessError, CryptoError):
        return cls.generate(key_bits, **extra)  # no child here (a frozen or sandboxed process)
    return cls.from_key_pair(pk, sk, key_bits, **extra)


def child_env() -> dict[str, str]:
    """The environment of a ``python -m vfl...`` child of ours: this one, with the folder holding
    this vfl first on PYTHONPATH (so the child runs the same code, installed or not)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def _child_key_pair(name: str, key_bits: int) -> tuple[bytes, bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "vfl.crypto.he.keygen", name, str(key_bits)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=child_env(),
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise CryptoError(f"{name} key generation failed in its child process: {proc.stderr[-400:]!r}")
    return read_key_pair(proc.stdout)


def read_key_pair(data: bytes) -> tuple[bytes, bytes]:
    """(public key, secret key) from the child's frame, each bounded before it is sliced."""
    if not data.startswith(_MAGIC):
        raise CryptoError("the key generation child answered something other than a key pair")
    pos, out = len(_MAGIC), []
    for _ in range(2):
        if pos + 4 > len(data):
            raise CryptoError("the key generation child's answer ends early")
        (size,) = struct.unpack_from(">I", data, pos)
        if not 0 < size <= MAX_PUBLIC_KEY_BYTES or pos + 4 + size > len(data):
            raise CryptoError(f"the key generation child sent a key of {size} bytes")
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if pos != len(data):
        raise CryptoError("the key generation child sent bytes after its key pair")
    return out[0], out[1]


def write_key_pair(out: BinaryIO, pk: bytes, sk: bytes) -> None:
    out.write(_MAGIC + b"".join(struct.pack(">I", len(b)) + b for b in (pk, sk)))
    out.flush()


def _child_main(argv: list[str]) -> int:
    """The child: generate one key pair and write it to the parent's pipe (stdout), nothing else
    (heu prints its thread-pool notice on stdout, so fd 1 points at stderr meanwhile)."""
    name, key_bits = argv[0], check_paillier_bits(int(argv[1]), argv[0])
    if name not in CHILD_BACKENDS:
        raise SystemExit(f"no child key generation for {name!r}")
    pipe = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from heu import phe as hphe  # type: ignore[import-not-found]

    schema = hphe.SchemaType.OU if name == "ou" else hphe.SchemaType.ZPaillier
    kit = hphe.setup(schema, int(key_bits))
    write_key_pair(pipe, bytes(kit.public_key().serialize()), bytes(kit.secret_key().serialize()))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
