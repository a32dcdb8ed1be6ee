"""Base: the rule catalogue, ``Diagnostic`` and ``shorten`` (``rules``), the error tree (``errors``), the ``repr`` that
shows records without their secrets (``redact``), the address policy (``ssrf``) and the version (``version``).
Imports nothing else of router's: every part above may import it.
"""
