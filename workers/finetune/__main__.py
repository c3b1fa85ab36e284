"""``python -m workers.finetune``: run the fine-tune worker until SIGTERM or SIGINT."""

import sys

from workers.run import main

if __name__ == "__main__":
    sys.exit(main("finetune"))
