"""Charset decoding of bodies and headers (parsers.charsets)."""

from __future__ import annotations

import base64

import pytest

from parsers.charsets import codec_for, decode_header, decode_text

GBK_ONLY = "朱镕基"          # 镕 is outside GB2312
FOUR_BYTE = "王䶮"           # 䶮 needs a GB18030 four-byte sequence


@pytest.mark.parametrize("label", ["gb2312", "GBK", "x-gbk", "cp936", "GB_2312-80", '"gb2312"', "GB18030"])
def test_gb_labels_read_as_gb18030(label: str) -> None:
    # Every GB family label is decoded with the gb18030 superset.
    assert codec_for(label) == "gb18030"


@pytest.mark.parametrize("label", ["x-unknown", "", None, "base64", "rot13"])
def test_unknown_or_non_text_labels_have_no_codec(label: str | None) -> None:
    # Unknown labels and transform codecs are not charsets.
    assert codec_for(label) is None


def test_gb2312_label_with_gbk_and_four_byte_characters() -> None:
    # A gb2312-labelled body holding 镕 and 䶮 decodes completely and without a warning.
    text = f"{GBK_ONLY}路门站，填报人{FOUR_BYTE}"
    assert decode_text(text.encode("gb18030"), "gb2312") == (text, None)


def test_utf8_bom_wins_over_label() -> None:
    # A UTF-8 BOM is stripped and decides the charset whatever the label says.
    assert decode_text("\ufeff填报人：李明".encode("utf-8"), "gbk") == ("填报人：李明", None)


def test_utf8_bytes_labelled_gb2312_are_recognised() -> None:
    # UTF-8 text under a gb2312 label is read as UTF-8, with a warning.
    text, warning = decode_text("风险等级：一般".encode("utf-8"), "gb2312")
    assert text == "风险等级：一般"
    assert warning == "正文声明的字符集“gb2312”与内容不符，已按 utf-8 解码"


def test_gbk_bytes_labelled_utf8_fall_back_to_gb18030() -> None:
    # GBK text declared as UTF-8 falls back to gb18030 with a warning.
    text, warning = decode_text("需总部协调：是".encode("gbk"), "utf-8")
    assert text == "需总部协调：是"
    assert warning is not None and "gb18030" in warning


def test_gbk_bytes_labelled_latin1_are_recognised() -> None:
    # Foxmail sometimes declares iso-8859-1 for Chinese text.
    text, warning = decode_text("所属单位：广东分公司".encode("gbk"), "iso-8859-1")
    assert text == "所属单位：广东分公司"
    assert warning is not None


def test_real_latin1_stays_latin1() -> None:
    # Genuine Western text under a Western label is not turned into Chinese.
    assert decode_text("Grüße aus München".encode("latin-1"), "iso-8859-1") == ("Grüße aus München", None)


def test_unknown_label_is_guessed_with_a_warning() -> None:
    # An unknown charset label never crashes; the text is guessed and a warning given.
    text, warning = decode_text("紧急事项：无".encode("utf-8"), "x-made-up")
    assert text == "紧急事项：无"
    assert warning == "正文声明的字符集“x-made-up”与内容不符，已按 utf-8 解码"


def test_missing_label_on_8bit_text_warns() -> None:
    # 8-bit text without any charset is decoded by guessing, with a warning.
    text, warning = decode_text("联系电话：13800138000，李明".encode("gbk"), None)
    assert text == "联系电话：13800138000，李明"
    assert warning == "正文未声明字符集，已按 gb18030 解码"


def test_one_broken_byte_keeps_declared_charset() -> None:
    # A few undecodable bytes in a long GB text keep the declared reading, with replacement characters.
    data = ("这是一段很长的中文内容，" * 20).encode("gb18030") + b"\xff" + "结束".encode("gb18030")
    text, warning = decode_text(data, "gb2312")
    assert text.endswith("\ufffd结束")
    assert warning is not None and "替换字符" in warning


def test_binary_garbage_never_raises() -> None:
    # Random high bytes with a bogus label still give some text.
    text, _warning = decode_text(bytes(range(128, 256)) * 3, "utf-8")
    assert isinstance(text, str) and text


def test_iso2022_jp_ascii_bytes_are_decoded() -> None:
    # 7-bit charsets (ISO-2022-JP) must be decoded by their codec even though the bytes are ASCII.
    data = "日本語".encode("iso2022_jp")
    assert decode_text(data, "ISO-2022-JP") == ("日本語", None)


def test_header_gb2312_label_with_gbk_character() -> None:
    # RFC 2047 words labelled gb2312 keep GBK-only characters.
    word = base64.b64encode(f"关于{GBK_ONLY}的报告".encode("gb18030")).decode()
    assert decode_header(f"=?gb2312?B?{word}?=") == f"关于{GBK_ONLY}的报告"


def test_header_character_split_across_encoded_words() -> None:
    # A multi-byte character split between two encoded words is joined before decoding.
    data = "回复：月报".encode("utf-8")
    first, second = base64.b64encode(data[:4]).decode(), base64.b64encode(data[4:]).decode()
    assert decode_header(f"=?utf-8?B?{first}?=\r\n =?utf-8?B?{second}?=") == "回复：月报"


def test_header_q_encoding_and_plain_text_mix() -> None:
    # Q-encoded words, underscores as spaces, and plain text around them.
    assert decode_header("Re: =?utf-8?Q?=E7=B4=A7=E6=80=A5_report?= [KCR]") == "Re: 紧急 report [KCR]"


def test_header_raw_8bit_utf8_and_gbk() -> None:
    # Raw 8-bit header bytes arrive surrogate-escaped and are read as UTF-8 or GB.
    for codec in ("utf-8", "gbk"):
        escaped = "主题：月报".encode(codec).decode("ascii", "surrogateescape")
        assert decode_header(escaped) == "主题：月报"


def test_header_bad_base64_does_not_raise() -> None:
    # Broken base64 padding in an encoded word is repaired or dropped, never fatal.
    assert decode_header("=?utf-8?B?5pyI5oql?=") == "月报"
    assert decode_header("=?utf-8?B?5pyI5oq?=x") is not None


def test_header_folding_is_removed() -> None:
    # Folded header lines are unfolded.
    assert decode_header("[重点客户月报]\r\n 2026年11月") == "[重点客户月报] 2026年11月"
