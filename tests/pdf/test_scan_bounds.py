"""Bombs in the PII scanner and slow clients: a PDF that inflates to 1 GB, deeply nested XML
and a zip bomb are refused cleanly (413 / a clear error) with bounded memory, and a client
that trickles its request headers is disconnected by the real uvicorn server."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import pytest
from support import paths

from notary.pii import DocumentTooLarge, UnsupportedDocument, scan_document

ROOT = paths.ROOT


def flate_bomb_pdf(inflated_mb: int) -> bytes:
    """A valid one-page PDF whose content stream is `inflated_mb` MB of zeros, deflated (a
    1 GB stream is about 1 MB on disk)."""
    z = zlib.compressobj(9)
    zero = bytes(1 << 20)
    stream = b"".join(z.compress(zero) for _ in range(inflated_mb)) + z.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_a_small_honest_pdf_with_a_flate_stream_is_still_scanned() -> None:
    assert scan_document(flate_bomb_pdf(1), "application/pdf") == []


def test_a_pdf_that_inflates_to_a_gigabyte_is_refused_with_bounded_memory() -> None:
    # It raised the process to 2.2 GB, and under a memory limit PDFium aborted the whole
    # process (the API and its embedded worker). Measured in a fresh process: its peak
    # memory may grow by the bomb's own bytes and the inflate window, not by the gigabyte.
    code = textwrap.dedent(
        """
        import resource, sys
        sys.path[:0] = ["tests", "tests/pdf"]
        from test_scan_bounds import flate_bomb_pdf
        from notary.pii import DocumentTooLarge, scan_document
        bomb = flate_bomb_pdf(1024)
        assert len(bomb) < 1_100_000, len(bomb)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            scan_document(bomb, "application/pdf")
        except DocumentTooLarge as exc:
            assert "too large when decompressed" in str(exc), exc
        else:
            raise SystemExit("not refused")
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(grown)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 100 * 1024  # KB: under 100 MB


def test_a_scan_over_its_bounds_is_a_413() -> None:
    from api.core.errors import status_for
    from api.services.pii_guard import guard
    from notary.pii.limits import ScanLimits

    with pytest.raises(DocumentTooLarge) as caught:
        guard(
            flate_bomb_pdf(8),
            "application/pdf",
            mask=False,
            override_reason=None,
            limits=ScanLimits(max_inflated_bytes=4 * 1024 * 1024),
        )
    assert status_for(caught.value) == 413


def test_deeply_nested_xml_is_refused_at_once() -> None:
    # 192 kB of nesting took 22 s: every element paid for its depth.
    depth = 192 * 1024 // 7
    nested = ("<a>" * depth + "x" + "</a>" * depth).encode()
    with pytest.raises(DocumentTooLarge, match="nested too deeply"):
        scan_document(nested, "application/xml")
    fine = ("<a>" * 200 + "13812345678" + "</a>" * 200).encode()
    assert [f.kind.value for f in scan_document(fine, "application/xml")] == ["mobile"]


def test_a_zip_bomb_docx_is_refused_without_inflating_it() -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("word/document.xml", "w") as member,
    ):
        for _ in range(256):
            member.write(bytes(1 << 20))
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with pytest.raises(UnsupportedDocument):
        scan_document(buf.getvalue(), docx)
    with pytest.raises(UnsupportedDocument):
        scan_document(buf.getvalue(), None, filename="report.docx")


def test_a_pdf_with_too_many_pages_is_refused_before_pdfium() -> None:
    from support.uploads import tall_pdf

    from notary.pii.limits import ScanLimits

    with pytest.raises(DocumentTooLarge, match="too many pages"):
        scan_document(
            tall_pdf(200, 200, pages=30), "application/pdf", limits=ScanLimits(max_pages=10)
        )


@pytest.fixture()
def server(tmp_path, monkeypatch):
    """The real app in a real uvicorn with the service's slow-client options."""
    import uvicorn

    from api.core.server import uvicorn_options
    from api.core.settings import Settings
    from api.main import create_app
    from notary.chain.local import free_port

    monkeypatch.setenv("NOTARY_HEADER_TIMEOUT_S", "1")
    port = free_port()
    config = uvicorn.Config(
        create_app(Settings(data_dir=tmp_path)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **uvicorn_options(),
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)


def test_a_client_trickling_its_headers_is_disconnected(server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(0.25)
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and closed_after < 5, closed_after
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:  # others served
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
