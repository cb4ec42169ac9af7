"""Loaded by Python at start-up in every process that ``perfdoctor run`` starts.

Switches capture on, then hands over to any ``sitecustomize`` that this one
shadows, so the user's own start-up customisation still runs.
"""

import importlib.util
import os
import sys


def _start_perfdoctor() -> None:
    try:
        from perfdoctor.capture.auto import install_from_env

        install_from_env()
    except Exception as exc:  # never stop the user's program from starting
        sys.stderr.write(f"perfdoctor: capture is off in this process: {exc}\n")


def _chain_shadowed() -> None:
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
