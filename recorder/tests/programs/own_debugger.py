"""Claims sys.monitoring's debugger, profiler and coverage ids, as a program with its own
debugger, cProfile or coverage does."""
import sys

m = sys.monitoring
for tool in (m.DEBUGGER_ID, m.PROFILER_ID, m.COVERAGE_ID):
    m.use_tool_id(tool, f"own-{tool}")
    m.free_tool_id(tool)
print("claimed", m.DEBUGGER_ID, m.PROFILER_ID, m.COVERAGE_ID)
