"""Deterministic, realistic generated reports: for ``irontrace demo``, benchmarks and golden tests.

Everything comes from a seeded ``random.Random``: the same seed gives the same
reports, byte for byte, on every machine, and ``generate_reports(n, seed)`` is a
prefix of ``generate_reports(m, seed)`` for n < m.

Identifiers follow real numbering schemes closely enough to exercise retrieval
the way real data does: 17-character ISO 10261 PINs whose long prefixes are
shared by every machine of a model, truck VINs with a valid check digit, short
maker serials and engine numbers.  Each scheme is a *family*: fixed characters
plus a serial number.  A family's serial numbers are a fixed shuffle of its
whole range; the first half of the shuffle is the registry's (the seed only
decides which of them are drawn, and in what order) and the second half is never
registered.  So, for any seeds and counts:

* identifiers are unique across a registry (families cannot produce the same
  value, not even after folding O/0, I/1, S/5, B/8, Z/2, G/6: ``tests/``
  checks the family patterns pairwise), and
* ``unregistered_serials`` never returns a value that ``generate_reports`` or
  ``tulkubas_case`` can produce.

Contacts use the reserved ``.example`` domain: demo data never points at a
real mailbox or phone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import zlib
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from registry.demo import text
from registry.demo.alphabets import CYRILLIC_LOOKALIKES, DIGITS, PIN_ALPHABET, TO_CYRILLIC
from registry.demo.text import DescriptionFacts, MarkFacts
from search.identifiers import vin_check_digit
from search.normalize import skeleton

# Model-year character, VIN position 10 (30-year cycle, 2001-2030).
VIN_YEAR_CODES: dict[int, str] = {
    **{2000 + i: str(i) for i in range(1, 10)},
    **dict(zip(range(2010, 2031), "ABCDEFGHJKLMNPRSTVWXY")),
}

# --------------------------------------------------------------------------
# Identifier families
# --------------------------------------------------------------------------


def _compile_layout(layout: str, length: int) -> tuple[tuple[int, int, str], ...]:
    """``"###-######"`` -> slices of the plain value, each with the separator after it."""
    if layout.count("#") != length:
        raise ValueError(f"layout {layout!r} does not fit {length} characters")
    parts, start, end, sep = [], 0, 0, ""
    for ch in layout:
        if ch == "#":
            if sep:
                parts.append((start, end, sep))
                start, sep = end, ""
            end += 1
        else:
            sep += ch
    parts.append((start, end, ""))
    return tuple(parts)


class _Family:
    """One numbering scheme: fixed leading characters, then a zero-padded serial number.

    ``number(index)`` is a fixed (seed-independent) shuffle of ``range(capacity)``,
    a four-round Feistel network over the decimal digits, so serial numbers look
    random but never repeat, in O(1) memory.  Indexes below ``registered`` feed
    the registry; the rest feed ``unregistered_serials``.
    """

    def __init__(self, id_type: str, head: str, digits: int, layout: str = "") -> None:
        self.id_type = id_type
        self.head = head
        self.digits = digits
        self.length = len(head) + digits + self._extra_length()
        self.layout = _compile_layout(layout, self.length) if layout else None
        self.capacity = 10**digits
        self.registered = self.capacity // 2
        self.key = self._key()
        keys = random.Random(zlib.crc32(self.key.encode()))
        self._rounds = tuple(keys.getrandbits(32) for _ in range(4))
        self._lo_mod = 10 ** (digits - digits // 2)
        self._hi_mod = 10 ** (digits // 2)
        self.reserved: frozenset[int] = frozenset()  # numbers used by hand-written cases

    def _extra_length(self) -> int:
        return 0

    def _key(self) -> str:
        return f"{self.id_type}:{self.head}#{self.digits}"

    def number(self, index: int) -> int:
        hi, lo = divmod(index, self._lo_mod)
        hm, lm = self._hi_mod, self._lo_mod
        r0, r1, r2, r3 = self._rounds
        # Round function: a multiplicative hash, inlined (this runs for every identifier).
        x = ((lo ^ r0) * 0x9E3779B1) & 0xFFFFFFFF
        hi = (hi + (x ^ (x >> 15))) % hm
        x = ((hi ^ r1) * 0x9E3779B1) & 0xFFFFFFFF
        lo = (lo + (x ^ (x >> 15))) % lm
        x = ((lo ^ r2) * 0x9E3779B1) & 0xFFFFFFFF
        hi = (hi + (x ^ (x >> 15))) % hm
        x = ((hi ^ r3) * 0x9E3779B1) & 0xFFFFFFFF
        lo = (lo + (x ^ (x >> 15))) % lm
        return hi * lm + lo

    def value(self, number: int, year: int) -> str:
        return self.head + str(number).zfill(self.digits)

    def serial_of(self, value: str) -> int | None:
        """The serial number if this family can produce ``value`` (a plain value), else None."""
        tail = value[len(self.head):]
        if len(value) == self.length and value.startswith(self.head) and tail.isdigit() and tail.isascii():
            return int(tail)
        return None

    def pattern(self) -> tuple[str, ...]:
        """Characters each position may hold: two families overlap only if all positions can agree."""
        return tuple(self.head) + (DIGITS,) * self.digits


class _VinFamily(_Family):
    """VIN: WMI + descriptor (1-8), check digit (9), model year (10), plant (11), serial (12-17)."""

    def __init__(self, head: str, plant: str, layout: str = "") -> None:
        self.plant = plant
        super().__init__("vin", head, 6, layout)

    def _extra_length(self) -> int:
        return 3

    def _key(self) -> str:
        return f"vin:{self.head}?{self.plant}#6"

    def value(self, number: int, year: int) -> str:
        body = f"{self.head}0{VIN_YEAR_CODES[year]}{self.plant}{number:06d}"
        return f"{self.head}{vin_check_digit(body)}{body[9:]}"

    def serial_of(self, value: str) -> int | None:
        if len(value) == 17 and value.startswith(self.head) and value[10] == self.plant and value[11:].isdigit():
            return int(value[11:])
        return None

    def pattern(self) -> tuple[str, ...]:
        years = "".join(sorted(set(VIN_YEAR_CODES.values())))
        return tuple(self.head) + (DIGITS + "X", years, self.plant) + (DIGITS,) * 6


class _LuhnFamily(_Family):
    """Numbers closed by a Luhn check digit: the 15-digit IMEI of a GPS tracker."""

    def _extra_length(self) -> int:
        return 1

    def value(self, number: int, year: int) -> str:
        body = self.head + str(number).zfill(self.digits)
        return body + _luhn_digit(body)

    def serial_of(self, value: str) -> int | None:
        if len(value) == self.length and value.startswith(self.head) and value.isdigit():
            return int(value[len(self.head):-1])
        return None

    def pattern(self) -> tuple[str, ...]:
        return super().pattern() + (DIGITS,)


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


# --------------------------------------------------------------------------
# Makers, models and their numbering
# --------------------------------------------------------------------------

GENERIC_COLORS = ("white", "orange", "blue", "red", "yellow", "green", "gray", "black")
TRUCK_COLORS = ("white", "orange", "blue", "red", "yellow", "green", "gray", "silver", "dark blue")
# Paint a maker ships; anything else means a repaint (used sparingly).
MAKER_COLORS: dict[str, tuple[str, ...]] = {
    "Caterpillar": ("yellow",), "Komatsu": ("yellow",), "Hitachi": ("orange",),
    "Volvo": ("yellow",), "Liebherr": ("yellow",), "JCB": ("yellow",), "Doosan": ("orange",),
    "Sandvik": ("yellow", "yellow and gray"), "Epiroc": ("yellow",), "BelAZ": ("yellow", "green and yellow"),
    "XCMG": ("yellow",), "SANY": ("red", "red and gray"), "Shantui": ("yellow",),
    "LiuGong": ("yellow",), "Hyundai": ("yellow",), "Atlas Copco": ("yellow",),
    "Soosan": ("blue",), "Furukawa": ("yellow",), "Indeco": ("orange",), "FG Wilson": ("blue",),
    "Cummins": ("white", "gray"), "Aksa": ("white", "gray"), "Metso": ("orange", "gray"),
    "Powerscreen": ("green",), "Terex Finlay": ("green", "white"), "ChTZ-Uraltrac": ("yellow", "green"),
    "Amkodor": ("yellow", "green"), "Kaishan": ("yellow", "blue"), "Godwin": ("green",),
}

# ISO 10261 manufacturer codes.  CAT, KMT, HCM, VCE, LBH, JCB are in real use;
# the others are plausible inventions.  Value: (manufacturer, telematics system).
PIN_MAKERS: dict[str, tuple[str, str]] = {
    "CAT": ("Caterpillar", "cat_product_link"),
    "KMT": ("Komatsu", "komtrax"),
    "HCM": ("Hitachi", "gps_imei"),
    "VCE": ("Volvo", "gps_imei"),
    "LBH": ("Liebherr", "gps_imei"),
    "JCB": ("JCB", "gps_imei"),
    "DHK": ("Doosan", "gps_imei"),
    "HHK": ("Hyundai", "gps_imei"),
    "SDK": ("Sandvik", "gps_imei"),
    "EPR": ("Epiroc", "gps_imei"),
    "BLZ": ("BelAZ", "gps_imei"),
    "XUG": ("XCMG", "gps_imei"),
    "SNY": ("SANY", "gps_imei"),
    "SHT": ("Shantui", "gps_imei"),
    "LGC": ("LiuGong", "gps_imei"),
}
CHINESE_PIN_MAKERS = frozenset({"XUG", "SNY", "SHT", "LGC", "BLZ"})  # sold mostly in Eurasia

# PIN = maker code (3) + model code (5) + check character (9) + production prefix (3) + serial (5).
PIN_PREFIXES_PER_MODEL = 3
PIN_SERIAL_DIGITS = 5
PIN_MODELS: tuple[tuple, ...] = (
    # category, maker, model, model code, noun, new price USD, (first, last year), weight, engine
    ("excavator", "CAT", "320D2", "320D2", "crawler excavator", 190_000, (2012, 2023), 6, "cat_c71"),
    ("excavator", "CAT", "336D2 L", "336D2", "crawler excavator", 330_000, (2013, 2023), 5, "cat_c9"),
    ("excavator", "CAT", "374F L", "374F0", "crawler excavator", 620_000, (2014, 2024), 2, "cat_c15"),
    ("loader", "CAT", "966H", "0966H", "wheel loader", 320_000, (2008, 2014), 3, "cat_c11"),
    ("loader", "CAT", "980L", "0980L", "wheel loader", 480_000, (2018, 2025), 3, "cat_c13"),
    ("dozer", "CAT", "D8T", "00D8T", "crawler dozer", 650_000, (2010, 2024), 3, "cat_c15"),
    ("dozer", "CAT", "D9R", "00D9R", "crawler dozer", 720_000, (2006, 2014), 2, "cat_c18"),
    ("grader", "CAT", "140K", "0140K", "motor grader", 260_000, (2010, 2018), 3, "cat_c7"),
    ("haul_truck", "CAT", "777G", "0777G", "rigid haul truck", 1_500_000, (2014, 2025), 1.5, "cat_c32"),
    ("haul_truck", "CAT", "773E", "0773E", "rigid haul truck", 950_000, (2006, 2016), 1, "cat_c27"),
    ("excavator", "KMT", "PC300-8", "PC300", "crawler excavator", 280_000, (2008, 2020), 6, "komatsu_114"),
    ("excavator", "KMT", "PC400-8", "PC400", "crawler excavator", 380_000, (2008, 2020), 4, "komatsu_125"),
    ("excavator", "KMT", "PC1250-8", "P1250", "crawler excavator", 1_300_000, (2010, 2022), 1, "komatsu_170"),
    ("loader", "KMT", "WA470-6", "WA470", "wheel loader", 350_000, (2010, 2022), 3, "komatsu_125"),
    ("loader", "KMT", "WA600-6", "WA600", "wheel loader", 650_000, (2010, 2022), 2, "komatsu_170"),
    ("dozer", "KMT", "D155A-6", "D155A", "crawler dozer", 520_000, (2010, 2023), 3, "komatsu_140"),
    ("dozer", "KMT", "D375A-6", "D375A", "crawler dozer", 1_100_000, (2010, 2023), 1.5, "komatsu_170"),
    ("haul_truck", "KMT", "HD785-7", "HD785", "rigid haul truck", 1_400_000, (2008, 2022), 2, "komatsu_12v"),
    ("grader", "KMT", "GD655-5", "GD655", "motor grader", 280_000, (2012, 2023), 2, "komatsu_107"),
    ("excavator", "HCM", "ZX330-5G", "ZX330", "crawler excavator", 300_000, (2013, 2024), 4, "isuzu"),
    ("excavator", "HCM", "ZX470LCH-5G", "ZX470", "crawler excavator", 420_000, (2013, 2024), 2, "isuzu"),
    ("excavator", "HCM", "EX1200-6", "EX12H", "mining excavator", 1_600_000, (2010, 2022), 1, "cummins"),
    ("haul_truck", "HCM", "EH3500AC-3", "EH35A", "rigid haul truck", 2_200_000, (2010, 2022), 0.5, "cummins"),
    ("excavator", "VCE", "EC480DL", "EC480", "crawler excavator", 420_000, (2012, 2024), 3, "volvo_d13"),
    ("excavator", "VCE", "EC220D", "EC220", "crawler excavator", 200_000, (2014, 2024), 3, "volvo_d8"),
    ("loader", "VCE", "L150H", "L150H", "wheel loader", 330_000, (2014, 2025), 3, "volvo_d13"),
    ("haul_truck", "VCE", "A40G", "A040G", "articulated hauler", 600_000, (2015, 2025), 2, "volvo_d16"),
    ("grader", "VCE", "G940B", "G940B", "motor grader", 270_000, (2011, 2020), 1, "volvo_d8"),
    ("excavator", "LBH", "R 9250", "R9250", "mining excavator", 2_400_000, (2010, 2022), 0.5, "cummins"),
    ("excavator", "LBH", "R 956", "R0956", "crawler excavator", 900_000, (2012, 2024), 1, "liebherr"),
    ("loader", "LBH", "L 566 XPower", "L0566", "wheel loader", 450_000, (2014, 2025), 2, "liebherr"),
    ("dozer", "LBH", "PR 764", "PR764", "crawler dozer", 900_000, (2014, 2025), 1, "liebherr"),
    ("haul_truck", "LBH", "T 264", "T0264", "rigid haul truck", 2_500_000, (2012, 2024), 0.5, "cummins"),
    ("excavator", "JCB", "JS220", "JS220", "crawler excavator", 160_000, (2010, 2024), 3, "isuzu"),
    ("loader", "JCB", "3CX", "03CX4", "backhoe loader", 110_000, (2008, 2025), 4, "cummins"),
    ("loader", "JCB", "457 ZX", "0457Z", "wheel loader", 240_000, (2010, 2020), 1, "cummins"),
    ("excavator", "DHK", "DX300LCA", "DX300", "crawler excavator", 230_000, (2012, 2024), 4, "doosan"),
    ("excavator", "DHK", "DX530LC-7", "DX530", "crawler excavator", 450_000, (2020, 2025), 2, "doosan"),
    ("loader", "DHK", "DL420A", "DL420", "wheel loader", 220_000, (2012, 2024), 2, "doosan"),
    ("excavator", "HHK", "R520LC-9S", "R520L", "crawler excavator", 420_000, (2011, 2021), 3, "cummins"),
    ("loader", "HHK", "HL780-9S", "HL780", "wheel loader", 240_000, (2011, 2021), 2, "cummins"),
    ("drill_rig", "SDK", "DP1500i", "DP15H", "surface drill rig", 900_000, (2014, 2025), 2, "cat_c13"),
    ("drill_rig", "SDK", "DI550", "DN550", "down-the-hole drill rig", 800_000, (2016, 2025), 1.5, "cat_c13"),
    ("drill_rig", "SDK", "DR412i", "DR412", "rotary blasthole drill", 2_500_000, (2016, 2025), 0.5, "cummins"),
    ("loader", "SDK", "LH514", "LH514", "underground loader", 1_100_000, (2012, 2024), 1, "volvo_d13"),
    ("crusher", "SDK", "QJ341", "J0341", "mobile jaw crusher", 650_000, (2012, 2025), 2, "cat_c13"),
    ("drill_rig", "EPR", "SmartROC D65", "SRD65", "surface drill rig", 1_100_000, (2016, 2025), 2, "cat_c15"),
    ("drill_rig", "EPR", "FlexiROC T45", "FRT45", "surface drill rig", 750_000, (2014, 2025), 2.5, "cat_c13"),
    ("drill_rig", "EPR", "Pit Viper 271", "PV271", "rotary blasthole drill", 3_000_000, (2010, 2024), 0.5, "cat_c27"),
    ("loader", "EPR", "Scooptram ST14", "ST014", "underground loader", 1_200_000, (2012, 2025), 1, "volvo_d16"),
    ("haul_truck", "EPR", "Minetruck MT42", "MT042", "underground mine truck", 1_300_000, (2012, 2025), 0.7, "volvo_d16"),
    ("haul_truck", "BLZ", "75131", "75131", "rigid haul truck", 700_000, (2006, 2025), 4, "cummins"),
    ("haul_truck", "BLZ", "7555B", "7555B", "rigid haul truck", 550_000, (2006, 2025), 4, "cummins"),
    ("haul_truck", "BLZ", "75306", "75306", "rigid haul truck", 1_800_000, (2008, 2024), 1, "cummins"),
    ("excavator", "XUG", "XE215C", "XE215", "crawler excavator", 120_000, (2012, 2025), 5, "cummins"),
    ("excavator", "XUG", "XE370CA", "XE370", "crawler excavator", 210_000, (2014, 2025), 3, "cummins"),
    ("loader", "XUG", "LW500FN", "LW500", "wheel loader", 80_000, (2012, 2025), 5, "weichai"),
    ("grader", "XUG", "GR215", "GR215", "motor grader", 120_000, (2012, 2025), 3, "weichai"),
    ("excavator", "SNY", "SY365H", "SY365", "crawler excavator", 230_000, (2014, 2025), 4, "isuzu"),
    ("excavator", "SNY", "SY215C", "SY215", "crawler excavator", 130_000, (2012, 2025), 4, "isuzu"),
    ("haul_truck", "SNY", "SKT90S", "SKT90", "mining dump truck", 260_000, (2016, 2025), 2, "weichai"),
    ("dozer", "SHT", "SD32", "SD032", "crawler dozer", 230_000, (2010, 2025), 4, "cummins"),
    ("dozer", "SHT", "SD22", "SD022", "crawler dozer", 150_000, (2010, 2025), 3, "weichai"),
    ("loader", "LGC", "856H", "0856H", "wheel loader", 95_000, (2012, 2025), 4, "weichai"),
    ("excavator", "LGC", "922E", "0922E", "crawler excavator", 140_000, (2012, 2025), 2, "cummins"),
    ("grader", "LGC", "4180D", "4180D", "motor grader", 130_000, (2014, 2025), 2, "cummins"),
)

VIN_MODELS: tuple[tuple, ...] = (
    # manufacturer, model, VIN positions 1-8 (WMI + descriptor), plant codes (position 11),
    # noun, new price USD, (first, last year), weight, markets, engine
    ("KAMAZ", "65115", "XTC65115", "12", "dump truck", 75_000, (2006, 2025), 9, "eurasia", "kamaz"),
    ("KAMAZ", "6520", "XTC65200", "1", "dump truck", 95_000, (2008, 2025), 6, "eurasia", "kamaz"),
    ("KAMAZ", "43118", "XTC43118", "1", "flatbed truck", 80_000, (2008, 2025), 3, "eurasia", "kamaz"),
    ("KAMAZ", "65116", "XTC65116", "1", "tractor unit", 70_000, (2010, 2025), 3, "eurasia", "kamaz"),
    ("MAZ", "6501", "Y3M65010", "1", "dump truck", 80_000, (2010, 2025), 3, "eurasia", "yamz"),
    ("Sinotruk HOWO", "ZZ3257N3847A", "LZZ5ELND", "W", "dump truck", 60_000, (2010, 2025), 8, "eurasia", "sinotruk"),
    ("Sinotruk HOWO", "A7 ZZ4257", "LZZ5BLSF", "W", "tractor unit", 65_000, (2012, 2025), 4, "eurasia", "sinotruk"),
    ("Shacman", "F3000 SX3256", "LZGJLDR4", "X", "dump truck", 62_000, (2012, 2025), 6, "eurasia", "weichai"),
    ("Shacman", "X3000 SX4250", "LZGJLGN4", "X", "tractor unit", 70_000, (2018, 2025), 3, "eurasia", "weichai"),
    ("FAW", "J6P CA3250", "LFWSRXRJ", "A", "dump truck", 58_000, (2012, 2025), 2, "eurasia", "weichai"),
    ("MAN", "TGS 41.400", "WMA26SZZ", "SY", "dump truck", 140_000, (2008, 2024), 3, "both", "man"),
    ("Volvo", "FMX 500", "YV2XTY0G", "AB", "dump truck", 160_000, (2012, 2025), 3, "both", "volvo_d13"),
    ("Scania", "P410", "YS2P6X40", "5", "dump truck", 150_000, (2012, 2025), 2, "both", "scania"),
    ("Mercedes-Benz", "Actros 3341", "WDB93403", "L", "dump truck", 150_000, (2010, 2025), 2, "overseas", "mercedes"),
    ("Mack", "Granite GU813", "1M1AN07Y", "M", "dump truck", 170_000, (2010, 2025), 3, "overseas", "mack"),
    ("Freightliner", "114SD", "1FUJGLDR", "L", "tractor unit", 160_000, (2012, 2025), 2, "overseas", "detroit"),
    ("Isuzu", "Giga CYZ", "JALCYZ52", "7", "dump truck", 110_000, (2010, 2025), 2, "overseas", "isuzu_truck"),
)

SERIAL_MODELS: tuple[tuple, ...] = (
    # category, manufacturer, model, noun, serial heads, serial digits, registered layout,
    # new price USD, (first, last year), weight, markets, engine
    ("attachment", "Epiroc", "HB 3100", "hydraulic breaker", ("HB31",), 6, "####-######", 70_000, (2012, 2025), 6, "both", ""),
    ("attachment", "Epiroc", "MB 1700", "hydraulic breaker", ("MB17",), 6, "####-######", 45_000, (2012, 2025), 4, "both", ""),
    ("attachment", "Soosan", "SB81N", "hydraulic breaker", ("SB81N",), 6, "#####-######", 22_000, (2010, 2025), 5, "eurasia", ""),
    ("attachment", "Furukawa", "FXJ375", "hydraulic breaker", ("FX375",), 6, "#####-######", 40_000, (2010, 2025), 3, "both", ""),
    ("attachment", "Indeco", "HP 7000", "hydraulic breaker", ("HP7K",), 6, "####/######", 60_000, (2010, 2025), 2, "overseas", ""),
    ("attachment", "Caterpillar", "GP 1.9 m3", "excavator bucket", ("TKL", "TKM"), 6, "###-######", 12_000, (2010, 2025), 4, "both", ""),
    ("attachment", "Komatsu", "5.2 m3", "loader rock bucket", ("KRB",), 6, "###-######", 25_000, (2010, 2025), 2, "both", ""),
    ("generator", "FG Wilson", "P500-3", "diesel generator set", ("FGWPE",), 6, "", 65_000, (2010, 2025), 5, "both", ""),
    ("generator", "Cummins", "C550 D5", "diesel generator set", ("K13", "K14", "K15"), 7, "###-#######", 80_000, (2012, 2025), 4, "both", ""),
    ("generator", "Aksa", "APD 500C", "diesel generator set", ("AKS",), 7, "###-#######", 55_000, (2010, 2025), 4, "eurasia", ""),
    ("generator", "Caterpillar", "XQ425", "mobile generator set", ("HX",), 6, "", 150_000, (2012, 2025), 2, "both", ""),
    ("generator", "Atlas Copco", "QAS 500", "mobile generator set", ("APF",), 6, "", 110_000, (2012, 2025), 2, "both", ""),
    ("compressor", "Atlas Copco", "XATS 1000", "portable air compressor", ("ARP",), 6, "", 95_000, (2010, 2025), 5, "both", ""),
    ("compressor", "Kaeser", "M500-2", "portable air compressor", ("KM5",), 7, "", 90_000, (2012, 2025), 2, "both", ""),
    ("compressor", "Airman", "PDS390S", "portable air compressor", ("PDS39",), 6, "#####-######", 45_000, (2008, 2022), 2, "eurasia", ""),
    ("compressor", "Doosan", "XHP1170", "portable air compressor", ("DPP",), 7, "###-#######", 110_000, (2014, 2025), 2, "both", ""),
    ("compressor", "Kaishan", "LGCY-22/20", "portable air compressor", ("KSN",), 7, "", 40_000, (2014, 2025), 3, "eurasia", ""),
    ("crusher", "Metso", "Lokotrack LT106", "mobile jaw crusher", ("LT106",), 6, "#####-######", 800_000, (2012, 2025), 2, "both", ""),
    ("crusher", "Powerscreen", "Premiertrak 600", "mobile jaw crusher", ("PT600",), 6, "#####-######", 700_000, (2014, 2025), 1.5, "both", ""),
    ("crusher", "Terex Finlay", "J-1175", "mobile jaw crusher", ("TFJ75",), 6, "", 600_000, (2012, 2025), 1, "both", ""),
    ("crusher", "SBM", "K3 mobile crushing plant", "mobile cone crusher", ("SBMK3",), 6, "", 350_000, (2016, 2025), 1.5, "eurasia", ""),
    ("other", "Atlas Copco", "HiLight V5+", "mobile light tower", ("HLV5",), 6, "", 15_000, (2012, 2025), 4, "both", ""),
    ("other", "Godwin", "CD150M", "diesel dewatering pump", ("GDW",), 7, "", 40_000, (2010, 2025), 2, "both", ""),
    ("other", "Lincoln Electric", "Vantage 500", "engine-driven welder", ("U1",), 9, "", 20_000, (2010, 2025), 2, "both", ""),
    ("dozer", "ChTZ-Uraltrac", "B10M", "crawler dozer", ("B10M",), 6, "####-######", 110_000, (2005, 2020), 4, "eurasia", "d180"),
    ("loader", "Amkodor", "342C4", "wheel loader", ("A342",), 6, "####-######", 80_000, (2008, 2024), 3, "eurasia", "mmz"),
    ("excavator", "Tver Excavator", "EK-270", "crawler excavator", ("EK270",), 6, "#####-######", 150_000, (2008, 2020), 2, "eurasia", "deutz"),
    ("grader", "ChSDM", "DZ-98", "motor grader", ("DZ98",), 6, "####-######", 140_000, (2005, 2020), 2, "eurasia", "yamz"),
    ("drill_rig", "Atlas Copco", "ROC L8", "surface drill rig", ("AVL8",), 6, "", 600_000, (2006, 2015), 2, "both", "cat_c13"),
    ("drill_rig", "Kaishan", "KT15", "down-the-hole drill rig", ("KT15",), 6, "####-######", 250_000, (2014, 2025), 2, "eurasia", "cummins"),
)

# Engine numbers as registered: model / production prefix, then the serial.
ENGINE_NUMBERING: dict[str, tuple[tuple[str, int, str], ...]] = {
    # engine: ((fixed head, serial digits, registered layout), ...)
    "cummins": (("", 8, ""),),  # Cummins ESN: eight digits
    "cat_c7": (("C7WDX", 5, "##-########"), ("C7KRS", 5, "##-########")),
    "cat_c71": (("C714SE", 5, "##.#-########"), ("C71RJB", 5, "##.#-########")),
    "cat_c9": (("C9THX", 5, "##-########"), ("C9PGM", 5, "##-########")),
    "cat_c11": (("C11EAH", 5, "###-########"), ("C11KCA", 5, "###-########")),
    "cat_c13": (("C13LGK", 5, "###-########"), ("C13SDP", 5, "###-########")),
    "cat_c15": (("C152WS", 5, "###-########"), ("C15MXS", 5, "###-########")),
    "cat_c18": (("C18LJW", 5, "###-########"), ("C18WJH", 5, "###-########")),
    "cat_c27": (("C27SXN", 5, "###-########"),),
    "cat_c32": (("C32TWB", 5, "###-########"),),
    "komatsu_107": (("SAA6D107E1", 6, "#########-# ######"),),
    "komatsu_114": (("SAA6D114E3", 6, "#########-# ######"),),
    "komatsu_125": (("SAA6D125E5", 6, "#########-# ######"),),
    "komatsu_140": (("SAA6D140E5", 6, "#########-# ######"),),
    "komatsu_170": (("SAA6D170E5", 6, "#########-# ######"),),
    "komatsu_12v": (("SAA12V140E", 6, "##########-######"),),
    "isuzu": (("6HK1", 6, "####-######"), ("4HK1", 6, "####-######")),
    "isuzu_truck": (("6WG1", 6, "####-######"),),
    "volvo_d8": (("D8", 8, "##-########"),),
    "volvo_d13": (("D13", 7, "###-#######"),),
    "volvo_d16": (("D16", 7, "###-#######"),),
    "liebherr": (("D9512", 8, "#####-########"),),
    "doosan": (("DL08", 7, "####-#######"), ("DL06", 7, "####-#######")),
    "weichai": (("WP10", 8, "####-########"), ("WP12", 8, "####-########")),
    "sinotruk": (("MC11", 8, "####-########"),),
    "kamaz": (("74060", 7, "###.##-#######"), ("74062", 7, "###.##-#######")),
    "yamz": (("238", 7, "###-#######"), ("236", 7, "###-#######")),
    "man": (("D2676LF", 7, "#######-#######"),),
    "mercedes": (("471926", 8, ""),),
    "mack": (("MP8", 8, "###-########"),),
    "detroit": (("472906S", 7, ""),),
    "scania": (("DC13", 7, "####-#######"),),
    "deutz": (("BF6M", 8, "####-########"),),
    "d180": (("D180", 6, "####-######"),),
    "mmz": (("D260", 7, "####-#######"),),
}

TELEMATICS_NUMBERING: dict[str, tuple[tuple[str, int, str], ...]] = {
    "cat_product_link": (("PL641", 8, "#####-########"),),
    "komtrax": (("KTX", 9, ""),),
}
GPS_IMEI_HEADS = ("86", "35")  # GPS tracker IMEIs: TAC start, 12 digits, Luhn digit

COMPONENT_NUMBERING: dict[str, tuple[str, int, str, str]] = {
    # name: (head, digits, layout, where the plate is)
    "allison": ("6610", 6, "", "plate on transmission housing"),
    "zf": ("ZF4", 7, "", "plate on transmission housing"),
    "kawasaki_pump": ("K3V", 7, "###-#######", "plate on main hydraulic pump"),
}

# --------------------------------------------------------------------------
# Countries, agencies, places
# --------------------------------------------------------------------------

EURASIA = ("KZ", "UZ", "KG", "RU", "MN", "TJ")
OVERSEAS = ("ZA", "AU", "CL", "PE")

# Share of reports, currency, approximate 2025 units per USD (only the order of magnitude matters).
COUNTRY_WEIGHTS: dict[str, float] = {
    "KZ": 50, "RU": 12, "UZ": 10, "KG": 6, "MN": 6, "TJ": 3, "ZA": 4, "AU": 4, "CL": 2.5, "PE": 2.5,
}
CURRENCIES: dict[str, tuple[str, float]] = {
    "KZ": ("KZT", 520), "UZ": ("UZS", 12_000), "KG": ("KGS", 87.5), "RU": ("RUB", 80),
    "MN": ("MNT", 3_580), "TJ": ("TJS", 9.3), "ZA": ("ZAR", 17.6), "AU": ("AUD", 1.53),
    "CL": ("CLP", 940), "PE": ("PEN", 3.5),
}
# Where a clerk may type Cyrillic look-alikes into a Latin serial (per report).
CYRILLIC_ENTRY_RATE = 0.025
# Languages agencies write descriptions in, by the incident's country (others: English).
DESCRIPTION_LANGUAGES: dict[str, dict[str, float]] = {
    "KZ": {"ru": 0.5, "kk": 0.35, "en": 0.15},
    "RU": {"ru": 0.9, "en": 0.1},
    "UZ": {"ru": 0.7, "en": 0.3}, "KG": {"ru": 0.7, "en": 0.3}, "TJ": {"ru": 0.7, "en": 0.3},
    "MN": {"en": 0.6, "ru": 0.4},
}
CYRILLIC_MAKER_RATE = 0.3  # of Russian and Kazakh descriptions: the maker written in Cyrillic (Комацу)

REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "KZ": {
        "Turkestan Region": ("Kentau", "Turkestan", "Turar Ryskulov", "Shardara", "Sholakkorgan", "Kazygurt", "Saryagash"),
        "Karaganda Region": ("Karaganda", "Temirtau", "Balkhash", "Saran", "Shakhtinsk", "Abay"),
        "East Kazakhstan Region": ("Oskemen", "Ridder", "Altai", "Glubokoye", "Zaisan"),
        "Pavlodar Region": ("Ekibastuz", "Aksu", "Pavlodar", "Maikain", "Bayanaul"),
        "Kostanay Region": ("Rudny", "Lisakovsk", "Zhitikara", "Kostanay"),
        "Aktobe Region": ("Khromtau", "Kandyagash", "Aktobe", "Alga"),
        "Ulytau Region": ("Zhezkazgan", "Satpayev", "Karazhal"),
        "Abai Region": ("Semey", "Ayagoz", "Kurchatov", "Akzhal"),
        "Zhambyl Region": ("Taraz", "Zhanatas", "Karatau"),
        "Almaty Region": ("Konaev", "Talgar", "Esik"),
    },
    "UZ": {
        "Navoi Region": ("Zarafshan", "Uchkuduk", "Navoi", "Nurota"),
        "Tashkent Region": ("Almalyk", "Angren", "Akhangaran", "Chirchiq"),
        "Jizzakh Region": ("Jizzakh", "Gallaorol"),
        "Surkhandarya Region": ("Termez", "Sherobod"),
    },
    "KG": {
        "Issyk-Kul Region": ("Karakol", "Balykchy", "Barskoon", "Tamga"),
        "Chui Region": ("Kant", "Tokmok", "Kara-Balta"),
        "Talas Region": ("Talas", "Kara-Buura"),
        "Jalal-Abad Region": ("Jalal-Abad", "Kara-Kul", "Tash-Kumyr"),
    },
    "RU": {
        "Kemerovo Region - Kuzbass": ("Novokuznetsk", "Mezhdurechensk", "Prokopyevsk", "Belovo", "Kiselyovsk"),
        "Chelyabinsk Region": ("Korkino", "Magnitogorsk", "Satka", "Plast"),
        "Sverdlovsk Region": ("Asbest", "Kachkanar", "Krasnoturinsk", "Severouralsk"),
        "Orenburg Region": ("Orsk", "Gai", "Novotroitsk", "Yasny"),
        "Krasnoyarsk Territory": ("Norilsk", "Achinsk", "Borodino", "Sharypovo"),
        "Republic of Sakha (Yakutia)": ("Mirny", "Neryungri", "Aldan", "Udachny"),
    },
    "MN": {
        "Umnugovi Province": ("Dalanzadgad", "Khanbogd", "Tsogttsetsii"),
        "Orkhon Province": ("Erdenet", "Jargalant"),
        "Dornogovi Province": ("Sainshand", "Zamyn-Uud"),
        "Selenge Province": ("Sukhbaatar", "Mandal"),
    },
    "TJ": {
        "Sughd Region": ("Khujand", "Istiqlol", "Adrasmon", "Panjakent", "Guliston"),
        "Khatlon Region": ("Bokhtar", "Kulob"),
    },
    "ZA": {
        "North West": ("Rustenburg", "Brits", "Marikana"),
        "Limpopo": ("Mokopane", "Burgersfort", "Steelpoort", "Lephalale"),
        "Northern Cape": ("Kathu", "Postmasburg", "Kuruman"),
        "Mpumalanga": ("eMalahleni", "Middelburg", "Ogies", "Secunda"),
    },
    "AU": {
        "Western Australia": ("Karratha", "Newman", "Port Hedland", "Tom Price", "Kalgoorlie", "Leonora"),
        "Queensland": ("Moranbah", "Emerald", "Mackay", "Mount Isa", "Dysart"),
        "New South Wales": ("Muswellbrook", "Singleton", "Cobar", "Orange"),
    },
    "CL": {
        "Antofagasta Region": ("Calama", "Antofagasta", "Sierra Gorda", "Mejillones", "Taltal"),
        "Atacama Region": ("Copiapo", "Diego de Almagro", "Tierra Amarilla", "Vallenar"),
    },
    "PE": {
        "Ancash": ("Huaraz", "Huari", "San Marcos", "Chimbote"),
        "Arequipa": ("Arequipa", "Caylloma", "Chala", "Uchumayo"),
        "Apurimac": ("Challhuanca", "Tambobamba", "Abancay"),
        "Cajamarca": ("Cajamarca", "Celendin"),
    },
}


@dataclass(frozen=True)
class Agency:
    """A reporting agency and how it numbers its cases.

    ``ref_format`` fields: year, yy, mm, n (the agency's running case number that
    year) and dv (a Chilean RUC check digit).  Every format holds the year, so
    a running number per (agency, year) makes refs unique per agency.
    """

    name: str
    country: str
    region: str | None  # None: national agency, any region of its country
    ref_format: str
    contact: str
    weight: float = 1.0


def _police(country: str, region: str, code: str, weight: float) -> Agency:
    return Agency(f"Police Department of {region}", country, region, f"KZ-{code}-{{year}}-{{n:06d}}",
                  f"Criminal Police Division, duty officer, stolen-equipment@{code.lower()}.police.example", weight)


AGENCIES: tuple[Agency, ...] = (
    _police("KZ", "Turkestan Region", "TRK", 12),
    _police("KZ", "Karaganda Region", "KRG", 14),
    _police("KZ", "East Kazakhstan Region", "VKO", 12),
    _police("KZ", "Pavlodar Region", "PVL", 10),
    _police("KZ", "Kostanay Region", "KST", 8),
    _police("KZ", "Aktobe Region", "AKT", 8),
    _police("KZ", "Ulytau Region", "ULT", 8),
    _police("KZ", "Abai Region", "ABY", 8),
    _police("KZ", "Zhambyl Region", "ZHM", 6),
    _police("KZ", "Almaty Region", "ALM", 6),
    Agency("Ministry of Internal Affairs of the Republic of Kazakhstan", "KZ", None, "ERDR {yy}{n:013d}",
           "Criminal Police Committee, erdr-desk@mvd-kz.example", 4),
    Agency("Ministry of Internal Affairs of the Republic of Uzbekistan", "UZ", None, "UZ-IIV-{year}-{n:06d}",
           "Main Criminal Investigation Department, vehicles@iiv-uz.example", 4),
    Agency("Department of Internal Affairs of Navoi Region", "UZ", "Navoi Region", "NAV-{year}/{n:05d}",
           "duty unit, navoi@iiv-uz.example", 3),
    Agency("Department of Internal Affairs of Tashkent Region", "UZ", "Tashkent Region", "TSH-{year}/{n:05d}",
           "duty unit, tashkent-region@iiv-uz.example", 3),
    Agency("Ministry of Internal Affairs of the Kyrgyz Republic", "KG", None, "KG-{year}-{n:06d}",
           "Criminal Investigation Service, search@mvd-kg.example", 3),
    Agency("Main Department of Internal Affairs of Issyk-Kul Region", "KG", "Issyk-Kul Region", "IK-{year}-{n:05d}",
           "duty unit, issyk-kul@mvd-kg.example", 3),
    Agency("Main Directorate of the Ministry of Internal Affairs of Russia for Kemerovo Region - Kuzbass", "RU",
           "Kemerovo Region - Kuzbass", "KUSP-42-{n:05d}/{year}", "duty unit, kusp@42.mvd-ru.example", 4),
    Agency("Main Directorate of the Ministry of Internal Affairs of Russia for Chelyabinsk Region", "RU",
           "Chelyabinsk Region", "KUSP-74-{n:05d}/{year}", "duty unit, kusp@74.mvd-ru.example", 2),
    Agency("Main Directorate of the Ministry of Internal Affairs of Russia for Sverdlovsk Region", "RU",
           "Sverdlovsk Region", "KUSP-66-{n:05d}/{year}", "duty unit, kusp@66.mvd-ru.example", 2),
    Agency("Directorate of the Ministry of Internal Affairs of Russia for Orenburg Region", "RU",
           "Orenburg Region", "KUSP-56-{n:05d}/{year}", "duty unit, kusp@56.mvd-ru.example", 1.5),
    Agency("Main Directorate of the Ministry of Internal Affairs of Russia for Krasnoyarsk Territory", "RU",
           "Krasnoyarsk Territory", "KUSP-24-{n:05d}/{year}", "duty unit, kusp@24.mvd-ru.example", 1.5),
    Agency("Ministry of Internal Affairs of the Republic of Sakha (Yakutia)", "RU",
           "Republic of Sakha (Yakutia)", "KUSP-14-{n:05d}/{year}", "duty unit, kusp@14.mvd-ru.example", 1),
    Agency("General Police Department of Mongolia", "MN", None, "GPD-{year}-{n:05d}",
           "Criminal Police Department, equipment@police-mn.example", 3),
    Agency("Police Department of Umnugovi Province", "MN", "Umnugovi Province", "UMN-{year}-{n:05d}",
           "duty unit, umnugovi@police-mn.example", 3),
    Agency("Police Department of Orkhon Province", "MN", "Orkhon Province", "ORK-{year}-{n:05d}",
           "duty unit, orkhon@police-mn.example", 2),
    Agency("Ministry of Internal Affairs of the Republic of Tajikistan", "TJ", None, "TJ-VKD-{year}-{n:05d}",
           "Criminal Investigation Department, search@vkd-tj.example", 3),
    Agency("South African Police Service, Rustenburg", "ZA", "North West", "CAS {n}/{mm}/{year}",
           "Rustenburg SAPS detective branch, rustenburg@saps.example", 1),
    Agency("South African Police Service, Mokopane", "ZA", "Limpopo", "CAS {n}/{mm}/{year}",
           "Mokopane SAPS detective branch, mokopane@saps.example", 1),
    Agency("South African Police Service, Kathu", "ZA", "Northern Cape", "CAS {n}/{mm}/{year}",
           "Kathu SAPS detective branch, kathu@saps.example", 1),
    Agency("South African Police Service, eMalahleni", "ZA", "Mpumalanga", "CAS {n}/{mm}/{year}",
           "eMalahleni SAPS detective branch, emalahleni@saps.example", 1),
    Agency("Western Australia Police Force", "AU", "Western Australia", "WAPOL-{year}-{n:07d}",
           "Major Fraud and Plant Theft, plant-theft@police.wa.example", 2),
    Agency("Queensland Police Service", "AU", "Queensland", "QP{yy}{n:08d}",
           "Policelink, plant-theft@police.qld.example", 1.5),
    Agency("NSW Police Force", "AU", "New South Wales", "E{yy}{n:07d}",
           "Rural Crime Prevention Team, rural-crime@police.nsw.example", 1),
    Agency("Investigations Police of Chile (PDI), Antofagasta", "CL", "Antofagasta Region", "RUC {yy}{n:08d}-{dv}",
           "Brigada Investigadora de Robos, antofagasta@pdi.example", 1.5),
    Agency("Carabineros de Chile, Atacama", "CL", "Atacama Region", "RUC {yy}{n:08d}-{dv}",
           "Seccion de Investigacion Policial, atacama@carabineros.example", 1),
    Agency("National Police of Peru, Ancash", "PE", "Ancash", "PNP-ANC-{year}-{n:05d}",
           "Division de Investigacion Criminal, ancash@pnp.example", 1),
    Agency("National Police of Peru, Arequipa", "PE", "Arequipa", "PNP-ARE-{year}-{n:05d}",
           "Division de Investigacion Criminal, arequipa@pnp.example", 1),
    Agency("National Police of Peru, Apurimac", "PE", "Apurimac", "PNP-APU-{year}-{n:05d}",
           "Division de Investigacion Criminal, apurimac@pnp.example", 0.7),
)
TURKESTAN_POLICE = AGENCIES[0]

# --------------------------------------------------------------------------
# Report text
# --------------------------------------------------------------------------

STATUS_WEIGHTS = {"stolen": 85, "missing": 8, "recovered": 5, "cancelled": 2}
ID_KIND_WEIGHTS = {"pin": 40, "vin": 25, "serial": 35}  # main identifier of a report
FIRST_INCIDENT_DATE = dt.date(2019, 1, 1)
LAST_INCIDENT_DATE = dt.date(2026, 10, 31)

# How often an optional key is left out, as agencies do.
OMIT_RATES = {"model": 0.05, "color": 0.15, "distinguishing_marks": 0.45, "value": 0.25}
ENGINE_RATES = {"pin": 0.55, "vin": 0.35, "serial": 0.30}  # serial-only machines; never attachments etc.
TELEMATICS_RATE = 0.08
COMPONENT_RATE = 0.04
FORMATTING_RATES = {"layout": 0.7, "lower": 0.03, "spaces": 0.04}  # of registered identifiers
UNPOWERED = frozenset({"attachment"})
SERIAL_ONLY_CATEGORIES = frozenset({"attachment", "generator", "compressor", "crusher", "other"})

EQUIPMENT: dict[str, tuple[str, ...]] = {
    "excavator": ("a rock bucket", "a general-purpose bucket", "a hydraulic quick coupler", "hammer piping",
                  "reinforced track guards", "a thumb clamp", "a rear-view camera", "a heavy-duty rock bucket with side cutters"),
    "loader": ("a general-purpose bucket", "a rock bucket", "pallet forks", "tire chains", "a ride control system",
               "a high-lift boom", "a quick coupler"),
    "dozer": ("a single-shank ripper", "a semi-U blade", "a three-shank ripper", "a U blade", "a ROPS cab",
              "a rear-view camera"),
    "grader": ("a rear ripper", "a front push plate", "a snow wing", "a scarifier", "GPS grade control"),
    "haul_truck": ("body liners", "a fire suppression system", "a heated dump body", "an autolube system",
                   "a payload monitor"),
    "truck": ("a steel dump body", "a heated dump body", "a tarpaulin cover", "rock liners in the body",
              "a fuel tank of 400 liters"),
    "drill_rig": ("a dust collector", "a rod changer carousel", "an air-conditioned cab", "GPS hole navigation",
                  "a spare drill string"),
    "crusher": ("a tracked chassis", "a side conveyor", "a magnetic separator", "a pre-screen", "a remote control"),
    "generator": ("a soundproof canopy", "a two-axle trailer", "a 1,000-liter fuel tank", "an automatic transfer panel"),
    "compressor": ("a single-axle trailer", "an aftercooler", "a hose reel", "a towbar with lights"),
    "attachment": ("a mounting bracket", "a chisel tool", "a moil point", "a hose kit", "an auto-lubrication unit"),
    "other": ("a trailer", "a fuel tank", "spare hoses", "a control box"),
    # by noun, where the category's list does not fit
    "excavator bucket": ("replaceable teeth", "side cutters", "wear plates", "a quick-coupler bracket"),
    "loader rock bucket": ("replaceable teeth", "a bolt-on cutting edge", "wear plates"),
    "tractor unit": ("a fifth wheel", "a sleeper cab", "hydraulic wet kit for tipper trailers",
                     "a fuel tank of 600 liters", "a roof spoiler"),
    "flatbed truck": ("a winch", "a flatbed with drop sides", "a crane arm", "a tarpaulin cover"),
}
CONDITIONS = ("in good working condition", "in working order", "recently serviced", "freshly repainted",
              "in fair condition with visible wear", "with a recently rebuilt engine", "in very good condition",
              "with minor dents and scratches", "in need of minor repairs")
COMPANIES = {
    "eurasia": ("Altyn Kazyna Mining", "Steppe Quarry LLP", "Karatau Aggregates", "Nur Resources",
                "Ertis Construction", "Saryarka Drilling", "Zhetysu Road Service", "Tien Shan Gold",
                "Gobi Haulage LLC", "Kuzbass Ugol Servis", "Zarafshan Stroy", "Sughd Mining Services"),
    "overseas": ("Pilbara Earthmoving", "Bushveld Plant Hire", "Atacama Minera Servicios", "Andes Equipos SAC",
                 "Hunter Valley Hire", "Kathu Haulage", "Bowen Basin Civil"),
}
MARKS = (
    "fleet number {fleet} painted on the rear",
    "fleet number {fleet} on both cab doors",
    "owner's logo '{company}' on the cab doors",
    "logo of {company} painted over in {other_color}",
    "welded repair on the left side of the frame",
    "cracked windscreen",
    "missing right-hand mirror",
    "dent in the engine hood",
    "aftermarket LED light bar on the cab roof",
    "non-original {other_color} engine hood",
    "GPS tracker antenna on the cab roof, cable cut",
    "serial plate partly painted over",
    "hour meter replaced, reading does not match the hours",
    "fire extinguisher bracket welded next to the door",
)
FLEET_PREFIXES = ("EX", "KT", "HT", "DR", "LD")
SITES = ("open-pit mine", "quarry", "contractor's yard", "road construction site", "equipment rental yard",
         "processing plant", "mine camp", "railway loading yard", "coal mine", "gold mine")
CIRCUMSTANCES = {
    "stolen": (
        "Taken overnight from an unguarded {site}; the gate padlock was cut.",
        "Driven off the {site} by persons posing as transport staff.",
        "Loaded onto a low-bed trailer and removed from the {site} during a shift change.",
        "Stolen from the {site}; the GPS tracker went offline the same night.",
        "Removed from the {site} over the weekend; the watchman was found tied up.",
        "Left at the {site} after the season; found missing at the spring inspection.",
    ),
    "missing": (
        "Not returned by the lessee after the rental contract expired; the lessee cannot be reached.",
        "Did not arrive at the destination after leaving the {site} by road; the driver cannot be reached.",
        "Lost track of during a transfer between sites; last seen at the {site}.",
    ),
    "recovered": (
        "Stolen from the {site}; recovered {weeks} weeks later at a police checkpoint.",
        "Taken from the {site}; recovered {weeks} weeks later in a scrapyard, partly dismantled.",
    ),
    "cancelled": (
        "Reported stolen from the {site}; report withdrawn by the owner: a subcontractor had moved the machine.",
        "Reported missing from the {site}; withdrawn after the lessee returned it.",
    ),
}

LOCATIONS: dict[str, tuple[str, ...]] = {
    "pin:excavator": ("plate on front of upper frame, right of boom foot", "plate on left side of frame",
                      "plate in cab behind the operator seat", "stamped on track frame"),
    "pin:loader": ("plate on left side of front frame", "plate on rear frame near articulation joint",
                   "plate in cab behind the operator seat"),
    "pin:dozer": ("plate on left side of main frame", "plate on rear of case, below ripper"),
    "pin:grader": ("plate on left side of front frame", "plate on rear frame near the cab"),
    "pin:haul_truck": ("plate on left side of main frame, behind front wheel", "stamped on right frame rail"),
    "pin:drill_rig": ("plate on left side of carrier frame", "plate on tramming frame near the control panel"),
    "pin:crusher": ("plate on main chassis", "plate on jaw box"),
    "vin": ("plate on driver's door pillar", "stamped on right frame rail behind front wheel",
            "stamped on left chassis member near front axle", "plate on cab floor, passenger side"),
    "serial:attachment": ("plate on side of housing", "stamped on top bracket near hose ports", "plate on mounting bracket"),
    "serial:generator": ("plate on control panel", "plate inside canopy door", "plate on base frame"),
    "serial:compressor": ("plate on canopy side", "plate on drawbar", "plate inside service door"),
    "serial:crusher": ("plate on main chassis", "plate on jaw box"),
    "serial:other": ("plate on frame", "plate on control box"),
    "serial": ("plate on left side of frame", "stamped on rear of frame", "plate in cab"),
    "engine": ("stamped on engine block, left side", "label on valve cover", "plate on right side of engine block",
               "stamped on block near oil filter"),
    "telematics": ("device under cab floor", "label on telematics module behind seat", "GPS unit behind dashboard"),
}

# --------------------------------------------------------------------------
# Building the tables
# --------------------------------------------------------------------------

_FAMILIES: list[_Family] = []  # every family, for the tests' overlap check


def _family(family: _Family) -> _Family:
    _FAMILIES.append(family)
    return family


def _plain_families(id_type: str, specs: Sequence[tuple[str, int, str]]) -> tuple[_Family, ...]:
    return tuple(_family(_Family(id_type, head, digits, layout)) for head, digits, layout in specs)


def _pin_prefixes(maker: str, model_code: str) -> tuple[str, ...]:
    """Production prefixes of a model (derived, so the table above stays short).

    No two prefixes of one model fold to the same skeleton (O/0, S/5, ...).
    """
    r = random.Random(zlib.crc32(f"{maker}{model_code}".encode()))
    prefixes: list[str] = []
    skeletons: set[str] = set()
    while len(prefixes) < PIN_PREFIXES_PER_MODEL:
        prefix = "".join(r.choice(PIN_ALPHABET) for _ in range(3))
        folded = skeleton(prefix)
        if folded not in skeletons:
            prefixes.append(prefix)
            skeletons.add(folded)
    return tuple(prefixes)


@dataclass(frozen=True)
class _Item:
    """A kind of machine the registry holds, with the families its identifiers come from."""

    category: str
    manufacturer: str
    model: str
    noun: str
    id_type: str  # main identifier: pin | vin | serial
    families: tuple[_Family, ...]
    engines: tuple[_Family, ...]
    telematics: tuple[_Family, ...]
    components: tuple[tuple[_Family, str], ...]
    price_usd: int
    years: tuple[int, int]
    weight: float
    markets: str  # eurasia | overseas | both
    colors: tuple[str, ...]
    locations: tuple[str, ...]


def _build_items() -> tuple[_Item, ...]:
    engines = {name: _plain_families("engine", specs) for name, specs in ENGINE_NUMBERING.items()}
    telematics = {name: _plain_families("telematics", specs) for name, specs in TELEMATICS_NUMBERING.items()}
    telematics["gps_imei"] = tuple(_family(_LuhnFamily("telematics", head, 12)) for head in GPS_IMEI_HEADS)
    components = {name: (_family(_Family("component", head, digits, layout)), where)
                  for name, (head, digits, layout, where) in COMPONENT_NUMBERING.items()}
    by_category = {
        "excavator": (components["kawasaki_pump"],),
        "loader": (components["zf"],), "grader": (components["zf"],),
        "haul_truck": (components["allison"],), "dozer": (components["zf"],),
    }
    items = []
    for category, maker, model, code, noun, price, years, weight, engine in PIN_MODELS:
        manufacturer, telematics_name = PIN_MAKERS[maker]
        pin_families = []
        for prefix in _pin_prefixes(maker, code):
            head = maker + code
            check = PIN_ALPHABET[zlib.crc32((head + prefix).encode()) % len(PIN_ALPHABET)]
            pin_families.append(_family(_Family("pin", head + check + prefix, PIN_SERIAL_DIGITS)))
        items.append(_Item(
            category, manufacturer, model, noun, "pin", tuple(pin_families), engines[engine],
            telematics[telematics_name], by_category.get(category, ()), price, years, weight,
            "eurasia" if maker in CHINESE_PIN_MAKERS else "both", MAKER_COLORS.get(manufacturer, GENERIC_COLORS),
            LOCATIONS.get(f"pin:{category}", LOCATIONS["pin:excavator"]),
        ))
    for manufacturer, model, head, plants, noun, price, years, weight, markets, engine in VIN_MODELS:
        families = tuple(_family(_VinFamily(head, plant)) for plant in plants)
        items.append(_Item(
            "truck", manufacturer, model, noun, "vin", families, engines[engine], telematics["gps_imei"], (),
            price, years, weight, markets, TRUCK_COLORS, LOCATIONS["vin"],
        ))
    for (category, manufacturer, model, noun, heads, digits, layout, price, years, weight, markets,
         engine) in SERIAL_MODELS:
        families = tuple(_family(_Family("serial", head, digits, layout)) for head in heads)
        items.append(_Item(
            category, manufacturer, model, noun, "serial", families, engines[engine] if engine else (), (), (),
            price, years, weight, markets, MAKER_COLORS.get(manufacturer, GENERIC_COLORS),
            LOCATIONS.get(f"serial:{category}", LOCATIONS["serial"]),
        ))
    for family in _FAMILIES:
        if family.id_type in ("pin", "vin") and not set(family.head) <= set(PIN_ALPHABET):
            raise AssertionError(f"{family.head} has a character no PIN or VIN may hold")
    keys = [f.key for f in _FAMILIES]
    if len(set(keys)) != len(keys):
        raise AssertionError("two identifier families share a key")
    return tuple(items)


ITEMS: tuple[_Item, ...] = _build_items()


T = TypeVar("T")


class _Weighted(Generic[T]):
    """Fast weighted choice: one ``random()`` and a bisect."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, random_: Callable[[], float]) -> T:
        return self.items[bisect(self.cum, random_() * self.total)]


def _market_tables() -> dict[tuple[str, str], _Weighted[_Item]]:
    tables = {}
    for market in ("eurasia", "overseas"):
        for kind in ID_KIND_WEIGHTS:
            pairs = [(item, item.weight) for item in ITEMS
                     if item.id_type == kind and item.markets in (market, "both")]
            tables[(market, kind)] = _Weighted(pairs)
    return tables


_ITEM_TABLES = _market_tables()
_COUNTRIES = _Weighted(list(COUNTRY_WEIGHTS.items()))
_AGENCIES = {c: _Weighted([(a, a.weight) for a in AGENCIES if a.country == c]) for c in COUNTRY_WEIGHTS}
_STATUSES = _Weighted(list(STATUS_WEIGHTS.items()))
_MARKET_OF = {**dict.fromkeys(EURASIA, "eurasia"), **dict.fromkeys(OVERSEAS, "overseas")}
_OMIT_MODEL, _OMIT_COLOR, _OMIT_MARKS, _OMIT_VALUE = (
    OMIT_RATES[k] for k in ("model", "color", "distinguishing_marks", "value"))
_KINDS = _Weighted(list(ID_KIND_WEIGHTS.items()))
_REGION_LISTS = {c: tuple(regions.items()) for c, regions in REGIONS.items()}
# Every possible incident day as (ISO date, year, month), and where each year starts.
_DAYS = [
    (day.isoformat(), day.year, day.month)
    for day in map(dt.date.fromordinal, range(FIRST_INCIDENT_DATE.toordinal(), LAST_INCIDENT_DATE.toordinal() + 1))
]
_FIRST_DAY_OF_YEAR = {year: next(i for i, d in enumerate(_DAYS) if d[1] == year)
                      for year in range(FIRST_INCIDENT_DATE.year, LAST_INCIDENT_DATE.year + 1)}

# --------------------------------------------------------------------------
# Drawing serial numbers
# --------------------------------------------------------------------------


class _SerialSource:
    """Hands out each family's serial numbers for one seed, never the same one twice.

    The i-th draw from a family takes index ``base + (offset + step * i) % size``
    of the family's fixed shuffle, where ``step`` is coprime to ``size``: a
    seed-dependent walk over the family's registered (or unregistered) half.
    """

    def __init__(self, seed: int, stream: str) -> None:
        self._seed = seed
        self._stream = stream
        self._state: dict[str, list[int]] = {}

    def _start(self, family: _Family) -> list[int]:
        r = random.Random(f"{self._stream}:{self._seed}:{family.key}")
        if self._stream == "registered":
            base, size = 0, family.registered
        else:
            base, size = family.registered, family.capacity - family.registered
        step = r.randrange(size // 3, size) or 1
        while math.gcd(step, size) != 1:
            step += 1
        state = [0, base, r.randrange(size), step, size]
        self._state[family.key] = state
        return state

    def draw(self, family: _Family) -> int | None:
        """The next serial number, or None when the family's half is used up."""
        state = self._state.get(family.key) or self._start(family)
        i, base, offset, step, size = state
        while i < size:
            number = family.number(base + (offset + step * i) % size)
            i += 1
            if not family.reserved or number not in family.reserved:
                state[0] = i
                return number
        state[0] = i
        return None

    def value(self, families: tuple[_Family, ...], year: int, random_) -> tuple[_Family, str]:
        """A fresh value from one of ``families`` (picked at random; the next one if used up)."""
        count = len(families)
        first = int(random_() * count)
        for j in range(count):
            family = families[(first + j) % count]
            number = self.draw(family)
            if number is not None:
                return family, family.value(number, year)
        raise RuntimeError(f"sample identifiers exhausted for {families[0].key}: generate fewer reports")


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def _registered_form(family: _Family, value: str, cyrillic: bool, random_) -> str:
    """How an agency typed the value: the maker's separators, sometimes lower case or spaces."""
    if family.layout is not None and random_() < FORMATTING_RATES["layout"]:
        value = "".join(value[a:b] + sep for a, b, sep in family.layout)
    if cyrillic:
        value = value.translate(TO_CYRILLIC)
    r = random_()
    if r < FORMATTING_RATES["lower"]:
        value = value.lower()
    elif r < FORMATTING_RATES["lower"] + FORMATTING_RATES["spaces"] and len(value) > 6:
        cut = 3 + int(random_() * (len(value) - 5))
        value = f"{value[:cut]} {value[cut:]}"
    return value


def _round_amount(amount: float) -> int:
    """Agencies report round figures: three significant digits."""
    scale = 10 ** max(0, int(math.log10(amount)) - 2)
    return int(round(amount / scale) * scale)


def _chilean_dv(number: str) -> str:
    total, factor = 0, 2
    for ch in reversed(number):
        total += int(ch) * factor
        factor = 2 if factor == 7 else factor + 1
    dv = 11 - total % 11
    return "0" if dv == 11 else "K" if dv == 10 else str(dv)


class _Generator:
    """The state of one ``generate_reports`` run."""

    def __init__(self, seed: int, stream: str = "registered") -> None:
        self.rng = random.Random(seed)
        # Languages come from a stream of their own: every other field is what it was before them.
        self.language_rng = random.Random(f"language:{seed}")
        self.serials = _SerialSource(seed, stream)
        self._case_numbers: dict[tuple[str, int], int] = {}
        self.last_facts: DescriptionFacts | None = None  # of the last report, for labelled sets
        self.last_language = "en"

    # The main identifier and the others on the same machine.
    def machine(self, market: str) -> tuple[_Item, int, list[tuple[_Family, str, str]]]:
        random_ = self.rng.random
        kind = _KINDS.pick(random_)
        item: _Item = _ITEM_TABLES[(market, kind)].pick(random_)
        first, last = item.years
        year = last - int((last - first + 1) * random_() ** 1.6)  # newer machines are stolen more
        if year < first:
            year = first
        family, value = self.serials.value(item.families, year, random_)
        ids = [(family, value, item.locations[int(random_() * len(item.locations))])]
        if item.engines and item.category not in SERIAL_ONLY_CATEGORIES and random_() < ENGINE_RATES[kind]:
            family, value = self.serials.value(item.engines, year, random_)
            ids.append((family, value, LOCATIONS["engine"][int(random_() * 4)]))
        r = random_()
        if item.telematics and r < TELEMATICS_RATE:
            family, value = self.serials.value(item.telematics, year, random_)
            ids.append((family, value, LOCATIONS["telematics"][int(random_() * 3)]))
        elif item.components and r < TELEMATICS_RATE + COMPONENT_RATE:
            family, where = item.components[0]
            family, value = self.serials.value((family,), year, random_)
            ids.append((family, value, where))
        return item, year, ids

    def report(self) -> dict:
        random_ = self.rng.random
        country = _COUNTRIES.pick(random_)
        agency: Agency = _AGENCIES[country].pick(random_)
        market = _MARKET_OF[country]
        item, year, ids = self.machine(market)

        cyrillic = market == "eurasia" and random_() < CYRILLIC_ENTRY_RATE
        identifiers = [
            {"type": family.id_type, "value": _registered_form(family, value, cyrillic, random_), "location": where}
            for family, value, where in ids
        ]

        status = _STATUSES.pick(random_)
        first = _FIRST_DAY_OF_YEAR.get(year, 0)  # stolen no earlier than built
        iso_date, incident_year, month = _DAYS[first + int(random_() * (len(_DAYS) - first))]
        age = incident_year - year

        if agency.region is None:
            region, towns = _REGION_LISTS[country][int(random_() * len(_REGION_LISTS[country]))]
        else:
            region, towns = agency.region, REGIONS[country][agency.region]
        town = towns[int(random_() * len(towns))]
        site = SITES[int(random_() * len(SITES))]

        colors = item.colors
        color = colors[int(random_() * len(colors))] if random_() > 0.06 else GENERIC_COLORS[int(random_() * 8)]
        has_color = random_() >= _OMIT_COLOR
        has_model = random_() >= _OMIT_MODEL

        report: dict = {
            "external_ref": self._external_ref(agency, incident_year, month),
            "status": status,
            "category": item.category,
            "manufacturer": item.manufacturer,
        }
        if has_model:
            report["model"] = item.model
        report["year"] = year
        if has_color:
            report["color"] = color
        report["identifiers"] = identifiers
        facts = self._description_facts(item, age, color if has_color else None, has_model)
        if random_() >= _OMIT_MARKS:
            facts = dataclasses.replace(facts, marks=self._mark_facts(market))
        language = self._language(str(country))
        cyrillic_maker = language != "en" and self.language_rng.random() < CYRILLIC_MAKER_RATE
        report["description"] = text.description(facts, language, cyrillic_maker)
        written_marks = text.marks(facts, language)
        if written_marks:
            report["distinguishing_marks"] = written_marks
        self.last_facts, self.last_language = facts, language
        circumstances = CIRCUMSTANCES[status]
        report["incident"] = {
            "date": iso_date,
            "country": country,
            "region": region,
            "place": f"{site} near {town}",
            "circumstances": circumstances[int(random_() * len(circumstances))].format(
                site=site, weeks=2 + int(random_() * 20)),
        }
        if random_() >= _OMIT_VALUE:
            currency, per_usd = CURRENCIES[country]
            usd = item.price_usd * 0.9**age * (0.75 + 0.4 * random_())
            report["value"] = {"amount": _round_amount(usd * per_usd), "currency": currency}
        report["reporting_agency"] = {"name": agency.name, "country": agency.country, "contact": agency.contact}
        return report

    def _external_ref(self, agency: Agency, year: int, month: int) -> str:
        """The agency's next case number that year: running, with gaps for its other cases."""
        key = (agency.name, year)
        n = self._case_numbers.get(key)
        n = 100 + int(self.rng.random() * 2000) if n is None else n + 1 + int(self.rng.random() * 25)
        self._case_numbers[key] = n
        yy = f"{year % 100:02d}"
        dv = _chilean_dv(f"{yy}{n:08d}") if "{dv}" in agency.ref_format else ""
        return agency.ref_format.format(year=year, yy=yy, mm=f"{month:02d}", n=n, dv=dv)

    def _description_facts(self, item: _Item, age: int, color: str | None, has_model: bool) -> DescriptionFacts:
        random_ = self.rng.random
        equipment = EQUIPMENT.get(item.noun) or EQUIPMENT[item.category]
        first = equipment[int(random_() * len(equipment))]
        second = equipment[int(random_() * len(equipment))]
        condition = CONDITIONS[int(random_() * len(CONDITIONS))]
        km = hours = None
        if item.category == "truck":
            km = (age + 1) * (40_000 + int(random_() * 50_000))
        elif item.category not in UNPOWERED and random_() < 0.6:
            hours = 300 + (age + 1) * (800 + int(random_() * 2200))
        return DescriptionFacts(color, item.manufacturer, item.model if has_model else None, item.noun,
                                item.category, (first,) if first == second else (first, second), condition,
                                km, hours, ())

    def _mark_facts(self, market: str) -> tuple[MarkFacts, ...]:
        random_ = self.rng.random
        companies = COMPANIES[market]
        marks: list[MarkFacts] = []
        for _ in range(1 + (random_() < 0.35)):
            template = int(random_() * len(MARKS))
            fleet = f"{FLEET_PREFIXES[int(random_() * len(FLEET_PREFIXES))]}-{1 + int(random_() * 120):02d}"
            company = companies[int(random_() * len(companies))]
            other_color = GENERIC_COLORS[int(random_() * 8)]
            english = MARKS[template].format(fleet=fleet, company=company, other_color=other_color)
            if english not in [m.english for m in marks]:
                marks.append(MarkFacts(template, english, fleet, company, other_color))
        return tuple(marks)

    def _language(self, country: str) -> str:
        weights = DESCRIPTION_LANGUAGES.get(country)
        if not weights:
            return "en"
        r, total = self.language_rng.random(), 0.0
        for language, share in weights.items():
            total += share
            if r < total:
                return language
        return "en"


def generate_reports(count: int, seed: int = 0) -> Iterator[dict]:
    """``count`` reports in API input format; the first n of a run do not depend on ``count``.

    External refs are unique per agency and identifier values unique across the
    registry (after removing case and separators and folding Cyrillic back).
    Streams in constant memory at about 50,000 reports/s on one core.  Raises
    RuntimeError if a family's serial numbers run out (not before several million).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    generator = _Generator(seed)
    for _ in range(count):
        yield generator.report()


def unregistered_serials(count: int, seed: int = 0) -> list[str]:
    """Plausible identifiers (PINs, VINs, serials, engine numbers...) that no registry holds.

    They come from the same families and in about the same mix as registered
    identifiers, but from the half of each family's serial numbers that
    ``generate_reports`` never draws, whatever its seed or count, so any match
    against them is a false match.  Values are canonical (upper case, Latin, no
    separators) and unique; the seed picks which ones.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    generator = _Generator(seed, stream="unregistered")
    markets = ("eurasia",) * 8 + ("overseas",) * 2
    values: list[str] = []
    while len(values) < count:
        market = markets[int(generator.rng.random() * len(markets))]
        _, _, ids = generator.machine(market)
        values.append(ids[int(generator.rng.random() * len(ids))][1])
    return values


# --------------------------------------------------------------------------
# The Tulkubas case
# --------------------------------------------------------------------------

TULKUBAS_CASE_REF = "KZ-TRK-2026-008741"
TULKUBAS_SEIZED = dt.date(2025, 11, 14)
TULKUBAS_DISCOVERED = dt.date(2026, 11, 16)
TULKUBAS_STORY = (
    "On 14 November 2025 police stopped a SHACMAN X3000 tractor unit with a low-bed semi-trailer near "
    "Turar Ryskulov village carrying an Epiroc FlexiROC T45 drill rig without transport documents; the driver "
    "led officers to a loading site nearby where an excavator, a wheel loader, a hydraulic breaker and a "
    "generator were waiting to be moved. The truck and all the equipment were seized and placed in the "
    "impound lot (shtrafstoyanka) of the Tulkubas district police. On 16 November 2026 an inventory found the "
    "truck and the equipment gone; the fence was intact and the gate log records no removal."
)


def _complete_vin(vin: str) -> str:
    """Put the right check digit in position 9 of a VIN typed with a placeholder there."""
    body = vin[:8] + "0" + vin[9:]
    check = vin_check_digit(body)
    if check is None:
        raise ValueError(f"{vin!r} is not a VIN")
    return vin[:8] + check + vin[9:]


def tulkubas_case() -> list[dict]:
    """The case that started IronTrace: ~400 million tenge of mining equipment gone from an impound lot.

    Six reports under one case number (``KZ-TRK-2026-008741/1`` ... ``/6``) from
    the Turkestan region police.  Their identifiers are never drawn by
    ``generate_reports`` or ``unregistered_serials``.
    """
    agency = {"name": TURKESTAN_POLICE.name, "country": "KZ", "contact": TURKESTAN_POLICE.contact}
    incident = {
        "date": TULKUBAS_DISCOVERED.isoformat(),
        "country": "KZ",
        "region": "Turkestan Region",
        "place": "Tulkubas district police impound lot, Turar Ryskulov village",
        "circumstances": TULKUBAS_STORY,
    }
    machines = [
        ("truck", "Shacman", "X3000 SX4250", 2022, "white",
         [("vin", _complete_vin("LZGCR2V4?NX008317"), "plate on driver's door pillar"),
          ("engine", "WP13-55012734", "stamped on engine block, left side")],
         "White SHACMAN X3000 6x4 tractor unit with a three-axle low-bed semi-trailer, in good condition. "
         "Seized on 14 November 2025 near Turar Ryskulov while carrying the Epiroc drill rig of the same case.",
         "Kazakh transit plates removed at seizure; trailer deck boards replaced with new pine planks.",
         48_000_000),
        ("excavator", "Komatsu", "PC300-8", 2017, "yellow",
         [("pin", "KMTPC300C55A17044", "plate on front of upper frame, right of boom foot"),
          ("engine", "SAA6D114E-3 26341817", "stamped on engine block, left side")],
         "Yellow Komatsu PC300-8 crawler excavator with hammer piping and a rock bucket, in working order. "
         "Seized at the loading site near Turar Ryskulov in November 2025 and held in the Tulkubas impound lot.",
         "Counterweight repainted; 'TK-07' painted on the boom; left track guard welded.",
         98_000_000),
        ("loader", "Caterpillar", "966H", 2012, "yellow",
         [("pin", "CAT0966HA6J012117", "plate on left side of front frame"),
          ("engine", "C11-EAH01873", "label on valve cover")],
         "Yellow Caterpillar 966H wheel loader with a general-purpose bucket, worn tires. "
         "Seized at the loading site near Turar Ryskulov in November 2025 and held in the Tulkubas impound lot.",
         "Cracked right rear fender; bucket teeth welded from non-original steel.",
         56_000_000),
        ("drill_rig", "Epiroc", "FlexiROC T45", 2020, "yellow",
         [("pin", "EPRFRT45V4LX00312", "plate on left side of carrier frame"),
          ("engine", "C13-BXT00488", "stamped on engine block, left side")],
         "Yellow Epiroc FlexiROC T45 surface drill rig with a dust collector and rod changer carousel. "
         "Was on the SHACMAN low-bed trailer when the truck was seized on 14 November 2025.",
         "Cab door lock broken; company sticker scraped off the boom.",
         160_000_000),
        ("attachment", "Epiroc", "HB 3100", 2019, "yellow and black",
         [("serial", "8460 1142 07", "plate on side of housing")],
         "Epiroc HB 3100 hydraulic breaker for 30-50 t carriers, with mounting bracket for the Komatsu PC300. "
         "Seized with the excavator in November 2025 and held in the Tulkubas impound lot.",
         "Mounting bracket repainted red.",
         17_500_000),
        ("generator", "FG Wilson", "P450-3", 2018, "blue",
         [("serial", "FGWPES12A0416", "plate on control panel")],
         "Blue FG Wilson P450-3 diesel generator set in a soundproof canopy on a two-axle trailer. "
         "Seized at the loading site near Turar Ryskulov in November 2025 and held in the Tulkubas impound lot.",
         "Canopy door dented; trailer has no plates.",
         20_500_000),
    ]
    reports = []
    for i, (category, manufacturer, model, year, color, ids, description, marks, amount) in enumerate(machines, 1):
        reports.append({
            "external_ref": f"{TULKUBAS_CASE_REF}/{i}",
            "status": "stolen",
            "category": category,
            "manufacturer": manufacturer,
            "model": model,
            "year": year,
            "color": color,
            "identifiers": [{"type": t, "value": v, "location": where} for t, v, where in ids],
            "description": description,
            "distinguishing_marks": marks,
            "incident": dict(incident),
            "value": {"amount": amount, "currency": "KZT"},
            "reporting_agency": dict(agency),
        })
    return reports


def _canonical(value: str) -> str:
    table = str.maketrans({cyr: lat for lat, cyr in CYRILLIC_LOOKALIKES.items()})
    return "".join(c for c in value.upper().translate(table) if c.isalnum())


def _reserve_case_identifiers() -> None:
    """Keep the Tulkubas identifiers out of every family's draws."""
    reserved: dict[_Family, set[int]] = {}
    for report in tulkubas_case():
        for identifier in report["identifiers"]:
            value = _canonical(identifier["value"])
            for family in _FAMILIES:
                number = family.serial_of(value)
                if number is not None:
                    reserved.setdefault(family, set()).add(number)
    for family, numbers in reserved.items():
        family.reserved = frozenset(numbers)


_reserve_case_identifiers()


def demo_reports(count: int = 500, seed: int = 2025) -> list[dict]:
    """The Tulkubas case followed by ``count`` generated reports: what ``irontrace demo`` loads."""
    return tulkubas_case() + list(generate_reports(count, seed))


# --------------------------------------------------------------------------
# Descriptions and the queries that paraphrase them (the labelled set)
# --------------------------------------------------------------------------

MIN_NAMED, MAX_NAMED = 2, 4  # attributes a paraphrase names
SUBSET_TRIES = 40  # random choices of attributes tried per target before another target is drawn


@dataclass(frozen=True)
class LabelledRegistry:
    """Generated reports with what each description says (its facts) and the language it is written in."""

    reports: list[dict]
    facts: list[DescriptionFacts]
    languages: list[str]


def described_reports(count: int, seed: int = 0) -> Iterator[tuple[dict, DescriptionFacts, str]]:
    """``generate_reports(count, seed)``, each report with its description facts and language."""
    generator = _Generator(seed)
    for _ in range(count):
        report = generator.report()
        assert generator.last_facts is not None
        yield report, generator.last_facts, generator.last_language


def labelled_registry(count: int, seed: int = 0) -> LabelledRegistry:
    """``generate_reports(count, seed)`` with each report's description facts and language."""
    reports, facts, languages = [], [], []
    for report, fact, language in described_reports(count, seed):
        reports.append(report)
        facts.append(fact)
        languages.append(language)
    return LabelledRegistry(reports, facts, languages)


def description_queries(registry: LabelledRegistry, count: int, rng: random.Random) -> list[dict]:
    """Queries that paraphrase active reports' descriptions, half in the description's language, half in another.

    Each names 2-4 attributes of its report (colour, maker, model, kind of
    machine, equipment, marks) that no other active report shares all of, so
    the report it came from is the one right answer.  Each is ``{"text",
    "language", "report_language", "same_language", "named", "external_ref",
    "agency"}``.
    """
    active = [i for i, r in enumerate(registry.reports) if r["status"] in ("stolen", "missing")]
    holders: dict[tuple, set[int]] = {}
    for i in active:
        for attribute in text.attributes(registry.facts[i]):
            holders.setdefault(attribute, set()).add(i)
    queries: list[dict] = []
    while len(queries) < count:
        same = len(queries) % 2 == 0
        target = rng.choice(active)
        named = _distinguishing(text.attributes(registry.facts[target]), holders, target, rng)
        if named is None:
            continue
        queries.append(paraphrase_query(registry.reports[target], registry.facts[target],
                                         registry.languages[target], named, same, rng))
    return queries


def paraphrase_query(report: dict, facts: DescriptionFacts, written_in: str, named: list[tuple], same: bool,
                     rng: random.Random) -> dict:
    """One query of ``description_queries``: ``named`` attributes of ``report``, in its language or another."""
    language = written_in if same else rng.choice([x for x in text.LANGUAGES if x != written_in])
    return {
        "text": text.paraphrase(named, facts, language, rng), "language": language,
        "report_language": written_in, "same_language": same, "named": [kind for kind, _ in named],
        "external_ref": report["external_ref"], "agency": report["reporting_agency"]["name"],
    }


def _distinguishing(attributes: list[tuple], holders: dict[tuple, set[int]], target: int,
                    rng: random.Random) -> list[tuple] | None:
    """2-4 of ``attributes`` that only ``target`` holds all of, in a random order; None if none found."""
    for _ in range(SUBSET_TRIES):
        size = rng.randint(MIN_NAMED, min(MAX_NAMED, len(attributes)))
        chosen = rng.sample(attributes, size)
        if set.intersection(*(holders[a] for a in chosen)) == {target}:
            return chosen
    return None
