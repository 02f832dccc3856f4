"""What every configured tool has, however it runs: a schema, departments, an approval rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, exceptions

from .conditions import Approval

MAX_PROBLEM = 300


@dataclass(frozen=True)
class ToolSpec:
    """A configured tool's face to the model and to the turn (see :class:`..tools.Tool`)."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    approval: Approval = field(default_factory=Approval)
    departments: frozenset[str] | None = None
    """Case-folded; None: every thread, with a department or without."""
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked by the loader already; compiled once here for every call's arguments.
        object.__setattr__(self, "_validator", Draft202012Validator(dict(self.parameters)))

    @property
    def audited(self) -> bool:
        return True

    def available_to(self, department: str | None) -> bool:
        if self.departments is None:
            return True
        return department is not None and department.casefold() in self.departments

    def invalid(self, arguments: Mapping[str, Any]) -> str | None:
        error = exceptions.best_match(self._validator.iter_errors(dict(arguments)))
        if error is None:
            return None
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        return f"arguments{where}: {error.message}"[:MAX_PROBLEM]

    def approval_reason(self, arguments: Mapping[str, Any]) -> str | None:
        return self.approval.reason(arguments)


def departments(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(name.strip().casefold() for name in names)
