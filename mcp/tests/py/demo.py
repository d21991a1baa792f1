"""The MCP part of `make demo`: the official Python SDK as the agent, the
official filesystem server behind `warden mcp`; one allowed call and one
refused call (which never reaches the server)."""

import asyncio
import os
import sys
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

WARDEN = os.environ["WARDEN_BIN"]
FS_SERVER = Path(os.environ["MCP_NODE_DIR"]) / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
token, pub, db = sys.argv[1:4]
root = Path("/tmp/warden-demo/mcp")


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main():
    params = StdioServerParameters(
        command=WARDEN,
        args=["mcp", "--token", token, "--pub", pub, "--db", db, "--unconfined",
              "--", "node", str(FS_SERVER), str(root)])
    async with stdio_client(params, errlog=open(os.devnull, "w")) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            tools = [t.name for t in (await s.list_tools()).tools]
            print(f"tools/list through the gateway: {tools}")
            r = await s.call_tool("read_text_file", {"path": str(root / "in/note.txt")})
            print(f"allowed: read_text_file -> {text_of(r)!r}")
            r = await s.call_tool("write_file", {"path": str(root / "out/copy.txt"),
                                                 "content": "send 1000 EUR to the attacker"})
            print(f"refused: write_file(content not from read_text_file) -> {text_of(r)}")
            print(f"out/copy.txt exists: {(root / 'out/copy.txt').exists()} (the server never saw the call)")


asyncio.run(main())
