"""Operator commands on the gateway's database: `python -m gateway.operator COMMAND`.

For the people who run skinscan, on a machine (or in a pod) with the
gateway's settings: they act on the database directly, not through the API,
because they do what no clinic's admin may (create another clinic) or what
must happen while no request runs (rotate keys).

    python -m gateway.operator create-clinic "North clinic" --admin north.admin
    python -m gateway.operator rotate-field-keys
    python -m gateway.operator purge-images
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.accounts.setup import account_service
from gateway.config import GatewaySettings
from gateway.database import Database, upgrade
from gateway.records.crypto import FieldCipher, field_cipher
from gateway.records.images import ImageStore
from gateway.records.rotation import rotate_field_keys
from skinscan.errors import SkinscanError
from skinscan_kit.settings import SettingsError, read_settings

__all__ = ["main"]


@asynccontextmanager
async def _opened(settings: GatewaySettings) -> AsyncIterator[Database]:
    database = Database(settings.database)
    try:
        yield database
    finally:
        await database.close()


def _cipher(settings: GatewaySettings) -> FieldCipher:
    return field_cipher(settings.field_keys, settings.search_key, settings.state_dir)


async def _create_clinic(settings: GatewaySettings, args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    async with _opened(settings) as database:
        created = await account_service(settings, database, None).create_clinic(
            args.name, args.admin, password
        )
    print(f"created clinic {args.name!r} with admin {created.username!r}")
    if created.password:
        print(f"one-time password (shown once): {created.password}")
    return 0


async def _rotate(settings: GatewaySettings, args: argparse.Namespace) -> int:
    cipher = _cipher(settings)
    async with _opened(settings) as database:
        values, images = await rotate_field_keys(
            database, cipher, ImageStore(settings.images_location, cipher)
        )
    print(
        f"re-encrypted {values} values and {images} kept images with the newest key; "
        "older keys may now be removed"
    )
    return 0


async def _purge(settings: GatewaySettings, args: argparse.Namespace) -> int:
    async with _opened(settings) as database:
        count = await ImageStore(settings.images_location, _cipher(settings)).purge_expired(
            database
        )
    print(f"deleted {count} images past their retention")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.operator",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    clinic = commands.add_parser("create-clinic", help="a new clinic and its first admin")
    clinic.add_argument("name")
    clinic.add_argument("--admin", required=True, help="the admin's user name")
    clinic.add_argument(
        "--password-stdin", action="store_true", help="read the admin's password from stdin"
    )
    clinic.set_defaults(run=_create_clinic)
    commands.add_parser(
        "rotate-field-keys", help="re-encrypt identifying fields with the first key"
    ).set_defaults(run=_rotate)
    commands.add_parser("purge-images", help="delete kept images past retention now").set_defaults(
        run=_purge
    )
    args = parser.parse_args(argv)
    try:
        settings = read_settings(GatewaySettings)
        upgrade(settings.database)
        return asyncio.run(args.run(settings, args))
    except (SettingsError, SkinscanError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
