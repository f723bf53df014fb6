"""make load: the system under load with injected faults, checked for loss and duplicates."""
