"""A multipart form's text fields as a body for a JSON Schema: numbers and booleans converted from text."""

import math

from ovserve.errors import InvalidRequest

BOOLEANS = {"true": True, "false": False}


def form_body(form, numbers=(), booleans=()):
    """form.fields() (a field given twice is a 400) with the named numbers and booleans converted."""
    fields = form.fields()
    for name in numbers:
        value = fields.get(name)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise InvalidRequest(
                    f"'{name}' must be a number, got {value[:40]!r}.", param=name, code="invalid_value"
                ) from None
            if not math.isfinite(number):
                raise InvalidRequest(f"'{name}' must be a finite number.", param=name, code="invalid_value")
            fields[name] = number
    for name in booleans:
        value = fields.get(name)
        if isinstance(value, str):
            if value.lower() not in BOOLEANS:
                raise InvalidRequest(
                    f"'{name}' must be true or false, got {value[:40]!r}.", param=name, code="invalid_value"
                )
            fields[name] = BOOLEANS[value.lower()]
    return fields
