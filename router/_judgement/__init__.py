"""Judgement: the facts and intrinsic findings of one part (``facts``), of the request as a whole (``check``: its
models and routing fields), what each provider says to each part (``judge``), and the route (``plan``, and ``settle``
after downloads). May import: ``_model``, ``_table``, ``_base``; never its siblings ``_fetch`` and ``_fit``.
"""
