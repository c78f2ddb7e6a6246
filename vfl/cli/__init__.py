"""The ``vfl`` command line (click)."""
