"""Benchmarks: kurator-compile against a `kubectl kustomize` loop doing the same work.

The workload: N clusters in 3 regions, 20 apps of Deployment + Service + ConfigMap placed
everywhere by one ClusterPropagationPolicy; per region an Overlay changes the replicas and a
ClusterOverridePolicy the image tag (each Deployment has 3 variants). The kustomize side is the
same fleet as per-cluster overlays (`replicas:` and `images:` over one base).

Prints wall time, peak memory and objects per second for `build`, a no-change rebuild and
`render --cluster`, and the same fleet rendered as per-cluster kustomize overlays by
`kubectl kustomize`, two processes at a time. Ratios are measured in the same run.

kurator-compile runs as users run it: installed from a wheel into a fresh virtualenv (pip
compiles its bytecode), not from the checkout. Builds write into fresh folders and nothing is
deleted until the end: on ext4, files created within minutes of a mass deletion cost up to
40x more (the allocator skips recently freed inodes), so the cost of creating a file is
measured and printed beside the figures.

    python benchmarks/run.py                 # N = 10 and 100, kustomize at 100
    python benchmarks/run.py --sizes 10 100 1000 --kustomize 100 1000
    python benchmarks/run.py --from-checkout # this interpreter and checkout, no install
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
    seconds: float
    peak_mb: float
    stderr: str
    user_seconds: float = 0.0
    system_seconds: float = 0.0


def installed_cli(work: Path) -> list[str]:
    """The console script (`python -m` would import the checkout when run from it)."""
    return [str(install_wheel(work / "install").parent / "kurator-compile")]


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


def measure(argv: list[str], cwd: Path | None = None) -> Run:
    """Wall time and the child's own peak RSS (wait4 reports it per process)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr}")
    return Run(seconds, usage.ru_maxrss / 1024, stderr, usage.ru_utime, usage.ru_stime)


def best_of(runs: int, argv: list[str], cwd: Path | None = None) -> Run:
    return min((measure(argv, cwd) for _ in range(runs)), key=lambda r: r.seconds)


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


def kustomize_loop(overlays: list[Path], out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)

    def one(overlay: Path) -> None:
        subprocess.run(
            ["kubectl", "kustomize", str(overlay), "-o", str(out / f"{overlay.name}.yaml")],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, overlays))
    return time.perf_counter() - start


def count_files(out: Path) -> int:
    return sum(1 for p in (out / "clusters").rglob("*.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--kustomize", type=int, nargs="*", default=[100])
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--builds", type=int, default=3, help="builds per size (best is shown)")
    parser.add_argument("--from-checkout", action="store_true", help="skip the wheel install")
    args = parser.parse_args()
    has_kubectl = shutil.which("kubectl") is not None
    work = Path(tempfile.mkdtemp(prefix="kurator-bench-"))
    cli = [sys.executable, "-m", "kurator_compile"] if args.from_checkout else installed_cli(work)
    python = sys.executable if args.from_checkout else str(Path(cli[0]).parent / "python")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print("kurator-compile " + ("from the checkout" if args.from_checkout else "installed (wheel)"))
    print()
    startup = {
        "python -c pass": best_of(5, [python, "-c", "pass"]).seconds,
        "python -c 'import click'": best_of(5, [python, "-c", "import click"]).seconds,
        "kurator-compile --version": best_of(5, [*cli, "--version"]).seconds,
    }
    print("start-up (best of 5)")
    for label, seconds in startup.items():
        print(f"  {label:<28} {seconds * 1000:7.0f} ms")
    ratio = startup["kurator-compile --version"] / startup["python -c 'import click'"]
    print(f"  --version / import click     {ratio:7.2f}x   (target <= 2x)")
    print()
    one_cluster = write_fleet(work / "fleet-1", clusters=1, apps=args.apps, overlays=True)
    render_one = best_of(3, [*cli, "render", str(one_cluster), "--cluster", cluster_name(0)])
    header = (
        f"{'N':>5} {'objects':>8} {'file us':>8} {'build s':>8} {'user s':>7} {'sys s':>6} "
        f"{'obj/s':>8} "
        f"{'peak MB':>8} {'no-op s':>8} {'no-op %':>8} {'rewritten':>9} {'render s':>9} "
        f"{'render/1':>9} {'kustomize s':>11} {'speed-up':>9}"
    )
    print(header)
    for size in args.sizes:
        fleet = write_fleet(work / f"fleet-{size}", clusters=size, apps=args.apps, overlays=True)
        create_us = file_creation_us(work / f"probe-{size}")
        if create_us > SLOW_FILE_US:
            print(
                f"  (creating a file costs {create_us:.0f} us on this disk right now, usually "
                "after many recent deletions nearby; the build times below are dominated by it)"
            )
        outs = [work / f"out-{size}-{k}" for k in range(args.builds)]
        build = min(
            (measure([*cli, "build", str(fleet), "-o", str(out)]) for out in outs),
            key=lambda r: r.seconds,
        )
        out = outs[-1]
        objects = count_files(out)
        noop = best_of(3, [*cli, "build", str(fleet), "-o", str(out)])
        summary = noop.stderr.strip().splitlines()[-1] if noop.stderr.strip() else ""
        rewritten = summary.split(": ", 1)[-1].split(" written")[0]
        render = best_of(3, [*cli, "render", str(fleet), "--cluster", cluster_name(size // 2)])
        kustomize_cell = speedup_cell = "-"
        if has_kubectl and size in args.kustomize:
            overlays = kustomize_tree(work / f"kustomize-{size}", size, args.apps)
            seconds = kustomize_loop(overlays, work / f"kustomize-out-{size}")
            kustomize_cell = f"{seconds:.2f}"
            speedup_cell = f"{seconds / build.seconds:.1f}x"
        print(
            f"{size:>5} {objects:>8} {create_us:>8.0f} {build.seconds:>8.2f} "
            f"{build.user_seconds:>7.2f} {build.system_seconds:>6.2f} "
            f"{objects / build.seconds:>8.0f} "
            f"{build.peak_mb:>8.0f} {noop.seconds:>8.2f} "
            f"{100 * noop.seconds / build.seconds:>7.0f}% {rewritten:>9} "
            f"{render.seconds:>9.2f} {render.seconds / render_one.seconds:>8.2f}x "
            f"{kustomize_cell:>11} {speedup_cell:>9}"
        )
    print()
    print(
        f"file us: cost of creating one small file on this disk just before the builds; "
        f"build: best of {args.builds} into fresh folders, with the CPU time of that run in "
        "user space (kurator-compile's own work) and in the kernel (mostly creating files); "
        "no-op: second build of the same inputs (best of 3); "
        "render: `render --cluster` on the N-cluster fleet vs on a 1-cluster fleet; "
        "kustomize: `kubectl kustomize` per cluster overlay, 2 at a time."
    )
    placement = REPO / "benchmarks" / "placement_bench.py"
    if placement.exists():
        print()
        subprocess.run([sys.executable, str(placement)], check=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
