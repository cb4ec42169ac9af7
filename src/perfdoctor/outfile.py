"""``--output FILE``: written beside FILE and renamed over it, so a command that
fails halfway leaves no half file behind, and a bad path is a one-line error."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedIOBase
from pathlib import Path

from perfdoctor.errors import UsageError


@contextmanager
def written(path: str, gzip_by_suffix: bool = False) -> Iterator[BufferedIOBase]:
    """A binary stream that becomes ``path`` when the block ends without an error
    (gzipped when ``gzip_by_suffix`` and the name ends in ``.gz``)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--output {path}: folder {target.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".perfdoctor-", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as raw:
            if gzip_by_suffix and path.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb") as zipped:
                    yield zipped
            else:
                yield raw
        # mkstemp makes the file private; the output gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"--output {path}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
