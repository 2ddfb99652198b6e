import sys

from cdrcap.cli import main

sys.exit(main())
