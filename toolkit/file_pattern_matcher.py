"""`FilePatternMatcher`: Docker's ``.dockerignore`` pattern language, as a predicate over paths.

The hosted platform's ``Image.add_local_dir(..., ignore=FilePatternMatcher("**/*.pyc"))`` takes one;
toolkit's ``ignore=`` accepts any callable on relative paths, so the matcher is all that is needed.
The rules follow moby/patternmatcher (what ``docker build`` applies): ``*`` and ``?`` stay inside one
path segment, ``**`` spans segments (``**/x`` also matches ``x``), ``[...]`` is a class, ``\\`` escapes,
a leading ``!`` re-includes, the last matching pattern wins, and a pattern that matches a directory
matches everything under it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from toolkit.exception import InvalidError

__all__ = ["FilePatternMatcher", "NON_PYTHON_FILES"]

_LITERAL = frozenset(".+()|{}$^")


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool  # a "!pattern": re-includes what earlier patterns matched
    regex: re.Pattern[str]

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _double_star(pattern: str, i: int, out: list[str]) -> int:
    """``**`` (at ``i``): any number of segments; ``**/`` may also match none."""
    i += 2
    if i < len(pattern) and pattern[i] == "/":
        out.append("(.*/)?")
        return i + 1
    out.append(".*")
    return i


def _translate(pattern: str) -> str:
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i = _double_star(pattern, i, out)
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        elif ch in _LITERAL:
            out.append("\\" + ch)
        else:
            out.append(ch)  # letters, "/", and the brackets of a [...] class
        i += 1
    return "".join(out) + "$"


def _parse(line: str) -> _Pattern | None:
    text = line.strip().strip("/")
    if not text or text.startswith("#"):
        return None
    exclusion = text.startswith("!")
    if exclusion:
        text = text[1:].strip()
        if not text:
            raise InvalidError('Illegal exclusion pattern "!": put a pattern after it, e.g. "!keep.py".')
    text = os.path.normpath(text).replace(os.sep, "/")
    try:
        return _Pattern(text, exclusion, re.compile(_translate(text)))
    except re.error as exc:
        raise InvalidError(f"Bad ignore pattern {line!r}: {exc}; check its [...] brackets.") from None


class FilePatternMatcher:
    """Matches relative paths against ``.dockerignore``-style patterns: ``matcher(Path("a/b.pyc"))``.

    >>> FilePatternMatcher("**/*.pyc")(Path("pkg/mod.pyc"))
    True
    >>> (~FilePatternMatcher("*.py"))(Path("setup.py"))
    False
    """

    def __init__(self, *pattern: str) -> None:
        self._lines: list[str] | None = list(pattern)
        self._file: Path | None = None

    @classmethod
    def from_file(cls, file_path: str | Path) -> FilePatternMatcher:
        """Patterns read (lazily, on first use) from an ignore file: one a line, ``#`` comments."""
        matcher = cls()
        matcher._lines, matcher._file = None, Path(file_path)
        return matcher

    @cached_property
    def patterns(self) -> list[_Pattern]:
        lines = self._file.read_text("utf8").splitlines() if self._file is not None else self._lines or []
        return [p for p in map(_parse, lines) if p is not None]

    def can_prune_directories(self) -> bool:
        """Whether a matched directory can be skipped whole (not when a ``!`` pattern may re-include)."""
        return not any(p.exclusion for p in self.patterns)

    def __call__(self, file_path: Path | str) -> bool:
        path = os.path.normpath(str(file_path)).replace(os.sep, "/")
        if path == ".":
            return False  # never ignore the whole directory
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a/b/c: a, a/b, a/b/c
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion == matched and any(pattern.match(p) for p in prefixes):
                matched = not pattern.exclusion
        return matched

    def __invert__(self) -> Callable[[Path], bool]:
        """The opposite predicate: ``~FilePatternMatcher("**/*.py")`` ignores all but Python files."""
        return _Inverted(self)

    def __repr__(self) -> str:
        source = f"from_file({str(self._file)!r})" if self._file is not None else ", ".join(map(repr, self._lines or []))
        return f"FilePatternMatcher({source})"


class _Inverted:
    def __init__(self, matcher: Callable[[Path], bool]) -> None:
        self._matcher = matcher

    def __call__(self, file_path: Path) -> bool:
        return not self._matcher(file_path)

    def __invert__(self) -> Callable[[Path], bool]:
        return self._matcher

    def can_prune_directories(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"~{self._matcher!r}"


NON_PYTHON_FILES = ~FilePatternMatcher("**/*.py")
