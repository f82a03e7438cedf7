"""`ct list`'s COMMAND column reads as the command that was run."""

from ct.browse import _command


def test_module_run_reads_python_dash_m():
    row = {"program": "-m pytest", "args": ["-q", "tests dir"]}
    assert _command(row) == "python -m pytest -q 'tests dir'"


def test_script_run_is_unchanged():
    assert _command({"program": "app.py", "args": ["--x", "a b"]}) == "app.py --x 'a b'"
