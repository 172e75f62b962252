"""`python -m registry.cli`: the `edzoo` command."""

from registry.cli.main import main

main()
