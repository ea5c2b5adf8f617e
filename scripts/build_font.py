"""Build the bundled Simplified Chinese font, assets/fonts/NotoSansSC-Regular.otf.

Flet's web client runs without a CDN here, so it has no CJK font of its own and
draws Chinese as empty boxes unless the app bundles one. Debian's fonts-noto-cjk
ships Noto Sans CJK as a TrueType collection (.ttc). Flutter always renders face 0
of a collection, which is the Japanese face (its letterforms differ from Chinese
ones, e.g. the full-width colon sits low and left), so this script extracts the
Simplified Chinese face (index 2) into a standalone OpenType file, unchanged.

It also writes assets/fonts/OFL.txt: the fonts are under the SIL Open Font
License 1.1, which requires the licence to travel with every copy. The text is
taken from Debian's copyright file and the notice from the font's name table.

Only the Regular weight is bundled: Flutter draws bold text by emboldening it
(checked in Chromium with flet 1.0.5), and a Bold face would add 17 MB.

Usage (needs fonttools and Debian's fonts-noto-cjk package):

    .venv/bin/python scripts/build_font.py
"""

import argparse
import logging
import re
from pathlib import Path

from fontTools.ttLib import TTCollection

log = logging.getLogger("build_font")

REPO_ROOT = Path(__file__).resolve().parent.parent
FONTS_DIR = REPO_ROOT / "assets" / "fonts"
NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")

# Face order in NotoSansCJK-*.ttc (Debian fonts-noto-cjk 1:20220127): JP, KR, SC, TC, HK, then the Mono faces.
SC_FACE_INDEX = 2
EXPECTED_FAMILY = "Noto Sans CJK SC"

# A sanity check, not a coverage proof: the build fails if the face lacks any of these.
# Besides UI words it includes rarer characters seen in Chinese place and company names.
REQUIRED_CHARACTERS = "外勤通我的客户区域会员深圳鑫淼喆龘：，。（）¥0123456789ABCabc"


def extract_face(collection_path: Path, output_path: Path) -> None:
    """Save the Simplified Chinese face of `collection_path` as a standalone font file."""
    # recalcTimestamp=False keeps the source's 'head' dates, so rebuilding gives identical bytes.
    collection = TTCollection(str(collection_path), recalcTimestamp=False)
    font = collection.fonts[SC_FACE_INDEX]

    family = font["name"].getDebugName(1)
    if family != EXPECTED_FAMILY:
        raise SystemExit(
            f"Face {SC_FACE_INDEX} of {collection_path} is '{family}', expected '{EXPECTED_FAMILY}': "
            "the collection layout changed, so update SC_FACE_INDEX."
        )

    cmap = font.getBestCmap()
    missing = [ch for ch in REQUIRED_CHARACTERS if ord(ch) not in cmap]
    if missing:
        raise SystemExit(f"{collection_path} face {SC_FACE_INDEX} lacks characters: {''.join(missing)}")

    output_path.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(output_path))
    log.info("wrote %s (%.1f MB, %d glyphs mapped)", output_path, output_path.stat().st_size / 1e6, len(cmap))


def licence_text(collection_path: Path) -> str:
    """Return the OFL 1.1 text headed by the font's own copyright notice."""
    collection = TTCollection(str(collection_path), lazy=True)
    names = collection.fonts[SC_FACE_INDEX]["name"]
    notice = names.getDebugName(0).replace("©", "Copyright")
    trademark = names.getDebugName(7)

    raw = DEBIAN_COPYRIGHT.read_text(encoding="utf-8")

    # Debian copyright format: the licence is a stanza "License: SIL-1.1" whose body lines
    # are indented by one space, with " ." standing for an empty line.
    match = re.search(r"^License: SIL-1\.1\n((?: .*\n?)+)", raw, flags=re.MULTILINE)
    if match is None:
        raise SystemExit(f"No 'License: SIL-1.1' stanza found in {DEBIAN_COPYRIGHT}")
    body_lines = ["" if line == " ." else line[1:] for line in match.group(1).splitlines()]

    header = [
        f"Noto Sans CJK SC: {notice}",
        trademark,
        f"NotoSansSC-Regular.otf is face {SC_FACE_INDEX} of {collection_path.name} from Debian's fonts-noto-cjk, "
        "extracted with fontTools by scripts/build_font.py (glyphs unchanged).",
        "",
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.",
        "This license is copied below, and is also available with a FAQ at:",
        "https://openfontlicense.org",
        "",
    ]
    return "\n".join(header + body_lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noto-dir", type=Path, default=NOTO_DIR, help="directory of NotoSansCJK-*.ttc")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    collection_path = args.noto_dir / "NotoSansCJK-Regular.ttc"
    extract_face(collection_path, FONTS_DIR / "NotoSansSC-Regular.otf")

    licence_path = FONTS_DIR / "OFL.txt"
    licence_path.write_text(licence_text(collection_path), encoding="utf-8")
    log.info("wrote %s", licence_path)


if __name__ == "__main__":
    main()
