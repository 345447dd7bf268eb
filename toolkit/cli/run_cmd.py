"""``toolkit run app.py::fn --x 3``: call a function (or local entrypoint) with CLI options."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.options import complete_app_file, parse_ref
from toolkit.exception import Error

if TYPE_CHECKING:
    from toolkit.functions import Function

HELP_OPTIONS = ("--help", "-h")
_TYPES: dict[Any, click.ParamType[Any]] = {int: click.INT, float: click.FLOAT, str: click.STRING}


def _option(param: inspect.Parameter) -> click.Option:
    annotation = param.annotation
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "str": str, "bool": bool}.get(annotation, str)
    name = param.name.replace("_", "-")
    required = param.default is inspect.Parameter.empty
    default = None if required else param.default
    if annotation is bool:
        return click.Option([f"--{name}/--no-{name}", param.name], default=bool(default), show_default=True)
    extra: dict[str, Any] = {} if required else {"default": default, "show_default": True}
    return click.Option([f"--{name}", param.name], type=_TYPES.get(annotation, click.STRING), required=required,
                        **extra)


def command_for(name: str, f: Callable[..., Any], call: Callable[[dict[str, Any]], Any],
                extra: Sequence[click.Option] = ()) -> click.Command:
    params = [p for p in inspect.signature(f).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]
    return click.Command(name, params=[*extra, *(_option(p) for p in params)], callback=lambda **kw: call(kw),
                         help=inspect.getdoc(f))


def class_parameter_options(fn: Function) -> list[click.Option]:
    """``--dim 4`` for ``dim: int = toolkit.parameter(default=8)`` of the method's class."""
    info = fn.spec.cls
    if info is None:
        return []
    method_params = set(inspect.signature(fn.spec.raw_f).parameters)
    options = []
    for name, type_name, default in info.parameters:
        if name in method_params:
            raise click.UsageError(f"{info.name}.{fn.spec.name} has an argument {name!r} and {info.name} a parameter "
                                   f"{name!r}; rename one so `toolkit run` can tell --{name} apart.")
        annotation = {"int": int, "str": str, "bool": bool, "bytes": bytes}[type_name]
        default_value = inspect.Parameter.empty if default is None else default
        options.append(_option(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default_value,
                                                 annotation=annotation)))
    return options


def bind_class_parameters(fn: Function, kwargs: dict[str, Any]) -> tuple[Function, dict[str, Any]]:
    """Split the CLI's values into the class's parameters (bound into the handle) and the method's arguments."""
    info = fn.spec.cls
    if info is None:
        return fn, kwargs
    from toolkit.functions import Function
    from toolkit.instances import bind_parameters

    names = {name for name, _t, _d in info.parameters}
    values = {k: (v.encode() if isinstance(v, str) and _type_of(info.parameters, k) == "bytes" else v)
              for k, v in kwargs.items() if k in names}
    bound = Function(fn.spec, bind_parameters(info, values))
    return bound, {k: v for k, v in kwargs.items() if k not in names}


def _type_of(declared: tuple[tuple[str, str, Any], ...], name: str) -> str:
    return next(type_name for n, type_name, _d in declared if n == name)


def _names_a_file(ref: str) -> bool:
    """Whether APP_REF given next to ``-m`` names an app file (a usage error) rather than being the first
    argument of the module's entrypoint, which click puts in APP_REF."""
    return ref.endswith(".py") or ".py::" in ref


def _show(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        click.echo(value)
        return
    try:
        click.echo(json.dumps(value))
    except TypeError:
        click.echo(repr(value))


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("ref", required=False, metavar="APP_REF", shell_complete=complete_app_file)
@click.option("-m", "module", metavar="MODULE", help="Load from a module (package.module::function).")
@click.option("--local-env", "local_env", type=click.Choice(["image", "current"]), default=None,
              help="Workers run in each image's own environment (image, the default) or in yours (current).")
@click.option("--serve/--no-serve", "serve", default=True, show_default=True,
              help="Serve the app's web endpoints while it runs (on a free local port).")
@click.pass_context
def run(ctx: click.Context, ref: str | None, module: str | None, local_env: str | None, serve: bool) -> None:
    """Run a function or local entrypoint: toolkit run app.py::fn --x 3 (see --help after APP_REF)."""
    from toolkit import loader
    from toolkit.cli.failures import UserCodeFailed
    from toolkit.functions import Function

    args = list(ctx.args)
    if ref in HELP_OPTIONS:  # `--help` lands in APP_REF: the command takes unknown options as arguments
        args, ref = [str(ref), *args], None
    if module and ref and not _names_a_file(ref):  # `-m pkg.main --n 4`: APP_REF took the program's first argument
        args, ref = [ref, *args], None
    if not ref and not module:
        click.echo(ctx.get_help())
        ctx.exit(0)
    app, target = loader.load_target(parse_ref(ref, module))
    from pathlib import Path

    from toolkit.config import home
    from toolkit.images.local_env import local_env_mode, use_local_envs
    from toolkit.manifest import build_manifest
    from toolkit.progress import Display

    # From the app's manifest, as deploy reads it: building it also checks the app and reads the config.
    use_local_envs(build_manifest(app), Path.cwd(), home(), Display.choose(prefix="toolkit: "),  # live on a terminal
                   envs=local_env_mode(local_env) == "image")
    if local_env is not None:  # the run's own serve of its endpoints (toolkit.ephemeral) chooses the same
        os.environ["TOOLKIT_LOCAL_ENV"] = local_env
    if target is None:
        target = _default_target(app, ref or f"-m {module}", wants_help=any(a in HELP_OPTIONS for a in args))
    extra: list[click.Option] = []
    if isinstance(target, Function):
        fn = target
        raw = fn.spec.raw_f
        extra = class_parameter_options(fn)

        def call(kwargs: dict[str, Any]) -> Any:
            handle, arguments = bind_class_parameters(fn, kwargs)
            if not fn.spec.is_generator:
                return handle.remote(**arguments)
            for item in handle.remote_gen(**arguments):
                _show(item)
            return None

        name = fn.spec.tag
    else:
        raw, name = target, target.__name__

        def call(kwargs: dict[str, Any]) -> Any:
            if inspect.iscoroutinefunction(raw):  # an async local entrypoint: run it to completion
                import asyncio

                return asyncio.run(raw(**kwargs))
            return raw(**kwargs)

    def run_and_show(kwargs: dict[str, Any]) -> None:
        try:
            _show(call(kwargs))
        except Error:
            raise
        except Exception as exc:
            raise UserCodeFailed(exc) from None

    command = command_for(name, raw, run_and_show, extra)
    from toolkit.ephemeral import serving

    # the app's web endpoints are served for the run, so it can call its own URLs (--no-serve: not)
    serve = serve and not any(a in HELP_OPTIONS for a in args)  # --help only describes the command
    with serving(app, lambda line: click.echo(f"toolkit: {line}", err=True)) if serve else contextlib.nullcontext():
        command.main(args=args, prog_name=f"toolkit run {ref or '-m ' + str(module)}", standalone_mode=False)


def _default_target(app: Any, ref: str, wants_help: bool = False) -> Any:
    entrypoints = list(app.local_entrypoints.values())
    if len(entrypoints) == 1:
        return entrypoints[0]
    if len(app.registered_functions) == 1 and not entrypoints:
        return next(iter(app.registered_functions.values()))
    choices = sorted(set(app.local_entrypoints) | set(app.registered_functions))
    if wants_help:  # several targets: say which there are, and how to see one's options
        click.echo(f"Usage: toolkit run {ref}::NAME [OPTIONS]\n\nNAME is one of: {', '.join(choices) or 'none'}.\n"
                   f"Options of one: toolkit run {ref}::{choices[0] if choices else 'NAME'} --help")
        raise click.exceptions.Exit(0)
    raise click.UsageError(f"Name what to run, e.g. app.py::{choices[0] if choices else 'fn'}; "
                           f"choices: {', '.join(choices) or 'none'}.")
