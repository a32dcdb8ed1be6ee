"""The fit engine (PyAV, the ``fit`` extra): probe a file (``probe``), plan the cut and the encoding (``plan``), stream
copy (``remux``) and re-encode (``encode``) it, on shared PyAV basics (``av``) and its errors and records
(``types``); ``engine`` is the entry point :mod:`router.fit` shows. May import: ``_model``, ``_base``; never its
siblings ``_judgement`` and ``_fetch``.
"""
