"""`skinscan jobs submit|status`: queued analyses through the gateway."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from skinscan import Job
from skinscan_cli.analyze import image_paths
from skinscan_cli.credentials import signed_in_client
from skinscan_cli.failures import reported

if TYPE_CHECKING:
    Parsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_commands"]


def _show(job: Job, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job.to_dict()))
        return
    line = f"{job.id}  {job.status.value}  attempts {job.attempts}"
    if job.result is not None:
        line += f"  {job.result.label or 'not assessable'}"
        if job.result.assessable:
            line += f" ({job.result.explanation})"
    if job.error:
        line += f"  error: {job.error}"
    print(line)


def _submit(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        for path in image_paths(args.images):
            job = client.submit_job(path)
            if args.json:
                print(json.dumps({"image": str(path), **job.to_dict()}))
            else:
                print(f"{path}: job {job.id} {job.status.value}")
    return 0


def _status(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        for job_id in args.job_ids:
            job = (
                client.wait_for_job(job_id, timeout_s=args.wait_timeout)
                if args.wait
                else client.get_job(job_id)
            )
            _show(job, args.json)
    return 0


def add_commands(commands: Parsers) -> None:
    jobs = commands.add_parser("jobs", help="queued analyses: submit images, see their status")
    actions = jobs.add_subparsers(dest="jobs_command", required=True)
    for name, run, help in (
        ("submit", _submit, "queue images (files or folders) and print their job ids"),
        ("status", _status, "a job's status and, once done, its result"),
    ):
        parser = actions.add_parser(name, help=help, description=help)
        parser.add_argument("--target", default="127.0.0.1:50051", help="gateway gRPC HOST:PORT")
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.set_defaults(run=reported(run))
        if name == "submit":
            parser.add_argument("images", nargs="+", type=Path)
        else:
            parser.add_argument("job_ids", nargs="+", metavar="JOB_ID")
            parser.add_argument("--wait", action="store_true", help="wait until each finishes")
            parser.add_argument(
                "--wait-timeout", type=float, default=120.0, help="seconds to wait per job"
            )
