"""Finding LCDB's files and converting them once to Parquet in the user cache.

LCDB ships as the PyPI sdist ``lcdb==0.1.0``, whose package data holds
``database-<metric>.csv`` and ``datasets.csv``. The files are read from, in order:
an explicit path (the package folder or the sdist), the installed ``lcdb`` package
(found with ``find_spec`` and never imported: its module imports ``openml``), a
sdist already in the cache, or a sdist fetched with ``pip download``.

>>> LCDB_SPEC
'lcdb==0.1.0'
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from policy_store.cache import cache_dir
from policy_store.errors import InvalidInputError, MissingDependencyError

LCDB_VERSION = "0.1.0"
LCDB_SPEC = f"lcdb=={LCDB_VERSION}"
SDIST_NAME = f"lcdb-{LCDB_VERSION}.tar.gz"

CURVE_SCHEMA = pa.schema(
    [
        ("openmlid", pa.int32()),
        ("learner", pa.string()),
        ("size_train", pa.int32()),
        ("size_test", pa.int32()),
        ("outer_seed", pa.int16()),
        ("inner_seed", pa.int16()),
        ("traintime", pa.float64()),
        ("score_train", pa.float64()),
        ("score_valid", pa.float64()),
        ("score_test", pa.float64()),
    ]
)


def locate(source: str | os.PathLike[str] | None = None, *, download: bool = True,
           progress: bool = False) -> Path:
    """The folder or sdist that holds LCDB's CSV files.

    Parameters
    ----------
    source:
        The ``lcdb`` package folder or ``lcdb-0.1.0.tar.gz``; searched for when None.
    download:
        Fetch the sdist (68 MB) from PyPI with ``pip download`` if nothing is found.
    progress:
        Let pip draw its download progress bar on stderr (a download is announced on
        stderr either way).

    Examples
    --------
    >>> locate("/nonexistent/lcdb.tar.gz")
    Traceback (most recent call last):
    policy_store.errors.InvalidInputError: field 'source': LCDB source '/nonexistent/lcdb.tar.gz' does not exist...
    """
    if source is not None:
        path = Path(source).expanduser()
        if not path.exists():
            raise InvalidInputError(
                f"LCDB source {str(path)!r} does not exist; give the lcdb package folder or {SDIST_NAME}",
                field="source",
            )
        return path
    spec = importlib.util.find_spec("lcdb")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        if (folder / "datasets.csv").exists():
            return folder
    cached = cache_dir() / SDIST_NAME
    if cached.exists():
        return cached
    if not download:
        raise MissingDependencyError(
            "LCDB not found: pip install 'policy-store[lcdb]' (or pip install --no-deps "
            f"{LCDB_SPEC}), pass the sdist path, or allow the download"
        )
    return _download(cached.parent, progress=progress)


def _download(dest: Path, *, progress: bool) -> Path:
    # Said even without progress bars: nobody should wonder where 68 MB went.
    print(f"Downloading {LCDB_SPEC} (68 MB sdist, MIT licence) from PyPI into {dest} ...", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(dest), LCDB_SPEC]
    if not progress:
        cmd.append("--quiet")
    done = subprocess.run(cmd, check=False, stdout=sys.stderr if progress else subprocess.DEVNULL)
    sdist = dest / SDIST_NAME
    if done.returncode != 0 or not sdist.exists():
        raise MissingDependencyError(
            f"pip download {LCDB_SPEC} failed (exit {done.returncode}); download it by hand and "
            "pass its path with --source"
        )
    return sdist


@contextmanager
def open_member(source: Path, name: str) -> Iterator[tuple[IO[bytes], int]]:
    """A binary stream of the package-data file ``name`` and its size in bytes."""
    if source.is_dir():
        path = source / name
        if not path.exists():
            raise InvalidInputError(f"{name} not found in {source}", field="source")
        with open(path, "rb") as fh:
            yield fh, path.stat().st_size
        return
    if not tarfile.is_tarfile(source):
        raise InvalidInputError(f"{source} is neither the lcdb package folder nor its sdist", field="source")
    with tarfile.open(source, "r:*") as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith(f"/lcdb/{name}")), None)
        if member is None:
            raise InvalidInputError(f"{name} not found in {source}", field="source")
        stream = archive.extractfile(member)
        assert stream is not None  # a regular file member always has a stream
        yield stream, member.size


def converted(name: str, source: Path, *, progress: bool = False) -> Path:
    """Parquet copy of the CSV ``name`` in the cache, converting it on first use.

    Beside it a ``.json`` file records the number of data rows read from the CSV,
    which the ingest checks the store against.
    """
    folder = cache_dir() / f"lcdb-{LCDB_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name.replace(".csv", ".parquet")
    if target.exists() and target.with_suffix(".json").exists():
        return target
    schema = CURVE_SCHEMA if name.startswith("database-") else None
    convert = pacsv.ConvertOptions(column_types=schema) if schema is not None else None
    tmp = target.with_suffix(f".parquet.{os.getpid()}.tmp")  # concurrent converters never share one
    rows = 0
    with open_member(source, name) as (stream, size), tqdm(
        total=size, unit="B", unit_scale=True, desc=f"converting {name}", disable=not progress
    ) as bar:
        reader = pacsv.open_csv(_Counting(stream, bar), convert_options=convert,
                                read_options=pacsv.ReadOptions(block_size=16 << 20))
        with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
            for batch in reader:
                rows += batch.num_rows
                writer.write_batch(batch)
    os.replace(tmp, target)
    target.with_suffix(".json").write_text(json.dumps({"csv": name, "rows": rows, "source": str(source)}))
    return target


def source_rows(parquet: Path) -> int:
    """Data rows of the CSV the Parquet file was converted from."""
    return int(json.loads(parquet.with_suffix(".json").read_text())["rows"])


class _Counting:
    """A read-only stream that advances a progress bar by the bytes read."""

    def __init__(self, stream: IO[bytes], bar: tqdm) -> None:
        self._stream = stream
        self._bar = bar
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._bar.update(len(data))
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
