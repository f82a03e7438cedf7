"""bench/formats.py's choices: which variants run, and sizes given on the command line."""
import formats
import pytest


def test_ctfs_always_runs_and_before_needs_a_baseline():
    names = [v[0] for v in formats.variants("py", None)]
    assert names == ["ctfs", "json"]
    names = [v[0] for v in formats.variants("py", "old-py", ["before"])]
    assert names == ["ctfs", "before"]
    before = formats.variants("py", "old-py")[-1]
    assert before == ("before", "old-py", [])
    assert formats.variants("py", "old-py")[1][2] == ["--format", "json"]


def test_sizes_are_name_equals_number_pairs():
    assert formats.parse_sizes(["fib=27", "objects=20000"]) == {"fib": 27, "objects": 20000}
    assert formats.parse_sizes([]) == {}
    with pytest.raises(SystemExit, match="NAME=N"):
        formats.parse_sizes(["fib:27"])
