"""Makes the store unwritable, then becomes COMMAND: ``python break_store.py FOLDER COMMAND...``.

``perfdoctor run`` refuses an unwritable store before it starts the command, so
a store that fails while the app runs is made here, after that check: FOLDER
(the store's) is replaced by a regular file, which no one can write into, not
even root.
"""

from __future__ import annotations

import os
import shutil
import sys


def main() -> None:
    folder, command = sys.argv[1], sys.argv[2:]
    shutil.rmtree(folder)
    with open(folder, "w") as blocker:
        blocker.write("a file where the store's folder should be\n")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
