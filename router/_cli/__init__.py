"""The command line: arguments (``main``); the commands: ``check`` and ``rules`` (``check``), ``rewrite``, ``send``
and ``inline`` (``rewrite``), ``serve`` (``serve``), ``models`` and ``providers`` (``table``), and what they share
(``common``); sending (``dispatch``), configuration from ``pyproject.toml`` (``config``) and progress bars
(``progress``); the public face is :mod:`router.cli`. The top part: it may import every other.
"""
