"""A real Orthanc (Debian ``orthanc``) on free localhost ports with a temporary configuration."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.service.server import free_port

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"


class Orthanc:
    """Orthanc with its storage and index in ``folder``; HTTP and DICOM on free ports."""

    def __init__(self, folder: Path, stable_age_s: int = 1) -> None:
        self.folder = folder
        self.http_port, self.dicom_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.aet = "ORTHANC"
        self.config = {
            "Name": "cardiolens-test",
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "StableAge": stable_age_s,
            "Plugins": [],
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> Orthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        config_path = self.folder / "orthanc.json"
        config_path.write_text(json.dumps(self.config, indent=1))
        log = open(self.folder / "orthanc.log", "ab")  # noqa: SIM115 (kept open for the process)
        self.process = subprocess.Popen([ORTHANC, str(config_path)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "orthanc.log").read_text()[-2000:])
            try:
                self.get("/system")
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Orthanc did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def raw(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return answer.read()

    def find(self, level: str, query: dict[str, str]) -> list[str]:
        request = urllib.request.Request(
            self.url + "/tools/find",
            data=json.dumps({"Level": level, "Query": query}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def c_store(self, paths: list[Path], calling_aet: str = "MODALITY") -> list[int]:
        """Send DICOM files with pynetdicom C-STORE; the status of each."""
        import pydicom
        from pynetdicom import AE

        datasets = [pydicom.dcmread(p) for p in paths]
        ae = AE(ae_title=calling_aet)
        for ds in datasets:
            ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        association = ae.associate("127.0.0.1", self.dicom_port, ae_title=self.aet)
        if not association.is_established:
            raise RuntimeError("Orthanc refused the association")
        try:
            return [int(association.send_c_store(ds).Status) for ds in datasets]
        finally:
            association.release()
