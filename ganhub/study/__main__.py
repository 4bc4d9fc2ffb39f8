"""``python -m ganhub.study ARGS`` is ``ganhub study ARGS`` (the study moved into the ganhub CLI)."""
import sys

_MOVED = {"grid": "create a study with \"search\": \"grid\" in its spec",
          "random": "create a study with \"search\": \"random\" in its spec",
          "bayes": "create a study with \"search\": \"gp\" in its spec",
          "analyze": "ganhub study report NAME -o DIR"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _MOVED:
        print(f"python -m ganhub.study {argv[0]} moved: {_MOVED[argv[0]]}, then run "
              f"`ganhub study worker NAME` (see `ganhub study --help`)", file=sys.stderr)
        return 2
    from ganhub.cli import main as cli_main
    return cli_main(["study", *argv])


if __name__ == "__main__":
    sys.exit(main())
