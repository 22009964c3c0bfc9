"""Where tillpost runs: settings read from the environment, and the embedded servers."""
