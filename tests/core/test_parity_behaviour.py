"""Issue 22's "what must hold", for rows of docs/parity.md no other test exercised, and item 4: options
that cannot be honoured (``cloud="gcp"``, a region no AWS deploy has) are refused at decoration time,
naming the option and the value.

(Sandbox.detach, the other such row, needs a container: tests/sandboxes/test_sandbox_detach.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from core_helpers import REPO

import toolkit
from toolkit.exception import InvalidError, NotSupportedError

pytestmark = pytest.mark.timeout(120)


# -- item 4: cloud= and region= at the decorator ------------------------------------------------------

@pytest.mark.parametrize("decorate", [
    lambda app, kw: app.function(**kw)(lambda: None),
    lambda app, kw: app.cls(**kw),
    lambda app, kw: app.function(name="base")(lambda: None).with_options(**kw),
], ids=["app.function", "app.cls", "with_options"])
@pytest.mark.parametrize(("option", "pattern"), [
    ({"cloud": "gcp"}, r"cloud='gcp'\): toolkit runs on AWS; remove cloud="),
    ({"region": "us-central1"}, r"region='us-central1'\): no AWS region is 'us-central1'.*AWS has us-east, us-west\)"
                                r".*e\.g\. region='us-east-1'"),
    ({"region": ["us-east", "uk"]}, r"region=\['us-east', 'uk'\]\): no AWS region is 'uk'.*or remove region="),
    ({"region": "europe-west4"}, r"region='europe-west4'\): no AWS region is 'europe-west4'"),
])
def test_options_no_aws_deploy_can_honour_are_refused_at_decoration(decorate: Any, option: dict[str, Any],
                                                                     pattern: str) -> None:
    with pytest.raises(InvalidError, match=pattern):
        decorate(toolkit.App("unhonoured"), option)


@pytest.mark.parametrize("region", ["us", "eu-west", "eu-west-1", ["us-east", "eu-west-1"], "US-EAST-1", "us-gov-west-1"])
def test_aws_regions_and_their_prefixes_pass_the_decorator(region: Any) -> None:
    fn = toolkit.App("regional").function(region=region)(lambda: None)
    wanted = (region,) if isinstance(region, str) else tuple(region)
    assert fn.spec.regions == tuple(r.lower() for r in wanted)  # the deploy checks them against its region


def test_sandbox_create_refuses_cloud_and_region_before_starting_anything() -> None:
    app = toolkit.App.lookup("parity-sandbox-options", create_if_missing=True)
    with pytest.raises(NotSupportedError, match=r"Sandbox\.create\(cloud='gcp'\).*Instead, leave cloud unset"):
        toolkit.Sandbox.create("true", app=app, cloud="gcp")
    with pytest.raises(NotSupportedError, match=r"Sandbox\.create\(region='us-central1'\).*leave region unset"):
        toolkit.Sandbox.create("true", app=app, region="us-central1")


def test_a_refused_region_stops_toolkit_run_naming_the_value(tmp_path: Path) -> None:
    """Through the CLI: the refusal surfaces when the module is imported, before any worker starts."""
    app_file = tmp_path / "gcp_region.py"
    app_file.write_text(textwrap.dedent("""\
        import toolkit
        app = toolkit.App("gcp-region")

        @app.function(region="us-central1")
        def f() -> int:
            return 1

        @app.local_entrypoint()
        def main() -> None:
            print("ran", f.remote())
    """))
    done = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", str(app_file)], cwd=REPO,
                          capture_output=True, text=True, timeout=90, env=dict(os.environ))
    assert done.returncode != 0 and "ran" not in done.stdout
    assert "region='us-central1'" in done.stderr and "no AWS region" in done.stderr, done.stderr


# -- "works" rows no other test exercised --------------------------------------------------------------

def test_image_pipe_applies_the_function_and_keeps_chaining() -> None:
    def with_tools(image: toolkit.Image) -> toolkit.Image:
        return image.apt_install("git").env({"TOOLS": "1"})

    piped = toolkit.Image.debian_slim().pipe(with_tools).pip_install("requests")
    direct = toolkit.Image.debian_slim().apt_install("git").env({"TOOLS": "1"}).pip_install("requests")
    assert piped == direct
    assert [s["op"] for s in piped.steps] == ["apt_install", "env", "pip_install"]


def test_image_from_gcp_artifact_registry_is_a_registry_base() -> None:
    ref = "us-docker.pkg.dev/project/repo/image:tag"
    assert toolkit.Image.from_gcp_artifact_registry(ref) == toolkit.Image.from_registry(ref)
    assert toolkit.Image.from_gcp_artifact_registry(ref).base["ref"] == ref


# -- variants of classes (and a function's with_concurrency), through real workers ---------------------

@pytest.fixture(scope="module")
def variants() -> Any:
    apps = str(REPO / "tests" / "fixtures" / "apps")
    sys.path.insert(0, apps)
    try:
        import parity_variants_app

        yield parity_variants_app
    finally:
        sys.path.remove(apps)


def _overlapping(intervals: list[tuple[int, float, float]]) -> bool:
    """Did every input start before the first one to finish had finished (all ran at once)?"""
    return max(start for _pid, start, _end in intervals) < min(end for _pid, _start, end in intervals)


def test_function_with_concurrency_runs_inputs_at_once_in_one_worker(variants: Any) -> None:
    alone = list(variants.napper.map(range(3)))
    assert len({pid for pid, _s, _e in alone}) == 1 and not _overlapping(alone)  # one worker, one input at a time
    together = list(variants.napper.with_concurrency(max_inputs=3).map(range(3)))
    assert len({pid for pid, _s, _e in together}) == 1 and _overlapping(together)


def test_cls_with_concurrency_runs_a_methods_inputs_at_once(variants: Any) -> None:
    alone = list(variants.Napper().nap.map(range(3)))
    assert not _overlapping(alone)
    together = list(variants.Napper.with_concurrency(max_inputs=3)().nap.map(range(3)))
    assert len({pid for pid, _s, _e in together}) == 1 and _overlapping(together)


def test_cls_with_batching_changes_the_batch_size_of_its_method(variants: Any) -> None:
    assert max(variants.Batcher().sizes.map([1, 2, 3, 4])) > 1  # the decorator's batches (up to 4)
    assert set(variants.Batcher.with_batching(max_batch_size=1, wait_ms=0)().sizes.map([1, 2, 3])) == {1}


def test_a_deployed_sandbox_takes_a_region_prefix_of_its_deploy_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sandbox.create(region=) on AWS agrees as @app.function(region=) does: the region or a prefix of it."""
    from toolkit.sandboxes.options import PlatformOptions

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for agreeing in ("us-east-1", "us-east", "us", ["eu-west-1", "US-EAST"]):
        PlatformOptions(region=agreeing).check("aws")
    with pytest.raises(NotSupportedError, match=r"region='us-west'\).*deploy region 'us-east-1'"):
        PlatformOptions(region="us-west").check("aws")
    with pytest.raises(NotSupportedError, match=r"region='us-east'\).*runs in this machine"):
        PlatformOptions(region="us-east").check("local")
