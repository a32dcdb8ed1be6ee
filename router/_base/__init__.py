"""Base: the rule catalogue and ``Diagnostic`` (``rules``), the error tree (``errors``), the address policy (``ssrf``)
and the version (``version``). Imports nothing else of router's: every part above may import it.
"""
