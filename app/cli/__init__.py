"""The `tagloop` command line: one module per command group.

- main: the entry point (`tagloop`, `python -m app`); errors become messages and exit codes.
- parser: builds the top-level parser from the groups, in the order `--help` lists them.
- progress: TextProgress, the progress bar that long commands draw on stderr.
- project (init, stats, schema), data (import, export, datasets, demo), report,
  model (train, predict, al-bench), bundle, assign (annotators, assign),
  quality (consensus, review, gold, qualify), audit, gui.

Each group module has an `add_<command>` function per command and imports the core, ml and
views only inside its handlers, so that building the parser stays fast and loads no Qt.
"""
