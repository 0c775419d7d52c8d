"""The numbers the jobs table can store: the spec is kept there, so a number outside DynamoDB's
number type is a field error at submit, not a failed write."""

from __future__ import annotations

import decimal
from typing import Any

# DynamoDB's number type: 38 significant digits, magnitudes 1e-130 to below 1e126 (this context is
# boto3's). The spec is stored there, so a number outside it is a field error, not a failed write.
STORED_NUMBERS = decimal.Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)


def unstorable_numbers(value: Any, loc: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """The paths of the numbers in a spec's stored form that the jobs table cannot hold."""
    if isinstance(value, dict):
        return [path for key, item in value.items() for path in unstorable_numbers(item, (*loc, key))]
    if isinstance(value, list):
        return [path for i, item in enumerate(value) for path in unstorable_numbers(item, (*loc, i))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    # repr is the text json.dumps writes for a float, so this is the number the write sends.
    number = decimal.Decimal(value if isinstance(value, int) else repr(value))
    try:
        STORED_NUMBERS.create_decimal(number)  # boto3 refuses these before sending
        storable = number.is_zero() or (number.is_finite() and -130 <= number.adjusted() <= 125)
    except decimal.DecimalException:
        storable = False
    return [] if storable else [loc]


UNSTORABLE_NUMBER = (
    "is out of range: numbers must be 0 or have a magnitude from 1e-130 to below 1e126, "
    "with at most 38 significant digits"
)
