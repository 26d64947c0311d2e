"""`python -m llmport` runs the command line interface."""

from llmport.cli import main

raise SystemExit(main())
