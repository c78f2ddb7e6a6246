"""Per-party training checkpoints: one self-checking file per step, written atomically.

Layout: ``DIRECTORY/PARTY/step-000003.npz``. Each file is a plain ``.npz`` (no pickle: only
numeric arrays, loaded with ``allow_pickle=False``) holding the state's arrays plus one uint8
array ``__meta__``: UTF-8 JSON with the format, job id, party, step, the state's JSON-able
values, and the SHA-256 of all of it. A file is written to a temporary name, fsynced and renamed
(``vfl.runtime.store.atomic``), so a crash leaves the previous checkpoint or the new one, never half
of one; a file that was damaged afterwards fails its hash and is refused. Only the newest
``keep`` steps are kept (two by default: parties may be one step apart when a job dies, and they
restart from the newest step that all of them hold).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vfl.core.errors import ConfigError, DataError
from vfl.runtime.store.atomic import write_bytes_atomic

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint"]

CHECKPOINT_FORMAT = "vfl.checkpoint/v1"
_META = "__meta__"
_STEP_FILE = re.compile(r"^step-(\d{6,})\.npz$")
_ARRAY_KINDS = "biuf"  # bool, int, uint, float: nothing that needs pickle
# NumPy parses each .npy header with ast.literal_eval, and CPython 3.11 keeps the AST
# constructor's recursion depth in shared state: two threads parsing at once (parties of a
# simulation resuming together) can fail with "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905). Reading one checkpoint at a time avoids it.
_READ_LOCK = threading.Lock()


class Checkpoint:
    """One party's checkpoints of one job.

    ``resume=False``: start afresh; existing step files of this party are removed at the first
    save. ``resume=True``: :meth:`steps` and :meth:`load` return what an earlier run left.
    """

    def __init__(self, directory: str | Path, party: str, job_id: str, resume: bool, keep: int = 2) -> None:
        if keep < 1:
            raise ConfigError(f"keep={keep} checkpoints", "keep at least one checkpoint")
        self.directory = Path(directory) / party
        self.party = party
        self.job_id = job_id
        self.resume = resume
        self.keep = keep
        self._fresh = not resume  # remove an earlier run's files before the first save

    # -- reading ------------------------------------------------------------------------------
    def steps(self) -> list[int]:
        """Steps this party can resume from, oldest first; each is verified (hash, job, party).
        Empty when not resuming or when nothing was saved."""
        if not self.resume:
            return []
        found = self._files()
        for step, path in found.items():
            self._read(path, step)
        return sorted(found)

    def load(self, step: int | None = None) -> dict[str, Any] | None:
        """The state saved at ``step`` (default: the newest), or None when not resuming or when
        there is no checkpoint. Raises DataError for another job's or a damaged checkpoint."""
        if not self.resume:
            return None
        found = self._files()
        if step is None:
            if not found:
                return None
            step = max(found)
        if step not in found:
            raise DataError(
                f"{self.party} has no checkpoint of step {step} in {self.directory}",
                f"it holds steps {sorted(found) or 'none'}; restart without --resume if they are lost",
            )
        return self._read(found[step], step)

    # -- writing ------------------------------------------------------------------------------
    def save(self, step: int, state: dict[str, Any]) -> Path:
        """Write ``state`` as step ``step`` atomically, then drop all but the newest ``keep``."""
        if step < 0:
            raise ConfigError(f"checkpoint step {step} is negative", "number steps from 0")
        for old_step, old in self._files().items():  # an earlier run's files, or steps past
            if self._fresh or old_step > step:  # the one all parties restarted from
                old.unlink(missing_ok=True)
        self._fresh = False
        arrays, values = _split(state)
        meta = {
            "format": CHECKPOINT_FORMAT,
            "job_id": self.job_id,
            "party": self.party,
            "step": step,
            "arrays": sorted(arrays),
            "values": values,
        }
        meta["sha256"] = _digest(meta, arrays)
        buf = io.BytesIO()
        payload: dict[str, Any] = {**arrays, _META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        np.savez(buf, **payload)
        path = write_bytes_atomic(self.directory / f"step-{step:06d}.npz", buf.getvalue(), mode=0o600)
        found = self._files()
        for old_step in sorted(found)[: -self.keep]:
            found[old_step].unlink(missing_ok=True)
        self._sweep_temp_files()
        return path

    # -- internals ----------------------------------------------------------------------------
    def _files(self) -> dict[int, Path]:
        if not self.directory.is_dir():
            return {}
        out = {}
        for p in self.directory.iterdir():
            m = _STEP_FILE.match(p.name)
            if m:
                out[int(m.group(1))] = p
        return out

    def _sweep_temp_files(self) -> None:
        """Temporary files of a write that a crash interrupted (never read, safe to remove)."""
        for p in self.directory.glob(".step-*.tmp"):
            p.unlink(missing_ok=True)

    def _read(self, path: Path, step: int) -> dict[str, Any]:
        damaged = DataError(
            f"checkpoint {path} is damaged (truncated, edited or not a vfl checkpoint)",
            f"delete {path} to resume from an older step, or restart the job without --resume",
        )
        try:
            data = path.read_bytes()
            with _READ_LOCK, np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(arrays.pop(_META).tobytes().decode())
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
            # RuntimeError: zipfile's "encrypted" and (its subclass) "compression not supported"
            raise damaged from exc
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise damaged
        recorded = meta.pop("sha256", None)
        if recorded != _digest(meta, arrays) or meta.get("arrays") != sorted(arrays):
            raise damaged
        if meta.get("step") != step:
            raise damaged
        if meta.get("job_id") != self.job_id or meta.get("party") != self.party:
            raise DataError(
                f"checkpoint {path} belongs to job {meta.get('job_id')!r} of {meta.get('party')!r}, "
                f"not to job {self.job_id!r} of {self.party!r}",
                "resume with the job file that wrote it, or point at another checkpoint folder, "
                "or run without --resume to start afresh",
            )
        values = meta.get("values")
        if not isinstance(values, dict):
            raise damaged
        return {**values, **arrays}


def _split(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    values: dict[str, Any] = {}
    for k, v in state.items():
        if not isinstance(k, str) or not k or k == _META or not k.isidentifier():
            raise ConfigError(f"checkpoint key {k!r} is not a plain name", "use identifiers as state keys")
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in _ARRAY_KINDS:
                raise ConfigError(f"checkpoint array {k!r} has dtype {v.dtype}", "store numeric arrays only")
            arrays[k] = np.ascontiguousarray(v)
        else:
            try:
                json.dumps(v, allow_nan=True)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"checkpoint value {k!r} is not JSON-able ({exc})",
                    "store numbers, strings, lists and dicts, or numpy arrays",
                ) from exc
            values[k] = v
    return arrays, values


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the metadata (canonical JSON) and every array's name, dtype, shape, bytes."""
    h = hashlib.sha256(b"vfl/checkpoint/v1\0")
    h.update(json.dumps(meta, sort_keys=True).encode())
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"\0{k}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()
