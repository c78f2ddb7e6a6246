"""The ways a job runs: all parties in memory, as processes, one party per process, a server."""
