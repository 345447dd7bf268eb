"""A ``web_server`` whose own HTTP server writes each request's path into a CloudBucketMount (prefix ``in/``
of BUCKET_TEST_NAME on the moto server at BUCKET_TEST_ENDPOINT): its requests never pass through toolkit."""

import http.server
import os
import threading

import toolkit

ENDPOINT, BUCKET, MOUNT = os.environ["BUCKET_TEST_ENDPOINT"], os.environ["BUCKET_TEST_NAME"], os.environ["BUCKET_TEST_MOUNT"]
PORT = int(os.environ["BUCKET_TEST_WEB_PORT"])
keys = toolkit.Secret.from_dict({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                 "AWS_REGION": "us-east-1"})
app = toolkit.App(os.environ["BUCKET_TEST_APP"])
bucket = toolkit.CloudBucketMount(BUCKET, bucket_endpoint_url=ENDPOINT, key_prefix="in/", secret=keys,
                                  force_path_style=True)


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        name = self.path.strip("/") or "root"
        with open(os.path.join(MOUNT, name + ".txt"), "w") as f:
            f.write(f"GET {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@app.function(volumes={MOUNT: bucket})
@toolkit.web_server(PORT, startup_timeout=10)
def recorder() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
