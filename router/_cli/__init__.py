"""The command line: arguments (``main``), the commands (``commands``), sending (``dispatch``), configuration from
``pyproject.toml`` (``config``) and progress bars (``progress``); the public face is :mod:`router.cli`. The top
part: it may import every other.
"""
