"""The capability table: ``capabilities.yaml`` loaded and validated (``capabilities``), OpenRouter's catalogue as cached
on disk per base URL (``catalogue``), read from its API's answers (``listing``) over HTTP (``remote``), refreshed
(``refresh``) and judged before it is believed (``refresh_check``). May import: ``_base``.
"""
