"""Summary screens, tables and plots; reads results, never runs protocols."""
