import sys

from ganhub.cli import main

sys.exit(main())
