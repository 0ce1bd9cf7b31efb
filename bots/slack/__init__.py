"""The Slack adapter: bolt's AsyncApp in, the engine's reply sink out."""
