"""Bounded Content-Encoding decoding: the cap holds at every layer, not just at the end."""

import gzip
import zlib

import pytest

from monitor.core.decoding import BoundedDecoder, DecodeFailed, OverLimit

PAGE = b"<html><body>" + b"<p>SEND code of practice</p>" * 200 + b"</body></html>"


def deflate(data: bytes, raw: bool = False) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def decode(body: bytes, encodings: list[str], limit: int, piece: int = 1000) -> bytes:
    decoder = BoundedDecoder(encodings, limit)
    out = [decoder.feed(body[i:i + piece]) for i in range(0, len(body), piece)]
    return b"".join(out) + decoder.flush()


@pytest.mark.parametrize(("encodings", "encode"), [
    ([], lambda b: b),
    (["identity"], lambda b: b),
    (["gzip"], gzip.compress),
    (["x-gzip"], gzip.compress),
    (["deflate"], deflate),
    (["deflate"], lambda b: deflate(b, raw=True)),
    (["gzip", "gzip"], lambda b: gzip.compress(gzip.compress(b))),
    (["deflate", "GZip"], lambda b: gzip.compress(deflate(b))),  # applied in the order listed
])
def test_every_supported_encoding_and_stack_decodes(encodings, encode):
    assert decode(encode(PAGE), encodings, limit=len(PAGE)) == PAGE
    assert decode(encode(PAGE), encodings, limit=len(PAGE), piece=7) == PAGE


def test_stacked_gzip_stops_at_the_cap_in_the_inner_layer():
    # 100 MB of zeros, gzipped twice: a few hundred bytes on the wire.
    bomb = gzip.compress(gzip.compress(bytes(100_000_000)))
    assert len(bomb) < 2000
    decoder = BoundedDecoder(["gzip", "gzip"], 100_000)
    with pytest.raises(OverLimit):
        decoder.feed(bomb)
    # No layer went more than one byte past the cap before decoding stopped.
    assert [layer.produced for layer in decoder.layers][-1] == 100_001
    assert all(layer.produced <= 100_001 for layer in decoder.layers)
    assert decoder.produced == 0


def test_a_body_just_at_the_cap_is_kept_and_one_byte_more_is_not():
    assert decode(gzip.compress(PAGE), ["gzip"], limit=len(PAGE)) == PAGE
    with pytest.raises(OverLimit):
        decode(gzip.compress(PAGE), ["gzip"], limit=len(PAGE) - 1)
    with pytest.raises(OverLimit):
        decode(PAGE, [], limit=len(PAGE) - 1)


def test_keep_start_gives_the_first_bytes_up_to_the_limit_and_then_nothing():
    bomb = gzip.compress(gzip.compress(b"0123456789" * 10_000_000))
    decoder = BoundedDecoder(["gzip", "gzip"], 1000, keep_start=True)
    assert decoder.feed(bomb) == b"0123456789" * 100
    assert decoder.done
    assert decoder.feed(b"more") == b"" and decoder.flush() == b""
    assert all(layer.produced <= 1000 for layer in decoder.layers)


def test_an_encoding_it_cannot_decode_is_named():
    with pytest.raises(DecodeFailed, match="Content-Encoding 'br'"):
        BoundedDecoder(["gzip", "br"], 1000)


def test_a_body_that_is_not_what_its_header_says_fails():
    with pytest.raises(DecodeFailed, match="gzip"):
        decode(PAGE, ["gzip"], limit=len(PAGE))
