"""Platform names that have a toolkit meaning (issue 22 item 3) which is not built yet: a static
egress IP (`Proxy`), S3 buckets at a path (`CloudBucketMount`) and the deprecated `NetworkFileSystem`.  Until each is built it resolves and refuses when used,
naming what works now (`toolkit.unsupported`); docs/parity.md lists it "not supported".  `Server`
is here too: on toolkit ``@app.server`` (`toolkit.servers`) returns a `Cls`, never a `Server`."""

from __future__ import annotations

from typing import Any

from toolkit.unsupported import UnsupportedClass, refusal


class Proxy(UnsupportedClass):
    """A static outbound IP address for the functions that ask for it."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Proxy (a static egress IP)", "toolkit does not provision the NAT gateway with an Elastic "
        "IP yet", "attach a NAT gateway with an Elastic IP to the VPC your functions run in, and leave "
        "proxy= unset")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class CloudBucketMount(UnsupportedClass):
    """An S3 bucket mounted at a path of the container."""

    __toolkit_not_supported__ = refusal(
        "toolkit.CloudBucketMount", "mounting an S3 bucket at a path is not built yet", "use a "
        "toolkit.Volume (an S3-backed volume when deployed), or read the bucket with boto3 in the function")

    def __init__(self, bucket_name: str, bucket_endpoint_url: str | None = None, key_prefix: str | None = None,
                 secret: Any = None, oidc_auth_role_arn: str | None = None, read_only: bool = False,
                 requester_pays: bool = False, force_path_style: bool = False) -> None: ...


class NetworkFileSystem(UnsupportedClass):
    """The platform's deprecated shared file system (it recommends Volume)."""

    __toolkit_not_supported__ = refusal(
        "toolkit.NetworkFileSystem", "the hosted platform deprecated it in favour of Volume, and toolkit "
        "never had it", "use toolkit.Volume.from_name(name, create_if_missing=True) and volumes={path: vol}")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class Server(UnsupportedClass):
    """The object ``@app.server`` makes on the platform; on toolkit that decorator returns a `Cls`."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Server()", "toolkit's servers come from the @app.server decorator, not from the class",
        "decorate a class whose @toolkit.enter() method starts the HTTP server with @app.server(port=...)")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
