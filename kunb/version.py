"""kunb's version (one place; the package root and the REST client's User-Agent read it)."""

__all__ = ["__version__"]

__version__ = "0.2.0"
