import os
import sys


def child_work():
    return sum(range(10))


pid = os.fork()
if pid == 0:
    print("child", child_work(), flush=True)
    sys.exit(3)
_, status = os.waitpid(pid, 0)
print("parent saw", os.waitstatus_to_exitcode(status))
