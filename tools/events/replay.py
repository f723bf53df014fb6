"""Replays a window of the domain bus's archive to the bus's rules, or to some of them.

    make replay FROM=2026-12-08T09:00:00Z TO=2026-12-08T10:00:00Z [RULES="LargeOrdersReviewRule ..."] [STACK_NAME=<name>]

With STACK_NAME, the deployed stack of that name (your AWS credentials and region): the archive and
the bus come from its outputs (DomainEventsArchiveArn, DomainEventBusArn), RULES are logical ids
of its rules. Without, the local stack `make up` runs. It waits until the replay has sent the
window, and says how it went. The same with the AWS CLI:

    aws events start-replay --replay-name <name> --event-source-arn <DomainEventsArchiveArn> \\
      --event-start-time 2026-12-08T09:00:00Z --event-end-time 2026-12-08T10:00:00Z \\
      --destination 'Arn=<DomainEventBusArn>,FilterArns=<rule ARN>'

A replayed event reaches the rules again with a new EventBridge id and a `replay-name` field; its
`detail.id` is the event's own, which is what every consumer deduplicates on, so a window that
overlaps what was processed changes nothing there. The archive does not keep replayed events
again. (moto, locally, replays every archived event to every rule, window and rules aside.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone

from tools.shared.cfn import ACCOUNT_ID, REGION, ROOT


def start(events, archive_arn: str, bus_arn: str, start_time: datetime, end_time: datetime,
          rule_arns: list[str] | None = None, name: str | None = None) -> str:
    """Starts the replay; its name."""
    name = name or f"replay-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    destination = {"Arn": bus_arn, **({"FilterArns": rule_arns} if rule_arns else {})}
    events.start_replay(ReplayName=name, EventSourceArn=archive_arn, EventStartTime=start_time, EventEndTime=end_time,
                        Destination=destination)
    return name


def wait(events, name: str, timeout: float = 900) -> dict:
    """The replay's description once it has ended (COMPLETED, FAILED or CANCELLED)."""
    deadline = time.monotonic() + timeout
    while True:
        replay = events.describe_replay(ReplayName=name)
        if replay["State"] in ("COMPLETED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return replay
        time.sleep(2)


def moment(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="start", required=True, type=moment, help="start of the window (ISO 8601, UTC unless it says)")
    parser.add_argument("--to", dest="end", required=True, type=moment, help="end of the window")
    parser.add_argument("--rules", nargs="*", default=[], help="logical ids of the rules to replay to (default: every rule of the bus)")
    parser.add_argument("--stack", default="", help="a deployed stack's name (default: the local stack of make up)")
    args = parser.parse_args()
    import boto3

    if args.stack:
        cloudformation = boto3.client("cloudformation")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]["Outputs"]}
        events = boto3.client("events")
        rule_arns = []
        for rule in args.rules:
            physical = cloudformation.describe_stack_resource(StackName=args.stack, LogicalResourceId=rule)["StackResourceDetail"]["PhysicalResourceId"]
            rule_arns.append(physical if physical.startswith("arn:") else events.describe_rule(Name=physical.split("|")[-1],
                             EventBusName=outputs["DomainEventBusName"])["Arn"])
        archive, bus = outputs["DomainEventsArchiveArn"], outputs["DomainEventBusArn"]
    else:
        state = ROOT / ".local" / "stack.json"
        if not state.exists():
            print("no local stack runs (make up); for a deployed one, give STACK_NAME=<name>", file=sys.stderr)
            return 2
        endpoint = json.loads(state.read_text())["AWS_ENDPOINT_URL"]
        events = boto3.client("events", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
        archive = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:archive/DomainEventsArchive"
        bus = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/DomainEventBus"
        rule_arns = [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/DomainEventBus/{rule}" for rule in args.rules]
    name = start(events, archive, bus, args.start, args.end, rule_arns)
    print(f"replay {name}: {args.start.isoformat()} to {args.end.isoformat()} -> {', '.join(args.rules) or 'every rule of the bus'}")
    replay = wait(events, name)
    print(f"replay {name}: {replay['State']} {replay.get('StateReason', '')}".rstrip())
    return 0 if replay["State"] == "COMPLETED" else 1


if __name__ == "__main__":
    raise SystemExit(main())
