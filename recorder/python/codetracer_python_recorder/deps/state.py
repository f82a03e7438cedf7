"""The active engine (a Recorder, a Replayer, or ``None``), read by every patched call.

Patched functions check it on each call, so turning capture off restores plain behaviour."""

engine = None
