"""Protecting endpoints: proxy auth tokens (Toolkit-Key / Toolkit-Secret headers) or a Bearer token.

    toolkit secret create my-web-auth-token AUTH_TOKEN=secret-random-token
    toolkit token create
"""

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("auth-example", image=image)
auth_scheme = HTTPBearer()


@app.function()
@toolkit.fastapi_endpoint(requires_proxy_auth=True)
def protected():
    return "you are in"


@app.function(secrets=[toolkit.Secret.from_name("my-web-auth-token")])
@toolkit.fastapi_endpoint()
async def bearer(request: Request, token: HTTPAuthorizationCredentials = Depends(auth_scheme)):
    import os

    if token.credentials != os.environ["AUTH_TOKEN"]:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "success!"


@app.function()
@toolkit.fastapi_endpoint()
def get_ip_address(request: Request):
    return f"Your IP address is {request.client.host}"
