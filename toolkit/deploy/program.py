"""The Pulumi program a deploy runs: ``infra/__main__.py`` itself, executed in this process.

Toolkit drives Pulumi with an *inline* program rather than ``work_dir`` = the directory of
``Pulumi.yaml``, for three reasons:

* the program runs in the interpreter that has toolkit, ``infra`` and ``pulumi_aws``
  installed; a work_dir program is started by Pulumi's language host with whatever
  ``python`` is first on PATH, which for a pip-installed toolkit is often not that one;
* ``Pulumi.yaml`` sits at the repository root and is not part of an installed wheel, and
  ``pulumi config set`` writes ``Pulumi.<stack>.yaml`` next to it (into the user's checkout
  or site-packages); an inline workspace keeps those files under ``$TOOLKIT_HOME``;
* ``toolkit plan`` runs this same function under Pulumi's mock runtime, so the offline plan
  and the real deploy cannot drift apart.

Running the module (not re-implementing its four lines) keeps ``infra/__main__.py`` the one
entry point, the same one ``pulumi up`` in the repository uses.
"""

from __future__ import annotations

import runpy

__all__ = ["INFRA_ENTRY", "infra_program"]

INFRA_ENTRY = "infra.__main__"


def infra_program() -> None:
    runpy.run_module(INFRA_ENTRY, run_name="__main__")
