"""Tools from MCP servers: what a persona may call, the calls themselves, and approvals."""
