"""Where a party's heavy per-row work runs: this process's threads, or the party's own Ray
cluster. Protocols see :class:`vfl.executor.base.Executor` only; ``choose.py`` builds one from a
party's ``[compute]`` settings. Never sent to a peer, never part of the handshake."""
