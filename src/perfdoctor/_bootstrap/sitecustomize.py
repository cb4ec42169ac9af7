"""Loaded by Python at start-up in every process that ``perfdoctor run`` starts.

Switches capture on, then hands over to any ``sitecustomize`` that this one
shadows, so the user's own start-up customisation still runs.

Any Python the command starts reads this file, the oldest included, so it is
written to parse everywhere (no f-strings) and checks the version before it
imports anything of perfdoctor's.
"""

import importlib.util
import os
import sys

_MINIMUM = (3, 9)


def _capture_off(why, fix):
    # type: (str, str) -> None
    interpreter = "Python %s (%s)" % (sys.version.split()[0], sys.executable or "?")
    lines = [
        "perfdoctor: capture is OFF in this process (pid %d), %s" % (os.getpid(), interpreter),
        "perfdoctor:   why: %s" % why,
        "perfdoctor:   fix: %s" % fix,
    ]
    try:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    except Exception:
        pass
    folder = os.environ.get("PERFDOCTOR_STATUS_DIR")
    if folder:
        try:
            path = os.path.join(folder, "capture-off-%d" % os.getpid())
            with open(path, "w") as out:
                out.write("%s: %s" % (interpreter, why))
        except Exception:
            pass


def _load_package():
    # type: () -> None
    """Import perfdoctor from the folder this file is in, without adding that
    folder's parent to sys.path: for an installed perfdoctor it is a site-packages
    holding perfdoctor's dependencies, which must not shadow the app's. Capture
    imports only the standard library, so the package alone is enough, whatever
    the app's venv or interpreter."""
    if "perfdoctor" in sys.modules:
        return
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "perfdoctor",
        os.path.join(package, "__init__.py"),
        submodule_search_locations=[package],
    )
    if spec is None or spec.loader is None:
        raise ImportError("perfdoctor's package is not at %s" % package)
    module = importlib.util.module_from_spec(spec)
    sys.modules["perfdoctor"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop("perfdoctor", None)
        raise


def _start_perfdoctor():
    # type: () -> None
    if os.environ.get("PERFDOCTOR_ENABLED") != "1":
        return
    if sys.version_info[:2] < _MINIMUM:
        _capture_off(
            "perfdoctor's capture runs on Python %d.%d or newer" % _MINIMUM,
            "run the app with Python 3.9 to 3.13 (or capture only the processes that use one)",
        )
        return
    try:
        _load_package()
        from perfdoctor.capture.auto import install_from_env

        install_from_env()
    except Exception as exc:  # never stop the user's program from starting
        _capture_off(
            "%s: %s" % (type(exc).__name__, exc),
            "the app runs on without capture; please report this line to perfdoctor",
        )


def _chain_shadowed():
    # type: () -> None
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.modules.pop("sitecustomize", None)
    saved_path = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        spec = importlib.util.find_spec("sitecustomize")
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    except Exception:
        pass
    finally:
        sys.path[:] = saved_path
        if saved is not None:
            sys.modules["sitecustomize"] = saved


_start_perfdoctor()
_chain_shadowed()
