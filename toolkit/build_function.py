"""``Image.run_function``: a function turned into a standalone script that runs at build time.

The image build cannot import the user's module (the app's code is the image's last layer, and
re-running a download step on every code change would defeat layer caching).  So the function
travels as source: its own definition, the same-module functions and classes it calls, the
import statements that bind the modules it uses, and the values of the plain constants it reads.
That script, with the call's arguments, is the build step: its text is what the image's hash
covers, so editing the function (or its arguments, or a constant it reads) rebuilds from that
step, and editing anything else in the module does not (the hosted platform's rule too).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.exception import InvalidError

_CONSTANT_TYPES = (str, int, float, bool, type(None))


@dataclass
class _Closure:
    """What the script needs besides the function itself, collected name by name."""

    module: types.ModuleType
    imports: dict[str, str | None]                           # name -> its import statement (None: relative)
    definitions: list[str] = field(default_factory=list)     # sources, callees first
    constants: dict[str, Any] = field(default_factory=dict)  # name -> JSON-able value
    needed_imports: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


def build_script(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The Python script that calls ``fn(*args, **kwargs)`` in the image being built."""
    _check_function(fn)
    module = inspect.getmodule(fn)
    if module is None:
        raise InvalidError(f"Image.run_function({fn.__name__}): its module is unknown; define it in a .py file.")
    closure = _Closure(module, _module_imports(module))
    _collect(fn, closure)
    call = _call_line(fn, args, kwargs)
    return "\n".join([
        f"# toolkit: Image.run_function({fn.__qualname__})",
        "import asyncio as _toolkit_asyncio",
        "import inspect as _toolkit_inspect",
        "import json as _toolkit_json",
        *closure.needed_imports.values(),
        *(f"{name} = {value!r}" for name, value in sorted(closure.constants.items())),
        *closure.definitions,
        call,
        "if _toolkit_inspect.isawaitable(_toolkit_result):",
        "    _toolkit_asyncio.run(_toolkit_result)",
        "",
    ])


def _check_function(fn: Callable[..., Any]) -> None:
    if not isinstance(fn, types.FunctionType):
        raise InvalidError(f"Image.run_function needs a function defined with def, got {fn!r}.")
    if fn.__name__ == "<lambda>":
        raise InvalidError("Image.run_function does not take a lambda; define the step with def at module level.")
    if "<locals>" in fn.__qualname__ or fn.__code__.co_freevars:
        raise InvalidError(f"Image.run_function({fn.__qualname__}): the function must be defined at module level "
                           "(it runs in the image as a standalone script, without the enclosing function).")


def _call_line(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    try:
        payload = json.dumps([list(args), dict(kwargs)], sort_keys=True)
    except TypeError as exc:
        raise InvalidError(f"Image.run_function({fn.__qualname__}, args=..., kwargs=...): arguments must be "
                           f"JSON values (str, int, float, bool, None, lists, dicts) ({exc}); pass a name or a "
                           "path and build the object inside the function.") from None
    return (f"_toolkit_args, _toolkit_kwargs = _toolkit_json.loads({payload!r})\n"
            f"_toolkit_result = {fn.__name__}(*_toolkit_args, **_toolkit_kwargs)")


def _collect(obj: Any, closure: _Closure) -> None:
    closure.seen.add(obj.__name__)
    for name in sorted(_global_names(obj)):
        if name not in closure.seen:
            _resolve(obj, name, closure)
    closure.definitions.append(_definition_source(obj))


def _resolve(owner: Any, name: str, closure: _Closure) -> None:
    namespace = closure.module.__dict__
    if name not in namespace:
        return  # a builtin, or a name the function itself binds
    closure.seen.add(name)
    value = namespace[name]
    if _is_constant(value):
        closure.constants[name] = value
    elif name in closure.imports:
        closure.needed_imports[name] = _import_statement(owner, name, closure.imports[name])
    elif _defined_here(value, closure.module):
        _collect(value, closure)
    else:
        raise InvalidError(f"Image.run_function({owner.__qualname__}): the global {name!r} ({type(value).__name__}) "
                           "cannot be carried into the image build; import it with a top-level import, make it a "
                           "plain constant, or create it inside the function.")


def _import_statement(owner: Any, name: str, statement: str | None) -> str:
    if statement is None:
        raise InvalidError(f"Image.run_function({owner.__qualname__}): {name!r} comes from a relative import, which "
                           "a build-time script cannot resolve; import it absolutely (from package.module import ...).")
    return statement


def _is_constant(value: Any) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return not isinstance(value, float) or value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_constant(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_constant(v) for k, v in value.items())
    return False


def _defined_here(value: Any, module: types.ModuleType) -> bool:
    kinds = (types.FunctionType, type)
    return isinstance(value, kinds) and getattr(value, "__module__", None) == module.__name__


def _global_names(obj: Any) -> set[str]:
    """Global names an object's code reads (functions: their code objects; classes: their methods)."""
    if isinstance(obj, types.FunctionType):
        return set(_code_names(obj.__code__))
    names: set[str] = set()
    for member in vars(obj).values():
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, types.FunctionType):
            names.update(_code_names(member.__code__))
    names.update(base.__name__ for base in obj.__bases__ if base.__module__ != "builtins")
    return names


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from (n for n in code.co_names if not hasattr(builtins, n))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _definition_source(obj: Any) -> str:
    """The definition without its decorators (they may name things the build does not have)."""
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        raise InvalidError(f"Image.run_function: the source of {obj.__qualname__} is not available; define it in a "
                           ".py file (not in an interactive session).") from None
    node = ast.parse(source).body[0]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        node.decorator_list = []
    return ast.unparse(node)


def _module_imports(module: types.ModuleType) -> dict[str, str | None]:
    """Each name the module binds with an import statement anywhere at its top level
    (inside ``with image.imports():``, ``try`` and ``if`` blocks too), as a one-name statement."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return {}
    found: dict[str, str | None] = {}
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                found[bound] = ast.unparse(ast.Import([alias]))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                relative = node.level > 0
                found[alias.asname or alias.name] = None if relative else ast.unparse(ast.ImportFrom(node.module, [alias], 0))
    return found


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if isinstance(node, (ast.With, ast.If)):
            yield from _top_level(node.body)
        if isinstance(node, ast.If):
            yield from _top_level(node.orelse)
        if isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
