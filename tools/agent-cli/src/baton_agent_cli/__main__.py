"""``python -m baton_agent_cli``: the same as ``baton-agent``."""

from baton_agent_cli.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
