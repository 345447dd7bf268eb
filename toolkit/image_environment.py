"""`Image.build()` for local runs: build the image's uv environment (`toolkit.images.local_env`) now,
the one ``toolkit serve``/``run`` workers use for an image with Python packages, instead of at the
first call.  Installed into `toolkit.image` when ``import toolkit`` loads this module, so that the
image spec module imports none of the builders (they import it)."""

from __future__ import annotations

import sys
from pathlib import Path

from toolkit.image import Image, install_environment_builder


def build_local_environment(image: Image) -> None:
    from toolkit.config import home
    from toolkit.images.local_env import PYTHON_OPS, ensure_env, local_env_mode

    if local_env_mode(None) == "image" and any(s.get("op") in PYTHON_OPS for s in image.steps):
        ensure_env(image.to_dict(), Path.cwd(), home(),
                   lambda line: print(line, file=sys.stderr, flush=True))  # build progress, as serve logs it


install_environment_builder(build_local_environment)
