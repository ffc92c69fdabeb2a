"""Long runs show their progress with rate and ETA on a terminal, and nothing elsewhere."""

from __future__ import annotations

import io
import time

from rich.console import Console

from impulse_stream.datatools.progress import progress_bar


def test_a_terminal_sees_steps_items_rate_and_eta():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    with progress_bar("generate", 10, "events", console=console) as bar:
        for _ in range(3):
            time.sleep(0.05)
            bar.advance(1, 1000)
    text = out.getvalue()
    assert "generate" in text and "3/10" in text and "3,000 events" in text
    assert "events/s" in text and "ETA" in text


def test_a_pipe_sees_no_bar():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with progress_bar("export", 5, "messages", console=console) as bar:
        bar.advance(5, 50)
    assert out.getvalue() == ""
