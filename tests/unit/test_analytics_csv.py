"""The campaigns CSV export: RFC 4180 quoting, formula escaping, the filename (pure)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tally.stats.analytics import CSV_COLUMNS, DateRange, csv_cell, export_filename, to_csv


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("Spring sale", "Spring sale"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_formula_cells_are_escaped(value: object, expected: str) -> None:
    assert csv_cell(value) == expected


def test_round_trip_through_the_csv_module() -> None:
    rows = [
        ('Sale, "big" one', "completed", 10, 9, 8, 1, "2026-06-01T00:00:00.000Z", ""),
        ("multi\nline", "sending", 0, 0, 0, 0, "2026-06-02T00:00:00.000Z", ""),
        ('=HYPERLINK("x")', "failed", 3, 0, 0, 3, "2026-06-03T00:00:00.000Z", ""),
    ]
    text = to_csv(rows)
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")
    assert '"Sale, ""big"" one"' in text  # RFC 4180: quoted, inner quotes doubled
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(CSV_COLUMNS)
    assert parsed[1] == [str(value) for value in rows[0]]
    assert parsed[2][0] == "multi\nline"
    assert parsed[3][0] == '\'=HYPERLINK("x")'


def test_header_only_when_there_are_no_rows() -> None:
    assert to_csv([]) == (
        "Campaign Name,Status,Total Recipients,Sent,Delivered,Failed,Created At,Completed At\r\n"
    )


@pytest.mark.parametrize(
    ("start", "end", "name"),
    [
        (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "campaigns-2026-05-01-to-2026-05-31.csv"),
        (datetime(2026, 5, 11, 12, 34, tzinfo=UTC), datetime(2026, 6, 10, 12, 34, tzinfo=UTC), "campaigns-2026-05-11-to-2026-06-10.csv"),
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "campaigns-2026-06-01-to-2026-06-01.csv"),
    ],
)  # fmt: skip
def test_filename_names_the_first_and_last_day(start: datetime, end: datetime, name: str) -> None:
    assert export_filename("campaigns", DateRange(start, end)) == name
