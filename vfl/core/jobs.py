"""Job identifiers: every wire message is bound to one job so stale messages are refused."""

from __future__ import annotations

import re
import secrets

from vfl.core.errors import ConfigError

__all__ = ["check_job_id", "new_job_id"]

_JOB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def new_job_id(prefix: str = "job") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def check_job_id(job_id: str) -> str:
    if not _JOB.match(job_id):
        raise ConfigError(f"job id {job_id!r} is not allowed", "use letters, digits, '.', '_' or '-'")
    return job_id
