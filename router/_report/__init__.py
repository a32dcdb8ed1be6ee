"""Output and lint: the renderers of diagnostics (``output``: text, JSON, SARIF, GitHub) and the walk over files and
directories that ``router check`` lints (``lint``). May import ``_rewrite`` and every part below it.
"""
