"""Benchmark: the secure processing environment's job start-up and data preparation.

1. Sandbox overhead: the same analysis script (read a 1,000,000-row permit dataset from Parquet,
   group and count) run directly with the analysis environment's Python, and run as a job runs
   it: bubblewrap up, limits set, data mounted read-only at /data, output collected. Target: the
   job starts within 2 s plus the script's own time.
2. Preparing the workspace data for 1,000,000 rows (consent, cohort, columns, pseudonym, leak
   scan, keyed order, Parquet file) against today's extract build of the same rows (the
   delivery pipeline with generalisation and k-anonymity, Parquet bytes). Target: no slower.

Both in this process, on the same synthetic admissions (300,000 citizens, 5 % opted out).

    .venv/bin/python bench/workspace_job.py [--quick]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

from delivery_pipeline import APPROVED, BATCH_ROWS, PERMITTED, consent_snapshot, stored_version

from marketplace.catalog import ingest
from marketplace.consent import evaluation
from marketplace.delivery import output, pipeline, synthetic
from marketplace.workspace import environment, prepare, sandbox, services

SCRIPT = """
import time
started = time.perf_counter()
import pandas as pd
frame = pd.read_parquet('{path}')
counts = frame.groupby(['sex', 'diagnosis'], observed=True).size().reset_index(name='n')
counts.to_csv('{out}/counts.csv', index=False)
print(len(frame), round(time.perf_counter() - started, 3))
"""


def plan(snapshot: evaluation.ConsentSnapshot) -> pipeline.ExtractPlan:
    return pipeline.ExtractPlan(
        columns=synthetic.ADMISSION_COLUMNS, subject_column="cpr", permitted=PERMITTED,
        cohort={}, k=5, reference_date=APPROVED.date(), pseudonym_key=b"p" * 32,
        date_shift_key=b"s" * 32,
        include=partial(evaluation.included_mask, snapshot=snapshot, consent_model="opt_out"))


def prepare_workspace(data: bytes, extract_plan: pipeline.ExtractPlan, folder: Path) -> int:
    frames = ingest.read_frames(data, columns=extract_plan.input_columns, batch_rows=BATCH_ROWS)
    prepared = prepare.prepare(frames, extract_plan, order_key=b"o" * 32)
    prepare.write_parquet(prepared.frame, folder / "1.parquet")
    return len(prepared.frame)


def build_extract(data: bytes, extract_plan: pipeline.ExtractPlan) -> int:
    def frames():
        return ingest.read_frames(data, columns=extract_plan.input_columns,
                                  batch_rows=BATCH_ROWS)

    released = pipeline.run_pandas(frames, extract_plan)
    return output.write_parquet(chunk.frame for chunk in released.chunks).rows


def timed(function, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    rows, persons, repeats = 1_000_000, 300_000, (2 if args.quick else 5)
    env = environment.environment_root({})
    data, keys = stored_version(rows, persons)
    extract_plan = plan(consent_snapshot(keys))
    work = Path(tempfile.mkdtemp(prefix="bench-workspace-"))
    work.chmod(0o711)
    try:
        folder = work / "prepared"
        folder.mkdir()
        prep_s, prepared_rows = timed(lambda: prepare_workspace(data, extract_plan, folder),
                                      repeats)
        extract_s, extract_rows = timed(lambda: build_extract(data, extract_plan), repeats)
        print(f"prepare workspace data, {rows:,} rows -> {prepared_rows:,}: "
              f"median {prep_s:.2f} s")
        print(f"today's extract build,  {rows:,} rows -> {extract_rows:,}: "
              f"median {extract_s:.2f} s")
        print(f"ratio preparation / extract build: {prep_s / extract_s:.2f} (target <= 1)")

        direct_out = work / "direct-out"
        direct_out.mkdir()
        direct_script = work / "direct.py"
        direct_script.write_text(SCRIPT.format(path=folder / "1.parquet", out=direct_out))
        python = str(env / "bin" / "python")
        direct_s, _ = timed(lambda: subprocess.run([python, str(direct_script)], check=True,
                                                   capture_output=True), repeats)
        limits = sandbox.Limits()
        uid = environment.sandbox_uid(1, {})
        folders = services.make_job_folders(work / "jobs", job_id=1, uid=uid)
        target = folders.data / "1.parquet"
        shutil.copyfile(folder / "1.parquet", target)
        if uid:
            os.chown(target, uid, uid)

        def in_sandbox(script: str) -> sandbox.SandboxRun:
            run = sandbox.run_script(script, environment=env, data={"1": target},
                                     work_dir=folders.root, output_dir=folders.output,
                                     limits=limits, uid=uid)
            assert run.succeeded, run.log
            return run

        sandbox_s, run = timed(lambda: in_sandbox(
            SCRIPT.format(path="/data/1.parquet", out="/output")), repeats)
        print(f"script run directly:    median {direct_s:.2f} s")
        print(f"script run as a job:    median {sandbox_s:.2f} s "
              f"(sandbox overhead {sandbox_s - direct_s:+.2f} s, target < 2 s; "
              f"script said: {run.log.strip()})")
        print(f"ratio job / direct: {sandbox_s / direct_s:.2f}")
        # Start-up alone: an empty script, directly and in the sandbox with the data mounted.
        empty = work / "empty.py"
        empty.write_text("pass\n")
        startup_direct, _ = timed(lambda: subprocess.run([python, str(empty)], check=True),
                                  repeats * 3)
        startup_sandbox, _ = timed(lambda: in_sandbox("pass\n"), repeats * 3)
        print(f"start-up, empty script: directly {startup_direct * 1000:.0f} ms, "
              f"in the sandbox {startup_sandbox * 1000:.0f} ms "
              f"(overhead {(startup_sandbox - startup_direct) * 1000:+.0f} ms; "
              f"ratio {startup_sandbox / startup_direct:.2f})")
    finally:
        services.remove_folder(work)


if __name__ == "__main__":
    main()
