"""Platform names served through a real ``toolkit serve`` (issue 22): the deprecated ``@web_endpoint``
(a DeprecationWarning, then exactly ``@fastapi_endpoint``) and ``@app.server`` classes."""

from __future__ import annotations

import pytest
from serve.serving import APPS, REPO, free_port, served

import toolkit
from toolkit.exception import NotSupportedError

pytestmark = pytest.mark.timeout(120)


def test_web_endpoint_warns_and_serves_like_fastapi_endpoint() -> None:
    with pytest.warns(DeprecationWarning, match="renamed to @toolkit.fastapi_endpoint"):
        decorator = toolkit.web_endpoint(method="GET")
    web = decorator(lambda: "x").web
    assert web is not None and web.kind == "fastapi_endpoint"
    with served(APPS / "deprecated_names.py") as server:
        answer = server.client("old-hello").post("/", json={"name": "parity"})
        assert answer.status_code == 200 and answer.json() == {"hello": "parity"}
        assert server.client("old-hello").get("/").status_code == 405  # method="POST" was kept


def test_app_server_serves_what_enter_started_and_requires_auth_by_default() -> None:
    ports = {"SERVER_OPEN_PORT": str(free_port()), "SERVER_GUARDED_PORT": str(free_port()),
             "SERVER_FLASH_PORT": str(free_port())}
    with served(APPS / "server_classes.py", env=ports) as server:
        answer = server.client("servers-cls-open-serve").get("/some/path")
        assert answer.status_code == 200 and answer.text == "open, started in enter /some/path"
        assert server.client("servers-cls-guarded-serve").get("/").status_code == 401  # no Toolkit-Key
        flash = server.client("servers-cls-flash-serve").get("/flash/path")  # experimental.http_server: public
        assert flash.status_code == 200 and flash.text == "flash /flash/path", flash.text
        urls = toolkit.Cls.from_name("servers-cls", "Flash")._experimental_get_flash_urls()  # found through the serve
        assert urls == ["http://" + server.host("servers-cls-flash-serve")], urls


def test_server_class_example() -> None:
    with served(REPO / "examples" / "server_class.py", env={"SERVER_CLASS_PORT": str(free_port())}) as server:
        body = server.client("server-class-greeter-serve").get("/hi").json()
    assert body["greeting"] == "hello" and body["path"] == "/hi"


def test_experimental_http_server_keeps_the_classes_concurrency_warns_and_names_a_bad_port() -> None:
    app = toolkit.App("flash-options")
    start = toolkit.enter()(lambda self: None)
    with pytest.warns(toolkit.exception.NotSupportedWarning, match=r"http_server\(h2_enabled=True\) has no effect"):
        made = toolkit.experimental.http_server(port=8000, h2_enabled=True)(
            toolkit.concurrent(max_inputs=7)(type("Kept", (), {"start": start})))
    assert made.__toolkit_concurrent__ == (7, None)
    app.cls()(made)
    with pytest.raises(toolkit.InvalidError, match=r"http_server\(port=None\): give the port"):
        toolkit.experimental.http_server()(type("NoPort", (), {"start": start}))


def test_app_server_misuse_names_the_fix() -> None:
    app = toolkit.App("servers-misuse")
    with pytest.raises(toolkit.InvalidError, match=r"no @toolkit.enter\(\) method"):
        app.server(port=8000)(type("NoEnter", (), {}))
    with pytest.raises(toolkit.InvalidError, match="exposes hello; a server serves only"):
        app.server(port=8000)(type("WithMethod", (), {"start": toolkit.enter()(lambda self: None),
                                                      "hello": toolkit.method()(lambda self: 1)}))
    with pytest.raises(NotSupportedError, match="rename the class"):
        app.server(port=8000, name="other")


def test_an_included_apps_endpoint_is_served_as_the_including_apps() -> None:
    with served(APPS / "including.py") as server:
        assert server.client("whole-own").get("/").json() == "own"
        assert server.client("whole-greet").get("/?name=split").json() == {"hello": "split"}


def test_app_stop_and_dashboard_url_act_on_the_apps_local_serve() -> None:
    with served(APPS / "deprecated_names.py") as server:
        assert server.client("old-hello").post("/", json={"name": "x"}).status_code == 200
        assert toolkit.App("aliases").get_dashboard_url() == f"http://localhost:{server.port}/"
        toolkit.App("aliases").stop()  # returns once the serve has exited
        assert server.proc.poll() is not None
        with pytest.raises(toolkit.NotFoundError, match="no local serve of app 'aliases'.*toolkit destroy"):
            toolkit.App("aliases").stop()
        with pytest.raises(toolkit.NotFoundError, match="not being served.*toolkit url"):
            toolkit.App("aliases").get_dashboard_url()
