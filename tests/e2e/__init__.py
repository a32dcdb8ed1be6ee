"""End-to-end tests: real SDKs, real loopback traffic, the fake OpenRouter and the media server.

A package so that its modules import as ``e2e.test_proxy`` and the like, apart from ``tests/test_proxy.py``.
"""
