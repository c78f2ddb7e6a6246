"""What every layer shares and nothing else: party names, roles, errors, job ids."""
