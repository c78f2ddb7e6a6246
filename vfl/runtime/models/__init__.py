"""The model kinds a job can train: the registry (the one list of them) and one adapter per model."""
