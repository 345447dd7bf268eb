"""``Volume.info()`` and ``Volume.name`` (issue 22 item 4), in both stores: the local directory store and
the deployed S3 store on a moto server."""

from __future__ import annotations

import datetime

import pytest

import toolkit
from toolkit.volume import BUCKET_ENV

pytestmark = pytest.mark.timeout(120)


def _info_after_create(name: str) -> tuple[datetime.datetime, datetime.datetime, toolkit.Volume]:
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(seconds=2)
    vol = toolkit.Volume.from_name(name, create_if_missing=True).hydrate()
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    return before, after, vol


def test_info_of_a_local_volume_gives_its_name_and_when_it_was_created() -> None:
    before, after, vol = _info_after_create("info-local")
    info = vol.info()
    assert (info.name, info.created_by) == ("info-local", None)
    assert before <= info.created_at <= after
    with vol.batch_upload() as batch:  # writing files does not move the creation time
        batch.put_file(__file__, "/x.py")
    toolkit.Volume.objects.create("info-local", allow_existing=True)
    assert vol.info().created_at == info.created_at
    assert [e.path for e in vol.listdir("/")] == ["x.py"]  # the creation marker is not among the files
    toolkit.Volume.rename("info-local", "info-renamed")
    assert toolkit.Volume.from_name("info-renamed").info().created_at == info.created_at


def test_info_of_a_missing_volume_names_it() -> None:
    toolkit.Volume.from_name("info-gone", create_if_missing=True).hydrate()
    toolkit.Volume.delete("info-gone")
    with pytest.raises(toolkit.exception.NotFoundError, match="'info-gone'"):
        toolkit.Volume.from_name("info-gone").info()


def test_info_of_a_deployed_volume_reads_the_bucket(volume_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUCKET_ENV, volume_bucket)
    before, after, vol = _info_after_create("info-s3")
    info = vol.info()
    assert (info.name, info.created_by) == ("info-s3", None)
    assert before <= info.created_at <= after and info.created_at.tzinfo is not None


def test_name_is_declared_on_the_class_and_set_on_each_handle() -> None:
    assert toolkit.Volume.__annotations__["name"] == "str"
    assert toolkit.Volume.from_name("named").name == "named"
