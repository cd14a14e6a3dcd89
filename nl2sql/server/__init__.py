"""nl2sql embedded in other products: the HTTP API with its web page, and the MCP server.

Both are thin transports over one ``Service`` (``service.py``): keys mapped to tenants, limits
per key, conversations kept server-side, one model per tenant shared by every conversation.
"""
