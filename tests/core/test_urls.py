"""Labels and hostnames: DNS-valid, at most 63 characters, distinct inputs stay distinct."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit import urls
from toolkit.exception import InvalidError

DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=120).filter(lambda s: urls.slugify(s))
slugs = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,100}[a-z0-9])?", fullmatch=True).filter(lambda s: "--" not in s)
suffixes = st.sampled_from(["", "-dev", "-preview", "-x"])


@settings(max_examples=300, deadline=None)
@given(app=names, fn=names, workspace=names, env=st.none() | names, ephemeral=st.booleans())
def test_every_host_label_is_dns_valid(app: str, fn: str, workspace: str, env: str | None, ephemeral: bool) -> None:
    host = urls.host_label(urls.default_label(app, fn), workspace=workspace, environment=env,
                           ephemeral=ephemeral, dev_suffix="-dev")
    assert len(host) <= 63
    assert DNS_LABEL.match(host), host


@settings(max_examples=300, deadline=None)
@given(a=slugs, b=slugs, suffix=suffixes)
def test_distinct_bases_give_distinct_labels(a: str, b: str, suffix: str) -> None:
    if a != b:
        assert urls.truncate(a, suffix) != urls.truncate(b, suffix)


@settings(max_examples=200, deadline=None)
@given(base=slugs, suffix=suffixes)
def test_truncation_rule(base: str, suffix: str) -> None:
    out = urls.truncate(base, suffix)
    if len(base) + len(suffix) <= 63:
        assert out == base + suffix
    else:
        digest = hashlib.sha256(base.encode()).hexdigest()[:6]
        assert out == base[: 63 - 7 - len(suffix)] + "-" + digest + suffix
        assert len(out) == 63


def test_dev_and_deployed_share_the_hash_of_the_base() -> None:
    long_label = "text-to-speech-really-really-realllly-long-function-name"
    deployed = urls.host_label(long_label, workspace="ecorp")
    dev = urls.host_label(long_label, workspace="ecorp", ephemeral=True, dev_suffix="-dev")
    base = f"ecorp--{long_label}"
    assert len(base + "-dev") > 63 and dev.endswith("-dev")
    assert dev == base[:52] + "-" + hashlib.sha256(base.encode()).hexdigest()[:6] + "-dev"
    assert deployed == base  # 63 exactly fits: no hash
    assert len(deployed) <= 63


def test_guide_example_normalisation() -> None:
    assert urls.default_label("text_to_speech", "flask_app") == "text-to-speech-flask-app"
    assert urls.source("ECorp", "prod") == "ecorp-prod"
    assert urls.host_label("text-to-speech-flask-app", workspace="ECorp", environment="prod") == (
        "ecorp-prod--text-to-speech-flask-app"
    )
    assert urls.host_label("speechify", workspace="ecorp", environment="prod", ephemeral=True,
                           dev_suffix="-dev") == "ecorp-prod--speechify-dev"


def test_workspace_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit

    app = toolkit.App("shop")

    @app.function()
    @toolkit.fastapi_endpoint()
    def checkout():
        return "ok"

    monkeypatch.setenv("TOOLKIT_WORKSPACE", "Acme Corp")
    monkeypatch.setenv("TOOLKIT_DOMAIN", "fns.example.com")
    assert checkout.get_web_url() == "https://acme-corp--shop-checkout.fns.example.com"
    monkeypatch.setenv("TOOLKIT_SERVE_ORIGIN", "http://localhost:8123")
    assert checkout.get_web_url() == "http://acme-corp--shop-checkout-dev.localhost:8123"
    monkeypatch.delenv("TOOLKIT_SERVE_ORIGIN")
    monkeypatch.delenv("TOOLKIT_DOMAIN")
    assert checkout.get_web_url() is None  # no domain and not served: unknown, not invented


def test_workspace_from_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from toolkit import config

    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path))
    monkeypatch.delenv("TOOLKIT_WORKSPACE", raising=False)
    assert config.setting("workspace") == "default"
    (tmp_path / "config.toml").write_text('workspace = "ecorp"\ndev_suffix = "-preview"\n')
    assert config.setting("workspace") == "ecorp"
    assert config.setting("dev_suffix") == "-preview"


@pytest.mark.parametrize("label,reason", [
    ("", "it is empty"),
    ("a" * 64, "64 characters long and the limit is 63"),
    ("-abc", "must start and end with a letter or digit"),
    ("ab.c", "it contains '.'"),
    ("a--b", "separates the workspace"),
])
def test_user_label_rejections(label: str, reason: str) -> None:
    with pytest.raises(InvalidError, match=re.escape(reason)):
        urls.validate_user_label(label)


@pytest.mark.parametrize("name,kind", [
    ("example.com", "apex"), ("api.example.com", "subdomain"), ("*.example.com", "wildcard"),
    ("*.modal.example.com", "wildcard"), ("API.Example.COM.", "subdomain"),
])
def test_custom_domains_accepted(name: str, kind: str) -> None:
    domain = urls.validate_domain(name)
    assert domain.kind == kind
    assert domain.name == name.lower().rstrip(".")


@pytest.mark.parametrize("name,reason", [
    ("localhost", "at least a name and a top-level domain"),
    ("api.*.example.com", "wildcard must be the whole left-most label"),
    ("-api.example.com", "must be 1-63 letters"),
    ("a_b.example.com", "must be 1-63 letters"),
    ("example.123", "top-level domain cannot be all digits"),
    (("a" * 64) + ".com", "must be 1-63 letters"),
    (".".join(["abcdefgh"] * 30) + ".com", "at most 253 characters"),
])
def test_custom_domains_rejected(name: str, reason: str) -> None:
    with pytest.raises(InvalidError, match=re.escape(reason)):
        urls.validate_domain(name)
