"""``python -m cardiolens`` and the ``cardiolens`` console script.

The command line is imported inside :func:`run`, so that Ctrl-C while its libraries
load (several seconds on a cold start) is the same one line, exit code 130, as Ctrl-C
during a command (:func:`cardiolens.cli.main`), never a traceback.
"""

import sys

INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, the shells' convention


def run() -> None:
    """Entry point: load the command line and run it."""
    try:
        from cardiolens.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("cardiolens: interrupted\n")
        sys.exit(INTERRUPTED_EXIT_CODE)
    main()


if __name__ == "__main__":
    run()
