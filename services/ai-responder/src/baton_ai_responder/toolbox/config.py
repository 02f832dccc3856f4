"""The tools file: which HTTP endpoints and MCP servers the model may use (docs/tools.md).

The file is read once at start; anything wrong in it stops the service with a message that
names the tool and the field. Secrets stay out of it: ``${NAME}`` in a header is taken from
the environment when the file loads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jsonschema import Draft202012Validator, SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..tools import ASK_HUMAN, ESCALATE, CurrentTime, Tool, Toolbox, ToolSource, default_toolbox
from .conditions import Approval, ConditionError
from .http import HttpEndpoint, HttpToolSource, UrlTemplate
from .mcp import McpServer, McpToolSource
from .spec import ToolSpec, departments

RESERVED = frozenset({ASK_HUMAN, ESCALATE, CurrentTime.name})
ToolName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")
_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class ToolsFileError(ValueError):
    """A tools file that cannot be used; the message names the file, the tool and the field."""


def _approval(value: Any) -> Approval:
    if isinstance(value, Approval):
        return value
    if not isinstance(value, str | bool):
        raise ValueError("approval is never, always or a condition such as 'amount > 50'")
    try:
        return Approval.parse(value)
    except ConditionError as exc:
        raise ValueError(f"the condition {value!r} does not parse: {exc}") from exc


def _headers(value: Mapping[str, str], info: ValidationInfo) -> dict[str, str]:
    environ: Mapping[str, str] = (info.context or {}).get("environ", {})

    def substitute(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        name = match.group(1)
        if name not in environ:
            raise ValueError(f"the environment has no {name} (used in a header)")
        return environ[name]

    headers = {name: _VARIABLE.sub(substitute, text) for name, text in value.items()}
    for name, text in headers.items():
        if name.casefold() == "idempotency-key":
            raise ValueError("Idempotency-Key is set by Baton on every call")
        if "\n" in text or "\r" in text:
            raise ValueError(f"the header {name} has a line break")
    return headers


Departments = Annotated[list[str] | None, Field(min_length=1)]
"""Only threads of these departments (any case) see the tools; left out: every thread."""
ApprovalRule = Annotated[Approval, PlainValidator(_approval)]
"""``never``, ``always`` or a condition, parsed when the file loads."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class HttpConfig(_Strict):
    """How an HTTP tool's call becomes a request."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(description="A template; placeholders only as path segments and query values.")
    query: list[str] = Field(
        default_factory=list, description="Arguments sent as query parameters."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    response_fields: list[str] | None = Field(
        default=None, description="Dotted paths picked from a JSON answer; omitted: all of it."
    )
    max_response_bytes: int = Field(default=16384, ge=1, le=4 * 1024 * 1024)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _template(cls, value: str) -> str:
        UrlTemplate.parse(value)
        return value

    @field_validator("headers")
    @classmethod
    def _environment(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return _headers(value, info)

    @field_validator("response_fields")
    @classmethod
    def _paths(cls, value: list[str] | None) -> list[str] | None:
        for path in value or ():
            if not path or any(not name for name in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted path such as delivery.date")
        return value


def _check_schema(value: dict[str, Any]) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ValueError(
            f"not a valid JSON Schema{f' at {where}' if where else ''}: {exc.message}"
        ) from None
    if value.get("type") != "object":
        raise ValueError('the arguments are an object: the schema needs "type": "object"')
    return value


class HttpToolConfig(_Strict):
    """One HTTP tool."""

    name: ToolName
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    parameters: dict[str, Any] = Field(default_factory=lambda: dict(_EMPTY_OBJECT))
    departments: Departments = None
    approval: ApprovalRule = Field(default_factory=Approval)
    http: HttpConfig

    @field_validator("name")
    @classmethod
    def _free(cls, value: str) -> str:
        if value in RESERVED:
            raise ValueError(f"{value} is a built-in tool's name")
        return value

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_schema(value)

    @model_validator(mode="after")
    def _arguments_exist(self) -> HttpToolConfig:
        properties = self.parameters.get("properties") or {}
        required = set(self.parameters.get("required") or ())
        for name in sorted(UrlTemplate.parse(self.http.url).names):
            if name not in properties or name not in required:
                raise ValueError(
                    f"http.url: the placeholder {{{name}}} must be a required parameter"
                )
        for name in self.http.query:
            if name not in properties:
                raise ValueError(f"http.query: {name} is not a parameter")
        condition = self.approval.condition
        for path in condition.paths if condition else ():
            if path.split(".")[0] not in properties:
                raise ValueError(f"approval: the condition reads {path}, which is not a parameter")
        return self

    def source_part(self) -> tuple[ToolSpec, HttpEndpoint]:
        http = self.http
        spec = ToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            approval=self.approval,
            departments=departments(self.departments),
        )
        endpoint = HttpEndpoint(
            method=http.method,
            url=UrlTemplate.parse(http.url),
            query=tuple(http.query),
            headers=http.headers,
            timeout_s=http.timeout_s,
            response_fields=tuple(http.response_fields) if http.response_fields else None,
            max_response_bytes=http.max_response_bytes,
        )
        return spec, endpoint


class McpConfig(_Strict):
    """One MCP server, reached over streamable HTTP."""

    name: ToolName
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    include: list[ToolName] | None = None
    departments: Departments = None
    approval: ApprovalRule = Field(default_factory=Approval)
    approvals: dict[str, ApprovalRule] = Field(default_factory=dict)
    max_response_bytes: int = Field(default=16384, ge=1, le=4 * 1024 * 1024)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/?#{}\s]+", value):
            raise ValueError("the url must start with http:// or https:// and a host")
        return value

    @field_validator("headers")
    @classmethod
    def _environment(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return _headers(value, info)

    @model_validator(mode="after")
    def _approvals_included(self) -> McpConfig:
        if self.include is not None:
            stray = sorted(set(self.approvals) - set(self.include))
            if stray:
                raise ValueError(f"approvals: {', '.join(stray)} not in include")
        return self

    def server(self) -> McpServer:
        return McpServer(
            name=self.name,
            url=self.url,
            headers=self.headers,
            timeout_s=self.timeout_s,
            include=frozenset(self.include) if self.include is not None else None,
            departments=departments(self.departments),
            approval=self.approval,
            approvals=self.approvals,
            max_response_bytes=self.max_response_bytes,
        )


class ToolsFile(_Strict):
    """The whole file."""

    tools: list[HttpToolConfig] = Field(default_factory=list)
    mcp: list[McpConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ToolsFile:
        for kind, names in (
            ("tool", [t.name for t in self.tools]),
            ("MCP server", [m.name for m in self.mcp]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names used twice: {', '.join(twice)}")
        return self

    def toolbox(self) -> Toolbox:
        names = {t.name for t in self.tools}
        sources: list[ToolSource] = []
        if self.tools:
            sources.append(HttpToolSource([t.source_part() for t in self.tools]))
        # A server's tool is left out when its name is taken: a file's tool or a built-in.
        sources.extend(McpToolSource(m.server(), reserved=RESERVED | names) for m in self.mcp)
        fixed: list[Tool] = [CurrentTime()]
        return Toolbox(fixed, sources)


def parse_tools_file(
    text: str,
    *,
    environ: Mapping[str, str] = os.environ,
    source: str = "the tools file",
    as_json: bool | None = None,
) -> ToolsFile:
    """The file's content, checked; ToolsFileError otherwise. JSON when ``as_json`` says so
    (None: when the text starts with ``{``), YAML otherwise."""
    if as_json is None:
        as_json = text.lstrip().startswith("{")
    try:
        data = json.loads(text) if as_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ToolsFileError(f"{source} is neither YAML nor JSON: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ToolsFileError(f"{source} must be a mapping with tools: and/or mcp:")
    try:
        return ToolsFile.model_validate(data, context={"environ": environ})
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(error, data)}" for error in exc.errors())
        raise ToolsFileError(f"{source} is invalid:\n{problems}") from None


def load_toolbox(path: Path | None, environ: Mapping[str, str] = os.environ) -> Toolbox:
    """The toolbox the tools file at ``path`` describes (None: only the built-in tools).

    Raises ToolsFileError when the file cannot be read or is invalid.
    """
    if path is None:
        return default_toolbox()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolsFileError(f"the tools file {path} cannot be read: {exc}") from exc
    as_json = True if path.suffix.lower() == ".json" else None
    return parse_tools_file(
        text, environ=environ, source=f"the tools file {path}", as_json=as_json
    ).toolbox()


def _describe(error: Any, data: Mapping[str, Any]) -> str:
    """``tool 'lookup_order', http.url: ...`` from pydantic's location."""
    location: Sequence[Any] = error["loc"]
    where: list[str] = []
    if len(location) >= 2 and location[0] in ("tools", "mcp") and isinstance(location[1], int):
        entries = data.get(location[0])
        entry = entries[location[1]] if isinstance(entries, list) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        kind = "tool" if location[0] == "tools" else "MCP server"
        where.append(f"{kind} {name!r}" if name else f"{kind} #{location[1] + 1}")
        location = location[2:]
    field_path = ".".join(str(part) for part in location)
    if field_path:
        where.append(field_path)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{', '.join(where)}: {message}" if where else message
