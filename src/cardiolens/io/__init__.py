"""Reading and writing images: DICOM (CT, NM, PET), NIfTI, NRRD; de-identification."""

from cardiolens.io.loader import (
    load_studies,
    load_study,
    read_mask,
    read_volume,
    write_nifti,
)
from cardiolens.io.roles import RoleGuess, assign_roles, infer_role
from cardiolens.io.writers import write_ct_series, write_nm_multiframe

__all__ = [
    "RoleGuess",
    "assign_roles",
    "infer_role",
    "load_studies",
    "load_study",
    "read_mask",
    "read_volume",
    "write_ct_series",
    "write_nifti",
    "write_nm_multiframe",
]
