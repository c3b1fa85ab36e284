"""``insitu command-key new|revoke``: operators' Ed25519 command keys and the verifiers' public keys file.

``new OPERATOR`` writes a private key (PEM, mode 0600) for the operator alone and adds its
public key to the public keys file the streams workers read (``INSITU_COMMAND_PUBLIC_KEYS_FILE``);
``revoke KEY_ID`` moves a key id to the file's revoked ids. Workers re-read the file when it
changes: neither needs a restart.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.config import Settings
from infra.operator_keys import OperatorKeyError, add_public_key, public_entry, revoke_key, write_private_key

PUBLIC_KEYS_ENV = "INSITU_COMMAND_PUBLIC_KEYS_FILE"


def add_commands(subparsers: Any) -> None:
    """Add ``command-key`` with ``new`` and ``revoke`` to the ``insitu`` parser's subcommands."""
    keys = subparsers.add_parser("command-key", help="operators' Ed25519 keys for signing commands")
    actions = keys.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="a private key for OPERATOR; its public key goes in the public keys file")
    new.add_argument("operator", help="who signs with it (the issuer of the commands it signs)")
    new.add_argument("--key-id", help="default: OPERATOR-YYYYMMDDHHMMSS")
    new.add_argument("--out", type=Path, help="private key file (default: <data dir>/operator-keys/KEY_ID.pem)")
    revoke = actions.add_parser("revoke", help="refuse every command signed with KEY_ID from now on")
    revoke.add_argument("key_id")
    for parser in (new, revoke):
        parser.add_argument(
            "--public-keys-file",
            type=Path,
            default=os.environ.get(PUBLIC_KEYS_ENV),
            help=f"the verifiers' public keys file (default: ${PUBLIC_KEYS_ENV})",
        )
    new.set_defaults(handler=new_key_command)
    revoke.set_defaults(handler=revoke_command)


def new_key_command(args: argparse.Namespace, settings: Settings) -> int:
    if not _has_file(args):
        return 1
    key_id = args.key_id or f"{args.operator}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    out = args.out or settings.data_dir / "operator-keys" / f"{key_id}.pem"
    try:
        private_key = write_private_key(out)
        add_public_key(args.public_keys_file, key_id, public_entry(private_key, args.operator))
    except OperatorKeyError as exc:
        print(f"insitu: {exc}", file=sys.stderr)
        return 1
    print(f"private key of {args.operator!r} written to {out} (keep it to yourself)")
    print(f"public key {key_id!r} added to {args.public_keys_file}")
    print("to sign commands with it:")
    print(f"  export INSITU_COMMAND_PRIVATE_KEY_FILE={out} INSITU_COMMAND_KEY_ID={key_id}", end=" ")
    print(f"INSITU_COMMAND_ISSUER={args.operator}")
    return 0


def revoke_command(args: argparse.Namespace, settings: Settings) -> int:
    if not _has_file(args):
        return 1
    try:
        revoke_key(args.public_keys_file, args.key_id)
    except OperatorKeyError as exc:
        print(f"insitu: {exc}", file=sys.stderr)
        return 1
    print(f"key id {args.key_id!r} revoked in {args.public_keys_file}")
    return 0


def _has_file(args: argparse.Namespace) -> bool:
    if args.public_keys_file is None:
        print(f"insitu: give --public-keys-file or set {PUBLIC_KEYS_ENV}", file=sys.stderr)
        return False
    return True
