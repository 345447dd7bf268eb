"""WebSockets on an ASGI app: one connection, one function call, state kept per connection."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("ws-demo", image=image)


@app.function(backend="ecs")
@toolkit.concurrent(max_inputs=100)
@toolkit.asgi_app()
def chat():
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    web_app = FastAPI()

    @web_app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        count = 0
        try:
            while True:
                message = await websocket.receive_text()
                count += 1
                await websocket.send_text(f"{count}: {message}")
        except WebSocketDisconnect:
            pass

    return web_app
