"""The project's tools, kept apart from its code: the local loop, the sam local runner, the deploy
rehearsal, and what they share (tools/README.md)."""
