"""Registry sanity: every program exists and takes its size, filters reject unknown names."""
import pytest
from ctbench import modes, programs


def test_every_program_script_exists_and_sizes_are_ordered():
    names = [p.name for p in programs.PROGRAMS]
    assert len(names) == len(set(names))
    for p in programs.PROGRAMS:
        assert p.path.is_file(), p.path
        assert 0 < p.calib_size <= p.quick_size <= p.size, p.name
        assert "sys.argv[1]" in p.path.read_text(), p.name


def test_select_filters_and_rejects_unknown():
    assert [p.name for p in programs.select(["text", "fib"])] == ["fib", "text"]
    with pytest.raises(SystemExit):
        programs.select(["nope"])
    assert [m.name for m in modes.select(["ours", "plain"])] == ["plain", "ours"]
    with pytest.raises(SystemExit):
        modes.select(["fast"])


def test_mode_commands(tmp_path):
    py, script = tmp_path / "python", tmp_path / "s.py"
    by = {m.name: m for m in modes.MODES}
    assert by["plain"].command(py, script, 5, None) == [str(py), str(script), "5"]
    assert by["floor"].command(py, script, 5, None)[1] == str(modes.FLOOR_LAUNCHER)
    cmd = by["upstream"].command(py, script, 5, tmp_path / "t")
    assert cmd[1:3] == ["-m", "codetracer_python_recorder"]
    assert cmd[-2:] == [str(script), "5"]  # options before the target, program args after
