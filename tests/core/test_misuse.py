"""Every misuse DESIGN.md §3 lists fails at decoration time, naming the value and the fix."""

from __future__ import annotations

import pytest

import toolkit
from toolkit.exception import InvalidError


def raises(match: str):
    return pytest.raises(InvalidError, match=match)


@pytest.fixture
def app() -> toolkit.App:
    return toolkit.App("misuse")


@pytest.mark.parametrize("decorator", [toolkit.asgi_app(), toolkit.wsgi_app(), toolkit.web_server(8000)])
def test_web_app_functions_take_no_parameters(decorator) -> None:
    def factory(x):
        return x

    with raises(r"'factory' takes parameters \(x\); it must take none.*toolkit.parameter"):
        decorator(factory)


@pytest.mark.parametrize("decorator", [toolkit.asgi_app(), toolkit.wsgi_app()])
def test_async_app_factory_is_rejected(decorator) -> None:
    async def factory():
        return None

    with raises(r"'factory' is async; make it a plain 'def' that returns the app"):
        decorator(factory)


def test_async_web_server_is_rejected() -> None:
    async def serve():
        return None

    with raises(r"'serve' is async; make it a plain 'def' that starts the server"):
        toolkit.web_server(8000)(serve)


def test_web_decorator_above_app_function(app: toolkit.App) -> None:
    @app.function()
    def f():
        return 1

    with raises(r"@toolkit.fastapi_endpoint is above @app.function on 'f'.*below @app.function"):
        toolkit.fastapi_endpoint()(f)


@pytest.mark.parametrize("port", [0, 65536, -1, "8000", True])
def test_port_outside_range(port) -> None:
    with raises(rf"web_server port {port!r} is not a TCP port; use an int from 1 to 65535"):
        toolkit.web_server(port)


def test_target_inputs_above_max_inputs() -> None:
    with raises(r"target_inputs=20\) is above max_inputs=10"):
        toolkit.concurrent(max_inputs=10, target_inputs=20)


def test_remote_on_a_web_function_points_at_the_url(app: toolkit.App) -> None:
    @app.function()
    @toolkit.fastapi_endpoint()
    def page():
        return "hi"

    for call in (page.remote, page.spawn, lambda: list(page.map([1]))):
        with raises(r"'page' is a web endpoint.*Send it HTTP requests at its URL.*\.local\(\)"):
            call()
    assert page.local() == "hi"


@pytest.mark.parametrize("name,decorator", [
    ("toolkit.fastapi_endpoint", toolkit.fastapi_endpoint),
    ("toolkit.asgi_app", toolkit.asgi_app),
    ("toolkit.wsgi_app", toolkit.wsgi_app),
    ("toolkit.web_server", toolkit.web_server),
    ("toolkit.concurrent", toolkit.concurrent),
    ("toolkit.enter", toolkit.enter),
    ("toolkit.method", toolkit.method),
])
def test_forgotten_parentheses(name: str, decorator) -> None:
    def handler():
        return None

    with raises(rf"@{name} was used without parentheses on 'handler'; write @{name}\(\) instead"):
        decorator(handler)


def test_forgotten_parentheses_on_app_decorators(app: toolkit.App) -> None:
    def f():
        return None

    with raises(r"@app.function was used without parentheses on 'f'"):
        app.function(f)

    class C:
        pass

    with raises(r"@app.cls was used without parentheses"):
        app.cls(C)


def test_unknown_option_names_the_option(app: toolkit.App) -> None:
    with raises(r"unknown option 'gpus'; options are: image, gpu"):
        app.function(gpus="T4")


def test_backend_lambda_cannot_run_a_gpu(app: toolkit.App) -> None:
    with raises(r"backend='lambda' cannot run a GPU; use backend='auto', 'ecs' or 'gpu'"):
        app.function(gpu="T4", backend="lambda")(lambda: None)


def test_unknown_gpu(app: toolkit.App) -> None:
    with raises(r"gpu='V100x' is not known; use e.g. 'T4'"):
        app.function(gpu="V100x")(lambda: None)


def test_bad_timeout(app: toolkit.App) -> None:
    with raises(r"timeout=0 must be whole seconds from 1 to 86400"):
        app.function(timeout=0)(lambda: None)


def test_invalid_user_label_is_rejected_not_rewritten() -> None:
    with raises(r"Invalid web endpoint label 'My_Label': it contains 'L', 'M', '_'; use only lower-case.*label='my-label'"):
        toolkit.fastapi_endpoint(label="My_Label")


def test_label_with_double_dash() -> None:
    with raises(r"contains '--', which separates the workspace from the label"):
        toolkit.fastapi_endpoint(label="a--b")


def test_custom_domain_given_as_string() -> None:
    with raises(r"custom_domains takes a list of names, e.g. \['api.example.com'\]"):
        toolkit.fastapi_endpoint(custom_domains="api.example.com")


def test_two_web_decorators() -> None:
    with raises(r"has two web decorators"):
        toolkit.asgi_app()(toolkit.fastapi_endpoint()(lambda: None))


def test_bad_http_method() -> None:
    with raises(r"method='FETCH'\) is not an HTTP method"):
        toolkit.fastapi_endpoint(method="FETCH")


def test_parameter_needs_supported_annotation(app: toolkit.App) -> None:
    class Model:
        size: float = toolkit.parameter(default=1.0)

        @toolkit.method()
        def run(self):
            return self.size

    with raises(r"Model.size: parameters need a type annotation of int, str, bool or bytes"):
        app.cls()(Model)


def test_class_without_methods(app: toolkit.App) -> None:
    class Empty:
        def plain(self):
            return 1

    with raises(r"'Empty' exposes no methods; mark them with @toolkit.method\(\)"):
        app.cls()(Empty)


def test_unknown_class_parameter(app: toolkit.App) -> None:
    @app.cls()
    class Model:
        size: int = toolkit.parameter(default=1)

        @toolkit.method()
        def run(self):
            return self.size

    with raises(r"Model has no parameter 'sise'; its parameters are: size"):
        Model(sise=3)
    with raises(r"Model.size is a int; got '3'"):
        Model(size="3")


def test_generator_needs_remote_gen(app: toolkit.App) -> None:
    @app.function()
    def gen():
        yield 1

    with raises(r"'gen' is a generator function; use .remote_gen\(\)"):
        gen.remote()


def test_duplicate_function_names(app: toolkit.App) -> None:
    app.function()(lambda: None)
    with raises(r"already has a function '<lambda>'; pass name="):
        app.function()(lambda: None)


def test_function_decorating_a_class(app: toolkit.App) -> None:
    class C:
        pass

    with raises(r"decorate class 'C' with @app.cls\(\) instead"):
        app.function()(C)


def test_enter_on_a_plain_function(app: toolkit.App) -> None:
    with raises(r"@toolkit.enter\(\) is for methods of an @app.cls class"):
        app.function()(toolkit.enter()(lambda: None))


def test_image_and_secret_inputs() -> None:
    with raises(r"Unsupported python_version '2.7'"):
        toolkit.Image.debian_slim("2.7")
    with raises(r"Image.workdir needs an absolute path, got 'app'"):
        toolkit.Image.debian_slim().workdir("app")
    with raises(r"Invalid secret name 'bad name!'"):
        toolkit.Secret.from_name("bad name!")
    with raises(r"Secret key '1BAD' is not a valid environment variable name"):
        toolkit.Secret.from_dict({"1BAD": "x"})
