"""Seeded mutations of files: byte-level damage and attribute-level nonsense.

Byte mutations follow the classic fuzzing operators (bit flips, overwritten runs,
interesting integers written over length fields, truncation, insertion, deletion,
duplication; Miller et al., CACM 1990; AFL's deterministic stages). They can be
focused on a file's header, where the parser's decisions are made.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataelem import RawDataElement

#: Integers that break length and size fields (little-endian 16 and 32 bit).
INTERESTING_INTEGERS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)
INTERESTING_RUNS = (b"\x00", b"\xff", b"9", b"-", b"\\", b".", b" ", b"\xfe\xff\x00\xe0")


def _region(data: bytes, rng: np.random.Generator, header_bytes: int | None) -> int:
    end = len(data) if header_bytes is None else min(len(data), header_bytes)
    return int(rng.integers(0, max(end, 1)))


def mutate_bytes(
    data: bytes, rng: np.random.Generator, header_bytes: int | None = None, n_ops: int = 0
) -> bytes:
    """``data`` damaged by 1 to 4 operators (``n_ops`` fixes the count), offsets drawn
    from the first ``header_bytes`` when given."""
    out = bytearray(data)
    for _ in range(n_ops or int(rng.integers(1, 5))):
        if not out:
            break
        op = int(rng.integers(0, 8))
        at = _region(bytes(out), rng, header_bytes)
        if op == 0:  # bit flips
            for _ in range(int(rng.integers(1, 9))):
                position = min(at + int(rng.integers(0, 16)), len(out) - 1)
                out[position] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:  # overwritten run of random bytes
            n = int(rng.integers(1, 17))
            out[at : at + n] = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        elif op == 2:  # overwritten run of an interesting byte pattern
            run = INTERESTING_RUNS[int(rng.integers(0, len(INTERESTING_RUNS)))]
            n = int(rng.integers(1, 9))
            out[at : at + len(run) * n] = run * n
        elif op == 3:  # an interesting integer over a (length) field
            value = INTERESTING_INTEGERS[int(rng.integers(0, len(INTERESTING_INTEGERS)))]
            width = 2 if rng.random() < 0.5 else 4
            out[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        elif op == 4:  # truncation
            del out[max(at, 1) :]
        elif op == 5:  # inserted random bytes
            n = int(rng.integers(1, 33))
            out[at:at] = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        elif op == 6:  # deleted run
            del out[at : at + int(rng.integers(1, 65))]
        else:  # duplicated run
            n = int(rng.integers(1, 65))
            out[at:at] = out[at : at + n]
    return bytes(out)


#: Values that an attribute may be set to: empty, absurd numbers, text, wrong multiplicity.
NONSENSE_VALUES = (
    "", "0", "-1", "65535", "4294967296", "1e308", "NaN", "inf", "-0", "1A", "abc",
    "1\\2\\3\\4\\5\\6\\7", "0\\0\\0\\0\\0\\0", "\\", "1.2.3", "2.25.0",
)  # fmt: skip

#: Header attacks on sizes: each must be refused before anything is allocated.
HUGE_HEADERS = (
    {"Rows": 65535, "Columns": 65535, "NumberOfFrames": "10000"},
    {"NumberOfFrames": "1000000"},
    {"Rows": 65535, "Columns": 65535},
    {"NumberOfFrames": "0"},
    {"BitsAllocated": 0},
    {"BitsAllocated": 12},
    {"SamplesPerPixel": 3},
)

_BINARY_NONSENSE = (0, 1, 65535, 32768)
_BINARY_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"}


def _elements(dataset, depth: int = 0) -> list:
    """(data set, element) pairs of every public attribute except pixel data, recursively."""
    found = []
    for tag in list(dataset.keys()):
        try:
            element = dataset[tag]
        except Exception:  # a value an earlier mutation made undecodable: leave it so
            continue
        if element.tag.is_private or element.tag == 0x7FE00010 or element.tag.group == 0x0002:
            continue
        found.append((dataset, element))
        if element.VR == "SQ" and depth < 3:
            for item in element.value:
                found += _elements(item, depth + 1)
    return found


def mutate_attributes(dataset, rng: np.random.Generator, n_ops: int = 0) -> None:
    """Set 1 to 3 attributes (anywhere, sequences included) to nonsense or delete them."""
    for _ in range(n_ops or int(rng.integers(1, 4))):
        pairs = _elements(dataset)
        if not pairs:
            return
        owner, element = pairs[int(rng.integers(0, len(pairs)))]
        roll = rng.random()
        if roll < 0.2:
            del owner[element.tag]
        elif element.VR == "SQ":
            element.value = [] if roll < 0.6 else list(element.value) * 3
        elif element.VR in _BINARY_VRS:
            element.value = _BINARY_NONSENSE[int(rng.integers(0, len(_BINARY_NONSENSE)))]
        elif element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            element.value = b"\x00" * int(rng.integers(0, 5))
        else:
            text = NONSENSE_VALUES[int(rng.integers(0, len(NONSENSE_VALUES)))]
            raw = text.encode("ascii") + b" " * (len(text) % 2)
            # stored undecoded, as a damaged file would hold it (pydicom would refuse to set it)
            owner[element.tag] = RawDataElement(
                element.tag, element.VR, len(raw), raw, 0, False, True
            )
