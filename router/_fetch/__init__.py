"""Fetching: one safe streaming download (``download``) and its sync and async drivers (``drive``), the spooled file
it writes (``spool``), and the ``Fetcher`` with its cache and single flight (``fetcher``). May import: ``_model``,
``_base``; never its siblings ``_judgement`` and ``_fit``.
"""
