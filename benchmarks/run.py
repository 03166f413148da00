"""calmodel's performance suite: every stage through the real CLI, against bare CASA.

    .venv/bin/python benchmarks/run.py [--tile tiny|small|medium(default)|PATH] [--out DIR]
                                       [--repeat N] [--threads N] [--arms both|model]
                                       [--fanout N] [--fanout-tile SIZE] [--fanout-repeat R]
                                       [--before-after REV:STAGE] [--through characterize|ql]

For one tile (simulated at the named size, or the measurement set PATH) it runs
characterize -> build-model -> calibrate (both arms) -> image (ql, se; both arms) ->
catalog -> compare, each as one `calmodel` child process, and records per stage the
wall time, CPU time and peak RSS of that child (os.wait4), the visibilities in the
stage's input MS, and the CASA task calls read from the stage's casa.log.

Calibrate and image are replayed right after by benchmarks/replay.py (the same task
calls with the same parameters, no calmodel); build-model against the memo's minimal
loop (one tclean + gaincal + applycal per solint). The ratios calmodel / bare come from
the same run. --fanout N runs N tiles through the Nextflow workflow twice, in parallel
(-profile test) and one task at a time on one core (benchmarks/serial.config), --fanout-repeat
times each in alternating order.

Writes DIR/benchmark.json and DIR/benchmark.md; the work folders stay in DIR/work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import logged_calls  # noqa: E402  (a sibling script, not a package)

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIZES = {
    # CI: the smallest tile the whole chain still runs on.
    "tiny": "base: vlass-like\nfields: {targets: {count: 1}}\nsky: {sources_per_field: 10}\n"
            "observation: {cycles: 1, spw_centres_ghz: [2.5, 3.5], channels_per_spw: 3}\n",
    # The demo tile of -profile test (~0.9 M visibilities).
    "small": (REPO / "assets/demo/vlass-like.yaml").read_text(),
    # >= 20 M visibilities: hours on 2 cores.
    "medium": "base: vlass-like\nfields: {targets: {count: 1}}\nsky: {sources_per_field: 40}\n"
              "observation: {integration_s: 1.0, channels_per_spw: 16, cycles: 3,\n"
              "  spw_centres_ghz: [2.1, 2.35, 2.6, 2.85, 3.15, 3.4, 3.65, 3.9]}\n",
}
# Stages --before-after can time, with their arguments besides --ms and --out.
BEFORE_AFTER = {"build-model": [], "calibrate": ["--model", "none", "--no-statwt"]}
# Tasks that read the visibilities (exportfits, fluxscale read images or caltables).
READS_DATA = {"flagdata", "setjy", "ft", "gaincal", "bandpass", "applycal", "split", "tclean",
              "statwt", "clearcal", "mstransform", "uvsub", "polcal"}


def measure(cmd: list[str], cwd: Path, env: dict) -> dict:
    """Run one child; its own wall time, CPU time and peak RSS (children included)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: `{shlex.join(cmd)}` exited {proc.returncode} in {cwd}:\n"
                         + "\n".join(output.splitlines()[-15:]))
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "output": output}


def visibilities(ms: Path) -> int:
    """Complex single-polarisation samples: rows x channels x correlations, per data description."""
    import numpy as np
    from casatools import table

    tb = table()
    tb.open(str(ms / "DATA_DESCRIPTION"))
    spw, pol = tb.getcol("SPECTRAL_WINDOW_ID"), tb.getcol("POLARIZATION_ID")
    tb.close()
    tb.open(str(ms / "SPECTRAL_WINDOW"))
    nchan = tb.getcol("NUM_CHAN")
    tb.close()
    tb.open(str(ms / "POLARIZATION"))
    ncorr = tb.getcol("NUM_CORR")
    tb.close()
    tb.open(str(ms))
    rows = np.bincount(tb.getcol("DATA_DESC_ID"), minlength=len(spw))
    tb.close()
    return int(sum(rows[d] * nchan[spw[d]] * ncorr[pol[d]] for d in range(len(spw))))


def task_counts(log: Path) -> dict:
    calls = [name for name, _ in logged_calls(log)] if log.exists() else []
    text = log.read_text(errors="replace") if log.exists() else ""
    return {"task_calls": len(calls), "data_passes": sum(name in READS_DATA for name in calls),
            "major_cycles": text.count("Run Major Cycle"),
            "tasks": {name: calls.count(name) for name in sorted(set(calls))}}


class Suite:
    def __init__(self, work: Path, threads: int):
        self.work, self.rows = work, []
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), PATH=f"{BIN}:{os.environ['PATH']}")
        self.calmodel_dir = work / "calmodel"
        self.calmodel_dir.mkdir(parents=True, exist_ok=True)

    def stage(self, stage: str, args: list[str], out: str, ms: Path | None = None, **labels) -> dict:
        shutil.rmtree(self.calmodel_dir / out, ignore_errors=True)
        run = measure([str(BIN / "calmodel"), stage, *args, "--out", out], self.calmodel_dir, self.env)
        row = {"stage": stage, **labels, "wall_s": run["wall_s"], "cpu_s": run["cpu_s"],
               "peak_rss_mb": run["peak_rss_mb"], "visibilities": visibilities(ms) if ms else None,
               **task_counts(self.calmodel_dir / out / "casa.log")}
        self.rows.append(row)
        return row

    def bare(self, row: dict, out: str, source: Path, select: str = "all") -> None:
        """Replay the stage's task calls in an empty folder; ratios of the same run."""
        where = self.work / "bare" / f"{out}.{select}"
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        run = measure([sys.executable, str(REPO / "benchmarks/replay.py"), "--log",
                       str(self.calmodel_dir / out / "casa.log"), "--source", str(source.resolve()),
                       "--outputs", str(self.calmodel_dir / out), "--select", select], where, self.env)
        staged = json.loads(run["output"].strip().splitlines()[-1])
        wall = run["wall_s"] - staged["staged_wall_s"]
        cpu = run["cpu_s"] - staged["staged_cpu_s"]
        row.update(bare=select, bare_wall_s=wall, bare_cpu_s=cpu, bare_peak_rss_mb=run["peak_rss_mb"],
                   bare_task_calls=len(staged["calls"]),
                   ratio_wall=row["wall_s"] / wall, ratio_cpu=row["cpu_s"] / cpu)


def tile_ms(suite: Suite, tile: str, work: Path) -> Path:
    """The tile's MS: simulated at the named size (a timed `simulate` row), or the given path."""
    if tile not in SIZES:
        return Path(tile).resolve()
    config = work / f"{tile}.yaml"
    config.write_text(SIZES[tile])
    suite.stage("simulate", ["--config", str(config), "--seed", "1"], "simulate")
    ms = suite.calmodel_dir / "simulate/tile.ms"
    suite.rows[-1]["visibilities"] = visibilities(ms)
    return ms


def run_tile(tile: str, work: Path, threads: int, arms: tuple[str, ...], through: str | None = None) -> list[dict]:
    """The chain on one tile. ``through``: 'characterize' stops after it (memory at a large
    size); 'ql' runs the nomodel arm's calibrate and QL image only (ratios to bare CASA at a
    size where build-model and SE would take hours)."""
    suite = Suite(work, threads)
    here = suite.calmodel_dir
    simulated = tile in SIZES
    ms = tile_ms(suite, tile, work)
    suite.stage("characterize", ["--ms", str(ms)], "characterize", ms)
    if through == "characterize":
        return suite.rows
    target = json.loads((here / "characterize/characterize.json").read_text())["roles"]["targets"][0]
    statwt = ["--no-statwt"] if simulated else []  # simulated tiles carry exact weights
    if through == "ql":  # the nomodel arm's calibrate and QL image only, each against bare CASA
        row = suite.stage("calibrate", ["--ms", str(ms), "--model", "none", *statwt], "calibrate_nomodel", ms,
                          arm="nomodel")
        suite.bare(row, "calibrate_nomodel", ms)
        calibrated = here / "calibrate_nomodel/calibrated.ms"
        row = suite.stage("image", ["--ms", str(calibrated), "--field", target, "--mode", "ql"],
                          "image_nomodel_ql", calibrated, arm="nomodel", mode="ql")
        suite.bare(row, "image_nomodel_ql", calibrated)
        return suite.rows
    row = suite.stage("build-model", ["--ms", str(ms)], "build_model", ms)
    suite.bare(row, "build_model", ms, "minimal-loop")
    for arm, model in (("nomodel", "none"), ("model", str(here / "build_model/model.cl"))):
        row = suite.stage("calibrate", ["--ms", str(ms), "--model", model, *statwt], f"calibrate_{arm}", ms,
                          arm=arm)
        suite.bare(row, f"calibrate_{arm}", ms)
    for arm in arms:
        calibrated = here / f"calibrate_{arm}/calibrated.ms"
        for mode in ("ql", "se"):
            out = f"image_{arm}_{mode}"
            row = suite.stage("image", ["--ms", str(calibrated), "--field", target, "--mode", mode], out,
                              calibrated, arm=arm, mode=mode)
            suite.bare(row, out, calibrated)
            stem = here / out / f"{target}_{mode}"
            alpha = ["--alpha", f"{stem}.alpha.fits", "--alpha-error", f"{stem}.alpha.error.fits"] \
                if mode == "se" else []
            suite.stage("catalog", ["--image", f"{stem}.image.tt0.fits", *alpha, "--allow-empty",
                                    "--ncores", str(threads)], f"catalog_{arm}_{mode}", arm=arm, mode=mode)
    for mode in ("ql", "se"):
        truth = ["--truth", str(here / "simulate/truth/sky.csv"), "--truth-field", target] if simulated else []
        # with one arm imaged (CI), its catalogue stands in for both: the same work
        suite.stage("compare", ["--model", str(here / f"catalog_{arms[-1]}_{mode}/catalog.fits"),
                                "--nomodel", str(here / f"catalog_{arms[0]}_{mode}/catalog.fits"), *truth],
                    f"compare_{mode}", mode=mode)
    return suite.rows


def fanout(n: int, size: str, work: Path, repeat: int = 1) -> dict:
    """N tiles through the workflow: all at once (-profile test) vs one task at a time on one
    core, ``repeat`` times, alternating the order (P S, S P, P S ...) so that a drift in the
    host's speed hits both alike; medians, and the efficiency of every pair."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "tile.yaml"
    config.write_text(SIZES[size])
    sheet = work / "samplesheet.csv"
    sheet.write_text("tile,preset,seed,config\n" + "".join(
        f"bench{i},vlass-like,{i + 1},{config}\n" for i in range(n)))
    runs = {"parallel": [], "serial": []}
    for rep in range(repeat):
        order = ("parallel", "serial") if rep % 2 == 0 else ("serial", "parallel")
        for mode in order:
            runs[mode].append(fanout_run(mode, sheet, work, rep))
    cores = len(os.sched_getaffinity(0))
    ideal = min(n, cores)
    med = {mode: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for mode, rs in runs.items()}
    pairs = [s["wall_s"] / (ideal * p["wall_s"]) for p, s in zip(runs["parallel"], runs["serial"])]
    speedup = med["serial"]["wall_s"] / med["parallel"]["wall_s"]
    # Where the rest goes: Nextflow's own start and end (wall outside the task span), cores
    # left idle inside the span, and tasks running longer side by side than alone.
    span_speedup = med["serial"]["task_span_s"] / med["parallel"]["task_span_s"]
    return {"tiles": n, "tile": size, "cores": cores, "repeat": repeat, "runs": runs,
            **{f"{k}_{m}": v[k] for m, v in med.items() for k in v},
            "speedup": speedup, "ideal": ideal, "efficiency": speedup / ideal,
            "efficiency_pairs": pairs,
            "task_span_speedup": span_speedup, "task_span_efficiency": span_speedup / ideal,
            "idle_core_s_parallel": ideal * med["parallel"]["task_span_s"] - med["parallel"]["task_time_s"],
            "side_by_side_slowdown": med["parallel"]["task_time_s"] / med["serial"]["task_time_s"]}


def fanout_run(mode: str, sheet: Path, work: Path, rep: int) -> dict:
    """One run of the fan-out: 'parallel' as a user would run it, or 'serial': --max_cpus 1
    and the whole run, Nextflow's JVM included, pinned to one core (taskset), as parallel
    efficiency is defined (unpinned, the JVM also used the second core)."""
    env = dict(os.environ, NXF_OFFLINE="true", PATH=f"{BIN}:{os.environ['PATH']}")
    prefix, extra = [], []
    if mode == "serial":
        prefix = ["taskset", "-c", str(min(os.sched_getaffinity(0)))]
        extra = ["--max_cpus", "1", "-c", str(REPO / "benchmarks/serial.config")]
    where = work / mode
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    probe = host_probe_s()
    run = measure([*prefix, str(BIN / "nextflow"), "run", str(REPO), "-profile", "test", "--input", str(sheet),
                   "--outdir", "results", *extra], where, env)
    tasks = trace_summary(where / "results", work / f"fanout_trace_{mode}_{rep}.txt")
    return {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "probe_s": probe, **tasks}


def host_probe_s() -> float:
    """CPU seconds of a fixed single-threaded Python loop: the host's speed at that moment.
    On a shared virtual machine the same work has taken from 7.7 to 15.5 s within minutes
    (docs/performance.md), so each fan-out run records it beside its wall time."""
    started = time.process_time()
    total = 0
    for i in range(12_000_000):
        total += i * i % 7
    return time.process_time() - started


def trace_summary(results: Path, keep: Path) -> dict:
    """From a run's Nextflow trace (kept as ``keep``): the task span, first start to last
    completion, and the tasks' summed run time (start to completion)."""
    trace = max((results / "pipeline_info").glob("trace_*.txt"), key=lambda p: p.stat().st_mtime)
    shutil.copyfile(trace, keep)
    with trace.open() as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["status"] == "COMPLETED"]

    def stamp(value: str) -> float:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").timestamp()

    spans = [(stamp(r["start"]), stamp(r["complete"])) for r in rows]
    return {"tasks": len(spans), "task_span_s": max(e for _, e in spans) - min(s for s, _ in spans),
            "task_time_s": sum(e - s for s, e in spans)}


def before_after(tile: str, rev: str, stage: str, repeat: int, work: Path, threads: int) -> dict:
    """One stage of the working tree against the same stage at git revision ``rev`` (its
    ``src/`` exported, first on PYTHONPATH), on the same input, alternating before/after
    ``repeat`` times so that a drift in load hits both alike; medians and their ratios."""
    if stage not in BEFORE_AFTER:
        raise SystemExit(f"benchmark: --before-after supports {', '.join(BEFORE_AFTER)}, not {stage}")
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"src-{rev}"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    suite = Suite(work / "input", threads)
    ms = tile_ms(suite, tile, work)
    envs = {"before": dict(suite.env, PYTHONPATH=str(source / "src")), "after": suite.env}
    samples: dict[str, list[dict]] = {"before": [], "after": []}
    for i in range(repeat):
        for label, env in envs.items():
            where = work / f"{label}{i}"
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir()
            run = measure([str(BIN / "calmodel"), stage, "--ms", str(ms), *BEFORE_AFTER[stage], "--out", "out"],
                          where, env)
            samples[label].append({"wall_s": run["wall_s"], "cpu_s": run["cpu_s"],
                                   **task_counts(where / "out" / "casa.log")})
    result = {"stage": stage, "rev": rev, "tile": tile, "repeat": repeat}
    for label, rows in samples.items():
        result[label] = {key: statistics.median(r[key] for r in rows)
                         for key in ("wall_s", "cpu_s", "task_calls", "data_passes", "major_cycles")}
        result[label]["cpu_s_each"] = [r["cpu_s"] for r in rows]
    result["ratio_wall"] = result["after"]["wall_s"] / result["before"]["wall_s"]
    result["ratio_cpu"] = result["after"]["cpu_s"] / result["before"]["cpu_s"]
    return result


def median_rows(runs: list[list[dict]]) -> list[dict]:
    """Per stage row, the median of each number over the repetitions."""
    merged = []
    for rows in zip(*runs):
        row = dict(rows[0])
        for key, value in rows[0].items():
            if isinstance(value, float):
                row[key] = statistics.median(r[key] for r in rows)
        merged.append(row)
    return merged


def markdown(result: dict) -> str:
    cols = ["stage", "arm", "mode", "wall_s", "cpu_s", "peak_rss_mb", "visibilities", "task_calls",
            "data_passes", "major_cycles", "bare", "bare_wall_s", "bare_cpu_s", "bare_task_calls",
            "ratio_wall", "ratio_cpu", "vis_per_cpu_s"]
    lines = [f"calmodel benchmark: tile `{result['tile']}`, {result['repeat']} repetition(s), "
             f"OMP_NUM_THREADS={result['threads']}, {result['cores']} cores, load average "
             f"{result['load_before'][0]:.2f} before / {result['load_after'][0]:.2f} after", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in result["stages"]:
        cells = []
        for col in cols:
            value = row.get(col)
            cells.append("" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    if result.get("fanout"):
        f = result["fanout"]
        pairs = ", ".join(f"{e:.3f}" for e in f["efficiency_pairs"])
        probes = "; ".join(f"{mode} " + ", ".join(f"{r['probe_s']:.2f}" for r in f["runs"][mode])
                           for mode in ("parallel", "serial"))
        lines += ["", f"Fan-out: {f['tiles']} `{f['tile']}` tiles, {f['repeat']} run(s) of each mode, "
                  f"alternating (medians): parallel {f['wall_s_parallel']:.0f} s, serial (one task at a "
                  f"time, all on 1 core) {f['wall_s_serial']:.0f} s: speed-up {f['speedup']:.2f}, "
                  f"efficiency {f['efficiency']:.3f} of min(N, cores) = {f['ideal']} "
                  f"(pair by pair: {pairs})",
                  "", f"Inside the task span (first task start to last task end: parallel "
                  f"{f['task_span_s_parallel']:.0f} s, serial {f['task_span_s_serial']:.0f} s): speed-up "
                  f"{f['task_span_speedup']:.2f}, efficiency {f['task_span_efficiency']:.3f}; "
                  f"idle core-seconds in the parallel span {f['idle_core_s_parallel']:.0f}; tasks side by "
                  f"side took {f['side_by_side_slowdown']:.3f}x their time alone "
                  f"({f['task_time_s_parallel']:.0f} against {f['task_time_s_serial']:.0f} s). "
                  f"Host probe before each run (CPU s of a fixed loop): {probes}. "
                  f"Traces: work/fanout/fanout_trace_{{parallel,serial}}_{{rep}}.txt"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", default="medium",
                        help="tiny | small | medium | path to a measurement set | none (fan-out only)")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of every stage and replay")
    parser.add_argument("--arms", choices=["both", "model"], default="both",
                        help="arms to image, catalogue and replay (model: the reduced CI form)")
    parser.add_argument("--fanout", type=int, default=0, help="N tiles through Nextflow (0: skip)")
    parser.add_argument("--fanout-tile", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--fanout-repeat", type=int, default=1,
                        help="runs of each fan-out mode, alternating their order (medians reported)")
    parser.add_argument("--through", choices=["characterize", "ql"], default=None,
                        help="characterize: stop after it (memory at a size where the rest would take "
                             "hours); ql: only the nomodel arm's calibrate and QL image, each against bare CASA")
    parser.add_argument("--before-after", metavar="REV:STAGE", default=None,
                        help="time STAGE (build-model | calibrate) of this tree against git revision REV "
                             "on the --tile, --repeat times each, alternating; writes DIR/before_after.json")
    args = parser.parse_args()
    if args.tile not in SIZES and args.tile != "none" and not Path(args.tile).is_dir():
        parser.error(f"--tile: neither a size ({', '.join(SIZES)}) nor a measurement set: {args.tile}")
    if args.before_after:
        rev, _, stage = args.before_after.partition(":")
        args.out.mkdir(parents=True, exist_ok=True)
        result = before_after(args.tile, rev, stage, args.repeat, args.out / "work" / "before_after", args.threads)
        result["command"] = shlex.join(sys.argv)
        result["load"] = os.getloadavg()
        (args.out / "before_after.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "command"}, indent=1))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    arms = ("nomodel", "model") if args.arms == "both" else ("model",)
    runs = [run_tile(args.tile, args.out / "work" / f"rep{i}", args.threads, arms, args.through)
            for i in range(args.repeat if args.tile != "none" else 0)]
    stages = median_rows(runs) if runs else []
    for row in stages:
        if row["visibilities"]:
            row["vis_per_cpu_s"] = row["visibilities"] / row["cpu_s"]
    result = {"tile": args.tile, "repeat": args.repeat, "threads": args.threads,
              "cores": len(os.sched_getaffinity(0)), "command": shlex.join(sys.argv),
              "load_before": load_before, "stages": stages,
              "fanout": fanout(args.fanout, args.fanout_tile, args.out / "work" / "fanout", args.fanout_repeat)
              if args.fanout else None,
              "load_after": os.getloadavg()}
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "benchmark.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
