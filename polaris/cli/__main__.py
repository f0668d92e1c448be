"""``python -m polaris.cli``."""

from polaris.cli import main

main()
