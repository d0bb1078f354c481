"""`python -m marketplace ...` runs the `marketplace` command."""

from marketplace.cli import main

main()
