def before():
    return "not recorded"


before()
import activation_lib  # noqa: E402  (recording starts here)

print(activation_lib.work(3))
