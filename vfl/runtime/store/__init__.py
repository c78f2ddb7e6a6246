"""What a party keeps on disk: atomic writes, checkpoints, model parts."""
