"""The public surface is deliberate: adding or removing a name is a reviewed change."""

import nl2sql


def test_public_names_are_pinned() -> None:
    assert sorted(nl2sql.__all__) == sorted(
        [
            "TOOL",
            "Agent",
            "AsyncAgent",
            "Compiler",
            "ConfigError",
            "DatabaseError",
            "DatabaseUnavailableError",
            "ModelError",
            "NL2SQLError",
            "Query",
            "QueryTimeoutError",
            "QueryValidationError",
            "ReadOnlyDatabase",
            "RefusedError",
            "Result",
            "Turn",
            "__version__",
            "build_tool",
            "run_query",
        ]
    )
    for name in nl2sql.__all__:
        assert hasattr(nl2sql, name), name


def test_every_error_is_an_nl2sql_error() -> None:
    for name in (
        "ConfigError",
        "DatabaseError",
        "DatabaseUnavailableError",
        "ModelError",
        "QueryTimeoutError",
        "QueryValidationError",
        "RefusedError",
    ):
        assert issubclass(getattr(nl2sql, name), nl2sql.NL2SQLError)
