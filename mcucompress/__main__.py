import sys

from mcucompress.cli import main

sys.exit(main())
