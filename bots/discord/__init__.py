"""The Discord adapter: discord.py in, the engine's reply sink out."""
