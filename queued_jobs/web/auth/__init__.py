"""Principals, roles and the authentication schemes of the web API."""

from .principal import Authenticator, Principal, Role

__all__ = ["Authenticator", "Principal", "Role"]
