"""`hub serve`: every Airflow 3 component as a running service on the hub's stack.

The api-server (UI, REST API, the task execution API), scheduler, dag-processor and triggerer run as child
processes with the hub's Airflow environment (govhub.airflow_env) and LocalExecutor. Each is started in its own
process group (its workers and task processes die with it) and recorded in ``HUB_HOME/service.json``, so that
``hub down`` from another terminal stops exactly what ``hub serve`` started.

Log in with Airflow's simple auth manager: users come from ``[core] simple_auth_manager_users`` (Airflow's
default ``admin:admin`` = user admin, role admin); their passwords are generated here, once, into a 0600 file
under ``HUB_HOME/airflow`` (git-ignored) — the file name is printed, never a password. The JWT secret the
components share (tokens the scheduler signs for task processes are checked by the api-server) is generated
the same way: no secret lives in the repo.

Schedules are the source registry's (sources.yml). ``HUB_EXTRACT_EVERY_MINUTES`` (``hub serve --extract-every``)
compresses every extract's schedule to once every N minutes, staggered per feed — for a live demo beside
``hub simulate --live``; unset, the contract's schedules apply.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from govhub.settings import hub_home

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_PORT = 8080
HOST = "127.0.0.1"  # the UI and the execution API listen on loopback only: the embedded stack is one machine's
STOP_WAIT = 30.0  # seconds a component gets to finish after SIGTERM before SIGKILL
PASSWORD_ALPHABET = "abcdefghkmnpqrstuvwxyzABCDEFGHKMNPQRSTUVWXYZ23456789"  # Airflow's own, no look-alikes


class ServiceError(RuntimeError):
    pass


def state_path() -> Path:
    return hub_home() / "service.json"


def _secret_file(path: Path, make: callable) -> str:
    """Read a secret from ``path``, creating it (0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def users() -> list[str]:
    """User names of the simple auth manager's configuration (``[core] simple_auth_manager_users``)."""
    spec = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    return [part.split(":")[0].strip() for part in spec.split(",") if part.strip()]


def passwords_file() -> Path:
    configured = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    return Path(configured) if configured else hub_home() / "airflow" / "simple_auth_manager_passwords.json.generated"


def ensure_passwords() -> Path:
    """Every configured user has a generated password in the passwords file (0600); existing ones are kept.

    Written here rather than by the api-server, which prints a password it generates to its log."""
    path = passwords_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text() or "{}") if path.exists() else {}
    missing = [u for u in users() if u not in known]
    if missing or not path.exists():
        for user in missing:
            known[user] = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh)
        tmp.replace(path)
    return path


def password(user: str = "admin") -> str:
    """The generated password of ``user`` (for the tests and scripts; never print it)."""
    return json.loads(passwords_file().read_text())[user]


def service_environment(port: int, extract_every: int | None = None, paused: bool = False) -> dict[str, str]:
    """The hub's Airflow environment plus what the running components need to agree on."""
    from govhub import airflow_env

    env = dict(os.environ)
    env.update(airflow_env.airflow_environment())
    airflow_home = Path(env["AIRFLOW_HOME"])
    env.update({
        "HUB_HOME": str(hub_home()),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://{HOST}:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret_file(airflow_home / "jwt_secret",
                                                      lambda: secrets.token_urlsafe(48)),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file()),
        # two cores: a few task processes at a time; the builds run one at a time anyway (build lock)
        "AIRFLOW__CORE__PARALLELISM": env.get("AIRFLOW__CORE__PARALLELISM", "4"),
        # a new or changed DAG file is seen within 30 s, not the default 5 min
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": env.get("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get("HUB_SERVE_LOGGING_LEVEL", "INFO"),
        # the log servers of the scheduler (task logs) and triggerer listen on free ports, not Airflow's fixed
        # 8793/8794: another hub on the same machine (a test, a second checkout) must not collide
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
    })
    if extract_every:
        env["HUB_EXTRACT_EVERY_MINUTES"] = str(extract_every)
    if paused:  # DAGs new to this metadata database start paused (existing ones keep their state)
        env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
    return env


@dataclass
class Service:
    port: int
    pids: dict[str, int]
    serve_pid: int
    logs: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def save(self) -> None:
        tmp = state_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(state_path())


def load() -> Service | None:
    path = state_path()
    if not path.exists():
        return None
    return Service(**json.loads(path.read_text()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        return os.waitpid(pid, os.WNOHANG)[0] != pid
    except ChildProcessError:
        return True


def running() -> Service | None:
    """The recorded service if any of its components is still alive."""
    service = load()
    if service is None:
        return None
    return service if any(_alive(pid) for pid in service.pids.values()) else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def start(port: int = DEFAULT_PORT, extract_every: int | None = None, paused: bool = False) -> Service:
    """Start the four components (the stack — PostgreSQL, connections — must be up) and record them."""
    from govhub import airflow_env

    if running() is not None:
        raise ServiceError(f"the hub service is already running ({load().url}); stop it with `hub down`")
    if not port_free(port):
        raise ServiceError(f"port {port} on {HOST} is in use; choose another with `hub serve --port N`")
    airflow_env.ensure_metadata_db()
    ensure_passwords()
    env = service_environment(port, extract_every, paused)
    airflow = str(Path(sys.executable).with_name("airflow"))
    logs_dir = hub_home() / "logs" / "service"
    logs_dir.mkdir(parents=True, exist_ok=True)
    service = Service(port=port, pids={}, serve_pid=os.getpid(), logs={})
    for component in COMPONENTS:
        log_path = logs_dir / f"{component}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([airflow, component], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        service.pids[component], service.logs[component] = proc.pid, str(log_path)
        service.save()  # recorded at once: `hub down` stops whatever has started so far
        if component == "api-server":
            # task processes report to the api-server's execution API: a task the scheduler starts before it
            # listens fails at once, so the scheduler waits for it
            try:
                _wait_answering(service, API_START_WAIT)
            except ServiceError:
                stop(service)
                raise
    return service


API_START_WAIT = 180.0


def _wait_answering(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(service.pids["api-server"]):
            raise ServiceError(f"the api-server exited while starting; see {service.logs['api-server']}")
        if health(service.port, timeout=2) is not None:
            return
        time.sleep(1)
    raise ServiceError(f"the api-server did not answer within {timeout:.0f} s; see {service.logs['api-server']}")


def health(port: int, timeout: float = 5.0) -> dict[str, str] | None:
    """``/api/v2/monitor/health`` as {component: status}; None when the api-server does not answer."""
    try:
        answer = httpx.get(f"http://{HOST}:{port}/api/v2/monitor/health", timeout=timeout)
        answer.raise_for_status()
    except httpx.HTTPError:
        return None
    return {name: str(part.get("status")) for name, part in answer.json().items() if isinstance(part, dict)}


def wait_healthy(service: Service, timeout: float = 180.0, on_change=None) -> dict[str, str]:
    """Wait until every component reports healthy; raise (naming the component and its log) otherwise."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] | None = None
    while time.monotonic() < deadline:
        dead = [c for c, pid in service.pids.items() if not _alive(pid)]
        if dead:
            raise ServiceError(f"{', '.join(dead)} exited while starting; see {service.logs[dead[0]]}")
        status = health(service.port)
        if status != last and on_change is not None and status is not None:
            on_change(status)
        last = status
        if status and all(v == "healthy" for v in status.values()):
            return status
        time.sleep(2)
    raise ServiceError(f"not every component became healthy within {timeout:.0f} s: {last}; logs in "
                       f"{Path(service.logs['api-server']).parent}")


def _stop_group(pid: int, deadline: float) -> None:
    """Wait for the group of ``pid`` (already sent SIGTERM) until ``deadline``, then SIGKILL what is left of it."""
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    gone = time.monotonic() + 10
    while time.monotonic() < gone and _group_alive(pid):
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    _alive(pgid)  # reaps the leader if it is this process's child
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # members that are zombies of another parent still count until reaped; the leader's are reaped above
    return any(_pgid_of(p) == pgid and not _zombie(p) for p in _pids())


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop(service: Service | None = None) -> list[str]:
    """Stop every recorded component (SIGTERM to its process group, SIGKILL after STOP_WAIT); returns their names."""
    service = service or load()
    if service is None:
        return []
    deadline = time.monotonic() + STOP_WAIT
    # the scheduler first: it stops launching tasks; the api-server last, running tasks report to it
    order = ["scheduler", "triggerer", "dag-processor", "api-server"]
    for component in order:
        if component in service.pids:
            try:  # the component only: it shuts its own workers down (the executor's, uvicorn's, the parsers)
                os.kill(service.pids[component], signal.SIGTERM)
            except ProcessLookupError:
                pass
    for component in order:
        if component in service.pids:
            _stop_group(service.pids[component], deadline)
    if service.serve_pid != os.getpid() and _alive(service.serve_pid):
        try:  # the `hub serve` in the foreground of another terminal: it sees its components gone and exits
            os.kill(service.serve_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    state_path().unlink(missing_ok=True)
    return [c for c in order if c in service.pids]


def run_until_stopped(service: Service, poll: float = 2.0) -> str:
    """Block until Ctrl-C / SIGTERM (then stop everything), or until a component exits or `hub down` ran.

    Returns why it ended."""
    stopping = {"why": ""}

    def on_signal(signum, frame):
        stopping["why"] = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            current = load()
            if current is None or current.serve_pid != service.serve_pid:
                return "stopped by `hub down`"
            dead = [c for c, pid in service.pids.items() if not _alive(pid)]
            if dead:
                stop(service)
                return f"{', '.join(dead)} exited (see {service.logs[dead[0]]}); stopped the others"
            time.sleep(poll)
    except KeyboardInterrupt:
        stop(service)
        return f"stopped ({stopping['why'] or 'Ctrl-C'})"
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
