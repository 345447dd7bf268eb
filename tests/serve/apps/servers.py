"""web_server endpoints for tests/serve/test_web_server.py; ports come from the test's environment."""

import json
import os
import threading

import toolkit

app = toolkit.App("servers")
PORT_A = int(os.environ.get("SERVERS_PORT_A", "8000"))
PORT_B = int(os.environ.get("SERVERS_PORT_B", "8001"))
PORT_C = int(os.environ.get("SERVERS_PORT_C", "8002"))


def make_asgi(name: str):
    async def asgi(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                await send({"type": "websocket.send", "text": f"{name}: {message.get('text')}"})
        if scope["type"] != "http":
            return
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        body = json.dumps({"name": name, "path": scope["path"], "query": scope["query_string"].decode(),
                           "xff": headers.get("x-forwarded-for"), "host": headers.get("host"),
                           "received": size}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return asgi


def start_server(name: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(make_asgi(name), host="0.0.0.0", port=port, log_level="warning", lifespan="off")
    threading.Thread(target=uvicorn.Server(config).run, daemon=True).start()


@app.function()
@toolkit.concurrent(max_inputs=20)
@toolkit.web_server(PORT_A, startup_timeout=10)
def echo():
    start_server("echo", PORT_A)


@app.function()
@toolkit.web_server(PORT_B, startup_timeout=1)
def never_listens():
    pass  # forgot to start the server


@app.cls()
@toolkit.concurrent(max_inputs=20)
class Named:
    name: str = toolkit.parameter(default="first")

    @toolkit.web_server(PORT_C, startup_timeout=10)
    def serve(self):
        start_server(self.name, PORT_C)
