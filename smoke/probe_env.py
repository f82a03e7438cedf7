"""Prints what a recorded program can observe of its start-up; must match plain Python."""

import os
import sys

WATCHED = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONSTARTUP",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "APPDIR", "ARGV0", "OWD", "_MEIPASS2",
)

print("path0_is_script_dir:", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print("bundle_on_path:", any("resources" in p and "python" in p for p in sys.path))
print("argv:", sys.argv[1:])
for name in WATCHED:
    print(f"{name}:", os.environ.get(name, "<unset>"))
print("pyinstaller_vars:", sorted(k for k in os.environ if k.startswith(("_PYI", "_MEI"))))
print("main_module:", __name__)
