"""Scripted query tests (DESIGN section 9): suite files, their runs, reports and cassettes.

``nl2sql test SUITE.yaml`` and the pytest plugin (``nl2sql.suite.pytest_plugin``) both read a
suite with ``spec``, run it with ``run`` and judge each answer with ``compare``.
"""
