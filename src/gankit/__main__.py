"""``python -m gankit`` runs the ``gankit`` command."""

from .cli import main

if __name__ == "__main__":
    main()
