"""Running a company's script in Debian's bubblewrap: no network, no view of the platform.

The sandbox sees a read-only minimal root (/usr and the analysis environment at /env), the
permit's data read-only at /data/<dataset_id>.parquet, a bounded private /tmp and /output/, the
one writable host folder. Every namespace is unshared, so the network namespace has no
interface but a loopback that is down. Limits: CPU seconds, address space, processes, file size
(rlimits set by `prlimit` before bubblewrap starts), total output size and file count (watched
while the script runs) and wall-clock time (the process group is killed).

When the worker runs as root, the sandbox runs as an unprivileged user of its own per job
(`setpriv`), so that the process limit holds (root is exempt from RLIMIT_NPROC) and nothing it
starts can read another job's folder. Pure of the database and of Flask.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from marketplace import leftovers
from marketplace.cpr import is_valid_cpr

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"
ENV_MOUNT = "/env"
CPR_PLACEHOLDER = "[CPR]"
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs, not the host's
SANDBOX_SHM = "/dev/shm"  # noqa: S108 - likewise

# Ten digits with at most one separator (space, dash of any length, dot, slash, underscore)
# between any two: every spelling the leak scan knows, and those it missed ("0101 80-1234",
# "01.01.80.1234", "010180–1234", full-width digits, ...).
_CPR_LIKE = re.compile(r"(?<![\d])(?:\d[ \t./_\-\u2010-\u2015\u2212]?){9}\d(?![\d])")

Outcome = Literal["finished", "failed", "timed_out", "cancelled", "cpu_exceeded",
                  "file_too_large", "output_too_large", "killed", "not_started"]


@dataclass(frozen=True)
class Limits:
    """What one job may use."""

    cpu_seconds: int = 600
    memory_mb: int = 4096
    wall_seconds: int = 900
    processes: int = 64
    file_mb: int = 200
    output_mb: int = 250
    output_files: int = 50
    tmp_mb: int = 256
    log_bytes: int = 200_000
    open_files: int = 256


@dataclass(frozen=True)
class SandboxRun:
    """How a run ended: `outcome`, the script's exit code and its scrubbed, bounded log."""

    outcome: Outcome
    exit_code: int | None
    log: str
    wall_seconds: float
    output_bytes: int

    @property
    def succeeded(self) -> bool:
        return self.outcome == "finished" and self.exit_code == 0


def scrub_cprs(text: str) -> str:
    """Replace every CPR-like number in any spelling (a valid date and century) by [CPR]."""

    def replace(match: re.Match[str]) -> str:
        digits = "".join(str(int(c)) for c in match.group(0) if c.isdigit())
        return CPR_PLACEHOLDER if is_valid_cpr(digits) else match.group(0)

    return _CPR_LIKE.sub(replace, text)


def _root_mounts() -> list[str]:
    """A minimal read-only root: /usr and the merged-/usr links (or binds) of /bin and /lib*."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    return args


def bwrap_command(*, environment: Path, script: Path, data: Mapping[str, Path], output_dir: Path,
                  limits: Limits, uid: int | None) -> list[str]:
    """The command line that runs `script` in the sandbox (limits, user, bubblewrap)."""
    rlimits = [
        PRLIMIT,
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_mb * 1024 * 1024}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    user = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] if uid else []
    sandbox = [
        BWRAP, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
        "--disable-userns", "--clearenv", "--hostname", "workspace",
        *_root_mounts(),
        "--proc", "/proc", "--dev", "/dev",
        # bubblewrap's /dev is a writable tmpfs without a size: shared memory gets a bounded
        # one, and /dev itself is made read-only below.
        "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", SANDBOX_SHM,
        "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", SANDBOX_TMP,
        "--ro-bind", str(environment), ENV_MOUNT,
        "--dir", "/data",
    ]
    for dataset_id, path in sorted(data.items()):
        sandbox += ["--ro-bind", str(path), f"/data/{dataset_id}.parquet"]
    sandbox += [
        "--ro-bind", str(script), "/job/script.py",
        "--bind", str(output_dir), "/output",
        "--remount-ro", "/",
        "--remount-ro", "/dev",
        "--chdir", "/output",
        "--setenv", "PATH", f"{ENV_MOUNT}/bin:/usr/bin:/bin",
        "--setenv", "HOME", SANDBOX_TMP,
        "--setenv", "TMPDIR", SANDBOX_TMP,
        "--setenv", "MPLBACKEND", "Agg",
        "--setenv", "MPLCONFIGDIR", SANDBOX_TMP,
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--setenv", "PYTHONUNBUFFERED", "1",
        "--setenv", "OMP_NUM_THREADS", "1",
        "--setenv", "OPENBLAS_NUM_THREADS", "1",
        "--setenv", "LANG", "C.UTF-8",
        "--",
        f"{ENV_MOUNT}/bin/python", "-B", "/job/script.py",
    ]
    return rlimits + user + sandbox


class _LogReader(threading.Thread):
    """Drain the sandbox's stdout+stderr, keeping at most `limit` bytes (the rest is counted)."""

    def __init__(self, stream: object, limit: int):
        super().__init__(daemon=True)
        self.stream = stream
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        read = self.stream.read1  # type: ignore[attr-defined]
        while chunk := read(65536):
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        text = scrub_cprs(bytes(self.kept).decode("utf-8", errors="replace"))
        if self.dropped:
            text += f"\n[… {self.dropped} more bytes of log not kept]\n"
        return text


def output_usage(output_dir: Path) -> tuple[int, int]:
    """Bytes and entries under the output folder (symlinks counted, never followed)."""
    total = entries = 0
    for root, dirs, files in os.walk(output_dir):
        for name in dirs + files:
            entries += 1
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total, entries


CGROUP_ROOT = Path("/sys/fs/cgroup")


_GROUP_OWNER = re.compile(r"-(\d+)$")


@dataclass
class JobCgroups:
    """Per-job control groups, where the host lets this process make them: memory (the total
    of all the script's processes, tmpfs included) and process count. Rlimits bound each
    process; these bound the job as a whole. Empty where cgroups are not writable."""

    folders: list[Path]

    @classmethod
    def create(cls, name: str, limits: Limits, root: Path = CGROUP_ROOT) -> JobCgroups:
        made: list[Path] = []
        settings = {
            "memory": {"memory.limit_in_bytes": limits.memory_mb * 1024 * 1024},
            "pids": {"pids.max": limits.processes},
        }
        for controller, values in settings.items():
            parent = root / controller  # cgroup v1, one hierarchy per controller
            if not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
                continue
            folder = parent / name
            try:
                folder.mkdir(exist_ok=True)
                for file, value in values.items():
                    (folder / file).write_text(str(value))
            except OSError:
                with contextlib.suppress(OSError):
                    folder.rmdir()
                continue
            made.append(folder)
        return cls(made)

    def enter_command(self) -> list[str]:
        """A prefix that moves the command into the groups before it starts."""
        if not self.folders:
            return []
        moves = " && ".join(f"echo $$ > {shlex.quote(str(f / 'cgroup.procs'))}"
                            for f in self.folders)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "sandbox"]

    @staticmethod
    def remove_abandoned(root: Path = CGROUP_ROOT) -> list[Path]:
        """Remove the empty groups of jobs whose worker is gone (killed before it removed
        them): their names end with the worker's process id."""
        removed: list[Path] = []
        for folder in sorted(root.glob("*/marketplace-*")):
            found = _GROUP_OWNER.search(folder.name)
            if found is None or leftovers.process_running(int(found.group(1))):
                continue
            with contextlib.suppress(OSError):  # still holds processes: not abandoned yet
                folder.rmdir()
                removed.append(folder)
        return removed

    def remove(self) -> None:
        for folder in self.folders:
            for _ in range(50):  # the last processes may still be on their way out
                if not folder.exists():
                    break
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def run_script(script: str, *, environment: Path, data: Mapping[str, Path], work_dir: Path,
               output_dir: Path, limits: Limits, uid: int | None = None,
               should_stop: Callable[[], bool] | None = None,
               poll_seconds: float = 0.2) -> SandboxRun:
    """Run `script` (Python source) in the sandbox and wait for it within the limits.

    `work_dir` is the job's private folder (the script is written there); `output_dir` must be
    an empty folder, writable by `uid` (or by this process when `uid` is None). `should_stop` is
    asked between polls; when it answers True the run is cancelled.
    """
    script_path = work_dir / "script.py"
    script_path.write_text(script, encoding="utf-8")
    if uid:
        os.chown(script_path, uid, uid)
    command = bwrap_command(environment=environment, script=script_path, data=data,
                            output_dir=output_dir, limits=limits, uid=uid)
    cgroups = JobCgroups.create(f"marketplace-{work_dir.name}-{os.getpid()}", limits)
    try:
        return _run(command, work_dir=work_dir, output_dir=output_dir, limits=limits,
                    should_stop=should_stop, poll_seconds=poll_seconds,
                    prefix=cgroups.enter_command())
    finally:
        cgroups.remove()


def _run(command: list[str], *, work_dir: Path, output_dir: Path, limits: Limits,
         should_stop: Callable[[], bool] | None, poll_seconds: float, prefix: list[str]
         ) -> SandboxRun:
    command = prefix + command
    started = time.monotonic()
    try:
        # The command is ours; the company's script is only a file the sandbox reads.
        process = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=work_dir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    except OSError as error:
        return SandboxRun("not_started", None, f"the sandbox could not start: {error.strerror}",
                          0.0, 0)
    reader = _LogReader(process.stdout, limits.log_bytes)
    reader.start()
    outcome: Outcome | None = None
    max_output = limits.output_mb * 1024 * 1024
    last_usage = 0.0
    while process.poll() is None:
        time.sleep(poll_seconds)
        now = time.monotonic()
        if now - started > limits.wall_seconds:
            outcome = "timed_out"
        elif should_stop is not None and should_stop():
            outcome = "cancelled"
        elif now - last_usage >= 0.5:
            last_usage = now
            size, entries = output_usage(output_dir)
            if size > max_output or entries > limits.output_files:
                outcome = "output_too_large"
        if outcome is not None:
            _kill(process)
            break
    exit_code = process.wait()
    reader.join(timeout=5)
    if process.stdout is not None:
        process.stdout.close()
    log = reader.text()
    if outcome is None:
        outcome = _outcome_of(exit_code)
        # Python ignores SIGXFSZ: a write past the file-size limit raises EFBIG instead.
        if outcome == "failed" and "[Errno 27] File too large" in log:
            outcome = "file_too_large"
    size, entries = output_usage(output_dir)
    if outcome in ("finished", "failed") and (size > max_output or entries > limits.output_files):
        outcome = "output_too_large"
    return SandboxRun(outcome, exit_code, log, time.monotonic() - started, size)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the sandbox's whole process group; bubblewrap's --die-with-parent does the rest."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _outcome_of(exit_code: int) -> Outcome:
    # bubblewrap exits with 128 + the signal that ended the script.
    if exit_code == 0:
        return "finished"
    if exit_code in (128 + signal.SIGXCPU, -signal.SIGXCPU):
        return "cpu_exceeded"
    if exit_code in (128 + signal.SIGXFSZ, -signal.SIGXFSZ):
        return "file_too_large"
    if exit_code in (128 + signal.SIGKILL, -signal.SIGKILL):
        return "killed"
    return "failed"
