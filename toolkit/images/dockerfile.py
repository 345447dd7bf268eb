"""``Image.from_dockerfile``: the user's Dockerfile as the first stages of toolkit's Containerfile.

toolkit's layers continue in the Dockerfile's last stage, so one build does both (no second
image to tag and push).  Three rewrites make that safe:

* ``COPY``/``ADD`` sources are read from the user's context directory; their files are put in
  the build context under ``dockerfile/`` and the sources rewritten to match, so they cannot
  collide with toolkit's own context (``app/``, ``local/``, ``toolkit-runtime/``).  Only files
  that some COPY names are added (and hashed), minus ``.dockerignore`` and ``ignore`` patterns.
* ``FROM`` references go through the base mirrors like any base image.
* ``build_args`` become the defaults of the matching ``ARG``s; ``env`` becomes ``ARG``s after each
  ``FROM`` (build-time only, as on the hosted platform).
"""

from __future__ import annotations

import glob
import json
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.images.context import ALWAYS_IGNORED, BuildContext, ignored
from toolkit.images.errors import ImageError, MissingLocalPathError

CONTEXT_PREFIX = "dockerfile"


def instructions(text: str) -> Iterator[str]:
    """Instructions with continuation lines joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""
    if pending.strip():
        yield pending.strip()


def final_base(text: str, what: str, build_args: Mapping[str, str] | None = None) -> str:
    """The image the last stage starts from (a stage alias resolved to its image, global ARGs
    substituted)."""
    stages: dict[str, str] = {}
    last = None
    args = global_args(text, build_args or {})
    for line in instructions(text):
        words = line.split()
        if words[0].upper() != "FROM":
            continue
        image = substitute(next(w for w in words[1:] if not w.startswith("--")), args)
        image = stages.get(image.lower(), image)
        if len(words) >= 4 and words[-2].upper() == "AS":
            stages[words[-1].lower()] = image
        last = image
    if last is None:
        raise ImageError(f"{what}: the Dockerfile has no FROM; start it with e.g. 'FROM python:3.11-slim'.")
    if "$" in last:
        raise ImageError(f"{what}: the base {last!r} uses an ARG without a default; give the ARG a default or "
                         "pass it with build_args={...}.")
    return last


def global_args(text: str, build_args: Mapping[str, str]) -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults (``build_args`` win)."""
    found: dict[str, str] = {}
    for line in instructions(text):
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            break
        if keyword.upper() == "ARG":
            name, eq, default = rest.strip().partition("=")
            value = build_args.get(name.strip(), default.strip().strip('"') if eq else None)
            if value is not None:
                found[name.strip()] = value
    return found


def substitute(word: str, args: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced where ``args`` knows the name (the rest left as written)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), word)


def read_dockerfile(root: Path, base: Mapping[str, Any]) -> str:
    path = root / base["path"]
    if not path.is_file():
        raise MissingLocalPathError(f"Image.from_dockerfile({base['path']!r}): no such file {str(path)!r}; fix the "
                                    "path (relative paths are read from the directory you run toolkit in).")
    text: str = path.read_text()
    return text


def dockerfile_lines(base: Mapping[str, Any], root: Path, context: BuildContext,
                     mirror: Any) -> list[str]:
    """The Dockerfile's instructions, rewritten for toolkit's build context.  ``mirror`` maps a
    base reference through the configured mirrors."""
    context_dir = root / (base.get("context_dir") or ".")
    patterns = [*ALWAYS_IGNORED, *_dockerignore(context_dir), *(base.get("ignore") or [])]
    stages: set[str] = set()
    out: list[str] = []
    text = read_dockerfile(root, base)
    args = global_args(text, base.get("build_args") or {})
    for line in instructions(text):
        keyword = line.split(None, 1)[0].upper()
        if keyword == "FROM":
            out.append(_from(line, stages, mirror, args))
            out.extend(f"ARG {k}={json.dumps(v)}" for k, v in sorted((base.get("env") or {}).items()))
        elif keyword == "ARG":
            out.append(_arg(line, base.get("build_args") or {}))
        elif keyword in ("COPY", "ADD"):
            out.append(copy_line(line, context_dir, patterns, context))
        else:
            out.append(line)
    return out


def _from(line: str, stages: set[str], mirror: Any, args: Mapping[str, str]) -> str:
    words = line.split()
    index = next(i for i, w in enumerate(words) if i > 0 and not w.startswith("--"))
    image = substitute(words[index], args)
    words[index] = image
    if image.lower() not in stages and "$" not in image and image != "scratch":
        words[index] = mirror(image)
    if len(words) > index + 2 and words[index + 1].upper() == "AS":
        stages.add(words[index + 2].lower())
    return " ".join(words)


def _arg(line: str, build_args: Mapping[str, str]) -> str:
    name = line.split(None, 1)[1].split("=", 1)[0].strip()
    return f"ARG {name}={json.dumps(build_args[name])}" if name in build_args else line


def copy_line(line: str, context_dir: Path, patterns: Sequence[str], context: BuildContext) -> str:
    """A COPY/ADD whose sources are added to ``context`` under ``dockerfile/`` and renamed so."""
    keyword, rest = line.split(None, 1)
    flags, args = _split_flags(rest)
    if any(f.startswith("--from") for f in flags) or len(args) < 2:
        return line  # from another stage or image: nothing of ours to add
    sources, dest = args[:-1], args[-1]
    renamed = [_add_source(s, context_dir, patterns, context) for s in sources]
    return " ".join([keyword, *flags, json.dumps([*renamed, dest])])


def copies_from(line: str, context_paths: Mapping[str, Any]) -> bool:
    """Whether a COPY/ADD reads one of ``context_paths`` (files the user placed in the context)."""
    _flags, args = _split_flags(line.split(None, 1)[1])
    return any(source.lstrip("/") in context_paths for source in args[:-1])


def _split_flags(rest: str) -> tuple[list[str], list[str]]:
    """(leading --flags, the sources and destination) of a COPY/ADD, shell or JSON form."""
    match = re.match(r"^((?:--\S+\s+)*)(.*)$", rest.strip(), re.S)
    assert match is not None
    body = match.group(2).strip()
    return match.group(1).split(), (json.loads(body) if body.startswith("[") else shlex.split(body))


def _add_source(source: str, context_dir: Path, patterns: Sequence[str], context: BuildContext) -> str:
    if "://" in source:
        return source  # ADD of a URL: the builder fetches it
    relative = source.lstrip("/")
    matches = sorted(glob.glob(str(context_dir / relative))) if glob.has_magic(relative) else [
        str(context_dir / relative)]
    found = [Path(m) for m in matches if Path(m).exists()]
    if not found:
        raise MissingLocalPathError(f"Dockerfile COPY {source!r}: nothing at {str(context_dir / relative)!r}; fix "
                                    "the path or pass context_dir= (COPY sources are read from it).")
    for path in found:
        _add_path(path, context_dir, patterns, context)
    cleaned = Path(relative).as_posix() if relative not in ("", ".") else ""
    return f"{CONTEXT_PREFIX}/{cleaned}" if cleaned else f"{CONTEXT_PREFIX}/"


def _add_path(path: Path, context_dir: Path, patterns: Sequence[str], context: BuildContext) -> None:
    relative = path.resolve().relative_to(context_dir.resolve()).as_posix()
    dest = f"{CONTEXT_PREFIX}/{relative}" if relative != "." else CONTEXT_PREFIX
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            inner = file.resolve().relative_to(context_dir.resolve()).as_posix()
            if not ignored(inner, patterns):
                context.add_file(f"{CONTEXT_PREFIX}/{inner}", file, what="Dockerfile COPY")
    elif not ignored(relative, patterns):
        context.add_file(dest, path, what="Dockerfile COPY")


def _dockerignore(context_dir: Path) -> list[str]:
    path = context_dir / ".dockerignore"
    if not path.is_file():
        return []
    return [line.strip().lstrip("/") for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith(("#", "!"))]
