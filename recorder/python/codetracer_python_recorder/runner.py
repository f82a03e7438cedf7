"""Running the target exactly as ``python SCRIPT ARGS`` / ``python -m MODULE ARGS`` would.

Parity points: ``sys.argv``, ``sys.path[0]`` (the script's real directory, or the cwd for
``-m``), a fresh ``__main__`` module (so pickling ``__main__`` classes works), the exit status
rules of ``SystemExit``, uncaught-exception tracebacks without recorder frames, SyntaxError
reports, and KeyboardInterrupt ending the process by SIGINT after cleanup.
"""

from __future__ import annotations

import atexit
import importlib.machinery
import os
import runpy
import signal
import sys
import threading
import types

from .native_text import native_text

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Target:
    """What to run: a script path or a module name, with its arguments."""

    def __init__(self, script: str | None = None, module: str | None = None, args=()) -> None:
        self.script = script
        self.module = module
        self.args = list(args)
        self.argv0: str | None = None  # sys.argv[0] when it is not ``script`` (a directory)
        self.path0: str | None = None  # sys.path[0] when it is not the script's folder

    @property
    def program(self) -> str:
        return os.path.abspath(self.script) if self.script else (self.module or "")


class Outcome:
    """How the program ended."""

    def __init__(
        self,
        exit_status: int,
        exception: BaseException | None = None,
        system_exit: SystemExit | None = None,
        interrupted: bool = False,
    ) -> None:
        self.exit_status = exit_status
        self.exception = exception  # uncaught, to be reported like Python does
        self.system_exit = system_exit  # re-raised so Python prints its message
        self.interrupted = interrupted
        self.interrupted_while_joining = False


_renamed: set[str] = set()  # scripts compiled under a name the native side can read


def prepare_script(target: Target):
    """Reads and compiles the script before recording starts; raises ``SyntaxError`` or
    ``OSError`` exactly as Python would report them."""
    path = os.path.abspath(target.script or "")
    with open(path, "rb") as f:
        source = f.read()
    name = native_text(path)  # what the native side can read, printed as Python prints path
    code = compile(source, name, "exec", dont_inherit=True)
    if name != path:  # tracebacks find the source lines under that name
        import linecache

        _renamed.add(name)

        lines = source.decode("utf-8", "replace").splitlines(keepends=True)
        linecache.cache[name] = (len(source), None, lines, name)
    return code


def use_directory_main(target: Target) -> None:
    """``python DIR`` runs ``DIR/__main__.py`` with ``sys.argv[0] == DIR`` and DIR first on
    ``sys.path``; without one it says so, in Python's words and with its status (1)."""
    directory = target.script or ""
    main = os.path.join(directory, "__main__.py")
    if not os.path.isfile(main):
        sys.stderr.write(
            f"{sys.executable}: can't find '__main__' module in {os.path.abspath(directory)!r}\n"
        )
        raise SystemExit(1)
    target.argv0 = directory
    target.path0 = os.path.abspath(directory)
    target.script = main


def module_file(name: str) -> str | None:
    """The file ``python -m NAME`` would run (a package's ``__main__.py``), found on the path
    ``-m`` uses without importing anything, so no code of the program runs before recording.
    ``None`` when it cannot be told that way (a package that changes its ``__path__``)."""
    from importlib.machinery import PathFinder

    search = [os.getcwd(), *sys.path[1:]]
    spec = None
    for part in name.split("."):
        spec = PathFinder.find_spec(part, search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    if spec is not None and spec.submodule_search_locations is not None:
        spec = PathFinder.find_spec("__main__", list(spec.submodule_search_locations))
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return os.path.abspath(spec.origin)


def module_exists(name: str) -> bool:
    """False only when ``python -m NAME`` would certainly say "No module named": its top-level
    package is nowhere (checked without importing it)."""
    import importlib.util

    top = name.partition(".")[0]
    if top in sys.modules or top in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None or module_file(top) is not None
    except (ImportError, ValueError):
        return True  # let runpy report it exactly as Python does


def _main_module(path: str) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__cached__ = None
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    module.__package__ = None
    module.__spec__ = None
    module.__builtins__ = __builtins__
    module.__annotations__ = {}
    return module


def run(target: Target, code=None) -> Outcome:
    """Runs the target in this process and reports how it ended. Never raises for errors of
    the program itself, nor for a Ctrl-C that arrives after the program's own (see
    ``shield_sigint``)."""
    try:
        try:
            outcome = _execute(target, code)
        finally:
            shield_sigint()
    except KeyboardInterrupt as exc:  # the program's, or a second one while it unwound
        outcome = Outcome(130, exception=exc, interrupted=True)
    shield_sigint()
    if not _join_threads() and not outcome.interrupted:
        # Ctrl-C while waiting for the program's threads: plain Python stops waiting and
        # keeps the status; the trace says it was interrupted.
        outcome.interrupted_while_joining = True
    return outcome


def _recorder_frames() -> int:
    """Frames of the recorder under the program's first frame: the caller's and all below."""
    frame, count = sys._getframe(1), 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count


def _execute(target: Target, code) -> Outcome:
    # The program's frames sit on the recorder's: the limit grows by as many, so the program
    # reaches the recursion depth it reaches under plain Python (sys.getrecursionlimit() reads
    # that much higher while it runs).
    extra = _recorder_frames() + 1  # and _execute_program's, which runs the program
    raised = sys.getrecursionlimit() + extra
    sys.setrecursionlimit(raised)
    try:
        return _execute_program(target, code)
    finally:
        if sys.getrecursionlimit() == raised:  # the program did not set its own
            sys.setrecursionlimit(raised - extra)


def _execute_program(target: Target, code) -> Outcome:
    if target.module is not None:
        sys.argv = [target.module, *target.args]
        sys.path[0] = os.getcwd()
        try:
            runpy._run_module_as_main(target.module, alter_argv=True)
        except SystemExit as exc:
            return Outcome(_system_exit_status(exc), system_exit=exc)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - reported like the interpreter would
            return Outcome(1, exception=exc)
        return Outcome(0)
    path = os.path.abspath(target.script or "")
    sys.argv = [target.argv0 or target.script or "", *target.args]
    sys.path[0] = target.path0 or os.path.dirname(os.path.realpath(path))
    module = _main_module(path)
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        return Outcome(_system_exit_status(exc), system_exit=exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - reported like the interpreter would
        return Outcome(1, exception=exc)
    return Outcome(0)


def _system_exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code & 0xFF
    return 1


def _join_threads() -> bool:
    """Waits for non-daemon threads, as interpreter shutdown would, while still recording.
    Returns False when a Ctrl-C ended the wait (as it ends plain Python's)."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is current or thread.daemon:
            continue
        while thread.is_alive():
            if _sigints:
                return False
            thread.join(0.05)
    return True


# SIGINTs noted after the program ended (while threads are joined and the trace is written).
_sigints: list[int] = []


def _note_sigint(signum, frame) -> None:
    _sigints.append(signum)


def shield_sigint() -> None:
    """From the end of the program to the end of the process a Ctrl-C (often the second
    half of a double Ctrl-C, or the same one sent twice) must not raise KeyboardInterrupt
    inside the recorder and lose the trace: it is noted, ends a wait for threads, and makes
    the process end by SIGINT once the trace is published. Ignored stays ignored."""
    if not hasattr(signal, "SIGINT") or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        _note_sigint,
    ):
        return
    try:
        signal.signal(signal.SIGINT, _note_sigint)
    except ValueError:  # not the main thread (library use)
        pass


def sigint_seen() -> bool:
    return bool(_sigints)


def strip_recorder_frames(tb):
    """Drops the leading traceback entries that belong to the recorder."""
    while tb is not None and os.path.dirname(
        os.path.abspath(tb.tb_frame.f_code.co_filename)
    ) == _PACKAGE_DIR:
        tb = tb.tb_next
    return tb


def report_exception(exc: BaseException) -> None:
    """Prints an uncaught exception through ``sys.excepthook``, as the interpreter does."""
    tb = strip_recorder_frames(exc.__traceback__)
    exc.__traceback__ = tb
    if _renamed and sys.excepthook is sys.__excepthook__:
        # the built-in hook reads source lines from the file named by the code object, which
        # a renamed script's is not (prepare_script); the traceback module prints the same
        # text and finds the lines in linecache
        import traceback

        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        return
    sys.excepthook(type(exc), exc, tb)


_die_by_sigint = False


def _sigint_at_exit() -> None:
    # Registered before the program runs, so it is the last atexit handler: the program's own
    # handlers have run, as with plain Python, before the process ends by SIGINT.
    if not _die_by_sigint:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def arm_sigint_exit() -> None:
    atexit.register(_sigint_at_exit)


def finalize_on_sigterm(finish) -> None:
    """Makes SIGTERM finish the trace (marked interrupted) before the process dies of it.

    Only installed when SIGTERM has its default action, so a program's own handler (installed
    before or after) keeps full control. ``finish`` is called once, from the main thread.
    """
    if not hasattr(signal, "SIGTERM") or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        shield_sigint()
        try:
            finish()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _default_in_child(signal.SIGTERM, on_sigterm))


def _default_in_child(signum: int, handler) -> None:
    """A forked child records nothing, so it gets back the default action plain Python
    would have. A Python-level handler is not free there: a signal that lands just before a
    blocking C call (a pool worker's ``SemLock.acquire``) is only noted, and the call then
    waits forever, where the default action would have ended the process (1 in 10 runs of
    ``with Pool(4)`` hung in ``terminate``)."""
    try:
        if signal.getsignal(signum) is handler:
            signal.signal(signum, signal.SIG_DFL)
    except (ValueError, OSError):
        pass


_EXECS = ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe")


def finish_before_process_ends(finish) -> None:
    """``os._exit`` and the ``os.exec*`` calls end the process without unwinding, so neither
    the recorder's close nor atexit runs: the trace would be lost. They are wrapped (as
    coverage.py's ``patch = _exit`` does) to call ``finish(status, ended_by)`` first, once,
    in the recording process only (a forked child leaves as it would). ``status`` is
    ``None`` for an exec: the new program's status is the process's. An exec that would
    fail at once (no such executable) is not taken as the end: the program gets its
    OSError and recording goes on."""
    pid = os.getpid()

    def wrap(name, real, ends):
        def leave(*args, **kwargs):
            if os.getpid() == pid and ends(args):
                try:
                    finish(args[0] if name == "_exit" and args else None, f"os.{name}")
                except BaseException:  # noqa: BLE001 -- the program's exit comes first
                    pass
            return real(*args, **kwargs)

        leave.__name__ = leave.__qualname__ = name
        leave.__doc__ = real.__doc__
        return leave

    os._exit = wrap("_exit", os._exit, lambda args: True)
    for name in _EXECS:
        real = getattr(os, name, None)
        if real is not None:
            setattr(os, name, wrap(name, real, lambda args, n=name: _exec_would_run(n, args)))


def _exec_would_run(name: str, args: tuple) -> bool:
    if not args:
        return False
    path = args[0]
    if isinstance(path, int):
        return True  # execve on a file descriptor
    try:
        path = os.fsdecode(path)
    except TypeError:
        return False
    if "p" in name[4:] and os.sep not in path:
        import shutil

        return shutil.which(path) is not None
    return os.access(path, os.X_OK) and not os.path.isdir(path)


def exit_like_python(outcome: Outcome):
    """Ends the recorder's ``main`` the way the interpreter would have ended the program."""
    global _die_by_sigint
    if outcome.system_exit is not None:
        raise outcome.system_exit
    if outcome.interrupted and hasattr(signal, "SIGINT"):
        _die_by_sigint = True
    raise SystemExit(outcome.exit_status)
