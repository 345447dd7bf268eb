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

GAPS: dict[str, str] = {}  # none open: every name resolves and every parameter is accepted by name

_ID = "an ID made from the name (toolkit issues no IDs); from_id finds it in any process sharing the store"

NOTES: dict[str, str] = {
    "web_endpoint": "@fastapi_endpoint under its old name, with a DeprecationWarning (the platform now refuses it)",
    "enter": "snap=True hooks run before the others, as on the platform; no memory snapshot is taken "
             "(toolkit's images do not implement Lambda SnapStart's snapshot/restore lifecycle; toolkit plan and "
             "deploy say so per function)",
    "FilePatternMatcher": "Docker's .dockerignore rules, as a predicate for ignore=",
    "forward": "locally a loopback Tunnel (http://127.0.0.1:<port>, no TLS, not public); a deployed function "
               "refuses and names @web_server",
    "App.app_id": "always None: toolkit names apps, it issues no IDs",
    "App.logs": "every function's lines merged in time order: locally this process's worker pools of the app; "
                "looked up (App.lookup), its functions' CloudWatch groups",
    "App.stats": "every function's stats summed (percentiles left out): locally this process's pools of the app; "
                 "looked up, the call table and CloudWatch (ECS web services left out)",
    "App.deploy": "toolkit deploy of the file that defines the app (in a child process), returning the App; "
                  "environment_name is the toolkit environment; name= only the App's own; tag= is not recorded",
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
    "Sandbox.mount_image": "locally a copy of the image's files, the old contents restored by unmount_image; "
                           "refused on AWS",
    "Sandbox.logs": "the main command's lines from the container's log file (podman); on AWS its CloudWatch stream",
    "Sandbox.reload_volumes": "locally returns at once (local volumes are live directories); on AWS the agent "
                              "pulls other containers' commits into the task's copies",
    "Volume.info": "name and creation time from the volume store (created_by is None)",
    "CloudBucketMount": "a synced copy, not a mount: objects under key_prefix are downloaded before the function "
                        "runs, changes uploaded after each invocation (never with read_only, which says what it "
                        "kept); no secret: the function's role (granted that bucket/prefix) or your AWS profile",
    "NetworkFileSystem": "an alias of Volume storage (volume nfs.<name>) with the platform's DeprecationWarning; "
                         "mounted with network_file_systems=",
    "Proxy": "deployed: the function runs in private subnets whose NAT gateway holds the proxy's Elastic IP; "
             "locally a no-op that says so at the decorator",
    # Function / Cls / FunctionCall members (issue 22): the live side reads this process's local pools
    "Function.object_id": "fu-<app>:<tag>: toolkit names functions, it issues no IDs",
    "Function.from_id": "takes the fu-<app>:<tag> id of object_id and finds the function as from_name does",
    "Function.client": "always None: no API client",
    "Function.hydrate": "returns the function: a handle needs no lookup",
    "Function.info": "the decorator's options under the platform's field names (plus backend, max_inputs)",
    "Function.get_dashboard_url": "the dashboard of the local toolkit serve of its app (#function=<tag>); "
                                  "deployed, the AWS console page of its Lambda or state machine",
    "Function.stats": "counts over [since, until) from this handle's worker pool in this process (all_variants: all); "
                      "container= is refused; deployed: the call table's records and the Lambda's CloudWatch "
                      "metrics (toolkit/cloud_stats.py: fields AWS cannot give are 0)",
    "Function.get_current_stats": "this handle's worker pool in this process right now (plus num_idle_runners); "
                                  "deployed: pending calls and running inputs (call table / ConcurrentExecutions)",
    "Function.update_autoscaler": "changes this process's pool bounds live (min/max/buffer containers, "
                                  "scaledown window); deployed: provisioned/reserved concurrency of its Lambda or "
                                  "its ECS service's scaling range, until the next toolkit deploy",
    "Function.autoscaler": "settings()/update() over update_autoscaler",
    "Function.logs": "tail/fetch/stream of the lines this process's workers printed (Python-level writes); "
                     "deployed: its CloudWatch group (a Lambda's from its ARN, ECS/GPU from the call map)",
    "Cls.object_id": "cs-<app>:<class>: toolkit names classes, it issues no IDs",
    "Cls.client": "always None: no API client",
    "Cls.hydrate": "returns the class: a handle needs no lookup",
    "Cls.get_dashboard_url": "the dashboard of the local toolkit serve of its app (#class=<name>); deployed: "
                             "its first method's AWS console page",
    "FunctionCall.client": "always None: no API client",
    "FunctionCall.hydrate": "returns the call: a handle needs no lookup",
    "FunctionCall.get_dashboard_url": "its /api/calls/<id> page on the local toolkit serve of its app",
    "FunctionCall.logs": "tail/fetch/stream of what this process's workers printed for the call",
    "FunctionCall.cancel": "an input blocked outside Python stops with its worker after 1 s (at once with "
                           "terminate_containers=True; the worker's other inputs run again); from another "
                           "process, the owner acts within about a second; refused inside a deployed function",
    "FunctionCall.get_call_graph": "the call and the calls spawned while it ran (what .remote/.map start is "
                                   "not stored); spawned calls hang under the first input of their parent",
}
