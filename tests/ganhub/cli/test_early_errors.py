"""Issue 16, items 4 and 5: bad input is answered in one line, with a non-zero exit, before
TensorFlow is imported (it takes 10-20 s), and the message says what to do."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# (argv, words the one-line error must contain)
CASES = [
    (["sample", "defualt"], ["unknown model 'defualt'", "Did you mean 'default'"]),
    (["sample", "default", "-o", "{tmp}/missing/grid.png"], ["folder", "does not exist"]),
    (["sample", "default", "-o", "{tmp}/a-file/grid.png"], ["not a writable folder"]),
    (["sample", "default", "-o", "{tmp}/grid.gif"], ["suffix '.gif'", ".png"]),
    (["sample", "default", "-n", "1000000000"], ["1,000,000,000 images of 32×32×1", "--out-dir"]),
    (["evaluate", "defualt", "-r", "fashion_mnist_32-test"], ["unknown model 'defualt'"]),
    (["evaluate", "default", "-r", "fashion_mnist_32-test", "--metrics", "fid,fdi"],
     ["unknown metric 'fdi'", "fid,kid,is,ms_ssim"]),
    (["evaluate", "default", "-r", "fashion_mnist-tset"],
     ["unknown split 'tset'", "fashion_mnist-test"]),
    (["evaluate", "default", "-r", "{tmp}/nope.npz"], ["no such file", "ganhub stats"]),
    (["evaluate", "default", "-r", "fashion_mnist_32-test", "--metrics", "is"],
     ["classifier head", "tfgan_inception"]),
    (["evaluate", "default", "-r", "fashion_mnist_32-test", "--extractor", "inception_v5"],
     ["unknown extractor 'inception_v5'"]),
    (["evaluate", "default", "-r", "fashion_mnist_32-test", "--offline"],
     ["offline", "GANHUB_FID_INCEPTION_WEIGHTS"]),
    (["sample", "http://127.0.0.1:9/m.tar.gz", "--offline"], ["offline", "ganhub download"]),
    (["export", "{tmp}", "{tmp}/out"], ["not a training dir", "ganhub train"]),
    (["train", "--preset", "default_fashion_mnist", "--set", "width=big", "--model-dir", "{tmp}/r"],
     ["width must be a number"]),
    (["train", "--preset", "default_fashion_mnist", "--set", "loss=nope", "--model-dir", "{tmp}/r"],
     ["loss='nope'", "ns, mm, ls, wgan, hinge"]),
    (["train", "--preset", "nope", "--model-dir", "{tmp}/r"], ["unknown preset 'nope'"]),
    (["sample", "default", "--interpolate", "-n", "3", "-o", "{tmp}/w.png"],
     ["-n sets the images of a grid", "8 × 10", "drop -n"]),
    (["sample", "default", "--gif", "{tmp}/w.gif", "--ncols", "3"],
     ["--gif writes frames, not a grid", "drop --ncols"]),
    (["sample", "default", "--interpolate", "--ncols", "3", "-o", "{tmp}/w.png"],
     ["--interpolate has --steps columns"]),
    (["stats", "fashion_mnist-valid"], ["unknown data set 'fashion_mnist-valid'", "fashion_mnist_32"]),
    (["stats", "{tmp}/nope.npz"], ["nope.npz: not found", "image folder"]),
    (["stats", "fashion_mnist", "--split", "dev"], ["'dev' is not a split", "test or train"]),
]

# Runs every case in one interpreter: the error must come, and `tensorflow` must still be
# unimported, after each.
_RUNNER = """
import contextlib, io, json, sys
from ganhub.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    results.append({"code": code, "err": err.getvalue(), "tf": "tensorflow" in sys.modules})
print(json.dumps(results))
"""


def test_bad_arguments_are_answered_before_tensorflow_is_imported(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    argvs = [[arg.replace("{tmp}", str(tmp_path)) for arg in argv] for argv, _ in CASES]
    env = dict(os.environ, GANHUB_CACHE=str(tmp_path / "empty-cache"), GANHUB_DISABLE_PROGRESS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("GANHUB_FID_INCEPTION_WEIGHTS", None)
    env.pop("GANHUB_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(argvs)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout)
    for (argv, words), got in zip(CASES, results):
        where = " ".join(argv)
        assert got["code"] == 1, (where, got)
        lines = got["err"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ganhub {argv[0]}: error: "), (where, got)
        assert "Traceback" not in got["err"]
        for word in words:
            assert word in lines[0], (where, word, lines[0])
        assert not got["tf"], f"{where}: TensorFlow was imported before the error"


@pytest.mark.parametrize("argv, words", [
    (["-n", "0"], ["expected a positive integer"]),
    (["--seed", "x"], ["the seed must be an integer"]),
])
def test_usage_errors_exit_2_in_one_line(argv, words, capsys):
    from ganhub.cli import main
    with pytest.raises(SystemExit) as exited:
        main(["sample", "default", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1
    assert all(word in err for word in words)
