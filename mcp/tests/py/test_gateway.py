"""`warden mcp` driven by the official MCP Python SDK (PyPI `mcp`) in front of
the official npm servers @modelcontextprotocol/server-filesystem and
server-everything, and a small server of our own written with the same SDK
(changing_server.py). No mocks: every server here is real third-party or
SDK-built software, and every refusal is proven by the absence of the side
effect the server would have had.

Run by run_tests.sh (part of `make test`), which installs the SDK and the
servers once (no download at test time)."""

import asyncio
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

WARDEN = os.environ["WARDEN_BIN"]
NODE_DIR = Path(os.environ["MCP_NODE_DIR"])
FS_SERVER = NODE_DIR / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
EVERYTHING = NODE_DIR / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
HERE = Path(__file__).resolve().parent


def scratch(prefix: str) -> Path:
    """A fresh directory, removed when the tests end (pass or fail)."""
    d = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


class Run:
    """Keys, a spec, a plan and the token `warden issue` gives for them."""

    def __init__(self, spec: str, plan: str):
        self.dir = scratch("warden-mcp-")
        subprocess.run([WARDEN, "keygen", "--out", str(self.dir)], check=True, capture_output=True)
        # The gateway's own key pair signs its audit log (not the issuing key).
        subprocess.run([WARDEN, "keygen", "--out", str(self.dir / "gw")], check=True, capture_output=True)
        (self.dir / "t.spec").write_text(spec)
        (self.dir / "t.plan").write_text(plan)
        out = subprocess.run(
            [WARDEN, "issue", str(self.dir / "t.plan"), "--spec", str(self.dir / "t.spec"),
             "--key", str(self.dir / "warden.key")],
            capture_output=True, text=True)
        if out.returncode != 0:
            raise AssertionError(f"warden issue failed: {out.stdout}{out.stderr}")
        (self.dir / "run.tok").write_text(out.stdout.strip())
        self.db = self.dir / "gateway.db"

    def gateway_args(self, *server: str, extra=(), confined=False) -> list[str]:
        return ["mcp", "--token", str(self.dir / "run.tok"), "--pub", str(self.dir / "warden.pub"),
                "--db", str(self.db), "--audit-key", str(self.dir / "gw/warden.key"),
                *([] if confined else ["--unconfined"]), *extra, "--", *server]

    def audit(self) -> list[dict]:
        out = subprocess.run([WARDEN, "audit", "show", "--db", str(self.db), "--json"],
                             capture_output=True, text=True, check=True)
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@asynccontextmanager
async def gateway_session(run: Run, *server: str, env=None, extra=(), message_handler=None, confined=False):
    """An MCP client session with `warden mcp` in front of `server` (run
    under `warden exec` with the token when `confined`)."""
    params = StdioServerParameters(command=WARDEN, args=run.gateway_args(*server, extra=extra, confined=confined),
                                   env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, message_handler=message_handler) as session:
            await session.initialize()
            yield session


class GatewayCase(unittest.IsolatedAsyncioTestCase):
    """The async test cases (each opens its sessions with `async with`)."""


FS_SPEC = """spec "mcp-files" {{
  allow call list_allowed_directories
  allow call read_text_file when path under "{d}/in/"
  allow call write_file when path under "{d}/out/" and content from call read_text_file
  at most 2 call write_file
  require call read_text_file before call write_file
  never call read_text_file after call write_file
}}
"""

FS_PLAN = """plan "copy-a-note" {{
  agent "mcp-test"
  param p: path where p under "{d}/in/"
  call list_allowed_directories()
  let note = call read_text_file(path = p)
  repeat at most 2 {{ call write_file(path = "{d}/out/copy.txt", content = note) }}
}}
"""


class FilesystemTest(GatewayCase):
    """server-filesystem behind the gateway: arguments, order, counts,
    provenance, tools outside the plan."""

    def setUp(self):
        self.data = scratch("warden-mcp-data-")
        (self.data / "in").mkdir()
        (self.data / "out").mkdir()
        (self.data / "in/note.txt").write_text("pay the plumber")
        (self.data / "secret.txt").write_text("the vault code")
        self.run_ = Run(FS_SPEC.format(d=self.data), FS_PLAN.format(d=self.data))
        self.server = ("node", str(FS_SERVER), str(self.data))

    async def test_tools_list_is_filtered_to_the_plan(self):
        async with gateway_session(self.run_, *self.server) as s:
            shown = sorted(t.name for t in (await s.list_tools()).tools)
            self.assertEqual(shown, ["list_allowed_directories", "read_text_file", "write_file"])

    async def test_allowed_calls_return_the_servers_results_and_refusals_never_reach_it(self):
        async with gateway_session(self.run_, *self.server) as s:
            out = self.data / "out/copy.txt"
            r = await s.call_tool("list_allowed_directories", {})
            self.assertFalse(r.is_error, text_of(r))
            self.assertIn(str(self.data), text_of(r))

            # Wrong order: a write before any read is refused; nothing is written.
            r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})
            self.assertTrue(r.is_error)
            self.assertIn("may happen only after", text_of(r))
            self.assertIn("t.spec:", text_of(r))  # the rule's place in the spec
            self.assertFalse(out.exists())

            # Wrong argument: a read outside in/ is refused (the server would have answered it).
            r = await s.call_tool("read_text_file", {"path": str(self.data / "secret.txt")})
            self.assertTrue(r.is_error)
            self.assertNotIn("the vault code", text_of(r))

            # The allowed read returns the server's result.
            r = await s.call_tool("read_text_file", {"path": str(self.data / "in/note.txt")})
            self.assertFalse(r.is_error, text_of(r))
            self.assertEqual(text_of(r).strip(), "pay the plumber")

            # Provenance: content not from read_text_file's result is refused.
            r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber twice"})
            self.assertTrue(r.is_error)
            self.assertFalse(out.exists())
            # Wrong argument: another path is refused.
            other = self.data / "out/other.txt"
            r = await s.call_tool("write_file", {"path": str(other), "content": "pay the plumber"})
            self.assertTrue(r.is_error)
            self.assertFalse(other.exists())

            # The allowed write happens, with the value read.
            r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})
            self.assertFalse(r.is_error, text_of(r))
            self.assertEqual(out.read_text(), "pay the plumber")

            # `never read after write`: refused now.
            r = await s.call_tool("read_text_file", {"path": str(self.data / "in/note.txt")})
            self.assertTrue(r.is_error)
            self.assertIn("may not happen after", text_of(r))

            # The second write is allowed, the third is over the count.
            out.unlink()
            r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})
            self.assertFalse(r.is_error, text_of(r))
            out.unlink()
            r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})
            self.assertTrue(r.is_error)
            self.assertIn("would exceed the limit of 2", text_of(r))
            self.assertFalse(out.exists())

            # A tool outside the plan.
            made = self.data / "out/newdir"
            r = await s.call_tool("create_directory", {"path": str(made)})
            self.assertTrue(r.is_error)
            self.assertIn("outside the envelope", text_of(r))
            self.assertFalse(made.exists())

            # Every decision is in the hash-chained audit log, with the token id.
            records = [r for r in self.run_.audit() if r.get("kind") == "enforcement"]
            bodies = [r["body"] for r in records]
            self.assertTrue(all(b["layer"] == "mcp" and b["token_id"] for b in bodies))
            self.assertEqual(sum(b["kind"] == "allowed" for b in bodies), 4)
            self.assertEqual(sum(b["kind"] == "refused" for b in bodies), 7)
            verify = subprocess.run([WARDEN, "audit", "verify", "--db", str(self.run_.db),
                                     "--pub", str(self.run_.dir / "gw/warden.pub")],
                                    capture_output=True, text=True)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            self.assertIn("audit log intact", verify.stdout)

    async def test_resources_and_prompts_are_refused(self):
        async with gateway_session(self.run_, *self.server) as s:
            with self.assertRaises(Exception) as e:
                await s.read_resource(f"file://{self.data}/secret.txt")
            self.assertNotIn("the vault code", str(e.exception))


CONFINED_SPEC = """spec "mcp-confined" {{
  allow call read_text_file when path under "{d}/"
  allow exec "{node}"
  allow read under "{modules}/"
  allow read under "{d}/in/"
  allow read under "/proc/"
  allow read under "/sys/fs/cgroup/"
  allow read under "/etc/ssl/"
  allow read "/dev/null"
  baseline {{
    read under "/usr/lib/"
    read under "/lib/"
    read "/etc/ld.so.cache"
  }}
}}
"""

# The tool may read anything under the data directory (the gateway lets both
# reads through); the plan's own reads, which the kernel envelope of the
# server process is made of, reach only in/.
CONFINED_PLAN = """plan "read-notes" {{
  agent "mcp-test"
  param a: path where a under "{d}/in/"
  param b: path where b under "{d}/"
  exec "{node}" ["{server}", "{d}"]
  read "{modules}/**"
  read "{d}/in/**"
  read "/proc/**"
  read "/sys/fs/cgroup/**"
  read "/etc/ssl/**"
  read "/dev/null"
  call read_text_file(path = a)
  call read_text_file(path = b)
}}
"""


@unittest.skipUnless(os.geteuid() == 0, "needs root: the kernel layers of `warden exec` as the suite runs them")
class ConfinedServerTest(GatewayCase):
    """server-filesystem started by `warden mcp` through `warden exec` (no
    `--unconfined`): a read the gateway lets through but the token's kernel
    envelope does not grant is refused by the kernel, end to end."""

    async def test_a_permitted_tool_cannot_read_outside_the_envelope(self):
        data = scratch("warden-mcp-confined-")
        (data / "in").mkdir()
        (data / "in/note.txt").write_text("pay the plumber")
        (data / "secret.txt").write_text("the vault code")
        node = os.path.realpath(subprocess.run(["sh", "-c", "command -v node"], capture_output=True,
                                               text=True, check=True).stdout.strip())
        fmt = dict(d=data, node=node, server=FS_SERVER.resolve(), modules=(NODE_DIR / "node_modules").resolve())
        run = Run(CONFINED_SPEC.format(**fmt), CONFINED_PLAN.format(**fmt))
        async with gateway_session(run, node, str(FS_SERVER.resolve()), str(data), confined=True) as s:
            r = await s.call_tool("read_text_file", {"path": str(data / "in/note.txt")})
            self.assertFalse(r.is_error, text_of(r))
            self.assertIn("pay the plumber", text_of(r))
            # The gateway allows it (the spec and the plan let the tool read
            # anything under the data directory): the server tries, and the
            # kernel refuses the read.
            r = await s.call_tool("read_text_file", {"path": str(data / "secret.txt")})
            self.assertTrue(r.is_error, text_of(r))
            self.assertNotIn("the vault code", text_of(r))
            self.assertNotIn("refused by warden", text_of(r))
            self.assertRegex(text_of(r), "EACCES|EPERM|permission denied|not permitted")
        # Both calls were the gateway's allow: the refusal was the kernel's.
        bodies = [r["body"] for r in run.audit() if r.get("kind") == "enforcement"]
        self.assertEqual(sum(b["kind"] == "allowed" and b["layer"] == "mcp" for b in bodies), 2, bodies)


class RestartTest(unittest.TestCase):
    """kill -9 of the gateway mid-run: a restarted gateway keeps the counts."""

    def test_kill_9_and_restart_keeps_the_count(self):
        data = scratch("warden-mcp-data-")
        (data / "in").mkdir()
        (data / "out").mkdir()
        (data / "in/note.txt").write_text("pay the plumber")
        run = Run(FS_SPEC.format(d=data), FS_PLAN.format(d=data))
        out = data / "out/copy.txt"

        async def session(body):
            params = StdioServerParameters(command=WARDEN, args=run.gateway_args("node", str(FS_SERVER), str(data)))
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    return await body(s)

        async def first(s):
            await s.call_tool("read_text_file", {"path": str(data / "in/note.txt")})
            for _ in range(2):
                r = await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})
                assert not r.is_error, text_of(r)
            # kill -9 the gateway (our child) with the session still open.
            for pid in gateway_pids(run.db):
                os.kill(pid, signal.SIGKILL)

        try:
            asyncio.run(session(first))
        except BaseException:  # noqa: BLE001 - the transport breaks under the kill
            pass
        self.assertEqual(out.read_text(), "pay the plumber")
        out.unlink()

        async def second(s):
            return await s.call_tool("write_file", {"path": str(out), "content": "pay the plumber"})

        r = asyncio.run(session(second))
        self.assertTrue(r.is_error)
        self.assertIn("would exceed the limit of 2", text_of(r))
        self.assertFalse(out.exists())


SUBMITTER = "submitter-secret-for-tests-0001"
APPROVER = "approver-secret-for-tests-0001"


class ApprovalTest(GatewayCase):
    """`approve each`: a write waits for a human of a real `warden serve`,
    decided with `warden approve` / `warden deny`; server-filesystem performs
    it only once approved."""

    SPEC = """spec "approved-writes" {{
  allow call write_file when path under "{d}/out/"
  approve each call write_file when content startswith "pay"
}}
"""
    # Literal contents: a param would bind to its first value for the run.
    PLAN = """plan "notes" {{
  call write_file(path = "{d}/out/note.txt", content = "hello")
  call write_file(path = "{d}/out/note.txt", content = "pay the plumber")
  call write_file(path = "{d}/out/note.txt", content = "pay the attacker")
}}
"""

    def setUp(self):
        self.data = scratch("warden-mcp-data-")
        (self.data / "out").mkdir()
        self.run_ = Run(self.SPEC.format(d=self.data), self.PLAN.format(d=self.data))
        d = self.run_.dir
        (d / "specs").mkdir()
        (d / "keys").mkdir()
        # The service signs with the key that issued the token: it verifies it.
        os.link(d / "warden.key", d / "keys/warden.key")
        (d / "serve.toml").write_text(f"""
listen = "127.0.0.1:0"
db = "warden.db"
specs = "specs"
key = "keys/warden.key"
reload_poll_ms = 0

[[credentials]]
name = "gateway"
role = "submitter"
secret = "{SUBMITTER}"

[[credentials]]
name = "alice"
role = "approver"
secret = "{APPROVER}"
""")
        self.log = open(d / "serve.log", "w+")
        self.server = subprocess.Popen([WARDEN, "serve", "--config", str(d / "serve.toml")],
                                       stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.server.stdout.readline()
        if not line.startswith("listening on "):
            self.server.kill()
            self.log.seek(0)
            raise AssertionError("warden serve did not start: " + line + self.log.read())
        self.endpoint = "http://" + line.split()[-1]

    def tearDown(self):
        self.server.terminate()
        self.server.wait(timeout=10)
        self.log.close()

    def approval_waiting(self) -> str:
        """The id of the approval the gateway's call waits for (its audit log says)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = [r for r in self.run_.audit() if r.get("body", r).get("kind") == "waiting_for_approval"]
            if waiting:
                return waiting[-1].get("body", waiting[-1])["approval_id"]
            time.sleep(0.1)
        raise AssertionError("no call waits for an approval")

    def decide(self, verb: str, approval_id: str) -> str:
        out = subprocess.run([WARDEN, verb, approval_id, "--reason", "looked at it", "--endpoint", self.endpoint,
                              "--secret", APPROVER], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    async def test_a_write_waits_for_approve_and_deny_refuses(self):
        note = self.data / "out/note.txt"
        extra = ("--approvals", self.endpoint, "--secret", SUBMITTER, "--approval-timeout", "60s")
        async with gateway_session(self.run_, "node", str(FS_SERVER), str(self.data), extra=extra) as s:
            # Not matched by the rule: no human asked.
            r = await s.call_tool("write_file", {"path": str(note), "content": "hello"})
            self.assertFalse(r.is_error, text_of(r))
            note.unlink()

            call = asyncio.create_task(s.call_tool("write_file", {"path": str(note), "content": "pay the plumber"}))
            first = await asyncio.to_thread(self.approval_waiting)
            await asyncio.sleep(0.3)
            self.assertFalse(call.done())
            self.assertFalse(note.exists(), "nothing is written while the call waits")
            said = await asyncio.to_thread(self.decide, "approve", first)
            self.assertIn("call `call write_file(", said)
            r = await call
            self.assertFalse(r.is_error, text_of(r))
            self.assertEqual(note.read_text(), "pay the plumber")
            note.unlink()

            call = asyncio.create_task(s.call_tool("write_file", {"path": str(note), "content": "pay the attacker"}))
            deadline = time.monotonic() + 20
            second = first
            while second == first and time.monotonic() < deadline:
                second = await asyncio.to_thread(self.approval_waiting)
            self.assertNotEqual(second, first)
            await asyncio.to_thread(self.decide, "deny", second)
            r = await call
            self.assertTrue(r.is_error)
            self.assertIn("alice denied it", text_of(r))
            self.assertFalse(note.exists())

    async def test_without_a_service_it_needs_approval(self):
        note = self.data / "out/note.txt"
        async with gateway_session(self.run_, "node", str(FS_SERVER), str(self.data)) as s:
            r = await s.call_tool("write_file", {"path": str(note), "content": "pay the plumber"})
            self.assertTrue(r.is_error)
            self.assertIn("needs approval", text_of(r))
            self.assertFalse(note.exists())


def gateway_pids(db: Path) -> list[int]:
    """The `warden mcp` processes using this store."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].decode(errors="replace") == WARDEN and str(db).encode() in argv:
            pids.append(int(p.name))
    return pids


class EverythingTest(GatewayCase):
    """server-everything behind the gateway: the listing is filtered to the
    plan, echo returns the server's answer, a server's request to the agent
    (sampling) is refused."""

    SPEC = 'spec "everything" { allow call echo when message startswith "hi" }\n'
    PLAN = 'plan { param m: string where m startswith "hi"\n call echo(message = m) }\n'

    async def test_echo_allowed_and_others_hidden(self):
        run = Run(self.SPEC, self.PLAN)
        async with gateway_session(run, "node", str(EVERYTHING), "stdio") as s:
            self.assertEqual([t.name for t in (await s.list_tools()).tools], ["echo"])
            r = await s.call_tool("echo", {"message": "hi there"})
            self.assertFalse(r.is_error, text_of(r))
            self.assertIn("hi there", text_of(r))
            # A param takes one value per run.
            r = await s.call_tool("echo", {"message": "hi again"})
            self.assertTrue(r.is_error)
            self.assertIn("already has the value", text_of(r))

    async def test_direct_server_lists_more_than_the_gateway_shows(self):
        params = StdioServerParameters(command="node", args=[str(EVERYTHING), "stdio"])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as direct:
            await direct.initialize()
            names = {t.name for t in (await direct.list_tools()).tools}
            self.assertIn("echo", names)
            self.assertGreater(len(names), 3)


class PinTest(GatewayCase):
    """A server that changes a tool's description mid-run gets its calls refused."""

    SPEC = 'spec "pins" { allow call echo, mutate }\n'
    PLAN = 'plan { param t: string\n call echo(text = t)\n call mutate()\n call echo(text = t) }\n'

    async def test_changed_description_is_refused(self):
        run = Run(self.SPEC, self.PLAN)
        log = run.dir / "echo.log"
        env = {"ECHO_LOG": str(log)}
        async with gateway_session(run, sys.executable, str(HERE / "changing_server.py"), env=env) as s:
            r = await s.call_tool("echo", {"text": "one"})
            self.assertFalse(r.is_error, text_of(r))
            r = await s.call_tool("mutate", {})
            self.assertFalse(r.is_error, text_of(r))
            shown = [t.name for t in (await s.list_tools()).tools]
            self.assertEqual(shown, ["mutate"])
            r = await s.call_tool("echo", {"text": "one"})
            self.assertTrue(r.is_error)
            self.assertIn("changed the definition of tool `echo`", text_of(r))
            self.assertEqual(log.read_text(), "one\n")

    async def test_the_notification_re_pins_and_reaches_the_agent(self):
        """The server's tools/list_changed: the gateway re-reads and re-pins at
        once (no tools/list from the agent needed) and tells the agent."""
        run = Run(self.SPEC, self.PLAN)
        log = run.dir / "echo.log"
        told = asyncio.Event()

        async def on_message(message):
            if type(message).__name__ == "ToolListChangedNotification":
                told.set()

        async with gateway_session(run, sys.executable, str(HERE / "changing_server.py"),
                                   env={"ECHO_LOG": str(log)}, message_handler=on_message) as s:
            caps = s.get_server_capabilities() if hasattr(s, "get_server_capabilities") else None
            if caps is not None:
                self.assertTrue(caps.tools and caps.tools.list_changed)
            r = await s.call_tool("echo", {"text": "one"})
            self.assertFalse(r.is_error, text_of(r))
            r = await s.call_tool("mutate", {})
            self.assertFalse(r.is_error, text_of(r))
            await asyncio.wait_for(told.wait(), 20)
            # No tools/list in between: the pin changed on the notification.
            r = await s.call_tool("echo", {"text": "two"})
            self.assertTrue(r.is_error)
            self.assertIn("changed the definition of tool `echo`", text_of(r))
            self.assertEqual(log.read_text(), "one\n")
        changed = [r for r in run.audit() if r.get("body", r).get("kind") == "tool_changed"]
        self.assertEqual(len(changed), 1, changed)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(stream, needle: str, timeout: float = 30.0) -> str:
    """Read lines from a process's stderr until one contains `needle`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if needle in line:
            return line
    raise AssertionError(f"never saw {needle!r}")


class HttpTest(unittest.IsolatedAsyncioTestCase):
    """Streamable HTTP on both sides, two servers behind one gateway with
    namespaced tools: server-everything over HTTP (with a credential the
    agent never sees) and server-filesystem over stdio."""

    SPEC = """spec "two-servers" {{
  allow call ev.echo when message startswith "hi"
  allow call fs.list_allowed_directories
  allow call fs.read_text_file when path under "{d}/"
}}
"""
    PLAN = """plan {{
  call ev.echo(message = "hi over http")
  call fs.list_allowed_directories()
  call fs.read_text_file(path = "{d}/a.txt")
}}
"""

    async def test_two_upstreams_over_http(self):
        from mcp.client.streamable_http import streamable_http_client

        data = scratch("warden-mcp-data-")
        (data / "a.txt").write_text("alpha")
        (data / "b.txt").write_text("bravo")
        run = Run(self.SPEC.format(d=data), self.PLAN.format(d=data))
        port = free_port()
        upstream = subprocess.Popen(["node", str(EVERYTHING), "streamableHttp"], env={**os.environ, "PORT": str(port)},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(upstream.kill)
        wait_for_line(upstream.stderr, "listening on port")
        secret = "Bearer s3cret-upstream-credential"
        cfg = run.dir / "gateway.toml"
        cfg.write_text(f"""[[upstream]]
prefix = "ev"
url = "http://127.0.0.1:{port}/mcp"
headers = {{ Authorization = "{secret}" }}

[[upstream]]
prefix = "fs"
command = ["node", "{FS_SERVER}", "{data}"]
""")
        args = [WARDEN, "mcp", "--token", str(run.dir / "run.tok"), "--pub", str(run.dir / "warden.pub"),
                "--db", str(run.db), "--unconfined", "--config", str(cfg), "--listen", "127.0.0.1:0",
                "--metrics", "127.0.0.1:0"]
        gw = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        self.addCleanup(gw.kill)
        metrics_url = wait_for_line(gw.stderr, "metrics on").split()[-1]
        url = wait_for_line(gw.stderr, "listening on").split()[-1]
        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = await s.list_tools()
                self.assertEqual(sorted(t.name for t in tools.tools),
                                 ["ev.echo", "fs.list_allowed_directories", "fs.read_text_file"])
                r = await s.call_tool("ev.echo", {"message": "hi over http"})
                self.assertFalse(r.is_error, text_of(r))
                self.assertIn("hi over http", text_of(r))
                r = await s.call_tool("fs.read_text_file", {"path": str(data / "a.txt")})
                self.assertEqual(text_of(r).strip(), "alpha")
                r = await s.call_tool("fs.read_text_file", {"path": str(data / "b.txt")})
                self.assertTrue(r.is_error)
                self.assertNotIn("bravo", text_of(r))
                r = await s.call_tool("ev.get-env", {})
                self.assertTrue(r.is_error)
                everything_seen = json.dumps([t.model_dump() for t in tools.tools]) + text_of(r)
                self.assertNotIn("s3cret", everything_seen)
        # The metrics, read with Prometheus's own OpenMetrics parser: two
        # calls forwarded, two refused, each forwarded one timed.
        import urllib.request
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        with urllib.request.urlopen(metrics_url, timeout=10) as answer:
            self.assertIn("application/openmetrics-text", answer.headers["Content-Type"])
            exposition = answer.read().decode()
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(exposition) for s in f.samples}
        call = lambda outcome: (("outcome", outcome), ("request", "tools/call"))
        self.assertEqual(samples[("warden_mcp_requests_total", call("forwarded"))], 2, exposition)
        self.assertEqual(samples[("warden_mcp_requests_total", call("refused"))], 2, exposition)
        self.assertEqual(samples[("warden_mcp_upstream_seconds_count", ())], 2, exposition)
        self.assertEqual(samples[("warden_mcp_approvals_waiting", ())], 0, exposition)


class RawProtocolTest(unittest.TestCase):
    """Malformed and oversized messages: errors or nothing, and the gateway
    keeps serving. The client side here writes JSON-RPC by hand on purpose."""

    def test_malformed_and_oversized_then_still_serving(self):
        run = Run('spec "e" { allow call echo }\n', 'plan { call echo(message = "hi") }\n')
        p = subprocess.Popen([WARDEN, *run.gateway_args("node", str(EVERYTHING), "stdio",
                                                          extra=("--max-message", "65536"))],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            def send(obj):
                p.stdin.write((obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n")
                p.stdin.flush()

            def recv():
                return json.loads(p.stdout.readline())

            send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "raw", "version": "0"}}})
            self.assertIn("result", recv())
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            send({"jsonrpc": "2.0", "id": 2, "method": 42})            # malformed JSON-RPC
            err = recv()
            self.assertEqual(err["error"]["code"], -32600)
            send(b"{not json")                                           # unparsable: dropped
            send(b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'
                 + b"x" * 100_000 + b'"}}}')                              # oversized: dropped
            send({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                  "params": {"name": "echo", "arguments": {"message": "hi"}}})
            answer = recv()
            self.assertEqual(answer["id"], 4)
            self.assertIn("hi", json.dumps(answer["result"]))
        finally:
            p.kill()
            p.wait()


if __name__ == "__main__":
    unittest.main()
