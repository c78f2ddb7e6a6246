"""Runs one party's side of a job (load data, open the transport, checkpoints, progress, atomic
outputs) and, for simulations, all parties at once."""
