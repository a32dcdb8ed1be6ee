"""The rewrite: the outgoing request as edited JSON text, streamed (``outgoing``: the spans each kind of part needs
in ``edits``, the streamed pieces in ``pieces``), fixes written into files (``fix``), a local file as a data URL
(``inline``), a request's media fitted to its route (``fitting``, the glue to ``_fit``), a request's steps from checked
to sent (``prepared``), and the one pipeline behind every door, ``Router`` (``pipeline``). May import every part below
it.
"""
