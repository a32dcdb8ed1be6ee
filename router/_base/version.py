"""The version, in a leaf module: the command line, the catalogue refresh and the User-Agent read it here."""

# The one place the version lives (pyproject reads it): importlib.metadata would cost 40 ms at import.
__version__ = "0.1.0"
