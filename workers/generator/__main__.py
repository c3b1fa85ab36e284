"""``python -m workers.generator``: run the generator worker until SIGTERM or SIGINT."""

import sys

from workers.run import main

if __name__ == "__main__":
    sys.exit(main("generator"))
