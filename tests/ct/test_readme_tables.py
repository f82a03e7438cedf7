"""The READMEs' tables of exit statuses, options and error codes say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ct import contract

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RECORDER_README = (ROOT / "recorder" / "README.md").read_text(encoding="utf-8")


def table(text: str, header: str) -> list[list[str]]:
    """The rows (cells stripped, ``\\|`` unescaped) of the table whose header row starts
    with ``header``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    assert start is not None, f"no table starting {header!r}"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def codes(cell: str) -> list[str]:
    """The backquoted items of a cell, each split into its words (a flag and its metavar)."""
    return re.findall(r"`([^`]+)`", cell)


def test_ct_exit_status_table():
    rows = table(README, "| status | meaning |")
    statuses = {int(status): meaning for status, meaning in rows}
    assert set(statuses) == set(contract.EXIT_STATUS.values()) | {contract.NOT_FOUND}
    for kind, status in contract.EXIT_STATUS.items():
        assert statuses[status].startswith(kind), (status, statuses[status])
    assert "no Python interpreter" in statuses[contract.NOT_FOUND]


def test_ct_option_table_lists_every_option_ct_passes_to_the_recorder():
    flags = {item.split()[0] for row in table(README, "| option | meaning |")
             for item in codes(row[0])}
    missing = [flag for flag, _dest, _value in contract.RECORDER_OPTIONS if flag not in flags]
    assert missing == []


def test_recorder_option_table_is_the_options_table():
    options = pytest.importorskip("codetracer_python_recorder.options")
    rows = table(RECORDER_README, "| option | environment | meaning |")
    documented = [(codes(flag)[0], (codes(env) or [None])[0]) for flag, env, _ in rows]
    expected = [(o.flag + (f" {o.metavar}" if o.metavar else ""), o.env)
                for o in options.OPTIONS]
    assert documented == expected


def test_recorder_cap_and_deps_tables_name_real_options():
    options = pytest.importorskip("codetracer_python_recorder.options")
    for _what, _default, flag, env in table(RECORDER_README, "| cap | default | flag |"):
        option = options.BY_FLAG[codes(flag)[0].split()[0]]
        assert codes(env) == [option.env]
    for row in table(RECORDER_README, "| flag | environment | meaning |"):
        for item in codes(row[0]):
            assert item.split()[0] in options.BY_FLAG, item
        for item in codes(row[1]):
            assert item.split("=")[0] in {o.env for o in options.OPTIONS}, item


def test_recorder_status_and_code_table_is_the_native_modules():
    native = pytest.importorskip("codetracer_python_recorder._native")
    rows = table(RECORDER_README, "| status | kind | error codes |")
    assert {kind: int(status) for status, kind, _ in rows} == native.EXIT_STATUS
    documented = {code: kind for _status, kind, cell in rows for code in codes(cell)}
    assert documented == native.ERROR_CODES


def test_prose_statuses_match():
    """The one-line summaries in both READMEs and docs/architecture.md."""
    summary = ", ".join(f"{kind} {status}" for kind, status in contract.EXIT_STATUS.items())
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"usage {contract.USAGE}, environment {contract.ENVIRONMENT}" in architecture
    assert f"({summary})" in re.sub(r"\s+", " ", README)
