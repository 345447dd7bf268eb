"""Helpers for the deploy tests: run the real CLI in a subprocess with a chosen PATH and
environment; drive the FAKE pulumi (tests/deploy/fake_pulumi/pulumi).

Imported by basename (`from deploy_helpers import ...`), as tests/infra does with infra_mocks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FAKE_PULUMI_DIR = Path(__file__).parent / "fake_pulumi"
PYTHON_BIN = Path(sys.executable).parent
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def base_env(tmp_path: Path, path: list[Path]) -> dict[str, str]:
    """A clean environment: no AWS settings from this machine, an isolated TOOLKIT_HOME."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "TOOLKIT_", "LOCALSTACK"))}
    env.update(PATH=os.pathsep.join(str(p) for p in path), HOME=str(tmp_path / "home"),
               TOOLKIT_HOME=str(tmp_path / "toolkit-home"), AWS_CONFIG_FILE=str(empty),
               AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1",
               COLUMNS="200")
    return env


def no_pulumi_path(tmp_path: Path) -> list[Path]:
    """PATH with Python and the system tools, where `pulumi` cannot be found."""
    path = [PYTHON_BIN, Path("/usr/bin"), Path("/bin")]
    assert shutil.which("pulumi", path=os.pathsep.join(map(str, path))) is None
    return path


def run_cli(args: list[str], env: dict[str, str], cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # Progress lines ("==> ...") may come first; the error itself is the last line, and one line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.startswith(("==>", "    ", "  ")) for line in lines[:-1]), result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@dataclass
class FakePulumi:
    """The fake `pulumi` on PATH, its scenario and what it recorded."""

    dir: Path
    env: dict[str, str]

    def scenario(self, **values: Any) -> None:
        (self.dir / "scenario.json").write_text(json.dumps(values))

    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "state" / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls()]

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.dir / "state" / "state.json").read_text()))

    def config_sets(self) -> list[dict[str, str]]:
        """Every `config set-all` as a dict of the values it set."""
        sets = []
        for argv in self.commands():
            if argv[:2] == ["config", "set-all"]:
                sets.append(dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--plaintext"))
        return sets

    def stack_resources(self, qualified: str) -> list[list[str]]:
        return list(self.state()["stacks"][qualified].get("resources", []))

    def run(self, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env, cwd)

    def reset_calls(self) -> None:
        (self.dir / "state" / "calls.jsonl").unlink(missing_ok=True)


def read_manifest(config: dict[str, str]) -> dict[str, Any]:
    """The manifest a `config set-all` gave the program: a deploy passes the path of a file."""
    value = config["toolkit:manifest"]
    assert not value.lstrip().startswith("{"), "the manifest belongs in a file, not on a command line"
    return dict(json.loads(Path(value).read_text()))


def write_images(path: Path, tags_digests: dict[str, str], repo: str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/x") -> Path:
    path.write_text(json.dumps({tag: f"{repo}@{digest}" for tag, digest in tags_digests.items()}))
    return path


PRO_SERVICES = ("acm", "apigatewayv2", "autoscaling", "cloudfront", "dynamodb", "ec2", "ecr", "ecs", "elbv2", "iam",
                "lambda", "logs", "route53", "s3", "secretsmanager", "ssm", "stepfunctions", "sts")
# What LocalStack's free edition lists (it has no ECR, API Gateway v2, ECS, ELBv2 or CloudFront).
COMMUNITY_SERVICES = ("acm", "autoscaling", "dynamodb", "ec2", "iam", "lambda", "logs", "route53", "s3",
                      "secretsmanager", "ssm", "stepfunctions", "sts")


Reply = tuple[int, dict[str, str], bytes]  # status, headers, body


class LoopbackServer:
    """Real HTTP on 127.0.0.1, served by a thread: each request of a method in ``methods`` is
    answered by ``answer``; any other method gets 501, as http.server answers one it lacks."""

    methods: tuple[str, ...] = ("GET",)

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                if self.command not in owner.methods:
                    self.send_error(501)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, out = owner.answer(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(out))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _handle  # noqa: N815 (http.server's names)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # shutdown() returns at the loop's next poll: 0.5 s by default, at every teardown
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class HealthServer(LoopbackServer):
    """Answers ``GET /_localstack/health`` with ``{"edition", "services": {name: "available"}}``;
    anything else 404."""

    def __init__(self, edition: str = "pro", services: tuple[str, ...] = PRO_SERVICES) -> None:
        self.edition, self.services = edition, services
        super().__init__()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path.split("?")[0] != "/_localstack/health":
            return 404, {}, b"not a LocalStack endpoint"
        health = {"edition": self.edition, "version": "4.0.0", "services": {name: "available" for name in self.services}}
        return 200, {"Content-Type": "application/json"}, json.dumps(health).encode()


Route = Reply


class RouteServer(LoopbackServer):
    """A stand-in for deployed URLs: each path answers a fixed (status, headers, body), the way a
    function, API Gateway, an ALB or CloudFront would."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        super().__init__()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        return self.routes.get(path, (404, {}, b"no such route in the test"))


class ServiceQuotasServer(LoopbackServer):
    """A stand-in for the Service Quotas API (moto implements only VPC quotas): the JSON protocol
    botocore speaks (``X-Amz-Target: ServiceQuotasV20190624.<Operation>``), answering
    GetServiceQuota from ``applied`` and GetAWSDefaultServiceQuota from ``defaults``, keyed by
    (service code, quota code); anything else is NoSuchResourceException, as AWS answers."""

    methods = ("POST",)

    def __init__(self, applied: dict[tuple[str, str], float], defaults: dict[tuple[str, str], float]) -> None:
        self.applied, self.defaults = applied, defaults
        self.requests: list[tuple[str, Any]] = []
        super().__init__()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        operation = headers.get("X-Amz-Target", "").rpartition(".")[2]
        request = json.loads(body or b"{}")
        self.requests.append((operation, request))
        table = {"GetServiceQuota": self.applied, "GetAWSDefaultServiceQuota": self.defaults}.get(operation)
        key = (request.get("ServiceCode"), request.get("QuotaCode"))
        if table is None or key not in table:
            return self._json(400, {"__type": "NoSuchResourceException", "message": f"no quota {key}"})
        return self._json(200, {"Quota": {"ServiceCode": key[0], "QuotaCode": key[1], "Value": table[key]}})

    @staticmethod
    def _json(status: int, data: dict[str, Any]) -> Reply:
        return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(data).encode()


class RecordingPublisher:
    """Stands in for the image builder (it needs the stack's registry): records the repository it was given,
    returns digests."""

    needs_registry = True

    def __init__(self) -> None:
        self.repositories: list[str | None] = []

    def publish(self, manifest: dict[str, Any], repository_url: str | None, report: Any) -> dict[str, str]:
        self.repositories.append(repository_url)
        report("built 1 image")
        return {fn["tag"]: f"{repository_url}@{DIGEST_B}" for fn in manifest["functions"]}


def in_process_deployer(fake: FakePulumi, monkeypatch: Any, app: Path) -> tuple[Any, Any, RecordingPublisher]:
    """A quiet `Deployer` in this process, with the fake pulumi's environment and a `RecordingPublisher`
    injected; the loaded ``app`` it deploys; the publisher."""
    from toolkit.deploy.deployer import Deployer, DeployOptions, load_app_for_deploy
    from toolkit.deploy.progress import Progress
    from toolkit.loader import load_app

    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    publisher = RecordingPublisher()
    deployer = Deployer(DeployOptions(), Progress(quiet=True), publisher)
    return deployer, load_app_for_deploy(load_app(str(app)), DeployOptions()), publisher
