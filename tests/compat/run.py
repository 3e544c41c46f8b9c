#!/usr/bin/env python3
"""Python compatibility suite: runs boto3 (tests/compat/scenario.py) and the AWS
CLI of both botocore generations (.venv/compat-json: SQS over JSON 1.0;
.venv/compat-query: SQS over query/XML) against a sealq server it starts.

Usage: python3 tests/compat/run.py [--binary target/debug/sealq]
Needs the venvs of tests/compat/setup.sh; builds nothing; standard library only.
Prints PASS/FAIL per case, then `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENVS = {"compat-json": "json", "compat-query": "query"}  # venv -> SQS protocol of its botocore
counts = {"passed": 0, "failed": 0}


def report(ok, name, why=""):
    counts["passed" if ok else "failed"] += 1
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, log, extra=(), url_base=True):
    port = free_port()
    cmd = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    if extra and url_base:
        cmd += ["--queue-url-base", f"http://127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sealq/health", timeout=2) as r:
                if r.status == 200:
                    return proc, f"http://127.0.0.1:{port}"
        except OSError:
            pass
        time.sleep(0.1)
    return proc, None


def stop_server(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def clean_env(tmp):
    """The environment without the user's AWS settings, with dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDCOMPAT",
        AWS_SECRET_ACCESS_KEY="compat-secret",
        AWS_CONFIG_FILE=os.path.join(tmp, "config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "credentials"),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",  # no retries: a failure shows at once and is not hidden
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def check_protocol(venv, python, want, env):
    """The installed botocore's SQS model must declare the expected protocol."""
    name = f"{venv}: botocore SQS model protocol is {want}"
    code = "import botocore, os; print(os.path.dirname(botocore.__file__))"
    try:
        out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        model_dir = os.path.join(out.stdout.strip(), "data", "sqs", "2012-11-05")
        path = os.path.join(model_dir, "service-2.json")
        if os.path.exists(path):
            with open(path, "rb") as f:
                model = json.load(f)
        else:
            with gzip.open(path + ".gz", "rb") as f:
                model = json.load(f)
        got = model["metadata"]["protocol"]
    except Exception as e:
        return report(False, name, f"cannot read the model: {e!r}")
    report(got == want, name, f"metadata.protocol is {got!r}; wrong botocore in {venv}")


def run_scenario(venv, python, endpoint, env):
    script = os.path.join(ROOT, "tests", "compat", "scenario.py")
    try:
        proc = subprocess.run(
            [python, script, endpoint, venv], env=env, capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired:
        return report(False, f"{venv}: boto3 scenario", "timed out after 180 s")
    ran = failed = 0
    for line in proc.stdout.splitlines():
        if line.startswith("PASS "):
            ran += 1
            report(True, line[5:])
        elif line.startswith("FAIL "):
            ran += 1
            failed += 1
            counts["failed"] += 1
            print(line, flush=True)
    if ran == 0 or proc.returncode != (1 if failed else 0):
        report(False, f"{venv}: boto3 scenario ran", f"exit {proc.returncode}, {ran} cases\n{proc.stderr[-3000:]}")


def run_cli(venv, endpoint, env):
    aws = os.path.join(ROOT, ".venv", venv, "bin", "aws")

    def aws_sqs(*args):
        cmd = [aws, "sqs", *args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def step(name, fn):
        """Runs one CLI case; returns its value, or None when it failed."""
        try:
            value = fn()
            report(True, f"{venv}: cli {name}")
            return value
        except Exception as e:
            report(False, f"{venv}: cli {name}", f"{type(e).__name__}: {e}")
            return None

    def ok_json(p):
        assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()}"
        return json.loads(p.stdout) if p.stdout.strip() else {}

    name = f"compat-cli-{venv}-{uuid.uuid4().hex[:10]}"
    body = "hello from the aws cli"

    def receive():
        msgs = []
        for _ in range(5):  # bounded: 5 polls of 1 s
            msgs = ok_json(aws_sqs("receive-message", "--queue-url", url, "--wait-time-seconds", "1")).get("Messages", [])
            if msgs:
                break
        assert len(msgs) == 1 and msgs[0]["Body"] == body, msgs
        return msgs[0]["ReceiptHandle"]

    def missing():
        p = aws_sqs("get-queue-url", "--queue-name", f"compat-missing-{uuid.uuid4().hex[:10]}")
        assert p.returncode != 0, f"exit 0: {p.stdout.strip()}"
        assert "AWS.SimpleQueueService.NonExistentQueue" in p.stderr, p.stderr.strip()

    url = step("create-queue", lambda: ok_json(aws_sqs("create-queue", "--queue-name", name))["QueueUrl"])
    if url:
        step("send-message", lambda: ok_json(aws_sqs("send-message", "--queue-url", url, "--message-body", body))["MessageId"])
        handle = step("receive-message", receive)
        if handle:
            step("delete-message", lambda: ok_json(aws_sqs("delete-message", "--queue-url", url, "--receipt-handle", handle)))
    step("get-queue-url of a missing queue fails", missing)
    if url:
        step("delete-queue", lambda: ok_json(aws_sqs("delete-queue", "--queue-url", url)))
    run_cli_kms(venv, endpoint, env, step, ok_json)


def run_cli_kms(venv, endpoint, env, step, ok_json):
    """`aws kms` round trip: create a key and alias, encrypt, decrypt, describe, disable, schedule deletion."""
    aws = os.path.join(ROOT, ".venv", venv, "bin", "aws")

    def aws_kms(*args):
        cmd = [aws, "kms", *args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    # Inside the run's temporary directory, removed with it.
    work = tempfile.mkdtemp(prefix="sealq-kms-cli-", dir=os.path.dirname(env["AWS_CONFIG_FILE"]))
    plain_path = os.path.join(work, "plain.txt")
    blob_path = os.path.join(work, "blob.bin")
    with open(plain_path, "wb") as f:
        f.write(b"kms round trip from the aws cli")
    alias = f"alias/compat-cli-{venv}-{uuid.uuid4().hex[:8]}"

    key = step("kms create-key", lambda: ok_json(aws_kms("create-key", "--description", "compat cli"))["KeyMetadata"])
    if not key:
        return
    step("kms create-alias", lambda: ok_json(aws_kms("create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"])))

    def encrypt():
        out = ok_json(aws_kms("encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain_path}",
                              "--encryption-context", "purpose=compat"))
        assert out["KeyId"] == key["Arn"], out
        with open(blob_path, "wb") as f:
            f.write(base64.b64decode(out["CiphertextBlob"]))

    def decrypt():
        out = ok_json(aws_kms("decrypt", "--ciphertext-blob", f"fileb://{blob_path}", "--encryption-context", "purpose=compat"))
        assert base64.b64decode(out["Plaintext"]) == b"kms round trip from the aws cli", out
        assert out["KeyId"] == key["Arn"], out

    def wrong_context():
        p = aws_kms("decrypt", "--ciphertext-blob", f"fileb://{blob_path}", "--encryption-context", "purpose=other")
        assert p.returncode != 0 and "InvalidCiphertextException" in p.stderr, p.stderr.strip()

    def describe():
        md = ok_json(aws_kms("describe-key", "--key-id", alias))["KeyMetadata"]
        assert md["Arn"] == key["Arn"] and md["KeyState"] == "Enabled", md

    def disabled():
        ok_json(aws_kms("disable-key", "--key-id", key["KeyId"]))
        p = aws_kms("encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{plain_path}")
        assert p.returncode != 0 and "DisabledException" in p.stderr, p.stderr.strip()

    def schedule():
        out = ok_json(aws_kms("schedule-key-deletion", "--key-id", key["KeyId"], "--pending-window-in-days", "7"))
        assert out["KeyState"] == "PendingDeletion", out

    step("kms encrypt", encrypt)
    step("kms decrypt", decrypt)
    step("kms decrypt with another context fails", wrong_context)
    step("kms describe-key by alias", describe)
    step("kms disable-key then encrypt fails", disabled)
    step("kms schedule-key-deletion", schedule)


DURABLE_SEND = """
import boto3, sys
c = boto3.client("sqs", endpoint_url=sys.argv[1])
url = c.get_queue_url(QueueName="orders")["QueueUrl"]
assert c.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]["KmsMasterKeyId"] == "alias/orders"
c.send_message(QueueUrl=url, MessageBody=sys.argv[2])
"""

DURABLE_RECEIVE = """
import boto3, sys
c = boto3.client("sqs", endpoint_url=sys.argv[1])
url = c.get_queue_url(QueueName="orders")["QueueUrl"]
got = c.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
print(got[0]["Body"] if got else "")
"""


def run_durable(venv, python, binary, env, tmp, log):
    """boto3 of this generation against a server started with the sample
    config and a data directory, killed with SIGKILL and started again; and
    `sealq health` before and after."""
    data = os.path.join(tmp, f"data-{venv}")
    extra = ["--config", os.path.join(ROOT, "docker", "sealq.toml"), "--data-dir", data]
    body = f"durable {venv} {uuid.uuid4().hex}"

    def health(endpoint):
        return subprocess.run([binary, "health", "--endpoint", endpoint], capture_output=True, timeout=30).returncode

    proc, endpoint = start_server(binary, log, extra)
    try:
        if endpoint is None:
            return report(False, f"{venv}: durable server starts with the sample config", f"exit {proc.poll()}")
        report(health(endpoint) == 0, f"{venv}: sealq health exits 0 when ready", "non-zero exit")
        p = subprocess.run([python, "-c", DURABLE_SEND, endpoint, body], env=env, capture_output=True, text=True, timeout=60)
        report(p.returncode == 0, f"{venv}: boto3 sends to a configured SSE-KMS queue", p.stderr[-1500:])
    finally:
        proc.kill()
        proc.wait(timeout=10)
    report(health(endpoint) == 1, f"{venv}: sealq health exits 1 when the server is gone", "exit 0")
    proc, endpoint = start_server(binary, log, extra)
    try:
        if endpoint is None:
            return report(False, f"{venv}: durable server restarts after kill -9", f"exit {proc.poll()}")
        p = subprocess.run([python, "-c", DURABLE_RECEIVE, endpoint], env=env, capture_output=True, text=True, timeout=60)
        got = p.stdout.strip()
        report(got == body, f"{venv}: boto3 receives the message sent before kill -9", f"got {got!r}; {p.stderr[-1500:]}")
    finally:
        stop_server(proc)


VERIFY_CASES = r"""
import json, sys, urllib.request
import boto3, botocore
from botocore.config import Config
endpoint, protocol = sys.argv[1], sys.argv[2]
cfg = Config(retries={"max_attempts": 1})

def client(service, key, secret):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=cfg,
                        aws_access_key_id=key, aws_secret_access_key=secret)

def error_of(call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error")

results = {}
results["right secret"] = client("sqs", "AKIDCOMPAT", "compat-secret").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
results["wrong secret"] = error_of(lambda: client("sqs", "AKIDCOMPAT", "wrong").list_queues()) == ("SignatureDoesNotMatch", 403)
results["unknown key"] = error_of(lambda: client("sqs", "AKIDSTRANGER", "x").list_queues()) == ("InvalidClientTokenId", 403)
results["kms wrong secret"] = error_of(lambda: client("kms", "AKIDCOMPAT", "wrong").list_keys())[0] == "InvalidSignatureException"
if protocol == "query":
    # botocore presigns with the operation's method (POST for the query
    # protocol): the URL is used with POST and an empty body.
    def post(url):
        return urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    good = client("sqs", "AKIDCOMPAT", "compat-secret").generate_presigned_url("list_queues", ExpiresIn=60)
    results["presigned URL"] = post(good).status == 200
    bad = client("sqs", "AKIDCOMPAT", "wrong").generate_presigned_url("list_queues", ExpiresIn=60)
    try:
        post(bad)
        results["presigned URL, wrong secret"] = False
    except urllib.error.HTTPError as e:
        results["presigned URL, wrong secret"] = e.code == 403 and b"SignatureDoesNotMatch" in e.read()
print(json.dumps(results))
"""


# Under --auth verify SQS requests are authorized: an inline policy that
# lets the principal (or role) above it use SQS.
ALL_SQS = ('[[principals.policies]]\nname = "all-sqs"\n'
           'document = { Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "*" }] }\n')


def run_verify(venv, python, protocol, binary, env, tmp, log):
    """boto3 and the CLI of this generation against `--auth verify` with
    AKIDCOMPAT registered: the right secret passes; a wrong secret, an
    unknown key and (query generation) a presigned URL get AWS's errors."""
    config = os.path.join(tmp, f"verify-{venv}.toml")
    with open(config, "w") as f:
        f.write('[[principals]]\naccess_key_id = "AKIDCOMPAT"\nname = "compat"\nsecret_access_key = "compat-secret"\n' + ALL_SQS)
    proc, endpoint = start_server(binary, log, ["--config", config, "--auth", "verify"])
    try:
        if endpoint is None:
            return report(False, f"{venv}: server starts with --auth verify", f"exit {proc.poll()}")
        p = subprocess.run([python, "-c", VERIFY_CASES, endpoint, protocol], env=env, capture_output=True, text=True, timeout=60)
        try:
            results = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return report(False, f"{venv}: verify cases ran", p.stderr[-2000:])
        for name, ok in results.items():
            report(ok, f"{venv}: --auth verify, boto3 {name}", "wrong answer")
        aws = os.path.join(ROOT, ".venv", venv, "bin", "aws")
        cmd = [aws, "sqs", "list-queues", "--endpoint-url", endpoint, "--region", "us-east-1"]
        ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        report(ok.returncode == 0, f"{venv}: --auth verify, cli right secret", ok.stderr.strip())
        wrong = subprocess.run(cmd, env={**env, "AWS_SECRET_ACCESS_KEY": "wrong"}, capture_output=True, text=True, timeout=60)
        report(wrong.returncode != 0 and "(SignatureDoesNotMatch)" in wrong.stderr,
               f"{venv}: --auth verify, cli wrong secret", f"exit {wrong.returncode}: {wrong.stderr.strip()}")
    finally:
        stop_server(proc)


STS_CASES = r"""
import json, os, subprocess, sys, urllib.request
import boto3, botocore
from botocore.config import Config
endpoint, protocol, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = Config(retries={"max_attempts": 1})
ROLE = "arn:aws:iam::000000000000:role/app"

def client(service, key, secret, token=None):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=cfg,
                        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)

def error_of(call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error")

results = {}
sts = client("sts", "AKIDCOMPAT", "compat-secret")
me = sts.get_caller_identity()
results["GetCallerIdentity"] = (me["Arn"], me["Account"]) == ("arn:aws:iam::000000000000:user/compat", "000000000000")
out = sts.assume_role(RoleArn=ROLE, RoleSessionName="py", DurationSeconds=900)
c = out["Credentials"]
results["AssumeRole"] = (out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/app/py"
                         and c["AccessKeyId"].startswith("ASIA") and c["Expiration"].tzinfo is not None)
sqs = client("sqs", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
url = sqs.create_queue(QueueName="sts-" + protocol)["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="as the role")
got = sqs.receive_message(QueueUrl=url, AttributeNames=["SenderId"])["Messages"][0]
results["session credentials send as the role"] = got["Attributes"]["SenderId"] == out["AssumedRoleUser"]["AssumedRoleId"]
forged = client("sqs", c["AccessKeyId"], c["SecretAccessKey"], "forged-token")
results["forged session token"] = error_of(lambda: forged.list_queues()) == ("InvalidClientTokenId", 403)
results["SQS without a policy that allows it: AccessDenied"] = error_of(
    lambda: client("sqs", "AKIDOTHER", "other-secret").list_queues()) == ("AccessDenied", 403)
results["untrusted AssumeRole"] = error_of(lambda: client("sts", "AKIDOTHER", "other-secret").assume_role(
    RoleArn=ROLE, RoleSessionName="xx")) == ("AccessDenied", 403)
results["DurationSeconds too long"] = error_of(lambda: sts.assume_role(
    RoleArn=ROLE, RoleSessionName="xx", DurationSeconds=7200)) == ("ValidationError", 400)
tok = sts.get_session_token(DurationSeconds=900)["Credentials"]
who = client("sts", tok["AccessKeyId"], tok["SecretAccessKey"], tok["SessionToken"]).get_caller_identity()
results["GetSessionToken"] = who["Arn"] == "arn:aws:iam::000000000000:user/compat"
if protocol == "query":
    # A presigned query URL with session credentials carries X-Amz-Security-Token.
    signed = sqs.generate_presigned_url("list_queues", ExpiresIn=60)
    req = urllib.request.Request(signed, data=b"", method="POST")
    results["presigned URL with a session token"] = ("X-Amz-Security-Token=" in signed
                                                     and urllib.request.urlopen(req, timeout=10).status == 200)
# A profile with role_arn + source_profile: botocore calls AssumeRole itself
# at AWS_ENDPOINT_URL.
with open(os.path.join(tmp, "config"), "w") as f:
    f.write(f"[profile base]\nregion = us-east-1\n[profile app]\nregion = us-east-1\nrole_arn = {ROLE}\n"
            "source_profile = base\nrole_session_name = from-profile\n")
with open(os.path.join(tmp, "credentials"), "w") as f:
    f.write("[base]\naws_access_key_id = AKIDCOMPAT\naws_secret_access_key = compat-secret\n")
env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
env.update(AWS_CONFIG_FILE=os.path.join(tmp, "config"), AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "credentials"),
           AWS_PROFILE="app", AWS_ENDPOINT_URL=endpoint,
           # The CLI caches role credentials under ~/.aws/cli/cache; those of
           # another sealq (sessions live in its memory) are not valid here.
           HOME=tmp)
code = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
results["boto3 profile with role_arn"] = p.stdout.strip() == "arn:aws:sts::000000000000:assumed-role/app/from-profile"
aws = os.path.join(os.path.dirname(sys.executable), "aws")
p = subprocess.run([aws, "sts", "get-caller-identity", "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
results["cli profile with role_arn"] = p.returncode == 0 and json.loads(p.stdout)["Arn"].startswith(
    "arn:aws:sts::000000000000:assumed-role/app/")
print(json.dumps(results))
"""


TLS_CASES = r"""
import json, sys, urllib.request
import boto3, botocore, botocore.parsers
from botocore.config import Config
https, ca, protocol = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)

def client(service, **kw):
    return boto3.client(service, endpoint_url=https, region_name="us-east-1", config=cfg,
                        aws_access_key_id="AKIDCOMPAT", aws_secret_access_key="compat-secret", **kw)

results = {}
sqs = client("sqs", verify=ca)
url = sqs.create_queue(QueueName="compat-tls-" + protocol)["QueueUrl"]
results["create_queue returns an https:// URL"] = url == https + "/000000000000/compat-tls-" + protocol
sse = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["SqsManagedSseEnabled"])["Attributes"]
results["the queue is SSE-SQS"] = sse == {"SqsManagedSseEnabled": "true"}
sqs.send_message(QueueUrl=url, MessageBody="over https")
got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
results["send and receive"] = [m["Body"] for m in got] == ["over https"]
kms = client("kms", verify=ca)
key = kms.create_key()["KeyMetadata"]["KeyId"]
blob = kms.encrypt(KeyId=key, Plaintext=b"kms over https")["CiphertextBlob"]
results["kms encrypt and decrypt"] = kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kms over https"
try:
    client("sqs").list_queues()  # the default trust store: sealq's CA is not in it
    results["without verify= the certificate is refused"] = False
except botocore.exceptions.SSLError as e:
    results["without verify= the certificate is refused"] = "CERTIFICATE_VERIFY_FAILED" in str(e)
try:
    boto3.client("sqs", endpoint_url=https.replace("https://", "http://"), region_name="us-east-1", config=cfg,
                 aws_access_key_id="AKIDCOMPAT", aws_secret_access_key="compat-secret").list_queues()
    results["plain HTTP to the TLS port fails"] = False
except botocore.exceptions.ClientError as e:  # JSON generation: a 400
    results["plain HTTP to the TLS port fails"] = e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
except botocore.parsers.ResponseParserError as e:  # query generation: the 400's text is not XML
    results["plain HTTP to the TLS port fails"] = "speaks HTTPS" in str(e)
print(json.dumps(results))
"""


def run_sts(venv, python, protocol, binary, env, tmp, log):
    """STS through boto3 and the CLI of this generation, against `--auth
    verify` with a role `app` that AKIDCOMPAT may assume."""
    config = os.path.join(tmp, f"sts-{venv}.toml")
    with open(config, "w") as f:
        f.write('[[principals]]\naccess_key_id = "AKIDCOMPAT"\nname = "compat"\nsecret_access_key = "compat-secret"\n' + ALL_SQS +
                '[[principals]]\naccess_key_id = "AKIDOTHER"\nname = "other"\nsecret_access_key = "other-secret"\n'
                '[[roles]]\nname = "app"\ntrust_policy = { Statement = [{ Effect = "Allow", '
                'Principal = { AWS = "arn:aws:iam::000000000000:user/compat" }, Action = "sts:AssumeRole" }] }\n'
                + ALL_SQS.replace("principals", "roles"))
    proc, endpoint = start_server(binary, log, ["--config", config, "--auth", "verify"])
    try:
        if endpoint is None:
            return report(False, f"{venv}: server starts for STS", f"exit {proc.poll()}")
        work = os.path.join(tmp, f"sts-{venv}")
        os.makedirs(work, exist_ok=True)
        p = subprocess.run([python, "-c", STS_CASES, endpoint, protocol, work], env=env,
                           capture_output=True, text=True, timeout=180)
        try:
            results = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return report(False, f"{venv}: STS cases ran", p.stderr[-2000:] + p.stdout[-500:])
        for name, ok in results.items():
            report(ok, f"{venv}: STS, {name}", "wrong answer")
        aws = os.path.join(ROOT, ".venv", venv, "bin", "aws")
        cmd = [aws, "sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/app",
               "--role-session-name", "cli", "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        ok = out.returncode == 0 and json.loads(out.stdout)["AssumedRoleUser"]["Arn"].endswith(":assumed-role/app/cli")
        report(ok, f"{venv}: STS, cli assume-role", out.stderr.strip())
    finally:
        stop_server(proc)


def run_tls(venv, python, protocol, binary, env, tmp, log):
    """boto3 (`verify=` the CA file) and the CLI (`--ca-bundle`,
    AWS_CA_BUNDLE) of this generation over HTTPS, against a server started
    with --tls-port and --tls-ca-out."""
    ca = os.path.join(tmp, f"ca-{venv}.pem")
    tls_port = free_port()
    proc, endpoint = start_server(binary, log, ["--tls-port", str(tls_port), "--tls-ca-out", ca], url_base=False)
    try:
        if endpoint is None:
            return report(False, f"{venv}: server starts with --tls-port", f"exit {proc.poll()}")
        https = f"https://localhost:{tls_port}"
        p = subprocess.run([python, "-c", TLS_CASES, https, ca, protocol], env=env, capture_output=True, text=True, timeout=120)
        try:
            results = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return report(False, f"{venv}: TLS cases ran", p.stderr[-2000:])
        for name, ok in results.items():
            report(ok, f"{venv}: https, boto3 {name}", "wrong answer")
        aws = os.path.join(ROOT, ".venv", venv, "bin", "aws")

        def cli(*args, extra_env=None):
            cmd = [aws, "sqs", *args, "--endpoint-url", https, "--region", "us-east-1", "--output", "json"]
            return subprocess.run(cmd, env={**env, **(extra_env or {})}, capture_output=True, text=True,
                                  timeout=60, stdin=subprocess.DEVNULL)

        name = f"compat-tls-cli-{venv}"
        made = cli("create-queue", "--queue-name", name, "--ca-bundle", ca)
        url = json.loads(made.stdout).get("QueueUrl", "") if made.returncode == 0 else ""
        report(url == f"{https}/000000000000/{name}", f"{venv}: https, cli --ca-bundle create-queue",
               f"exit {made.returncode}: {made.stdout.strip()} {made.stderr.strip()}")
        listed = cli("list-queues", "--queue-name-prefix", name, extra_env={"AWS_CA_BUNDLE": ca})
        report(listed.returncode == 0 and json.loads(listed.stdout).get("QueueUrls") == [url],
               f"{venv}: https, cli AWS_CA_BUNDLE list-queues", f"exit {listed.returncode}: {listed.stderr.strip()}")
        refused = cli("list-queues")
        report(refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr,
               f"{venv}: https, cli without the CA fails", f"exit {refused.returncode}: {refused.stderr.strip()}")
        with urllib.request.urlopen(f"{endpoint}/_sealq/metrics", timeout=10) as r:
            metrics = r.read().decode()
        over_tls = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                       if line.startswith("sealq_auth_requests_total{") and 'tls="yes"' in line)
        report(over_tls >= 8, f"{venv}: https, metrics count the requests as tls=\"yes\"", f"{over_tls} counted")
    finally:
        stop_server(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "sealq"))
    binary = os.path.abspath(parser.parse_args().binary)

    with tempfile.TemporaryDirectory(prefix="sealq-compat-") as tmp:
        env = clean_env(tmp)
        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "wb") as log:
            proc = None
            try:
                if not os.access(binary, os.X_OK):
                    report(False, "server starts", f"no executable at {binary} (run cargo build)")
                else:
                    proc, endpoint = start_server(binary, log)
                    if endpoint is None:
                        why = "no health within 30 s" if proc.poll() is None else f"exited with {proc.poll()}"
                        report(False, "server starts", why)
                    else:
                        report(True, "server starts")
                        for venv, protocol in VENVS.items():
                            python = os.path.join(ROOT, ".venv", venv, "bin", "python")
                            if not os.access(python, os.X_OK):
                                report(False, f"{venv}: venv exists", "run bash tests/compat/setup.sh")
                                continue
                            check_protocol(venv, python, protocol, env)
                            run_scenario(venv, python, endpoint, env)
                            run_cli(venv, endpoint, env)
                            run_durable(venv, python, binary, env, tmp, log)
                            run_verify(venv, python, protocol, binary, env, tmp, log)
                            run_sts(venv, python, protocol, binary, env, tmp, log)
                            run_tls(venv, python, protocol, binary, env, tmp, log)
            finally:
                if proc is not None:
                    stop_server(proc)
        with open(log_path, errors="replace") as f:
            tail = "".join(f.readlines()[-40:])
        if counts["failed"] and tail:
            print("--- server log (last 40 lines) ---\n" + tail, end="")
    print(f"{counts['passed']} passed, {counts['failed']} failed", flush=True)
    return 1 if counts["failed"] or not counts["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
