"""The sandbox under attack, with the real bubblewrap and the real analysis environment.

Each hostile script gets a clear failure (or a refused output) and changes nothing of the
platform; the platform's instance folder, master key and another permit's data stay unseen.
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from marketplace.workspace import environment, prepare, sandbox, services
from marketplace.workspace.sandbox import Limits, SandboxRun

SMALL = Limits(cpu_seconds=20, memory_mb=2048, wall_seconds=30, processes=32, file_mb=5,
               output_mb=8, output_files=10, tmp_mb=16)


@pytest.fixture
def run(analysis_environment: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Callable[..., tuple[SandboxRun, services.JobFolders]]]:
    counter = iter(range(1, 1000))
    root = Path("/tmp") / "marketplace-workspace-tests" / str(os.getpid())

    def go(script: str, *, limits: Limits = SMALL, frames: dict[str, object] | None = None
           ) -> tuple[SandboxRun, services.JobFolders]:
        job_id = 900_000 + next(counter) + os.getpid() % 1000 * 1000
        uid = environment.sandbox_uid(job_id, {})
        folders = services.make_job_folders(root, job_id=job_id, uid=uid)
        data = {}
        for dataset_id, frame in (frames or {}).items():
            path = folders.data / f"{dataset_id}.parquet"
            prepare.write_parquet(frame, path)  # type: ignore[arg-type]
            if uid:
                os.chown(path, uid, uid)
            data[dataset_id] = path
        result = sandbox.run_script(script, environment=analysis_environment, data=data,
                                    work_dir=folders.root, output_dir=folders.output,
                                    limits=limits, uid=uid)
        return result, folders

    yield go
    services.remove_folder(root)


def test_a_plain_script_runs_with_pandas(run) -> None:
    result, folders = run("import pandas, pyarrow, sklearn, statsmodels, duckdb, acro\n"
                          "open('/output/ok.txt', 'w').write('ok')\nprint('ready')")
    assert result.succeeded, result.log
    assert "ready" in result.log and (folders.output / "ok.txt").read_text() == "ok"


@pytest.mark.parametrize("address", ["127.0.0.1", "1.1.1.1"])
def test_no_network_loopback_or_outside(run, address) -> None:
    # A server on the host's loopback: the sandbox must not reach it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1] if address == "127.0.0.1" else 80
    accepted: list[object] = []
    server.settimeout(3)
    waiter = threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True)
    waiter.start()
    try:
        result, _ = run(f"import socket\nsocket.create_connection(('{address}', {port}), "
                        f"timeout=2)\nprint('connected')")
    finally:
        waiter.join(timeout=5)
        server.close()
    assert result.outcome == "failed" and "connected" not in result.log
    assert "Network is unreachable" in result.log or "refused" in result.log
    assert accepted == [None]


def _accept(server: socket.socket) -> object:
    try:
        return server.accept()
    except OSError:
        return None


def test_the_platforms_files_are_not_there(run, app, tmp_path) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "master_key").write_text("secret-master-key")
    other = tmp_path / "other-permit.parquet"
    other.write_bytes(b"another permit's rows")
    targets = [str(instance / "master_key"), str(instance), str(app.config["DATA_DIR"]),
               str(other), "/etc/shadow", "/etc/passwd", "/root", "/work", "/home"]
    script = "import os\nfound = []\n"
    for target in targets:
        script += (f"try:\n    os.listdir({target!r}) if os.path.isdir({target!r}) else "
                   f"open({target!r}).read()\n    found.append({target!r})\n"
                   f"except OSError:\n    pass\n")
    script += "print('found:', found)\nraise SystemExit(1 if found else 0)"
    result, _ = run(script)
    assert result.succeeded, result.log
    assert "found: []" in result.log


def test_writing_outside_output_fails(run) -> None:
    result, _ = run("open('/data/x', 'w').write('x')")
    assert result.outcome == "failed" and "Read-only file system" in result.log
    for target in ("/usr/evil", "/env/evil", "/evil"):
        result, _ = run(f"open({target!r}, 'w').write('x')")
        assert result.outcome == "failed", target


def test_a_fork_bomb_is_stopped_by_the_process_limit(run) -> None:
    script = ("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
              "            import time; time.sleep(20); os._exit(0)\n        n += 1\n"
              "except OSError as error:\n    print('stopped after', n, error)\n"
              "    raise SystemExit(2)\n")
    result, _ = run(script)
    assert result.outcome == "failed" and "stopped after" in result.log
    assert result.wall_seconds < 20


def test_allocating_50_gb_fails(run) -> None:
    result, _ = run("block = bytearray(50 * 1024 ** 3)\nprint('allocated')")
    assert result.outcome in ("failed", "killed") and "allocated" not in result.log
    assert "MemoryError" in result.log or result.outcome == "killed"


def test_a_script_that_runs_forever_is_stopped(run) -> None:
    limits = Limits(**{**SMALL.__dict__, "wall_seconds": 2})
    result, _ = run("while True:\n    pass", limits=limits)
    assert result.outcome in ("timed_out", "cpu_exceeded") and result.wall_seconds < 10


def test_cprs_in_the_log_are_scrubbed(run) -> None:
    result, _ = run("for cpr in ['0101801234', '010180-1234', '010180 1234', '01.01.80-1234',\n"
                    "            '01 01 80 12 34', '0101 80-1234', '010180\u20131234',\n"
                    "            '01/01/80_1234', '\uff10\uff11\uff10\uff11\uff18\uff10"
                    "\uff11\uff12\uff13\uff14']:\n"
                    "    print('person', cpr)\nprint('sum 0.1234567890')")
    assert result.succeeded, result.log
    assert result.log.count("[CPR]") == 9 and "1234\n" not in result.log
    assert "0.1234567890" in result.log


def test_a_10_gb_output_is_stopped_and_nothing_kept(run) -> None:
    script = ("chunk = b'x' * (1024 * 1024)\nwith open('/output/huge.csv', 'wb') as out:\n"
              "    for _ in range(10 * 1024):\n        out.write(chunk)\n")
    result, folders = run(script)
    assert result.outcome == "file_too_large"
    assert (folders.output / "huge.csv").stat().st_size <= SMALL.file_mb * 1024 * 1024


def test_many_output_files_over_the_total_are_refused(run) -> None:
    script = ("for i in range(4):\n    open(f'/output/part{i}.bin', 'wb').write("
              "b'x' * (3 * 1024 * 1024))\n")
    result, _ = run(script)
    assert result.outcome == "output_too_large"


def test_the_log_is_bounded(run) -> None:
    limits = Limits(**{**SMALL.__dict__, "log_bytes": 1000})
    result, _ = run("print('y' * 100000)", limits=limits)
    assert result.succeeded and len(result.log) < 1200 and "more bytes of log" in result.log


def test_the_data_is_read_only_at_its_place(run) -> None:
    import pandas as pd

    result, folders = run(
        "import pandas as pd\nprint(pd.read_parquet('/data/7.parquet').to_dict())\n"
        "open('/data/7.parquet', 'ab').write(b'x')",
        frames={"7": pd.DataFrame({"pseudonym": ["abc"], "n": [1]})})
    assert "abc" in result.log and "Read-only file system" in result.log
    assert pd.read_parquet(folders.data / "7.parquet")["n"].tolist() == [1]


def test_shared_memory_and_tmp_are_bounded_and_dev_is_read_only(run) -> None:
    script = ("import os\nfor folder in ('/dev/shm', '/tmp', '/dev'):\n    try:\n"
              "        open(folder + '/x', 'wb').write(b'x' * (64 * 1024 * 1024))\n"
              "        print(folder, 'took 64 MB')\n    except OSError as error:\n"
              "        print(folder, 'refused', error.errno)\n")
    result, _ = run(script)
    assert result.succeeded, result.log
    assert "took 64 MB" not in result.log
    assert "/dev refused 30" in result.log  # read-only file system


def test_processes_together_stay_within_the_memory_limit(run) -> None:
    limits = Limits(**{**SMALL.__dict__, "memory_mb": 256})
    if not sandbox.JobCgroups.create("marketplace-probe", limits).folders:
        pytest.skip("this host does not let the worker create memory control groups; "
                    "each process is still bounded by RLIMIT_AS")
    sandbox.JobCgroups.create("marketplace-probe", limits).remove()
    script = ("import os, time\nkids = []\nfor _ in range(6):\n    pid = os.fork()\n"
              "    if pid == 0:\n        block = bytearray(100 * 1024 * 1024)\n"
              "        for i in range(0, len(block), 4096):\n            block[i] = 1\n"
              "        time.sleep(2)\n        os._exit(0)\n    kids.append(pid)\n"
              "codes = [os.waitpid(p, 0)[1] for p in kids]\n"
              "print('killed', sum(1 for c in codes if c == 9))\n")
    result, _ = run(script, limits=limits)
    assert "killed 0" not in result.log, result.log
    assert not list((sandbox.CGROUP_ROOT / "memory").glob("marketplace-job-*"))
