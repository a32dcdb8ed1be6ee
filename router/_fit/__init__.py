"""The fit engine (PyAV, the ``fit`` extra): probe a file (``probe``), plan the cut and the encoding (``plan``), stream
copy (``remux``) and re-encode (``encode``) it; ``engine`` is the entry point :mod:`router.fit` shows. PDFs are split
or trimmed by page with pypdf (``pdf``); ``workdir`` holds a job's temporary files. May import:
``_model``, ``_base``; never its siblings ``_judgement`` and ``_fetch``.
"""
