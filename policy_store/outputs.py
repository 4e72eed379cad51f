"""Folders and files that commands write for people: checked first, replaced whole, symlinks never followed.

A report folder (``--out``) or an artifact folder is refused when it is an existing file, a symlink, or a
system folder (``/``, ``/etc``, ``/proc``, ``/usr``, ``/var``, ``/run``... and the home folders ``/root`` and
``/home`` themselves: a typo of ``--out`` must not drop files there, even as root). Each file is written through
a descriptor of the folder opened without following a symlink, and checked to be the folder it names: a folder
swapped for a symlink between the check and the write is refused, never written through. Each file goes to a
fresh temporary file in that folder and is renamed over its name, so a reader never sees half a file, and a
symlink planted where the file goes is replaced, never written through.

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
import secrets
from contextlib import suppress
from pathlib import Path

from policy_store.errors import InvalidInputError

#: Folders, and the trees under them, that policy-store never writes into.
SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/usr", "/run",
               "/var")
#: Folders inside :data:`SYSTEM_DIRS` meant for anyone's files.
OPEN_DIRS = ("/var/tmp",)
#: Folders that are refused themselves, though the trees under them are anyone's (``/root/reports`` is fine).
EXACT_DIRS = ("/", "/root", "/home")
_FILE_MODE = 0o644
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def _is_system(resolved: Path) -> bool:
    def under(folder: str) -> bool:
        return resolved == Path(folder) or Path(folder) in resolved.parents

    if any(under(d) for d in OPEN_DIRS):
        return False
    return resolved == Path(resolved.anchor) or str(resolved) in EXACT_DIRS or any(under(d) for d in SYSTEM_DIRS)


def output_dir(path: str | os.PathLike[str], *, field: str = "out", create: bool = True) -> Path:
    """Check ``path`` as a folder to write into, create it if needed (and ``create``), and return it.

    With ``create=False`` only the checks run: a command checks its ``--out`` before a long build and
    creates the folder only when it has something to write, so a failed build leaves no empty folder.

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
    if _is_system(resolved):
        raise InvalidInputError(f"{str(given)!r} is a system folder; write into a folder of your own", field=field)
    if create:
        try:
            given.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInputError(f"cannot create folder {str(given)!r}: {e.strerror or e}", field=field) from e
    return given


def _open_folder(folder: Path, field: str) -> int:
    """A descriptor of ``folder`` itself (never of a symlink there), checked again to be no system folder.

    The checks of :func:`output_dir` ran on the path; this one runs on what the descriptor holds, so nothing
    swapped in between can redirect the writes.
    """
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as e:
        raise InvalidInputError(f"cannot open folder {str(folder)!r} to write into ({e.strerror or e}); it must be "
                                "a folder, not a symlink", field=field) from e
    try:
        real = Path(os.path.realpath(folder))
        held, named = os.fstat(fd), os.stat(real)
        if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
            raise InvalidInputError(f"{str(folder)!r} changed while being written to; nothing more was written",
                                    field=field)
        if _is_system(real):
            raise InvalidInputError(f"{str(folder)!r} is a system folder; write into a folder of your own",
                                    field=field)
    except OSError as e:
        os.close(fd)
        raise InvalidInputError(f"cannot check folder {str(folder)!r}: {e.strerror or e}", field=field) from e
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(folder: Path, name: str, data: str | bytes, *, field: str = "out") -> Path:
    """Write ``data`` as ``folder/name`` (text as UTF-8), replacing whatever is there, and return the path.

    ``folder`` is one :func:`output_dir` returned. The bytes go, through a descriptor of the folder, to a new
    temporary file that is renamed over ``name``: a file or symlink already there is replaced, never followed.
    """
    target = folder / name
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = _open_folder(folder, field)
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"
    try:
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), _FILE_MODE,
                          dir_fd=fd)
            try:
                with os.fdopen(out, "wb") as f:
                    f.write(payload)
                    os.fchmod(f.fileno(), _FILE_MODE)  # whatever the umask
                os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                raise
        except OSError as e:
            raise InvalidInputError(f"cannot write {str(target)!r}: {e.strerror or e}", field=field) from e
    finally:
        os.close(fd)
    return target


def remove_file(folder: Path, name: str, *, field: str = "out") -> None:
    """Remove ``folder/name`` if it is there, through a descriptor of the folder (as :func:`write_file`)."""
    fd = _open_folder(folder, field)
    try:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=fd)
    except OSError as e:
        raise InvalidInputError(f"cannot remove {str(folder / name)!r}: {e.strerror or e}", field=field) from e
    finally:
        os.close(fd)

