"""``toolkit destroy`` keeps the app's volume bucket (user data) unless ``--delete-volumes``: driven
through the fake `pulumi` (its stack outputs name the bucket) with the bucket itself on a moto server."""

from __future__ import annotations

import boto3
from deploy_helpers import DIGEST_A, FakePulumi, write_images
from test_orchestration import OUTPUTS, REPO_URL, RESOURCES

TAGS = {"hello": DIGEST_A, "show_url": DIGEST_A, "web_endpoint_handler": DIGEST_A}


def _bucket_with_files(endpoint: str, name: str) -> object:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="AKIAFAKEFAKEFAKE",
                      aws_secret_access_key="fake-secret")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for i in range(3):
        s3.put_object(Bucket=name, Key=f"volumes/weights/files/w{i}.bin", Body=b"w")
    return s3


def _deployed(fake: FakePulumi, tmp_path: object, bucket: str, endpoint: str) -> None:
    fake.env["AWS_ENDPOINT_URL"] = endpoint
    fake.scenario(outputs={**OUTPUTS, "volume_bucket": bucket}, resources=RESOURCES, repository_url=REPO_URL)
    images = write_images(tmp_path / "images.json", TAGS)  # type: ignore[operator]
    deployed = fake.run("deploy", "examples/urls_and_domains.py", "--images", str(images), "--no-verify")
    assert deployed.returncode == 0, deployed.stderr


def test_destroy_keeps_the_volume_bucket_and_says_how_to_delete_it(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                                   tmp_path: object) -> None:
    s3 = _bucket_with_files(moto_endpoint, "tts-volumes-kept")
    _deployed(fake_pulumi, tmp_path, "tts-volumes-kept", moto_endpoint)
    destroyed = fake_pulumi.run("destroy", "examples/urls_and_domains.py", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert "Kept the volume bucket tts-volumes-kept" in destroyed.stdout + destroyed.stderr
    assert "--delete-volumes" in destroyed.stdout + destroyed.stderr
    assert s3.list_objects_v2(Bucket="tts-volumes-kept")["KeyCount"] == 3  # type: ignore[attr-defined]


def test_destroy_with_delete_volumes_empties_and_deletes_the_bucket(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                                    tmp_path: object) -> None:
    s3 = _bucket_with_files(moto_endpoint, "tts-volumes-gone")
    _deployed(fake_pulumi, tmp_path, "tts-volumes-gone", moto_endpoint)
    destroyed = fake_pulumi.run("destroy", "examples/urls_and_domains.py", "--yes", "--delete-volumes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert "Deleted the volume bucket tts-volumes-gone and its 3 objects" in destroyed.stdout + destroyed.stderr
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]  # type: ignore[attr-defined]
    assert "tts-volumes-gone" not in names
