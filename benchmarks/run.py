"""Benchmarks: kurator-compile against the floor of writing its files, and a `kubectl
kustomize` loop doing the same work.

The workload: N clusters in 3 regions, 20 apps of Deployment + Service + ConfigMap placed
everywhere by one ClusterPropagationPolicy; per region an Overlay changes the replicas and a
ClusterOverridePolicy the image tag (each Deployment has 3 variants). The per-cluster-overlay
fleet adds one Overlay per cluster (selected by clusterNames or by a label of its own), each a
JSON patch on one Deployment. The kustomize side is the same fleet as per-cluster overlays
(`replicas:` and `images:` over one base).

Every figure is the CPU time (user + system) of the child process, from wait4: the machines
are shared, so wall time says more about the neighbours than about the program. Ratios are
measured in the same run. For each size it prints: `build` (best of --builds into fresh
folders), the floor (a process writing the same tree, held in memory, into a fresh folder)
and the ratio to it, the no-change rebuild, `check`, `check` in a fresh clone (the output
copied without its git-ignored stat cache) and its ratio to the build, `render --cluster`
without cache, the first render of a revision (which fills the cache), a cached render, the
total for one render per cluster (the first plus N-1 cached), peak memory of the build, the
per-cluster-overlay fleet's build and its ratio to the shared fleet's, and the kustomize loop
(2 processes at a time; only for sizes given with --kustomize). `1 file/cl` is the same build
with `--layout per-cluster` (one file per cluster folder), `/build` its ratio to the
per-object build.

kurator-compile runs as users run it: installed from a wheel into a fresh virtualenv (pip
compiles its bytecode), whatever is installed in the interpreter that runs this script, and
is run from a folder outside the checkout. Builds write into fresh folders; the work folder
(hundreds of thousands of files at 10,000 clusters) is removed at the end, also on failure.
On ext4, files created within minutes of a mass deletion cost up to 40x more (the allocator
skips recently freed inodes), so the cost of creating a file is measured and printed too.

    python benchmarks/run.py                                  # 100 and 1,000 clusters
    python benchmarks/run.py --sizes 100 1000 10000 --kustomize 100 1000
    python benchmarks/run.py --from-checkout                  # this checkout, no install
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.synthetic import (  # noqa: E402
    REGION_REPLICAS,
    REGION_TAGS,
    REGIONS,
    app_documents,
    cluster_name,
    write_fleet,
)
from tests.wheel import install_wheel  # noqa: E402


@dataclass
class Run:
    cpu: float  # user + system seconds of the child
    sys: float  # of which the kernel's
    peak_mb: float
    stderr: str


def install(work: Path) -> Path:
    """The venv's python with kurator_compile from a wheel of this checkout. Installed with
    `--ignore-installed`: a kurator-compile in the interpreter running this script (whose
    site-packages the venv sees, for the dependencies) must neither be taken for it nor
    keep pip from writing the console script."""
    python = install_wheel(work, "--ignore-installed")
    shutil.rmtree(work / "src")
    where = subprocess.run(
        [str(python), "-c", "import kurator_compile; print(kurator_compile.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(python.parent.parent)):
        raise SystemExit(f"the benchmark venv imports kurator_compile from {where}, not its wheel")
    return python


# Above this, file creation is in ext4's slow state (recently freed inodes being skipped).
SLOW_FILE_US = 40


def file_creation_us(folder: Path, count: int = 2000) -> float:
    """What creating one small file costs on this disk right now, in microseconds."""
    folder.mkdir(parents=True)
    start = time.perf_counter()
    for index in range(count):
        fd = os.open(folder / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"x" * 700)
        os.close(fd)
    return (time.perf_counter() - start) * 1e6 / count


def measure(argv: Sequence[str], cwd: Path) -> Run:
    """The child's own CPU time and peak RSS (wait4 reports them per process)."""
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr}")
    return Run(usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss / 1024, stderr)


def best_of(runs: int, argv: Sequence[str], cwd: Path) -> Run:
    return min((measure(argv, cwd) for _ in range(runs)), key=lambda r: r.cpu)


# The floor: a process that holds the tree in memory and writes it, as plainly as Python can.
FLOOR = """
import os, resource, sys
source, target = sys.argv[1], sys.argv[2]
tree = {}
for folder, _, names in os.walk(source):
    for name in names:
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            tree[os.path.relpath(path, source)] = handle.read()
before = resource.getrusage(resource.RUSAGE_SELF)
made = set()
for path, data in tree.items():
    folder = os.path.dirname(os.path.join(target, path))
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)
    fd = os.open(os.path.join(target, path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)
after = resource.getrusage(resource.RUSAGE_SELF)
print(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
"""


def floor_cpu(python: str, source: Path, target: Path) -> float:
    done = subprocess.run(
        [python, "-c", FLOOR, str(source / "clusters"), str(target / "clusters")],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def kustomize_tree(root: Path, clusters: int, apps: int) -> list[Path]:
    """The same fleet as a kustomize user writes it: a base and one overlay per cluster."""
    base = root / "base"
    base.mkdir(parents=True)
    names = []
    for index in range(apps):
        name = f"app-{index:02d}.yaml"
        (base / name).write_text(app_documents(index))
        names.append(name)
    (base / "kustomization.yaml").write_text("resources:\n" + "".join(f"- {n}\n" for n in names))
    overlays = []
    for index in range(clusters):
        region = REGIONS[index % len(REGIONS)]
        overlay = root / "clusters" / cluster_name(index)
        overlay.mkdir(parents=True)
        replicas = "".join(
            f"- name: app-{a:02d}\n  count: {REGION_REPLICAS[region]}\n" for a in range(apps)
        )
        images = "".join(
            f"- name: registry.example.com/apps/app-{a:02d}\n  newTag: {REGION_TAGS[region]}\n"
            for a in range(apps)
        )
        (overlay / "kustomization.yaml").write_text(
            f"resources:\n- ../../base\nreplicas:\n{replicas}images:\n{images}"
        )
        overlays.append(overlay)
    return overlays


def kustomize_cpu(overlays: list[Path], out: Path) -> float:
    """CPU time of every `kubectl kustomize` process (children's usage, summed by the OS)."""
    out.mkdir(parents=True, exist_ok=True)

    def one(overlay: Path) -> None:
        subprocess.run(
            ["kubectl", "kustomize", str(overlay), "-o", str(out / f"{overlay.name}.yaml")],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, overlays))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def count_files(out: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(out / "clusters"))


COLUMNS = (
    ("N", 6),
    ("files", 8),
    ("file us", 8),
    ("build", 7),
    ("sys", 6),
    ("floor", 7),
    ("/floor", 7),
    ("peak MB", 8),
    ("1 file/cl", 9),
    ("/build", 7),
    ("no-op", 6),
    ("/build", 7),
    ("check", 6),
    ("/build", 7),
    ("fresh", 6),
    ("/build", 7),
    ("render", 7),
    ("/1 cl", 6),
    ("fill", 6),
    ("cached", 7),
    ("all N", 7),
    ("own ovl", 8),
    ("/shared", 8),
    ("kustomize", 10),
    ("speed-up", 9),
)


def row(values: Sequence[str]) -> str:
    return " ".join(f"{value:>{width}}" for value, (_, width) in zip(values, COLUMNS, strict=True))


def render_one_cluster(args: argparse.Namespace, cli: list[str], work: Path) -> Run:
    """`render --no-cache` of a 1-cluster fleet: what the uncached render is compared with."""
    fleet = write_fleet(work / "fleet-1", clusters=1, apps=args.apps, overlays=True)
    argv = [*cli, "render", str(fleet), "--cluster", cluster_name(0), "--no-cache"]
    return best_of(3, [*argv, "--lock", str(work / "fleet-1.lock.json")], work)


def run_size(
    args: argparse.Namespace, cli: list[str], python: str, work: Path, size: int, alone: Run
) -> None:
    fleet = write_fleet(work / f"fleet-{size}", clusters=size, apps=args.apps, overlays=True)
    lock = ["--lock", str(work / f"fleet-{size}.lock.json")]
    own = write_fleet(
        work / f"own-{size}",
        clusters=size,
        apps=args.apps,
        overlays=True,
        per_cluster_overlays=True,
    )
    own_lock = ["--lock", str(work / f"own-{size}.lock.json")]
    create_us = file_creation_us(work / f"probe-{size}")
    builds = 1 if size >= 10000 else args.builds
    outs = [work / f"out-{size}-{k}" for k in range(builds)]
    # the two fleets' builds in turns, each the best of its own: the kernel's cost of
    # creating files drifts within minutes, and the ratio should not follow it
    shared_builds, own_builds = [], []
    for k, out in enumerate(outs):
        shared_builds.append(measure([*cli, "build", str(fleet), "-o", str(out), *lock], work))
        own_out = str(work / f"own-out-{size}-{k}")
        own_builds.append(measure([*cli, "build", str(own), "-o", own_out, *own_lock], work))
    build = min(shared_builds, key=lambda r: r.cpu)
    own_build = min(own_builds, key=lambda r: r.cpu)
    out = outs[-1]
    one = ["--layout", "per-cluster"]
    per_cluster = min(
        (
            measure(
                [*cli, "build", str(fleet), "-o", str(work / f"one-{size}-{k}"), *lock, *one],
                work,
            )
            for k in range(builds)
        ),
        key=lambda r: r.cpu,
    )
    floor = floor_cpu(python, out, work / f"floor-{size}")
    noop = best_of(3, [*cli, "build", str(fleet), "-o", str(out), *lock], work)
    check = best_of(3, [*cli, "check", str(fleet), "-o", str(out), *lock], work)
    # a fresh clone: the committed tree and state, without the local stat cache
    clone = work / f"clone-{size}"
    shutil.copytree(out, clone, ignore=shutil.ignore_patterns("cache*.json", "lock"))
    fresh = best_of(3, [*cli, "check", str(fleet), "-o", str(clone), *lock], work)
    middle = cluster_name(size // 2)
    render = [*cli, "render", str(fleet), "--cluster", middle, *lock]
    uncached = best_of(3, [*render, "--no-cache"], work)
    cache = ["--cache-dir", str(work / f"cache-{size}")]
    fill = measure([*render, *cache], work)
    other = [*cli, "render", str(fleet), "--cluster", cluster_name(0), *lock, *cache]
    cached = best_of(3, other, work)
    every = fill.cpu + (size - 1) * cached.cpu
    kustomize_cell = speedup_cell = "-"
    if shutil.which("kubectl") and size in args.kustomize:
        overlays = kustomize_tree(work / f"kustomize-{size}", size, args.apps)
        seconds = kustomize_cpu(overlays, work / f"kustomize-out-{size}")
        kustomize_cell = f"{seconds:.1f}"
        speedup_cell = f"{seconds / build.cpu:.1f}x"
    print(
        row(
            [
                str(size),
                str(count_files(out)),
                f"{create_us:.0f}",
                f"{build.cpu:.2f}",
                f"{build.sys:.2f}",
                f"{floor:.2f}",
                f"{build.cpu / floor:.2f}x",
                f"{build.peak_mb:.0f}",
                f"{per_cluster.cpu:.2f}",
                f"{per_cluster.cpu / build.cpu:.2f}x",
                f"{noop.cpu:.2f}",
                f"{noop.cpu / build.cpu:.0%}",
                f"{check.cpu:.2f}",
                f"{check.cpu / build.cpu:.0%}",
                f"{fresh.cpu:.2f}",
                f"{fresh.cpu / build.cpu:.0%}",
                f"{uncached.cpu:.2f}",
                f"{uncached.cpu / alone.cpu:.2f}x",
                f"{fill.cpu:.2f}",
                f"{cached.cpu:.3f}",
                f"{every:.1f}",
                f"{own_build.cpu:.2f}",
                f"{own_build.cpu / build.cpu:.2f}x",
                kustomize_cell,
                speedup_cell,
            ]
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--kustomize", type=int, nargs="*", default=[])
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--builds", type=int, default=3, help="builds per size (best is shown)")
    parser.add_argument("--from-checkout", action="store_true", help="skip the wheel install")
    parser.add_argument("--no-placement", action="store_true", help="skip placement_bench.py")
    parser.add_argument(
        "--work",
        type=Path,
        help="the folder to work in (default: the system's temporary folder); "
        "/dev/shm shows the CPU without a disk's file-creation cost",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kurator-bench-", dir=args.work))
    try:
        if args.from_checkout:
            python = sys.executable
            cli = [python, "-m", "kurator_compile"]
            env_path = os.environ.get("PYTHONPATH", "")
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env_path]))
        else:
            python = str(install(work / "install"))
            script = Path(python).parent / "kurator-compile"
            cli = [str(script)] if script.exists() else [python, "-m", "kurator_compile"]
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
        )
        print(
            "kurator-compile "
            + ("from the checkout" if args.from_checkout else "installed (wheel)")
        )
        print()
        startup = {
            "python -c pass": best_of(5, [python, "-c", "pass"], work).cpu,
            "python -c 'import click'": best_of(5, [python, "-c", "import click"], work).cpu,
            "kurator-compile --version": best_of(5, [*cli, "--version"], work).cpu,
        }
        print("start-up, CPU (best of 5)")
        for label, seconds in startup.items():
            print(f"  {label:<28} {seconds * 1000:7.0f} ms")
        print()
        print("CPU seconds (user + system) of each process")
        print(row([name for name, _ in COLUMNS]))
        alone = render_one_cluster(args, cli, work)
        for size in args.sizes:
            run_size(args, cli, python, work, size, alone)
        print()
        print(
            "file us: creating one small file on this disk just before the builds (above "
            f"{SLOW_FILE_US}: ext4's slow state after recent deletions); build: best of "
            f"{args.builds} (1 at 10,000 clusters), sys: its kernel share; floor: writing the "
            "same files from memory; 1 file/cl: the build with `--layout per-cluster`; no-op: "
            "second build; check: `check` on that output; fresh: `check` on a copy without the "
            "git-ignored stat cache (a fresh clone, CI); each with its ratio to the build; "
            "render: `render --cluster --no-cache`, /1 cl: its ratio to the same render of a "
            f"1-cluster fleet ({alone.cpu:.2f} s); fill: the first render with a cache "
            "(renders and stores every cluster); cached: a later render of another cluster; "
            "all N: fill + (N-1) x cached; own ovl: the fleet with an Overlay per cluster (best "
            "of as many builds, made in turns with the others); "
            "kustomize: `kubectl kustomize` per cluster overlay, 2 at a time, CPU of all its "
            "processes."
        )
        placement = REPO / "benchmarks" / "placement_bench.py"
        if placement.exists() and not args.no_placement:
            print()
            subprocess.run([python, str(placement)], cwd=work, check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
