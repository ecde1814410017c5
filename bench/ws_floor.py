#!/usr/bin/env python3
"""The fan-out client's floor: a broadcaster that does nothing else.

Speaks just enough of API.md for ../shared/bench/load/ws_fanout.py (POST /api/auth/login,
PATCH /api/admin/variants/{sku}, WebSocket /ws/stock) with no database, no auth check and no
filtering: a PATCH is written to every open socket at once. The latency the client measures
against it is the client's own cost (one asyncio loop for every socket), which bounds what it can
show for any real server on this machine.

usage: uvicorn --app-dir bench ws_floor:app --host 127.0.0.1 --port PORT --loop uvloop --http httptools
"""
import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sockets: set[WebSocket] = set()
seq = 0


async def healthz(_: Request):
    return PlainTextResponse("ok")


async def login(_: Request):
    return JSONResponse({"access_token": "floor", "refresh_token": "floor", "token_type": "Bearer", "expires_in": 900})


async def patch(request: Request):
    global seq
    body = await request.json()
    sku = request.path_params["sku"]
    seq += 1
    text = json.dumps({"type": "stock", "sku": sku, "stock": body["stock"], "seq": seq})
    await asyncio.gather(*(ws.send_text(text) for ws in list(sockets)), return_exceptions=True)
    return JSONResponse({"sku": sku, "title": sku, "price_cents": 0, "stock": body["stock"]})


async def stock_socket(ws: WebSocket):
    await ws.accept()
    sockets.add(ws)
    try:
        while True:
            await ws.receive_text()  # subscribe messages: ignored (every client gets everything)
    except WebSocketDisconnect:
        pass
    finally:
        sockets.discard(ws)


app = Starlette(routes=[
    Route("/healthz", healthz),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/admin/variants/{sku}", patch, methods=["PATCH"]),
    WebSocketRoute("/ws/stock", stock_socket),
])
