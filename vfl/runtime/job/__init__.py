"""The agreed job: its spec, the handshake that checks every party runs the same one, job files,
ID alignment, and one party's whole run of it."""
