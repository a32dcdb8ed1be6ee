"""Output and lint: the renderers of diagnostics (``output``: text, JSON, SARIF, GitHub), the walk over files and
directories that ``router check`` lints (``walk``), and the linting of those files, fixes and worker processes
included (``lint``). May import ``_rewrite`` and every part below it.
"""
