"""scikit-learn style estimators, Federation (who the peers are) and simulate()."""
