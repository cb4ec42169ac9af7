"""Flask blueprints and Starlette/FastAPI mounts and routers, requested in-process.

Run as ``python prefixed_routes_app.py TRACES``: instruments itself, sends one
request to each route, flushes the store.
"""

import sys
from pathlib import Path

import perfdoctor

perfdoctor.instrument(Path(sys.argv[1]))

from fastapi import APIRouter, FastAPI  # noqa: E402
from flask import Blueprint, Flask  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

flask_app = Flask(__name__)
api = Blueprint("api", __name__, url_prefix="/api/v1")
admin = Blueprint("admin", __name__, url_prefix="/admin")


@api.get("/posts/<int:post_id>")
def post(post_id: int) -> str:
    return "post"


@admin.get("/users/<name>")
def user(name: str) -> str:
    return "user"


api.register_blueprint(admin)
flask_app.register_blueprint(api)


async def endpoint(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


shop = Starlette(routes=[Route("/items/{item_id:int}", endpoint)])
starlette_app = Starlette(routes=[
    Mount("/shop", app=shop),
    Mount("/api", routes=[
        Route("/users/{uid}", endpoint),
        Mount("/files", routes=[Route("/{file_path:path}", endpoint)]),
    ]),
])

fastapi_app = FastAPI()
things = APIRouter(prefix="/v1")


@things.get("/things/{thing_id}")
def thing(thing_id: int) -> dict[str, int]:
    return {"id": thing_id}


widgets = FastAPI()


@widgets.get("/widgets/{widget_id}")
def widget(widget_id: int) -> dict[str, int]:
    return {"id": widget_id}


fastapi_app.include_router(things)
fastapi_app.mount("/sub", widgets)

client = flask_app.test_client()
for path in ("/api/v1/posts/3", "/api/v1/admin/users/bob"):
    assert client.get(path).status_code == 200, path
with TestClient(starlette_app) as test_client:
    for path in ("/shop/items/4", "/api/users/u1", "/api/files/a/b.txt"):
        assert test_client.get(path).status_code == 200, path
with TestClient(fastapi_app) as test_client:
    for path in ("/v1/things/3", "/sub/widgets/5"):
        assert test_client.get(path).status_code == 200, path
perfdoctor.flush()
perfdoctor.uninstrument()
