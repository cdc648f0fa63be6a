import sys

from ovserve.cli import main

sys.exit(main())
