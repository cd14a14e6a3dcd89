"""nl2sql: plain-English questions about an orders database, answered through a typed tool."""

from nl2sql.errors import (
    ConfigError,
    DatabaseError,
    ModelError,
    NL2SQLError,
    QueryValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DatabaseError",
    "ModelError",
    "NL2SQLError",
    "QueryValidationError",
    "__version__",
]
