import sys

from prorank_integrations.cli import main

sys.exit(main())
