"""`make bench`: builds, measures and writes BENCHMARKS.md.

1. Size and build: every function (and the hello-world floor) built by cargo-lambda in release,
   for x86_64 and arm64, into a clean target directory: clean build time per architecture,
   stripped binary and deployment zip per function. Then the incremental test loop: `cargo test
   --no-run` after touching a function's handler and after touching the shared crate.
2. Cold starts: the x86_64 binaries (this machine's architecture) and the Python peer started
   under the Runtime API emulator (bench/runtime_api.py) with each function's template
   environment, pointed at a moto server holding the template's resources; `--runs` rounds,
   each starting every subject once, in a rotating order. Then as many rounds again with the
   SDK pointed at a TLS front of that server (bench/tls_front.py), trusted through
   AWS_CA_BUNDLE: the first invocation then includes a TLS handshake, as on AWS.
3. Handler cost: the criterion benchmarks of bench/handler-cost, and the instructions each
   iteration of the same code executes, counted by valgrind's callgrind (repeatable whatever the
   machine is doing, so A/B changes are decided on them).

Nothing here is a test: no number is asserted. The targets are printed next to the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from tools.shared.aws import Moto, create_resources
from tools.shared.cfn import ROOT, Template

from .runtime_api import answer_status, cold_start
from .tls_front import TlsFront

OUT = ROOT / "target" / "bench"
BUILD_DIR = OUT / "build"  # its own target dir, so the clean build is clean
RESULTS = OUT / "results.json"
REPORT = ROOT / "BENCHMARKS.md"
FLOOR = "hello-floor"
PYTHON_PEER = "python-peer (orders)"
ARCHITECTURES = {"x86_64": "--x86-64", "arm64": "--arm64"}

# The event each function's cold start is invoked with (twice), and the answer that shows the
# invocation did its real work against the local AWS.
COLD_START_EVENTS = {
    "orders-api": ("orders-api/create-order.json", "201"),
    "jobs-api": ("jobs-api/create-invoice-job.json", "202"),
    # Three jobs that were never submitted: each is read, found missing and reported.
    "job-worker": ("job-worker/clean-batch.json", "3 failed"),
    "event-publisher": ("event-publisher/outbox-batch.json", "0 failed"),
    # The sample holds a record that is not an event and one that breaks its contract: both reported.
    "notifier": ("notifier/raw-events.json", "2 failed"),
    "audit-log": ("audit-log/sns-notifications.json", "0 failed"),
    "large-order-alert": ("large-order-alert/large-order.json", "ok"),
    # The bench's secret is generated, not the key the sample token was minted with: the token
    # is read and its signature refused (init includes reading the secret).
    "ws-api": ("ws-api/connect.json", "401"),
    # No connection follows anything in the bench's table; the one record that is no event fails.
    "ws-push": ("ws-push/job-and-order-events.json", "1 failed"),
    # No network here: the two deliveries to hooks.example.com fail (DNS), and the poison record.
    "webhook-dispatcher": ("webhook-dispatcher/job-events.json", "3 failed"),
    # The bench's secret is generated: the key differs from the sample's, the answer is a key.
    "webhook-keys": ("webhook-keys/get-key.json", "200"),
    # Its two events put on the bench's bus.
    "event-relay": ("event-relay/outbox-batch.json", "0 failed"),
    # The two reviews written; the record that breaks its contract and the one that is no bus event fail.
    "order-review": ("order-review/review-batch.json", "2 failed"),
    "customer-activity": ("customer-activity/order-created.json", "ok"),
}

TARGETS = {
    # Init of a function with SDK clients against the hello-world floor, and of one that must
    # fetch something at init (none does now: secrets are read on first use).
    "init_vs_floor_sdk": 1.5,
    "init_vs_python": 8.0,
    "rss_vs_python": 2.5,
    "zip_sdk_mb": 4.0,
    "zip_floor_mb": 1.0,
    "per_record_us": 3.0,
}


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def run(command: list[str], env: dict[str, str] | None = None, quiet: bool = True) -> float:
    """Runs a command, returns its wall time in seconds."""
    started = time.monotonic()
    subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    return time.monotonic() - started


def tool_path() -> dict[str, str]:
    # cargo-lambda and zig (the ziglang wheel) live in .venv.
    return {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def build(reuse: bool) -> dict:
    if not reuse and BUILD_DIR.exists():
        shutil.rmtree(BUILD_DIR)
    results: dict = {"clean": not reuse, "build_seconds": {}, "sizes": {}}
    for arch, flag in ARCHITECTURES.items():
        lambda_dir = OUT / "lambda" / arch
        say(f"cargo lambda build --release {flag} (all functions)")
        seconds = run(
            ["cargo", "lambda", "build", "--release", flag, "--locked", "--output-format", "zip", "--lambda-dir", str(lambda_dir)],
            env={**tool_path(), "CARGO_TARGET_DIR": str(BUILD_DIR)},
        )
        results["build_seconds"][arch] = round(seconds, 1)
        template = Template.read()
        wanted = {template.binary(logical_id) for logical_id in template.functions()} | {FLOOR}
        for zip_path in sorted(lambda_dir.glob("*/bootstrap.zip")):
            binary = zip_path.parent.name
            if binary not in wanted:  # the workspace's other binaries (bench/handler-cost's counter)
                continue
            with zipfile.ZipFile(zip_path) as archive:
                binary_bytes = archive.getinfo("bootstrap").file_size
                if arch == platform.machine().replace("aarch64", "arm64"):
                    target = OUT / "run" / binary
                    target.mkdir(parents=True, exist_ok=True)
                    archive.extract("bootstrap", target)
                    (target / "bootstrap").chmod(0o755)
            results["sizes"].setdefault(binary, {})[arch] = {
                "binary_bytes": binary_bytes,
                "zip_bytes": zip_path.stat().st_size,
            }
    return results


def test_loop() -> dict:
    say("incremental test loop (cargo test --no-run)")
    run(["cargo", "test", "--workspace", "--locked", "--no-run"], quiet=True)
    loops = {}
    for label, touched, command in (
        ("orders-api handler touched", "functions/sync/orders-api/src/handler.rs", ["cargo", "test", "-p", "orders-api", "--locked", "--no-run"]),
        ("lambda-kit touched, whole workspace", "kit/lambda-kit/src/http.rs", ["cargo", "test", "--workspace", "--locked", "--no-run"]),
    ):
        os.utime(ROOT / touched)
        loops[label] = round(run(command, quiet=True), 1)
    return loops


def subjects(template: Template, moto: Moto) -> list[dict]:
    client = moto.client_environment()
    log_format = {"AWS_LAMBDA_LOG_FORMAT": template.log_format()} if template.log_format() else {}
    found = []
    for logical_id in template.functions():
        binary = template.binary(logical_id)
        event_file, expected = COLD_START_EVENTS[binary]
        found.append(
            {
                "name": binary,
                "argv": [str(OUT / "run" / binary / "bootstrap")],
                "env": {**client, **log_format, **template.function_environment(logical_id)},
                "event": (ROOT / "events" / event_file).read_bytes(),
                "expected": expected,
                "cwd": None,
                "sdk_clients": True,
            }
        )
        if binary == "orders-api":
            orders_env = found[-1]["env"]
    found.append(
        {
            "name": FLOOR,
            "argv": [str(OUT / "run" / FLOOR / "bootstrap")],
            "env": {**client, **log_format},
            "event": b"{}",
            "expected": "ok",
            "cwd": None,
            "sdk_clients": False,
        }
    )
    peer = ROOT / "bench" / "python-peer"
    found.append(
        {
            "name": PYTHON_PEER,
            "argv": [str(ROOT / ".venv-bench" / "bin" / "python"), "-m", "awslambdaric", "app.handler"],
            "env": {**orders_env, "_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": str(peer), "PYTHONPATH": str(peer)},
            "event": (ROOT / "events" / "orders-api" / "create-order.json").read_bytes(),
            "expected": "201",
            "cwd": peer,
            "sdk_clients": True,
        }
    )
    return found


def spread(values: list[float]) -> dict:
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "median": round(statistics.median(values), 3),
        "p10": round(deciles[0], 3),
        "p90": round(deciles[-1], 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def cold_starts(runs: int) -> dict:
    template = Template.read()
    log = OUT / "cold-start.log"
    log.write_bytes(b"")
    moto = Moto(OUT / "moto.log").start()
    front = None
    try:
        create_resources(template, moto)
        found = subjects(template, moto)
        front = TlsFront(moto.port, OUT / "tls-front").start()
        samples: dict[str, list] = {subject["name"]: [] for subject in found}
        over_tls: dict[str, list] = {subject["name"]: [] for subject in found}
        for label, through, env_over in (("plain HTTP", samples, {}), ("TLS front", over_tls, front.client_environment())):
            say(f"{runs} cold starts of {len(found)} subjects, rotating order, local AWS over {label}")
            for round_number in range(runs):
                shift = round_number % len(found)
                for subject in found[shift:] + found[:shift]:
                    env = {**subject["env"], **env_over} if subject["sdk_clients"] else subject["env"]
                    result = cold_start(subject["argv"], env, subject["event"], subject["name"], cwd=subject["cwd"], log=log)
                    status = answer_status(result.first_answer)
                    if status != subject["expected"]:
                        raise SystemExit(
                            f"{subject['name']} ({label}): answered {status} ({result.first_answer[:300]!r}), "
                            f"expected {subject['expected']}; see {log}"
                        )
                    through[subject["name"]].append(result)
    finally:
        if front is not None:
            front.stop()
        moto.stop()
    return {
        name: {
            "runs": len(results),
            "init_ms": spread([r.init_ms for r in results]),
            "first_invoke_ms": spread([r.first_ms for r in results]),
            "warm_invoke_ms": spread([r.warm_ms for r in results]),
            "peak_rss_mib": spread([r.peak_rss_kib / 1024 for r in results]),
            "init_tls_ms": spread([r.init_ms for r in over_tls[name]]),
            "first_invoke_tls_ms": spread([r.first_ms for r in over_tls[name]]),
            "sdk_clients": next(s["sdk_clients"] for s in found if s["name"] == name),
        }
        for name, results in samples.items()
    }


def criterion(quick: bool) -> dict:
    say("criterion benchmarks (bench/handler-cost)")
    timing = ["--warm-up-time", "1", "--measurement-time", "2"] if quick else ["--warm-up-time", "2", "--measurement-time", "8"]
    shutil.rmtree(ROOT / "target" / "criterion", ignore_errors=True)  # only this run's benchmarks
    run(["cargo", "bench", "-p", "handler-cost", "--locked", "--", *timing], quiet=True)
    found = {}
    for estimates in sorted((ROOT / "target" / "criterion").glob("**/new/estimates.json")):
        benchmark = json.loads((estimates.parent / "benchmark.json").read_text())
        median = json.loads(estimates.read_text())["median"]
        throughput = benchmark.get("throughput") or {}
        elements = throughput.get("Elements") or 1
        found[benchmark["full_id"]] = {
            "median_ns": round(median["point_estimate"], 1),
            "low_ns": round(median["confidence_interval"]["lower_bound"], 1),
            "high_ns": round(median["confidence_interval"]["upper_bound"], 1),
            "elements": elements,
        }
    return found


# Iterations added to the one of the base run, per benchmark: enough to drown rounding, few
# enough for valgrind (about 50 times slower than native).
COUNT_ITERATIONS = {"sqs_batch/records_1KiB/10000": 2}
DEFAULT_COUNT_ITERATIONS = 20


def callgrind_total(argv: list[str], out: Path) -> int:
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out}")


def instruction_counts() -> dict:
    """Instructions per iteration of each handler-cost benchmark: callgrind's total with 1 + N
    iterations minus its total with 1, divided by N (process start and set-up cancel out)."""
    if shutil.which("valgrind") is None:
        say("valgrind not found (apt-get install valgrind): no instruction counts")
        return {}
    say("instruction counts (valgrind --tool=callgrind, bench/handler-cost/src/bin/instructions.rs)")
    run(["cargo", "build", "--release", "--locked", "-p", "handler-cost", "--bin", "instructions"])
    binary = str(ROOT / "target" / "release" / "instructions")
    ids = subprocess.run([binary, "--list"], check=True, capture_output=True, text=True).stdout.split()
    folder = OUT / "callgrind"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    counts = {}
    for benchmark in ids:
        extra = COUNT_ITERATIONS.get(benchmark, DEFAULT_COUNT_ITERATIONS)
        stem = benchmark.replace("/", "_")
        base = callgrind_total([binary, benchmark, "1"], folder / f"{stem}.1.out")
        more = callgrind_total([binary, benchmark, str(1 + extra)], folder / f"{stem}.{1 + extra}.out")
        counts[benchmark] = {"instructions": round((more - base) / extra), "iterations": extra}
    return counts


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    version = lambda *command: subprocess.run(command, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "rustc": version("rustc", "--version"),
        "cargo_lambda": version(str(Path(sys.executable).parent / "cargo-lambda"), "lambda", "--version"),
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="cold starts per subject (default 30)")
    parser.add_argument("--reuse-build", action="store_true", help="keep target/bench/build (the build time is then not a clean one)")
    parser.add_argument("--quick", action="store_true", help="short criterion runs, for trying the harness")
    parser.add_argument("--only", choices=["report", "cold-start", "handler-cost"],
                        help="report: rewrite BENCHMARKS.md from target/bench/results.json; "
                             "cold-start: measure the cold starts again with the binaries of the last run; "
                             "handler-cost: criterion and the instruction counts again")
    args = parser.parse_args()

    from .report import write_report

    if args.only == "report":
        write_report(json.loads(RESULTS.read_text()), REPORT)
        return 0
    if args.only in ("cold-start", "handler-cost"):
        results = json.loads(RESULTS.read_text())
        results["machine"] = machine()
        results["targets"] = TARGETS
        if args.only == "cold-start":
            results["cold_start"] = cold_starts(args.runs)
        else:
            results["criterion"] = criterion(args.quick)
            results["instructions"] = instruction_counts()
        RESULTS.write_text(json.dumps(results, indent=2))
        write_report(results, REPORT)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "targets": TARGETS}
    # Each stage's results are kept as soon as they exist: a later stage that fails loses only
    # itself (`--only` runs a stage again).
    for stage, measure in (
        ("build", lambda: build(args.reuse_build)),
        ("test_loop_seconds", test_loop),
        ("cold_start", lambda: cold_starts(args.runs)),
        ("criterion", lambda: criterion(args.quick)),
        ("instructions", instruction_counts),
    ):
        results[stage] = measure()
        RESULTS.write_text(json.dumps(results, indent=2))
    write_report(results, REPORT)
    say(f"wrote {REPORT.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
