"""Errors are shown as one line, even when their text is empty or spans several lines."""

import pytest

from nl2sql.errors import first_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one\ntwo", "one"),
        ("\n  \nlater line\n", "later line"),
        ("", "no details"),
        (ValueError(""), "no details"),
        (ValueError("bad\ntrace"), "bad"),
    ],
)
def test_first_line(text: object, expected: str) -> None:
    assert first_line(text) == expected


def test_first_line_fallback() -> None:
    assert first_line("   ", "ModelError") == "ModelError"
