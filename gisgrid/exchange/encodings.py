"""Text encodings of the files counties keep: UTF-8 (with or without BOM), GBK and GB18030.

Excel on a Chinese Windows saves CSV in GBK (code page 936); WPS and newer Excel in UTF-8
with a BOM; Shapefiles from the natural-resources bureau carry GBK text in their ``.dbf``,
often without the ``.cpg`` that would say so. Detection here is by decoding, never by
guessing from statistics: a text that decodes as UTF-8 is UTF-8 (GBK text with Chinese in it
practically never is valid UTF-8), otherwise GBK, otherwise GB18030 (GBK's superset: the
rarer characters of names), otherwise the file cannot be read.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from gisgrid.errors import InputFileError

#: the encodings tried, in order, after a BOM
CANDIDATES = ("utf-8", "gbk", "gb18030")
#: a DBF header's language driver id (byte 29) → the encoding it names
DBF_LANGUAGE_IDS = {0x4D: "gbk", 0x7A: "gbk", 0x57: None, 0x00: None}


@dataclass(frozen=True)
class Decoded:
    """A text file decoded, and how.

    Attributes
    ----------
    text
        The text, without a byte-order mark.
    encoding
        What was found: ``utf-8-sig`` (UTF-8 with BOM), ``utf-8``, ``gbk`` or ``gb18030``.
    """

    text: str
    encoding: str

    @property
    def label(self) -> str:
        """The encoding as people name it (UTF-8 (BOM), UTF-8, GBK, GB18030)."""
        return ENCODING_LABELS.get(self.encoding, self.encoding)


ENCODING_LABELS = {
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-8": "UTF-8",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "ascii": "ASCII",
}


def decode_text(data: bytes, *, name: str) -> Decoded:
    """Decode a text file (a CSV) of unknown encoding.

    Parameters
    ----------
    data
        The file's bytes.
    name
        The file's name, for the error message.

    Raises
    ------
    InputFileError
        When none of UTF-8, GBK and GB18030 decodes it.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return Decoded(data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{name}: 文件以 UTF-8 BOM 开头却不是 UTF-8 文本 (starts with a UTF-8 BOM but "
                f"is not UTF-8 text: {exc})"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoded(data.decode("utf-16"), "utf-16")
    for encoding in CANDIDATES:
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    raise InputFileError(
        f"{name}: 无法识别文本编码（试过 UTF-8、GBK、GB18030）; cannot tell the text encoding "
        "(tried UTF-8, GBK, GB18030): save it as UTF-8 CSV"
    )


def guess_dbf_encoding(dbf: bytes) -> tuple[str, str]:
    """Guess the encoding of a ``.dbf`` that has no ``.cpg``: GBK or UTF-8.

    The header's language driver id is read first (0x4D: GBK, code page 936). Otherwise the
    records are decoded: UTF-8 when they decode as UTF-8 (and hold non-ASCII text), GBK when
    they decode as GBK, else GB18030.

    Returns
    -------
    tuple
        The encoding (a Python codec name) and why, in words.
    """
    if len(dbf) < 32:
        return "utf-8", "the .dbf is too short to tell; UTF-8 assumed"
    language = DBF_LANGUAGE_IDS.get(dbf[29])
    if language is not None:
        return language, f"the .dbf header names code page 936 (language id 0x{dbf[29]:02X})"
    header_length = int.from_bytes(dbf[8:10], "little")
    # the text: the field names (11 bytes each of the 32-byte descriptors) and the records
    names = b"".join(
        dbf[at : at + 11].split(b"\x00", 1)[0] + b" "
        for at in range(32, max(32, header_length - 1), 32)
        if dbf[at : at + 1] != b"\x0d"
    )
    records = names + dbf[header_length:]
    if records.isascii():
        return "utf-8", "the .dbf holds only ASCII text (any encoding reads it)"
    try:
        records.decode("utf-8")
        return "utf-8", "the .dbf's text decodes as UTF-8"
    except UnicodeDecodeError:
        pass
    for encoding in ("gbk", "gb18030"):
        try:
            records.decode(encoding)
            return encoding, f"the .dbf's text is not UTF-8 and decodes as {encoding.upper()}"
        except UnicodeDecodeError:
            continue
    return "gb18030", "the .dbf's text is neither UTF-8 nor GBK; GB18030 assumed"
