"""The offline verifier refuses a bundle whose ZIP holds bytes its central directory leaves out.

The verifier reads a bundle through its central directory (Python's zipfile).
Readers that walk the local headers in order (Java's ZipInputStream, hence `jar x`
from a pipe; streaming unzippers) take entries, names and sizes from the local
headers instead, and extract an entry no central directory record points at: a
later entry of the same name replaces the genuine one. Anyone holding a genuine
bundle can add one without the signing key. Each test rewrites the bundle's files,
unchanged and still signed, into a ZIP laid out by hand.
"""

import shutil
import struct
import subprocess
import zlib

import pytest

from approvals.evidence import package_evidence
from audit import signing
from audit.actors import Actor
from tests.audit.test_evidence import read, run_verifier

pytestmark = pytest.mark.django_db

FORGED = b"<h1>Evidence bundle</h1><p>Every dimension approved by the CISO in person.</p>"


def deflated(name: str, content: bytes, *, descriptor: bool = False, **layout) -> dict:
    """Return an entry as the bundle writer stores it, with any of its layout changed.

    `descriptor` adds a data descriptor after the data, as a writer that cannot seek
    back to its local header does.
    """
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(content) + compressor.flush()
    entry = {"name": name, "data": data, "crc": zlib.crc32(content), "size": len(content)}
    if descriptor:
        entry["flags"] = 0x08
        entry["after"] = struct.pack("<4s3I", b"PK\x07\x08", entry["crc"], len(data), len(content))
    return entry | layout


def zip_bytes(entries: list[dict], *, comment: bytes = b"", zip64_end: bool = False) -> bytes:
    """Return a ZIP of the entries, local headers first, central directory after.

    An entry may carry `flags`, `local_sizes` (compressed, uncompressed) for its local
    header only, `after` (bytes following its data) and `listed` (False leaves it
    out of the central directory).
    """
    out, central, count = bytearray(), bytearray(), 0
    for entry in entries:
        offset, name, flags = len(out), entry["name"].encode(), entry.get("flags", 0)
        sizes = (len(entry["data"]), entry["size"])
        local = entry.get("local_sizes", sizes)
        out += struct.pack(
            "<4s5H3I2H", b"PK\x03\x04", 20, flags, 8, 0, 0x21, entry["crc"], *local, len(name), 0
        )
        out += name + entry["data"] + entry.get("after", b"")
        if entry.get("listed", True):
            count += 1
            central += struct.pack(
                "<4s6H3I5H2I",
                b"PK\x01\x02",
                20,
                20,
                flags,
                8,
                0,
                0x21,
                entry["crc"],
                *sizes,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            central += name
    cd_offset = len(out)
    out += central
    if zip64_end:
        record = len(out)
        out += struct.pack(
            "<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset
        )
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, record, 1)
    out += struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, len(comment)
    )
    return bytes(out + comment)


@pytest.fixture
def files(workflow, agent, tmp_path) -> dict[str, bytes]:
    """Return a genuine bundle's files, in the order its writer stored them."""
    _, handle = package_evidence(actor=Actor.system("tests"), package=workflow.approve(agent))
    path = tmp_path / "genuine.zip"
    path.write_bytes(handle.read())
    assert run_verifier(path, "--fingerprint", signing.fingerprint()).returncode == 0
    return read(path)


def verified(tmp_path, data: bytes):
    path = tmp_path / "rewritten.zip"
    path.write_bytes(data)
    return run_verifier(path, "--fingerprint", signing.fingerprint())


def test_the_bundle_laid_out_by_hand_verifies(files, tmp_path):
    """The layouts below differ from this one only where each says."""
    entries = [deflated(name, content) for name, content in files.items()]
    for data in (zip_bytes(entries), zip_bytes(entries, zip64_end=True)):
        result = verified(tmp_path, data)
        assert result.returncode == 0, result.stdout
        assert "ok   no bytes outside the listed entries" in result.stdout


def test_a_local_entry_outside_the_central_directory_is_refused(files, tmp_path):
    entries = [deflated(name, content) for name, content in files.items()]
    entries.append(deflated("summary.html", FORGED, listed=False))
    data = zip_bytes(entries)
    assert read_through(data, tmp_path)["summary.html"] == files["summary.html"]
    if shutil.which("jar"):
        out = tmp_path / "extracted"
        out.mkdir()
        # Read from a pipe, jar walks the local headers (java.util.zip.ZipInputStream).
        subprocess.run(["jar", "x"], input=data, cwd=out, check=True, timeout=60)
        assert (out / "summary.html").read_bytes() == FORGED, "jar extracts the forged summary"

    result = verified(tmp_path, data)
    assert result.returncode == 1
    assert (
        "FAIL no bytes outside the listed entries:"
        " bytes lie between the last entry and the central directory"
    ) in result.stdout


def read_through(data: bytes, tmp_path) -> dict[str, bytes]:
    path = tmp_path / "read.zip"
    path.write_bytes(data)
    return read(path)


@pytest.mark.parametrize(
    ("layout", "refusal"),
    [
        (
            {"comment": b"Every dimension approved."},
            "the archive does not end with its end record",
        ),
        (
            {"after": b"PK\x03\x04 hidden past the deflate stream", "grow": True},
            "the data of summary.html is not one deflate stream, exactly",
        ),
        (
            {"local_sizes": (1, 1)},
            "the local header of summary.html differs from the central directory",
        ),
        (
            {"descriptor": True},
            "the local header of summary.html differs from the central directory",
        ),
        (
            {"after": b"padding"},
            "{following} does not start where the entry before it ends",
        ),
    ],
    ids=["comment", "bytes-after-deflate", "local-sizes", "data-descriptor", "gap"],
)
def test_bytes_a_stream_reader_would_read_otherwise_are_refused(files, tmp_path, layout, refusal):
    """Python's zipfile reads each of these as the genuine bundle; the verifier refuses them."""
    layout = dict(layout)
    comment, grow = layout.pop("comment", b""), layout.pop("grow", False)
    entries = []
    for name, content in files.items():
        entry = deflated(name, content, **(layout if name == "summary.html" else {}))
        if grow:  # the trailing bytes inside the entry's data, counted in its sizes
            entry["data"] += entry.pop("after", b"")
        entries.append(entry)
    data = zip_bytes(entries, comment=comment)
    assert read_through(data, tmp_path) == files

    result = verified(tmp_path, data)
    assert result.returncode == 1
    following = list(files)[list(files).index("summary.html") + 1]
    refusal = refusal.format(following=following)
    assert f"FAIL no bytes outside the listed entries: {refusal}" in result.stdout
