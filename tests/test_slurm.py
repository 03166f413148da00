"""The workflow through a real Slurm (`-profile test,slurm`), as users run it on a cluster.

Needs a running Slurm: `scripts/slurm-up.sh` (root; Debian's slurmctld, slurmd,
slurm-client and munge). Outside CI the tests skip without it; with CI=true they fail.

- the stub run of the whole test profile: every task is a Slurm job (trace native_id,
  and Slurm's own job-completion log knows each id);
- one real small tile end to end (marked slow: CI runs it in its own step), during which
  one running job is cancelled with `scancel` and the processes of another are killed
  with SIGKILL, as a node loss or an OOM killer outside cgroups would: the trace must
  show both tasks retried, and the run must complete.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO, VENV_BIN, run

pytestmark = pytest.mark.slurm

STATE = Path(os.environ.get("CALMODEL_SLURM_STATE", "/var/lib/calmodel-slurm"))
JOBCOMP = STATE / "log" / "jobcomp.txt"
ARTIFACTS = os.environ.get("CALMODEL_CI_ARTIFACTS")   # CI prints what the tests leave here

# Test-only timings: notice a lost job in seconds instead of Nextflow's production
# defaults (queueStatInterval 1 min, exitReadTimeout 270 s, which allow for NFS latency).
FAST_POLLING = """
executor {
    $slurm {
        pollInterval      = '2 sec'
        queueStatInterval = '5 sec'
        exitReadTimeout   = '20 sec'
    }
}
"""


def nextflow(*args: str) -> list[str]:
    return [str(VENV_BIN / "nextflow"), "run", str(REPO), *args]


def trace_rows(outdir: Path) -> list[dict]:
    traces = sorted((outdir / "pipeline_info").glob("trace_*.txt"))
    assert traces, f"no trace in {outdir / 'pipeline_info'}"
    with traces[-1].open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def slurm_known_jobs() -> set[str]:
    """Job ids in Slurm's job-completion log (jobcomp/filetxt; there is no slurmdbd)."""
    if not JOBCOMP.is_file():
        return set()
    return set(re.findall(r"JobId=(\d+)", JOBCOMP.read_text()))


def wait_for_jobcomp(ids: set[str], timeout: float = 30.0) -> set[str]:
    """Slurm writes a job's completion record just after Nextflow has seen its exit file."""
    deadline = time.monotonic() + timeout
    while True:
        missing = ids - slurm_known_jobs()
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


def keep_for_ci(name: str, rows: list[dict]) -> None:
    """The CI log shows the Slurm job id of every task: write the table for .ci/run to print."""
    lines = [f"{'native_id':>9}  {'status':10} {'exit':>10}  name"]
    lines += [f"{r['native_id']:>9}  {r['status']:10} {r['exit']:>10}  {r['name']}" for r in rows]
    text = "\n".join(lines) + "\n"
    print(f"--- {name}\n{text}")
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        (Path(ARTIFACTS) / f"{name}.txt").write_text(text)


def assert_every_task_is_a_slurm_job(rows: list[dict]) -> None:
    assert rows, "empty trace"
    not_slurm = [(r["name"], r["native_id"]) for r in rows if not r["native_id"].isdigit()]
    assert not not_slurm, f"tasks without a Slurm job id: {not_slurm}"
    ids = {r["native_id"] for r in rows}
    assert len(ids) == len(rows), "two tasks share one Slurm job id"
    missing = wait_for_jobcomp(ids)
    assert not missing, f"job ids that Slurm never ran (not in {JOBCOMP}): {sorted(missing)}"


def test_stub_run_sends_every_task_to_slurm(slurm, tmp_path):
    run(nextflow("-stub", "-profile", "test,slurm", "--outdir", "results"), cwd=tmp_path, timeout=900)
    rows = trace_rows(tmp_path / "results")
    keep_for_ci("slurm-stub-trace", rows)
    assert {r["status"] for r in rows} == {"COMPLETED"}, [(r["name"], r["status"]) for r in rows]
    assert_every_task_is_a_slurm_job(rows)
    # The wrapper Nextflow submitted asks Slurm for the task's resources.
    wrappers = list((tmp_path / "work").glob("*/*/.command.run"))
    assert wrappers and all("#SBATCH" in w.read_text() for w in wrappers)


# ---------------------------------------------------------------- a real tile, with faults


@dataclass
class Job:
    job_id: str
    name: str
    workdir: str


@dataclass
class FaultInjector:
    """Watches this run's Slurm jobs; cancels one running job, then 'loses' another."""

    work: Path
    min_running_s: int = 3
    cancelled: Job | None = None
    lost: Job | None = None
    log: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def running_jobs(self) -> list[tuple[Job, int]]:
        out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%j|%Z|%M"],
                             capture_output=True, text=True, check=False).stdout
        jobs = []
        for line in out.splitlines():
            job_id, name, workdir, elapsed = line.split("|", 3)
            if workdir.startswith(str(self.work)):
                jobs.append((Job(job_id, name, workdir), _seconds(elapsed)))
        return jobs

    def loop(self) -> None:
        while not self.stop.wait(1.0):
            for job, elapsed in self.running_jobs():
                if elapsed < self.min_running_s:
                    continue
                if self.cancelled is None:
                    # A job that ends on its own just before scancel is not counted.
                    if subprocess.run(["scancel", job.job_id], check=False).returncode == 0:
                        self.cancelled = job
                        self.log.append(f"scancel {job.job_id} ({job.name})")
                    break
                if self.lost is None and job.workdir != self.cancelled.workdir:
                    killed = kill_job_processes(job.job_id)
                    time.sleep(0.5)
                    # Lost means no exit code: a job that wrote one in the meantime ended on its own.
                    if killed and not (Path(job.workdir) / ".exitcode").exists():
                        self.lost = job
                        self.log.append(f"SIGKILL {killed} of job {job.job_id} ({job.name})")
                    break
            if self.cancelled and self.lost:
                return


def _seconds(elapsed: str) -> int:
    """squeue's %M: [days-][hours:]minutes:seconds."""
    days, _, clock = elapsed.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def _job_pids(job_id: str) -> set[int]:
    """Processes of a batch job: every process whose environment carries its SLURM_JOB_ID
    (slurmstepd itself does not)."""
    marker = f"SLURM_JOB_ID={job_id}".encode()
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def kill_job_processes(job_id: str) -> list[int]:
    """Stop, then SIGKILL, every process of the job: no trap runs, no exit code is written,
    the job just disappears as it would with its node."""
    stopped: set[int] = set()
    for _ in range(3):   # catch children forked while we look
        for pid in _job_pids(job_id) - stopped:
            try:
                os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)
            except ProcessLookupError:
                pass
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(stopped)


SMALL_TILE = """\
# One small simulated tile: a point-source gain calibrator, one target field.
base: point
fields: {targets: {count: 1}}
sky: {sources_per_field: 20}
"""


@pytest.mark.slow
def test_real_tile_on_slurm_survives_a_cancelled_and_a_lost_job(slurm, tmp_path):
    (tmp_path / "small.yaml").write_text(SMALL_TILE)
    (tmp_path / "samplesheet.csv").write_text("tile,preset,seed,config\nslurm_point,point,1,small.yaml\n")
    (tmp_path / "fast-polling.config").write_text(FAST_POLLING)
    work = tmp_path / "work"
    injector = FaultInjector(work)
    watcher = threading.Thread(target=injector.loop, daemon=True)
    watcher.start()
    try:
        proc = run(nextflow("-profile", "test,slurm", "--input", "samplesheet.csv", "--modes", "ql",
                            "--outdir", "results", "-c", "fast-polling.config", "-w", str(work)),
                   cwd=tmp_path, timeout=3000, check=False)
    finally:
        injector.stop.set()
        watcher.join(timeout=10)
    rows = trace_rows(tmp_path / "results")
    keep_for_ci("slurm-real-trace", rows)
    print("\n".join(injector.log))
    assert injector.cancelled and injector.lost, f"no running jobs to disturb: {injector.log}"
    assert proc.returncode == 0, f"run failed after {injector.log}:\n{proc.stdout[-4000:]}"
    assert_every_task_is_a_slurm_job(rows)

    by_id = {r["native_id"]: r for r in rows}
    for what, job in (("cancelled", injector.cancelled), ("lost", injector.lost)):
        first = by_id.get(job.job_id)
        assert first is not None, f"the {what} job {job.job_id} is not in the trace"
        assert first["status"] == "FAILED", (what, first)
        retries = [r for r in rows if r["name"] == first["name"] and r["native_id"] != job.job_id]
        assert any(r["status"] == "COMPLETED" for r in retries), \
            f"the {what} job {job.job_id} ({first['name']}) was not retried to completion: {retries}"

    report = tmp_path / "results" / "report" / "report.json"
    assert report.is_file(), "the run completed without its report"
