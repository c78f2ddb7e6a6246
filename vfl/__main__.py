"""``python -m vfl`` is the ``vfl`` command (used to start party processes portably)."""

from vfl.cli.main import main

main()
