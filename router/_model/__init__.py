"""The request model: a body held once (``body``, ``coding`` for compressed ones), text read without some of its
characters (``textview``: wrapped base64, escapes), JSON text by pointer (``jsontext``), payloads parsed
(``request``) and their media parts located (``parts``: video, audio, image and file parts in both APIs), what a
URL or a data URL is (``media``), and what bytes hold (``content``, over ``container`` for video, ``audio`` with
``audioheaders``, ``image`` and ``heif`` for pictures, ``pdf`` for documents). Pure: no network. May import: ``_base``.
"""
