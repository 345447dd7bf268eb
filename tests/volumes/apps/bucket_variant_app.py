"""A function mounting the prefix ``in/`` of a moto bucket (BUCKET_TEST_ENDPOINT) and its ``with_options``
variant mounting ``other/`` at the same path: each lists what its own mount holds."""

import os

import toolkit

ENDPOINT, BUCKET, MOUNT = os.environ["BUCKET_TEST_ENDPOINT"], os.environ["BUCKET_TEST_NAME"], os.environ["BUCKET_TEST_MOUNT"]
keys = toolkit.Secret.from_dict({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                 "AWS_REGION": "us-east-1"})
app = toolkit.App(os.environ.get("BUCKET_TEST_APP", "bucket-variants"))


def _bucket(prefix: str) -> toolkit.CloudBucketMount:
    return toolkit.CloudBucketMount(BUCKET, bucket_endpoint_url=ENDPOINT, key_prefix=prefix, secret=keys,
                                    force_path_style=True)


@app.function(volumes={MOUNT: _bucket("in/")})
def listing() -> list[str]:
    return sorted(os.listdir(MOUNT))


other_listing = listing.with_options(volumes={MOUNT: _bucket("other/")})


@app.local_entrypoint()
def main() -> None:
    print("function", listing.remote(), "variant", other_listing.remote())
