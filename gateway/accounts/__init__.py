"""Accounts and access: users, roles, clinics, tokens, API keys, rate limits."""

from gateway.accounts.roles import Action, Principal
from gateway.accounts.service import AccountService, NewAdmin
from skinscan.accounts import Role

__all__ = ["AccountService", "Action", "NewAdmin", "Principal", "Role"]
