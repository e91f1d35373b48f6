"""Running the engine for people: background training jobs and how they share the machine."""
