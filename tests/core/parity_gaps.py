"""The one reviewed place for parity exceptions (issue 22), read by tests/core/test_parity.py and by
tests/core/parity.py (which renders docs/parity.md).

GAPS: what does not resolve yet, or is not accepted by name yet, each with the reason.  A key is a
name (``"Function.for_each"``) or a name with one parameter (``"Function.map(wrap_returned_exceptions)"``,
``"Image(*args)"``).  test_parity fails when a gap appears that is not listed here, and when a listed
gap has closed, so this list only shrinks: delete the line when the name lands.

NOTES: names that work with a toolkit meaning that differs from the platform's, in one line each
(the "works (toolkit meaning)" rows of docs/parity.md).
"""

from __future__ import annotations

_WRAPPER = ("the platform's constructor is its sync wrapper's (*args, **kwargs); programs get these "
            "objects from decorators and factories, never by calling the class")
_CALLS = "issue 16 (call surface): Function/Cls/FunctionCall members, built by another helper"


def _group(reason: str, *keys: str) -> dict[str, str]:
    return dict.fromkeys(keys, reason)


GAPS: dict[str, str] = {
    **_group(_WRAPPER, "Cls(*args)", "Cls(**kwargs)", "Function(*args)", "Function(**kwargs)",
             "FunctionCall(*args)", "FunctionCall(**kwargs)", "Image(*args)", "Image(**kwargs)",
             "Sandbox(*args)", "Sandbox(**kwargs)", "Secret(*args)", "Secret(**kwargs)",
             "Volume(*args)", "Volume(**kwargs)", "NetworkFileSystem(*args)", "NetworkFileSystem(**kwargs)",
             "Proxy(*args)", "Proxy(**kwargs)"),
    **_group(_CALLS, "Cls.client", "Cls.from_name(version)", "Cls.get_dashboard_url", "Cls.hydrate",
             "Cls.object_id", "Function.app", "Function.autoscaler", "Function.client",
             "Function.experimental_spawn_map", "Function.for_each", "Function.from_id",
             "Function.from_name(version)", "Function.get_current_stats", "Function.get_dashboard_url",
             "Function.hydrate", "Function.info", "Function.logs", "Function.map(wrap_returned_exceptions)",
             "Function.metrics", "Function.object_id", "Function.spawn_map", "Function.starmap(input_iterator)",
             "Function.starmap(wrap_returned_exceptions)", "Function.stats", "Function.update_autoscaler",
             "FunctionCall.cancel", "FunctionCall.client", "FunctionCall.from_id(function_call_id)",
             "FunctionCall.from_id(client)", "FunctionCall.get_call_graph",
             "FunctionCall.get_dashboard_url", "FunctionCall.hydrate", "FunctionCall.iter",
             "FunctionCall.logs", "FunctionCall.num_inputs"),
}

_ID = "an ID made from the name (toolkit issues no IDs); from_id finds it in any process sharing the store"

NOTES: dict[str, str] = {
    "web_endpoint": "@fastapi_endpoint under its old name, with a DeprecationWarning (the platform now refuses it)",
    "enter": "snap=True hooks run before the others, as on the platform; no memory snapshot is taken "
             "(Lambda SnapStart does not cover container images)",
    "FilePatternMatcher": "Docker's .dockerignore rules, as a predicate for ignore=",
    "forward": "locally a loopback Tunnel (http://127.0.0.1:<port>, no TLS, not public); a deployed function "
               "refuses and names @web_server",
    "App.app_id": "always None: toolkit names apps, it issues no IDs",
    "App.server": "an @app.cls whose web_server method `serve` (label <app>-<class>-serve) exposes the server "
                  "@enter started; proxy auth unless unauthenticated=True",
    "App.stop": "stops the app's local serves on this machine (toolkit app stop); a deployed app is removed "
                "with toolkit destroy",
    "App.get_dashboard_url": "the index page of the app's local serve (toolkit serve); for a deployed endpoint, "
                             "toolkit url",
    "App.include": "what is included becomes this app's (labels <this app>-<fn>); call it at the top level of "
                   "this app's file (workers import that module to find included functions)",
    "App.get_tags": "tags live on the App object in this process; not applied to AWS resources yet",
    "App.set_tags": "tags live on the App object in this process; not applied to AWS resources yet",
    "Dict.object_id": _ID,
    "Dict.from_id": _ID,
    "Dict.client": "always None: no API client",
    "Dict.info": "name and creation time from the store (created_by is None)",
    "Queue.object_id": _ID,
    "Queue.from_id": _ID,
    "Queue.client": "always None: no API client",
    "Queue.info": "name and creation time from the store (created_by is None)",
    "Image.build": "builds the image's local (uv) environment that serve/run workers use; containers: toolkit "
                   "build",
    "Image.object_id": "im-<spec hash>: an image is its spec",
    "Image.hydrate": "returns the image: a spec needs no lookup",
    "Image.client": "always None: no API client",
    "Secret.from_dotenv": "path is the .env file or its directory; parent directories are not searched",
    "Secret.update": "changes the local store; the deployed copy is set with `toolkit secret create --target aws`",
    "Secret.info": "local store: name and file time",
    "Secret.objects": "the local secret store",
    "Secret.object_id": "st-<name>: toolkit names secrets, it issues no IDs",
    "Secret.client": "always None: no API client",
    "Sandbox.client": "always None: no API client",
    "Sandbox.hydrate": "returns the handle: it needs no lookup (client must stay None)",
    "Volume.info": "name and creation time from the volume store (created_by is None)",
    "CloudBucketMount": "a synced copy, not a mount: objects under key_prefix are downloaded before the function "
                        "runs, changes uploaded after each invocation (never with read_only, which says what it "
                        "kept); no secret: the function's role (granted that bucket/prefix) or your AWS profile",
    "NetworkFileSystem": "an alias of Volume storage (volume nfs.<name>) with the platform's DeprecationWarning; "
                         "mounted with network_file_systems=",
    "Proxy": "deployed: the function runs in private subnets whose NAT gateway holds the proxy's Elastic IP; "
             "locally a no-op that says so at the decorator",
}
