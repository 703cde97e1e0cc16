"""Request input: the one media-type check, JSON parser and model validator for bodies,
and the one integer parser for parameters.

Every route that reads a body goes through here, so every body problem gets
the same answer: 415 for a media type that is not JSON, 400 for a body that is
not a JSON document this service can hold (malformed, nested too deeply,
numbers or strings DynamoDB cannot store), 422 for a document whose fields are
invalid, naming each field.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tally.errors import FieldError, TallyError, bad_request, field_errors, invalid

JSON = "application/json"
# Deeper than any body of this API (an event nests 3 levels), shallow enough that
# no recursive walk of the document (here, pydantic, boto3's serializer) nears
# Python's recursion limit.
MAX_DEPTH = 32
# Python refuses int() of longer digit strings (CVE-2020-10735); any integer field's
# bound is far below it, so a longer one is kept as a Decimal for the field's
# validator to refuse with the field's name.
_MAX_INT_DIGITS = 4300

# Only ASCII digits are digits: Python's int() also takes Arabic-Indic or full-width
# digits, and "1_000".
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")

Model = TypeVar("Model", bound=BaseModel)


def integer(text: str) -> int:
    """A parameter's integer: optional sign and 1-19 ASCII digits; ValueError otherwise."""
    value = text.strip()
    if not _INTEGER.fullmatch(value):
        raise ValueError(f"must be an integer, got {text[:40]!r}")
    return int(value)


def media_type(content_type: str | None) -> str:
    """`application/json` of `application/json; charset=utf-8`; "" when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == JSON or media.endswith("+json")


def require_json(content_type: str | None) -> None:
    """415 unless the declared media type is JSON (absent is allowed: the body decides)."""
    media = media_type(content_type)
    if media and not is_json(media):
        raise TallyError(
            415,
            f"Content-Type: the body must be {JSON}, not {media}",
            [_content_type_error(media)],
        )


def _content_type_error(media: str) -> FieldError:
    return FieldError("Content-Type", f"unsupported media type {media or 'none'!r}")


def _integer(text: str) -> int | Decimal:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= _MAX_INT_DIGITS else Decimal(text)


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not a JSON value")


def _check_values(document: Any) -> None:
    """400 when the document nests deeper than MAX_DEPTH or holds a string that
    is not Unicode text (a lone surrogate escape such as "\\ud800": no UTF-8 form,
    so DynamoDB could not store it). Iterative: a recursive walk is what fails."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise bad_request("body", f"nests deeper than {MAX_DEPTH} levels")
            children = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
            for key, child in children:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("body", "holds a string that is not valid Unicode text") from None


def parse_json(body: str | None, content_type: str | None) -> Any:
    """The JSON document of a request body; 415/400 for the body as a whole.

    Numbers with a fraction or an exponent are Decimals (exact, as DynamoDB
    stores them); integers are ints.
    """
    require_json(content_type)
    try:
        document = json.loads(
            body or "", parse_float=Decimal, parse_int=_integer, parse_constant=_no_constant
        )
    except RecursionError:
        raise bad_request("body", f"nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        if not media_type(content_type):
            raise TallyError(
                415,
                f"the body must be a JSON document ({JSON})",
                [_content_type_error("")],
            ) from exc
        raise bad_request("body", f"is not valid JSON: {exc.msg}") from exc
    except ValueError as exc:
        raise bad_request("body", f"is not valid JSON: {exc}") from exc
    _check_values(document)
    return document


def validate(model: type[Model], document: Any, status: int = 422) -> Model:
    """`document` as `model`; `status` (422 for bodies) naming every bad field."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise invalid(status, field_errors(exc.errors())) from None
