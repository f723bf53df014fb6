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

    python -m tools.starter.test_starters [--sets async all] [--keep DIR]
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

from tools.shared.cfn import ROOT

# In this order, most of each project's dependencies are built already: all and realtime resolve
# the kit's features; sync and async share theirs (no JWT crate, no DynamoDB-stream events), as do
# fanout and callbacks. (The project's own crates are built afresh by the first set at least.)
SETS = {"all": ["all"], "realtime": ["realtime"], "sync": ["sync"], "async": ["async"], "fanout": ["fanout"], "callbacks": ["callbacks"], "events": ["events"]}
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


# What an owner does first to a new project, with an editor (text edits, as a person makes them,
# not a generator option), before its make test: each must leave `make test` green when it is
# right. Applied to the async and sync projects (--owner-edits). The sync project's are patches
# (owner-edits/*.patch, `git diff` of a project its owner changed), applied strictly: where one no
# longer applies, the kit changed what an owner edits for that change. To refresh one: make the
# project, `patch -p1 --fuzz=3 < the.patch`, check the result, and save its `git diff`.
NEW_QUEUE = """  # A queue of this project's own: encrypted with the stack's key, poison messages kept in its
  # dead-letter queue, which is alarmed.
  ReportsQueue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !Ref DataKey
      VisibilityTimeout: 180
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt ReportsDeadLetterQueue.Arn
        maxReceiveCount: 5

  ReportsDeadLetterQueue:
    Type: AWS::SQS::Queue
    Metadata:
      cfn-lint:
        config:
          # SQS redrive rule: this is the dead-letter queue itself.
          ignore_checks: [ES6000]
    Properties:
      KmsMasterKeyId: !Ref DataKey
      MessageRetentionPeriod: 1209600 # 14 days

  ReportsDeadLetterAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: A message reached the reports dead-letter queue.
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - Name: QueueName
          Value: !GetAtt ReportsDeadLetterQueue.QueueName
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
      OKActions: [!Ref AlarmTopic]

"""
NEW_CRATE_MANIFEST = """[package]
name = "pricing"
description = "Prices of report jobs: plain Rust, no AWS."
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
"""
NEW_CRATE_LIB = """//! Prices of report jobs.

/// The price of a report of `seconds`, in cents: 10 cents a started minute.
pub fn report_price(seconds: u64) -> u64 {
    seconds.div_ceil(60) * 10
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_started_minute_costs_a_whole_one() {
        assert_eq!(super::report_price(0), 0);
        assert_eq!(super::report_price(1), 10);
        assert_eq!(super::report_price(61), 20);
    }
}
"""

NEW_KIND = """//! `words`: `{"text": "..."}`, at most 10,000 characters: counts the words of a text.

use serde_json::{Value, json};

use super::{Input, JobError, Kind, Run};

pub const MAX_TEXT_CHARS: usize = 10_000;

#[derive(Debug)]
pub struct Words {
    pub text: String,
}

impl Kind for Words {
    const NAME: &'static str = "words";

    fn read(input: &mut Input<'_>) -> Option<Self> {
        let text = input.required("text", |value| match value.as_str() {
            Some(text) if text.chars().count() <= MAX_TEXT_CHARS => Ok(text.to_owned()),
            _ => Err(format!("must be a text of at most {MAX_TEXT_CHARS} characters")),
        });
        Some(Self { text: text? })
    }

    async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
        Ok(json!({"words": self.text.split_whitespace().count()}))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use contracts::FieldError;
    use serde_json::json;

    use crate::kinds::{KINDS, Kind, Services, run};
    use crate::model::{Job, validate};

    #[tokio::test]
    async fn the_api_accepts_a_words_job_and_the_worker_counts_its_words() {
        let request = validate(&json!({"type": "words", "input": {"text": "one two  three"}}), KINDS, None)
            .expect("a words job");
        assert_eq!(request.job_type, super::Words::job_type());
        let job = Job::queued("j-1".into(), request, Utc::now());
        let result = run(KINDS, &job, &Services {}).await.expect("counted");
        assert_eq!(result, json!({"words": 3}));
    }

    #[test]
    fn a_text_is_required_and_bounded() {
        let refused = |input| validate(&json!({"type": "words", "input": input}), KINDS, None).unwrap_err();
        assert_eq!(refused(json!({})), [FieldError::new("/input/text", "is required")]);
        assert_eq!(
            refused(json!({"text": "a".repeat(10_001)})),
            [FieldError::new("/input/text", "must be a text of at most 10000 characters")]
        );
    }
}
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"owner edit: {path} does not hold {old!r} once")
    path.write_text(text.replace(old, new), encoding="utf-8")


OWNER_PATCHES = Path(__file__).parent / "owner-edits"


def owner_edits(name: str, project: Path, env: dict[str, str], log: Path) -> dict[str, list[str]]:
    """async: rename the project, add a queue, give a function another AWS SDK client, add a crate,
    add a kind of job (one module of the jobs crate and its line in the registration).
    sync: add `PATCH /orders/{id}` (cancel an order, idempotent, 409 when it was cancelled
    before: orders-api and template.yaml), add a field to an order (the contract, the handler and
    their tests). Returns the files each edit touched."""

    def patch(file: str):
        def apply() -> None:
            run(["git", "apply", str(OWNER_PATCHES / file)], project, env, log)
        return apply

    def rename() -> None:
        # Search and replace of the name where the project states it.
        old_name = re.search(r'^stack_name = "(.+)"$', (project / "samconfig.toml").read_text(), re.M).group(1)
        for name in ("samconfig.toml", "README.md", "template.yaml"):
            path = project / name
            path.write_text(path.read_text(encoding="utf-8").replace(old_name, "acme-reports"), encoding="utf-8")

    def add_queue() -> None:
        edit(project / "template.yaml", "\n  JobsQueue:\n", "\n" + NEW_QUEUE + "  JobsQueue:\n")

    def add_sdk_client() -> None:
        edit(project / "functions/async/job-worker/Cargo.toml", "aws-sdk-dynamodb.workspace = true\n",
             "aws-sdk-dynamodb.workspace = true\naws-sdk-sqs.workspace = true\n")

    def add_crate() -> None:
        crate = project / "functions" / "async" / "pricing"
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(NEW_CRATE_MANIFEST, encoding="utf-8")
        (crate / "src" / "lib.rs").write_text(NEW_CRATE_LIB, encoding="utf-8")
        # What the owner's first cargo command does: the new member's entry in Cargo.lock.
        run(["cargo", "update", "--workspace", "--offline", "--quiet"], project, env, log)

    def add_job_kind() -> None:
        kinds = project / "functions" / "async" / "jobs" / "src" / "kinds"
        (kinds / "words.rs").write_text(NEW_KIND, encoding="utf-8")
        edit(kinds / "mod.rs", "pub mod report;\n", "pub mod report;\npub mod words;\n")
        edit(kinds / "mod.rs", "KINDS: &[Registration] = &[Registration::of::<report::Report>()",
             "KINDS: &[Registration] = &[Registration::of::<report::Report>(), Registration::of::<words::Words>()")
        run(["cargo", "fmt", "--all"], project, env, log)  # as the owner's editor does on save

    def contents() -> dict[str, bytes]:
        return {p.relative_to(project).as_posix(): p.read_bytes() for p in project.rglob("*")
                if p.is_file() and ".git" not in p.relative_to(project).parts}

    edits = {
        "async": (("rename the project", rename), ("add an SQS queue to template.yaml", add_queue),
                  ("give job-worker an SQS client crate", add_sdk_client), ("add a crate to the workspace", add_crate),
                  ("add a kind of job", add_job_kind)),
        "sync": (("add PATCH /orders/{id}: cancel an order", patch("sync-cancel-order.patch")),
                 ("add a field to an order: a delivery note", patch("sync-order-note.patch"))),
    }
    touched = {}
    for what, change in edits[name]:
        before = contents()
        change()
        after = contents()
        touched[what] = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return touched


def measure(project: Path) -> dict:
    files = [p for p in project.rglob("*") if p.is_file() and ".git" not in p.relative_to(project).parts[:1]]
    rust = sum(len(p.read_text().splitlines()) for p in files if p.suffix == ".rs")
    resources = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c",
         "import sys; from tools.shared.cfn import load; print(len(load(sys.argv[1])['Resources']))", str(project / "template.yaml")],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    crates = sorted(p.parent.name for p in project.glob("functions/*/*/Cargo.toml"))
    return {"files": len(files), "rust_lines": rust, "resources": int(resources), "crates": crates}


def forget_project_builds(env: dict[str, str]) -> None:
    """The projects build in the kit's target dir (their dependencies are the kit's: no second
    copy of the AWS SDK). But cargo names a workspace member's artifacts by its path inside the
    workspace, so a project's `functions/async/jobs` lands where the kit's does, and the kit's
    older sources then look up to date against it (an async-only `jobs` has no `invoice`). So the
    kit's members' files are made newer than any project's build: the kit's next build compiles
    its own members again (its dependencies stay built)."""
    metadata = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    now = time.time()
    for package in json.loads(metadata.stdout)["packages"]:
        for path in Path(package["manifest_path"]).parent.rglob("*"):
            if path.is_file():
                os.utime(path, (now, now))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.starter.test_starters", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--keep", type=Path, help="make the projects here and keep them (default: a temporary folder, removed)")
    parser.add_argument("--owner-edits", nargs="*", default=["async", "sync"], choices=["async", "sync"],
                        help="sets whose project gets an owner's first edits before its make test (default: async sync)")
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
            run([str(ROOT / ".venv" / "bin" / "python"), "-m", "tools.starter.starter", "--patterns", *SETS[name],
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
            if name in args.owner_edits:
                row["owner_edits"] = owner_edits(name, project, env, log)
                run(["git", "add", "-A"], project, env, log)
                print(f"{name}: an owner's edits: {json.dumps(row['owner_edits'])}", flush=True)
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
        forget_project_builds(env)
        (base / "results.json").write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
