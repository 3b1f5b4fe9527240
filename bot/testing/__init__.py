"""Fakes of what the Slack edge talks to, for the tests and the benchmarks alike.

:mod:`bot.testing.slack` is a local Slack that the real slack_sdk and slack_bolt clients talk to over
HTTP and WebSocket; :mod:`bot.testing.environment` runs the real ``orch-bot`` against it (tokens, the
environment, a free port). The core's fakes (the model, Bedrock, the AWS JSON APIs, secrets) are in
:mod:`agents.testing`, which knows nothing of Slack.
"""
