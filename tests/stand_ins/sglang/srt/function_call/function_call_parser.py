class FunctionCallParser:  # imported by lmms-eval's sglang wrapper; used only with MCP tools
    pass
