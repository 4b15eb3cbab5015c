"""API tokens: every signed-in account lists, creates and revokes its own (the value is in
the answer that creates it, never again: only its hash is stored); an admin lists and
revokes any account's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from gisgrid.api.deps import Scoped, State, address_of
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.routes.accounts import Username
from gisgrid.api.schemas import NewTokenIn, TokenCreatedOut, TokenOut
from gisgrid.services import accounts
from gisgrid.stores.ledger import Account, TokenRecord

router = APIRouter(tags=["tokens 令牌"], responses=COMMON_ERRORS)

TokenId = Annotated[int, Path(ge=1, le=2**62)]


def _out(token: TokenRecord, owner: Account) -> TokenOut:
    return TokenOut.of(token, username=owner.username, state=accounts.token_state(token))


@router.get("/api/tokens", summary="My API tokens (never their values)")
def my_tokens(state: State, access: Scoped) -> list[TokenOut]:
    me = access.caller.account
    return [_out(t, me) for t in accounts.list_tokens(state.store.ledger, owner=me)]


@router.post(
    "/api/tokens", status_code=201, summary="Create an API token for me (its value: only here)"
)
def create_my_token(
    state: State, access: Scoped, request: Request, new: NewTokenIn
) -> TokenCreatedOut:
    me = access.caller.account
    record, value = accounts.create_token(
        state.store.ledger,
        me,
        name=new.name,
        days=new.days,
        actor=me.username,
        address=address_of(request),
        settings=state.auth,
    )
    return TokenCreatedOut(token=_out(record, me), value=value)


@router.delete("/api/tokens/{token_id}", summary="Revoke one of my API tokens")
def revoke_my_token(state: State, access: Scoped, request: Request, token_id: TokenId) -> TokenOut:
    me = access.caller.account
    record = accounts.revoke_token_of(
        state.store.ledger,
        token_id,
        owner=me,
        actor=me.username,
        address=address_of(request),
    )
    return _out(record, me)


@router.get("/api/accounts/{username}/tokens", summary="An account's API tokens (admin)")
def account_tokens(state: State, access: Scoped, username: Username) -> list[TokenOut]:
    ledger = state.store.ledger
    owner = accounts.get_account(ledger, username)
    return [_out(t, owner) for t in accounts.list_tokens(ledger, owner=owner)]


@router.delete(
    "/api/accounts/{username}/tokens/{token_id}", summary="Revoke an account's API token (admin)"
)
def revoke_account_token(
    state: State, access: Scoped, request: Request, username: Username, token_id: TokenId
) -> TokenOut:
    ledger = state.store.ledger
    owner = accounts.get_account(ledger, username)
    record = accounts.revoke_token_of(
        ledger,
        token_id,
        owner=owner,
        actor=access.caller.account.username,
        address=address_of(request),
    )
    return _out(record, owner)
