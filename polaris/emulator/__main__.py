"""``python -m polaris.emulator start ...``."""

from polaris.emulator.cli import main

if __name__ == "__main__":
    main()
