"""The request model: a body held once (``body``, ``coding`` for compressed ones), JSON text by pointer (``jsontext``),
payloads parsed and their media parts located (``request``), what a URL or a data URL is and what bytes hold
(``media``, ``container``), and what a PDF's structure says (``pdf``). Pure: no network. May import: ``_base``.
"""
