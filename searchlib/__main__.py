"""``python -m searchlib``: the same as the ``search`` command."""

from searchlib.cli import main

if __name__ == "__main__":
    main()
