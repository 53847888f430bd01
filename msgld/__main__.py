import sys

from msgld.cli import main

if __name__ == "__main__":
    sys.exit(main())
