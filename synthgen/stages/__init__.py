"""The two stages: brainstorm (tasks per group) and generate (examples per task)."""
