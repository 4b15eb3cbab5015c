"""Accounts for tests: one per role, signed in by API token (scripts, TestClient) or by a
session cookie (browsers), created with the real services on the real store."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gisgrid.roles import Role
from gisgrid.services import accounts
from gisgrid.stores import open_store
from gisgrid.stores.base import Store


@dataclass(frozen=True)
class TestAccount:
    """An account made for a test, with its password and one API token."""

    __test__ = False  # not a test class

    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_account(
    store: Store | str,
    role: Role | str = Role.ADMIN,
    area: str = "430623",
    *,
    phone: str | None = None,
    username: str | None = None,
) -> TestAccount:
    """A new account of ``role`` for ``area`` with a generated password and an API token."""
    st = open_store(store) if isinstance(store, str) else store
    try:
        role = Role(role)
        name = username or f"t-{role.value}-{secrets.token_hex(4)}"
        password = accounts.generate_password()
        account = accounts.add_account(
            st.ledger,
            username=name,
            display_name=name,
            role=role,
            area=area,
            password=password,
            phone=phone,
            actor="test",
        )
        _record, token = accounts.create_token(
            st.ledger, account, name="test", days=None, actor="test"
        )
    finally:
        if isinstance(store, str):
            st.close()
    return TestAccount(name, password, token)


def admin_headers(store: Store | str) -> dict[str, str]:
    """The ``Authorization`` header of a new county admin."""
    return make_account(store, Role.ADMIN).headers
