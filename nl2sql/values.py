"""Coerce a tool-call value to its column's type, or explain exactly why it does not fit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz import process

from nl2sql.query import ColumnInfo


class ValueProblem(ValueError):
    """A value that does not fit its column; the message is written for the model and the user."""


@dataclass(frozen=True)
class DayRange:
    """A bare date given for a timestamp column: the whole day, [start, end)."""

    start: datetime
    end: datetime


def coerce(info: ColumnInfo, value: Any, kind: str | None = None) -> Any:
    """One scalar for this column (``kind`` overrides the column's, e.g. for count)."""
    kind = kind or info.kind
    if isinstance(value, bool):
        raise ValueProblem(f"{info.qualified} does not take true/false; give a {kind} value.")
    coerce_kind = COERCERS[kind]
    result = coerce_kind(info, value)
    if info.allowed_values and kind == info.kind:
        result = _allowed(info, str(result))
    return result


# Integer columns are 32-bit on PostgreSQL, where their parameters are bound as ::INTEGER.
INTEGER_RANGE = (-(2**31), 2**31 - 1)


def _integer(info: ColumnInfo, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
            raise ValueProblem(
                f"{info.qualified}: {value} is out of range; whole numbers go from "
                f"{INTEGER_RANGE[0]} to {INTEGER_RANGE[1]}."
            )
        return value
    raise ValueProblem(f"{info.qualified} is a whole number; {value!r} is not.")


def _number(info: ColumnInfo, value: Any) -> Decimal:
    if isinstance(value, int | float):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            pass
        else:
            if number.is_finite():  # Decimal accepts nan / inf; no column holds them
                return number
    raise ValueProblem(f"{info.qualified} is a number (e.g. 250 or 19.99); {value!r} is not.")


def _text(info: ColumnInfo, value: Any) -> str:
    if isinstance(value, str):
        if "\x00" in value:  # SQLite's LIKE stops at a NUL: 'contains' would match every row
            raise ValueProblem(f"{info.qualified}: a value cannot hold a NUL character (\\0).")
        return value
    raise ValueProblem(f"{info.qualified} is text; give the value as a string, not {value!r}.")


def _date(info: ColumnInfo, value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueProblem(f"{info.qualified} is a date: give it as YYYY-MM-DD, not {value!r}.")


def _datetime(info: ColumnInfo, value: Any) -> datetime | DayRange:
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            day = _date(info, text)
            start = datetime.combine(day, time.min)
            # The last representable day ends at the last representable moment.
            end = start + timedelta(days=1) if day < date.max else datetime.max
            return DayRange(start, end)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment.replace(tzinfo=None) if moment.tzinfo is None else _as_utc(moment)
        except ValueError:
            pass
        except OverflowError:  # an offset that moves it past year 1 or 9999
            raise ValueProblem(
                f"{info.qualified}: {value!r} is outside the dates a timestamp can hold "
                "(years 1 to 9999 in UTC)."
            ) from None
    raise ValueProblem(
        f"{info.qualified} is a UTC timestamp: give YYYY-MM-DD (that whole day) or "
        f"YYYY-MM-DDTHH:MM:SS, not {value!r}."
    )


def _as_utc(moment: datetime) -> datetime:
    offset = moment.utcoffset() or timedelta(0)
    return (moment - offset).replace(tzinfo=None)


COERCERS = {
    "integer": _integer,
    "number": _number,
    "text": _text,
    "date": _date,
    "datetime": _datetime,
}


def _allowed(info: ColumnInfo, value: str) -> str:
    """The allowed value as the database spells it, whatever case it was given in."""
    lowered = value.strip().lower()
    for allowed in info.allowed_values:
        if allowed.lower() == lowered:
            return allowed
    message = (
        f"'{value}' is not a valid {info.qualified}. Allowed: {', '.join(info.allowed_values)}."
    )
    guess = process.extractOne(value.strip(), info.allowed_values, score_cutoff=70)
    if guess:
        message += f" Did you mean '{guess[0]}'?"
    raise ValueProblem(message)
