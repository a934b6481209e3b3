"""Accounts and access: users, roles, clinics, tokens, API keys, rate limits."""

from gateway.accounts.roles import Action, Principal, Role
from gateway.accounts.service import AccountService, ApiKeyInfo, NewAdmin, TokenPair, UserInfo

__all__ = [
    "AccountService",
    "Action",
    "ApiKeyInfo",
    "NewAdmin",
    "Principal",
    "Role",
    "TokenPair",
    "UserInfo",
]
