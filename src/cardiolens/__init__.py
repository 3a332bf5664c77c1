"""cardiolens: an open, transparent pipeline from a cardiac imaging study to an audited report."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cardiolens")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
