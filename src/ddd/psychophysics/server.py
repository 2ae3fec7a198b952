"""The optional collection server: serves the experiment page and writes every trial to disk as it arrives.

``python -m ddd.psychophysics serve results/<study>/psychophysics`` listens on 127.0.0.1 only (the
observer's browser runs on the same machine; nothing is reachable from the network) and, besides
the site's files, answers three JSON endpoints that the page uses when it finds them:

``GET  /api/status``   ``{"collect": true, "study": ..., "manifest": ...}``
``POST /api/start``    ``{"observer", "session"}``: opens the observer's file (creates it with the
                       header); 403 for an observer not on the ``--observers`` list when one is given,
                       409 for a file of that name that is not the server's, or one with the
                       previous header (:data:`ddd.psychophysics.responses.PREVIOUS_COLUMNS`,
                       without the timing columns: never appended to; the message says what to do)
``POST /api/trial``    one trial record, exactly the keys of
                       :data:`ddd.psychophysics.responses.RESPONSE_COLUMNS` (``practice`` and
                       ``correct`` JSON booleans, ``trial`` and ``timeouts`` integers, ``rt_ms`` a
                       number, ``stimulus_ms`` and ``max_response_ms`` null or a number),
                       checked by :func:`ddd.psychophysics.responses.parse_record`: the values a
                       response file may hold, as the analysis reads them

Each accepted trial is appended to ``<responses>/<observer>.csv`` (default
``<site>/responses/``), flushed and fsynced before the answer (201), so a crashed browser or
server loses nothing that was answered. A trial sent again (same observer, session and pair, same
content: a retry after a lost answer) is recorded once and answered 200 ``duplicate``; the same
pair with another answer is refused (409), and so is a main (not practice) pair that the observer
already answered in another session (409: the analysis accepts each main pair once per observer).

A trial is never glued to a partial line. An observer file whose last line has no newline (a
write cut off by power loss or a full disk; never acknowledged) has that line moved to a side file
``<observer>.csv.partial-<UTC time>`` (which the analysis does not read; reported on stderr and in
:attr:`CollectionServer.set_aside`): at start for every ``<id>.csv`` with the server's header (or
the previous one), when
the server first opens an observer's file, and before an append should the file have changed
since. A write that fails (a full disk: 507, else 500, naming the file) is cut off again before the
answer. The responses folder is created and tried at start: one that cannot be written stops the
server with its path.

Everything else is refused with a 4xx status and a JSON ``{"error": reason}``: a body that is
not JSON (400), too large (413, :data:`MAX_BODY` bytes), without Content-Length (411) or not
``application/json`` (415); an unknown or missing key, a value of the wrong type or one that a
response file may not hold, e.g. an observer or session id that is not ``[A-Za-z0-9_-]`` (400);
an observer that has not started (403); a pair that is not in the manifest, ids or sides that
differ from the manifest, ``stimulus_ms`` or ``max_response_ms`` other than the manifest's, a trial
number beyond the block or ``correct`` contradicting the response (422). Files are served only from inside the site folder (no directory listings, no
dotfiles, never ``responses/``); a path with ``..`` is refused (400), as is a request whose Host
header is not this machine (403, against DNS rebinding). Observer files are named after the
validated id, so nothing is ever written outside the responses folder. An unexpected error is
answered 500 with its reason (and a traceback on stderr), never with a dropped connection.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
import threading
import traceback
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from ddd.psychophysics import responses
from ddd.psychophysics.responses import RESPONSE_COLUMNS, ResponseFileError, TrialValueError
from ddd.psychophysics.site import manifest_checksum, manifest_timing, read_experiment, read_manifest

__all__ = ["CollectionServer", "make_server", "serve", "MAX_BODY", "RecordError"]

MAX_BODY = 4096


class RecordError(ValueError):
    """A refused request: ``status`` (4xx) and the reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = int(status)


class CollectionServer(ThreadingHTTPServer):
    """An HTTP server bound to 127.0.0.1 that serves one experiment site and records its trials.

    Parameters
    ----------
    site_dir : the site folder (``index.html``, ``trials.js``, ``manifest.csv``, ``images/``).
    responses_dir : where observers' files go (default ``<site_dir>/responses``; created).
    port : TCP port (0: any free one; see ``server_port``).
    observers : optional ids allowed to take part; default: any valid id that starts a session.
    quiet : do not log every request to stderr.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 resets connections when 20 clients connect at once

    def __init__(self, site_dir, *, responses_dir=None, port: int = 8000, observers=None, quiet: bool = False):
        self.site_dir = os.path.realpath(site_dir)
        for name in ("index.html", "trials.js", "manifest.csv"):
            if not os.path.isfile(os.path.join(self.site_dir, name)):
                raise FileNotFoundError(f"{self.site_dir} is not an experiment site: {name} is missing "
                                        "(make it with the psychophysics_stimuli rule)")
        self.responses_dir = os.path.realpath(responses_dir or os.path.join(self.site_dir, "responses"))
        _check_writable(self.responses_dir)
        #: ``(file, side file)`` of every incomplete last line set aside (at start and later)
        self.set_aside: list[tuple[str, str]] = []
        self.experiment = read_experiment(self.site_dir)
        manifest = read_manifest(os.path.join(self.site_dir, "manifest.csv"))
        self.timing = manifest_timing(manifest)
        self.manifest = {r.pair: r for r in manifest.itertuples()}
        self.checksum = manifest_checksum(os.path.join(self.site_dir, "manifest.csv"))
        self.n_block = {True: sum(r.practice for r in self.manifest.values()),
                        False: sum(not r.practice for r in self.manifest.values())}
        if observers is not None:
            observers = [str(o) for o in observers]
            bad = [o for o in observers if not responses.OBSERVER_RE.match(o)]
            if bad:
                raise ValueError(f"observer ids must be letters, digits, _ and - (at most 64): {bad}")
        self.observers = None if observers is None else set(observers)
        self.quiet = quiet
        self.lock = threading.Lock()
        self._recorded: dict[str, dict] = {}
        self._repair_existing()
        super().__init__(("127.0.0.1", int(port)), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"

    # -- records -----------------------------------------------------------------------------
    def _path(self, observer: str) -> str:
        path = os.path.join(self.responses_dir, f"{observer}.csv")
        if os.path.dirname(os.path.realpath(path)) != self.responses_dir:  # never outside (ids are checked)
            raise RecordError(400, f"observer id {observer!r} cannot name a file in the responses folder")
        return path

    def _repair_existing(self) -> None:
        """At start: set aside an incomplete last line of every observer file already in the
        responses folder (``<id>.csv`` with the server's header; other files are left alone and
        refused if an observer of that name starts) and stop on one that cannot be written."""
        for name in sorted(os.listdir(self.responses_dir)):
            path = os.path.join(self.responses_dir, name)
            if not (name.endswith(".csv") and responses.OBSERVER_RE.match(name[:-4]) and os.path.isfile(path)):
                continue
            if not os.access(path, os.W_OK):
                raise PermissionError(f"the observer file {path} is not writable; fix its permissions or move it away")
            try:
                self._note(path, responses.prepare_file(path))
            except responses.PreviousHeaderError as err:  # read by the analysis, refused if its observer starts
                self._note(path, err.side)
            except ResponseFileError:
                continue

    def _note(self, path: str, side: str | None) -> None:
        """Report a line set aside (stderr, even when quiet, and :attr:`set_aside`)."""
        if side is not None:
            self.set_aside.append((path, side))
            sys.stderr.write(f"{path}: its last line was incomplete (a write cut off: power loss, full disk); "
                             f"set aside in {side}, the trial is recorded again when the page resends it\n")

    def known(self, observer: str) -> bool:
        if self.observers is not None:
            return observer in self.observers and os.path.exists(self._path(observer))
        return os.path.exists(self._path(observer))

    def _index(self, observer: str) -> dict:
        """``{(session, pair): row}`` of what the observer's file holds, read when the server first
        opens it (created, or an incomplete last line set aside, first: :func:`responses.prepare_file`)."""
        if observer not in self._recorded:
            path = self._path(observer)
            try:
                self._note(path, responses.prepare_file(path))
                self._recorded[observer] = responses.recorded_rows(path)
            except ResponseFileError as err:
                self._note(path, getattr(err, "side", None))
                raise RecordError(409, str(err)) from None
            except OSError as err:
                raise _write_error(path, err) from None
        return self._recorded[observer]

    def _main_session(self, index: dict, pair: str) -> str | None:
        """The session in which the observer answered main pair ``pair``, if any."""
        practice = RESPONSE_COLUMNS.index("practice")
        for (session, p), fields in index.items():
            if p == pair and fields[practice] in ("0", "false", "False", "FALSE"):
                return session
        return None

    def start(self, body: dict) -> dict:
        _keys(body, {"observer", "session"}, optional={"study"})
        try:
            observer = responses.check_id("observer", body["observer"])
            session = responses.check_id("session", body["session"])
        except TrialValueError as err:
            raise RecordError(400, str(err)) from None
        if self.observers is not None and observer not in self.observers:
            raise RecordError(403, f"unknown observer {observer!r}: not on this server's list of observers")
        with self.lock:
            if not os.path.exists(self._path(observer)):  # new, or removed while serving: start afresh
                self._recorded.pop(observer, None)
            index = self._index(observer)
            recorded = sorted(p for (s, p) in index if s == session)
        return {"observer": observer, "session": session, "recorded": recorded}

    def _check(self, body) -> dict:
        """The posted trial, checked as a line of a response file (400) and against the manifest (422)."""
        _keys(body, set(RESPONSE_COLUMNS))
        try:
            rec = responses.parse_record(body)
        except TrialValueError as err:
            raise RecordError(400, str(err)) from None
        if rec["study"] != self.experiment.get("study"):
            raise RecordError(422, f"study {rec['study']!r} is not this server's ({self.experiment.get('study')!r})")
        m = self.manifest.get(rec["pair"])
        if m is None:
            raise RecordError(422, f"pair {rec['pair']!r} is not in the manifest")
        for key in ("practice", "left_id", "right_id", "impossible_side"):
            if rec[key] != getattr(m, key):
                raise RecordError(422, f"{key} {rec[key]!r} differs from the manifest's {getattr(m, key)!r} "
                                       f"for pair {rec['pair']!r}")
        for key in ("stimulus_ms", "max_response_ms"):
            if rec[key] != self.timing[key]:
                raise RecordError(422, f"{key} {rec[key]!r} differs from the manifest's {self.timing[key]!r}")
        n = self.n_block[rec["practice"]]
        if not 1 <= rec["trial"] <= n:
            raise RecordError(422, f"trial {rec['trial']} out of range 1..{n}")
        try:
            responses.check_correct(rec)
        except TrialValueError as err:
            raise RecordError(422, str(err)) from None
        return rec

    def record(self, body: dict) -> tuple[int, dict]:
        """Check one trial record and append it; (status, answer)."""
        rec = self._check(body)
        row = responses.format_row(rec)
        observer = rec["observer"]
        with self.lock:
            if not self.known(observer):
                raise RecordError(403, f"unknown observer {observer!r}: start a session first (POST /api/start)")
            path = self._path(observer)
            for attempt in range(2):
                index = self._index(observer)
                key = (rec["session"], rec["pair"])
                if key in index:
                    if index[key] == row:
                        return 200, {"status": "duplicate", "pair": rec["pair"]}
                    raise RecordError(409, f"pair {rec['pair']!r} is already recorded for observer {observer!r}, "
                                           f"session {rec['session']!r}, with other values")
                earlier = None if rec["practice"] else self._main_session(index, rec["pair"])
                if earlier is not None:  # the analysis refuses a main pair answered twice
                    raise RecordError(409, f"pair {rec['pair']!r} is already recorded for observer {observer!r} in "
                                           f"session {earlier!r}: each main pair is answered once per observer "
                                           "(the analysis refuses a second answer)")
                try:
                    responses.append_row(path, row)
                except responses.PartialLineError:
                    if attempt:
                        raise RecordError(500, f"{path} keeps ending with an incomplete line: is another "
                                               "program writing it?") from None
                    self._recorded.pop(observer, None)  # changed behind the server's back: open it again
                    continue
                except ResponseFileError as err:
                    raise RecordError(409, str(err)) from None
                except OSError as err:
                    raise _write_error(path, err) from None
                index[key] = row
                return 201, {"status": "recorded", "pair": rec["pair"]}
        raise AssertionError("unreachable")


def _check_writable(folder: str) -> None:
    """Create the responses folder if needed and prove that files can be created in it (stops the
    server at start with the path, instead of failing an observer's first request)."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise type(err)(err.errno, f"cannot create the responses folder {folder}: {err.strerror}") from None
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"the responses folder {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".ddd-write-test-")
    except OSError as err:
        raise PermissionError(err.errno, f"the responses folder {folder} is not writable ({err.strerror}); fix its "
                                         "permissions or choose another with --responses") from None
    os.close(fd)
    os.unlink(probe)


def _write_error(path: str, err: OSError) -> RecordError:
    """An answer for a failed write: 507 for a full disk or quota, else 500; names the file."""
    status = 507 if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)) else 500
    return RecordError(status, f"cannot write {path}: {err.strerror or err}; nothing of this trial was kept "
                               "(the page keeps it: download the responses at the end)")


def _keys(body, required: set, optional: set = frozenset()) -> None:
    if not isinstance(body, dict):
        raise RecordError(400, "the body must be a JSON object")
    missing = sorted(required - set(body))
    extra = sorted(set(body) - required - set(optional))
    if missing or extra:
        raise RecordError(400, "; ".join(([f"missing keys {missing}"] if missing else [])
                                         + ([f"unknown keys {extra[:10]}"] if extra else [])))


class _Handler(SimpleHTTPRequestHandler):
    server: CollectionServer
    server_version = "ddd-psychophysics"
    sys_version = ""
    timeout = 30  # seconds a client may take to send its request

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=args[2].site_dir, **kwargs)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.server.quiet:
            super().log_message(format, *args)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def _json(self, status: int, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True
        self._json(status, {"error": reason})

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"127.0.0.1:{self.server.server_port}", f"localhost:{self.server.server_port}"}

    # -- GET ---------------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        if not self._host_ok():
            return self._refuse(403, "requests must address 127.0.0.1 or localhost with this server's port")
        path = urlsplit(self.path).path
        if path == "/api/status":
            return self._json(200, {"collect": True, "study": self.server.experiment.get("study"),
                                    "manifest": self.server.checksum})
        if path.startswith("/api/"):
            return self._refuse(404, f"no endpoint {path}")
        parts = unquote(path).split("/")
        if any(p in ("..", ".") or "\\" in p or "\x00" in p for p in parts):
            return self._refuse(400, "path traversal is not allowed")
        if any(p.startswith(".") for p in parts if p):
            return self._refuse(404, "not found")
        real = os.path.realpath(self.translate_path(self.path))
        root = self.server.site_dir
        if real != root and not real.startswith(root + os.sep):
            return self._refuse(403, "outside the experiment folder")
        resp = self.server.responses_dir
        if real == resp or real.startswith(resp + os.sep):
            return self._refuse(403, "responses are not served")
        return super().do_GET()

    def do_HEAD(self):  # noqa: N802
        return self._refuse(405, "HEAD is not supported")

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "No directory listings")
        return None

    # -- POST --------------------------------------------------------------------------------
    def _body(self):
        if self.headers.get("Transfer-Encoding"):
            raise RecordError(411, "send a Content-Length, not a chunked body")
        length = self.headers.get("Content-Length")
        if length is None:
            raise RecordError(411, "Content-Length is required")
        try:
            n = int(length)
        except ValueError:
            raise RecordError(400, "Content-Length is not a number") from None
        if n < 0:
            raise RecordError(400, "Content-Length is negative")
        if n > MAX_BODY:
            self._drain(n)
            raise RecordError(413, f"the body may hold at most {MAX_BODY} bytes, got {n}")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = self.rfile.read(n)
        if ctype != "application/json":
            raise RecordError(415, "Content-Type must be application/json")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RecordError(400, f"the body is not JSON: {err}") from None

    def _drain(self, n: int) -> None:
        """Read and drop up to 1 MiB of a refused body, so that the client gets the answer (closing a
        socket with unread data resets the connection); larger bodies are cut off."""
        left = min(n, 2 ** 20)
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)

    def do_POST(self):  # noqa: N802
        try:
            if not self._host_ok():
                raise RecordError(403, "requests must address 127.0.0.1 or localhost with this server's port")
            path = urlsplit(self.path).path
            if path not in ("/api/trial", "/api/start"):
                raise RecordError(404, f"no endpoint {path}")
            body = self._body()
            if path == "/api/start":
                return self._json(200, self.server.start(body))
            status, answer = self.server.record(body)
            return self._json(status, answer)
        except RecordError as err:
            if not self.server.quiet or err.status >= 500:
                sys.stderr.write(f"refused {self.path}: {err.status} {err}\n")
            return self._refuse(err.status, str(err))
        except Exception as err:  # never a dropped connection: the page shows the reason
            sys.stderr.write(f"internal error on {self.path}:\n{traceback.format_exc()}")
            return self._refuse(500, f"internal error of the collection server: {err!r}")

    def _method_not_allowed(self):
        self._refuse(405, f"{self.command} is not supported")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed


def make_server(site_dir, *, responses_dir=None, port: int = 8000, observers=None, quiet: bool = False
                ) -> CollectionServer:
    """A :class:`CollectionServer` (not yet serving: call ``serve_forever()``, e.g. in a thread)."""
    return CollectionServer(site_dir, responses_dir=responses_dir, port=port, observers=observers, quiet=quiet)


def serve(site_dir, *, responses_dir=None, port: int = 8000, observers=None) -> None:
    """Serve an experiment until interrupted (Ctrl-C), printing its address and the responses folder."""
    server = make_server(site_dir, responses_dir=responses_dir, port=port, observers=observers)
    print(f"Experiment {server.experiment.get('study')!r} at {server.url}\n"
          f"Responses are written to {server.responses_dir}/<observer>.csv\n"
          "Open the address in a browser on this machine; stop with Ctrl-C.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
