"""``amal-tui --serve`` without a browser: the options, the server's messages, Ctrl+C, a port in use,
the app that textual-serve starts for each tab, and how `make run ARGS=--serve` installs it.

The browser itself: tests/browser/test_browser.py.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tui.cli import build_parser, main
from tui.serve import app_arguments, app_command, missing_server, reach

ROOT = Path(__file__).parents[2]
AMAL = str(Path(sys.executable).with_name("amal-tui"))
installed = pytest.mark.skipif(not os.path.exists(AMAL), reason="amal-tui is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _options() -> list[str]:
    return list(build_parser()._option_string_actions)


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["--serve", "--lr", "0.5"], ["--lr", "0.5"]),
        (["--host", "0.0.0.0", "--serve", "--port=9000", "--seed", "3"], ["--seed", "3"]),
        # argparse's abbreviations of the server's options go too, not those of others
        (["--ser", "--po", "9000", "--ho=::1", "--save-dir", "runs 2"], ["--save-dir", "runs 2"]),
        # a value that looks like an option's name stays where it is
        (
            ["--serve", "--save-dir", "port", "--data", "x.csv"],
            ["--save-dir", "port", "--data", "x.csv"],
        ),
    ],
)
def test_the_served_app_gets_every_option_but_the_servers(argv, kept):
    assert app_arguments(argv, _options()) == kept


def test_the_command_for_each_tab_is_this_python_with_the_arguments_quoted():
    arguments = ["--save-dir", "my runs; rm -rf ~", "--lr", "0.5"]
    assert shlex.split(app_command(arguments)) == [sys.executable, "-m", "tui.cli", *arguments]


def test_it_says_who_can_reach_it():
    assert reach("127.0.0.1", 8000) == (
        "http://127.0.0.1:8000",
        "this machine only; --host 0.0.0.0 to open it to the network",
    )
    url, who = reach("0.0.0.0", 8123)
    assert url == f"http://{socket.gethostname()}:8123" and "open to the network" in who
    assert reach("::1", 80)[0] == "http://[::1]:80"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--serve", "--port", "70000"], "argument --port: expected a port number from 1 to 65535"),
        (["--serve", "--port", "http"], "argument --port: expected a port number from 1 to 65535"),
        (["--port", "9000"], "--port is for --serve"),
        (
            ["--serve", "--headless"],
            "--serve serves the app to a browser; --headless runs without it",
        ),
        (["--serve", "--host", ""], "argument --host: expected an address"),
    ],
)
def test_bad_server_options_are_one_line_and_exit_2(argv, says, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert says in error and error.count("\n") == 1, error


def test_without_textual_serve_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import textual_serve fails
    assert "make run ARGS=--serve" in missing_server()
    assert main(["--serve", "--port", str(_free_port())]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--serve needs textual-serve" in error, error
    assert "textual-serve==" in error  # the version pyproject.toml pins


@installed
def test_a_port_in_use_is_one_line_naming_it_exit_2():
    pytest.importorskip("textual_serve")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [AMAL, "--serve", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"amal-tui: error: argument --port: port {port} is in use (another server?); "
        "choose another with --port\n"
    )
    assert done.stdout == ""  # never "serving on ..." for a server that is not


@installed
def test_it_serves_on_localhost_says_so_and_ctrl_c_ends_it_with_0():
    pytest.importorskip("textual_serve")
    port = _free_port()
    server = subprocess.Popen(
        [AMAL, "--serve", "--port", str(port), "--lr", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = server.stdout.readline()
        assert said == (
            f"amal-tui: serving on http://127.0.0.1:{port} (this machine only; "
            "--host 0.0.0.0 to open it to the network); Ctrl+C stops\n"
        ), said + server.stderr.read()
        # The page sends the browser's websocket back to the address the browser used
        # (with --host 0.0.0.0, ws://0.0.0.0 would reach nothing from another machine).
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"Host": f"lecture-hall.test:{port}"}
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            page = response.read().decode()
        assert f'data-session-websocket-url="ws://lecture-hall.test:{port}/ws"' in page
        assert "<div>amal-tui</div>" in page  # the title, not the python command line
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=20) == 0
        assert server.stderr.read() == "amal-tui: server stopped\n"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _packet(kind: bytes, payload: dict) -> bytes:
    data = json.dumps(payload).encode()
    return kind + len(data).to_bytes(4, "big") + data


@installed
def test_the_app_textual_serve_starts_draws_through_pipes_and_quits_when_told():
    """textual-serve runs the app with pipes, not a terminal, and Textual's web driver."""
    environment = dict(os.environ, TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver")
    environment.update(COLUMNS="100", ROWS="30")
    app = subprocess.Popen(
        shlex.split(app_command(["--no-tensorboard"])),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    try:
        # Textual's web driver announces itself first; "needs a terminal" would come instead.
        first = app.stdout.readline()
        assert first == b"__GANGLION__\n", first + app.stderr.read()
        time.sleep(0.5)
        app.stdin.write(_packet(b"M", {"type": "quit"}))
        app.stdin.flush()
        assert app.wait(timeout=60) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def _make_plan(tmp_path: Path, *arguments: str) -> list[str]:
    """The pip installs `make run` would run (make -n: nothing is installed)."""
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    os.utime(tmp_path / "pyproject.toml", (1_000_000, 1_000_000))
    (tmp_path / ".venv" / ".installed-run-torch__2.13.0").touch()
    done = subprocess.run(
        ["make", "-n", "-C", str(tmp_path), "run", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if "pip install" in line]


@pytest.mark.skipif(
    subprocess.run(["which", "make"], capture_output=True).returncode, reason="no make"
)
def test_make_run_installs_textual_serve_only_to_serve(tmp_path):
    assert _make_plan(tmp_path) == []
    installs = _make_plan(tmp_path, "ARGS=--serve --port 9000")
    assert len(installs) == 1 and installs[0].endswith('-e ".[serve]"')
