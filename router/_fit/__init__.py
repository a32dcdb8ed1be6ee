"""The fit engine (PyAV, the ``fit`` extra): probe a file (``probe``), plan the cut and the encoding (``plan``), stream
copy (``remux``) and re-encode (``encode``) it, on shared PyAV basics (``av``) and its errors and records
(``types``); ``engine`` is the entry point :mod:`router.fit` shows. Audio is transcoded, trimmed and split by
``audio`` (planned by ``audioplan``, written by ``audiocodec``), images converted and downscaled by ``image``
(Pillow), PDFs split or trimmed by page by ``pdf`` (pypdf); ``workdir`` holds a job's temporary files. May import:
``_model``, ``_base``; never its siblings ``_judgement`` and ``_fetch``.
"""
