"""`skinscan login|logout|whoami|passwd|users|api-keys`: accounts through the gateway."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from skinscan import Client, Role
from skinscan_cli.credentials import CredentialStore, signed_in_client
from skinscan_cli.failures import reported

__all__ = ["add_commands"]

ROLES = [r.value for r in Role]
DEFAULT_TARGET = "127.0.0.1:50051"


def _password(args: argparse.Namespace, prompt: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


def _login(args: argparse.Namespace) -> int:
    password = _password(args, f"password for {args.username}: ")
    with Client(args.target, timeout_s=args.timeout) as client:
        tokens = client.login(args.username, password)
        caller = client.whoami()
    CredentialStore().save(args.target, tokens)
    print(f"signed in to {args.target} as {caller.name} ({caller.role.value})")
    return 0


def _logout(args: argparse.Namespace) -> int:
    store = CredentialStore()
    with signed_in_client(args.target, args.timeout) as client:
        if client.tokens is not None:
            client.logout()
    store.forget(args.target)
    print(f"signed out of {args.target}")
    return 0


def _whoami(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        caller = client.whoami()
    kind = "API key" if caller.kind == "api_key" else "user"
    print(f"{kind} {caller.name} ({caller.role.value}), clinic {caller.clinic_id}, id {caller.id}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    current = _password(args, "current password: ")
    new = _password(args, "new password (at least 12 characters): ")
    if not args.password_stdin and getpass.getpass("new password again: ") != new:
        print("error: the two new passwords differ; nothing changed", file=sys.stderr)
        return 1
    with signed_in_client(args.target, args.timeout) as client:
        client.change_password(current, new)
    print("password changed; every other sign-in has ended")
    return 0


def _users_add(args: argparse.Namespace) -> int:
    import secrets

    generated = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = generated = secrets.token_urlsafe(16)
    with signed_in_client(args.target, args.timeout) as client:
        user = client.create_user(args.username, password, args.role)
    print(f"created {user.role.value} {user.username} (id {user.id})")
    if generated:
        print(f"one-time password (shown once; they change it with `skinscan passwd`): {generated}")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        users = client.list_users()
    print(f"{'id':32}  {'user':24}  {'role':13}  status")
    for u in users:
        print(
            f"{u.id:32}  {u.username:24}  {u.role.value:13}  {'disabled' if u.disabled else 'active'}"
        )
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        user = client.disable_user(args.user_id)
    print(f"disabled {user.username}; their sign-ins have ended")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        key, secret = client.create_api_key(args.name, args.role)
    print(f"created API key {key.id} ({key.name}, {key.role.value})")
    print(f"secret (shown once, store it now): {secret}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        keys = client.list_api_keys()
    print(f"{'id':32}  {'name':24}  {'role':13}  {'last used':20}  status")
    for k in keys:
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if k.last_used_at else "never"
        print(
            f"{k.id:32}  {k.name[:24]:24}  {k.role.value:13}  {used:20}  "
            f"{'revoked' if k.revoked_at else 'active'}"
        )
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    with signed_in_client(args.target, args.timeout) as client:
        key = client.revoke_api_key(args.key_id)
    print(f"revoked API key {key.id} ({key.name})")
    return 0


if TYPE_CHECKING:
    Parsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _command(
    commands: Parsers, name: str, help: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--target", default=DEFAULT_TARGET, help="gateway gRPC HOST:PORT")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    parser.set_defaults(run=reported(run))
    return parser


def _password_stdin(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read {what} from standard input, one per line",
    )


def add_commands(commands: Parsers) -> None:
    login = _command(commands, "login", "sign in to a gateway and keep the sign-in", _login)
    login.add_argument("--username", required=True)
    _password_stdin(login, "the password")
    _command(commands, "logout", "end the saved sign-in", _logout)
    _command(commands, "whoami", "who the saved sign-in or SKINSCAN_API_KEY is", _whoami)
    passwd = _command(commands, "passwd", "change your password", _passwd)
    _password_stdin(passwd, "the current, then the new password")

    users = commands.add_parser("users", help="the users of your clinic (admins)")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    add = _command(user_commands, "add", "add a user (prints a one-time password)", _users_add)
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default=Role.CLINICIAN.value)
    _password_stdin(add, "their password instead of generating one")
    _command(user_commands, "list", "list users", _users_list)
    disable = _command(user_commands, "disable", "disable a user", _users_disable)
    disable.add_argument("user_id")

    keys = commands.add_parser("api-keys", help="API keys of your clinic (admins)")
    key_commands = keys.add_subparsers(dest="api_keys_command", required=True)
    create = _command(
        key_commands, "create", "create a key (its secret is shown once)", _keys_create
    )
    create.add_argument("name", help="a label, e.g. the app that will use it")
    create.add_argument("--role", choices=ROLES, default=Role.CLINICIAN.value)
    _command(key_commands, "list", "list keys", _keys_list)
    revoke = _command(key_commands, "revoke", "revoke a key", _keys_revoke)
    revoke.add_argument("key_id")
