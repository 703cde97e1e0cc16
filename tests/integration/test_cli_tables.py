"""`tally keys create` against a table that does not exist: one line naming the tables."""

from __future__ import annotations

import pytest

from tally_dev import cli


def test_a_wrong_table_name_is_one_line(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--keys-table` sets the variable; the test's monkeypatch puts it back afterwards.
    monkeypatch.setenv("TALLY_KEYS_TABLE", "NoSuchKeys")
    arguments = "keys create --account acme --scopes stats:read --keys-table NoSuchKeys"
    code = cli.main(arguments.split())
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tally keys: DynamoDB: ")
    assert "TALLY_KEYS_TABLE=NoSuchKeys" in line
