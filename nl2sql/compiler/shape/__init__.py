"""Rules that choose the faster of two equivalent SQL forms, one rule per module.

Each rule is a pure function of the plan (and what the builder knows of the joins) saying
whether its faster form gives the same rows; the builder asks it where the form is chosen.
Every rule is proven by result tests on SQLite, PostgreSQL and DuckDB and measured in
``benchmarks/``.

- ``count_rows``: ``count(*)`` for a count of the base table's never-null key.
"""
