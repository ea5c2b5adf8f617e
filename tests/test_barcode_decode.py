"""Member codes from camera pictures: pyzbar on JPEGs shaped like the tablet camera's, and the bad pictures."""

import random

import pytest
from PIL import Image

from mobile.offline.members import MemberCodeProblem, validate_member_code
from mobile.scan.camera import NoCodeFound, UnreadableImage, decode_picture
from tests.code_images import camera_frame, ean13_image, jpeg_bytes, qr_image

MEMBER_CODE = "2901123456782"
# A leading zero must survive decoding.
LEADING_ZERO_CODE = "0123456789012"
PRODUCT_CODE = "6901234567892"


@pytest.mark.parametrize("mirrored", [False, True])
def test_qr_member_code_decoded(mirrored):
    picture = jpeg_bytes(camera_frame(qr_image(f"FSM:{MEMBER_CODE}"), mirrored=mirrored))

    codes = decode_picture(picture)

    assert [code.symbology for code in codes] == ["QRCODE"]
    assert codes[0].text == f"FSM:{MEMBER_CODE}"
    assert validate_member_code(codes[0].text).member_code == MEMBER_CODE


@pytest.mark.parametrize("mirrored", [False, True])
def test_ean13_member_code_decoded(mirrored):
    picture = jpeg_bytes(camera_frame(ean13_image(MEMBER_CODE), mirrored=mirrored))

    codes = decode_picture(picture)

    assert [(code.symbology, code.text) for code in codes] == [("EAN13", MEMBER_CODE)]


def test_ean13_keeps_leading_zero():
    codes = decode_picture(jpeg_bytes(camera_frame(ean13_image(LEADING_ZERO_CODE))))

    assert codes[0].text == LEADING_ZERO_CODE


def test_product_barcode_named_as_such():
    codes = decode_picture(jpeg_bytes(camera_frame(ean13_image(PRODUCT_CODE))))

    check = validate_member_code(codes[0].text)
    assert check.problem is MemberCodeProblem.PRODUCT_BARCODE
    assert PRODUCT_CODE in check.message


def test_png_picture_decoded():
    import io

    buffer = io.BytesIO()
    camera_frame(qr_image(f"FSM:{MEMBER_CODE}")).save(buffer, format="PNG")

    assert decode_picture(buffer.getvalue())[0].text == f"FSM:{MEMBER_CODE}"


def test_picture_without_code():
    rng = random.Random(7)
    noise = Image.frombytes("L", (640, 360), bytes(rng.randrange(256) for _ in range(640 * 360)))

    with pytest.raises(NoCodeFound, match="640x360"):
        decode_picture(jpeg_bytes(noise))


def test_garbage_bytes_unreadable():
    with pytest.raises(UnreadableImage, match="12 bytes"):
        decode_picture(b"not a jpeg!!")


def test_empty_picture_unreadable():
    with pytest.raises(UnreadableImage, match="empty"):
        decode_picture(b"")


def test_truncated_jpeg_unreadable():
    picture = jpeg_bytes(camera_frame(qr_image(f"FSM:{MEMBER_CODE}")))

    with pytest.raises((UnreadableImage, NoCodeFound)):
        decode_picture(picture[: len(picture) // 3])
