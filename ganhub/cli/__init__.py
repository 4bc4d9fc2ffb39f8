"""The ``ganhub`` command: a thin argparse shell over the Python API.

Each area registers its sub-commands from its own module (``register(subparsers)``), and every
command function receives the parsed ``args`` and returns an exit code. A command may also set
``check``: a function of ``args`` run before TensorFlow is imported, which validates arguments,
output paths and model names and raises a GanhubError for bad ones. Modules here must not import
TensorFlow at import time: ``ganhub list``, ``ganhub cache`` and ``ganhub serve --no-samples``
answer without it.
"""
import argparse
import importlib
import sys

from ganhub.errors import DownloadError, GanhubError

# Order here is the order in `ganhub --help`.
_COMMAND_MODULES = ("hub", "sample", "evaluate", "train", "study")
# Commands that answer without TensorFlow.
_NO_TENSORFLOW = {"list", "info", "cache", "download"}
_OFFLINE_HINT = ("Without a network: run `ganhub download NAME` once on a connected machine (it "
                 "fills the cache), then pass --offline or set GANHUB_OFFLINE=1.")


def _needs_tensorflow(args):
    """Import TensorFlow up front (quietly) for every command but those above and `serve
    --no-samples`: serving archives needs no TensorFlow, only rendering sample grids does."""
    if args.command in _NO_TENSORFLOW or getattr(args, "tensorflow", True) is False:
        return False  # a sub-command may set_defaults(tensorflow=False), e.g. `study status`
    return not (args.command == "serve" and args.no_samples)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (``ganhub sample: error: ...``), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = _Parser(
        prog="ganhub",
        description="Pretrained GAN generators from The GAN Landscape (compare_gan) in TensorFlow 2: "
                    "list, download, sample, evaluate, train and export them.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"ganhub.cli.{name}").register(sub)
    return parser


def _version():
    from ganhub import __version__
    return f"ganhub {__version__}"


def _import_tensorflow_quietly():
    """Import TensorFlow and initialize its devices with C++ stderr silenced: TF prints absl and
    CUDA-probe lines there on every start, which bury a CLI's one-line answers. Python errors still
    surface (they are raised after stderr is restored). Set TF_CPP_MIN_LOG_LEVEL to see the lines."""
    import os
    # The command, not the library, quiets TensorFlow's C++ logging for its process.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "2":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def describe_os_error(exc):
    """One line for an OSError that reached the CLI, saying what to do about it."""
    import errno
    name = exc.filename if exc.filename is not None else ""
    shown = str(name) if len(str(name)) <= 120 else f"{str(name)[:60]}...{str(name)[-40:]}"
    where = f" ({shown})" if shown else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device{where}; free some space or write elsewhere"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write{where}: {exc.strerror or exc}; the place is read-only or not yours "
                f"(for the module cache, set GANHUB_CACHE to a writable folder)")
    if exc.errno == errno.ENAMETOOLONG:
        return f"file name too long for the file system{where}; use a shorter name"
    return f"{exc.strerror or exc}{where}"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # Arguments are checked and names resolved before TensorFlow's 10-20 s import, so a typo
        # is answered at once.
        if getattr(args, "check", None):
            args.check(args)
        if _needs_tensorflow(args):
            _import_tensorflow_quietly()
        return int(args.func(args) or 0)
    except DownloadError as exc:
        print(f"ganhub {args.command}: error: {exc}. {_OFFLINE_HINT}", file=sys.stderr)
        return 1
    except GanhubError as exc:
        print(f"ganhub {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ganhub list | head`: the reader left; nothing more to say
        sys.stderr.close()
        return 0
    except OSError as exc:  # the file system said no: a full disk, read-only, a name too long
        print(f"ganhub {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"ganhub {args.command}: error: out of memory; use a smaller -n/--batch-size or "
              f"free memory", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"ganhub {args.command}: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
