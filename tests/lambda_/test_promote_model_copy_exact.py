"""Promotion copy, exact: every S3 request of a verified copy, and that a refused or failed copy writes nothing.

Written against the survivors of ``make mutate-lambda FN=promote_model`` for ``copy_verified``, the multipart and
chunk helpers and the checks of an existing copy (README, "Development"). The moto tests showed that copies land
and mismatches are refused; they did not pin the requests (encryption, ``If-None-Match: *``, the digest metadata,
part numbers and bodies), how the source is cut into parts, the refusal messages, nor which S3 errors mean "absent"
or "another attempt won". A recording stand-in for S3 answers as S3 does (a 404 ClientError from HeadObject, a
``Body`` stream from GetObject, an ``UploadId`` and ``ETag`` per part); its ``Body`` hands out at most three bytes
per ``read``, as a network stream may.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

PROMOTE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "promote_model"
if str(PROMOTE_DIR) not in sys.path:
    sys.path.insert(0, str(PROMOTE_DIR))

import promote  # noqa: E402

KMS = "arn:aws:kms:eu-west-1:222222222222:key/11111111-2222-3333-4444-555555555555"
SOURCE = ("registry-models", "exec-1/model.tar.gz")
DEST = ("prod-models", "promoted/churn/v3/model.tar.gz")
WHAT = "the model artifact of pkg/3"
ENCRYPTION = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS, "BucketKeyEnabled": True}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def client_error(operation: str, code: str | None, status: int | None = None) -> ClientError:
    response: dict[str, Any] = {}
    if code is not None:
        response["Error"] = {"Code": code, "Message": code}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, operation)  # type: ignore[arg-type]


class TrickleBody:
    """A GetObject ``Body`` that returns at most three bytes per ``read`` and records the sizes asked for."""

    def __init__(self, data: bytes, reads: list[int]) -> None:
        self._data = data
        self._reads = reads

    def read(self, size: int) -> bytes:
        self._reads.append(size)
        piece, self._data = self._data[: min(size, 3)], self._data[min(size, 3) :]
        return piece


class FakeS3:
    """S3 in memory: objects by (bucket, key), every call recorded in order; ``errors`` makes an operation fail."""

    exceptions = SimpleNamespace(ClientError=ClientError)

    def __init__(self, objects: dict[tuple[str, str], bytes | list[bytes]] | None = None) -> None:
        # A list of bytes: what successive GetObjects of that key return (a source that changes between reads).
        self.objects: dict[tuple[str, str], bytes | list[bytes]] = dict(objects or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, Exception] = {}
        self.reads: list[int] = []
        # Another attempt wrote the destination after this one's HeadObject (HeadObject answers 404 regardless).
        self.written_after_head = False

    def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if name in self.errors:
            raise self.errors[name]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("head_object", kwargs)
        if self.written_after_head or (kwargs["Bucket"], kwargs["Key"]) not in self.objects:
            raise client_error("HeadObject", "404", 404)
        return {"ContentLength": 1}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("get_object", kwargs)
        location = (kwargs["Bucket"], kwargs["Key"])
        if location not in self.objects:
            raise client_error("GetObject", "NoSuchKey", 404)
        stored = self.objects[location]
        if isinstance(stored, list) and not stored:
            raise client_error("GetObject", "NoSuchKey", 404)  # deleted after the reads listed
        data = stored.pop(0) if isinstance(stored, list) else stored
        return {"Body": TrickleBody(data, self.reads)}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("put_object", kwargs)
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = kwargs["Body"]
        return {"ETag": '"e"'}

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self._call("create_multipart_upload", kwargs)
        return {"UploadId": "upload-1", "Bucket": kwargs["Bucket"], "Key": kwargs["Key"]}

    def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        self._call("upload_part", kwargs)
        return {"ETag": f'"etag-{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self._call("complete_multipart_upload", kwargs)
        return {"Location": "x"}

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self._call("abort_multipart_upload", kwargs)
        return {}


def copy(source_s3: FakeS3, dest_s3: FakeS3, expected: str | None, part_size: int = 4) -> str:
    digest: str = promote.copy_verified(
        source_s3,
        dest_s3,
        source=SOURCE,
        dest=DEST,
        kms_key_arn=KMS,
        expected_sha256=expected,
        part_size=part_size,
        what=WHAT,
    )
    return digest


HEAD = ("head_object", {"Bucket": DEST[0], "Key": DEST[1]})
GET_SOURCE = ("get_object", {"Bucket": SOURCE[0], "Key": SOURCE[1]})
GET_DEST = ("get_object", {"Bucket": DEST[0], "Key": DEST[1]})


def put(body: bytes) -> tuple[str, dict[str, Any]]:
    return (
        "put_object",
        {"Bucket": DEST[0], "Key": DEST[1], "Body": body, "IfNoneMatch": "*", "Metadata": {"sha256": sha(body)}}
        | ENCRYPTION,
    )


def multipart(parts: list[bytes], digest: str, *, complete: bool = True) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("create_multipart_upload", {"Bucket": DEST[0], "Key": DEST[1], "Metadata": {"sha256": digest}} | ENCRYPTION)
    ]
    calls += [
        ("upload_part", {"Bucket": DEST[0], "Key": DEST[1], "UploadId": "upload-1", "PartNumber": n, "Body": part})
        for n, part in enumerate(parts, start=1)
    ]
    if complete:
        calls.append(
            (
                "complete_multipart_upload",
                {
                    "Bucket": DEST[0],
                    "Key": DEST[1],
                    "UploadId": "upload-1",
                    "MultipartUpload": {
                        "Parts": [{"PartNumber": n, "ETag": f'"etag-{n}"'} for n in range(1, len(parts) + 1)]
                    },
                    "IfNoneMatch": "*",
                },
            )
        )
    return calls


ABORT = ("abort_multipart_upload", {"Bucket": DEST[0], "Key": DEST[1], "UploadId": "upload-1"})


# --- one PUT ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"a", b"abc", b"abcd"], ids=["empty", "one-byte", "three", "exactly-a-part"])
def test_an_object_of_at_most_one_part_is_one_conditional_encrypted_put_with_its_digest(data: bytes) -> None:
    source, dest = FakeS3({SOURCE: data}), FakeS3()

    assert copy(source, dest, sha(data)) == sha(data)

    assert source.calls == [GET_SOURCE]
    assert dest.calls == [HEAD, put(data)]


def test_without_a_recorded_digest_a_small_object_is_put_with_the_digest_of_its_bytes() -> None:
    source, dest = FakeS3({SOURCE: b"baseline"}), FakeS3()

    assert copy(source, dest, None, part_size=64) == sha(b"baseline")

    assert dest.calls == [HEAD, put(b"baseline")]


def test_a_small_object_that_does_not_hash_to_the_recorded_digest_is_refused_before_any_write() -> None:
    source, dest = FakeS3({SOURCE: b"tampered"}), FakeS3()

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, sha(b"registered"), part_size=64)

    assert str(caught.value) == (
        f"{WHAT}: s3://{SOURCE[0]}/{SOURCE[1]} has SHA-256 {sha(b'tampered')}, but the package records "
        f"{sha(b'registered')}; the artifact changed after registration: refused, nothing was written"
    )
    assert dest.calls == [HEAD]


def test_a_put_that_loses_the_race_to_the_same_bytes_verifies_them_and_succeeds() -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3()
    dest.errors["put_object"] = client_error("PutObject", "PreconditionFailed", 412)
    dest.objects[DEST] = b"model"  # what the other attempt wrote
    dest.written_after_head = True

    assert copy(source, dest, sha(b"model"), part_size=64) == sha(b"model")

    assert dest.calls == [HEAD, put(b"model"), GET_DEST]
    assert source.calls == [GET_SOURCE]  # the digest just computed is the one the winner's copy must have


def test_a_put_that_loses_the_race_to_other_bytes_is_refused_and_nothing_is_replaced() -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3()
    dest.errors["put_object"] = client_error("PutObject", "ConditionalRequestConflict", 409)
    dest.written_after_head = True
    dest.objects[DEST] = b"other"

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None, part_size=64)

    assert str(caught.value) == (
        f"{WHAT}: s3://{DEST[0]}/{DEST[1]} already exists with SHA-256 {sha(b'other')}, not {sha(b'model')}; "
        "promoted copies are immutable and never overwritten: investigate how it changed, then delete it "
        "deliberately to re-promote"
    )
    assert dest.names() == ["head_object", "put_object", "get_object"]
    assert dest.objects[DEST] == b"other"


def test_any_other_put_error_is_raised_unchanged() -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3()
    denied = client_error("PutObject", "AccessDenied", 403)
    dest.errors["put_object"] = denied

    with pytest.raises(ClientError) as caught:
        copy(source, dest, None, part_size=64)

    assert caught.value is denied
    assert dest.names() == ["head_object", "put_object"]


# --- multipart ----------------------------------------------------------------------------------------------------


def test_a_larger_object_is_uploaded_in_parts_of_part_size_and_completed_conditionally() -> None:
    data = b"0123456789"
    source, dest = FakeS3({SOURCE: data}), FakeS3()

    assert copy(source, dest, sha(data)) == sha(data)

    assert source.calls == [GET_SOURCE]
    assert dest.calls == [HEAD, *multipart([b"0123", b"4567", b"89"], sha(data))]
    # Each part is filled from several reads of the stream, never asking past the part's end.
    assert source.reads == [4, 1, 4, 1, 4, 2]


def test_an_object_of_exactly_two_parts_is_two_parts_and_the_stream_is_read_to_its_end() -> None:
    data = b"01234567"
    source, dest = FakeS3({SOURCE: data}), FakeS3()

    assert copy(source, dest, sha(data)) == sha(data)

    assert dest.calls == [HEAD, *multipart([b"0123", b"4567"], sha(data))]


def test_without_a_recorded_digest_a_larger_object_is_hashed_first_then_copied_and_checked_again() -> None:
    data = b"0123456789"
    source, dest = FakeS3({SOURCE: data}), FakeS3()

    assert copy(source, dest, None) == sha(data)

    assert source.calls == [GET_SOURCE, GET_SOURCE]
    assert dest.calls == [HEAD, *multipart([b"0123", b"4567", b"89"], sha(data))]


def test_a_source_that_changes_between_the_two_passes_is_refused_and_the_upload_aborted() -> None:
    source, dest = FakeS3({SOURCE: [b"0123456789", b"0123456789X"]}), FakeS3()

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value) == (
        f"{WHAT}: s3://{SOURCE[0]}/{SOURCE[1]} has SHA-256 {sha(b'0123456789X')}, but the package records "
        f"{sha(b'0123456789')}; the artifact changed after registration: refused, nothing was written"
    )
    assert dest.calls == [HEAD, *multipart([b"0123", b"4567", b"89X"], sha(b"0123456789"), complete=False), ABORT]


@pytest.mark.parametrize(
    ("second_pass", "parts"),
    [(b"012", [b"012", b""]), (b"", [b"", b""])],
    ids=["shrunk-to-one-part", "emptied"],
)
def test_a_source_that_shrinks_below_two_parts_on_the_second_pass_is_refused(
    second_pass: bytes, parts: list[bytes]
) -> None:
    source, dest = FakeS3({SOURCE: [b"0123456789", second_pass]}), FakeS3()

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value) == (
        f"{WHAT}: s3://{SOURCE[0]}/{SOURCE[1]} has SHA-256 {sha(second_pass)}, but the package records "
        f"{sha(b'0123456789')}; the artifact changed after registration: refused, nothing was written"
    )
    assert dest.calls == [HEAD, *multipart(parts, sha(b"0123456789"), complete=False), ABORT]


def test_a_source_deleted_between_the_two_passes_is_named_and_nothing_is_uploaded() -> None:
    source, dest = FakeS3({SOURCE: [b"0123456789"]}), FakeS3()

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value).startswith(f"{WHAT}: cannot read s3://{SOURCE[0]}/{SOURCE[1]} (NoSuchKey); ")
    assert (source.calls, dest.calls) == ([GET_SOURCE, GET_SOURCE], [HEAD])


def test_a_larger_object_that_does_not_hash_to_the_recorded_digest_is_aborted_never_completed() -> None:
    source, dest = FakeS3({SOURCE: b"0123456789"}), FakeS3()

    with pytest.raises(promote.PromotionError, match=r"^the model artifact of pkg/3: s3://registry-models/"):
        copy(source, dest, sha(b"registered"))

    assert dest.calls == [HEAD, *multipart([b"0123", b"4567", b"89"], sha(b"registered"), complete=False), ABORT]


def test_a_failed_part_aborts_the_upload_and_is_raised_unchanged() -> None:
    source, dest = FakeS3({SOURCE: b"0123456789"}), FakeS3()
    reset = ConnectionError("connection reset during UploadPart")
    dest.errors["upload_part"] = reset

    with pytest.raises(ConnectionError) as caught:
        copy(source, dest, sha(b"0123456789"))

    assert caught.value is reset
    assert dest.names() == ["head_object", "create_multipart_upload", "upload_part", "abort_multipart_upload"]


def test_a_completion_that_loses_the_race_to_the_same_bytes_verifies_them_and_frees_its_parts() -> None:
    data = b"0123456789"
    source, dest = FakeS3({SOURCE: data}), FakeS3()
    dest.errors["complete_multipart_upload"] = client_error("CompleteMultipartUpload", None, 412)
    dest.objects[DEST] = data
    dest.written_after_head = True

    assert copy(source, dest, sha(data)) == sha(data)

    assert dest.calls == [HEAD, *multipart([b"0123", b"4567", b"89"], sha(data)), GET_DEST, ABORT]


def test_a_completion_that_loses_the_race_to_other_bytes_is_refused() -> None:
    source, dest = FakeS3({SOURCE: b"0123456789"}), FakeS3()
    dest.errors["complete_multipart_upload"] = client_error("CompleteMultipartUpload", "PreconditionFailed")
    dest.objects[DEST] = b"other"
    dest.written_after_head = True

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, sha(b"0123456789"))

    assert str(caught.value) == (
        f"{WHAT}: s3://{DEST[0]}/{DEST[1]} already exists with SHA-256 {sha(b'other')}, not {sha(b'0123456789')}; "
        "promoted copies are immutable and never overwritten: investigate how it changed, then delete it "
        "deliberately to re-promote"
    )
    assert dest.names()[-2:] == ["get_object", "abort_multipart_upload"]
    assert dest.objects[DEST] == b"other"


def test_any_other_completion_error_aborts_and_is_raised_unchanged() -> None:
    source, dest = FakeS3({SOURCE: b"0123456789"}), FakeS3()
    slow = client_error("CompleteMultipartUpload", "SlowDown", 503)
    dest.errors["complete_multipart_upload"] = slow

    with pytest.raises(ClientError) as caught:
        copy(source, dest, sha(b"0123456789"))

    assert caught.value is slow
    assert dest.names()[-2:] == ["complete_multipart_upload", "abort_multipart_upload"]


# --- an existing copy ---------------------------------------------------------------------------------------------


def test_an_existing_copy_with_the_recorded_digest_is_kept_without_reading_the_source_or_writing() -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3({DEST: b"model"})

    assert copy(source, dest, sha(b"model")) == sha(b"model")

    assert source.calls == []
    assert dest.calls == [HEAD, GET_DEST]


def test_an_existing_copy_without_a_recorded_digest_must_hash_like_the_source() -> None:
    source, dest = FakeS3({SOURCE: b"baseline"}), FakeS3({DEST: b"baseline"})

    assert copy(source, dest, None) == sha(b"baseline")

    assert (source.calls, dest.calls) == ([GET_SOURCE], [HEAD, GET_DEST])


def test_an_existing_copy_of_other_bytes_is_refused_naming_both_digests_and_never_replaced() -> None:
    source, dest = FakeS3({SOURCE: b"baseline"}), FakeS3({DEST: b"changed"})

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value) == (
        f"{WHAT}: s3://{DEST[0]}/{DEST[1]} already exists with SHA-256 {sha(b'changed')}, not {sha(b'baseline')}; "
        "promoted copies are immutable and never overwritten: investigate how it changed, then delete it "
        "deliberately to re-promote"
    )
    assert dest.names() == ["head_object", "get_object"]


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_each_not_found_answer_of_head_object_means_absent(code: str) -> None:
    assert promote._exists(_Head(client_error("HeadObject", code)), "b", "k") is False


@pytest.mark.parametrize("error", [client_error("HeadObject", "403", 403), client_error("HeadObject", None, 404)])
def test_any_other_head_object_error_is_raised_unchanged_and_nothing_is_copied(error: ClientError) -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3()
    dest.errors["head_object"] = error

    with pytest.raises(ClientError) as caught:
        copy(source, dest, None)

    assert caught.value is error
    assert (source.calls, dest.names()) == ([], ["head_object"])


class _Head:
    exceptions = SimpleNamespace(ClientError=ClientError)

    def __init__(self, error: ClientError) -> None:
        self.error = error

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (client_error("PutObject", "PreconditionFailed", 412), True),
        (client_error("PutObject", "PreconditionFailed"), True),
        (client_error("PutObject", "ConditionalRequestConflict"), True),
        (client_error("PutObject", None, 412), True),
        (client_error("PutObject", None, 409), True),
        (client_error("PutObject", "SomethingElse", 409), True),
        (client_error("PutObject", "AccessDenied", 403), False),
        (client_error("PutObject", None), False),
        (client_error("PutObject", "InternalError", 500), False),
    ],
)
def test_a_lost_conditional_write_is_a_precondition_failure_or_a_conflict(error: ClientError, lost: bool) -> None:
    assert promote._precondition_failed(error) is lost


# --- reading the source -------------------------------------------------------------------------------------------


def test_an_unreadable_source_is_named_with_its_error_code_and_nothing_is_written() -> None:
    source, dest = FakeS3(), FakeS3()

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value) == (
        f"{WHAT}: cannot read s3://{SOURCE[0]}/{SOURCE[1]} (NoSuchKey); it must exist in the registry's artifact "
        "bucket and the bucket and key policies must let this promotion role read it"
    )
    assert isinstance(caught.value.__cause__, ClientError)
    assert dest.calls == [HEAD]


def test_a_read_error_without_a_code_is_named_with_an_empty_code() -> None:
    source, dest = FakeS3({SOURCE: b"x"}), FakeS3()
    source.errors["get_object"] = client_error("GetObject", None, 500)

    with pytest.raises(promote.PromotionError, match=r"cannot read s3://registry-models/exec-1/model\.tar\.gz \(\);"):
        copy(source, dest, None)


def test_chunks_are_full_parts_then_the_remainder_and_an_empty_stream_is_no_chunk() -> None:
    reads: list[int] = []
    assert list(promote._chunks(TrickleBody(b"abcdefghij", reads), 5)) == [b"abcde", b"fghij"]
    assert reads == [5, 2, 5, 2, 5]
    assert list(promote._chunks(TrickleBody(b"", []), 5)) == []
    assert list(promote._chunks(TrickleBody(b"abcdefg", []), 5)) == [b"abcde", b"fg"]


def test_an_existing_copy_whose_source_cannot_be_read_for_its_digest_is_named_and_kept() -> None:
    source, dest = FakeS3(), FakeS3({DEST: b"baseline"})

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, None)

    assert str(caught.value).startswith(f"{WHAT}: cannot read s3://{SOURCE[0]}/{SOURCE[1]} (NoSuchKey); ")
    assert dest.names() == ["head_object"]


def test_an_existing_copy_that_cannot_be_read_back_is_named_and_kept() -> None:
    source, dest = FakeS3({SOURCE: b"model"}), FakeS3({DEST: b"model"})
    dest.errors["get_object"] = client_error("GetObject", "AccessDenied", 403)

    with pytest.raises(promote.PromotionError) as caught:
        copy(source, dest, sha(b"model"))

    assert str(caught.value).startswith(f"{WHAT}: cannot read s3://{DEST[0]}/{DEST[1]} (AccessDenied); ")
    assert (source.calls, dest.names()) == ([], ["head_object", "get_object"])
