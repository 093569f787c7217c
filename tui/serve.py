"""``amal-tui --serve``: the same app in a browser, through textual-serve (the Textual project's server).

Each browser tab that opens the page gets its own app: textual-serve runs one command per
session (``python -m tui.cli`` with the options given here, less ``--serve``, ``--host`` and
``--port``), with Textual's web driver in place of the terminal.  textual-serve is the
optional extra ``serve`` (a web server stack a student at a terminal never needs); it is
imported only once ``--serve`` is given, and its absence is a one-line error.

Nothing here imports textual-serve, aiohttp or torch at module level: the command line
imports this module for every run.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import Any

from engine.config import ConfigError
from engine.i18n import _

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# How long Ctrl+C waits for the apps of open browser tabs to quit (each takes about a second).
SESSION_QUIT_WAIT = 10.0
# The options that start the server, not the app: the served app must not get them.
SERVER_OPTIONS = {"--serve": False, "--host": True, "--port": True}  # flag -> takes a value


class ServeError(Exception):
    """A server that cannot start: ``str()`` is the one-line message (exit 2)."""


def parse_port(text: str, field: str = "--port") -> int:
    """A TCP port to listen on: an integer from 1 to 65535."""
    try:
        port = int(text.strip())
    except ValueError:
        raise ConfigError(field, _port_reason(text)) from None
    if not 1 <= port <= 65535:
        raise ConfigError(field, _port_reason(text))
    return port


def _port_reason(text: str) -> str:
    return _("expected a port number from 1 to 65535, got {text}").format(text=repr(text))


def parse_host(text: str, field: str = "--host") -> str:
    """An address or a host name to listen on (whether it resolves is seen when binding)."""
    host = text.strip()
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        reason = _("expected an address such as 127.0.0.1 or 0.0.0.0, got {text}")
        raise ConfigError(field, reason.format(text=repr(text)))
    return host


def served_in_a_browser() -> bool:
    """Whether this process is an app textual-serve started for a browser tab.

    Its standard streams are pipes to the server, not a terminal: Textual's web driver,
    named by TEXTUAL_DRIVER, draws through them.
    """
    return bool(os.environ.get("TEXTUAL_DRIVER"))


def option_prefixes(option_strings: Sequence[str]) -> dict[str, str]:
    """Each server option and every abbreviation argparse accepts for it (``--po`` is ``--port``)."""
    prefixes = {}
    for option in SERVER_OPTIONS:
        for end in range(3, len(option) + 1):
            prefix = option[:end]
            matches = [o for o in option_strings if o.startswith(prefix)]
            if prefix == option or matches == [option]:
                prefixes[prefix] = option
    return prefixes


def app_arguments(argv: Sequence[str], option_strings: Sequence[str]) -> list[str]:
    """``argv`` less the server's own options, as the served app gets it.

    ``option_strings`` are every option the parser knows, to tell an abbreviation of
    ``--port`` from the start of another option's name.
    """
    prefixes = option_prefixes(option_strings)
    kept: list[str] = []
    skip_value = False
    for argument in argv:
        if skip_value:
            skip_value = False
            continue
        name, has_value, _value = argument.partition("=")
        option = prefixes.get(name) if argument.startswith("--") else None
        if option is None:
            kept.append(argument)
        elif SERVER_OPTIONS[option] and not has_value:
            skip_value = True  # "--port 8000": the value is the next argument
    return kept


def app_command(arguments: Sequence[str]) -> str:
    """The shell command textual-serve runs for each browser tab: this Python, this package."""
    return shlex.join([sys.executable, "-m", "tui.cli", *arguments])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def reach(host: str, port: int) -> tuple[str, str]:
    """The URL to open and who can open it, for a server listening on ``host``."""
    url = f"http://{_url_host(host)}:{port}"
    local = _("this machine only; --host 0.0.0.0 to open it to the network")
    anyone = _("whoever can reach {host} on the network").format(host=host)
    if host == "localhost":
        return url, local
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url, anyone
    if address.is_loopback:
        return url, local
    if address.is_unspecified:
        url = f"http://{_url_host(socket.gethostname())}:{port}"
        return url, _("open to the network: anyone who can reach this machine can use the app")
    return url, anyone


def check_port_free(host: str, port: int) -> None:
    """Bind ``host``:``port`` once and let it go: a port in use or a host that is not
    this machine's says so in one line, before the server says it serves."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        problem = _("argument --host: cannot listen on {host}: {reason}")
        raise ServeError(problem.format(host=repr(host), reason=error.strerror)) from None
    for family, kind, protocol, _name, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            # As the server will: a port left in TIME_WAIT by the last run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise ServeError(bind_problem(error, host, port)) from None


def bind_problem(error: OSError, host: str, port: int) -> str:
    """The one-line message for a server that could not listen."""
    if error.errno == errno.EADDRINUSE:
        return _(
            "argument --port: port {port} is in use (another server?); choose another with --port"
        ).format(port=port)
    if error.errno == errno.EACCES:
        return _(
            "argument --port: port {port} needs privileges here; choose one above 1023"
        ).format(port=port)
    if error.errno == errno.EADDRNOTAVAIL:
        return _("argument --host: {host} is not an address of this machine").format(host=host)
    return _("cannot listen on {host} port {port}: {reason}").format(
        host=host, port=port, reason=error.strerror or error
    )


def missing_server() -> str | None:
    """The one-line message when textual-serve is not installed, else None."""
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        return _(
            "--serve needs textual-serve, not installed here: `make run ARGS=--serve` installs it, "
            "or `{command}`"
        ).format(command=f'{shlex.quote(sys.executable)} -m pip install "{_pinned_server()}"')
    return None


def _pinned_server() -> str:
    """The textual-serve that pyproject.toml's extra ``serve`` pins (one place for the version)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        for requirement in requires("amal-tui") or []:
            if requirement.startswith("textual-serve"):
                return requirement.partition(";")[0].strip()
    except PackageNotFoundError:
        pass
    return "textual-serve"


def serve(arguments: Sequence[str], host: str, port: int) -> int:
    """Serve the app, run with ``arguments``, on ``host``:``port`` until Ctrl+C (or SIGTERM); 0.

    A port in use, a host not of this machine, or no textual-serve: :class:`ServeError`.
    """
    problem = missing_server()
    if problem:
        raise ServeError(problem)
    check_port_free(host, port)
    from aiohttp.web_runner import GracefulExit

    server = _make_server(app_command(arguments), host, port)
    try:
        server.serve()
    except OSError as error:  # another process took the port since the check
        raise ServeError(bind_problem(error, host, port)) from None
    except (KeyboardInterrupt, GracefulExit):  # Ctrl+C before the server's handler, or twice
        pass
    print(_("amal-tui: server stopped"), file=sys.stderr, flush=True)
    return 0


def _make_server(command: str, host: str, port: int) -> Any:
    import asyncio
    import logging
    import signal

    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    url, who = reach(host, port)

    class AppServer(Server):
        """textual-serve's Server, quiet, with amal-tui's one line, and pages that point
        the browser back at the address it used (not at the host the server listens on)."""

        def initialize_logging(self) -> None:
            # A line per request would bury the URL; errors still show.
            logging.basicConfig(level=logging.WARNING, format="amal-tui serve: %(message)s")

        def serve(self, debug: bool = False) -> None:
            # As textual-serve's own, but the line with the URL comes once the port listens
            # (aiohttp calls ``print`` then), and its banner and log are left out.
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=lambda *_args: print(
                    _("amal-tui: serving on {url} ({who}); Ctrl+C stops").format(url=url, who=who),
                    flush=True,
                ),
            )

        async def on_startup(self, app: web.Application) -> None:
            self.sessions: set[asyncio.Task[Any]] = set()

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            # One browser tab, one app: tracked so that Ctrl+C can end each app at once.
            session = asyncio.current_task()
            if session is not None:
                self.sessions.add(session)
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions.discard(session)

        async def on_shutdown(self, app: web.Application) -> None:
            # A tab left open held the server's shutdown about 20 s more (aiohttp waits up to a
            # minute for it): cancelled, textual-serve's handler tells its app to quit and waits
            # for it (about a second), then closes the tab.
            for session in self.sessions:
                session.cancel()
            if self.sessions:
                await asyncio.wait(self.sessions, timeout=SESSION_QUIT_WAIT)

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # With --host 0.0.0.0 the page must send each browser back to the name or
            # address it typed: ws://0.0.0.0 would reach nothing from another machine.
            origin = f"{request.scheme}://{request.host}"
            router = request.app.router
            static = origin + str(router["static"].url_for(filename="/")).rstrip("/") + "/"
            websocket = "ws" + origin[len("http") :] + str(router["websocket"].url_for())
            font_size = request.query.get("fontsize", "16")
            return {
                "font_size": int(font_size) if font_size.isdigit() else 16,
                "app_websocket_url": websocket,
                "config": {"static": {"url": static}},
                "application": {"name": self.title},
            }

    return AppServer(command, host=host, port=port, title="amal-tui")
