"""The local loop: the template's functions, API and event sources run on this machine (make up, make test, make demo)."""
