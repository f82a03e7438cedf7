"""``python -m codetracer_python_recorder``: see :mod:`codetracer_python_recorder.cli`."""

from codetracer_python_recorder.cli import main

main()
