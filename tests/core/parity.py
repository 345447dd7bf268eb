"""Compare toolkit's public surface with the hosted platform client's (tests/data/platform_surface.json).

Used by tests/core/test_parity.py and by scripts/parity_table.py, which writes docs/parity.md.
A name *resolves* when ``toolkit.<Name>`` (or ``toolkit.<Class>.<member>``) exists; a parameter is
*accepted* when toolkit's signature has it by name (a bare ``**kwargs`` does not count: editors and
type checkers cannot see through it), or, for ``*args``/``**kwargs`` of the platform, the same kind.
An object that carries ``__toolkit_not_supported__`` resolves but raises `NotSupportedError` when used.

Statuses: "works"; "works (toolkit meaning)" when parity_gaps.NOTES says how toolkit's meaning
differs; "not supported" (a refusal); "missing".  Gaps still open are listed in parity_gaps.GAPS.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parity_gaps import NOTES  # a test helper next to this file (tests/core is on sys.path)

import toolkit

SURFACE = Path(__file__).resolve().parents[1] / "data" / "platform_surface.json"
_MISSING = object()


@dataclass(frozen=True)
class Row:
    name: str  # "Image" or "Image.uv_pip_install"
    kind: str  # the platform's: class, function, method, property, ...
    status: str  # "works", "not supported", "missing"
    missing_parameters: tuple[str, ...] = ()
    note: str = ""


def load_surface() -> dict[str, Any]:
    return json.loads(SURFACE.read_text())  # type: ignore[no-any-return]


def _accepted(obj: Any, platform: list[list[str]] | None) -> tuple[str, ...]:
    if not platform:
        return ()
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return tuple(name for name, _kind in platform)
    ours = sig.parameters
    kinds = {p.kind.name for p in ours.values()}
    missing = []
    for name, kind in platform:
        if kind in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            if kind not in kinds:
                missing.append(("*" if kind == "VAR_POSITIONAL" else "**") + name)
        elif name not in ours or ours[name].kind in (inspect.Parameter.VAR_POSITIONAL,
                                                     inspect.Parameter.VAR_KEYWORD):
            missing.append(name)
    return tuple(missing)


def _row(name: str, entry: dict[str, Any], obj: Any) -> Row:
    if obj is _MISSING:
        return Row(name, entry["kind"], "missing")
    reason = getattr(obj, "__toolkit_not_supported__", None)
    if reason:
        return Row(name, entry["kind"], "not supported", note=str(reason))
    accepted = _accepted(obj, entry.get("parameters")) if obj is not None else ()
    if name in NOTES:
        return Row(name, entry["kind"], "works (toolkit meaning)", accepted, NOTES[name])
    return Row(name, entry["kind"], "works", accepted)


def gaps(rows: list[Row]) -> set[str]:
    """Every name that does not resolve and every ``name(parameter)`` not accepted by name."""
    return ({r.name for r in rows if r.status == "missing"}
            | {f"{r.name}({p})" for r in rows for p in r.missing_parameters})


def counts(rows: list[Row], surface: dict[str, Any]) -> tuple[int, int, int]:
    """(names resolving, parameters accepted by name, parameters in all): a parameter of a missing
    name counts as not accepted."""
    total = sum(len(e.get("parameters") or []) for e in surface["names"].values())
    total += sum(len(e.get("parameters") or []) for m in surface["members"].values() for e in m.values())
    entries = {**surface["names"], **{f"{c}.{n}": e for c, m in surface["members"].items() for n, e in m.items()}}
    lost = sum(len(entries[r.name].get("parameters") or []) if r.status == "missing" else len(r.missing_parameters)
               for r in rows)
    return sum(r.status != "missing" for r in rows), total - lost, total


def _declared(owner: type, member: str) -> bool:
    return any(member in inspect.get_annotations(klass) for klass in owner.__mro__)


def compare(surface: dict[str, Any] | None = None) -> list[Row]:
    surface = surface or load_surface()
    rows = [_row(name, entry, getattr(toolkit, name, _MISSING)) for name, entry in sorted(surface["names"].items())]
    for cls_name, members in sorted(surface["members"].items()):
        owner: Any = getattr(toolkit, cls_name, _MISSING)
        for member, entry in sorted(members.items()):
            obj = _MISSING if owner is _MISSING else inspect.getattr_static(owner, member, _MISSING)
            if obj is _MISSING and owner is not _MISSING and _declared(owner, member):
                obj = None  # an instance attribute the class declares (``name: str``)
            if obj is not _MISSING and isinstance(obj, (staticmethod, classmethod)):
                obj = getattr(owner, member)
            rows.append(_row(f"{cls_name}.{member}", entry, obj))
    return rows


def table(rows: list[Row], surface: dict[str, Any]) -> str:
    resolved, accepted, total = counts(rows, surface)
    version = surface["version"]
    lines = [
        "# Parity with the hosted platform's client",
        "",
        f"Generated by `python3 scripts/parity_table.py` from the client {version}'s public surface",
        "(tests/data/platform_surface.json); `tests/core/test_parity.py` checks that this page is fresh.",
        "",
        f"{resolved} of {len(rows)} names resolve on toolkit; {accepted} of {total} parameters are accepted "
        f"by name ({100 * accepted / total:.1f}%).  Status: *works*; *works (toolkit meaning)*, with the",
        "difference in the note; *not supported*: it raises `toolkit.exception.NotSupportedError` when used,",
        "naming why and the alternative; *missing*: not there yet (tests/core/parity_gaps.py says why).",
        "",
        "A name that lands: delete its gap from tests/core/parity_gaps.py and run the script again.  A name that",
        "cannot work here: refuse it with `toolkit.unsupported` (`not_supported`, `UnsupportedClass`,",
        "`UnsupportedProperty`), whose message names the feature, why, and what to do instead.",
        "",
        "| name | kind | on toolkit | parameters not accepted | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        missing = ", ".join(f"`{p}`" for p in r.missing_parameters)
        note = r.note.replace("|", "\\|")
        lines.append(f"| `{r.name}` | {r.kind} | {r.status} | {missing} | {note} |")
    return "\n".join(lines) + "\n"
