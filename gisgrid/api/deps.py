"""Dependencies of the routes, in one place."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gisgrid.api.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.gisgrid
    return state


State = Annotated[AppState, Depends(get_state)]
