"""The container image (tools/container/Containerfile, tools/container/build.sh), built here with
buildah (vfs storage, chroot isolation) and run from inside with ``buildah run``: ``heatseeker
--help``, ``heatseeker-status upgrade check`` and the entrypoint's modes against a configuration
directory mounted at /etc/heatseeker, the API under gunicorn answering ``/healthcheck`` (200 with a
record and an index made here by heatseeker's own code; 503 once the record is gone), all as the
image's non-root user.

As root, not in the default run (conftest.py):  .venv/bin/python -m pytest -v tests/container
HEATSEEKER_IMAGE=TAG tests an image already in buildah's vfs storage instead of building one.

``buildah run`` runs a command in the image's filesystem, as its user, with its environment and
working directory, in this machine's network namespace (chroot isolation): the tests name the
entrypoint (/usr/local/bin/heatseeker-entrypoint) themselves, and test_image_config checks that
the image's ENTRYPOINT is that script.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.container, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BUILDAH = ["buildah", "--storage-driver", "vfs"]
TAG = "localhost/heatseeker:latest"
UID = 42490
ENTRYPOINT = "/usr/local/bin/heatseeker-entrypoint"
DATA_DIR = "/var/lib/heatseeker/from-mounted-conf"  # only the mounted configuration says so


def buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=600,
                          check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def image() -> str:
    assert os.geteuid() == 0, "buildah's chroot isolation needs root: run tests/container as root"
    given = os.environ.get("HEATSEEKER_IMAGE")
    if given:
        return given
    started = time.monotonic()
    proc = subprocess.run(["bash", "tools/container/build.sh", "--tag", TAG], cwd=ROOT,
                          capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    print(proc.stdout.strip())
    print(f"image built in {time.monotonic() - started:.0f}s")
    return TAG


@pytest.fixture(scope="module")
def container(image):
    name = buildah("from", "--quiet", image).stdout.strip()
    yield name
    buildah("rm", name, check=False)


def run(container: str, *cmd: str, mounts=(), timeout: float = 300) -> subprocess.CompletedProcess:
    """``cmd`` in a new process of the container, as the image's user; mounts: (host, inside, mode)."""
    args = [*BUILDAH, "run", "--isolation", "chroot"]
    for host, inside, mode in mounts:
        args += ["-v", f"{host}:{inside}:{mode}"]
    return subprocess.run([*args, container, "--", *cmd], capture_output=True, text=True,
                          timeout=timeout)


def config_dir(path: Path, transport_url: str, extra: str = "") -> tuple[Path, int]:
    """A configuration directory to mount at /etc/heatseeker: the record in DATA_DIR, Heat's
    Keystone and the broker on a closed port of this machine (refused at once); and that port."""
    closed = free_port()
    path.mkdir(parents=True)
    (path / "heatseeker.conf").write_text(
        f"[DEFAULT]\ndata_dir = {DATA_DIR}\ntransport_url = {transport_url.format(port=closed)}\n"
        f"[heat]\nauth_type = password\nauth_url = http://127.0.0.1:{closed}/v3\n"
        "username = heatseeker\npassword = secret\nproject_name = admin\n"
        "user_domain_name = Default\nproject_domain_name = Default\n" + extra)
    return path, closed


def test_image_config(image):
    info = json.loads(buildah("inspect", "--type", "image", image).stdout)
    config = info["OCIv1"]["config"]
    assert config["Entrypoint"] == [ENTRYPOINT]
    assert config["Cmd"] == ["api"]
    assert config["User"] == f"{UID}:{UID}"  # numeric: Kubernetes' runAsNonRoot can check it
    assert config["WorkingDir"] == "/var/lib/heatseeker"
    assert "9393/tcp" in config["ExposedPorts"]
    assert "HEATSEEKER_CONFIG_FILE=/etc/heatseeker/heatseeker.conf" in config["Env"]
    if not os.environ.get("HEATSEEKER_IMAGE"):
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        assert config["Labels"]["org.opencontainers.image.revision"].startswith(head)


def test_heatseeker_help(container):
    for cmd in (["heatseeker", "--help"], [ENTRYPOINT, "heatseeker", "--help"]):
        proc = run(container, *cmd)
        assert proc.returncode == 0, proc.stderr
        assert "Search inside OpenStack Heat stacks." in proc.stdout
        for command in ("sync", "listen", "search", "reindex", "status"):
            assert command in proc.stdout


def test_runs_as_the_non_root_user(container):
    proc = run(container, ENTRYPOINT, "sh", "-c", 'id -u; id -un; echo "$HOME"; '
               "touch /var/lib/heatseeker/w && echo data-writable; "
               "touch /opt/heatseeker/w 2>/dev/null || echo venv-read-only")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(UID), "heatseeker", "/var/lib/heatseeker", "data-writable",
                                   "venv-read-only"]


def test_upgrade_check_reads_the_mounted_configuration(container, tmp_path):
    etc, closed = config_dir(tmp_path / "etc", "rabbit://guest:guest@127.0.0.1:{port}/")
    mounts = [(etc, "/etc/heatseeker", "ro")]
    proc = run(container, ENTRYPOINT, "status", "--json", mounts=mounts)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # oslo.upgradecheck: 2 = a failure
    report = json.loads(proc.stdout)
    assert report["name"] == "heatseeker upgrade check"
    checks = {c["check"]: c for c in report["checks"]}
    assert list(checks) == ["store", "index", "heat", "keystone", "notifications"]
    assert checks["store"]["result"] == 2
    assert checks["store"]["details"].startswith(f"no record at {DATA_DIR}/state.sqlite")
    assert checks["heat"]["result"] == 2  # Keystone refused: the mounted [heat] auth_url
    assert f"http://127.0.0.1:{closed}/v3" in checks["heat"]["details"]
    assert checks["notifications"]["result"] == 2  # the broker refused, too

    table = run(container, "heatseeker-status", "upgrade", "check", mounts=mounts)  # the default
    assert table.returncode == 2, table.stderr  # file: /etc/heatseeker/heatseeker.conf, mounted
    assert "| heatseeker upgrade check" in table.stdout
    assert "| Check: store" in table.stdout and "| Result: Failure" in table.stdout
    assert "no record at /var/lib/heatseeker/from-" in table.stdout


def test_sync_mode(container, tmp_path):
    etc, closed = config_dir(tmp_path / "etc", "rabbit://guest:guest@127.0.0.1:{port}/")
    proc = run(container, ENTRYPOINT, "sync", mounts=[(etc, "/etc/heatseeker", "ro")])
    assert proc.returncode == 1, proc.stdout + proc.stderr  # heatseeker's "Heat unusable"
    assert proc.stderr.startswith("heatseeker: ")  # its one-line error, not a traceback
    assert f"http://127.0.0.1:{closed}/v3" in proc.stderr  # the mounted [heat] auth_url
    # it made its record where the mounted configuration says, as the image's user
    owner = run(container, "stat", "-c", "%u %s", f"{DATA_DIR}/state.sqlite")
    assert owner.returncode == 0, owner.stderr
    assert owner.stdout.split()[0] == str(UID)


def test_db_upgrade_mode_makes_the_record(container, tmp_path):
    record = "/var/lib/heatseeker/upgraded/state.sqlite"  # not the other tests' record
    etc, _ = config_dir(tmp_path / "etc", "fake:/",
                        extra=f"[database]\nconnection = sqlite:///{record}\n")
    mounts = [(etc, "/etc/heatseeker", "ro")]
    made = run(container, ENTRYPOINT, "db-upgrade", mounts=mounts)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "schema revision none → " in made.stdout, made.stdout  # made from nothing
    version = run(container, "heatseeker", "--config-file", "/etc/heatseeker/heatseeker.conf",
                  "db", "version", mounts=mounts)
    assert version.returncode == 0, version.stdout + version.stderr  # at this code's head
    owner = run(container, "stat", "-c", "%u", record)
    assert owner.stdout.split() == [str(UID)], owner.stdout + owner.stderr


def test_listener_mode_starts_and_stops_on_sigterm(container, tmp_path):
    etc, _ = config_dir(tmp_path / "etc", "fake:/")  # oslo.messaging's in-process transport
    proc = run(container, "python3", "/srv/probe/probe.py", "listener",
               mounts=[(etc, "/etc/heatseeker", "ro"), (HERE, "/srv/probe", "ro")])
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["listening"], seen["log"]
    assert seen["uid"] == UID
    assert seen["exit"] == 0, seen["log"]  # it stopped on SIGTERM, cleanly
    assert "listening on exchange heat, topics notifications, pool heatseeker" in seen["log"]


def test_api_healthcheck_under_gunicorn(container, tmp_path):
    from heatseeker.engines.conformance import CORPUS
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.record import Change, Store

    doc = CORPUS[0]
    data = tmp_path / "data"
    record = data / Path(DATA_DIR).name
    store = Store(str(record / "state.sqlite"))
    store.apply([Change(doc["id"], 1, doc)])
    store.close()
    engine = TantivyEngine(str(record / "index"), writer_memory_mb=32)
    engine.upsert([(doc, 1)])
    engine.commit()
    engine.close()
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(data)], check=True)
    etc, _ = config_dir(tmp_path / "etc", "fake:/", "[api]\nauth_strategy = trusted-headers\n")

    port = free_port()
    proc = run(container, "env", f"PROBE_DATA_DIR={DATA_DIR}", "python3", "/srv/probe/probe.py",
               "api", str(port), mounts=[(etc, "/etc/heatseeker", "ro"),
                                         (data, "/var/lib/heatseeker", "rw"),
                                         (HERE, "/srv/probe", "ro")])
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["healthy"] is not None, seen["log"]
    assert seen["healthy"][0] == 200, seen
    status, body = seen["search"]
    assert status == 200, body
    hits = json.loads(body)["hits"]
    assert hits["total"] == 1 and hits["hits"][0]["_id"] == doc["id"]
    assert seen["record_moved"][0] == 503, seen
    assert "no record at" in seen["record_moved"][1]
    assert len(seen["workers"]) == 2, seen["log"]  # HEATSEEKER_API_WORKERS=2
    assert seen["uids"] == [UID]  # gunicorn's master and both workers
    assert seen["exit"] == 0, seen["log"]  # gunicorn stopped on SIGTERM
    assert f"Listening at: http://127.0.0.1:{port}" in seen["log"]
    assert (data / Path(DATA_DIR).name / "moved.sqlite").exists()


def test_image_is_small_and_trusts_no_build_ca(container):
    proc = run(container, "sh", "-c",
               "echo compilers:; for c in gcc cc c++ make x86_64-linux-gnu-gcc; do command -v $c; done; "
               "echo lists:; ls -A /var/lib/apt/lists; "
               "echo local-cas:; ls -A /usr/local/share/ca-certificates; "
               "echo leftovers:; ls -d /root/.cache /src /run/secrets/cabundle 2>/dev/null; echo end")
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    sections = {}
    for word in words:
        if word.endswith(":"):
            current = sections.setdefault(word[:-1], [])
        elif word != "end":
            current.append(word)
    assert sections["compilers"] == []
    assert set(sections["lists"]) <= {"lock", "partial"}  # apt's own, no package lists
    assert sections["local-cas"] == []
    assert sections["leftovers"] == []  # no pip cache, no source tree, no build secret
    bundle = run(container, "cat", "/etc/ssl/certs/ca-certificates.crt")
    assert bundle.returncode == 0 and "BEGIN CERTIFICATE" in bundle.stdout
    flat = bundle.stdout.replace("\n", "")
    for crt in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        # this machine's own CAs (an egress proxy's) served the build only
        body = "".join(line for line in crt.read_text().splitlines() if "CERTIFICATE" not in line)
        assert body[:200] not in flat, crt
