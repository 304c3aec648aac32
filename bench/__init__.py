"""citebot's benchmark suite: ``python -m bench`` (or ``make bench``) writes ``docs/benchmarks.md``.

Runs citebot (defaults, dense-only, BM25-only) and LangChain's default pipeline in one process on the
same corpora and questions from ``../shared``, then measures how the store scales with synthetic chunks.
"""
