"""boto3/botocore S3 through the http.client layer (botocore uses urllib3), against moto's
S3 server mode on loopback (``moto[server]``): record, stop moto, replay."""

from __future__ import annotations

import textwrap

import pytest

from conftest import free_port, load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import hashlib, sys
    import boto3, botocore.exceptions

    s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="SECRETKEY123")
    s3.create_bucket(Bucket="ct-bucket")
    s3.put_object(Bucket="ct-bucket", Key="blob.bin", Body=bytes(range(256)) * 1000)
    body = s3.get_object(Bucket="ct-bucket", Key="blob.bin")["Body"].read()
    print(len(body), hashlib.sha256(body).hexdigest())
    print([o["Key"] for o in s3.list_objects_v2(Bucket="ct-bucket")["Contents"]])
    try:
        s3.get_object(Bucket="ct-bucket", Key="missing")
    except botocore.exceptions.ClientError as e:
        print("error:", e.response["Error"]["Code"])
''')


@pytest.fixture
def moto_server():
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install boto3)")
    moto_server = pytest.importorskip("moto.server",
                                      reason="moto[server] is not installed (pip install moto[server])")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


def test_s3_replay_with_moto_stopped(tmp_path, moto_server):
    prog = tmp_path / "s3.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        moto_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "256000 " in rec.stdout and "error: NoSuchKey" in rec.stdout
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert "AKIAEXAMPLE" not in text and "SECRETKEY123" not in text  # Authorization masked
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert f"PUT {moto_server.url}/ct-bucket/blob.bin" in keys
    moto_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), moto_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
