"""Damaged DICOM (NM multi-frame, CT file and series, PET), NIfTI, NRRD and masks.

Every mutant ends in a loaded study or one CardiolensError line naming the file;
never another exception, never past the time limit (see harness.py).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pydicom
import pytest

from cardiolens.io import load_studies, read_mask, read_volume
from tests.fuzz.conftest import count, rng_for
from tests.fuzz.harness import FuzzTally
from tests.fuzz.mutations import HUGE_HEADERS, mutate_attributes, mutate_bytes

#: Bytes of a DICOM file where the parser decides (preamble, meta, most attributes).
DICOM_HEADER_BYTES = 4096
NIFTI_HEADER_BYTES = 352  # 348-byte header + extension flag (NIfTI-1)


def _byte_mutants(seed, folder, test, n, header_bytes):
    """Write ``n`` byte mutants of ``seed`` (4 in 5 header-focused) and yield their paths."""
    data = seed.read_bytes()
    for i in range(n):
        rng = rng_for(test, i)
        focus = header_bytes if rng.random() < 0.8 else None
        path = folder / f"{test}_{i}{''.join(seed.suffixes)}"
        path.write_bytes(mutate_bytes(data, rng, header_bytes=focus))
        yield path


def _attribute_mutant(seed, target, rng) -> bool:
    """Write ``seed`` with nonsense attributes to ``target``; False when pydicom cannot
    encode that nonsense (then it is not an input)."""
    dataset = pydicom.dcmread(seed)
    mutate_attributes(dataset, rng)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset.save_as(target)
    except Exception:
        return False
    return True


def _attribute_mutants(seed, folder, test, n):
    """Write up to ``n`` mutants of ``seed`` whose attributes hold nonsense (valid encoding)."""
    for i in range(n):
        path = folder / f"{test}_{i}.dcm"
        if _attribute_mutant(seed, path, rng_for(test, i)):
            yield path


def test_nm_multiframe_byte_mutants(spect_seed, tmp_path):
    tally = FuzzTally()
    for path in _byte_mutants(spect_seed, tmp_path, "nm_bytes", count(150), DICOM_HEADER_BYTES):
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(count(150))


def test_nm_multiframe_attribute_mutants(spect_seed, tmp_path):
    tally = FuzzTally()
    for path in _attribute_mutants(spect_seed, tmp_path, "nm_attributes", count(70)):
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(count(60))


def test_ct_file_byte_mutants(ct_seeds, tmp_path):
    tally = FuzzTally()
    for path in _byte_mutants(ct_seeds[0], tmp_path, "ct_bytes", count(180), DICOM_HEADER_BYTES):
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(count(180))


def test_ct_file_attribute_mutants(ct_seeds, tmp_path):
    tally = FuzzTally()
    for path in _attribute_mutants(ct_seeds[0], tmp_path, "ct_attributes", count(80)):
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(count(70))


def test_ct_series_with_damaged_slices(ct_seeds, tmp_path):
    """A folder of three slices, one or two of them damaged: the series or a clean error."""
    tally = FuzzTally()
    for i in range(count(40)):
        rng = rng_for("ct_series", i)
        folder = tmp_path / f"series_{i}"
        folder.mkdir()
        for k, seed in enumerate(ct_seeds):
            target = folder / seed.name
            if k == 0 or rng.random() < 0.3:
                if not (rng.random() < 0.5 and _attribute_mutant(seed, target, rng)):
                    target.write_bytes(mutate_bytes(seed.read_bytes(), rng, DICOM_HEADER_BYTES))
            else:
                shutil.copy(seed, target)
        tally.check(lambda f=folder: load_studies(f), folder, folder.name)
    tally.assert_clean(count(40))


def test_pet_slice_mutants(pet_seeds, tmp_path):
    tally = FuzzTally()
    for i in range(count(50)):
        rng = rng_for("pet", i)
        folder = tmp_path / f"pet_{i}"
        shutil.copytree(pet_seeds[0].parent, folder)
        victim = folder / pet_seeds[int(rng.integers(0, len(pet_seeds)))].name
        if not _attribute_mutant(victim, victim, rng):
            victim.write_bytes(mutate_bytes(victim.read_bytes(), rng, 1024))
        tally.check(lambda f=folder: load_studies(f), folder, folder.name)
    tally.assert_clean(count(50))


@pytest.mark.parametrize(
    "huge", HUGE_HEADERS, ids=lambda h: "-".join(f"{k}{v}" for k, v in h.items())
)
def test_huge_or_impossible_sizes_refused_before_allocation(huge, spect_seed, ct_seeds, tmp_path):
    """65535 x 65535 x 10^4 voxels or 10^6 frames: a clean error, no allocation (peak < 64 MB)."""
    import tracemalloc

    tally = FuzzTally()
    for seed in (spect_seed, ct_seeds[0]):
        dataset = pydicom.dcmread(seed)
        for keyword, value in huge.items():
            setattr(dataset, keyword, value)
        path = tmp_path / f"huge_{seed.name}"
        dataset.save_as(path)
        tracemalloc.start()
        tally.check(lambda p=path: load_studies(p), path, path.name)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 64 * 2**20, f"{huge}: {peak / 2**20:.0f} MB allocated"
    assert tally.errors == 2, tally.findings
    tally.assert_clean(2)


def test_nifti_byte_mutants(nifti_seeds, tmp_path):
    tally = FuzzTally()
    n_plain, n_gz = count(120), count(30)
    mutants = [
        *_byte_mutants(nifti_seeds["image"], tmp_path, "nifti", n_plain, NIFTI_HEADER_BYTES),
        *_byte_mutants(nifti_seeds["image_gz"], tmp_path, "nifti_gz", n_gz, 64),
    ]
    for path in mutants:
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(n_plain + n_gz)


def test_nifti_huge_header_refused_before_allocation(nifti_seeds, tmp_path):
    """A NIfTI header declaring 65535 x 65535 x 10^4 voxels (dim[1..3]) is refused first."""
    import struct
    import tracemalloc

    data = bytearray(nifti_seeds["image"].read_bytes())
    data[40:56] = struct.pack("<8h", 3, -1, -1, 10000, 1, 1, 1, 1)  # dim[0..7], int16
    path = tmp_path / "huge.nii"
    path.write_bytes(bytes(data))
    tally = FuzzTally()
    tracemalloc.start()
    tally.check(lambda: load_studies(path), path, path.name)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tally.assert_clean(1)
    assert tally.errors == 1 and peak < 64 * 2**20


NRRD_FIELD_NONSENSE = {
    "sizes": ("65535 65535 10000", "0 70 50", "-1 70 50", "70 70", "a b c", "70 70 50 1 1 1 1"),
    "type": ("foo", "double", "block", ""),
    "dimension": ("0", "2", "17", "-3", "x"),
    "encoding": ("gzip", "bzip2", "hex", "ascii", "nope"),
    "space directions": ("(0,0,0) (0,4,0) (0,0,4)", "(nan,0,0) (0,4,0) (0,0,4)", "none none none"),
    "space origin": ("(nan,0,0)", "(1,2)", ""),
    "endian": ("big", "middle"),
    "space": ("unknown", "left-posterior-superior-time"),
}


def test_nrrd_header_and_byte_mutants(nifti_seeds, tmp_path):
    seed = nifti_seeds["nrrd"].read_bytes()
    header_end = seed.index(b"\n\n") + 2
    header = seed[:header_end].decode("ascii").splitlines()
    tally = FuzzTally()
    for i in range(count(70)):
        rng = rng_for("nrrd", i)
        if rng.random() < 0.6:
            lines = list(header)
            for _ in range(int(rng.integers(1, 3))):
                field = list(NRRD_FIELD_NONSENSE)[int(rng.integers(0, len(NRRD_FIELD_NONSENSE)))]
                choices = NRRD_FIELD_NONSENSE[field]
                value = choices[int(rng.integers(0, len(choices)))]
                lines = [ln for ln in lines if not ln.startswith(f"{field}:")]
                lines.insert(2, f"{field}: {value}")
            data = ("\n".join(lines) + "\n").encode() + seed[header_end:]
        else:
            data = mutate_bytes(seed, rng, header_bytes=header_end)
        path = tmp_path / f"nrrd_{i}.nrrd"
        path.write_bytes(data)
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(count(70))


def test_label_mask_mutants(nifti_seeds, tmp_path):
    reference = read_volume(nifti_seeds["image"])
    tally = FuzzTally()
    for path in _byte_mutants(nifti_seeds["mask"], tmp_path, "mask", count(60), NIFTI_HEADER_BYTES):
        tally.check(lambda p=path: read_mask(p, reference), path, path.name)
    tally.assert_clean(count(60))


def test_every_pydicom_test_file_reads_or_is_one_clean_error():
    """Foreign files: all of pydicom's test files (CT, MR, RT, SC, US; compressed, big endian,
    deflated, DICOMDIR, deliberately broken ones) through the loader."""
    from pydicom.data import get_testdata_files

    files = set()
    for entry in map(Path, get_testdata_files()):
        files |= {entry} if entry.is_file() else {p for p in entry.rglob("*") if p.is_file()}
    tally = FuzzTally()
    for path in sorted(files):
        tally.check(lambda p=path: load_studies(p), path, path.name)
    tally.assert_clean(150, mutated=False)
