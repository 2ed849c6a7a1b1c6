"""`python -m eye_client` runs the `eye` command."""

from eye_client.cli import main

raise SystemExit(main())
