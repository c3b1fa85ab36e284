"""``insitu registry add|list|show``, ``insitu generator run``, ``insitu finetune run``.

``add_commands(subparsers)`` adds them to the ``insitu`` argparse CLI; handlers take
``(args, settings)`` like the others. Worker settings (``INSITU_REGISTRY_URI`` and the
rest of ``WorkerSettings``) are read from the environment on top of ``settings``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infra.config import Settings
from workers.config import WorkerSettings, worker_settings
from workers.run import run


def registry_add(args: argparse.Namespace, settings: Settings) -> int:
    from safetensors.torch import load as load_safetensors

    from infra.registry.family import ModelFamily
    from infra.registry.registry import ModelRegistry, fits
    from infra.registry.versions import Status

    ws = worker_settings(settings)
    registry = ModelRegistry(args.registry or ws.registry_location)
    weights = load_safetensors(Path(args.weights).read_bytes())
    if args.family:
        if not args.route:
            msg = "a new instance needs --route"
            raise ValueError(msg)
        raw = json.loads(Path(args.family).read_text())
        family = ModelFamily.from_json(raw, name=raw.get("name") or Path(args.family).stem)
        fits(family, weights, args.instance)  # before the instance is declared: nothing half-added
        registry.add_instance(args.instance, route=args.route, family=family)
    else:
        info = registry.instance(args.instance)  # must exist already
        if args.route and args.route != info.route:
            msg = f"instance {args.instance!r} is on route {info.route!r}, not {args.route!r}"
            raise ValueError(msg)
    first = not registry.versions(args.instance)
    status: Status = args.status or ("promoted" if first else "candidate")
    meta = registry.add_version(args.instance, weights, reason=args.reason, status=status)
    print(f"{args.instance} v{meta.version} ({meta.status}) {registry.weights_uri(args.instance, meta.version)}")
    return 0


def registry_list(args: argparse.Namespace, settings: Settings) -> int:
    from infra.registry.registry import ModelRegistry

    registry = ModelRegistry(args.registry or worker_settings(settings).registry_location)
    instances = registry.instances(args.route)
    if not instances:
        print("no instances")
        return 0
    print(f"{'instance':<24} {'route':<16} {'family':<20} {'promoted':>8} {'versions':>8}")
    for info in instances:
        versions = registry.versions(info.instance_id)
        promoted = registry.promoted_version(info.instance_id)
        shown = "-" if promoted is None else f"v{promoted}"
        print(f"{info.instance_id:<24} {info.route:<16} {info.family:<20} {shown:>8} {len(versions):>8}")
    return 0


def registry_show(args: argparse.Namespace, settings: Settings) -> int:
    from infra.registry.registry import ModelRegistry

    registry = ModelRegistry(args.registry or worker_settings(settings).registry_location)
    info = registry.instance(args.instance)
    versions = registry.versions(args.instance)
    if args.version is not None:
        versions = [registry.version(args.instance, args.version)]
    body: dict[str, Any] = {
        "instance_id": info.instance_id,
        "route": info.route,
        "family": registry.family(info.family).to_json(),
        "promoted_version": registry.promoted_version(args.instance),
        "versions": [{**v.to_json(), "weights_uri": registry.weights_uri(args.instance, v.version)} for v in versions],
    }
    print(json.dumps(body, indent=2))
    return 0


def generator_run(args: argparse.Namespace, settings: Settings) -> int:
    return run("generator", _worker_settings(settings))


def finetune_run(args: argparse.Namespace, settings: Settings) -> int:
    return run("finetune", _worker_settings(settings))


def _worker_settings(settings: Settings) -> WorkerSettings:
    return settings if isinstance(settings, WorkerSettings) else worker_settings(settings)


def add_commands(subparsers: Any) -> None:
    """Add ``registry``, ``generator`` and ``finetune`` to the ``insitu`` CLI's subparsers."""
    registry = subparsers.add_parser("registry", help="the model registry").add_subparsers(dest="action", required=True)
    add = registry.add_parser("add", help="add a version of an instance (declare the instance with --family)")
    add.add_argument("instance", help="instance id")
    add.add_argument("--weights", required=True, help="a .safetensors file (state dict of the family's module)")
    add.add_argument("--family", help="family JSON file (required for a new instance)")
    add.add_argument("--route", help="route of a new instance")
    add.add_argument("--reason", default="added by an operator", help="why this version exists")
    add.add_argument("--status", choices=["candidate", "promoted"], help="default: promoted for a first version")
    add.add_argument("--registry", help="registry URI (default INSITU_REGISTRY_URI or <data dir>/registry)")
    add.set_defaults(handler=registry_add)
    lst = registry.add_parser("list", help="instances with their promoted version")
    lst.add_argument("--route", default=None, help="only this route")
    lst.add_argument("--registry", help="registry URI")
    lst.set_defaults(handler=registry_list)
    show = registry.add_parser("show", help="an instance's family and versions as JSON")
    show.add_argument("instance")
    show.add_argument("--version", type=int, default=None, help="only this version")
    show.add_argument("--registry", help="registry URI")
    show.set_defaults(handler=registry_show)

    generator = subparsers.add_parser("generator", help="the synthetic data generator worker")
    generator.add_subparsers(dest="action", required=True).add_parser(
        "run", help="consume profile.changes, produce synthetic.batches"
    ).set_defaults(handler=generator_run)
    finetune = subparsers.add_parser("finetune", help="the fine-tune worker")
    finetune.add_subparsers(dest="action", required=True).add_parser(
        "run", help="consume synthetic.batches, produce model.versions"
    ).set_defaults(handler=finetune_run)
