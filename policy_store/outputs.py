"""Folders and files that commands write for people: checked first, replaced whole, symlinks never followed.

A report folder (``--out``) or an artifact folder is refused when it is an existing file, a symlink, or a
system folder (``/``, ``/etc``, ``/proc``, ``/usr``...: a typo of ``--out`` must not drop files there, even as
root). Each file is written to a fresh temporary file in the folder and renamed over its name, so a reader
never sees half a file, and a symlink planted where the file goes is replaced, never written through.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     folder = output_dir(f"{d}/report")
...     write_file(folder, "a.md", "# hi").read_text(), output_dir(folder) == folder
('# hi', True)
>>> output_dir("/proc")
Traceback (most recent call last):
...
policy_store.errors.InvalidInputError: field 'out': '/proc' is a system folder; write into a folder of your own
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from policy_store.errors import InvalidInputError

#: Folders, and the trees under them, that policy-store never writes into ("/" itself only).
SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/usr")
_FILE_MODE = 0o644


def output_dir(path: str | os.PathLike[str], *, field: str = "out") -> Path:
    """Check ``path`` as a folder to write into, create it if needed, and return it.

    Raises
    ------
    InvalidInputError
        ``path`` is a symlink, an existing file, a system folder, cannot be resolved (a symlink loop on its
        way) or cannot be created.
    """
    given = Path(path)
    if given.is_symlink():
        raise InvalidInputError(f"{str(given)!r} is a symlink; name the folder it points to, or another one",
                                field=field)
    if given.exists() and not given.is_dir():
        raise InvalidInputError(f"{str(given)!r} exists and is not a folder; name a folder to write the files into",
                                field=field)
    try:
        resolved = given.resolve()
    except (RuntimeError, OSError) as e:  # a symlink loop: RuntimeError before Python 3.13, OSError since
        raise InvalidInputError(f"cannot resolve {str(given)!r}: {e}", field=field) from e
    if resolved == Path(resolved.anchor) or any(resolved == Path(d) or Path(d) in resolved.parents
                                                for d in SYSTEM_DIRS):
        raise InvalidInputError(f"{str(given)!r} is a system folder; write into a folder of your own", field=field)
    try:
        given.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidInputError(f"cannot create folder {str(given)!r}: {e.strerror or e}", field=field) from e
    return given


def write_file(folder: Path, name: str, data: str | bytes) -> Path:
    """Write ``data`` as ``folder/name`` (text as UTF-8), replacing whatever is there, and return the path.

    ``folder`` is one :func:`output_dir` returned. The bytes go to a new temporary file that is renamed over
    ``name``: a file or symlink already there is replaced, never followed.
    """
    target = folder / name
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise InvalidInputError(f"cannot write {str(target)!r}: {e.strerror or e}", field="out") from e
    return target
