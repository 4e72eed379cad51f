"""The crash matrix's machinery: run a CLI command in a forked child, SIGKILL it, check, rerun, compare.

A :class:`Matrix` holds one :class:`~tests.reliability.scenarios.Scenario` prepared on one store kind
(``file``: an embedded DuckDB file; ``lake``: a DuckLake on a private PostgreSQL). Every run starts from a
fresh clone of the prepared workspace (the folder with the store file and the command's inputs; for a lake
also ``CREATE DATABASE … TEMPLATE`` of the prepared catalog). :meth:`Matrix.reference` runs the command
uninterrupted, on two clones, to prove the projection deterministic. :meth:`Matrix.crash` runs it with a
kill, at a transaction boundary (``$POLICY_STORE_FAULT``, see :mod:`policy_store.faults`) or after a delay,
runs the invariant checker (:func:`policy_store.check.check_store`), reruns the command to completion and
compares the store's :func:`~tests.reliability.projection.project` with the reference's, or (when the kill
came after commits) with :meth:`Matrix.twice`'s: a kill after the last commit plus the rerun amounts to two
complete runs.

Children are ``os.fork()`` ed by a fork server (:class:`ForkServer`): a process forked once, right after
:func:`warm_imports`, that has imported everything the commands import and then does nothing but fork,
wait and kill. The child runs :func:`policy_store.cli.main.main` and leaves with ``os._exit``. A fresh
interpreter per kill would cost seconds of imports and numba cache loads; a fork costs milliseconds. Forking
from the campaign's own process instead would copy, at each fork, whatever its threads were doing (tqdm's
monitor, Arrow's pool, DuckDB's scheduler all run there once a store was checked): a lock held by one of them
at that instant stays held forever in the child. A run that outlives its timeout is reported as
:class:`HungError` with the child's Python and native stacks.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import importlib
import importlib.util
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

from policy_store import PolicyStore
from policy_store.faults import FAULT_ENV, MOMENTS
from tests.lake.conftest import PostgresServer
from tests.reliability.projection import differences, project

#: Exit code of a child whose command raised something the CLI does not map (an unhandled traceback).
UNHANDLED = 70
READY = "ready"
"""The file a child creates once SIGUSR1 dumps its stacks (before, the signal would kill it)."""
STACKS_WAIT = 60.0
"""Most seconds to wait for a hung child's ready mark, then for its stack dump (a bound, not a delay)."""
_DUMPED = "most recent call first"
#: Modules the commands import lazily: imported once here so that children do not pay for them.
WARM_MODULES = (
    "policy_store.cli.main", "policy_store.ingest", "policy_store.replay", "policy_store.rules",
    "policy_store.integrations.spool", "policy_store.integrations.live", "policy_store.integrations.optuna",
    "policy_store.meta.learner.store_records", "policy_store.meta.recommend", "policy_store.drift",
    "policy_store.datasets",
    "policy_store.copy", "policy_store.check", "sklearn.ensemble", "optuna",
)


def warm_imports() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
    from policy_store.cli.main import build_parser

    build_parser()  # imports every command module
    _warm_kernels()
    ForkServer.start()


def _warm_kernels() -> None:
    """Compile (or load from numba's cache) every replay kernel here once, not in every child."""
    from policy_store.meta.learner.grid import candidate_grid
    from policy_store.meta.learner.training_data import replay_task

    from policy_store.curves import StudyCurves
    from tests.reliability.scenarios import curves

    frame = curves(tasks=1, studies=1, trials=6, steps=6)
    study = StudyCurves.from_frame(frame, study="warm", direction="minimize")
    replay_task([study], candidate_grid(), {"prior_mean": 0.05, "prior_beta": 0.002}, (0, 1))


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for lake matrices outside pytest (``benchmarks/lake.py``'s, reused)."""
    spec = importlib.util.spec_from_file_location("_bench_lake", Path(__file__).parents[2] / "benchmarks" / "lake.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.private_postgres() as location:
        host = location.split("host=")[1].split()[0]
        port = int(location.split("port=")[1].split()[0])
        yield PostgresServer(host, port)


@dataclass
class Run:
    """How one child run ended."""

    code: int | None
    """Exit code; None when it was killed."""
    seconds: float
    commits: int | None
    """Commits the child attempted (None when it was killed)."""
    stderr: str

    @property
    def killed(self) -> bool:
        return self.code is None

    @property
    def unhandled(self) -> bool:
        return self.code == UNHANDLED or "Traceback (most recent call last)" in self.stderr


def _child(argv: list[str], fault: str | None, out: Path) -> None:  # pragma: no cover - runs in the fork
    code = UNHANDLED
    try:
        stdout = open(out / "stdout", "w")  # noqa: SIM115 - lives until os._exit
        stderr = open(out / "stderr", "w")  # noqa: SIM115
        os.dup2(stdout.fileno(), 1)
        os.dup2(stderr.fileno(), 2)
        sys.stdout, sys.stderr = stdout, stderr
        random.seed()  # the parent's random state is not the child's
        faulthandler.register(signal.SIGUSR1, file=stderr, all_threads=True)  # the stacks of a hung run
        (out / READY).touch()  # from now on SIGUSR1 dumps the stacks instead of killing the child
        if fault:
            os.environ[FAULT_ENV] = fault
        else:
            os.environ.pop(FAULT_ENV, None)
        from policy_store import faults
        from policy_store.cli.main import main

        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        (out / "commits").write_text(str(faults.commits_so_far()))
    except BaseException:
        traceback.print_exc()
        code = UNHANDLED
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait_for(condition, seconds: float | None = None) -> bool:
    deadline = time.monotonic() + (STACKS_WAIT if seconds is None else seconds)
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


class HungError(TimeoutError):
    """A child outlived its timeout; the message holds its Python and native stacks."""


def run_command(argv: list[str], out: Path, *, fault: str | None = None, kill_after: float | None = None,
                timeout: float = 600.0) -> Run:
    """Run ``policy-store ARGV`` in a forked child; SIGKILL it after ``kill_after`` seconds if it still runs.

    Raises
    ------
    HungError
        Without ``kill_after``, the child still ran after ``timeout`` seconds (it is killed first).
    """
    if ForkServer.current is not None:
        return ForkServer.current.run(argv, out, fault=fault, kill_after=kill_after, timeout=timeout)
    return _fork_and_wait(argv, out, fault=fault, kill_after=kill_after, timeout=timeout)


def _fork_and_wait(argv: list[str], out: Path, *, fault: str | None, kill_after: float | None,
                   timeout: float) -> Run:
    out.mkdir(parents=True, exist_ok=True)
    (out / "commits").unlink(missing_ok=True)
    (out / READY).unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        _child(argv, fault, out)
    deadline = start + (kill_after if kill_after is not None else timeout)
    status = None
    while status is None:
        done, status_ = os.waitpid(pid, os.WNOHANG)
        if done:
            status = status_
            break
        if time.perf_counter() >= deadline:
            stacks = _stacks(pid, out) if kill_after is None else ""
            os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
            if kill_after is None:
                raise HungError(f"policy-store {' '.join(argv)} still ran after {timeout} s; its stacks:\n{stacks}")
            break
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    stderr = (out / "stderr").read_text() if (out / "stderr").exists() else ""
    if os.WIFSIGNALED(status):
        if os.WTERMSIG(status) != signal.SIGKILL:
            return Run(UNHANDLED, seconds, None, stderr + f"\nkilled by signal {os.WTERMSIG(status)}")
        return Run(None, seconds, None, stderr)
    commits = int((out / "commits").read_text()) if (out / "commits").exists() else None
    return Run(os.WEXITSTATUS(status), seconds, commits, stderr)


def _stacks(pid: int, out: Path) -> str:
    """A live child's Python stacks (faulthandler, on SIGUSR1) and native ones (gdb, where installed).

    On a loaded machine a child caught by a short timeout may not have set up its handler yet (SIGUSR1 would
    kill it), and the dump takes a while: wait for the child's ready mark, then for the dump, each up to
    :data:`STACKS_WAIT` seconds, instead of guessing a delay.
    """
    _wait_for(lambda: (out / READY).exists())
    os.kill(pid, signal.SIGUSR1)
    _wait_for(lambda: _DUMPED in _read(out / "stderr"))
    text = _read(out / "stderr")
    dump = text.find(_DUMPED)  # from the dump's first line: a deep stack must not push it out of the excerpt
    python = text[text.rfind("\n", 0, dump) + 1:][:12000] if dump >= 0 else text[-6000:]
    native = ""
    if shutil.which("gdb"):
        try:
            native = subprocess.run(["gdb", "-batch", "-p", str(pid), "-ex", "thread apply all bt 25"],
                                    capture_output=True, text=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            native = "(gdb timed out)"
        native = "\n".join(line for line in native.splitlines() if line.startswith(("Thread", "#")))
    return f"Python:\n{python}\nnative:\n{native[-12000:]}"


class ForkServer:
    """The process that forks every child (see the module docstring): forked once, serves over a pipe.

    :func:`warm_imports` starts it; from then on :func:`run_command` sends each run to it.
    """

    current: ForkServer | None = None

    def __init__(self) -> None:
        ours, theirs = Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the server's own loop
            ours.close()
            self._serve(theirs)
        theirs.close()
        self.pid, self.owner, self._conn = pid, os.getpid(), ours

    @classmethod
    def start(cls) -> ForkServer:
        """Start the server of this process once (later calls return it); it stops when this process exits."""
        if cls.current is None or cls.current.owner != os.getpid():
            cls.current = cls()
            atexit.register(cls.current.stop)
        return cls.current

    @staticmethod
    def _serve(conn: Connection) -> None:  # pragma: no cover - runs in the server
        ForkServer.current = None  # its children fork themselves
        try:
            while True:
                try:
                    request = conn.recv()
                except EOFError:
                    break
                if request is None:
                    break
                try:
                    conn.send(_fork_and_wait(*request[0], **request[1]))
                except Exception as e:  # the caller re-raises it
                    conn.send(e)
        finally:
            os._exit(0)

    def run(self, *args, **kwargs) -> Run:
        self._conn.send((args, kwargs))
        result = self._conn.recv()
        if isinstance(result, Exception):
            raise result
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
            self._conn.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        if ForkServer.current is self:
            ForkServer.current = None


@dataclass
class Tally:
    """What a campaign counted, per (command, store kind)."""

    kills: int = 0
    boundary_kills: int = 0
    delay_kills: int = 0
    finished_before_kill: int = 0
    violations: int = 0
    reruns_equal: int = 0
    reruns_differ: int = 0
    unhandled: int = 0
    hung: int = 0
    """Runs that outlived their timeout (:class:`HungError`), the kill's run or the rerun."""
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("kills", "boundary_kills", "delay_kills", "finished_before_kill", "violations", "reruns_equal",
                     "reruns_differ", "unhandled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures


class Matrix:
    """One scenario prepared on one store kind; clones it per run (see the module docstring).

    Parameters
    ----------
    scenario:
        What to prepare and which command to run.
    kind:
        ``"file"`` or ``"lake"``.
    root:
        A scratch folder of this matrix.
    server:
        For ``kind="lake"``: the PostgreSQL server (``lake(dbname)`` and ``psql(*sql)``, as
        ``tests/lake/conftest.py``'s ``PostgresServer``).
    """

    def __init__(self, scenario, kind: str, root: Path, server=None) -> None:
        if kind == "lake" and server is None:
            raise ValueError("a lake matrix needs the PostgreSQL server")
        self.scenario, self.kind, self.root, self.server = scenario, kind, Path(root), server
        self.base = self.root / "base"
        self.base.mkdir(parents=True)
        self._runs = 0
        self._dbname = f"crash_{scenario.slug}_{os.getpid()}"
        if kind == "lake":
            server.psql(f"CREATE DATABASE {self._dbname}_base")
            location = server.lake(f"{self._dbname}_base", self.base / "lake-data")
        else:
            location = str(self.base / "store.duckdb")
        scenario.prepare(location, self.base)
        self.reference_state: dict | None = None
        self.twice_state: dict | None = None
        self.reference_seconds = 0.0
        self.reference_commits = 0

    # -- clones ---------------------------------------------------------------------------
    def _clone(self) -> tuple[str, Path]:
        # Always the same folder and catalog name: commands record locations (a model's training snapshot
        # names its store), so every run must see the same ones for their stores to compare equal.
        self._runs += 1
        ws = self.root / "run"
        shutil.copytree(self.base, ws, ignore=shutil.ignore_patterns("lake-data"))
        if self.kind == "file":
            return str(ws / "store.duckdb"), ws
        self.server.psql(f"CREATE DATABASE {self._dbname}_run TEMPLATE {self._dbname}_base")
        return self.server.lake(f"{self._dbname}_run"), ws

    def _drop(self, location: str, ws: Path) -> None:
        shutil.rmtree(ws, ignore_errors=True)
        if self.kind == "lake":
            self.server.psql(f"DROP DATABASE IF EXISTS {self._dbname}_run WITH (FORCE)")

    def close(self) -> None:
        if self.kind == "lake":
            self.server.psql(f"DROP DATABASE IF EXISTS {self._dbname}_base WITH (FORCE)")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- one run ----------------------------------------------------------------------------
    def _target(self, location: str, ws: Path) -> str:
        return self.scenario.target(location, ws)

    def _state(self, location: str, ws: Path, *, projection: bool = True) -> tuple[dict, list]:
        """The target store's projection (unless not asked for) and the checker's violations, in one opening."""
        from policy_store.check import check_store

        with PolicyStore(self._target(location, ws)) as store:
            report = check_store(store)
            return (project(store) if projection else {}), list(report.violations)

    def _run(self, location: str, ws: Path, **kill) -> Run:
        # Once the reference run is timed, a run that takes 20 times as long (at least two minutes) has hung.
        timeout = max(120.0, 20 * self.reference_seconds) if self.reference_state is not None else 600.0
        return run_command(self.scenario.argv(location, ws), ws / "out", timeout=timeout, **kill)

    def reference(self, *, verify: bool = True) -> None:
        """Run uninterrupted; with ``verify`` on a second clone too, whose projection must be the same."""
        states = []
        for _ in range(2 if verify else 1):
            location, ws = self._clone()
            try:
                run = self._run(location, ws)
                if run.code != 0:
                    raise AssertionError(f"{self.scenario.name} ({self.kind}) failed uninterrupted: {run.stderr}")
                state, violations = self._state(location, ws)
                if violations:
                    raise AssertionError(f"{self.scenario.name} ({self.kind}): violations after a clean run: "
                                         f"{violations}")
                states.append(state)
                self.reference_seconds = max(self.reference_seconds, run.seconds)
                self.reference_commits = max(self.reference_commits, run.commits or 0)
            finally:
                self._drop(location, ws)
        diff = differences(states[0], states[-1])
        if diff:
            raise AssertionError(f"{self.scenario.name} ({self.kind}): two uninterrupted runs differ in the "
                                 f"projection (a random column it should drop?): {diff}")
        self.reference_state = states[0]

    def twice(self) -> dict:
        """The projection after two complete runs, one after the other (computed once, when first needed)."""
        if self.twice_state is None:
            location, ws = self._clone()
            try:
                for _ in range(2):
                    run = self._run(location, ws)
                    if run.code != 0:
                        raise AssertionError(f"{self.scenario.name} ({self.kind}) failed run twice: {run.stderr}")
                self.twice_state = self._state(location, ws)[0]
            finally:
                self._drop(location, ws)
        return self.twice_state

    def crash(self, *, fault: str | None = None, delay: float | None = None) -> Tally:
        """One kill (at ``fault``, or after ``delay`` seconds), the check, the rerun and the comparison."""
        if self.reference_state is None:
            self.reference()
        tally = Tally()
        what = fault or f"delay {delay:.3f}s"
        location, ws = self._clone()
        try:
            return self._crash(location, ws, tally, what, fault=fault, delay=delay)
        except HungError as e:
            tally.hung += 1
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: {e}")
            return tally
        finally:
            self._drop(location, ws)

    def _crash(self, location: str, ws: Path, tally: Tally, what: str, *, fault: str | None,
               delay: float | None) -> Tally:
        run = self._run(location, ws, fault=fault, kill_after=delay)
        if run.unhandled:
            tally.unhandled += 1
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: unhandled {run.stderr[-2000:]}")
            return tally
        if run.killed:
            tally.kills += 1
            tally.boundary_kills += fault is not None
            tally.delay_kills += fault is None
        elif fault is not None:
            tally.failures.append(f"{self.scenario.name} ({self.kind}): {fault} never reached "
                                  f"(exit {run.code}, {run.commits} commits)")
            return tally
        elif run.code == 0:
            tally.finished_before_kill += 1
        else:
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: exit {run.code}: {run.stderr}")
            return tally
        _, violations = self._state(location, ws, projection=False)
        if violations:
            tally.violations += len(violations)
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: after the kill: {violations}")
        rerun = self._run(location, ws)
        if rerun.code != 0:
            tally.unhandled += rerun.unhandled
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: the rerun exited {rerun.code}: "
                                  f"{rerun.stderr[-2000:]}")
            return tally
        state, violations = self._state(location, ws)
        if violations:
            tally.violations += len(violations)
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: after the rerun: {violations}")
        if state == self.reference_state or (run.killed and state == self.twice()):
            tally.reruns_equal += 1
        else:
            tally.reruns_differ += 1
            tally.failures.append(f"{self.scenario.name} ({self.kind}) {what}: the rerun's store differs from "
                                  f"an uninterrupted run's: {differences(self.reference_state, state)}")
        return tally

    def boundaries(self) -> list[str]:
        """Every transaction boundary the uninterrupted command passes: before and after each commit."""
        if self.reference_state is None:
            self.reference()
        return [f"{m}:{n}" for n in range(1, self.reference_commits + 1) for m in MOMENTS]

    def sweep(self, *, delays: int = 0, rng: random.Random | None = None,
              stop: Callable[[], bool] = lambda: False) -> Tally:
        """A kill at every boundary, then ``delays`` kills at uniform random delays within the run's duration."""
        rng = rng or random.Random(0)
        tally = Tally()
        for fault in self.boundaries():
            if stop():
                return tally
            tally.add(self.crash(fault=fault))
        for _ in range(delays):
            if stop():
                return tally
            tally.add(self.crash(delay=rng.uniform(0.0, self.reference_seconds)))
        return tally
