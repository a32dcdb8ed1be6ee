"""The capability table: ``capabilities.yaml`` loaded and validated (``capabilities``), OpenRouter's catalogue as cached
on disk (``catalogue``) and refreshed from the network (``refresh``). May import: ``_base``.
"""
