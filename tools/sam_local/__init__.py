"""make sam-local and make sam-invoke: the sam build artifacts under SAM's own emulator in Docker."""
