"""Run a reader on a damaged input: a result, or one CardiolensError line naming the file.

Anything else (another exception type, a message over several lines, an error that
does not name the input, a read that runs past its time limit) is a finding.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cardiolens.core.errors import CardiolensError

#: Wall-clock limit of one read (s); generous for a loaded 2-core CI machine.
READ_LIMIT_S = 20.0


class ReadTimeout(Exception):
    """A read ran past :data:`READ_LIMIT_S`."""


def _alarm(signum, frame):  # noqa: ARG001 (signal handler signature)
    raise ReadTimeout(f"read ran past {READ_LIMIT_S} s")


#: Outcomes over the whole session, printed in pytest's terminal summary.
SESSION = {"inputs": 0, "foreign": 0, "results": 0, "errors": 0, "findings": 0}


@dataclass
class FuzzTally:
    """Outcomes of a fuzz run: results, clean errors and findings (with their input)."""

    results: int = 0
    errors: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.results + self.errors + len(self.findings)

    def check(self, read: Callable[[], object], named: Path | str, label: str) -> None:
        """Run ``read()``; a CardiolensError must be one line naming ``named``."""
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, READ_LIMIT_S)
        try:
            read()
        except CardiolensError as error:
            message = str(error)
            if "\n" in message or str(named) not in message:
                self.findings.append(f"{label}: error does not name {named} on one line: {message}")
            else:
                self.errors += 1
        except Exception:
            self.findings.append(f"{label}: {traceback.format_exc(limit=-4)}")
        else:
            self.results += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def assert_clean(self, minimum: int, mutated: bool = True) -> None:
        """No findings and at least ``minimum`` inputs; ``mutated`` False for unaltered
        foreign files (counted apart in the session summary)."""
        for key, value in (("inputs" if mutated else "foreign", self.total),
                           ("results", self.results), ("errors", self.errors),
                           ("findings", len(self.findings))):  # fmt: skip
            SESSION[key] += value
        assert not self.findings, f"{len(self.findings)} finding(s):\n" + "\n".join(
            self.findings[:5]
        )
        assert self.total >= minimum, f"only {self.total} inputs ran (expected >= {minimum})"
