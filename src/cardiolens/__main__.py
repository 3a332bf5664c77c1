"""``python -m cardiolens``."""

from cardiolens.cli import main

main()
