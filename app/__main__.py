"""`python -m app` is the same as the `tagloop` command."""

from app.cli.main import main

raise SystemExit(main())
