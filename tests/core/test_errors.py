import pytest

from cardiolens.core.errors import GeometryError, SchemaError, naming_file


def test_naming_file_adds_the_path_only_when_missing():
    with pytest.raises(SchemaError, match=r"^data.csv: unknown column 'agee'$"):
        with naming_file("data.csv"):
            raise SchemaError("unknown column 'agee'")
    with pytest.raises(GeometryError, match=r"^mask.nii: shape differs$"):
        with naming_file("data.csv"):
            raise GeometryError("shape differs", "mask.nii")
