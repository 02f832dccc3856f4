"""The tools a tools file configures: HTTP endpoints and MCP servers (docs/tools.md).

``load_toolbox(path)`` reads the file once at start and returns the :class:`..tools.Toolbox`
(the built-in tools included); a bad file raises :class:`ToolsFileError`.
"""

from .conditions import Approval, Condition, ConditionError, parse_condition
from .config import ToolsFile, ToolsFileError, load_toolbox, parse_tools_file
from .http import IDEMPOTENCY_KEY, HttpEndpoint, HttpTool, HttpToolSource, UrlTemplate
from .mcp import McpServer, McpTool, McpToolSource
from .spec import ToolSpec

__all__ = [
    "IDEMPOTENCY_KEY",
    "Approval",
    "Condition",
    "ConditionError",
    "HttpEndpoint",
    "HttpTool",
    "HttpToolSource",
    "McpServer",
    "McpTool",
    "McpToolSource",
    "ToolSpec",
    "ToolsFile",
    "ToolsFileError",
    "UrlTemplate",
    "load_toolbox",
    "parse_condition",
    "parse_tools_file",
]
