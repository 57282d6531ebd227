"""What every probability model shares: how well its probabilities match what happened."""
