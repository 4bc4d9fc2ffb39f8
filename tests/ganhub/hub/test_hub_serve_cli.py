"""`ganhub serve` from the command line: port errors, TensorFlow-free --no-samples, help texts.
No TensorFlow here: the served modules are stand-ins (a saved_model.pb of one byte)."""
import json
import socket
import subprocess
import sys
import tempfile

import pytest

from ganhub.cli import main
from ganhub.export import package
from ganhub.hub import serve as hub_serve


def _stand_in_module(path, name):
    """A directory module_format.is_saved_model_dir accepts, with a metadata asset; never loaded."""
    (path / "assets").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"\x00")
    (path / "assets" / "ganhub.json").write_text(json.dumps({"name": name}), encoding="utf-8")
    return path


@pytest.fixture
def served(tmp_path):
    """A directory with one archive and one bare SavedModel directory."""
    root = tmp_path / "served"
    root.mkdir()
    package.pack(_stand_in_module(tmp_path / "packed", "packed"), root / "packed.tar.gz")
    _stand_in_module(root / "bare", "bare")
    return root


def test_serve_on_a_busy_port_fails_before_packing_with_a_clear_message(served, tmp_path, monkeypatch,
                                                                        capsys):
    collected = []
    monkeypatch.setattr(hub_serve, "collect", lambda *args: collected.append(args) or {})
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["serve", str(served), "--port", str(port), "--no-samples"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port} (" in err and "choose another --port" in err
    assert "Address already in use" in err and "Traceback" not in err
    assert collected == [], "the modules must not be hashed and packed before the port is bound"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("ganhub-serve-")]


def test_serve_refuses_connections_until_the_models_are_collected(served, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    real_collect = hub_serve.collect
    during = []

    def collect(*args):
        with pytest.raises(ConnectionRefusedError):  # a client retries instead of hanging
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        during.append("refused")
        return real_collect(*args)

    monkeypatch.setattr(hub_serve, "collect", collect)
    hub = hub_serve.Hub(served, port=port, samples=False)
    try:
        assert during == ["refused"] and sorted(hub.models) == ["bare", "packed"]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        hub.server.server_close()
        hub._tmp.cleanup()


@pytest.mark.parametrize("port", ["70000", "-1", "eighty"])
def test_serve_port_out_of_range_is_a_usage_error(served, port, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", str(served), "--port", port])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "--port" in err and "0..65535" in err and "Traceback" not in err


def test_serve_of_a_missing_folder_is_one_line_before_tensorflow(tmp_path, subprocess_env):
    import subprocess
    import sys
    code = ("import sys\nfrom ganhub.cli import main\nrc = main(['serve', sys.argv[1]])\n"
            "print(rc, 'tensorflow' in sys.modules)")
    for target, what in ((tmp_path / "nope", "does not exist"), (tmp_path / "f", "is a file")):
        if what == "is a file":
            target.write_text("x")
        proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                              text=True, env=subprocess_env(tmp_path / "cache"), timeout=120)
        assert proc.stdout.split() == ["1", "False"], proc.stderr
        assert proc.stderr.strip() == (f"ganhub serve: error: {target} {what}; give the folder of "
                                       f"exported modules (.tar.gz archives or SavedModel folders) "
                                       f"to serve")


def test_the_api_refuses_a_missing_folder_as_the_cli_does(tmp_path):
    from ganhub.errors import InvalidModuleError
    from ganhub.hub.serve import Hub
    with pytest.raises(InvalidModuleError, match=r"nope does not exist; give the folder of "
                                                 r"exported modules"):
        Hub(tmp_path / "nope", port=0, samples=False)


def test_serve_no_samples_does_not_import_tensorflow(served, tmp_path, subprocess_env):
    code = ("import sys; from ganhub.cli import main; from ganhub.hub.serve import Hub; "
            "Hub.serve_forever = lambda self: None; "
            "code = main(['serve', sys.argv[1], '--port', '0', '--no-samples']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, str(served)],
                          env=subprocess_env(tmp_path / "cache"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "2 model(s)" in proc.stderr


def test_serve_and_info_arguments_have_help(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "DIR directory of" in out and ".tar.gz archives" in out
    assert "--port PORT TCP port" in out and "0 picks a free port" in out
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "NAME catalog name" in out


def test_the_cli_and_the_api_listen_on_the_same_default_port(tmp_path):
    import inspect

    from ganhub import settings
    from ganhub.cli import build_parser

    args = build_parser().parse_args(["serve", str(tmp_path)])
    assert args.port == settings.SERVE_PORT == 8000
    for function in (hub_serve.serve, hub_serve.Hub):
        assert inspect.signature(function).parameters["port"].default == settings.SERVE_PORT
