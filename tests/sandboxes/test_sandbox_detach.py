"""``Sandbox.detach`` (a "works" row of docs/parity.md): the object lets go of the sandbox, which keeps
running in its container; ``from_id`` gives a working handle back."""

from __future__ import annotations

import pytest

import toolkit
from toolkit.exception import InvalidError

pytestmark = pytest.mark.timeout(180)


def test_a_detached_handle_refuses_and_from_id_gets_the_running_sandbox_back(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    try:
        sb.exec("sh", "-c", "echo kept > /tmp/mark").wait()
        sb.detach()
        with pytest.raises(InvalidError, match=rf"detached.*toolkit\.Sandbox\.from_id\('{sb.object_id}'\)"):
            sb.exec("true")
        again = toolkit.Sandbox.from_id(sb.object_id)
        assert again.poll() is None  # still running: detaching stopped nothing
        proc = again.exec("cat", "/tmp/mark")
        proc.wait()
        assert proc.stdout.read().strip() == "kept"
    finally:
        toolkit.Sandbox.from_id(sb.object_id).terminate()
