"""The httpx transports: the door-independent core (``core``), the httpx pair (``httpx_transport``) and its generated
httpx2 twin (``httpx2_transport``); the public face is :mod:`router.transport`. May import every part below.
"""
