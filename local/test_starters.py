"""make test-starters: every pattern set made into a project, and that project's own checks.

For each set (sync; async; fanout with its producer; realtime and callbacks with what they
require; all): `make starter` into a temporary folder, `git init`, then the project's own
`make test` (its Rust and Python tests, its template gates at zero) and, for async and all, its
`make demo` to the end. Prints, per set, the project's files, lines of Rust, template resources
and how long its make test took; fails if any step fails.

What is shared, and why that is honest:
- the Cargo target directory (CARGO_TARGET_DIR, this workspace's): the project's Cargo.lock has
  the kit's versions, so a dependency built for the kit with the same features is the same
  artifact; the project's own crates build afresh (they are other packages to cargo). Each set
  is made in the same folder, one after the other, so one set's build serves the next.
- the virtualenvs: the project's requirements files are the kit's, byte for byte (checked), so
  its .venv and .venv-checkov are links to the kit's instead of a second install.

    python -m local.test_starters [--sets async all] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local.cfn import ROOT

SETS = {"sync": ["sync"], "async": ["async"], "fanout": ["fanout"], "realtime": ["realtime"], "callbacks": ["callbacks"], "all": ["all"]}
DEMO = ("async", "all")


def run(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(f"{' '.join(command)} failed in {cwd} ({result.returncode}); the end of {log}:\n" + "\n".join(tail))
    return time.monotonic() - started


def measure(project: Path) -> dict:
    files = [p for p in project.rglob("*") if p.is_file() and ".git" not in p.relative_to(project).parts[:1]]
    rust = sum(len(p.read_text().splitlines()) for p in files if p.suffix == ".rs")
    resources = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c",
         "import sys; from local.cfn import load; print(len(load(sys.argv[1])['Resources']))", str(project / "template.yaml")],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    crates = sorted(p.parent.name for p in project.glob("functions/*/*/Cargo.toml"))
    return {"files": len(files), "rust_lines": rust, "resources": int(resources), "crates": crates}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m local.test_starters", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--keep", type=Path, help="make the projects here and keep them (default: a temporary folder, removed)")
    args = parser.parse_args()

    for name in ("requirements-dev.txt", "requirements-checkov.txt"):
        assert (ROOT / name).exists()
    base = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="starters-"))
    base.mkdir(parents=True, exist_ok=True)
    project = base / "project"
    log = base / "test-starters.log"
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target")}
    for leaked in ("AWS_ENDPOINT_URL", "LOCAL_API_URL", "LOCAL_INVOKE_URL", "LOCAL_WS_URL", "VIRTUAL_ENV"):
        env.pop(leaked, None)  # a project's make test starts its own local stack
    results = {}
    try:
        for name in args.sets:
            if project.exists():
                shutil.rmtree(project)
            started = time.monotonic()
            run([str(ROOT / ".venv" / "bin" / "python"), "-m", "local.starter", "--patterns", *SETS[name],
                 "--name", f"{name}-starter", "--dest", str(project)], ROOT, env, log)
            generated = time.monotonic() - started
            for requirements in ("requirements-dev.txt", "requirements-checkov.txt"):
                if (project / requirements).read_bytes() != (ROOT / requirements).read_bytes():
                    raise SystemExit(f"{name}: {requirements} differs from the kit's: its virtualenv cannot be shared")
            for venv in (".venv", ".venv-checkov"):
                (project / venv).symlink_to(ROOT / venv)
            run(["git", "init", "-q"], project, env, log)
            run(["git", "add", "-A"], project, env, log)
            row = {"patterns": SETS[name], "generate_s": round(generated, 1), **measure(project)}
            print(f"{name}: {row['files']} files, {row['rust_lines']} lines of Rust, {row['resources']} resources; make test ...", flush=True)
            row["make_test_s"] = round(run(["make", "test"], project, env, log), 1)
            if name in DEMO:
                row["make_demo_s"] = round(run(["make", "demo"], project, env, log), 1)
                demo = log.read_text(errors="replace")
                if "demo finished" not in demo.rsplit("$ make demo", 1)[-1]:
                    raise SystemExit(f"{name}: make demo did not finish")
            results[name] = row
            print(f"{name}: make test {row['make_test_s']} s" + (f", make demo {row['make_demo_s']} s" if "make_demo_s" in row else ""), flush=True)
    finally:
        (base / "results.json").write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
