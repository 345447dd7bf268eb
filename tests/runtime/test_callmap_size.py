"""The call map against SSM's size limits: one parameter holds it, whatever the app's size."""

from __future__ import annotations

import base64
import hashlib
import re
import zlib

import botocore.session
import pytest

from runtime.callmap import ADVANCED_BYTES, COMPRESSED, STANDARD_BYTES, CallMap, CallMapError, MappedFunction

ACCOUNT, REGION = "123456789012", "eu-west-1"
WORDS = ["embed", "transcribe", "resize", "classify", "ingest", "notify", "render", "score", "train", "export",
         "crawl", "summarize", "translate", "detect", "index"]  # distinct names compress less than numbered ones


def app_map(functions: int, app: str = "a-rather-long-application-name") -> CallMap:
    """A call map shaped like a deploy's: every function a Lambda alias, a worker, a log group, options."""
    entries = {}
    for n in range(functions):
        tag = f"{WORDS[n % len(WORDS)]}_{WORDS[n * 7 % len(WORDS)]}_{hashlib.sha256(str(n).encode()).hexdigest()[:6]}"
        name = f"toolkit-{app}-prod-{tag}"[:64]
        entries[tag] = MappedFunction(
            tag, "function", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live",
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}-worker", None, False, None,
            f"/aws/lambda/{name}", {"cpu": 2.0, "memory": 4096, "timeout": 900, "max_containers": 10 + n})
    return CallMap(app, REGION, f"toolkit-{app}-prod-calls-7f3a9c", f"toolkit-{app}-prod-payloads-7f3a9c",
                   entries)


def test_ssm_limits_are_the_ones_botocore_states() -> None:
    doc = botocore.session.get_session().get_service_model("ssm").operation_model("PutParameter") \
        .input_shape.members["Value"].documentation
    assert re.search(r"Standard parameters have a value limit of (\d+) KB", doc).group(1) == str(STANDARD_BYTES // 1024)
    assert re.search(r"Advanced parameters have a value limit of (\d+) KB", doc).group(1) == str(ADVANCED_BYTES // 1024)


def test_a_small_app_is_stored_as_plain_json() -> None:
    value = app_map(3).dumps()
    assert value.startswith("{") and len(value) <= STANDARD_BYTES
    assert CallMap.loads(value, "p").document() == app_map(3).document()


@pytest.mark.parametrize("functions", [20, 60, 150])
def test_a_large_app_fits_one_advanced_parameter_and_reads_back_whole(functions: int) -> None:
    # before: the plain document of ~20 such functions already passed 8 KB, and the deploy failed at
    # PutParameter after every other resource was made
    cmap = app_map(functions)
    value = cmap.dumps()
    assert len(cmap.document()) > STANDARD_BYTES
    assert value.startswith(COMPRESSED) and len(value.encode()) <= ADVANCED_BYTES
    assert CallMap.loads(value, "p").document() == cmap.document()


def test_an_app_past_the_limit_is_refused_with_the_fix() -> None:
    with pytest.raises(CallMapError, match=r"3000 functions.*8192-byte limit.*split the app"):
        app_map(3000).dumps()


@pytest.mark.parametrize("value", [
    COMPRESSED + "not base64 at all!",
    COMPRESSED + base64.b64encode(zlib.compress(b'{"version": 1')[:-4]).decode(),  # cut off
    COMPRESSED + base64.b64encode(zlib.compress(b" " * (4 * 1024 * 1024))).decode(),  # inflates to 4 MiB
])
def test_a_corrupt_compressed_map_names_the_parameter_and_the_fix(value: str) -> None:
    with pytest.raises(CallMapError, match=r"/toolkit/x/y/call-map is not a toolkit call map.*redeploy"):
        CallMap.loads(value, "/toolkit/x/y/call-map")
