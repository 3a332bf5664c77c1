"""Reading and writing images: DICOM (CT, NM, PET), NIfTI, NRRD; de-identification."""
