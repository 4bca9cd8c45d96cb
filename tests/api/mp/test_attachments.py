"""POST /mp/v1/attachments: one file, typed by its content, stored once under its hash, owned by its uploader;
and check_materials, which lets a submission use only the resident's own files of the right kind."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.accounts.models import Resident
from service.attachments import operations
from service.attachments.models import Attachment
from service.attachments.storage import EXTENSION_KEY, LocalStorage, storage_for
from service.core.auth import Actor
from service.core.db import db
from service.core.models import AuditRecord
from service.core.ratelimit import limiter
from tests.conftest import _empty_tables, bearer, count_rows

PROBLEM = "application/problem+json"
URL = "/mp/v1/attachments"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


# --- real files, made here ----------------------------------------------------------------------------------


def png_bytes(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    """A baseline 1×1 grey JPEG (decodes with libjpeg): one 8×8 block, DC difference 0, then end of block."""

    def segment(marker: int, payload: bytes) -> bytes:
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    app0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = segment(0xDB, b"\x00" + b"\x01" * 64)
    sof0 = segment(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00")
    dht_dc = segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00")  # one 1-bit code: category 0
    dht_ac = segment(0xC4, b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00")  # one 1-bit code: end of block
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + app0 + dqt + sof0 + dht_dc + dht_ac + sos + b"\x3f" + b"\xff\xd9"


# A 1×1 lossless WebP (made with Pillow).
WEBP = bytes.fromhex("524946461c000000574542505650384c0f0000002f000000000750c088fe0722a2ff0100")


def pdf_bytes() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_OOXML_MAIN = {
    "word": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xl": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "ppt": ("ppt/presentation.xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}


def ooxml_bytes(kind: str = "word", thumbnail: bytes = b"") -> bytes:
    """An Office Open XML package as Office writes it: [Content_Types].xml first, the relationships, the main part
    (after a stored thumbnail, if one is given, as some writers put it)."""
    part, content_type = _OOXML_MAIN[kind]
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            f'officeDocument" Target="{part}"/></Relationships>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", rels)
        if thumbnail:
            archive.writestr("docProps/thumbnail.jpeg", thumbnail, zipfile.ZIP_STORED)
        archive.writestr(part, '<?xml version="1.0" encoding="UTF-8"?><root/>')
    return buffer.getvalue()


def zip_bytes(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "data")
    return buffer.getvalue()


def legacy_doc_bytes() -> bytes:
    """An OLE2 compound file whose first stream starts with Word's signature (what filetype recognises)."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"\xec\xa5\xc1\x00" + b"\x00" * 1020


# --- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture
def storage(app: Flask, tmp_path: Any) -> LocalStorage:
    """A storage directory of this test's own, so what it holds can be counted."""
    local = LocalStorage(str(tmp_path / "uploads"))
    app.extensions[EXTENSION_KEY] = local
    return local


@pytest.fixture
def alice(resident_token: Callable[[str], str], storage: LocalStorage) -> dict[str, str]:
    return bearer(resident_token("alice"))


@pytest.fixture
def make_app(settings: dict[str, Any], migrated: None, tmp_path: Any) -> Iterator[Callable[..., Flask]]:
    """Apps with settings of their own (and their own upload directory), cleaned up like ``app``."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(settings | {"UPLOAD_DIR": str(tmp_path / "own-uploads")} | overrides, "testing")
        limiter.reset()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


def post_file(client: FlaskClient, headers: dict[str, str], data: bytes, filename: str = "file.bin",
              content_type: str = "application/octet-stream", field: str = "file") -> Any:
    return client.post(URL, headers=headers, content_type="multipart/form-data",
                       data={field: (io.BytesIO(data), filename, content_type)})


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["detail"]
    return body


def stored_files(root: str) -> list[str]:
    return sorted(name for _dir, _subdirs, names in os.walk(root) for name in names)


def resident_actor(app: Flask, name: str) -> Actor:
    with app.app_context():
        resident = db.session.execute(sa.select(Resident).where(Resident.openid == f"o-{name}")).scalar_one_or_none()
        if resident is None:
            resident = Resident(openid=f"o-{name}")
            db.session.add(resident)
            db.session.commit()
        return Actor(kind="resident", id=resident.id)


# --- success ------------------------------------------------------------------------------------------------


def test_upload_a_png(app: Flask, client: FlaskClient, alice: dict[str, str], storage: LocalStorage) -> None:
    data = png_bytes(3, 2)
    sha256 = hashlib.sha256(data).hexdigest()

    response = post_file(client, alice, data, "现场照片.png", "image/png")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "filename", "content_type", "size", "sha256", "created_at"}
    assert body["filename"] == "现场照片.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(data)
    assert body["sha256"] == sha256
    assert body["created_at"].endswith("+08:00")
    # The bytes landed in the storage directory under their hash.
    path = os.path.join(storage.root, sha256[:2], sha256[2:4], sha256)
    with open(path, "rb") as handle:
        assert handle.read() == data
    assert stored_files(storage.root) == [sha256]
    with app.app_context():
        row = db.session.get(Attachment, body["id"])
        assert row is not None
        assert row.owner_kind == "resident"
        resident = db.session.execute(sa.select(Resident).where(Resident.openid == "o-alice")).scalar_one()
        assert row.owner_id == resident.id
        audit = db.session.execute(sa.select(AuditRecord).where(AuditRecord.object_id == body["id"])).scalar_one()
        assert audit.action == "attachment.uploaded"
        assert audit.data == {"content_type": "image/png", "size": len(data)}  # no name, no content


@pytest.mark.parametrize(("data", "filename", "content_type"), [
    pytest.param(jpeg_bytes(), "photo.jpg", "image/jpeg", id="jpeg"),
    pytest.param(png_bytes(), "photo.png", "image/png", id="png"),
    pytest.param(WEBP, "photo.webp", "image/webp", id="webp"),
    pytest.param(pdf_bytes(), "申请书.pdf", "application/pdf", id="pdf"),
    pytest.param(ooxml_bytes("word"), "申请书.docx", DOCX, id="docx"),
    pytest.param(ooxml_bytes("xl"), "清单.xlsx", XLSX, id="xlsx"),
    pytest.param(ooxml_bytes("ppt"), "汇报.pptx", PPTX, id="pptx"),
    pytest.param(ooxml_bytes("word", thumbnail=os.urandom(16384)), "带缩略图.docx", DOCX, id="docx-thumbnail-first"),
    pytest.param(legacy_doc_bytes(), "旧文档.doc", "application/msword", id="doc"),
])
def test_accepted_types_are_recognised_by_content(client: FlaskClient, alice: dict[str, str], data: bytes,
                                                  filename: str, content_type: str) -> None:
    # The client's part header says nothing useful; the content decides.
    response = post_file(client, alice, data, filename, "application/octet-stream")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["content_type"] == content_type
    assert response.get_json()["filename"] == filename


def test_the_name_does_not_decide_the_type(client: FlaskClient, alice: dict[str, str]) -> None:
    response = post_file(client, alice, png_bytes(), "scan.pdf", "application/pdf")

    assert response.status_code == 201
    body = response.get_json()
    assert body["content_type"] == "image/png"
    assert body["filename"] == "scan.pdf.png"  # the name ends with what the file really is


@pytest.mark.parametrize(("sent", "kept"), [
    ("C:\\fakepath\\身份证 正面.PNG", "身份证 正面.png"),
    ("../../etc/passwd", "passwd.png"),
    ("/data/uploads/.hidden.png", "hidden.png"),
    ("\u202egnp.exe", "gnp.exe.png"),
    ("tab\tand\nnewline.png", "tab and newline.png"),
    (None, "attachment.png"),
    ("", "attachment.png"),
    ("....", "attachment.png"),
    ("长" * 300 + ".png", "长" * 116 + ".png"),
])
def test_file_names_are_sanitised(sent: str | None, kept: str) -> None:
    cleaned = operations.clean_filename(sent, "image/png")

    assert cleaned == kept
    assert len(cleaned) <= operations.MAX_FILENAME_LENGTH


def test_the_stored_name_is_the_sanitised_one(client: FlaskClient, alice: dict[str, str]) -> None:
    response = post_file(client, alice, png_bytes(), "../证件/身份证\u202e 正面.PNG")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filename"] == "身份证 正面.png"


def test_same_content_is_stored_once_but_uploaded_twice(app: Flask, client: FlaskClient, alice: dict[str, str],
                                                        resident_token: Callable[[str], str],
                                                        storage: LocalStorage) -> None:
    data = pdf_bytes()
    first = post_file(client, alice, data, "a.pdf")
    second = post_file(client, alice, data, "b.pdf")
    third = post_file(client, bearer(resident_token("bob")), data, "c.pdf")

    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    ids = {r.get_json()["id"] for r in (first, second, third)}
    assert len(ids) == 3
    assert {r.get_json()["sha256"] for r in (first, second, third)} == {hashlib.sha256(data).hexdigest()}
    assert stored_files(storage.root) == [hashlib.sha256(data).hexdigest()]
    assert count_rows(app, "attachments") == 3


def test_the_default_storage_is_the_upload_dir(make_app: Callable[..., Flask], tmp_path: Any) -> None:
    app = make_app(UPLOAD_DIR=str(tmp_path / "configured"))
    with app.app_context():
        storage = storage_for(app)
        assert storage is storage_for(app)
        key = storage.put(b"%PDF-1.4 bytes")

    assert os.path.isfile(tmp_path / "configured" / key[:2] / key[2:4] / key)


def test_local_storage(tmp_path: Any) -> None:
    storage = LocalStorage(str(tmp_path / "store"))
    data = pdf_bytes()

    key = storage.put(data)
    assert storage.put(data) == key == hashlib.sha256(data).hexdigest()  # idempotent
    assert storage.exists(key)
    with storage.open(key) as handle:
        assert handle.read() == data
    assert stored_files(storage.root) == [key]  # no temporary file left behind
    storage.delete(key)
    storage.delete(key)  # deleting what is not there is no error
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)
    for bad in ("../../etc/passwd", key.upper(), key[:-1], ""):
        with pytest.raises(ValueError, match="SHA-256"):
            storage.exists(bad)


def test_an_upload_of_exactly_the_limit_is_accepted(make_app: Callable[..., Flask]) -> None:
    data = png_bytes(40, 40)
    app = make_app(ATTACHMENT_MAX_BYTES=len(data))
    client = app.test_client()
    token = client.post("/mp/v1/auth/login", json={"code": "dev-limit"}).get_json()["token"]

    assert post_file(client, bearer(token), data, "a.png").status_code == 201


def test_idempotency_key_replays_the_upload(app: Flask, client: FlaskClient, alice: dict[str, str]) -> None:
    headers = {**alice, "Idempotency-Key": "upload-1"}

    first = post_file(client, headers, png_bytes(), "a.png")
    again = post_file(client, headers, png_bytes(), "a.png")
    other = post_file(client, headers, jpeg_bytes(), "a.png")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    problem(other, 422)
    assert count_rows(app, "attachments") == 1


# --- validation errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "filename"), [
    pytest.param(b"This is plain text, not a PDF.\n", "document.pdf", id="text named pdf"),
    pytest.param(b"<html><body>hi</body></html>", "photo.png", id="html named png"),
    pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "photo.gif", id="gif"),
    pytest.param(b"MZ\x90\x00" + b"\x00" * 60, "setup.docx", id="exe named docx"),
    pytest.param(zip_bytes("a.txt", "b.txt"), "archive.docx", id="zip named docx"),
    pytest.param(zip_bytes("word/document.xml"), "fake.docx", id="zip without content types"),
    pytest.param(zip_bytes("[Content_Types].xml", "word/document.xml", "xl/workbook.xml"), "both.docx",
                 id="zip of two kinds"),
    pytest.param(ooxml_bytes("word")[:300], "truncated.docx", id="truncated docx"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000, "old.doc", id="unrecognised ole2"),
])
def test_other_content_is_415(app: Flask, client: FlaskClient, alice: dict[str, str], storage: LocalStorage,
                              data: bytes, filename: str) -> None:
    before = count_rows(app, "attachments")

    body = problem(post_file(client, alice, data, filename, "application/pdf"), 415)

    assert "PDF" in body["detail"]
    assert count_rows(app, "attachments") == before
    assert stored_files(storage.root) == []


def test_a_file_above_the_attachment_limit_is_413(make_app: Callable[..., Flask], tmp_path: Any) -> None:
    app = make_app(ATTACHMENT_MAX_BYTES=1024)
    client = app.test_client()
    token = client.post("/mp/v1/auth/login", json={"code": "dev-big"}).get_json()["token"]

    body = problem(post_file(client, bearer(token), pdf_bytes() + b"%" * 1024, "big.pdf"), 413)

    assert "1024" in body["detail"]
    assert count_rows(app, "attachments") == 0
    assert stored_files(str(tmp_path / "own-uploads")) == []


def test_a_body_above_max_content_length_is_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_CONTENT_LENGTH=2048)
    client = app.test_client()
    token = client.post("/mp/v1/auth/login", json={"code": "dev-huge"}).get_json()["token"]

    problem(post_file(client, bearer(token), pdf_bytes() + b"%" * 4096, "big.pdf"), 413)

    assert count_rows(app, "attachments") == 0


@pytest.mark.parametrize(("content_type", "data"), [
    ("application/json", b'{"file": "aGVsbG8="}'),
    ("application/pdf", pdf_bytes()),
    ("application/x-www-form-urlencoded", b"file=hello"),
])
def test_a_body_that_is_not_multipart_is_415(app: Flask, client: FlaskClient, alice: dict[str, str],
                                             content_type: str, data: bytes) -> None:
    problem(client.post(URL, headers=alice, data=data, content_type=content_type), 415)

    assert count_rows(app, "attachments") == 0


def test_no_file_in_the_field_is_400(app: Flask, client: FlaskClient, alice: dict[str, str]) -> None:
    empty_form = client.post(URL, headers=alice, content_type="multipart/form-data", data={"note": "x"})
    wrong_field = post_file(client, alice, png_bytes(), "a.png", field="upload")
    two_files = client.post(URL, headers=alice, content_type="multipart/form-data",
                            data={"file": [(io.BytesIO(png_bytes()), "a.png"), (io.BytesIO(pdf_bytes()), "b.pdf")]})

    for response in (empty_form, wrong_field, two_files):
        assert problem(response, 400)["errors"] == {"file": ["Exactly one file is required."]}
    assert count_rows(app, "attachments") == 0


def test_an_empty_file_is_422(app: Flask, client: FlaskClient, alice: dict[str, str]) -> None:
    body = problem(post_file(client, alice, b"", "empty.pdf"), 422)

    assert body["errors"] == {"file": ["The file is empty."]}
    assert count_rows(app, "attachments") == 0


# --- authorization ------------------------------------------------------------------------------------------


def test_anonymous_is_401(app: Flask, client: FlaskClient, storage: LocalStorage) -> None:
    problem(post_file(client, {}, png_bytes(), "a.png"), 401)

    assert count_rows(app, "attachments") == 0
    assert stored_files(storage.root) == []


def test_a_staff_token_is_401(app: Flask, client: FlaskClient, staff_token: Callable[..., str],
                              storage: LocalStorage) -> None:
    problem(post_file(client, bearer(staff_token("uploader")), png_bytes(), "a.png"), 401)

    assert count_rows(app, "attachments") == 0
    assert stored_files(storage.root) == []


# --- check_materials ----------------------------------------------------------------------------------------

MATERIALS = [
    {"key": "licence", "name": "营业执照", "required": True, "types": ["application/pdf", "image/jpeg"],
     "max_bytes": 10 * 1024 * 1024},
    {"key": "photos", "name": "现场照片", "required": False, "types": ["image/jpeg", "image/png"],
     "max_bytes": len(png_bytes())},
]


@pytest.fixture
def files(app: Flask, storage: LocalStorage) -> dict[str, Any]:
    """Alice's PDF, small PNG and big PNG, and Bob's PDF: name -> attachment id, plus both actors."""
    alice, bob = resident_actor(app, "alice"), resident_actor(app, "bob")
    with app.app_context():
        ids = {
            "pdf": operations.upload(alice, io.BytesIO(pdf_bytes()), "licence.pdf").id,
            "png": operations.upload(alice, io.BytesIO(png_bytes()), "small.png").id,
            "big_png": operations.upload(alice, io.BytesIO(png_bytes(30, 30, (1, 2, 3))), "big.png").id,
            "bobs_pdf": operations.upload(bob, io.BytesIO(pdf_bytes()), "bob.pdf").id,
        }
        db.session.commit()
    return {**ids, "alice": alice, "bob": bob}


def check(app: Flask, actor: Actor, submitted: Any) -> dict[str, list[str]]:
    with app.app_context():
        return operations.check_materials(actor, MATERIALS, submitted)


def test_own_files_of_the_right_kind_pass(app: Flask, files: dict[str, Any]) -> None:
    assert check(app, files["alice"], {"licence": [files["pdf"]], "photos": [files["png"]]}) == {}
    assert check(app, files["alice"], {"licence": [files["pdf"]]}) == {}
    assert check(app, files["alice"], {"licence": [files["pdf"]], "photos": []}) == {}
    assert check(app, files["bob"], {"licence": [files["bobs_pdf"]]}) == {}


def test_another_residents_file_is_as_unknown_as_a_file_that_does_not_exist(app: Flask,
                                                                            files: dict[str, Any]) -> None:
    missing = "01jzzzzzzzzzzzzzzzzzzzzzzz"
    theirs = check(app, files["alice"], {"licence": [files["bobs_pdf"]]})
    nowhere = check(app, files["alice"], {"licence": [missing]})

    assert theirs == {"materials.licence": [f"Unknown attachment {files['bobs_pdf']}."]}
    assert nowhere == {"materials.licence": [f"Unknown attachment {missing}."]}
    assert theirs["materials.licence"][0].replace(files["bobs_pdf"], "?") == \
        nowhere["materials.licence"][0].replace(missing, "?")


def test_a_file_of_the_wrong_type_for_the_material(app: Flask, files: dict[str, Any]) -> None:
    errors = check(app, files["alice"], {"licence": [files["png"]], "photos": [files["pdf"]]})

    assert set(errors) == {"materials.licence", "materials.photos"}
    assert "image/png is not accepted here" in errors["materials.licence"][0]
    assert "application/pdf is not accepted here" in errors["materials.photos"][0]


def test_a_file_too_large_for_the_material(app: Flask, files: dict[str, Any]) -> None:
    errors = check(app, files["alice"], {"licence": [files["pdf"]], "photos": [files["big_png"]]})

    assert list(errors) == ["materials.photos"]
    assert f"more than the {len(png_bytes())} allowed" in errors["materials.photos"][0]


def test_missing_required_and_unknown_materials(app: Flask, files: dict[str, Any]) -> None:
    assert check(app, files["alice"], {}) == {"materials.licence": ["Required."]}
    assert check(app, files["alice"], {"licence": []}) == {"materials.licence": ["Required."]}
    assert check(app, files["alice"], {"licence": [files["pdf"]], "id_card": [files["png"]]}) == {
        "materials.id_card": ["Unknown material."]}


@pytest.mark.parametrize("value", ["one-id", [1, 2], {"id": "x"}])
def test_a_material_is_a_list_of_ids(app: Flask, files: dict[str, Any], value: Any) -> None:
    assert check(app, files["alice"], {"licence": value}) == {
        "materials.licence": ["Must be a list of attachment ids."]}


def test_the_same_file_twice_and_too_many_files(app: Flask, files: dict[str, Any]) -> None:
    twice = check(app, files["alice"], {"licence": [files["pdf"], files["pdf"]]})
    many = check(app, files["alice"], {"licence": [files["pdf"]] * (operations.MAX_FILES_PER_MATERIAL + 1)})

    assert twice == {"materials.licence": ["The same attachment is listed twice."]}
    assert many == {"materials.licence": [f"At most {operations.MAX_FILES_PER_MATERIAL} files."]}


def test_materials_must_be_an_object(app: Flask, files: dict[str, Any]) -> None:
    assert set(check(app, files["alice"], [files["pdf"]])) == {"materials"}
