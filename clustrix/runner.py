"""``python -m clustrix.runner``: the command every job runs; the code is :mod:`clustrix.payload.runner`.

Kept at this short, stable path because job scripts name it; importing this module does nothing.
"""

if __name__ == "__main__":
    import sys

    from clustrix.payload.runner import main

    sys.exit(main())
