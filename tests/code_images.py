"""Pictures of member codes for tests: QR codes (segno) and EAN-13 barcodes (drawn here), placed on a camera-sized frame."""

import io

import segno
from PIL import Image, ImageDraw, ImageOps

# EAN-13 element patterns (GS1 General Specifications 5.2.1.2): 1 is a dark module.
_L_CODES = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
_G_CODES = tuple(code[::-1].translate(str.maketrans("01", "10")) for code in _L_CODES)
_R_CODES = tuple(code.translate(str.maketrans("01", "10")) for code in _L_CODES)
# The first digit sets which of the left six digits use the G set.
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def ean13_modules(code: str) -> str:
    """Return the 95 modules of an EAN-13 symbol for 13 digits."""
    if len(code) != 13 or not code.isdigit():
        raise ValueError(f"EAN-13 needs 13 digits, got {code!r}")
    left = "".join((_L_CODES if parity == "L" else _G_CODES)[int(digit)] for digit, parity in zip(code[1:7], _PARITY[int(code[0])]))
    right = "".join(_R_CODES[int(digit)] for digit in code[7:])
    return "101" + left + "01010" + right + "101"


def ean13_image(code: str, module_px: int = 4, height_px: int = 220) -> Image.Image:
    modules = ean13_modules(code)
    quiet = 11 * module_px
    image = Image.new("L", (len(modules) * module_px + 2 * quiet, height_px + 2 * quiet), 255)
    draw = ImageDraw.Draw(image)
    for index, module in enumerate(modules):
        if module == "1":
            x = quiet + index * module_px
            draw.rectangle([x, quiet, x + module_px - 1, quiet + height_px], fill=0)
    return image


def qr_image(payload: str, scale: int = 10) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def camera_frame(code_image: Image.Image, size: tuple[int, int] = (1280, 720), mirrored: bool = False) -> Image.Image:
    """Put a code in the middle of a light-grey frame, mirrored like a web camera's picture if asked."""
    frame = Image.new("RGB", size, (200, 200, 200))
    frame.paste(code_image.convert("RGB"), ((size[0] - code_image.width) // 2, (size[1] - code_image.height) // 2))
    return ImageOps.mirror(frame) if mirrored else frame


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
