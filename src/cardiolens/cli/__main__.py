"""``python -m cardiolens.cli``."""

from cardiolens.cli import main

main()
