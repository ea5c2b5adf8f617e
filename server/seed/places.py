"""Administrative divisions of China with coordinates, read from the data file of the `cpca` package.

`cpca/resources/adcodes.csv` (cpca 0.5.5) has the columns adcode, name, longitude, latitude.
Adcodes have 12 digits: a province is `XX0000000000`, a prefecture-level city
`XXXX00000000` and a county-level division `XXXXXX000000`. The coordinates come
from AMap, so they are GCJ-02. The data predates some recent boundary changes,
so a few divisions carry their former names (for example 杭州市下城区).
"""

import csv
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# City-level rows that only group divisions. Their children belong to the
# province (municipalities) or stand alone (county-level cities under a province).
_MUNICIPALITY_GROUPS = frozenset({"市辖区", "县"})
_PROVINCE_DIRECT_GROUPS = frozenset({"省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass(frozen=True)
class Place:
    """A county-level division, or a city without any, and its GCJ-02 position."""

    adcode: str
    province: str
    city: str
    # Empty for a city that has no county-level divisions, such as 东莞市.
    district: str
    latitude: float
    longitude: float


def adcodes_csv_path() -> Path:
    """Locate `cpca/resources/adcodes.csv` without importing cpca, whose package imports pandas."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The cpca package is not installed. Install the server extra: pip install -e '.[server]'")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


def encodes_in_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def load_places() -> tuple[Place, ...]:
    """Read every division that has coordinates and names written in GB2312 characters, sorted by adcode.

    The GB2312 filter keeps every seeded string renderable by a GB2312 font
    subset. It drops a few districts such as 武汉市硚口区.
    """
    names: dict[str, str] = {}
    positions: dict[str, tuple[float, float]] = {}
    with adcodes_csv_path().open(encoding="utf-8", newline="") as csv_file:
        for row in csv.DictReader(csv_file):
            names[row["adcode"]] = row["name"]
            if row["latitude"] and row["longitude"]:
                positions[row["adcode"]] = (float(row["latitude"]), float(row["longitude"]))

    cities_with_districts = {adcode[:4] for adcode in positions if _is_district(adcode) and names[adcode] != "市辖区"}
    places = []
    for adcode, (latitude, longitude) in sorted(positions.items()):
        place = _build_place(adcode, names, cities_with_districts, latitude, longitude)
        if place is None:
            continue
        if not all(encodes_in_gb2312(name) for name in (place.province, place.city, place.district)):
            continue
        places.append(place)
    return tuple(places)


def _is_district(adcode: str) -> bool:
    return adcode[6:] == "000000" and adcode[4:6] != "00"


def _is_city(adcode: str) -> bool:
    return adcode[4:] == "00000000" and adcode[2:4] != "00"


def _build_place(
    adcode: str,
    names: dict[str, str],
    cities_with_districts: set[str],
    latitude: float,
    longitude: float,
) -> Place | None:
    province = names.get(adcode[:2] + "0" * 10)
    if province is None:
        return None

    if _is_city(adcode):
        # Only a city without county-level divisions is a place of its own.
        name = names[adcode]
        if adcode[:4] in cities_with_districts or name in _MUNICIPALITY_GROUPS | _PROVINCE_DIRECT_GROUPS:
            return None
        return Place(adcode, province, name, "", latitude, longitude)

    if not _is_district(adcode) or names[adcode] == "市辖区":
        return None
    city = names.get(adcode[:4] + "0" * 8)
    if city is None:
        return None
    if city in _MUNICIPALITY_GROUPS:
        return Place(adcode, province, province, names[adcode], latitude, longitude)
    if city in _PROVINCE_DIRECT_GROUPS:
        return Place(adcode, province, names[adcode], "", latitude, longitude)
    return Place(adcode, province, city, names[adcode], latitude, longitude)


def short_place_name(name: str) -> str:
    """Shorten a division name the way company names use it: 深圳市 → 深圳, 大理白族自治州 → 大理."""
    if name.endswith("自治州"):
        # Autonomous prefectures put the ethnic groups after a two-character
        # place name, except 西双版纳.
        return "西双版纳" if name.startswith("西双版纳") else name[:2]
    for suffix in ("地区", "林区", "市", "区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name
