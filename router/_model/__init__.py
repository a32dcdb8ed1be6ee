"""The request model: a body held once (``body``, ``coding`` for compressed ones), text read without some of its
characters (``textview``: wrapped base64, escapes), JSON text by pointer (``jsontext``), payloads parsed and their
media parts located (``request``), what a URL or a data URL is and what bytes hold (``media``, ``container``). Pure:
no network. May import: ``_base``.
"""
