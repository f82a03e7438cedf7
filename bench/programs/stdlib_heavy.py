"""Stdlib-heavy code: json round trips and regular expressions over generated log records.

Most time is spent inside the standard library, which a recorder should filter out cheaply.
"""
import json
import re
import sys

LINE = re.compile(r"(?P<level>[A-Z]+) \[(?P<user>\w+)\] (?P<action>\w+) took (?P<ms>\d+)ms")


def make_records(n):
    levels = ["INFO", "WARN", "ERROR", "DEBUG"]
    return [
        {"id": i, "level": levels[i % 4], "user": f"user{i % 37}", "action": f"act{i % 11}",
         "ms": (i * 7919) % 1000, "tags": ["a", "b", str(i % 5)]}
        for i in range(n)
    ]


def main(n):
    records = make_records(n)
    blob = json.dumps(records)
    decoded = json.loads(blob)
    lines = [f"{r['level']} [{r['user']}] {r['action']} took {r['ms']}ms" for r in decoded]
    slow = {}
    for line in lines:
        m = LINE.match(line)
        if m and int(m["ms"]) > 900:
            slow[m["user"]] = slow.get(m["user"], 0) + 1
    words = re.findall(r"\w+", " ".join(lines))
    pretty = json.dumps(slow, indent=2, sort_keys=True)
    print(f"stdlib({n}) bytes={len(blob)} words={len(words)} slow_users={len(slow)} {len(pretty)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12000)
