"""The client doors: the door-independent core (``core``), the httpx pair (``httpx_transport``) and its generated
httpx2 twin (``httpx2_transport``), the requests adapter (``requests_adapter``) and the aiohttp client middleware
(``aiohttp_middleware``); the public face is :mod:`router.transport`. May import every part below.
"""
