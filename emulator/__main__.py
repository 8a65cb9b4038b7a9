"""`python -m emulator`: host a Function App folder."""

from emulator.cli import main

if __name__ == "__main__":
    main()
