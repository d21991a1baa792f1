"""A real `warden serve` for the Python tests (test_service.py and the
package's tests/): a service directory with keys, specs and three
credentials, started on a free port and stopped."""

import os
import signal
import subprocess

WARDEN = os.environ.get("WARDEN_BIN", "warden")

SUBMITTER = "submitter-secret-for-tests-0001"
APPROVER = "approver-secret-for-tests-0001"
ADMIN = "admin-secret-for-tests-000001"


def write_config(d):
    """A service configuration under directory d with the three test credentials."""
    path = os.path.join(d, "serve.toml")
    with open(path, "w") as f:
        f.write(f"""
listen = "127.0.0.1:0"
db = "warden.db"
specs = "specs"
key = "keys/warden.key"
max_plan_bytes = 4096
checkpoint_every = 10
reload_poll_ms = 0

[[credentials]]
name = "orchestrator"
role = "submitter"
secret = "{SUBMITTER}"

[[credentials]]
name = "alice"
role = "approver"
secret = "{APPROVER}"

[[credentials]]
name = "root"
role = "admin"
secret = "{ADMIN}"
""")
    return path


def start_server(d, log):
    """Starts `warden serve` on the configuration in d; returns (process, target)."""
    server = subprocess.Popen([WARDEN, "serve", "--config", os.path.join(d, "serve.toml")],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    line = server.stdout.readline()
    if not line.startswith("listening on "):
        server.kill()
        log.seek(0)
        raise RuntimeError("warden serve did not start: " + line + log.read())
    return server, line.split()[-1]


def stop_server(server, sig=signal.SIGTERM):
    """Stops a server started by start_server (SIGKILL: no graceful shutdown)."""
    server.send_signal(sig)
    server.wait(timeout=30)
    server.stdout.close()


def make_service_dir(d, specs):
    """Keys, a spec directory holding specs (name -> text) and the configuration, under d."""
    subprocess.run([WARDEN, "keygen", "--out", os.path.join(d, "keys")], check=True,
                   stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(d, "specs"))
    for name, text in specs.items():
        with open(os.path.join(d, "specs", name + ".spec"), "w") as f:
            f.write(text)
    write_config(d)
