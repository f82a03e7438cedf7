"""Make bench/ctbench importable the way bench/run.py imports it (as top-level `ctbench`)."""
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
