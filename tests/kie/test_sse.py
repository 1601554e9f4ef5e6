from __future__ import annotations

import asyncio

from kiestudio.kie.sse import LineSplitter, SSEDecoder, SSEMessage, aiter_sse, iter_sse


def events(text, chunk=None):
    pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)] if chunk else [text]
    return list(iter_sse(pieces))


def test_basic_event_and_data():
    assert events("event: ping\ndata: {}\n\n") == [SSEMessage(event="ping", data="{}")]


def test_default_event_name_and_multiline_data():
    assert events("data: line one\ndata: line two\n\n") == [SSEMessage(event="message", data="line one\nline two")]


def test_comments_and_unknown_fields_are_ignored():
    text = ": keep-alive\nfoo: bar\ndata: x\n: another\n\n"
    assert events(text) == [SSEMessage(event="message", data="x")]


def test_only_one_leading_space_is_stripped_and_no_space_works():
    assert events("data:  two spaces\n\n")[0].data == " two spaces"
    assert events("data:nospace\n\n")[0].data == "nospace"
    assert events("data\n\n")[0].data == ""


def test_event_without_data_is_dropped_and_name_reset():
    assert events("event: lonely\n\ndata: y\n\n") == [SSEMessage(event="message", data="y")]


def test_crlf_and_cr_line_endings():
    assert events("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r") == [
        SSEMessage(event="a", data="1"),
        SSEMessage(event="b", data="2"),
    ]


def test_chunks_split_anywhere_including_between_cr_and_lf():
    text = "event: a\r\ndata: héllo\r\n\r\ndata: [DONE]\r\n\r\n"
    for size in range(1, len(text) + 1):
        assert events(text, chunk=size) == [
            SSEMessage(event="a", data="héllo"),
            SSEMessage(event="message", data="[DONE]"),
        ]


def test_utf8_bytes_split_inside_a_character():
    raw = "data: 日本語\n\n".encode()
    pieces = [raw[i : i + 1] for i in range(len(raw))]
    assert list(iter_sse(pieces)) == [SSEMessage(event="message", data="日本語")]


def test_unicode_line_separators_inside_data_do_not_split():
    text = 'data: {"text": "a\u2028b\u0085c"}\n\n'
    assert events(text)[0].data == '{"text": "a\u2028b\u0085c"}'


def test_id_retry_and_bom():
    assert events("\ufeffid: 7\nretry: 3000\ndata: z\n\n") == [
        SSEMessage(event="message", data="z", id="7", retry=3000)
    ]


def test_last_event_without_blank_line_is_delivered():
    assert events("data: tail") == [SSEMessage(event="message", data="tail")]


def test_decoder_directly():
    decoder = SSEDecoder()
    assert decoder.feed("data: a") is None
    assert decoder.feed("") == SSEMessage(event="message", data="a")
    assert decoder.flush() is None
    splitter = LineSplitter()
    assert splitter.feed("a\r") == ["a"]
    assert splitter.feed("\nb") == []
    assert splitter.flush() == ["b"]


def test_async_decoder():
    async def chunks():
        for piece in (b"event: x\n", b"data: 1\n", b"\n", b"data: [DONE]\n\n"):
            yield piece

    async def collect():
        return [m async for m in aiter_sse(chunks())]

    assert asyncio.run(collect()) == [SSEMessage(event="x", data="1"), SSEMessage(event="message", data="[DONE]")]
