"""Entry point for `python -m assistant`: runs the installed `assistant` command (a face in ui/).

The library imports no face; the command line is found the way the `assistant` script finds it,
through the package's console-script entry point."""

from importlib.metadata import entry_points

(main,) = [ep.load() for ep in entry_points(group="console_scripts", name="assistant")]
raise SystemExit(main())
