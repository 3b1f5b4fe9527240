"""The Slack edge: Bolt app, listeners, rendering and the command line."""
