"""boto3 scenario of the compatibility suite, run by tests/compat/run.py with the
python of one compat venv: usage `scenario.py ENDPOINT_URL LABEL`.

Each check is a named case printing `PASS LABEL: case` or `FAIL LABEL: case: why`.
Cases run in order and hand state on; the last case deletes the queue. Exits 1 if any case failed, 0 otherwise.
"""

import hashlib
import json
import struct
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, LABEL = sys.argv[1], sys.argv[2]
BODY = "hello from boto3 \u2713 <&> \"quoted\""
STRING_ATTR = "caf\u00e9 & <tags>"
BINARY_ATTR = b"\x00\xff\x10binary\x80"

client = boto3.client(
    "sqs",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="AKIDCOMPAT",
    aws_secret_access_key="compat-secret",
    config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1}),
)


class State(dict):
    """What cases hand to later cases; a missing key means an earlier case failed."""

    def __missing__(self, key):
        raise RuntimeError(f"needs {key!r} from an earlier case that failed")


state = State()
failures = 0
content_types = set()  # of every request sent, to prove which wire protocol was spoken


def record_content_type(request, **_):
    content_types.add(request.headers.get("Content-Type", b""))
    # returning None lets botocore send the request


client.meta.events.register("before-send.sqs", record_content_type)


def client_as(service, access_key):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="compat-secret",
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1}),
    )


kms = client_as("kms", "AKIDCOMPAT")


def admin(path):
    with urllib.request.urlopen(f"{ENDPOINT}/_sealq{path}", timeout=10) as r:
        return json.loads(r.read())


def case(name):
    """Runs the decorated function at once as the test case `name`."""

    def run(fn):
        global failures
        try:
            fn()
            print(f"PASS {LABEL}: {name}", flush=True)
        except Exception as e:  # any error, assertion or not, fails the case
            failures += 1
            print(f"FAIL {LABEL}: {name}: {type(e).__name__}: {e}", flush=True)

    return run


def md5(data):
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes as the SQS developer guide defines it."""

    def field(b):
        return struct.pack(">I", len(b)) + b

    out = b""
    for name in sorted(attrs):
        a = attrs[name]
        out += field(name.encode()) + field(a["DataType"].encode())
        if "BinaryValue" in a:
            out += b"\x02" + field(a["BinaryValue"])
        else:
            out += b"\x01" + field(a["StringValue"].encode())
    return md5(out)


def receive(queue_url, want, **extra):
    """Receives until `want` messages arrived or 10 tries passed (bounded)."""
    got = []
    for _ in range(10):
        r = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **extra
        )
        got += r.get("Messages", [])
        if len(got) >= want:
            break
    return got


ATTRS = {
    "greeting": {"DataType": "String", "StringValue": STRING_ATTR},
    "blob": {"DataType": "Binary", "BinaryValue": BINARY_ATTR},
}
# MessageSystemAttributeNames exists only in the newer (JSON) models.
receive_input = client.meta.service_model.operation_model("ReceiveMessage").input_shape
ALL = {"AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
if "MessageSystemAttributeNames" in receive_input.members:
    ALL["MessageSystemAttributeNames"] = ["All"]


@case("create_queue")
def _():
    name = f"compat-{LABEL}-{uuid.uuid4().hex[:10]}"
    url = client.create_queue(QueueName=name)["QueueUrl"]
    assert url.endswith("/" + name), url
    state["name"] = name


@case("get_queue_url")
def _():
    url = client.get_queue_url(QueueName=state["name"])["QueueUrl"]
    assert url.endswith("/000000000000/" + state["name"]), url
    state["url"] = url


@case("send_message")
def _():
    r = client.send_message(QueueUrl=state["url"], MessageBody=BODY, MessageAttributes=ATTRS)
    assert r["MessageId"], r
    assert r["MD5OfMessageBody"] == md5(BODY.encode()), r
    assert r["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS), r
    state["sent_id"] = r["MessageId"]


@case("receive_message")
def _():
    msgs = receive(state["url"], 1, **ALL)
    assert len(msgs) == 1, msgs
    state["msg"] = msgs[0]
    assert state["msg"]["MessageId"] == state["sent_id"], state["msg"]


@case("receive_body_and_md5")
def _():
    m = state["msg"]
    assert m["Body"] == BODY, repr(m["Body"])
    assert m["MD5OfBody"] == md5(BODY.encode()), m


@case("receive_message_attributes")
def _():
    m = state["msg"]
    got = m["MessageAttributes"]
    assert got["greeting"] == {"DataType": "String", "StringValue": STRING_ATTR}, got
    assert got["blob"] == {"DataType": "Binary", "BinaryValue": BINARY_ATTR}, got
    assert set(got) == set(ATTRS), got
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS), m


@case("receive_system_attributes")
def _():
    a = state["msg"]["Attributes"]
    assert a.get("SenderId"), a
    assert a.get("ApproximateReceiveCount") == "1", a
    assert a.get("SentTimestamp", "").isdigit(), a


@case("delete_message")
def _():
    client.delete_message(QueueUrl=state["url"], ReceiptHandle=state["msg"]["ReceiptHandle"])


@case("send_message_batch")
def _():
    entries = [{"Id": f"e{i}", "MessageBody": f"batch body {i}"} for i in range(3)]
    r = client.send_message_batch(QueueUrl=state["url"], Entries=entries)
    assert not r.get("Failed"), r
    ok = {e["Id"]: e for e in r["Successful"]}
    assert sorted(ok) == ["e0", "e1", "e2"], r
    for i in range(3):
        assert ok[f"e{i}"]["MD5OfMessageBody"] == md5(f"batch body {i}".encode()), ok


@case("receive_batch")
def _():
    msgs = receive(state["url"], 3)
    bodies = sorted(m["Body"] for m in msgs)
    assert bodies == [f"batch body {i}" for i in range(3)], bodies
    state["batch"] = msgs


@case("delete_message_batch")
def _():
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(state["batch"])]
    r = client.delete_message_batch(QueueUrl=state["url"], Entries=entries)
    assert not r.get("Failed"), r
    assert sorted(e["Id"] for e in r["Successful"]) == ["d0", "d1", "d2"], r


@case("queue_empty")
def _():
    r = client.get_queue_attributes(
        QueueUrl=state["url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    assert r["Attributes"]["ApproximateNumberOfMessages"] == "0", r
    assert r["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0", r


@case("tag_queue")
def _():
    client.tag_queue(QueueUrl=state["url"], Tags={"env": "compat", "team": "sealq"})
    client.untag_queue(QueueUrl=state["url"], TagKeys=["team"])
    tags = client.list_queue_tags(QueueUrl=state["url"]).get("Tags")
    assert tags == {"env": "compat"}, tags


@case("wire_protocol")
def _():
    json_gen = client.meta.service_model.protocol == "json"
    want = b"application/x-amz-json-1.0" if json_gen else b"application/x-www-form-urlencoded; charset=utf-8"
    got = {c if isinstance(c, bytes) else c.encode() for c in content_types}
    assert got == {want}, got


@case("default_sse_sqs")
def _():
    a = client.get_queue_attributes(QueueUrl=state["url"], AttributeNames=["All"])["Attributes"]
    assert a.get("SqsManagedSseEnabled") == "true", a
    assert "KmsMasterKeyId" not in a, a


@case("kms_create_key_and_alias")
def _():
    md = kms.create_key(Description=f"compat {LABEL}")["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["KeyManager"] == "CUSTOMER", md
    alias = f"alias/compat-{LABEL}-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    state["key_arn"], state["key_id"], state["alias"] = md["Arn"], md["KeyId"], alias


@case("sse_kms_queue")
def _():
    name = f"compat-kms-{LABEL}-{uuid.uuid4().hex[:10]}"
    url = client.create_queue(
        QueueName=name, Attributes={"KmsMasterKeyId": state["alias"], "KmsDataKeyReusePeriodSeconds": "120"}
    )["QueueUrl"]
    a = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["KmsMasterKeyId"] == state["alias"], a
    assert a["KmsDataKeyReusePeriodSeconds"] == "120", a
    assert a["SqsManagedSseEnabled"] == "false", a
    state["kms_url"], state["kms_name"] = url, name


@case("sse_kms_send_is_an_envelope_at_rest")
def _():
    r = client.send_message(QueueUrl=state["kms_url"], MessageBody=BODY, MessageAttributes=ATTRS)
    assert r["MD5OfMessageBody"] == md5(BODY.encode()), r
    view = admin(f"/queues/{state['kms_name']}/messages")
    m = view["messages"][0]
    assert m["encrypted"] is True and m["sse"] == "SSE-KMS", m
    assert m["key_arn"] == state["key_arn"], m
    assert m["encryption_context"] == {"aws:sqs:arn": view["queue_arn"]}, m
    assert "body" not in m and "hello from boto3" not in json.dumps(view), view


@case("sse_kms_receive")
def _():
    msgs = receive(state["kms_url"], 1, **ALL)
    assert len(msgs) == 1 and msgs[0]["Body"] == BODY, msgs
    assert msgs[0]["MD5OfBody"] == md5(BODY.encode()), msgs
    assert msgs[0]["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS), msgs
    client.delete_message(QueueUrl=state["kms_url"], ReceiptHandle=msgs[0]["ReceiptHandle"])


@case("sse_kms_ledger")
def _():
    calls = [c for c in admin("/kms/calls") if c["queue_arn"].endswith(":" + state["kms_name"])]
    ops = sorted((c["operation"], c["principal"].rsplit("/", 1)[-1]) for c in calls)
    # Producer: GenerateDataKey + verifying Decrypt; consumer (same principal): one Decrypt.
    assert ops == [("Decrypt", "AKIDCOMPAT"), ("Decrypt", "AKIDCOMPAT"), ("GenerateDataKey", "AKIDCOMPAT")], ops
    assert all(c["key_arn"] == state["key_arn"] for c in calls), calls


@case("sse_kms_disabled_key_error")
def _():
    kms.disable_key(KeyId=state["key_id"])
    try:
        client_as("sqs", "AKIDCOMPATNEW").send_message(QueueUrl=state["kms_url"], MessageBody="x")
        raise AssertionError("send with a disabled key succeeded")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "KMS.DisabledException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
    finally:
        kms.enable_key(KeyId=state["key_id"])
    client.delete_queue(QueueUrl=state["kms_url"])


@case("dlq_then_redrive")
def _():
    dlq_url = client.create_queue(QueueName=f"compat-dlq-{LABEL}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    src_url = client.create_queue(
        QueueName=f"compat-src-{LABEL}-{uuid.uuid4().hex[:8]}", Attributes={"RedrivePolicy": policy}
    )["QueueUrl"]
    src_arn = client.get_queue_attributes(QueueUrl=src_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.send_message(QueueUrl=src_url, MessageBody="poison")
    first = client.receive_message(QueueUrl=src_url, VisibilityTimeout=0).get("Messages", [])
    assert len(first) == 1, first
    assert not client.receive_message(QueueUrl=src_url, VisibilityTimeout=0).get("Messages"), "not moved"
    dead = client.receive_message(QueueUrl=dlq_url, VisibilityTimeout=0, **ALL).get("Messages", [])
    assert len(dead) == 1 and dead[0]["Body"] == "poison", dead
    assert dead[0]["Attributes"].get("DeadLetterQueueSourceArn") == src_arn, dead
    assert dead[0]["MessageId"] == first[0]["MessageId"], dead
    assert client.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [src_url]
    handle = client.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle, handle
    deadline = time.monotonic() + 10
    while True:
        tasks = client.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        if tasks and tasks[0]["Status"] == "COMPLETED":
            assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 1, tasks
            break
        assert time.monotonic() < deadline, tasks
        time.sleep(0.05)
    back = receive(src_url, 1)
    assert len(back) == 1 and back[0]["Body"] == "poison", back
    for url in (src_url, dlq_url):
        client.delete_queue(QueueUrl=url)


@case("fifo_round_trip")
def _():
    url = client.create_queue(
        QueueName=f"compat-{LABEL}-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sent = [client.send_message(QueueUrl=url, MessageBody=f"step {i}", MessageGroupId="g") for i in range(3)]
    again = client.send_message(QueueUrl=url, MessageBody="step 0", MessageGroupId="g")
    assert again["MessageId"] == sent[0]["MessageId"], (again, sent[0])
    seqs = [int(r["SequenceNumber"]) for r in sent]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3, seqs
    first = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, **ALL)["Messages"]
    assert [m["Body"] for m in first] == ["step 0"], first
    assert first[0]["Attributes"]["MessageGroupId"] == "g", first
    assert first[0]["Attributes"]["SequenceNumber"] == sent[0]["SequenceNumber"], first
    # The group is blocked while "step 0" is in flight.
    assert not client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"), "group not blocked"
    client.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    rest = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["step 1", "step 2"], rest
    client.delete_queue(QueueUrl=url)


missing = {}
try:
    client.get_queue_url(QueueName=f"compat-missing-{uuid.uuid4().hex[:10]}")
except Exception as e:  # ClientError expected; anything else fails the cases below
    missing["error"] = e


@case("missing_queue_error_code")
def _():
    e = missing.get("error")
    assert isinstance(e, ClientError), f"get_queue_url of a missing queue raised {e!r}"
    assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response


@case("missing_queue_exception_class")
def _():
    e = missing.get("error")
    assert isinstance(e, client.exceptions.QueueDoesNotExist), type(e)


@case("recorded_bare_name_prefix_filter_and_empty_list")
def _():
    # AWS recorded: QueueUrl may be the bare queue name; "Hel.*" is a plain
    # prefix; an empty MessageAttributeNames list returns no attributes
    # (the query generation of botocore sends it as a bare name).
    name = f"compat-rec-{LABEL}-{uuid.uuid4().hex[:10]}"
    client.create_queue(QueueName=name)
    attrs = {n: {"DataType": "String", "StringValue": v} for n, v in
             [("Hello", "1"), ("Help.Me", "2"), ("General", "3")]}
    client.send_message(QueueUrl=name, MessageBody="filtered", MessageAttributes=attrs)
    r = client.receive_message(QueueUrl=name, MessageAttributeNames=["Hel.*"], VisibilityTimeout=0)
    m = r["Messages"][0]
    want = {k: attrs[k] for k in ("Hello", "Help.Me")}
    assert m["MessageAttributes"] == want, m
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(want), m
    r = client.receive_message(QueueUrl=name, MessageAttributeNames=[], VisibilityTimeout=0)
    m = r["Messages"][0]
    assert "MessageAttributes" not in m, m
    client.delete_queue(QueueUrl=name)


@case("delete_queue")
def _():
    client.delete_queue(QueueUrl=state.get("url") or client.get_queue_url(QueueName=state["name"])["QueueUrl"])
    # Deleted queues vanish from GetQueueUrl (bounded wait: AWS allows up to 60 s; an emulator is immediate).
    deadline = time.monotonic() + 5
    while True:
        try:
            client.get_queue_url(QueueName=state["name"])
        except client.exceptions.QueueDoesNotExist:
            return
        assert time.monotonic() < deadline, "queue still found after delete_queue"
        time.sleep(0.2)


sys.exit(1 if failures else 0)
