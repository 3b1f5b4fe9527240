"""Local stand-ins for the external services orch-bot talks to, speaking their real wire protocols."""
