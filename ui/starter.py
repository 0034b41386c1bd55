"""Start-up shared by the faces: wire the assistant and build a missing index, saying so."""

from __future__ import annotations

import sys


def ready_assistant(settings, warm: bool = False):
    """The wired assistant, with its index built first when there is none (said on stderr, with progress)."""
    from assistant.app import Assistant

    assistant = Assistant.from_settings(settings)
    if not assistant.has_index():
        print(f"no index yet: building it from {settings.corpus_dir} (`assistant index` does this step alone)",
              file=sys.stderr)
        assistant.ensure_index(progress=sys.stderr.isatty())
    if warm:
        assistant.warm_up()
    return assistant
