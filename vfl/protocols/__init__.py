"""Protocol logic, one module per role, over a Channel (never a concrete transport)."""
