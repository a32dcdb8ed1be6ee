"""The LiteLLM plugin: what it decides for a LiteLLM call (``core``) and the callback LiteLLM loads (``plugin``, behind
the ``litellm`` extra); the public face is :mod:`router.litellm`. May import ``_transports`` and below; never
``_proxy``.
"""
