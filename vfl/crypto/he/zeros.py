"""Encryptions of zero made ahead for the label holder's coming [[g, h]] (``prepare_zeros``).

Where they are made matters more than how. sf-heu holds the Python GIL for a whole call, so
[[0]]s made on a thread stall every other thread of the process for a chunk's encryption (0.1 s
for 4,096 OU values on one core): each message this party sends or takes meanwhile waits, and so
does the peer waiting for it (measured: every level of every tree lost 0.1 s per message that
way, one core per party). sf-heu's [[0]]s are therefore made by a child process of ours
(``python -m vfl.crypto.he.zeros``) under the public key alone, at the idle scheduling class: it
runs only where a core would otherwise idle (while this party waits for its peers), never ahead
of this party's own work. Its arrays come back over a private pipe. A child takes 0.5 s (OU) or
0.9 s (ZPaillier) from its start to its first [[0]] (imports and heu's key tables, at normal
priority, so one started with the keys is ready when training starts), so it starts only for a
batch of :data:`CHILD_MIN_VALUES` values or more: about where OU's [[0]]s (26 µs each on one
core) cost as much as the start.

The taker never waits for the child: a [[0]] not ready when its encryption comes is left for a
later one of the same length, and that encryption is made in full here (so an idle child, or
one that cannot run at all, costs nothing but the pipe). phe Paillier's zeros are made on a
thread (gmpy2 releases the GIL), and the taker waits for those.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Protocol

from vfl.core.errors import CryptoError
from vfl.crypto.he.base import ZeroSpan
from vfl.crypto.he.keygen import child_env
from vfl.crypto.he.params import MAX_PUBLIC_KEY_BYTES

__all__ = ["CHILD_MIN_VALUES", "ChildZeros", "ThreadZeros", "ZeroMaker"]

#: values one prepare_zeros batch must hold before a child process is worth starting
CHILD_MIN_VALUES = 16_384
#: the most [[0]]s one request may ask for, and the most bytes one of them may take (ZPaillier
#: 4096-bit keys: 1,024-byte ciphertexts, with room for heu's framing)
MAX_REQUEST_VALUES = 1 << 22
MAX_BYTES_PER_VALUE = 1_100
_MAGIC = b"VFLZ1"
#: one answer's header: k, wall start and end (perf_counter: one clock for the whole machine
#: on Linux), CPU seconds, bytes of the array that follows
_FRAME = struct.Struct(">IdddI")
_SCHEMES = ("ou", "zpaillier")

Record = Callable[[ZeroSpan], None]


class ZeroMaker(Protocol):
    """Makes [[0]] arrays of k values in the background; ``waits``: a taker may wait for one."""

    waits: bool

    def submit(self, k: int) -> Future[Any]: ...

    def close(self) -> None: ...


class ThreadZeros:
    """[[0]]s on one background thread (for a library that releases the GIL)."""

    waits = True

    def __init__(self, encrypt: Callable[[list[int]], Any], record: Record) -> None:
        self._encrypt, self._record = encrypt, record
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vfl-zeros")

    def submit(self, k: int) -> Future[Any]:
        return self._pool.submit(self._make, k)

    def _make(self, k: int) -> Any:
        t = time.perf_counter()
        zero = self._encrypt([0] * k)
        end = time.perf_counter()
        self._record(ZeroSpan(t, end, end - t))
        return zero

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ChildZeros:
    """[[0]]s from a child process at idle priority (module docstring). ``load`` turns the
    child's serialised array into a handle; the child is our own, so nothing is range-checked
    beyond the frame's sizes."""

    waits = False

    def __init__(self, scheme: str, public_key: bytes, load: Callable[[bytes], Any], record: Record) -> None:
        if scheme not in _SCHEMES:
            raise CryptoError(f"no zero-making child for {scheme!r}")
        self._load, self._record = load, record
        self._pending: list[tuple[int, Future[Any]]] = []
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "vfl.crypto.he.zeros"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env(),
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin, self._proc.stdout
        name = scheme.encode()
        self._write(_MAGIC + bytes([len(name)]) + name + struct.pack(">I", len(public_key)) + public_key)
        self._reader = threading.Thread(target=self._read_all, name="vfl-zeros-pipe", daemon=True)
        self._reader.start()

    def _write(self, data: bytes) -> bool:
        try:
            self._to.write(data)
            self._to.flush()
            return True
        except (OSError, ValueError):  # the child is gone: its futures fail, takers encrypt here
            return False

    def submit(self, k: int) -> Future[Any]:
        fut: Future[Any] = Future()
        if not 0 < k <= MAX_REQUEST_VALUES:
            fut.set_exception(CryptoError(f"cannot ask for {k} zeros at once"))
            return fut
        with self._lock:
            self._pending.append((k, fut))
            sent = self._write(struct.pack(">I", k))
        if not sent:
            self._fail_pending(CryptoError("the zero-making child process has stopped"))
        return fut

    def _read_all(self) -> None:
        """Match each answer to the oldest request; on any fault fail what is pending."""
        try:
            while True:
                head = _read_exact(self._from, _FRAME.size)
                if head is None:
                    break
                k, t_start, t_end, cpu, size = _FRAME.unpack(head)
                with self._lock:
                    want, fut = self._pending[0] if self._pending else (0, None)
                if fut is None or k != want or not 0 < size <= k * MAX_BYTES_PER_VALUE:
                    break
                data = _read_exact(self._from, size)
                if data is None:
                    break
                with self._lock:
                    self._pending.pop(0)
                self._record(ZeroSpan(t_start, t_end, cpu))
                if fut.set_running_or_notify_cancel():
                    try:
                        fut.set_result(self._load(data))
                    except Exception as exc:  # heu's own errors: the taker encrypts in full instead
                        fut.set_exception(CryptoError(f"a zero array from the child did not load: {exc}"))
        except (OSError, ValueError):
            pass
        self._fail_pending(CryptoError("the zero-making child process has stopped"))

    def _fail_pending(self, exc: BaseException) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for _, fut in pending:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(exc)

    def close(self) -> None:
        """Stop the child now (it holds nothing worth keeping); reaped on a thread, since at idle
        priority on a busy core it may take a moment to be scheduled to exit. Idempotent."""
        if self._proc.returncode is not None or self._to.closed:
            return
        try:
            self._to.close()
        except OSError:
            pass
        self._proc.kill()
        threading.Thread(target=self._proc.wait, name="vfl-zeros-reap", daemon=True).start()


def _read_exact(f: IO[bytes], n: int) -> bytes | None:
    buf = f.read(n)
    return buf if buf is not None and len(buf) == n else None


def _idle_priority() -> None:
    """The idle scheduling class (Linux), else the lowest nice value: run only on spare CPU."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except (AttributeError, OSError):
            pass


def _child_main() -> int:
    """The child: read the scheme and public key, then answer each count k with [[0]] x k. Its
    start (imports, heu's key tables: 0.5 s OU, 0.9 s ZPaillier) runs at normal priority, so that a child
    started with the keys is ready by the time training starts; its [[0]]s at idle priority."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # heu prints its thread-pool notice on stdout
    inp = sys.stdin.buffer
    head = _read_exact(inp, len(_MAGIC) + 1)
    if head is None or not head.startswith(_MAGIC):
        return 2
    name = (_read_exact(inp, head[-1]) or b"").decode("ascii", "replace")
    size_b = _read_exact(inp, 4)
    size = struct.unpack(">I", size_b)[0] if size_b else 0
    if name not in _SCHEMES or not 0 < size <= MAX_PUBLIC_KEY_BYTES:
        return 2
    key = _read_exact(inp, size)
    if key is None:
        return 2
    from vfl.crypto.he.sfheu import public_heu_ops

    ops = public_heu_ops(name, key)
    _idle_priority()
    while True:
        req = _read_exact(inp, 4)
        if req is None:
            return 0
        (k,) = struct.unpack(">I", req)
        if not 0 < k <= MAX_REQUEST_VALUES:
            return 0
        t0, c0 = time.perf_counter(), time.process_time()
        data = ops.dump_own(ops.encrypt([0] * k))
        cpu = time.process_time() - c0
        out.write(_FRAME.pack(k, t0, time.perf_counter(), cpu, len(data)) + data)
        out.flush()


if __name__ == "__main__":
    raise SystemExit(_child_main())
