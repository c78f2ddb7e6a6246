"""How well a model did: metrics per task, and the centralised baseline on the same rows."""
