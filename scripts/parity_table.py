"""Write docs/parity.md: toolkit's surface against the hosted platform client's (see tests/core/parity.py)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))

import parity  # noqa: E402  (a test helper, found through the path above)


def main() -> None:
    surface = parity.load_surface()
    out = REPO / "docs" / "parity.md"
    out.write_text(parity.table(parity.compare(surface), surface))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
