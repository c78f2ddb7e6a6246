"""What every protocol shares: the resume agreement."""
