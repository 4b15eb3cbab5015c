"""Accounts (admin): list, add, change role, area and phone, disable or enable, reset a
password. Every change goes through :mod:`gisgrid.services.accounts`, which checks it and
writes it with its audit line; the actor is the caller, the address theirs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request

from gisgrid.api.deps import Scoped, State, address_of
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import (
    AccountChangeIn,
    AccountOut,
    AccountPasswordOut,
    NewAccountIn,
    PasswordResetIn,
)
from gisgrid.services import accounts
from gisgrid.services.accounts import USERNAME_PATTERN

router = APIRouter(prefix="/api/accounts", tags=["accounts 账户"], responses=COMMON_ERRORS)

Username = Annotated[str, Path(pattern=f"^{USERNAME_PATTERN}$")]


@router.get("", summary="Every account, by username")
def list_accounts(state: State, access: Scoped) -> list[AccountOut]:
    return [AccountOut.of(a) for a in accounts.list_accounts(state.store.ledger)]


@router.post(
    "",
    status_code=201,
    summary="Add an account (a generated password is answered once)",
    responses=documented(422),
)
def add_account(
    state: State, access: Scoped, request: Request, new: NewAccountIn
) -> AccountPasswordOut:
    password = new.password or accounts.generate_password()
    account = accounts.add_account(
        state.store.ledger,
        username=new.username,
        display_name=new.display_name,
        role=new.role,
        area=new.area,
        password=password,
        phone=new.phone or None,
        actor=access.caller.account.username,
        address=address_of(request),
        settings=state.auth,
    )
    return AccountPasswordOut(
        account=AccountOut.of(account), password=None if new.password else password
    )


@router.get("/{username}", summary="One account")
def get_account(state: State, access: Scoped, username: Username) -> AccountOut:
    return AccountOut.of(accounts.get_account(state.store.ledger, username))


@router.patch(
    "/{username}",
    summary="Change an account's role, area or phone (its sessions end), disable or enable it",
)
def change_account(
    state: State, access: Scoped, request: Request, username: Username, change: AccountChangeIn
) -> AccountOut:
    ledger = state.store.ledger
    actor, address = access.caller.account.username, address_of(request)
    account = accounts.get_account(ledger, username)
    accounts.check_own_change(
        access.caller.account, username, role=change.role, disabled=change.disabled
    )
    if change.role is not None or change.area is not None or change.phone is not None:
        account = accounts.set_role(
            ledger,
            username,
            role=change.role or account.role,
            area=account.area if change.area is None else change.area,
            phone=change.phone,
            actor=actor,
            address=address,
        )
    if change.disabled is not None and change.disabled != account.disabled:
        account = accounts.set_disabled(
            ledger, username, disabled=change.disabled, actor=actor, address=address
        )
    return AccountOut.of(account)


@router.post(
    "/{username}/password",
    summary="Set a new password (generated unless given; answered once); its sessions end",
)
def reset_password(
    state: State,
    access: Scoped,
    request: Request,
    username: Username,
    new: Annotated[PasswordResetIn | None, Body()] = None,
) -> AccountPasswordOut:
    given = new.password if new is not None else None
    account, password = accounts.reset_password(
        state.store.ledger,
        username,
        password=given,
        actor=access.caller.account.username,
        address=address_of(request),
        settings=state.auth,
    )
    return AccountPasswordOut(account=AccountOut.of(account), password=None if given else password)
