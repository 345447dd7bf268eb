"""A sandbox image's RUN steps trust the build CA bundle (``TOOLKIT_BUILD_CA_BUNDLE``), as function
images' do: behind a TLS-intercepting egress, ``pip install`` in a sandbox image failed on certificate
verification (the public code-interpreter program's ``pip_install("IPython")``), while the same step in
a function image passed."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit


def test_a_sandbox_images_run_steps_see_the_build_ca_bundle(app: toolkit.App, image: toolkit.Image, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nnorthstar-build-ca\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("TOOLKIT_BUILD_CA_BUNDLE", str(bundle))
    built = image.run_commands('grep -c northstar-build-ca "$SSL_CERT_FILE" > /ca-seen')
    sb = toolkit.Sandbox.create("cat", "/ca-seen", app=app, image=built, timeout=60)
    assert sb.stdout.read() == "1\n"
    sb.wait()
    assert sb.returncode == 0
