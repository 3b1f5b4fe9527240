"""The core of orch-bot: tasks, admission, agents and the model port. It knows nothing of Slack."""
