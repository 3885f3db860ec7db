"""Start MODPORTAL: `python run.py [serve] [--config FILE] [--data DIR] ...`."""

from app.cli import main

if __name__ == "__main__":
    main()
