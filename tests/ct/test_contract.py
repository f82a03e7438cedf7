"""One source for each contract: ct's stdlib copies agree with the recorder's native module,
and ct picks a bundled wheel exactly when the bootstrap would accept it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ct import bundle_match, contract, errors, record, recorder_locate

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "packaging" / "common" / "ct_bootstrap.py"


def _bootstrap():
    spec = importlib.util.spec_from_file_location("ct_bootstrap_under_test", BOOTSTRAP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exit_statuses_match_the_native_module():
    native = pytest.importorskip("codetracer_python_recorder._native")
    assert contract.EXIT_STATUS == native.EXIT_STATUS
    assert record.RECORDER_FAILURES == set(native.EXIT_STATUS.values())
    assert (errors.USAGE, errors.ENVIRONMENT, errors.TARGET, errors.INTERNAL) == (2, 10, 20, 70)


def test_minimum_python_matches_the_recorder():
    import codetracer_python_recorder as rec

    assert contract.MIN_PYTHON == rec.MIN_PYTHON
    requires = (ROOT / "recorder" / "pyproject.toml").read_text()
    major, minor = contract.MIN_PYTHON
    assert f'requires-python = ">={major}.{minor}"' in requires


def test_the_bootstrap_uses_ct_s_modules_not_copies():
    boot = _bootstrap()
    assert boot.contract.ENVIRONMENT == contract.ENVIRONMENT
    assert boot.MIN_VERSION == contract.MIN_PYTHON
    text = BOOTSTRAP.read_text()
    assert "def tag_score" not in text and "= 10" not in text


def test_shared_modules_stay_old_syntax():
    """The bootstrap loads them before it knows the interpreter is new enough."""
    import ast

    for module in (contract, bundle_match):
        tree = ast.parse(Path(module.__file__).read_text())
        kinds = {type(node).__name__ for node in ast.walk(tree)}
        assert not kinds & {"JoinedStr", "AnnAssign", "NamedExpr"}, module.__name__
        assert not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree)), module.__name__


CASES = [
    ((3, 12, 1), "cpython"), ((3, 13, 0), "cpython"), ((3, 11, 9), "cpython"),
    ((3, 13, 0), "pypy"), ((3, 14, 0), "cpython"),
]
MANIFESTS = {
    "abi3": [{"site_dir": "a", "requires_python": ">=3.12", "tags": ["cp312-abi3-linux_x86_64"]}],
    "exact": [{"site_dir": "a", "requires_python": ">=3.12", "tags": ["cp312-abi3-linux_x86_64"]},
              {"site_dir": "b", "requires_python": ">=3.12", "tags": ["cp313-cp313-linux_x86_64"]}],
    "capped": [{"site_dir": "a", "requires_python": ">=3.12,<3.14",
                "tags": ["cp312-abi3-linux_x86_64"]}],
    "pure": [{"site_dir": "a", "requires_python": ">=3.12", "tags": ["py3-none-any"]}],
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
@pytest.mark.parametrize(("version", "implementation"), CASES)
def test_ct_and_the_bootstrap_pick_the_same_wheel(tmp_path, name, version, implementation):
    wheels = MANIFESTS[name]
    (tmp_path / "manifest.json").write_text(json.dumps({"wheels": wheels}))
    for wheel in wheels:
        (tmp_path / wheel["site_dir"]).mkdir()
    ct_pick = recorder_locate.bundle_wheel_for(tmp_path, version, implementation)
    boot_pick = _bootstrap().choose_site_dir({"wheels": wheels}, version, implementation)
    assert (ct_pick or {}).get("site_dir") == boot_pick


def test_ct_refuses_a_cpython_bundle_for_pypy(tmp_path):
    """Before the shared matcher ct chose this bundle and the bootstrap then refused it."""
    wheels = MANIFESTS["abi3"]
    (tmp_path / "manifest.json").write_text(json.dumps({"wheels": wheels}))
    (tmp_path / "a").mkdir()
    assert recorder_locate.bundle_wheel_for(tmp_path, (3, 12, 0), "pypy") is None
    assert recorder_locate.bundle_wheel_for(tmp_path, (3, 12, 0), "cpython") == wheels[0]


def test_ct_skips_a_wheel_whose_site_dir_is_missing(tmp_path):
    wheels = MANIFESTS["exact"]
    (tmp_path / "manifest.json").write_text(json.dumps({"wheels": wheels}))
    (tmp_path / "a").mkdir()  # b (the better fit for 3.13) is not there
    assert recorder_locate.bundle_wheel_for(tmp_path, (3, 13, 0), "cpython")["site_dir"] == "a"


def test_a_bundle_without_the_shared_modules_says_so(tmp_path):
    (tmp_path / "ct_bootstrap.py").write_bytes(BOOTSTRAP.read_bytes())
    proc = subprocess.run([sys.executable, str(tmp_path / "ct_bootstrap.py"), "x.py"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().endswith("reinstall CodeTracer"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "contract.py is missing" in proc.stderr


def test_ct_passes_recorder_options_as_the_recorder_spells_them():
    options = pytest.importorskip("codetracer_python_recorder.options")
    for flag, dest, takes_value in contract.RECORDER_OPTIONS:
        option = options.BY_FLAG.get(flag)
        assert option is not None, f"ct passes {flag}, which the recorder does not have"
        assert (option.dest, option.takes_value) == (dest, takes_value), flag
        assert flag in record.USAGE_TEXT


def test_ct_record_passes_each_option_through():
    argv = []
    for flag, _dest, takes_value in contract.RECORDER_OPTIONS:
        argv += [flag, "v" + flag] if takes_value else [flag]
    opts = record.parse([*argv, "app.py", "--x"])
    assert (opts.program, opts.args) == ("app.py", ["--x"])
    passed = opts.recorder_options()
    for flag, _dest, takes_value in contract.RECORDER_OPTIONS:
        assert flag in passed
        if takes_value and flag != "--deps":
            assert passed[passed.index(flag) + 1] == "v" + flag


def test_ct_help_states_the_contract_statuses():
    from ct import cli

    text = " ".join(cli.HELP.split())
    listed = ", ".join(f"{status} {kind}" for kind, status in contract.EXIT_STATUS.items())
    assert f"{listed}, {contract.NOT_FOUND} no Python interpreter" in text
